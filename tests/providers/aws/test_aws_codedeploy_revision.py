"""The AppSpec an AWS deployment sends (its hooks must be Lambda functions), the config it names and
the description that carries the idempotency key."""

from __future__ import annotations

import pytest
from aws_codedeploy_fixtures import appspec, spec, td_arn

from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import ConfigError, UserError
from conveyor.providers.aws.codedeploy_revision import (
    DESCRIPTION_LIMIT,
    carries_key,
    deployment_config_name,
    deployment_description,
    described,
    prepare_appspec,
)

ARN = td_arn("orders:7")


def template(hooks: dict[str, str] | None = None) -> str:
    return appspec("orders:7", hooks).replace(ARN, "<TASK_DEFINITION>")


def test_without_an_appspec_the_service_container_and_port_are_deployed():
    text, parsed = prepare_appspec(spec(), None, "appspec.yaml", "orders:7", ARN)
    assert (parsed.task_definition, parsed.container_name, parsed.container_port, parsed.hooks) == (ARN, "api", 8080,
                                                                                                   ())
    assert f"TaskDefinition: {ARN}\n" in text


@pytest.mark.parametrize("function", [
    "smoke", "smoke:live", "CodeDeployHook_smoke", "123456789012:function:smoke",
    "arn:aws:lambda:eu-west-1:123456789012:function:smoke", "arn:aws:lambda:eu-west-1:123456789012:function:smoke:3"])
def test_hooks_naming_a_lambda_function_pass(function):
    _, parsed = prepare_appspec(spec(), template({"AfterAllowTestTraffic": function}), "appspec.yaml", "orders:7", ARN)
    assert parsed.hooks == (("AfterAllowTestTraffic", function),)


@pytest.mark.parametrize("function", ["./scripts/smoke.sh", "https://hooks.example.com/smoke", "smoke test",
                                      "arn:aws:s3:::bucket/smoke", "x" * 65])
def test_hooks_naming_anything_but_a_lambda_function_are_refused_with_the_place(function):
    with pytest.raises(ConfigError) as caught:
        prepare_appspec(spec(), template({"AfterAllowTestTraffic": function}), "appspec.yaml", "orders:7", ARN)
    assert f"Hooks[0].AfterAllowTestTraffic: invalid Lambda function '{function}'" in str(caught.value)


def test_an_ec2_hook_event_is_refused():
    with pytest.raises(ConfigError, match="ApplicationStart is an EC2/on-premises lifecycle event"):
        prepare_appspec(spec(), template({"ApplicationStart": "smoke"}), "appspec.yaml", "orders:7", ARN)


def test_an_appspec_for_another_container_or_revision_is_refused():
    other = template().replace("ContainerName: api", "ContainerName: web")
    with pytest.raises(UserError, match="LoadBalancerInfo names container web:8080, but the service's loadBalancer "
                                        "sends traffic to api:8080"):
        prepare_appspec(spec(), other, "appspec.yaml", "orders:7", ARN)
    with pytest.raises(UserError) as caught:
        prepare_appspec(spec(), appspec("orders:6"), "appspec.yaml", "orders:7", ARN)
    assert str(caught.value) == (f"appspec.yaml: Resources[0].TargetService.Properties.TaskDefinition is "
                                 f"{td_arn('orders:6')}, not the revision being deployed (orders:7)")
    assert caught.value.hint == "write TaskDefinition: <TASK_DEFINITION> and let Conveyor fill it in"


def test_a_service_without_a_load_balancer_cannot_deploy_blue_green():
    bare = ServiceSpec.from_config("production", "orders", {"deployment": {"controller": "CODE_DEPLOY"}}, target="aws")
    with pytest.raises(UserError, match="service orders in production has no loadBalancer"):
        prepare_appspec(bare, None, "appspec.yaml", "orders:7", ARN)


def test_the_deployment_config_is_the_groups_unless_conveyor_yml_names_one():
    assert deployment_config_name(spec()) is None
    assert deployment_config_name(spec(config="CodeDeployDefault.ECSCanary10Percent5Minutes")) == (
        "CodeDeployDefault.ECSCanary10Percent5Minutes")
    assert deployment_config_name(spec(config={"type": "TimeBasedLinear", "name": "orders-linear-20",
                                               "linearPercentage": 20, "linearInterval": 2})) == "orders-linear-20"
    with pytest.raises(UserError) as caught:
        deployment_config_name(spec(config={"type": "TimeBasedLinear", "linearPercentage": 20, "linearInterval": 2}))
    assert str(caught.value) == ("environments.production.services.orders.deployment.config is a custom config "
                                 "without a name; on AWS a deployment names a deployment config that exists in the "
                                 "account")


def test_the_description_carries_the_key_and_fits_codedeploys_limit():
    key = "0b6f5a6e-5d7c-4c9e-9a43-3a1f1d2c9e10/Production-Deploy/Blue-Green-Deploy-Orders-Service/12"
    text = deployment_description("orders-with-a-long-family-name-for-the-service:1234", "CodePipeline", key)
    assert len(text) <= DESCRIPTION_LIMIT
    assert carries_key(text, key) and not carries_key(text, key + "3") and not carries_key(None, key)
    short = deployment_description("orders:7", "CodePipeline", "ex-1/Deploy/Deploy/1")
    assert described(short) == ("orders:7", "CodePipeline")
    assert deployment_description("orders:7", "user", None) == "Conveyor: orders:7 (user)"
    assert described("Deployed from the console") is None
