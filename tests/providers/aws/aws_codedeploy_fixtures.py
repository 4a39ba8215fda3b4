"""What CodeDeploy and ECS answer, as the tests of the AWS CodeDeploy backend feed them to botocore's
Stubber (which checks each answer against the service model), and the ECS side the backend leans
on: a fake of the release service's EcsApi with the two AwsEcs calls the backend uses."""

from __future__ import annotations

import ast
import datetime as dt
import re
from typing import Any

from botocore import xform_name
from botocore.stub import Stubber

from conveyor.backend.fake import FakeEcs
from conveyor.deploy.spec import ServiceSpec

REGION, ACCOUNT = "eu-west-1", "123456789012"
APP, GROUP, CLUSTER = "orders", "orders", "orders-prod"  # tests/providers/aws/conftest.py SETTINGS["production"]
T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)
LB = {"port": 80, "container": "api", "containerPort": 8080, "testPort": 8443}
TASKDEF = {"family": "orders", "containerDefinitions": [
    {"name": "api", "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders:v2", "essential": True,
     "portMappings": [{"containerPort": 8080}]}]}
IN_FLIGHT = ["Created", "Queued", "InProgress", "Baking", "Ready"]


def add(stub: Stubber, operation: str, response: dict[str, Any], params: dict[str, Any]) -> None:
    """stub.add_response by the operation's AWS name (ListDeployments), as the backend calls it."""
    stub.add_response(xform_name(operation), response, params)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def now(seconds: float = 0.0) -> float:
    return at(seconds).timestamp()


def td_arn(name: str) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{name}"


def spec(**deployment: Any) -> ServiceSpec:
    return ServiceSpec.from_config("production", "orders", {
        "desiredCount": 2, "loadBalancer": LB, "deployment": {"controller": "CODE_DEPLOY", **deployment}},
        target="aws", environment_settings={"region": REGION, "cluster": CLUSTER, "codeDeployApplication": APP})


def appspec(task_definition: str = "orders:7", hooks: dict[str, str] | None = None) -> str:
    text = ("version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n"
            f"        TaskDefinition: {td_arn(task_definition)}\n        LoadBalancerInfo:\n"
            "          ContainerName: api\n          ContainerPort: 8080\n")
    if hooks:
        text += "Hooks:\n" + "".join(f"  - {event}: {fn}\n" for event, fn in hooks.items())
    return text


def info(dep_id: str = "d-AAAAAAAA1", status: str = "InProgress", task_definition: str = "orders:7", *,
         description: str | None = None, hooks: dict[str, str] | None = None, error: tuple[str, str] | None = None,
         rollback: dict[str, str] | None = None, completed: float | None = None, termination_started: bool = False,
         creator: str = "user", previous: str | None = "orders:6", ready_wait: int | None = None,
         termination_wait: int = 5, config: str = "CodeDeployDefault.ECSAllAtOnce",
         content: bool = True) -> dict[str, Any]:
    """A deploymentInfo (GetDeployment, BatchGetDeployments)."""
    out: dict[str, Any] = {
        "applicationName": APP, "deploymentGroupName": GROUP, "deploymentConfigName": config, "deploymentId": dep_id,
        "status": status, "createTime": at(0), "creator": creator, "computePlatform": "ECS",
        "description": description if description is not None else f"Conveyor: {task_definition} (CodePipeline)",
        "revision": {"revisionType": "AppSpecContent",
                     "appSpecContent": ({"content": appspec(task_definition, hooks)} if content
                                        else {"sha256": "0" * 64})},
        "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        "instanceTerminationWaitTimeStarted": termination_started,
        "blueGreenDeploymentConfiguration": {
            "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE",
                                                          "terminationWaitTimeInMinutes": termination_wait},
            "deploymentReadyOption": ({"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": ready_wait}
                                      if ready_wait is not None else {"actionOnTimeout": "CONTINUE_DEPLOYMENT"})}}
    if previous:
        out["previousRevision"] = {"revisionType": "AppSpecContent", "appSpecContent": {"content": appspec(previous)}}
    if error:
        out["errorInformation"] = {"code": error[0], "message": error[1]}
    if rollback:
        out["rollbackInfo"] = rollback
    if completed is not None:
        out["completeTime"] = at(completed)
    return out


EVENTS = ("BeforeInstall", "Install", "AfterInstall", "AllowTestTraffic", "AfterAllowTestTraffic",
          "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic")


def target(dep_id: str = "d-AAAAAAAA1", *, done: int = 0, running: str | None = None, failed: str | None = None,
           green: float = 0.0, green_running: int = 2, messages: dict[str, str] | None = None,
           status: str = "InProgress") -> dict[str, Any]:
    """An ecsTarget: the first `done` events Succeeded (10 s each from t=10), then `running` in
    progress (or `failed` Failed), the rest Pending; Blue and Green task sets with weights."""
    events = []
    for i, name in enumerate(EVENTS):
        event: dict[str, Any] = {"lifecycleEventName": name, "status": "Pending"}
        if i < done:
            event.update(status="Succeeded", startTime=at(10 + 10 * i), endTime=at(20 + 10 * i))
        elif name in (running, failed):
            event.update(status="InProgress" if name == running else "Failed", startTime=at(10 + 10 * i))
            if name == failed:
                event["endTime"] = at(15 + 10 * i)
        if messages and name in messages:
            event["diagnostics"] = {"errorCode": "ScriptFailed", "message": messages[name], "logTail": ""}
        events.append(event)
    return {"deploymentId": dep_id, "targetId": f"{CLUSTER}:orders", "status": status, "lastUpdatedAt": at(100),
            "targetArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{CLUSTER}/orders", "lifecycleEvents": events,
            "taskSetsInfo": [
                {"identifer": "ecs-svc/1111", "desiredCount": 2, "pendingCount": 0, "runningCount": 2,
                 "status": "PRIMARY", "trafficWeight": 100.0 - green, "targetGroup": {"name": "orders-prod-1"},
                 "taskSetLabel": "Blue"},
                {"identifer": "ecs-svc/2222", "desiredCount": 2, "pendingCount": 2 - green_running,
                 "runningCount": green_running, "status": "ACTIVE", "trafficWeight": green,
                 "targetGroup": {"name": "orders-prod-2"}, "taskSetLabel": "Green"}]}


# -- ECS-native -----------------------------------------------------------------------------------
def sd_arn(ident: str = "new") -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{CLUSTER}/orders/{ident}"


def rev_arn(ident: str) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-revision/{CLUSTER}/orders/{ident}"


def service_deployment(ident: str = "new", status: str = "IN_PROGRESS", stage: str | None = None, *,
                       green: float = 0.0, green_running: int = 2, target_rev: str = "r7", source_rev: str = "r6",
                       strategy: str = "CANARY", hooks: list[dict[str, Any]] | None = None,
                       rollback: dict[str, Any] | None = None, alarms: dict[str, Any] | None = None,
                       finished: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "serviceDeploymentArn": sd_arn(ident), "serviceArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{CLUSTER}/orders",
        "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{CLUSTER}", "createdAt": at(0), "startedAt": at(1),
        "updatedAt": at(50), "status": status,
        "targetServiceRevision": {"arn": rev_arn(target_rev), "requestedTaskCount": 2,
                                  "runningTaskCount": green_running, "pendingTaskCount": 2 - green_running,
                                  "requestedProductionTrafficWeight": green},
        "sourceServiceRevisions": [{"arn": rev_arn(source_rev), "requestedTaskCount": 2, "runningTaskCount": 2,
                                    "pendingTaskCount": 0, "requestedProductionTrafficWeight": 100.0 - green}],
        "deploymentConfiguration": {"strategy": strategy, "bakeTimeInMinutes": 10,
                                    "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 5}}}
    if stage:
        out["lifecycleStage"] = stage
    if hooks:
        out["lifecycleHookDetails"] = hooks
    if rollback:
        out["rollback"] = rollback
    if alarms:
        out["alarms"] = alarms
    if finished is not None:
        out["finishedAt"] = at(finished)
    return out


def service_revision(ident: str, task_definition: str) -> dict[str, Any]:
    return {"serviceRevisionArn": rev_arn(ident),
            "serviceArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{CLUSTER}/orders",
            "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{CLUSTER}",
            "taskDefinition": td_arn(task_definition), "createdAt": at(0)}


# -- the ECS side ---------------------------------------------------------------------------------
class AwsEcsFake(FakeEcs):
    """The release service's EcsApi (in memory) plus what AwsCodeDeploy uses of AwsEcs:
    task_definition_arn and describe_raw_service (DescribeServices' service dict)."""

    def __init__(self) -> None:
        super().__init__([], clock=lambda: now())
        self.raw: dict[tuple[str, str], dict[str, Any]] = {}
        self.raw_reads = 0

    def task_definition_arn(self, environment: str, name: str) -> str:
        return td_arn(name)

    def describe_raw_service(self, environment: str, service: str) -> dict[str, Any]:
        self.raw_reads += 1
        return self.raw.get((environment, service)) or {
            "serviceName": service, "deploymentController": {"type": "CODE_DEPLOY"},
            "taskDefinition": td_arn("orders:6")}


# -- the catalog rule: no message built outside codedeploy_reasons ---------------------------------
PROSE = re.compile(r"[A-Za-z] +[A-Za-z]")  # two words: a message, not a key, a path or a format


def inline_texts(source: str) -> list[tuple[int, str]]:
    """String literals and f-strings that read as prose, docstrings aside (an f-string's fields read as "x")."""
    tree = ast.parse(source)
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip.add(id(first.value))
        if isinstance(node, ast.JoinedStr):
            skip.update(id(part) for part in node.values)
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        elif isinstance(node, ast.JoinedStr):
            text = "".join(p.value if isinstance(p, ast.Constant) else "x" for p in node.values)
        else:
            continue
        if PROSE.search(text):
            found.append((node.lineno, text))
    return found
