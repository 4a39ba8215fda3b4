"""conveyor.yml fixtures (tests/export/fixtures/) exported to CloudFormation: every deployment
config (the five predefined, custom canary/linear/all-at-once, ECS-native BLUE_GREEN/CANARY/LINEAR),
rolling updates with the circuit breaker and alarms, every alarm scope, statistic and metric,
hooks, the probe, KEEP_ALIVE and the STOP_DEPLOYMENT ready wait. Each template is free of
cfn-lint findings (errors and warnings), and says what the fixture says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conveyor.config.pipeline import load_pipeline
from conveyor.export.environment import repositories_template
from conveyor.export.notes import Notes

FIXTURES = Path(__file__).parent / "fixtures"
FILES = sorted(FIXTURES.glob("*.yml"))
CASES = [(f, e) for f in FILES for e in load_pipeline(f).environments]


def resources(exported: Any, name: str, environment: str = "production") -> dict[str, Any]:
    return exported(FIXTURES / name, environment)[0].to_data()["Resources"]


def of_type(found: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r.get("Properties", {}) for k, r in found.items() if r["Type"] == kind}


def test_every_fixture_is_exported():
    assert [f.name for f in FILES] == ["alarms.yml", "custom.yml", "local-only.yml", "native.yml", "predefined.yml",
                                       "rolling.yml"]


@pytest.mark.parametrize(("conveyor_yml", "environment"), CASES, ids=[f"{f.stem}-{e}" for f, e in CASES])
def test_a_fixture_lints_clean(conveyor_yml, environment, exported, cfn_lint):
    assert cfn_lint(exported(conveyor_yml, environment)[0].render()) == []


@pytest.mark.parametrize("conveyor_yml", FILES, ids=[f.stem for f in FILES])
def test_a_fixtures_repositories_lint_clean(conveyor_yml, cfn_lint):
    template = repositories_template(load_pipeline(conveyor_yml), notes=Notes())
    if template is None:
        assert not load_pipeline(conveyor_yml).raw.get("repositories")
        return
    assert cfn_lint(template.render()) == []


# --- CodeDeploy ---------------------------------------------------------------------------------

def test_the_predefined_configs_are_named_as_codedeploy_names_them(exported):
    found = resources(exported, "predefined.yml")
    groups = of_type(found, "AWS::CodeDeploy::DeploymentGroup")
    assert {g["DeploymentGroupName"]: g["DeploymentConfigName"] for g in groups.values()} == {
        "all-at-once": "CodeDeployDefault.ECSAllAtOnce",
        "linear-1": "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
        "linear-3": "CodeDeployDefault.ECSLinear10PercentEvery3Minutes",
        "canary-5": "CodeDeployDefault.ECSCanary10Percent5Minutes",
        "canary-15": "CodeDeployDefault.ECSCanary10Percent15Minutes"}
    assert not of_type(found, "AWS::CodeDeploy::DeploymentConfig")
    group = groups["AllAtOnceDeploymentGroup"]
    assert group["DeploymentStyle"] == {"DeploymentType": "BLUE_GREEN", "DeploymentOption": "WITH_TRAFFIC_CONTROL"}
    assert group["BlueGreenDeploymentConfiguration"] == {
        "DeploymentReadyOption": {"ActionOnTimeout": "CONTINUE_DEPLOYMENT"},
        "TerminateBlueInstancesOnDeploymentSuccess": {"Action": "TERMINATE", "TerminationWaitTimeInMinutes": 5}}
    assert group["LoadBalancerInfo"]["TargetGroupPairInfoList"] == [{
        "TargetGroups": [{"Name": {"Fn::GetAtt": ["AllAtOnceTargetGroup1", "TargetGroupName"]}},
                         {"Name": {"Fn::GetAtt": ["AllAtOnceTargetGroup2", "TargetGroupName"]}}],
        "ProdTrafficRoute": {"ListenerArns": [{"Ref": "AllAtOnceListener"}]},
        "TestTrafficRoute": {"ListenerArns": [{"Ref": "AllAtOnceTestListener"}]}}]
    assert group["AutoRollbackConfiguration"] == {"Enabled": True,
                                                  "Events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]}
    assert "TestTrafficRoute" not in groups["Linear3DeploymentGroup"]["LoadBalancerInfo"]["TargetGroupPairInfoList"][0]
    assert groups["Canary15DeploymentGroup"]["AutoRollbackConfiguration"] == {"Enabled": False}
    assert "AlarmConfiguration" not in groups["Linear1DeploymentGroup"]


def test_custom_configs_are_created_once_by_name(exported):
    found = resources(exported, "custom.yml")
    configs = of_type(found, "AWS::CodeDeploy::DeploymentConfig")
    assert {c["DeploymentConfigName"]: c["TrafficRoutingConfig"] for c in configs.values()} == {
        "shop-canary-20": {"Type": "TimeBasedCanary", "TimeBasedCanary": {"CanaryPercentage": 20,
                                                                          "CanaryInterval": 5}},
        "shop-linear-25": {"Type": "TimeBasedLinear", "TimeBasedLinear": {"LinearPercentage": 25, "LinearInterval": 2}},
        "shop-all-at-once": {"Type": "AllAtOnce"}}
    assert all(c["ComputePlatform"] == "ECS" for c in configs.values())
    groups = of_type(found, "AWS::CodeDeploy::DeploymentGroup")
    assert groups["CanaryTooDeploymentGroup"]["DeploymentConfigName"] == {"Ref": "CanaryDeploymentConfig"}
    assert found["Cluster"]["Properties"]["ClusterName"] == "shop-prod"
    assert found["CodeDeployApplication"]["Properties"] == {"ApplicationName": "shop", "ComputePlatform": "ECS"}


def test_ready_wait_termination_and_rollback_options(exported):
    groups = of_type(resources(exported, "custom.yml"), "AWS::CodeDeploy::DeploymentGroup")
    canary = groups["CanaryDeploymentGroup"]
    assert canary["BlueGreenDeploymentConfiguration"] == {
        "DeploymentReadyOption": {"ActionOnTimeout": "STOP_DEPLOYMENT", "WaitTimeInMinutes": 30},
        "TerminateBlueInstancesOnDeploymentSuccess": {"Action": "TERMINATE", "TerminationWaitTimeInMinutes": 15}}
    assert canary["AutoRollbackConfiguration"] == {"Enabled": True, "Events": ["DEPLOYMENT_FAILURE",
                                                                               "DEPLOYMENT_STOP_ON_REQUEST"]}
    linear = groups["LinearDeploymentGroup"]["BlueGreenDeploymentConfiguration"]
    assert linear["TerminateBlueInstancesOnDeploymentSuccess"] == {"Action": "KEEP_ALIVE"}
    assert groups["AllAtOnceDeploymentGroup"]["AutoRollbackConfiguration"] == {"Enabled": False}


def test_local_only_durations_and_percentages_become_what_codedeploy_takes(exported):
    found = resources(exported, "local-only.yml", "dev")
    assert found["ShopDeploymentConfig"]["Properties"] == {
        "DeploymentConfigName": "conveyor-dev-shop", "ComputePlatform": "ECS",
        "TrafficRoutingConfig": {"Type": "TimeBasedLinear",
                                 "TimeBasedLinear": {"LinearPercentage": 13, "LinearInterval": 1}}}
    assert found["ShopDeploymentGroup"]["Properties"]["BlueGreenDeploymentConfiguration"] == {
        "DeploymentReadyOption": {"ActionOnTimeout": "STOP_DEPLOYMENT", "WaitTimeInMinutes": 2},
        "TerminateBlueInstancesOnDeploymentSuccess": {"Action": "KEEP_ALIVE"}}


# --- ECS ----------------------------------------------------------------------------------------

def test_ecs_native_strategies(exported):
    found = resources(exported, "native.yml")
    services = of_type(found, "AWS::ECS::Service")
    configs = {s["ServiceName"]: s["DeploymentConfiguration"] for s in services.values()}
    assert configs == {
        "blue-green": {"Strategy": "BLUE_GREEN", "BakeTimeInMinutes": 15, "Alarms": {
            "AlarmNames": [{"Ref": "Web5xxAlarm"}], "Enable": True, "Rollback": True}},
        "canary": {"Strategy": "CANARY", "CanaryConfiguration": {"CanaryPercent": 5.0, "CanaryBakeTimeInMinutes": 10}},
        "linear": {"Strategy": "LINEAR", "BakeTimeInMinutes": 5,
                   "LinearConfiguration": {"StepPercent": 20.0, "StepBakeTimeInMinutes": 3},
                   "Alarms": {"AlarmNames": [{"Ref": "Web5xxAlarm"}], "Enable": False, "Rollback": True}}}
    assert all(s["DeploymentController"] == {"Type": "ECS"} for s in services.values())
    assert services["BlueGreenService"]["LoadBalancers"] == [{
        "ContainerName": "web", "ContainerPort": 8080, "TargetGroupArn": {"Ref": "BlueGreenTargetGroup1"},
        "AdvancedConfiguration": {"AlternateTargetGroupArn": {"Ref": "BlueGreenTargetGroup2"},
                                  "ProductionListenerRule": {"Ref": "BlueGreenListenerRule"},
                                  "TestListenerRule": {"Ref": "BlueGreenTestListenerRule"},
                                  "RoleArn": {"Fn::GetAtt": ["EcsLoadBalancerRole", "Arn"]}}}]
    assert "TestListenerRule" not in services["CanaryService"]["LoadBalancers"][0]["AdvancedConfiguration"]
    rule = found["BlueGreenListenerRule"]["Properties"]
    assert rule["Actions"][0]["ForwardConfig"]["TargetGroups"] == [
        {"TargetGroupArn": {"Ref": "BlueGreenTargetGroup1"}, "Weight": 100},
        {"TargetGroupArn": {"Ref": "BlueGreenTargetGroup2"}, "Weight": 0}]
    assert found["BlueGreenListener"]["Properties"]["DefaultActions"][0]["Type"] == "fixed-response"
    assert found["EcsLoadBalancerRole"]["Properties"]["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"}]
    assert not of_type(found, "AWS::CodeDeploy::Application")


def test_rolling_updates_with_the_circuit_breaker_and_alarms(exported):
    found = resources(exported, "rolling.yml")
    api = found["ApiService"]["Properties"]
    assert api["DeploymentController"] == {"Type": "ECS"}
    assert api["DeploymentConfiguration"] == {
        "MinimumHealthyPercent": 50, "MaximumPercent": 150,
        "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
        "Alarms": {"AlarmNames": [{"Ref": "Api5xxAlarm"}, {"Ref": "ApiUnhealthyAlarm"}, {"Ref": "ApiSlowAlarm"},
                                  "cloudwatch-only"], "Enable": True, "Rollback": True}}
    assert api["DesiredCount"] == {"Fn::If": ["StartingTasks", 3, 0]}
    assert api["HealthCheckGracePeriodSeconds"] == 30
    assert found["ApiService"]["DependsOn"] == ["ApiListener"]
    worker = found["WorkerService"]["Properties"]
    assert "LoadBalancers" not in worker and "HealthCheckGracePeriodSeconds" not in worker
    assert worker["DeploymentConfiguration"]["Alarms"] == {"AlarmNames": [{"Ref": "Api5xxAlarm"}], "Enable": False,
                                                           "Rollback": True}
    assert found["CatalogService"]["Properties"]["DeploymentConfiguration"] == {
        "MinimumHealthyPercent": 100, "MaximumPercent": 200,
        "DeploymentCircuitBreaker": {"Enable": False, "Rollback": False}}


def test_the_target_group_and_security_groups_follow_the_load_balancer_keys(exported):
    found = resources(exported, "rolling.yml")
    group = found["ApiTargetGroup"]["Properties"]
    assert {k: v for k, v in group.items() if k.startswith(("Health", "Healthy", "Unhealthy", "Matcher"))} == {
        "HealthCheckEnabled": True, "HealthCheckProtocol": "HTTP", "HealthCheckPath": "/health",
        "HealthCheckPort": "8081", "HealthCheckIntervalSeconds": 30, "HealthCheckTimeoutSeconds": 5,
        "HealthyThresholdCount": 5, "UnhealthyThresholdCount": 3, "Matcher": {"HttpCode": "200,204"}}
    assert group["TargetGroupAttributes"] == [{"Key": "deregistration_delay.timeout_seconds", "Value": "60"}]
    assert (group["Name"], group["TargetType"], group["Port"]) == ("production-api", "ip", 8080)
    ingress = of_type(found, "AWS::EC2::SecurityGroupIngress")
    assert sorted((k, i["FromPort"]) for k, i in ingress.items()) == [
        ("ApiTaskIngress", 8080), ("ApiTaskIngressHealthCheck", 8081), ("CatalogTaskIngress", 8080)]
    balancer = found["LoadBalancerSecurityGroup"]["Properties"]
    assert [(r["FromPort"], r["CidrIp"]) for r in balancer["SecurityGroupIngress"]] == [
        (80, {"Ref": "AllowedCidr"}), (8090, {"Ref": "AllowedCidr"})]
    assert [(r["FromPort"], r["DestinationSecurityGroupId"]) for r in balancer["SecurityGroupEgress"]] == [
        (8080, {"Fn::GetAtt": ["ApiTaskSecurityGroup", "GroupId"]}),
        (8081, {"Fn::GetAtt": ["ApiTaskSecurityGroup", "GroupId"]}),
        (8080, {"Fn::GetAtt": ["CatalogTaskSecurityGroup", "GroupId"]})]
    assert "SecurityGroupIngress" not in found["WorkerTaskSecurityGroup"]["Properties"]


def test_a_task_definition_takes_cloudformations_property_names(exported):
    found = resources(exported, "rolling.yml")
    task = found["CatalogTaskDefinition"]["Properties"]
    assert task["TaskRoleArn"] == {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:role/catalog-task"}
    assert task["ExecutionRoleArn"] == {"Fn::GetAtt": ["CatalogExecutionRole", "Arn"]}
    assert task["RuntimePlatform"] == {"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"}
    assert task["EphemeralStorage"] == {"SizeInGiB": 30}
    assert task["Volumes"][0] == {"Name": "shared", "EFSVolumeConfiguration": {
        "FilesystemId": "fs-12345678", "TransitEncryption": "ENABLED",
        "AuthorizationConfig": {"AccessPointId": "fsap-1234567890abcdef0", "IAM": "ENABLED"}}}
    assert task["Tags"] == [{"Key": "team", "Value": "catalog"}]
    web, router, worker = task["ContainerDefinitions"]
    assert web["PortMappings"] == [{"ContainerPort": 8080, "Protocol": "tcp", "Name": "http", "AppProtocol": "http"}]
    assert web["DockerLabels"] == {"com.example.team": "catalog"}
    assert web["LogConfiguration"] == {"LogDriver": "awslogs", "Options": {
        "awslogs-group": {"Ref": "CatalogLogGroup"}, "awslogs-region": "eu-west-1",
        "awslogs-stream-prefix": "catalog"}}
    assert "Command" not in web and "EntryPoint" not in web  # [] and null: the image's own
    assert web["Image"] == {"Ref": "CatalogWebImage"}
    assert router["FirelensConfiguration"] == {"Type": "fluentbit", "Options": {"enable-ecs-log-metadata": "true"}}
    assert router["Image"] == "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"
    assert worker["Image"] == {"Ref": "CatalogWorkerImage"}
    parameters = exported(FIXTURES / "rolling.yml", "production")[0].parameters
    assert [p for p in parameters if p.endswith("Image")] == ["ApiWebImage", "CatalogWebImage", "CatalogWorkerImage",
                                                             "WorkerWebImage"]


def test_an_execution_role_reads_only_what_the_task_needs(exported):
    found = resources(exported, "rolling.yml")
    policy = found["CatalogExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert {s["Sid"]: s["Resource"] for s in policy} == {
        "EcrLogin": "*",
        "PullImages": [{"Fn::Sub": "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/web"},
                       {"Fn::Sub": "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/catalog"}],
        "WriteLogs": {"Fn::GetAtt": ["CatalogLogGroup", "Arn"]},
        "ReadSecrets": ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:catalog/db-AbCdEf"],
        "ReadParameters": [{"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/"
                                       "catalog/api-key"}]}
    api = found["ApiExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert [s["Sid"] for s in api] == ["EcrLogin", "PullImages", "WriteLogs"]
    assert found["ApiLogGroup"]["Properties"] == {"LogGroupName": "/conveyor/production/api",
                                                  "RetentionInDays": {"Ref": "LogRetentionInDays"}}


def test_repositories_keep_their_ecr_settings():
    template = repositories_template(load_pipeline(FIXTURES / "rolling.yml"), notes=Notes())
    assert template is not None
    found = template.to_data()["Resources"]
    assert found["WebRepository"]["Properties"] == {
        "RepositoryName": "web", "ImageTagMutability": "IMMUTABLE", "ImageScanningConfiguration": {"ScanOnPush": True}}
    catalog = found["CatalogRepository"]["Properties"]
    assert catalog["ImageTagMutabilityExclusionFilters"] == [
        {"ImageTagMutabilityExclusionFilterType": "WILDCARD", "ImageTagMutabilityExclusionFilterValue": "latest"},
        {"ImageTagMutabilityExclusionFilterType": "WILDCARD", "ImageTagMutabilityExclusionFilterValue": "dev-*"}]
    policy = load_pipeline(FIXTURES / "rolling.yml").raw["repositories"]["catalog"]["lifecyclePolicy"]
    assert json.loads(catalog["LifecyclePolicy"]["LifecyclePolicyText"]) == policy


# --- alarms -------------------------------------------------------------------------------------

def alarm(found: dict[str, Any], name: str) -> dict[str, Any]:
    return next(a for a in of_type(found, "AWS::CloudWatch::Alarm").values() if a["AlarmName"] == name)


def watched_groups(properties: dict[str, Any]) -> list[str]:
    metrics = [q["MetricStat"]["Metric"] for q in properties.get("Metrics", []) if "MetricStat" in q] or [properties]
    return [d["Value"]["Fn::GetAtt"][0] for m in metrics for d in m["Dimensions"] if d["Name"] == "TargetGroup"]


def test_every_alarm_is_created_under_its_conveyor_yml_name(exported):
    found = resources(exported, "alarms.yml")
    names = sorted(a["AlarmName"] for a in of_type(found, "AWS::CloudWatch::Alarm").values())
    assert names == sorted(load_pipeline(FIXTURES / "alarms.yml").environments["production"]["alarms"])


@pytest.mark.parametrize(("name", "groups", "expression", "stat"), [
    ("bg-green-sum", ["BgTargetGroup1", "BgTargetGroup2"], "SUM([m1, m2])", "Sum"),
    ("bg-blue-count", ["BgTargetGroup1", "BgTargetGroup2"], "SUM([m1, m2])", "SampleCount"),
    ("bg-production-average", ["BgTargetGroup1", "BgTargetGroup2"], "MAX([m1, m2])", "Average"),
    ("bg-test-minimum", ["BgTargetGroup1", "BgTargetGroup2"], "SUM([m1, m2])", "Minimum"),
    ("bg-maximum", ["BgTargetGroup1", "BgTargetGroup2"], "SUM([m1, m2])", "Maximum"),
    ("bg-4xx-average-low", ["BgTargetGroup1", "BgTargetGroup2"], "MIN([m1, m2])", "Average"),
    ("shared-2xx", ["BgTargetGroup1", "BgTargetGroup2", "RollTargetGroup"], "MIN([m1, m2, m3])", "Minimum"),
    ("unlisted-3xx", ["BgTargetGroup1", "BgTargetGroup2", "RollTargetGroup"], "SUM([m1, m2, m3])", "Sum"),
])
def test_an_alarm_on_several_target_groups_is_metric_math(exported, name, groups, expression, stat):
    properties = alarm(resources(exported, "alarms.yml"), name)
    assert watched_groups(properties) == groups
    assert properties["Metrics"][-1]["Expression"] == expression
    assert {q["MetricStat"]["Stat"] for q in properties["Metrics"][:-1]} == {stat}
    assert "Statistic" not in properties and "Period" not in properties


def test_an_alarm_on_one_target_group_or_the_load_balancer_is_a_plain_metric(exported):
    found = resources(exported, "alarms.yml")
    green = alarm(found, "roll-green")
    assert (green["Namespace"], green["MetricName"], green["Statistic"]) == (
        "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum")
    assert (green["Period"], green["EvaluationPeriods"], green["DatapointsToAlarm"]) == (3600, 24, 24)
    assert watched_groups(green) == ["RollTargetGroup"]
    elb = alarm(found, "elb-5xx")
    assert elb["Dimensions"] == [{"Name": "LoadBalancer",
                                  "Value": {"Fn::GetAtt": ["LoadBalancer", "LoadBalancerFullName"]}}]
    assert elb["Period"] == 120


def test_periods_become_minutes_and_windows_what_cloudwatch_keeps(exported):
    found = resources(exported, "alarms.yml")
    window = alarm(found, "long-window")
    assert {q["MetricStat"]["Period"] for q in window["Metrics"][:-1]} == {60}
    assert (window["EvaluationPeriods"], window["DatapointsToAlarm"]) == (1440, 1440)
    average = alarm(found, "bg-production-average")
    assert (average["EvaluationPeriods"], average["DatapointsToAlarm"], average["Threshold"]) == (5, 3, 0.5)
    assert alarm(found, "bg-blue-count")["TreatMissingData"] == "ignore"


def test_a_deployment_group_lists_its_alarms(exported):
    group = resources(exported, "alarms.yml")["BgDeploymentGroup"]["Properties"]["AlarmConfiguration"]
    assert group["Enabled"] is True and group["IgnorePollAlarmFailure"] is True
    assert len(group["Alarms"]) == 10 and group["Alarms"][0] == {"Name": {"Ref": "BgGreenSumAlarm"}}
