"""`conveyor doctor --target aws`: the identity, then every resource an aws environment names,
each found or missing with what to do — over moto (no AWS account here)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from conveyor.providers.aws.api import AwsApi
from conveyor.providers.aws.settings import AwsEnvironment
from conveyor.stack.aws_checks import aws_checks

ENVIRONMENTS = {
    "staging": {"services": {}},
    "production": {"target": "aws", "region": "eu-west-1", "cluster": "orders-prod", "codeDeployApplication": "orders",
                   "alarms": {"orders-5xx": {"metric": "HTTPCode_Target_5XX_Count", "threshold": 1,
                                             "comparisonOperator": "GreaterThanOrEqualToThreshold"}},
                   "services": {"orders": {"taskDefinition": "taskdef.json",
                                           "deployment": {"controller": "ECS", "alarms": ["orders-5xx"]}}}},
}


@pytest.fixture
def aws(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield boto3.Session(region_name="eu-west-1")


def lines(session) -> list[str]:
    def api_for(name, settings):
        return AwsApi(AwsEnvironment.from_settings(name, settings), session=session)
    [(name, check)] = aws_checks(ENVIRONMENTS, api_for=api_for)
    assert name == "aws production"
    return [status.line() for status in check()]


def test_a_bare_account_says_what_to_provision(aws):
    out = lines(aws)
    assert out[0].startswith("✓ aws identity (production): arn:aws:sts::123456789012:")
    assert out[1:] == [
        "✗ ecs cluster orders-prod (production): not found (ECS cluster orders-prod) — fix: conveyor provision "
        "production (or create it in your own templates)",
        "✗ ecs service orders-prod/orders (production): not found (ecs:DescribeServices: Cluster not found.) — fix: "
        "conveyor provision production (or create it in your own templates)",
        "✗ cloudwatch alarms of orders (production): not found (CloudWatch alarm(s) orders-5xx) — fix: conveyor "
        "provision production (or create it in your own templates)"]


def test_what_exists_is_described(aws):
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName="orders-prod")
    ecs.register_task_definition(family="orders", containerDefinitions=[{"name": "api", "image": "x", "memory": 128}])
    ecs.create_service(cluster="orders-prod", serviceName="orders", taskDefinition="orders:1", desiredCount=2)
    aws.client("cloudwatch").put_metric_alarm(
        AlarmName="orders-5xx", MetricName="HTTPCode_Target_5XX_Count", Namespace="AWS/ApplicationELB",
        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold")
    out = lines(aws)
    assert out[1].startswith("✓ ecs cluster orders-prod (production): ACTIVE, ")
    assert out[2].startswith("✓ ecs service orders-prod/orders (production): ACTIVE, ECS, ")
    assert out[3] == "✓ cloudwatch alarms of orders (production): orders-5xx OK"  # moto starts alarms OK


def test_only_one_environment_and_a_clear_refusal_for_a_local_one():
    assert [name for name, _ in aws_checks(ENVIRONMENTS, only="production", api_for=lambda n, s: None)] == [
        "aws production"]
    with pytest.raises(Exception, match="environment 'staging' is not target: aws"):
        aws_checks(ENVIRONMENTS, only="staging")
