"""A service's container logs on AWS: the tail of each running task's containers, read from
CloudWatch Logs where the task definition sends them there (the awslogs driver), otherwise a
line saying where they are.

    ServiceLogs(apis).tail("production", "orders", 100)   # [ContainerLog(task, container, text), …]

AWS calls: ecs:ListTasks, ecs:DescribeTasks, ecs:DescribeTaskDefinition (once per revision the
tasks run), logs:GetLogEvents (per task and awslogs container).

awslogs names a task's stream `PREFIX/CONTAINER/TASK_ID` (awslogs-stream-prefix; required on
Fargate). Without a prefix (EC2 only) the stream is named after the Docker container id, which
ECS does not report: Conveyor then says which group holds the logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.backend.types import ContainerLog
from conveyor.errors import NotFound
from conveyor.providers.aws import ecs_reasons as reasons
from conveyor.providers.aws.api import AwsApi
from conveyor.providers.aws.apis import AwsApis
from conveyor.providers.aws.ecs_views import resource_name

#: Tasks whose logs one call reads (each costs a GetLogEvents per container).
MAX_LOG_TASKS = 10
#: GetLogEvents' limit: 1-10000 events.
MAX_EVENTS = 10000


class ServiceLogs:
    def __init__(self, apis: AwsApis):
        self._apis = apis

    def tail(self, environment: str, service: str, tail: int) -> list[ContainerLog]:
        """The last `tail` lines of every container of (at most MAX_LOG_TASKS of) the service's
        running tasks."""
        api = self._apis.api(environment)
        cluster = api.env.cluster
        arns: list[str] = []
        for arn in api.pages("ecs", "ListTasks", "taskArns", cluster=cluster, serviceName=service,
                             desiredStatus="RUNNING"):
            arns.append(arn)
            if len(arns) >= MAX_LOG_TASKS:
                break
        if not arns:
            return []
        tasks = api.call("ecs", "DescribeTasks", cluster=cluster, tasks=arns)["tasks"]
        definitions: dict[str, dict[str, Any]] = {}
        out = []
        for task in tasks:
            arn = str(task["taskDefinitionArn"])
            if arn not in definitions:
                definitions[arn] = api.call("ecs", "DescribeTaskDefinition", taskDefinition=arn)["taskDefinition"]
            task_id = resource_name(str(task["taskArn"]))
            for container in definitions[arn].get("containerDefinitions") or []:
                out.append(ContainerLog(task_id, str(container["name"]), self._text(api, container, task_id, tail)))
        return out

    def _text(self, api: AwsApi, container: Mapping[str, Any], task_id: str, tail: int) -> str:
        conf = container.get("logConfiguration") or {}
        driver = conf.get("logDriver")
        options = conf.get("options") or {}
        group = options.get("awslogs-group")
        if driver != "awslogs" or not group:
            return reasons.logs_elsewhere(driver)
        region = str(options.get("awslogs-region") or api.env.region)
        prefix = options.get("awslogs-stream-prefix")
        if not prefix:
            return reasons.logs_in_group(group, region, "without awslogs-stream-prefix each stream is named after "
                                                        "its Docker container id, which ECS does not report")
        if region != api.env.region:
            return reasons.logs_in_group(group, region, f"Conveyor reads the environment's region ({api.env.region})")
        if tail <= 0:
            return ""
        stream = f"{prefix}/{container['name']}/{task_id}"
        try:
            answer = api.call("logs", "GetLogEvents", logGroupName=group, logStreamName=stream,
                              limit=min(tail, MAX_EVENTS), startFromHead=False)
        except NotFound:
            return reasons.no_log_stream(group, stream)
        return "\n".join(str(e.get("message", "")).rstrip("\n") for e in answer.get("events") or [])
