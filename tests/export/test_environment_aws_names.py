"""An exported environment creates what the AWS backend looks for (docs/aws.md): the cluster and
the CodeDeploy application AwsEnvironment names, an ECS service per conveyor.yml service with the
deployment controller `conveyor doctor` expects, a deployment group per CODE_DEPLOY service named
after it, the target groups ServiceSpec names, the listeners on the ports conveyor.yml gives,
the alarms its deployments list, the custom config CreateDeployment names, and the deployment
configuration UpdateService sends (so that a deploy changes nothing the stack set)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conveyor.config.pipeline import load_pipeline
from conveyor.deploy.spec import service_specs
from conveyor.export.task_definition import cfn_keys
from conveyor.providers.aws import ecs as aws_ecs
from conveyor.providers.aws.codedeploy_revision import deployment_config_name
from conveyor.providers.aws.ecs_native_views import deployment_configuration as native_configuration
from conveyor.providers.aws.settings import AwsEnvironment
from conveyor.stack.aws_checks import _alarm_names as doctor_alarm_names

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "orders-service"
#: Every conveyor.yml whose environments are exported, with the region an AWS environment needs.
CASES = [(FIXTURES / f, "production") for f in ("predefined.yml", "custom.yml", "native.yml", "rolling.yml",
                                                "alarms.yml")]
CASES += [(FIXTURES / "local-only.yml", "dev"), (EXAMPLE / "conveyor.yml", "staging"),
          (EXAMPLE / "conveyor.yml", "production")]
IDS = [f"{f.parent.name}/{f.stem}-{e}" for f, e in CASES]
#: What a Ref to each kind of resource returns, and where its name is.
NAME_OF = {"AWS::CloudWatch::Alarm": "AlarmName", "AWS::CodeDeploy::DeploymentConfig": "DeploymentConfigName",
           "AWS::CodeDeploy::Application": "ApplicationName", "AWS::ECS::Cluster": "ClusterName"}
#: GetAtt attributes that return a name.
ATTRIBUTE_OF = {"Name": "ServiceName", "TargetGroupName": "Name"}


class Stack:
    """A template's data with Refs and GetAtts to names resolved as CloudFormation would."""

    def __init__(self, data: dict[str, Any]):
        self.resources: dict[str, Any] = data["Resources"]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [r.get("Properties", {}) for r in self.resources.values() if r["Type"] == kind]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in self.resources:
            target = self.resources[value["Ref"]]
            return target["Properties"][NAME_OF[target["Type"]]] if target["Type"] in NAME_OF else value
        if isinstance(value, dict) and set(value) == {"Fn::GetAtt"} and value["Fn::GetAtt"][1] in ATTRIBUTE_OF:
            resource, attribute = value["Fn::GetAtt"]
            return self.resources[resource]["Properties"][ATTRIBUTE_OF[attribute]]
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value


def stack_and_specs(exported: Any, conveyor_yml: Path, environment: str) -> tuple[Stack, dict[str, Any], Any]:
    template, _ = exported(conveyor_yml, environment)
    environments = load_pipeline(conveyor_yml).environments
    settings = {"region": "eu-west-1", **{k: v for k, v in environments[environment].items()
                                          if k not in ("target", "services", "alarms")}}
    return Stack(template.to_data()), settings, service_specs(environments, environment)


@pytest.mark.parametrize(("conveyor_yml", "environment"), CASES, ids=IDS)
def test_the_cluster_and_application_are_the_ones_the_backend_uses(exported, conveyor_yml, environment):
    stack, settings, specs = stack_and_specs(exported, conveyor_yml, environment)
    aws = AwsEnvironment.from_settings(environment, settings)
    assert [c["ClusterName"] for c in stack.of_type("AWS::ECS::Cluster")] == [aws.cluster]
    code_deploy = [s for s in specs.values() if s.blue_green and "strategy" not in s.deployment]
    applications = [a["ApplicationName"] for a in stack.of_type("AWS::CodeDeploy::Application")]
    assert applications == ([aws.codedeploy_application] if code_deploy else [])


@pytest.mark.parametrize(("conveyor_yml", "environment"), CASES, ids=IDS)
def test_services_groups_and_target_groups_are_named_as_the_backend_looks_for_them(exported, conveyor_yml,
                                                                                  environment):
    stack, settings, specs = stack_and_specs(exported, conveyor_yml, environment)
    aws = AwsEnvironment.from_settings(environment, settings)
    services = {s["ServiceName"]: s for s in stack.of_type("AWS::ECS::Service")}
    assert sorted(services) == sorted(specs)
    groups = {g["DeploymentGroupName"]: g for g in stack.of_type("AWS::CodeDeploy::DeploymentGroup")}
    target_groups = [g["Name"] for g in stack.of_type("AWS::ElasticLoadBalancingV2::TargetGroup")]
    listeners = sorted(p["Port"] for p in stack.of_type("AWS::ElasticLoadBalancingV2::Listener"))
    ports = []
    for name, spec in specs.items():
        service = stack.resolve(services[name])
        assert service["Cluster"] == aws.cluster
        code_deploy = spec.blue_green and "strategy" not in spec.deployment
        assert service["DeploymentController"] == {"Type": "CODE_DEPLOY" if code_deploy else "ECS"}  # as doctor
        wanted = [tg.name for tg in spec.target_groups]
        assert [n for n in target_groups if n in wanted] == wanted
        if spec.load_balancer is not None:
            assert service["LoadBalancers"][0]["ContainerName"] == spec.load_balancer.container
            ports += [p for p in (spec.load_balancer.port, spec.load_balancer.test_port if spec.blue_green else None)
                      if p is not None]
        if code_deploy:
            group = stack.resolve(groups.pop(name))
            assert group["ApplicationName"] == aws.codedeploy_application
            assert group["ECSServices"] == [{"ClusterName": aws.cluster, "ServiceName": name}]
            pair = group["LoadBalancerInfo"]["TargetGroupPairInfoList"][0]
            assert [g["Name"] for g in pair["TargetGroups"]] == wanted
    assert groups == {}
    assert listeners == sorted(ports)  # listener_weights(environment, port) finds them by port


@pytest.mark.parametrize(("conveyor_yml", "environment"), CASES, ids=IDS)
def test_the_alarms_deployments_list_are_created_under_those_names(exported, conveyor_yml, environment):
    stack, _, specs = stack_and_specs(exported, conveyor_yml, environment)
    created = {a["AlarmName"] for a in stack.of_type("AWS::CloudWatch::Alarm")}
    groups = {g["DeploymentGroupName"]: stack.resolve(g) for g in stack.of_type("AWS::CodeDeploy::DeploymentGroup")}
    services = {s["ServiceName"]: stack.resolve(s) for s in stack.of_type("AWS::ECS::Service")}
    for name, spec in specs.items():
        listed = doctor_alarm_names(spec)
        assert listed == aws_ecs.alarm_names(spec)
        assert set(listed) - created <= {"cloudwatch-only"}  # the one the fixture keeps in CloudWatch only
        if name in groups:
            found = [a["Name"] for a in groups[name].get("AlarmConfiguration", {}).get("Alarms", [])]
        else:
            found = services[name].get("DeploymentConfiguration", {}).get("Alarms", {}).get("AlarmNames", [])
        assert found == listed


@pytest.mark.parametrize(("conveyor_yml", "environment"), CASES, ids=IDS)
def test_a_custom_config_is_created_under_the_name_create_deployment_passes(exported, conveyor_yml, environment):
    stack, _, specs = stack_and_specs(exported, conveyor_yml, environment)
    groups = {g["DeploymentGroupName"]: stack.resolve(g) for g in stack.of_type("AWS::CodeDeploy::DeploymentGroup")}
    created = {c["DeploymentConfigName"] for c in stack.of_type("AWS::CodeDeploy::DeploymentConfig")}
    for name, group in groups.items():
        spec = specs[name]
        if isinstance(spec.deployment.get("config"), dict) and not spec.deployment["config"].get("name"):
            assert group["DeploymentConfigName"] in created  # named by the export, and noted
            continue
        assert group["DeploymentConfigName"] == (deployment_config_name(spec) or "CodeDeployDefault.ECSAllAtOnce")
        if isinstance(spec.deployment.get("config"), dict):
            assert group["DeploymentConfigName"] in created


@pytest.mark.parametrize(("conveyor_yml", "environment"), [c for c in CASES if c[1] == "production"
                                                           and c[0].parent == FIXTURES],
                         ids=[i for c, i in zip(CASES, IDS, strict=True) if c[1] == "production"
                              and c[0].parent == FIXTURES])
def test_a_deploy_sends_the_deployment_configuration_the_stack_set(exported, conveyor_yml, environment):
    """For AWS environments (whole minutes): UpdateService's deploymentConfiguration, in
    CloudFormation's names, is the one the template gives the service."""
    stack, _, specs = stack_and_specs(exported, conveyor_yml, environment)
    services = {s["ServiceName"]: stack.resolve(s) for s in stack.of_type("AWS::ECS::Service")}
    for name, spec in specs.items():
        if not spec.blue_green:
            sent = aws_ecs.deployment_configuration(spec)
        elif "strategy" in spec.deployment:
            sent = native_configuration(spec.deployment, {})
        else:
            continue
        assert services[name]["DeploymentConfiguration"] == cfn_keys(sent)
        grace = services[name].get("HealthCheckGracePeriodSeconds")
        if spec.load_balancer is not None:
            assert grace == int(spec.health_check_grace_period)


@pytest.mark.parametrize(("conveyor_yml", "environment"), CASES, ids=IDS)
def test_container_logs_are_where_conveyor_reads_them(exported, conveyor_yml, environment):
    """`conveyor service logs` reads awslogs streams PREFIX/CONTAINER/TASK in the task's region."""
    stack, _, _ = stack_and_specs(exported, conveyor_yml, environment)
    for task in stack.of_type("AWS::ECS::TaskDefinition"):
        for container in task["ContainerDefinitions"]:
            options = container["LogConfiguration"]["Options"]
            assert container["LogConfiguration"]["LogDriver"] == "awslogs"
            assert options["awslogs-stream-prefix"] and "Ref" in options["awslogs-group"]
