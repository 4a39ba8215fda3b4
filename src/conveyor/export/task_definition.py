"""A service's taskdef.json as the first revision of AWS::ECS::TaskDefinition: the
RegisterTaskDefinition JSON (camelCase, aws-semantics §4.1) in CloudFormation's PascalCase
properties, for Fargate (awsvpc), with

- an image parameter for each container whose image is a placeholder (`<IMAGE1_NAME>`) or in the
  local registry: later revisions come from deploys (CodeDeployToECS, `conveyor deploy`);
- the template's execution role (ECR pull, the service's log group) and its log group: a
  container without a logConfiguration logs there with awslogs;
- what CloudFormation or Fargate cannot take left out or changed, each with a note.

Revisions Conveyor registers later are taskdef.json as it is: the notes say what to copy into it
(the execution role, the log configuration) so that they keep what the first one has.

    properties = task_definition(ctx, svc, td)     # the resource's Properties
    cfn_keys({"efsVolumeConfiguration": {"fileSystemId": "fs-1"}})
    # -> {'EFSVolumeConfiguration': {'FilesystemId': 'fs-1'}}
"""

from __future__ import annotations

import copy
import re
from typing import Any

from conveyor.config.taskdef import TaskDefinition
from conveyor.config.taskdef_check import PLACEHOLDER
from conveyor.export.context import EnvironmentExport, ServiceExport
from conveyor.export.naming import log_group_name
from conveyor.export.parameters import image_parameter
from conveyor.export.template import GetAtt, Intrinsic, Ref, Sub

#: The task-level keys CloudFormation's AWS::ECS::TaskDefinition takes (camelCase, as in the file).
TASK_KEYS = ("family", "containerDefinitions", "cpu", "memory", "networkMode", "requiresCompatibilities",
             "executionRoleArn", "taskRoleArn", "volumes", "placementConstraints", "tags", "pidMode", "ipcMode",
             "proxyConfiguration", "inferenceAccelerators", "ephemeralStorage", "runtimePlatform",
             "enableFaultInjection")
#: The keys of ContainerDefinition in CloudFormation's schema.
CONTAINER_KEYS = ("name", "image", "essential", "command", "entryPoint", "environment", "secrets", "portMappings",
                  "healthCheck", "cpu", "memory", "memoryReservation", "stopTimeout", "startTimeout", "dependsOn",
                  "workingDirectory", "user", "readonlyRootFilesystem", "logConfiguration", "repositoryCredentials",
                  "links", "restartPolicy", "environmentFiles", "mountPoints", "volumesFrom", "linuxParameters",
                  "versionConsistency", "hostname", "disableNetworking", "privileged", "dnsServers",
                  "dnsSearchDomains", "extraHosts", "dockerSecurityOptions", "interactive", "pseudoTerminal",
                  "dockerLabels", "ulimits", "systemControls", "resourceRequirements", "firelensConfiguration",
                  "credentialSpecs")
#: Keys whose value is a free-form map: its keys are the user's, never renamed.
MAP_KEYS = ("dockerLabels", "options", "driverOpts", "labels")
#: Where CloudFormation's name is not the API name with a capital first letter.
RENAMED = {"efsVolumeConfiguration": "EFSVolumeConfiguration", "iam": "IAM",
           "fsxWindowsFileServerVolumeConfiguration": "FSxWindowsFileServerVolumeConfiguration"}
RENAMED_UNDER = {("efsVolumeConfiguration", "fileSystemId"): "FilesystemId",
                 ("proxyConfiguration", "properties"): "ProxyConfigurationProperties"}
#: Fargate's smallest task size, for a task definition that gives none.
FARGATE_DEFAULT_SIZE = ("256", "512")
#: Placeholders an ARN may carry that CloudFormation can fill.
ARN_PLACEHOLDERS = {"<ACCOUNT_ID>": "${AWS::AccountId}", "<AWS_ACCOUNT_ID>": "${AWS::AccountId}",
                    "<REGION>": "${AWS::Region}", "<AWS_REGION>": "${AWS::Region}"}
LOCAL_HOSTS = re.compile(r"(localhost|127\.\d+\.\d+\.\d+|[^/]*\.localhost)(:\d+)?")


def cfn_keys(value: Any, parent: str | None = None) -> Any:
    """RegisterTaskDefinition JSON with CloudFormation's property names; map values untouched.

    >>> cfn_keys({"logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}}})
    {'LogConfiguration': {'LogDriver': 'awslogs', 'Options': {'awslogs-group': 'g'}}}
    """
    if isinstance(value, dict):
        return {_cfn_name(key, parent): item if key in MAP_KEYS else cfn_keys(item, key)
                for key, item in value.items()}
    if isinstance(value, list):
        return [cfn_keys(item, parent) for item in value]
    return value


def _cfn_name(key: str, parent: str | None) -> str:
    return RENAMED_UNDER.get((parent or "", key)) or RENAMED.get(key) or key[:1].upper() + key[1:]


def _given(value: Any) -> bool:
    """Console exports carry null and empty values; ECS reads them as "not given"."""
    return value is not None and value != "" and value != [] and value != {}


def execution_role_id(svc: ServiceExport) -> str:
    return svc.id("ExecutionRole")


def log_group_id(svc: ServiceExport) -> str:
    return svc.id("LogGroup")


def task_definition(ctx: EnvironmentExport, svc: ServiceExport, td: TaskDefinition) -> dict[str, Any]:
    """The Properties of the service's AWS::ECS::TaskDefinition (image parameters are declared)."""
    where = svc.at("taskDefinition")
    raw = {k: copy.deepcopy(v) for k, v in td.raw.items() if _given(v)}
    for key in [k for k in raw if k not in TASK_KEYS]:
        ctx.notes.add(where, f"{svc.spec.task_definition}: {key}", "left out: not a property of "
                                                                   "AWS::ECS::TaskDefinition")
        del raw[key]
    _fargate(ctx, svc, raw)
    file_role = raw.pop("executionRoleArn", None)
    if file_role is not None:
        ctx.notes.add(where, f"{svc.spec.task_definition}'s executionRoleArn {file_role}",
                      f"the first revision uses the template's role {execution_role_id(svc)} (ECR pull, this "
                      f"service's log group); revisions Conveyor registers later use the file's: set it to "
                      f"the stack output {execution_role_id(svc)}Arn")
    task_role = raw.pop("taskRoleArn", None)
    out = cfn_keys(raw)
    out["ExecutionRoleArn"] = GetAtt(execution_role_id(svc), "Arn")
    if task_role is not None:
        role = fill_placeholders(task_role)
        if role is None:
            ctx.notes.add(where, f"taskRoleArn {task_role}", "left out: a placeholder CloudFormation cannot fill")
        else:
            out["TaskRoleArn"] = role
    out["ContainerDefinitions"] = [_container(ctx, svc, c) for c in raw.get("containerDefinitions") or []]
    return _ordered(out)


def _ordered(out: dict[str, Any]) -> dict[str, Any]:
    """Family first and the containers last, so the template reads like the file."""
    order = ["Family", "RequiresCompatibilities", "NetworkMode", "Cpu", "Memory", "ExecutionRoleArn", "TaskRoleArn"]
    head = {k: out[k] for k in order if k in out}
    rest = {k: v for k, v in out.items() if k not in head and k != "ContainerDefinitions"}
    return {**head, **rest, "ContainerDefinitions": out["ContainerDefinitions"]}


def fill_placeholders(value: str) -> str | Intrinsic | None:
    """An ARN with its account and region placeholders as CloudFormation's pseudo parameters
    (a !Sub); None when another placeholder is left.

    >>> fill_placeholders("arn:aws:iam::<ACCOUNT_ID>:role/orders")
    Intrinsic(tag='Sub', value='arn:aws:iam::${AWS::AccountId}:role/orders')
    >>> fill_placeholders("arn:aws:iam::123456789012:role/<ROLE>") is None
    True
    """
    filled = value
    for token, variable in ARN_PLACEHOLDERS.items():
        filled = filled.replace(token, variable)
    if PLACEHOLDER.search(filled.replace("${AWS::AccountId}", "").replace("${AWS::Region}", "")):
        return None
    return Sub(filled) if filled != value else value


def _fargate(ctx: EnvironmentExport, svc: ServiceExport, raw: dict[str, Any]) -> None:
    where, file = svc.at("taskDefinition"), svc.spec.task_definition
    if "FARGATE" not in (raw.get("requiresCompatibilities") or []):
        ctx.notes.add(where, f"{file}: requiresCompatibilities {raw.get('requiresCompatibilities') or 'not set'}",
                      "[FARGATE]: the services run on Fargate")
        raw["requiresCompatibilities"] = ["FARGATE"]
    if raw.get("networkMode") != "awsvpc":
        ctx.notes.add(where, f"{file}: networkMode {raw.get('networkMode') or 'not set'}",
                      "awsvpc (Fargate's only network mode)")
        raw["networkMode"] = "awsvpc"
    for key, default in zip(("cpu", "memory"), FARGATE_DEFAULT_SIZE, strict=True):
        if key not in raw:
            ctx.notes.add(where, f"{file}: no task-level {key}", f"{default} (Fargate needs one)")
            raw[key] = default
        raw[key] = str(raw[key])
    if raw.pop("placementConstraints", None) is not None:
        ctx.notes.add(where, f"{file}: placementConstraints", "left out: Fargate places tasks itself")


def _container(ctx: EnvironmentExport, svc: ServiceExport, raw: dict[str, Any]) -> dict[str, Any]:
    where, file, name = svc.at("taskDefinition"), svc.spec.task_definition, str(raw.get("name"))
    c = {k: v for k, v in raw.items() if _given(v)}
    for key in [k for k in c if k not in CONTAINER_KEYS]:
        ctx.notes.add(where, f"{file}: container {name}'s {key}", "left out: not a property of ContainerDefinition")
        del c[key]
    for pm in c.get("portMappings") or []:
        host = pm.get("hostPort")
        if host is not None and host != pm.get("containerPort"):
            ctx.notes.add(where, f"{file}: container {name}'s hostPort {host}",
                          "left out: with awsvpc the host port is the container port")
        if host is not None:
            del pm["hostPort"]
    image = str(c.get("image", ""))
    if PLACEHOLDER.search(image) or LOCAL_HOSTS.fullmatch(image.split("/", 1)[0]):
        parameter = image_parameter(svc.prefix, name)
        if not PLACEHOLDER.search(image):
            ctx.notes.add(where, f"{file}: container {name}'s image {image} (the local registry)",
                          f"the stack parameter {parameter}")
        ctx.template.parameter(parameter, "String",
                               f"{svc.name}: the image of container {name} in the first task definition revision "
                               f"({file} says {image}); later revisions come from deploys")
        image_value: Any = Ref(parameter)
    else:
        image_value = image
    c["logConfiguration"] = _logging(ctx, svc, name, c.get("logConfiguration"))
    out = cfn_keys(c)
    out["Image"] = image_value
    return out


def _logging(ctx: EnvironmentExport, svc: ServiceExport, container: str, given: Any) -> dict[str, Any]:
    where, file = svc.at("taskDefinition"), svc.spec.task_definition
    if not isinstance(given, dict):
        ctx.notes.add(where, f"{file}: container {container} has no logConfiguration",
                      f"the first revision logs to the service's log group with awslogs; add that "
                      f"logConfiguration to {file} so that later revisions do too")
        return _awslogs(svc, {})
    if given.get("logDriver") != "awslogs":
        ctx.notes.add(where, f"{file}: container {container} logs with {given.get('logDriver')}",
                      "kept; the execution role grants only the service's awslogs log group")
        return given
    options = dict(given.get("options") or {})
    if options.pop("awslogs-create-group", None) is not None:
        ctx.notes.add(where, f"{file}: container {container}'s awslogs-create-group",
                      "left out: the template creates the log group")
    group = options.get("awslogs-group")
    if group is not None and group != log_group_name(svc.spec.environment, svc.name):
        ctx.notes.add(where, f"{file}: container {container} logs to {group}",
                      "the service's log group, the only one its execution role may write to")
    return {**given, **_awslogs(svc, options)}


def _awslogs(svc: ServiceExport, options: dict[str, Any]) -> dict[str, Any]:
    region = options.get("awslogs-region")
    return {"logDriver": "awslogs", "options": {
        **options, "awslogs-group": Ref(log_group_id(svc)),
        "awslogs-region": region if isinstance(region, str) and not PLACEHOLDER.search(region) else Ref("AWS::Region"),
        "awslogs-stream-prefix": options.get("awslogs-stream-prefix") or svc.name}}
