"""ECS's answers in Conveyor's neutral types (conveyor.backend.types): DescribeServices' service
and deployments, DescribeTasks' tasks, and what a rolling deployment waits for. Pure: no AWS
call is made here, so every rule is tested on plain dictionaries.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2026, 12, 1, tzinfo=timezone.utc)
    >>> d = deployment_view("production", "orders", {"id": "ecs-svc/1", "status": "PRIMARY",
    ...     "taskDefinition": "arn:aws:ecs:eu-west-1:123456789012:task-definition/orders:3",
    ...     "rolloutState": "IN_PROGRESS", "desiredCount": 2, "runningCount": 1, "createdAt": at, "updatedAt": at})
    >>> d.task_definition, d.outcome, d.running_count
    ('orders:3', 'InProgress', 1)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from conveyor.backend.types import (
    ECS,
    EcsDeployment,
    EcsTask,
    Rollout,
    ServiceEvent,
    ServiceSummary,
)
from conveyor.providers.aws import ecs_reasons as reasons

PRIMARY, ACTIVE, INACTIVE = "PRIMARY", "ACTIVE", "INACTIVE"
IN_PROGRESS, COMPLETED, FAILED = "IN_PROGRESS", "COMPLETED", "FAILED"
#: ECS keeps a service's latest 100 events; Conveyor shows as many as the local backend does.
DESCRIBE_EVENTS = 20
ROLLOUT_EVENTS = 10
TARGET = "aws"


def name_of(task_definition: str) -> str:
    """`family:revision` of a task definition ARN (or of a name already).

    >>> name_of("arn:aws:ecs:eu-west-1:123456789012:task-definition/orders:7"), name_of("orders:7")
    ('orders:7', 'orders:7')
    """
    return task_definition.rpartition("/")[2] if task_definition.startswith("arn:") else task_definition


def resource_name(arn: str) -> str:
    """The name in an ELBv2 or ECS ARN: `…:targetgroup/NAME/ID` → NAME, `…:task/CLUSTER/ID` → ID.

    >>> resource_name("arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/production-orders/6d0ecf831eec9f09")
    'production-orders'
    >>> resource_name("arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/orders/50dc6c495c0c9188")
    'orders'
    >>> resource_name("arn:aws:ecs:eu-west-1:123456789012:task/orders-prod/0b69d5c0d0f24f4c")
    '0b69d5c0d0f24f4c'
    """
    kind, _, rest = arn.rpartition(":")[2].partition("/")
    parts = rest.split("/")
    if kind == "loadbalancer":  # loadbalancer/app/NAME/ID
        return parts[1] if len(parts) > 2 else parts[0]
    return parts[0] if kind == "targetgroup" else parts[-1]


def timestamp(value: Any) -> float:
    """botocore's datetimes as epoch seconds (0.0 when absent)."""
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value) if isinstance(value, (int, float)) else 0.0


def primary(service: Mapping[str, Any]) -> dict[str, Any] | None:
    return next((d for d in service.get("deployments") or [] if d.get("status") == PRIMARY), None)


def deployment_view(environment: str, service: str, d: Mapping[str, Any],
                    origin: Mapping[str, Any] | None = None) -> EcsDeployment:
    """One of DescribeServices' deployments. ECS gives no completion time: a deployment that
    reached COMPLETED or FAILED was last updated then."""
    state = str(d.get("rolloutState") or IN_PROGRESS)
    updated = timestamp(d.get("updatedAt"))
    return EcsDeployment(
        id=str(d["id"]), environment=environment, service=service, status=str(d.get("status") or ACTIVE),
        task_definition=name_of(str(d.get("taskDefinition") or "")), rollout_state=state,
        rollout_state_reason=str(d.get("rolloutStateReason") or ""), failed_tasks=int(d.get("failedTasks") or 0),
        running_count=int(d.get("runningCount") or 0), pending_count=int(d.get("pendingCount") or 0),
        created_at=timestamp(d.get("createdAt")), updated_at=updated,
        completed_at=updated if state in (COMPLETED, FAILED) else None, origin=dict(origin or {}))


def summary(environment: str, service: Mapping[str, Any], *, healthy: int | None = None,
            url: str | None = None) -> ServiceSummary:
    """The service's line in `conveyor service ls`. DescribeServices has no health counts:
    without `healthy` (from the targets or the tasks), the running tasks of COMPLETED
    deployments count as healthy, since ECS completes a deployment only once its tasks are."""
    deployments = service.get("deployments") or []
    first = primary(service)
    if healthy is None:
        healthy = sum(int(d.get("runningCount") or 0) for d in deployments if d.get("rolloutState") == COMPLETED)
    return ServiceSummary(
        environment=environment, name=str(service["serviceName"]), status=str(service.get("status") or ""),
        controller=str((service.get("deploymentController") or {}).get("type") or ECS),
        task_definition=name_of(str(service.get("taskDefinition") or "")),
        desired_count=int(service.get("desiredCount") or 0), running_count=int(service.get("runningCount") or 0),
        pending_count=int(service.get("pendingCount") or 0), healthy_count=healthy,
        rollout_state=str(first.get("rolloutState")) if first and first.get("rolloutState") else None,
        url=url, target=TARGET)


def events(service: Mapping[str, Any], limit: int = DESCRIBE_EVENTS, since: float = 0.0) -> tuple[ServiceEvent, ...]:
    """The service's events, newest first (as ECS lists them), numbered oldest = 1."""
    listed = [e for e in service.get("events") or [] if timestamp(e.get("createdAt")) >= since]
    return tuple(ServiceEvent(seq=len(listed) - i, at=timestamp(e.get("createdAt")), message=str(e.get("message", "")))
                 for i, e in enumerate(listed[:limit]))


def task_view(environment: str, service: str, task: Mapping[str, Any]) -> EcsTask:
    """DescribeTasks' task. A service's task was started by its deployment (`startedBy` is the
    deployment id); its host port is the first network binding's."""
    bindings = [b for c in task.get("containers") or [] for b in c.get("networkBindings") or []]
    return EcsTask(
        id=resource_name(str(task["taskArn"])), environment=environment, service=service,
        deployment_id=str(task.get("startedBy") or ""), taskdef=name_of(str(task.get("taskDefinitionArn") or "")),
        last_status=str(task.get("lastStatus") or ""), health=str(task.get("healthStatus") or "UNKNOWN"),
        host_port=int(bindings[0]["hostPort"]) if bindings and bindings[0].get("hostPort") else None,
        created_at=timestamp(task.get("createdAt")),
        running_at=timestamp(task["startedAt"]) if task.get("startedAt") else None,
        stopping_at=timestamp(task["stoppingAt"]) if task.get("stoppingAt") else None,
        stopped_at=timestamp(task["stoppedAt"]) if task.get("stoppedAt") else None,
        stop_code=task.get("stopCode"), stopped_reason=task.get("stoppedReason"))


def rollout(environment: str, service: Mapping[str, Any], origin: Mapping[str, Any] | None = None) -> Rollout:
    """Where the service's latest deployment (the PRIMARY) stands, from DescribeServices alone:
    its counts, failed tasks and reason, the older deployments' tasks, and the latest event
    since it started. ECS reports no health or draining counts per deployment: `new_healthy`
    is the running count once COMPLETED, `draining` 0."""
    name = str(service["serviceName"])
    first = primary(service)
    if first is None:
        return Rollout(environment, name, None, reasons.NO_DEPLOYMENT_YET,
                       desired_count=int(service.get("desiredCount") or 0))
    view = deployment_view(environment, name, first, origin)
    old = sum(int(d.get("runningCount") or 0) + int(d.get("pendingCount") or 0)
              for d in service.get("deployments") or [] if d.get("status") != PRIMARY)
    recent = events(service, ROLLOUT_EVENTS, since=view.created_at)
    desired = int(first.get("desiredCount") or service.get("desiredCount") or 0)
    return Rollout(environment, name, view, waiting_for(view, desired=desired, old=old, recent=recent),
                   desired_count=desired, new_running=view.running_count,
                   new_healthy=view.running_count if view.rollout_state == COMPLETED else 0, old_tasks=old,
                   draining=0, events=recent)


def waiting_for(d: EcsDeployment, *, desired: int, old: int, recent: tuple[ServiceEvent, ...]) -> str:
    """
    >>> d = EcsDeployment("ecs-svc/1", "production", "orders", "PRIMARY", "orders:3", "IN_PROGRESS",
    ...                   running_count=1, failed_tasks=1)
    >>> print(waiting_for(d, desired=2, old=2, recent=(ServiceEvent(1, 0.0, "(service orders) has started 1 tasks"),)))
    1/2 new tasks running; 2 old tasks still running; 1 failed task so far (the circuit breaker counts them);
    latest event: (service orders) has started 1 tasks
    """
    if d.rollout_state == COMPLETED:
        return reasons.WAITING_FOR_NOTHING
    if d.rollout_state == FAILED:
        return reasons.waiting_for_nothing_failed(d.rollout_state_reason)
    parts = [reasons.rollout_progress(running=d.running_count, pending=d.pending_count, desired=desired, old=old,
                                      failed=d.failed_tasks)]
    if d.running_count >= desired and not old:
        parts.append(reasons.WAITING_FOR_STEADY_STATE)
    if recent:
        parts.append(reasons.latest_event(recent[0].message))
    return "; ".join(parts)
