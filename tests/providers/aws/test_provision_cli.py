"""`conveyor provision` end to end over moto: conveyor.yml -> the exported template -> a change
set shown as a table -> the stack created; what it made is what the AWS backend then reads and
deploys into; an unchanged stack says so; parameters missing are all named at once; a
dry run and a refusal leave nothing behind."""

from __future__ import annotations

import shutil
from pathlib import Path

import boto3
import pytest

import conveyor.cli.aws as cli_aws
from conveyor.cli.main import main
from conveyor.providers.aws.apis import AwsApis
from conveyor.providers.aws.stacks import Stacks

FIXTURES = Path(__file__).resolve().parents[2] / "export" / "fixtures"
REGION = "eu-west-1"
STACK = "conveyor-rolling-production"
# moto's CloudFormation makes no CloudWatch alarms (it says so and goes on): the export's alarms
# are checked by cfn-lint and the golden files instead.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS..CloudWatch..Alarm")
IMAGES = ["ApiWebImage", "CatalogWebImage", "CatalogWorkerImage", "WorkerWebImage"]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto_aws: AwsApis) -> Path:
    """The rolling fixture (target: aws, eu-west-1) as ./conveyor.yml; stacks poll without waiting."""
    shutil.copy(FIXTURES / "rolling.yml", tmp_path / "conveyor.yml")
    for taskdef in FIXTURES.glob("taskdef*.json"):
        shutil.copy(taskdef, tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli_aws, "make_stacks", lambda api: Stacks(api, poll_seconds=0, wait=lambda s: False))
    return tmp_path


@pytest.fixture
def network() -> list[str]:
    """--parameter arguments for a VPC with two subnets made in moto, and the images."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{zone}")
               ["Subnet"]["SubnetId"] for i, zone in enumerate("ab")]
    values = {"VpcId": vpc, "PublicSubnetIds": ",".join(subnets), "TaskSubnetIds": ",".join(subnets),
              **{name: f"123456789012.dkr.ecr.{REGION}.amazonaws.com/web:abc123" for name in IMAGES}}
    return [arg for k, v in values.items() for arg in ("--parameter", f"{k}={v}")]


def stack_status(name: str) -> str | None:
    cfn = boto3.client("cloudformation", region_name=REGION)
    stacks = [s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == name]
    return stacks[0]["StackStatus"] if stacks else None


def test_provision_creates_the_environment_the_aws_backend_then_deploys_into(project, network, capsys):
    assert main(["provision", "production", "--yes", *network]) == 0
    out = capsys.readouterr().out
    assert f"{STACK}: change set (create)" in out
    assert "Add     Cluster                    AWS::ECS::Cluster" in out
    assert f"✓ {STACK}: CREATE_COMPLETE" in out
    ecs = boto3.client("ecs", region_name=REGION)
    services = ecs.describe_services(cluster="conveyor-production", services=["api", "catalog", "worker"])["services"]
    assert {s["serviceName"]: (s["desiredCount"], s.get("deploymentController", {}).get("type", "ECS"))
            for s in services} == {"api": (3, "ECS"), "catalog": (1, "ECS"), "worker": (1, "ECS")}

    # The AWS backend, configured as conveyor.yml says, finds the provisioned service.
    from conveyor.providers.aws import AwsBackend
    from conveyor.providers.aws.api import CallLog

    apis = AwsApis({"production": {"region": REGION}}.get, names=lambda: ["production"], log=CallLog())
    described = AwsBackend(lambda name: None, apis=apis).backend.ecs.describe_service("production", "api")
    assert (described.summary.name, described.summary.desired_count, described.summary.controller) == ("api", 3, "ECS")


def test_an_unchanged_stack_is_left_alone_and_a_change_is_an_update(project, network, capsys):
    assert main(["provision", "production", "--yes", *network]) == 0
    capsys.readouterr()
    assert main(["provision", "production", "--yes"]) == 0
    assert capsys.readouterr().out.strip().endswith(f"{STACK}: no changes")
    conf = project / "conveyor.yml"
    conf.write_text(conf.read_text().replace("desiredCount: 3", "desiredCount: 4"))
    # (moto cannot reuse a previous List<> value: UsePreviousValue is covered in test_aws_stacks.py)
    assert main(["provision", "production", "--yes", *network]) == 0
    out = capsys.readouterr().out
    assert "Modify  ApiService" in out and f"✓ {STACK}: UPDATE_COMPLETE" in out
    ecs = boto3.client("ecs", region_name=REGION)
    assert ecs.describe_services(cluster="conveyor-production", services=["api"])["services"][0]["desiredCount"] == 4


def test_a_dry_run_shows_the_change_set_and_leaves_no_stack(project, network, capsys):
    assert main(["provision", "production", "--dry-run", *network]) == 0
    out = capsys.readouterr().out
    assert "ACTION  LOGICAL ID" in out and "dry run: nothing was changed" in out
    assert stack_status(STACK) in (None, "DELETE_COMPLETE")


def test_every_missing_parameter_is_named_at_once_before_anything_is_made(project, capsys):
    assert main(["provision", "production", "--yes", "--parameter", "VpcId=vpc-1"]) == 2
    err = capsys.readouterr().err
    assert f"stack {STACK} needs a value for PublicSubnetIds, TaskSubnetIds, {', '.join(IMAGES)}" in err
    assert "Traceback" not in err
    assert stack_status(STACK) is None


def test_without_a_terminal_or_yes_nothing_is_executed(project, network, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["provision", "production", *network]) == 2
    assert "--dry-run, then run again with --yes" in capsys.readouterr().err
    assert stack_status(STACK) in (None, "DELETE_COMPLETE")


def test_the_repositories_have_a_stack_of_their_own(project, capsys):
    assert main(["provision", "--repositories", "--region", REGION, "--yes"]) == 0
    assert "✓ conveyor-rolling-repositories: CREATE_COMPLETE" in capsys.readouterr().out
    ecr = boto3.client("ecr", region_name=REGION)
    assert sorted(r["repositoryName"] for r in ecr.describe_repositories()["repositories"]) == ["catalog", "web"]


@pytest.mark.parametrize("argv, message", [
    (["provision"], "provision takes one of: an environment, --repositories or --pipeline"),
    (["provision", "production", "--pipeline"], "provision takes one of"),
    (["provision", "nowhere"], "no environment 'nowhere' in conveyor.yml (environments: production)"),
    (["provision", "--pipeline"], "no region for the pipeline stack"),
    (["provision", "production", "--parameter", "VpcId"], "--parameter 'VpcId': expected KEY=VALUE"),
])
def test_mistakes_exit_2_with_what_to_do(project, capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_local_environment_is_not_provisioned(project, capsys, monkeypatch):
    example = Path(__file__).resolve().parents[3] / "examples" / "orders-service"
    shutil.copytree(example, project / "example")
    monkeypatch.chdir(project / "example")
    assert main(["provision", "staging", "--yes"]) == 2
    assert "environment 'staging' is not target: aws" in capsys.readouterr().err


def test_the_pipeline_stack_is_planned_from_the_registry_region(project, capsys, monkeypatch):
    """moto's CloudFormation cannot create CodePipeline or CodeBuild resources: the pipeline's
    stack is checked up to its change set."""
    example = Path(__file__).resolve().parents[3] / "examples" / "orders-service"
    shutil.copytree(example, project / "example")
    monkeypatch.chdir(project / "example")
    connection = "arn:aws:codeconnections:eu-west-1:123456789012:connection/0a1b2c3d"
    assert main(["provision", "--pipeline", "--region", REGION, "--dry-run", "--parameter",
                 f"ConnectionArn={connection}", "--parameter", "FullRepositoryId=acme/orders"]) == 0
    out = capsys.readouterr().out
    assert "conveyor-orders-service-pipeline: change set (create), 7 change(s)" in out
    for logical, kind in [("Pipeline", "AWS::CodePipeline::Pipeline"), ("ApprovalTopic", "AWS::SNS::Topic"),
                          ("ArtifactBucket", "AWS::S3::Bucket"), ("PipelineRole", "AWS::IAM::Role")]:
        assert any(line.split()[1:3] == [logical, kind] for line in out.splitlines() if line.startswith("Add")), logical
    assert stack_status("conveyor-orders-service-pipeline") in (None, "DELETE_COMPLETE")
