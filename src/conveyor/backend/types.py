"""What a backend answers: neutral typed values, the same whichever backend (local or AWS) made
them. Field names follow the AWS API members they stand for; `to_json()` gives the daemon's API
shape (kept stable for the CLI and for users' scripts).

    >>> d = EcsDeployment(id="ecs-svc/1", environment="staging", service="orders", status="PRIMARY",
    ...                   task_definition="orders:3", rollout_state="COMPLETED")
    >>> d.outcome, d.done, d.to_json()["taskDefinition"]
    ('Succeeded', True, 'orders:3')
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: The outcome every kind of deployment maps to (CodeDeploy's terminal statuses plus InProgress),
#: so the CLI and the pipeline actions wait for any deployment the same way.
IN_PROGRESS, SUCCEEDED, FAILED, STOPPED = "InProgress", "Succeeded", "Failed", "Stopped"
OUTCOMES = (IN_PROGRESS, SUCCEEDED, FAILED, STOPPED)

ECS, CODE_DEPLOY = "ECS", "CODE_DEPLOY"


# -- registry (ECR) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Repository:
    """DescribeRepositories' repository, with the image tag settings ECR keeps on it."""

    name: str
    uri: str
    tag_mutability: str = "MUTABLE"
    exclusion_filters: tuple[dict[str, Any], ...] = ()
    lifecycle_policy: dict[str, Any] | None = None
    declared: bool = False
    created_at: str | None = None  # ISO 8601
    scan_on_push: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"repositoryName": self.name, "repositoryUri": self.uri, "imageTagMutability": self.tag_mutability,
                "imageScanningConfiguration": {"scanOnPush": self.scan_on_push},
                "imageTagMutabilityExclusionFilters": [dict(f) for f in self.exclusion_filters],
                "lifecyclePolicy": self.lifecycle_policy, "declared": self.declared, "createdAt": self.created_at}


@dataclass(frozen=True)
class ImageDetail:
    """DescribeImages' imageDetail."""

    repository: str
    digest: str
    tags: tuple[str, ...] = ()
    pushed_at: str | None = None  # ISO 8601
    size: int | None = None
    media_type: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"repositoryName": self.repository, "imageDigest": self.digest, "imageTags": list(self.tags),
                "imagePushedAt": self.pushed_at, "imageSizeInBytes": self.size,
                "imageManifestMediaType": self.media_type}


@dataclass(frozen=True)
class RegistryLogin:
    """What a build needs to log in and push (GetAuthorizationToken): the server, user name and
    password for `docker login --password-stdin`, and the variables a buildspec reads."""

    server: str
    username: str
    password: str = field(repr=False)
    env: dict[str, str] = field(default_factory=dict[str, Any], repr=False)


# -- ECS ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskDefinitionRevision:
    """RegisterTaskDefinition's answer: `family:revision`, its ARN and the registered body."""

    name: str
    arn: str
    body: dict[str, Any] = field(compare=False, repr=False)

    @property
    def family(self) -> str:
        return self.name.rpartition(":")[0]

    @property
    def revision(self) -> int:
        return int(self.name.rpartition(":")[2])


@dataclass(frozen=True)
class EcsTask:
    """DescribeTasks' task, as far as a service's view needs it."""

    id: str
    environment: str
    service: str
    deployment_id: str
    taskdef: str
    last_status: str
    health: str = "UNKNOWN"
    host_port: int | None = None
    created_at: float = 0.0
    running_at: float | None = None
    healthy_at: float | None = None
    stopping_at: float | None = None
    stopped_at: float | None = None
    stop_code: str | None = None
    stopped_reason: str | None = None
    failed: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ServiceEvent:
    seq: int
    at: float
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at, "message": self.message}


@dataclass(frozen=True)
class TargetHealth:
    """DescribeTargetHealth's target, with ALB's state and reason codes."""

    target_id: str
    address: str
    state: str  # initial | healthy | unhealthy | draining | unused | unavailable
    reason: str | None = None
    description: str | None = None
    weight: int = 0
    in_flight: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EcsDeployment:
    """One of DescribeServices' deployments (a rolling update), or a task set of a CODE_DEPLOY
    service (then `target_group` and `scale` are set)."""

    id: str
    environment: str
    service: str
    status: str  # PRIMARY | ACTIVE | INACTIVE
    task_definition: str
    rollout_state: str  # IN_PROGRESS | COMPLETED | FAILED
    rollout_state_reason: str = ""
    failed_tasks: int = 0
    running_count: int = 0
    pending_count: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0
    completed_at: float | None = None
    origin: dict[str, Any] = field(default_factory=dict[str, Any], compare=False)
    timings: dict[str, Any] = field(default_factory=dict[str, Any], compare=False)
    target_group: str | None = None
    scale: int | None = None

    kind = "ecs"

    @property
    def outcome(self) -> str:
        """COMPLETED → Succeeded, FAILED → Failed; a deployment a newer one replaced before it
        completed is Stopped (ECS leaves it IN_PROGRESS, but nothing moves it any more)."""
        if self.rollout_state == "COMPLETED":
            return SUCCEEDED
        if self.rollout_state == "FAILED":
            return FAILED
        return IN_PROGRESS if self.status == "PRIMARY" or self.scale is not None else STOPPED

    @property
    def done(self) -> bool:
        return self.outcome != IN_PROGRESS

    @property
    def reason(self) -> str:
        if self.outcome == STOPPED and not self.rollout_state_reason:
            return "a newer deployment replaced it"
        return self.rollout_state_reason

    def to_json(self) -> dict[str, Any]:
        out = {"kind": self.kind, "id": self.id, "environment": self.environment, "service": self.service,
               "status": self.status, "taskDefinition": self.task_definition, "rolloutState": self.rollout_state,
               "rolloutStateReason": self.rollout_state_reason, "failedTasks": self.failed_tasks,
               "runningCount": self.running_count, "pendingCount": self.pending_count,
               "createdAt": self.created_at, "updatedAt": self.updated_at, "completedAt": self.completed_at,
               "origin": self.origin, "timings": self.timings, "outcome": self.outcome, "done": self.done,
               "reason": self.reason, "duration": _duration(self.created_at, self.completed_at)}
        if self.scale is not None:
            out.update(targetGroup=self.target_group, scale=self.scale)
        return out


@dataclass(frozen=True)
class TaskSet:
    """DescribeTaskSets' task set with its task counts (a CODE_DEPLOY service's blue or green)."""

    id: str
    status: str
    task_definition: str
    target_group: str | None
    scale: int | None
    desired: int = 0
    pending: int = 0
    running: int = 0
    healthy: int = 0
    draining: int = 0
    failed_tasks: int = 0

    @property
    def steady(self) -> bool:
        return self.healthy == self.desired and self.pending + self.running == self.desired and not self.draining

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "taskDefinition": self.task_definition,
                "targetGroup": self.target_group, "scale": self.scale, "desired": self.desired,
                "pending": self.pending, "running": self.running, "healthy": self.healthy,
                "failedTasks": self.failed_tasks, "draining": self.draining, "steady": self.steady}


@dataclass(frozen=True)
class ServiceSummary:
    environment: str
    name: str
    status: str
    controller: str  # ECS | CODE_DEPLOY
    task_definition: str
    desired_count: int
    running_count: int = 0
    pending_count: int = 0
    healthy_count: int = 0
    rollout_state: str | None = None
    url: str | None = None
    target: str = "local"

    def to_json(self) -> dict[str, Any]:
        return {"environment": self.environment, "serviceName": self.name, "status": self.status,
                "taskDefinition": self.task_definition, "desiredCount": self.desired_count,
                "runningCount": self.running_count, "pendingCount": self.pending_count,
                "healthyCount": self.healthy_count, "rolloutState": self.rollout_state, "url": self.url,
                "deploymentController": self.controller, "target": self.target}


@dataclass(frozen=True)
class LoadBalancerView:
    url: str
    target_group: str
    targets: tuple[TargetHealth, ...] = ()
    health_check_path: str | None = None  # the path the target group's health check asks

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "targetGroup": self.target_group, "targets": [t.to_json() for t in self.targets],
                "healthCheckPath": self.health_check_path}


@dataclass(frozen=True)
class ServiceDescription:
    """DescribeServices' service: the summary, its latest deployments, tasks, events and targets."""

    summary: ServiceSummary
    deployments: tuple[EcsDeployment, ...] = ()
    tasks: tuple[EcsTask, ...] = ()
    events: tuple[ServiceEvent, ...] = ()
    load_balancer: LoadBalancerView | None = None

    def to_json(self) -> dict[str, Any]:
        out = {**self.summary.to_json(), "deployments": [d.to_json() for d in self.deployments],
               "tasks": [t.to_json() for t in self.tasks], "events": [e.to_json() for e in self.events]}
        if self.load_balancer is not None:
            out["loadBalancer"] = self.load_balancer.to_json()
        return out


@dataclass(frozen=True)
class Rollout:
    """Where a service's latest rolling deployment stands, in words (`waiting_for`) and counts."""

    environment: str
    service: str
    deployment: EcsDeployment | None
    waiting_for: str
    desired_count: int = 0
    new_running: int = 0
    new_healthy: int = 0
    old_tasks: int = 0
    draining: int = 0
    events: tuple[ServiceEvent, ...] = ()


@dataclass(frozen=True)
class ContainerLog:
    task: str
    container: str
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "container": self.container, "text": self.text}


# -- CodeDeploy --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LifecycleEvent:
    """GetDeploymentTarget's ecsTarget.lifecycleEvents[], with the hook execution behind it."""

    name: str
    status: str  # Pending | InProgress | Succeeded | Failed | Skipped
    start_time: float | None = None
    end_time: float | None = None
    hook: str | None = None
    execution_id: str | None = None
    attempts: int = 0
    message: str = ""
    log_tail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"lifecycleEventName": self.name, "status": self.status, "startTime": self.start_time,
                "endTime": self.end_time, "hook": self.hook, "executionId": self.execution_id,
                "attempts": self.attempts, "message": self.message, "logTail": self.log_tail}


@dataclass(frozen=True)
class HistoryEntry:
    """A line of a deployment's history: what happened, or a person's action (who, why)."""

    at: float
    kind: str  # event | action
    message: str
    who: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "kind": self.kind, "who": self.who, "message": self.message}


@dataclass(frozen=True)
class CodeDeployDeployment:
    """GetDeployment's deploymentInfo for an ECS blue/green deployment, with its target's
    lifecycle events, both task sets and the history of what happened and who did what."""

    id: str
    environment: str
    service: str
    task_definition: str
    status: str  # Created | Queued | InProgress | Ready | Succeeded | Failed | Stopped
    phase: str
    creator: str  # user | CodePipeline | codeDeployRollback
    traffic: int = 0  # percent of production traffic on the replacement
    waiting: str = ""
    error_code: str | None = None
    error_message: str | None = None
    rollback_info: dict[str, Any] = field(default_factory=dict[str, Any], compare=False)
    origin: dict[str, Any] = field(default_factory=dict[str, Any], compare=False)
    original_task_set: str | None = None
    replacement_task_set: str | None = None
    original_target_group: str | None = None
    replacement_target_group: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    completed_at: float | None = None
    timings: dict[str, Any] = field(default_factory=dict[str, Any], compare=False)
    #: False for the rollback deployments that only clean up after a reroute (no AppSpec).
    has_appspec: bool = True
    lifecycle_events: tuple[LifecycleEvent, ...] = ()
    history: tuple[HistoryEntry, ...] = ()
    task_sets: dict[str, TaskSet | None] = field(default_factory=dict[str, Any], compare=False)

    kind = "codedeploy"

    @property
    def outcome(self) -> str:
        return self.status if self.status in (SUCCEEDED, FAILED, STOPPED) else IN_PROGRESS

    @property
    def done(self) -> bool:
        return self.outcome != IN_PROGRESS

    @property
    def reason(self) -> str:
        return f"{self.error_code}: {self.error_message}" if self.error_code else ""

    def to_json(self) -> dict[str, Any]:
        task_sets: dict[str, Any] = {}
        for role, ts in self.task_sets.items():
            ident = self.original_task_set if role == "original" else self.replacement_task_set
            task_sets[role] = ts.to_json() if ts is not None else {"id": ident}
        return {"kind": self.kind, "id": self.id, "deploymentId": self.id, "environment": self.environment,
                "service": self.service, "taskdef": self.task_definition, "taskDefinition": self.task_definition,
                "status": self.status, "phase": self.phase, "creator": self.creator, "traffic": self.traffic,
                "waiting": self.waiting, "error_code": self.error_code, "error_message": self.error_message,
                "rollbackInfo": self.rollback_info, "origin": self.origin,
                "original_task_set": self.original_task_set, "replacement_task_set": self.replacement_task_set,
                "original_tg": self.original_target_group, "replacement_tg": self.replacement_target_group,
                "created_at": self.created_at, "updated_at": self.updated_at, "completed_at": self.completed_at,
                "timings": self.timings, "outcome": self.outcome, "done": self.done, "reason": self.reason,
                "duration": _duration(self.created_at, self.completed_at),
                "lifecycleEvents": [e.to_json() for e in self.lifecycle_events],
                "history": [h.to_json() for h in self.history],
                "actions": [h.to_json() for h in self.history if h.kind == "action"],
                "taskSets": task_sets}


# -- CloudWatch --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlarmHistoryItem:
    at: float | None
    state: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "state": self.state, "reason": self.reason}


@dataclass(frozen=True)
class AlarmView:
    """DescribeAlarms' alarm: its definition, what it watches, its state and recent history."""

    name: str
    metric: str
    scope: str
    watching: str | None
    statistic: str
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    treat_missing_data: str
    state: str
    reason: str = ""
    datapoints: tuple[tuple[float, float | None], ...] = ()
    history: tuple[AlarmHistoryItem, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "metric": self.metric, "scope": self.scope, "watching": self.watching,
                "statistic": self.statistic, "period": self.period, "evaluationPeriods": self.evaluation_periods,
                "datapointsToAlarm": self.datapoints_to_alarm, "threshold": self.threshold,
                "comparisonOperator": self.comparison, "treatMissingData": self.treat_missing_data,
                "state": self.state, "reason": self.reason, "datapoints": [list(p) for p in self.datapoints],
                "history": [h.to_json() for h in self.history]}


@dataclass(frozen=True)
class MetricSeries:
    scope: str  # tg:NAME | listener:ENV:PORT
    metric: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class ServiceMetrics:
    environment: str
    service: str
    seconds: int
    scopes: tuple[str, ...]
    series: tuple[MetricSeries, ...] = ()

    def to_json(self) -> dict[str, Any]:
        scopes: dict[str, dict[str, Any]] = {scope: {} for scope in self.scopes}
        for s in self.series:
            scopes.setdefault(s.scope, {})[s.metric] = [list(p) for p in s.points]
        return {"environment": self.environment, "service": self.service, "seconds": self.seconds, "scopes": scopes}


def _duration(created_at: float, completed_at: float | None) -> float | None:
    return round(completed_at - created_at, 3) if completed_at is not None else None
