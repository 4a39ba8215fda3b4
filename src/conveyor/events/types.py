"""The event vocabulary: stable type names, their severity, and the event itself.

Pipeline events use the names of CodePipeline's notification rules (CodeStar Notifications'
`codepipeline-pipeline-<name>`, without the prefix); deployment and service events are
Conveyor's, named the same way (`<subject>-<what happened>`), and so are the local registry's
image events. A type, once shipped, keeps its name and meaning: rules and receivers match on it.

    >>> severity("pipeline-execution-failed")
    'error'
    >>> Event("manual-approval-needed", 1.0, Subject(pipeline="orders", stage="Approve")).subject.pipeline
    'orders'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

INFO, WARNING, ERROR = "info", "warning", "error"
SEVERITIES = (INFO, WARNING, ERROR)  # in increasing order: a rule's `severity: warning` takes both last

#: type -> severity. Pipeline events: CodePipeline's notification event types.
PIPELINE_EVENTS: Mapping[str, str] = {
    "pipeline-execution-started": INFO,
    "pipeline-execution-succeeded": INFO,
    "pipeline-execution-failed": ERROR,
    "pipeline-execution-canceled": WARNING,   # a stopped execution (CodePipeline: Stopped/Canceled)
    "pipeline-execution-resumed": INFO,       # a retried stage of a failed or stopped execution
    "pipeline-execution-superseded": INFO,
    "stage-execution-started": INFO,
    "stage-execution-succeeded": INFO,
    "stage-execution-failed": ERROR,
    "stage-execution-canceled": WARNING,
    "stage-execution-resumed": INFO,
    "action-execution-started": INFO,
    "action-execution-succeeded": INFO,
    "action-execution-failed": ERROR,
    "action-execution-canceled": WARNING,     # stopped or abandoned
    "manual-approval-needed": WARNING,        # someone has to act
    "manual-approval-succeeded": INFO,
    "manual-approval-failed": WARNING,        # rejected or expired
}

#: type -> severity. A deployment is a rolling ECS deployment or a CodeDeploy blue/green one.
DEPLOYMENT_EVENTS: Mapping[str, str] = {
    "deployment-started": INFO,
    "deployment-traffic-shifted": INFO,       # detail: percent now on the replacement
    "deployment-waiting": WARNING,            # waiting for a person: ready wait, before termination
    "deployment-alarm": ERROR,                # an alarm went into ALARM during the deployment
    "deployment-stopped": WARNING,            # stopped by a person (or by an alarm: then -alarm first)
    "deployment-failed": ERROR,
    "deployment-rolled-back": WARNING,        # production is back on the previous version
    "deployment-succeeded": INFO,
    "service-steady-state": INFO,
    "service-unhealthy": WARNING,             # tasks fail to start or fail health checks
    "service-circuit-breaker": ERROR,         # the deployment circuit breaker tripped
}

#: type -> severity. The local registry's pushes and deletes: ECR's "ECR Image Action" event
#: (action-type PUSH|DELETE, result SUCCESS|FAILURE), one type per pair.
IMAGE_EVENTS: Mapping[str, str] = {
    "image-pushed": INFO,
    "image-push-failed": WARNING,             # refused: an immutable tag, say
    "image-deleted": INFO,                    # detail: why (a lifecycle policy rule, by hand)
    "image-delete-failed": WARNING,
}
IMAGE_ACTIONS: Mapping[tuple[str, str], str] = {
    ("PUSH", "SUCCESS"): "image-pushed", ("PUSH", "FAILURE"): "image-push-failed",
    ("DELETE", "SUCCESS"): "image-deleted", ("DELETE", "FAILURE"): "image-delete-failed"}

EVENT_TYPES: Mapping[str, str] = {**PIPELINE_EVENTS, **DEPLOYMENT_EVENTS, **IMAGE_EVENTS}


def severity(event_type: str) -> str:
    return EVENT_TYPES[event_type]


@dataclass(frozen=True)
class Subject:
    """What an event is about; the fields that do not apply are None."""

    pipeline: str | None = None
    execution_id: str | None = None
    stage: str | None = None
    action: str | None = None
    environment: str | None = None
    service: str | None = None
    deployment_id: str | None = None
    repository: str | None = None

    def as_dict(self) -> dict[str, str]:
        # Not dataclasses.asdict: it deep-copies, and this runs for every event the engine writes.
        return {k: v for k in self.__dataclass_fields__ if (v := getattr(self, k)) is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Subject":
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Event:
    """One event. `seq` and `id` are given by the stream when the relay takes it from an outbox
    (0 and "" before); `id` is stable across restarts (receivers deduplicate on it)."""

    type: str
    at: float
    subject: Subject
    detail: Mapping[str, Any] = field(default_factory=dict)
    summary: str = ""          # one line for people: "orders #12: stage Deploy failed: ..."
    seq: int = 0
    id: str = ""

    @property
    def severity(self) -> str:
        return severity(self.type)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "seq": self.seq, "type": self.type, "severity": self.severity, "at": self.at,
                "summary": self.summary, "subject": self.subject.as_dict(), "detail": dict(self.detail)}
