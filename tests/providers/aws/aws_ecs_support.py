"""Support for the tests of the AWS ECS, ECR, ELBv2 and CloudWatch parts: a Stubber that answers
only the operations moto does not implement (moto answers the rest), AWS's answers built as AWS
gives them (validated by the Stubber against botocore's output shapes), and the AwsBackend the
release service gets.

    partial(moto_aws, "cloudwatch", {"DescribeAlarmHistory"}).add_response("describe_alarm_history", {...})
    stub.add_response("describe_services", describe_services(service(deployments=[deployment(...)])))
"""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.stub import Stubber

from conveyor.providers.aws.apis import AwsApis

REGION = "eu-west-1"
ACCOUNT = "123456789012"
CLUSTER = "orders-prod"  # conftest's SETTINGS["production"]["cluster"]
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


class PartialStubber(Stubber):
    """A Stubber for `operations` only: every other call of the client goes through (to moto).
    Its answers are validated against the output shapes, as Stubber's are."""

    def __init__(self, client: Any, operations: Iterable[str]):
        super().__init__(client)
        self.operations = set(operations)

    def _assert_expected_params(self, model: Any, params: Any, context: Any, **kwargs: Any) -> None:
        if model.name in self.operations:
            super()._assert_expected_params(model, params, context, **kwargs)

    def _get_response_handler(self, model: Any, params: Any, context: Any, **kwargs: Any) -> Any:
        if model.name in self.operations:
            return super()._get_response_handler(model, params, context, **kwargs)
        return None


def partial(apis: AwsApis, service: str, operations: Iterable[str], environment: str = "production") -> PartialStubber:
    stub = PartialStubber(apis.api(environment).client(service), operations)
    stub.activate()
    return stub


def aws_backend(apis: AwsApis, monkeypatch: pytest.MonkeyPatch) -> Any:
    """AwsBackend(...).backend over these clients. codedeploy.py is written on another branch:
    until it is there, AwsBackend gets a stand-in (these tests deploy rolling services only)."""
    name = "conveyor.providers.aws.codedeploy"
    if name not in sys.modules and importlib.util.find_spec(name) is None:
        stand_in = types.ModuleType("conveyor.providers.aws.codedeploy")
        stand_in.AwsCodeDeploy = lambda apis, ecs: None  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, name, stand_in)
    from conveyor.providers.aws import AwsBackend

    return AwsBackend(lambda name: None, apis=apis).backend


# -- ECS answers ----------------------------------------------------------------------------------


def td_arn(name: str) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{name}"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def deployment(ident: str, taskdef: str, *, status: str = "PRIMARY", rollout: str = "IN_PROGRESS", desired: int = 2,
               running: int = 0, pending: int = 0, failed: int = 0, reason: str | None = None,
               created: float = 0.0, updated: float | None = None) -> dict[str, Any]:
    return {"id": ident, "status": status, "taskDefinition": td_arn(taskdef), "desiredCount": desired,
            "pendingCount": pending, "runningCount": running, "failedTasks": failed, "createdAt": at(created),
            "updatedAt": at(created if updated is None else updated), "launchType": "FARGATE",
            "rolloutState": rollout,
            "rolloutStateReason": reason if reason is not None else f"ECS deployment {ident} {rollout.lower()}."}


def event(message: str, seconds: float) -> dict[str, Any]:
    return {"id": f"e-{seconds:g}", "createdAt": at(seconds), "message": message}


def service(deployments: list[dict[str, Any]], *, name: str = "orders", events: list[dict[str, Any]] | None = None,
            desired: int = 2, controller: str = "ECS", load_balancers: list[dict[str, Any]] | None = None,
            configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    first = next((d for d in deployments if d["status"] == "PRIMARY"), None)
    return {"serviceArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{CLUSTER}/{name}", "serviceName": name,
            "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{CLUSTER}", "status": "ACTIVE",
            "desiredCount": desired, "runningCount": sum(d["runningCount"] for d in deployments),
            "pendingCount": sum(d["pendingCount"] for d in deployments), "launchType": "FARGATE",
            "taskDefinition": first["taskDefinition"] if first else td_arn(f"{name}:1"),
            "deploymentConfiguration": configuration or {"maximumPercent": 200, "minimumHealthyPercent": 100},
            "deployments": deployments, "events": events or [], "loadBalancers": load_balancers or [],
            "deploymentController": {"type": controller}, "createdAt": T0}


def describe_services(*services: dict[str, Any]) -> dict[str, Any]:
    return {"services": list(services), "failures": []}


def steady(taskdef: str = "orders:1", ident: str = "ecs-svc/1", **kwargs: Any) -> dict[str, Any]:
    """A service whose one deployment completed: `taskdef` runs on 2 tasks."""
    return service([deployment(ident, taskdef, rollout="COMPLETED", running=2, created=-600, updated=-500)],
                   events=[event("(service orders) has reached a steady state.", -500)], **kwargs)


def task_definition(name: str, image: str, tags: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """DescribeTaskDefinition's answer, with the defaults ECS fills in."""
    family, _, revision = name.rpartition(":")
    return {"taskDefinition": {
        "taskDefinitionArn": td_arn(name), "family": family, "revision": int(revision), "status": "ACTIVE",
        "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
        "compatibilities": ["EC2", "FARGATE"], "registeredAt": T0,
        "containerDefinitions": [{"name": "api", "image": image, "essential": True, "cpu": 0, "environment": [],
                                  "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
                                  "mountPoints": [], "volumesFrom": []}]},
        "tags": tags or []}


# -- provisioning in moto (what `conveyor provision` will do) --------------------------------------


def provision(apis: AwsApis, *, weights: tuple[int, int] | None = None, controller: str = "ECS",
              environment: str = "production") -> dict[str, str]:
    """In moto: a VPC with two subnets, an ALB `orders` with a listener on port 80 forwarding to
    target group `production-orders` (or, with `weights`, to it and `production-orders-2`), the
    cluster, task definition orders:1 and the service `orders` on it at desiredCount 0."""
    api = apis.api(environment)
    vpc = api.call("ec2", "CreateVpc", CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [api.call("ec2", "CreateSubnet", VpcId=vpc, CidrBlock=f"10.0.{i}.0/24",
                        AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"] for i, zone in ((1, "a"), (2, "b"))]
    lb = api.call("elbv2", "CreateLoadBalancer", Name="orders", Subnets=subnets)["LoadBalancers"][0]
    groups = [api.call("elbv2", "CreateTargetGroup", Name=name, Protocol="HTTP", Port=8080, VpcId=vpc,
                       TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
              for name in ("production-orders", "production-orders-2")]
    action: dict[str, Any] = {"Type": "forward", "TargetGroupArn": groups[0]}
    if weights is not None:
        action = {"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": arn, "Weight": w} for arn, w in zip(groups, weights, strict=True)]}}
    api.call("elbv2", "CreateListener", LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
             DefaultActions=[action])
    api.call("ecs", "CreateCluster", clusterName=api.env.cluster)
    api.call("ecs", "RegisterTaskDefinition", family="orders", containerDefinitions=[
        {"name": "api", "image": "orders:v1", "memory": 256, "portMappings": [{"containerPort": 8080}]}])
    api.call("ecs", "CreateService", cluster=api.env.cluster, serviceName="orders", taskDefinition="orders:1",
             desiredCount=0, deploymentController={"type": controller},
             loadBalancers=[{"targetGroupArn": groups[0], "containerName": "api", "containerPort": 8080}])
    return {"load_balancer": lb["LoadBalancerArn"], "dns": lb["DNSName"], "target_group": groups[0],
            "target_group_2": groups[1]}
