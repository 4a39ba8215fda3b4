"""The example's environments exported to CloudFormation: byte for byte the golden files in
examples/orders-service/aws/ (one per environment, and repositories.yaml), free of cfn-lint
findings, and read back by CloudFormation's parser as the template's data.

After an intended change to the export, rewrite the golden files and review their diff:

    CONVEYOR_UPDATE_GOLDEN=1 PYTHONPATH=src python3 -m pytest -q tests/export/test_environment.py
    git diff examples/orders-service/aws/
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cfnlint.decode.cfn_yaml import loads

from conveyor.config.pipeline import load_pipeline
from conveyor.export.environment import repositories_template
from conveyor.export.notes import Notes

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "orders-service"
CONVEYOR_YML = EXAMPLE / "conveyor.yml"
GOLDEN = EXAMPLE / "aws"
UPDATE = "CONVEYOR_UPDATE_GOLDEN"
ENVIRONMENTS = list(load_pipeline(CONVEYOR_YML).environments)


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get(UPDATE) == "1":
        path.write_bytes(text.encode())
    assert path.exists(), f"{path} is missing: run with {UPDATE}=1 to write it"
    assert path.read_bytes() == text.encode(), f"{path} differs from the export: run with {UPDATE}=1 and review"


def repositories_text() -> str:
    template = repositories_template(load_pipeline(CONVEYOR_YML), notes=Notes())
    assert template is not None
    return template.render()


def test_the_example_has_staging_and_production():
    assert ENVIRONMENTS == ["staging", "production"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_an_environment_matches_its_golden_file(environment, exported):
    golden(f"{environment}.yaml", exported(CONVEYOR_YML, environment)[0].render())


def test_the_repositories_match_their_golden_file():
    golden("repositories.yaml", repositories_text())


def test_there_is_no_stale_golden_file():
    assert sorted(p.name for p in GOLDEN.glob("*.yaml")) == sorted([f"{e}.yaml" for e in ENVIRONMENTS]
                                                                   + ["repositories.yaml", "pipeline.yaml"])


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_an_environment_lints_clean_and_reads_back_as_its_data(environment, exported, cfn_lint):
    template, _ = exported(CONVEYOR_YML, environment)
    text = template.render()
    assert cfn_lint(text) == []
    assert loads(text) == template.to_data()


def test_the_repositories_lint_clean(cfn_lint):
    assert cfn_lint(repositories_text()) == []


def test_the_same_file_exports_the_same_bytes(exported):
    first = [exported(CONVEYOR_YML, e)[0].render() for e in ENVIRONMENTS]
    assert [exported(CONVEYOR_YML, e)[0].render() for e in ENVIRONMENTS] == first


def test_every_resource_names_the_conveyor_yml_key_it_comes_from(exported):
    for environment in ENVIRONMENTS:
        template, _ = exported(CONVEYOR_YML, environment)
        for resource in template.resources.values():
            assert resource.source.startswith(f"environments.{environment}"), resource.logical_id


def test_production_is_a_codedeploy_canary_with_its_alarm_and_staging_a_rolling_update(exported):
    production = exported(CONVEYOR_YML, "production")[0].to_data()["Resources"]
    group = production["OrdersDeploymentGroup"]["Properties"]
    assert group["DeploymentGroupName"] == "orders"
    assert group["DeploymentConfigName"] == {"Ref": "OrdersDeploymentConfig"}
    assert production["OrdersDeploymentConfig"]["Properties"]["TrafficRoutingConfig"] == {
        "Type": "TimeBasedCanary", "TimeBasedCanary": {"CanaryPercentage": 10, "CanaryInterval": 1}}
    assert group["AlarmConfiguration"]["Alarms"] == [{"Name": {"Ref": "Orders5xxAlarm"}}]
    assert production["OrdersService"]["Properties"]["DeploymentController"] == {"Type": "CODE_DEPLOY"}
    staging = exported(CONVEYOR_YML, "staging")[0].to_data()["Resources"]
    assert staging["OrdersService"]["Properties"]["DeploymentConfiguration"] == {
        "MinimumHealthyPercent": 100, "MaximumPercent": 200,
        "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True}}
    assert "CodeDeployApplication" not in staging
