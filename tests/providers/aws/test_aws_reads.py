"""ELBv2 and CloudWatch reads on AWS (AwsLoadBalancers, AwsAlarms) against moto, with the load
balancer and service provisioned in the test. moto has no DescribeAlarmHistory and leaves
alarmConfiguration out of GetDeploymentGroup: a PartialStubber answers those two."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from aws_ecs_support import partial, provision

from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import NotFound
from conveyor.providers.aws.ecs import AwsEcs
from conveyor.providers.aws.reads import AwsAlarms, AwsLoadBalancers, dimension

NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
def load_balancers(moto_aws):
    return AwsLoadBalancers(moto_aws)


def put_alarm(api, name: str, target_group_arn: str, load_balancer_arn: str) -> None:
    api.call("cloudwatch", "PutMetricAlarm", AlarmName=name, Namespace="AWS/ApplicationELB",
             MetricName="HTTPCode_Target_5XX_Count", Statistic="Sum", Period=60, EvaluationPeriods=3,
             DatapointsToAlarm=2, Threshold=5.0, ComparisonOperator="GreaterThanOrEqualToThreshold",
             TreatMissingData="notBreaching",
             Dimensions=[{"Name": "TargetGroup", "Value": dimension(target_group_arn)},
                         {"Name": "LoadBalancer", "Value": dimension(load_balancer_arn)}])
    api.call("cloudwatch", "SetAlarmState", AlarmName=name, StateValue="ALARM",
             StateReason="Threshold Crossed: 2 out of the last 3 datapoints were >= 5.0")


def history(name: str) -> dict:
    def item(state: str, old: str, reason: str, minute: int) -> dict:
        return {"AlarmName": name, "AlarmType": "MetricAlarm", "HistoryItemType": "StateUpdate",
                "Timestamp": NOW.replace(minute=minute), "HistorySummary": f"Alarm updated from {old} to {state}",
                "HistoryData": json.dumps({"version": "1.0", "oldState": {"stateValue": old},
                                           "newState": {"stateValue": state, "stateReason": reason}})}
    return {"AlarmHistoryItems": [item("ALARM", "OK", "Threshold Crossed: 2 datapoints >= 5.0", 5),
                                  item("OK", "INSUFFICIENT_DATA", "Threshold not crossed", 1)]}


def test_target_health_is_read_by_target_group_name(moto_aws, load_balancers):
    made = provision(moto_aws)
    moto_aws.api("production").call("elbv2", "RegisterTargets", TargetGroupArn=made["target_group"],
                                    Targets=[{"Id": "10.0.1.5", "Port": 8080}, {"Id": "10.0.2.9", "Port": 8080}])
    targets = load_balancers.target_health("production", "production-orders")
    assert sorted((t.target_id, t.address, t.state) for t in targets) == [
        ("10.0.1.5", "10.0.1.5:8080", "healthy"), ("10.0.2.9", "10.0.2.9:8080", "healthy")]


def test_an_unknown_target_group_is_named_with_the_hint_to_provision_it(moto_aws, load_balancers):
    with pytest.raises(NotFound, match="no target group 'production-orders' in eu-west-1 \\(environment "
                                       "production\\)") as caught:
        load_balancers.target_health("production", "production-orders")
    assert "conveyor provision" in (caught.value.hint or "")


def test_listener_weights_are_the_forward_weights_of_the_listener_on_that_port(moto_aws, load_balancers):
    provision(moto_aws, weights=(90, 10))
    assert load_balancers.listener_weights("production", 80) == {"production-orders": 90, "production-orders-2": 10}
    with pytest.raises(NotFound, match="no listener on port 8080"):
        load_balancers.listener_weights("production", 8080)


def test_a_single_target_group_forward_weighs_one(moto_aws, load_balancers):
    provision(moto_aws)
    assert load_balancers.listener_weights("production", 80) == {"production-orders": 1}


def test_the_alarms_of_a_rolling_service_are_its_deployment_alarms_with_their_history(moto_aws):
    made = provision(moto_aws)
    api = moto_aws.api("production")
    put_alarm(api, "orders-5xx", made["target_group"], made["load_balancer"])
    spec = ServiceSpec.from_config("production", "orders", {"deployment": {"alarms": ["orders-5xx", "orders-slow"]}},
                                   target="aws")
    ecs = AwsEcs(moto_aws)
    revision = ecs.register_task_definition("production", {"family": "orders", "containerDefinitions": [
        {"name": "api", "image": "orders:v2", "memory": 256, "portMappings": [{"containerPort": 8080}]}]})
    ecs.update_service(spec, task_definition=revision.name, client_token=None, origin={})  # writes the alarm names
    stub = partial(moto_aws, "cloudwatch", {"DescribeAlarmHistory"})
    stub.add_response("describe_alarm_history", history("orders-5xx"), {
        "AlarmName": "orders-5xx", "HistoryItemType": "StateUpdate", "MaxRecords": 20,
        "ScanBy": "TimestampDescending"})
    five_xx, slow = AwsAlarms(moto_aws).describe_alarms("production", "orders")
    assert (five_xx.name, five_xx.metric, five_xx.statistic, five_xx.period, five_xx.evaluation_periods,
            five_xx.datapoints_to_alarm, five_xx.threshold, five_xx.comparison, five_xx.treat_missing_data) == (
        "orders-5xx", "HTTPCode_Target_5XX_Count", "Sum", 60, 3, 2, 5.0, "GreaterThanOrEqualToThreshold",
        "notBreaching")
    assert (five_xx.scope, five_xx.watching, five_xx.state) == ("target-group", "tg:production-orders", "ALARM")
    assert five_xx.reason == "Threshold Crossed: 2 out of the last 3 datapoints were >= 5.0"
    assert [(h.state, h.reason) for h in five_xx.history] == [
        ("ALARM", "Threshold Crossed: 2 datapoints >= 5.0"), ("OK", "Threshold not crossed")]
    assert five_xx.history[0].at == NOW.replace(minute=5).timestamp()
    assert (slow.name, slow.state) == ("orders-slow", "MISSING")
    assert "no CloudWatch alarm named orders-slow in eu-west-1" in slow.reason


def test_the_alarms_of_a_code_deploy_service_are_its_deployment_groups(moto_aws):
    made = provision(moto_aws, controller="CODE_DEPLOY")
    put_alarm(moto_aws.api("production"), "orders-5xx", made["target_group"], made["load_balancer"])
    codedeploy = partial(moto_aws, "codedeploy", {"GetDeploymentGroup"})
    codedeploy.add_response("get_deployment_group", {"deploymentGroupInfo": {
        "applicationName": "orders", "deploymentGroupName": "orders",
        "alarmConfiguration": {"enabled": True, "alarms": [{"name": "orders-5xx"}]}}},
        {"applicationName": "orders", "deploymentGroupName": "orders"})
    cloudwatch = partial(moto_aws, "cloudwatch", {"DescribeAlarmHistory"})
    cloudwatch.add_response("describe_alarm_history", {"AlarmHistoryItems": []})
    [alarm] = AwsAlarms(moto_aws).describe_alarms("production", "orders")
    assert (alarm.name, alarm.state, alarm.history) == ("orders-5xx", "ALARM", ())


def test_a_service_without_deployment_alarms_has_none(moto_aws):
    provision(moto_aws)
    assert AwsAlarms(moto_aws).describe_alarms("production", "orders") == []


def test_metrics_are_the_target_groups_alb_metrics_scoped_as_locally(moto_aws):
    made = provision(moto_aws)
    api = moto_aws.api("production")
    dims = [{"Name": "TargetGroup", "Value": dimension(made["target_group"])},
            {"Name": "LoadBalancer", "Value": dimension(made["load_balancer"])}]
    api.call("cloudwatch", "PutMetricData", Namespace="AWS/ApplicationELB", MetricData=[
        {"MetricName": "RequestCount", "Dimensions": dims, "Value": 120.0, "Timestamp": NOW},
        {"MetricName": "HTTPCode_Target_5XX_Count", "Dimensions": dims, "Value": 3.0, "Timestamp": NOW}])
    metrics = AwsAlarms(moto_aws, clock=lambda: NOW.timestamp() + 30).get_metrics("production", "orders", 300)
    assert metrics.scopes == ("tg:production-orders", "lb:orders")
    series = {(s.scope, s.metric): [v for _, v in s.points] for s in metrics.series}
    assert series == {("tg:production-orders", "RequestCount"): [120.0],
                      ("tg:production-orders", "HTTPCode_Target_5XX_Count"): [3.0]}
    assert metrics.to_json()["scopes"]["lb:orders"] == {}
