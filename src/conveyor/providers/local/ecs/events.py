"""Which stream events (conveyor.events.types DEPLOYMENT_EVENTS) a status move of the local ECS
makes, as pure functions of the rows: the store calls them inside the transaction that writes
the move and hands the result to conveyor.events.outbox.write_events, so an event exists exactly
when its change does.

- a rolling deployment created (UpdateService, `conveyor rollback`, the circuit breaker's
  rollback): deployment-started
- its rollout IN_PROGRESS → COMPLETED: deployment-succeeded, or deployment-rolled-back when the
  deployment was a rollback (production is on the previous revision again)
- IN_PROGRESS → FAILED (only the circuit breaker fails a local rolling deployment):
  service-circuit-breaker, then deployment-failed
- a task of the service failing (it did not start, an essential container exited, its checks
  failed) while the service was not already unhealthy: service-unhealthy, once per episode
- the service reaching a steady state: service-steady-state (and the episode ends)

Blue/green task sets (rows with a scale) say nothing here: their deployment is CodeDeploy's,
and conveyor.providers.local.codedeploy.events tells it.

    >>> dep = Deployment(id="ecs-svc/1", seq=1, environment="staging", service="orders", taskdef="orders:3",
    ...                  status="PRIMARY", rollout_state="IN_PROGRESS")
    >>> [e.type for e in rollout_events(dep, "COMPLETED", "", now=1.0)]
    ['deployment-succeeded']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.events.types import Event, Subject
from conveyor.providers.local.ecs import reasons
from conveyor.providers.local.ecs.rows import Deployment, Task
from conveyor.providers.local.ecs.states import COMPLETED, FAILED

KIND = "rolling"


def subject(environment: str, service: str, deployment_id: str | None = None,
            origin: Mapping[str, Any] | None = None) -> Subject:
    """Environment, service, deployment; the pipeline and execution when a pipeline action
    created the deployment (its origin)."""
    origin = origin or {}
    return Subject(pipeline=_text(origin.get("pipeline")), execution_id=_text(origin.get("execution")),
                   stage=_text(origin.get("stage")), action=_text(origin.get("action")),
                   environment=environment, service=service, deployment_id=deployment_id)


def detail(dep: Deployment, **more: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": KIND, "taskdef": dep.taskdef}
    origin = dep.origin or {}
    if origin.get("by"):
        out["who"] = origin["by"]
    if origin.get("rollback"):
        out["rollback"] = True
        for key, name in (("of", "rolledBack"), ("to", "rollbackTo"), ("reason", "reason")):
            if origin.get(key):
                out[name] = origin[key]
    out.update({k: v for k, v in more.items() if v not in (None, "")})
    return out


def _name(dep: Deployment) -> str:
    return reasons.event_deployment(dep.environment, dep.service, dep.id)


def started(dep: Deployment, *, now: float, taskdef_body: Mapping[str, Any] | None = None) -> list[Event]:
    """A rolling deployment was created (`dep`: its row); with its task definition's body, the
    events name the containers' images."""
    if dep.scale is not None:
        return []
    rolled_back = (dep.origin or {}).get("of") if (dep.origin or {}).get("rollback") else None
    return [Event("deployment-started", now, subject(dep.environment, dep.service, dep.id, dep.origin),
                  detail(dep, images=images_of(taskdef_body)),
                  reasons.event_started(_name(dep), dep.taskdef, _text(rolled_back)))]


def images_of(taskdef_body: Mapping[str, Any] | None) -> dict[str, str] | None:
    """Container name → image of a registered task definition body.

    >>> images_of({"containerDefinitions": [{"name": "api", "image": "registry/orders@sha256:ab"}]})
    {'api': 'registry/orders@sha256:ab'}
    """
    containers = (taskdef_body or {}).get("containerDefinitions") or []
    found = {str(c.get("name")): str(c.get("image")) for c in containers if isinstance(c, Mapping) and c.get("image")}
    return found or None


def rollout_events(dep: Deployment, rollout_state: str, why: str, *, now: float) -> list[Event]:
    """The events of `dep` (the row before the move) reaching `rollout_state`."""
    if dep.scale is not None or dep.rollout_state == rollout_state:
        return []
    subj = subject(dep.environment, dep.service, dep.id, dep.origin)
    origin = dep.origin or {}
    if rollout_state == COMPLETED:
        if origin.get("rollback"):
            return [Event("deployment-rolled-back", now, subj, detail(dep),
                          reasons.event_rolled_back(_name(dep), dep.taskdef, _text(origin.get("of"))))]
        return [Event("deployment-succeeded", now, subj, detail(dep), reasons.event_succeeded(_name(dep), dep.taskdef))]
    if rollout_state == FAILED:
        failed = detail(dep, reason=why, failedTasks=dep.failed_tasks)
        return [Event("service-circuit-breaker", now, subj, failed,
                      reasons.event_circuit_breaker(_name(dep), dep.failed_tasks)),
                Event("deployment-failed", now, subj, failed, reasons.event_failed(_name(dep), why))]
    return []


def unhealthy(task: Task, why: str, stop_code: str | None, *, now: float) -> Event:
    """The first failed task of an episode (`task`: its row before it stopped)."""
    return Event("service-unhealthy", now, subject(task.environment, task.service, task.deployment_id),
                 {"task": task.id, "taskdef": task.taskdef, "stoppedReason": why, "stopCode": stop_code},
                 reasons.event_unhealthy(task.environment, task.service, task.id, why))


def steady(environment: str, service: str, *, now: float) -> Event:
    return Event("service-steady-state", now, subject(environment, service), {},
                 reasons.event_steady(environment, service))


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None
