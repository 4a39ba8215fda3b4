"""ECS-native blue/green, canary and linear deployments (aws-semantics §4.7) in the terms of the
CodeDeploy protocol, so the release service, the CLI and the pipeline actions follow them like any
blue/green deployment: what UpdateService sends (deploymentConfiguration with the strategy) and a
DescribeServiceDeployments entry shown as a CodeDeployDeployment. Pure: no I/O, the clock passed in.

    deployment_configuration({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 10}}, {})
    # {'strategy': 'CANARY', 'canaryConfiguration': {'canaryPercent': 10.0, 'canaryBakeTimeInMinutes': 10}}
    view = service_deployment_view(sd, revisions, environment="production", service="orders", ...)
    view.phase      # the lifecycleStage, e.g. 'PRODUCTION_TRAFFIC_SHIFT'

A service deployment's status maps to CodeDeploy's: PENDING → Created; IN_PROGRESS, STOP_REQUESTED
and ROLLBACK_REQUESTED/IN_PROGRESS → InProgress (a rollback still moves traffic); SUCCESSFUL →
Succeeded; a rollback that finished → Stopped (an alarm, a person) or Failed (the circuit breaker,
a lifecycle hook), with CodeDeploy's error code for the cause; ROLLBACK_FAILED → Failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from conveyor.backend.types import CodeDeployDeployment, HistoryEntry, LifecycleEvent, TaskSet
from conveyor.config.codedeploy_configs import (
    DEFAULT_CANARY_BAKE_MINUTES,
    DEFAULT_CANARY_PERCENT,
    DEFAULT_STEP_BAKE_MINUTES,
    DEFAULT_STEP_PERCENT,
    STRATEGIES,
    parse_duration,
)
from conveyor.config.codedeploy_group import rollback_events
from conveyor.config.codedeploy_model import DEPLOYMENT_STOP_ON_ALARM
from conveyor.providers.aws import codedeploy_reasons as reasons
from conveyor.providers.aws.codedeploy_views import epoch

Raw = Mapping[str, Any]
#: The deploymentConfiguration keys a strategy owns (the service's other keys are kept as they are:
#: lifecycleHooks, circuit breaker, percentages).
STRATEGY_KEYS = ("strategy", "bakeTimeInMinutes", "canaryConfiguration", "linearConfiguration")
IN_FLIGHT = ("PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")
ROLLING_BACK = ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")
STATUS = {"PENDING": "Created", "IN_PROGRESS": "InProgress", "STOP_REQUESTED": "InProgress",
          "ROLLBACK_REQUESTED": "InProgress", "ROLLBACK_IN_PROGRESS": "InProgress", "SUCCESSFUL": "Succeeded",
          "STOPPED": "Stopped", "ROLLBACK_SUCCESSFUL": "Stopped", "ROLLBACK_FAILED": "Failed"}
TRIGGERED = "TRIGGERED"
HOOK_FAILURES = ("FAILED", "TIMED_OUT")


def is_native(service: Raw) -> bool:
    """A service of the ECS controller with a blue/green, canary or linear strategy."""
    controller = (service.get("deploymentController") or {}).get("type", "ECS")
    return controller == "ECS" and (service.get("deploymentConfiguration") or {}).get("strategy") in STRATEGIES


def minutes(value: Any) -> int:
    """A conveyor.yml duration (minutes, or with a unit) in the whole minutes ECS takes."""
    return int(round(parse_duration(value) / 60))


def deployment_configuration(block: Raw, current: Raw) -> dict[str, Any]:
    """The service's deploymentConfiguration with the `deployment:` block's strategy in it.

    >>> deployment_configuration({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 25}},
    ...                          {"strategy": "ROLLING", "maximumPercent": 200})["linearConfiguration"]
    {'stepPercent': 25.0, 'stepBakeTimeInMinutes': 6}
    >>> deployment_configuration({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 15}, {})
    {'strategy': 'BLUE_GREEN', 'bakeTimeInMinutes': 15}
    """
    strategy = str(block["strategy"])
    out = {k: v for k, v in current.items() if k not in STRATEGY_KEYS}
    out["strategy"] = strategy
    if "bakeTimeInMinutes" in block:
        out["bakeTimeInMinutes"] = minutes(block["bakeTimeInMinutes"])
    if strategy == "CANARY":
        canary = block.get("canaryConfiguration") or {}
        out["canaryConfiguration"] = {
            "canaryPercent": float(canary.get("canaryPercent", DEFAULT_CANARY_PERCENT)),
            "canaryBakeTimeInMinutes": minutes(canary.get("canaryBakeTimeInMinutes", DEFAULT_CANARY_BAKE_MINUTES))}
    elif strategy == "LINEAR":
        linear = block.get("linearConfiguration") or {}
        out["linearConfiguration"] = {
            "stepPercent": float(linear.get("stepPercent", DEFAULT_STEP_PERCENT)),
            "stepBakeTimeInMinutes": minutes(linear.get("stepBakeTimeInMinutes", DEFAULT_STEP_BAKE_MINUTES))}
    if block.get("alarms"):
        names = [str(a["name"] if isinstance(a, dict) else a) for a in block["alarms"]]
        out["alarms"] = {"alarmNames": names, "enable": bool(block.get("alarmsEnabled", True)),
                         "rollback": DEPLOYMENT_STOP_ON_ALARM in rollback_events(block.get("autoRollback", True))}
    return out


# -- a service deployment as a CodeDeployDeployment ---------------------------------------------
def revision_task_definition(revision: Raw | None) -> str:
    """`family:revision` of a DescribeServiceRevisions entry."""
    return str((revision or {}).get("taskDefinition") or "").rsplit("/", 1)[-1]


def outcome_of(sd: Raw) -> tuple[str, str | None, str | None]:
    """(CodeDeploy status, error code, error message) of a service deployment."""
    raw = str(sd.get("status") or "PENDING")
    status = STATUS.get(raw, "InProgress")
    if raw not in ("ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "STOPPED"):
        return status, None, None
    reason = str((sd.get("rollback") or {}).get("reason") or sd.get("statusReason") or "")
    alarms = sd.get("alarms") or {}
    breaker = sd.get("deploymentCircuitBreaker") or {}
    hook = next((h for h in sd.get("lifecycleHookDetails") or [] if h.get("status") in HOOK_FAILURES), None)
    if alarms.get("status") == TRIGGERED:
        code, message = reasons.ALARM_ACTIVE, reasons.native_alarm(alarms.get("triggeredAlarmNames") or [])
    elif breaker.get("status") == TRIGGERED:
        code, message = reasons.ECS_UPDATE_ERROR, reasons.native_circuit_breaker(
            int(breaker.get("failureCount") or 0), int(breaker.get("threshold") or 0))
        status = "Failed"
    elif hook is not None:
        code, message = reasons.HOOK_EXECUTION_FAILURE, reasons.native_hook_failed(
            str(hook.get("targetArn") or hook.get("hookId")), str(hook["status"]))
        status = "Failed"
    else:
        code, message = reasons.MANUAL_STOP, reason
    if raw == "ROLLBACK_FAILED":
        status, message = "Failed", reasons.native_rollback_failed(message)
    return status, code, message


def phase_of(sd: Raw) -> str:
    if sd.get("status") == "SUCCESSFUL":
        return "End"
    return str(sd.get("lifecycleStage") or "Start")


def traffic_of(sd: Raw) -> int:
    weight = (sd.get("targetServiceRevision") or {}).get("requestedProductionTrafficWeight")
    if weight is None:
        return 100 if sd.get("status") == "SUCCESSFUL" else 0
    return int(round(float(weight)))


def task_sets_of(sd: Raw, revisions: Mapping[str, Raw]) -> dict[str, TaskSet | None]:
    """Source (original) and target (replacement) service revisions as task sets; the one with
    more production traffic is PRIMARY."""
    target = sd.get("targetServiceRevision") or {}
    sources = sd.get("sourceServiceRevisions") or []
    out: dict[str, TaskSet | None] = {}
    for role, rev in (("original", sources[0] if sources else None), ("replacement", target or None)):
        if rev is None:
            continue
        weight = float(rev.get("requestedProductionTrafficWeight") or 0)
        running = int(rev.get("runningTaskCount") or 0)
        out[role] = TaskSet(id=str(rev.get("arn") or "").rsplit("/", 1)[-1],
                            status="PRIMARY" if weight >= 50 else "ACTIVE",
                            task_definition=revision_task_definition(revisions.get(str(rev.get("arn")))),
                            target_group=None, scale=None, desired=int(rev.get("requestedTaskCount") or 0),
                            pending=int(rev.get("pendingTaskCount") or 0), running=running, healthy=running)
    return out


def waiting_of(sd: Raw, traffic: int, now: float) -> str:
    raw = str(sd.get("status") or "PENDING")
    if raw not in IN_FLIGHT:
        return ""
    if raw == "PENDING":
        return reasons.native_waiting_pending()
    if raw in ROLLING_BACK:
        return reasons.native_waiting_rollback(str((sd.get("rollback") or {}).get("reason") or ""))
    if raw == "STOP_REQUESTED":
        return reasons.NATIVE_WAITING_STOPPING
    stage = str(sd.get("lifecycleStage") or "")
    hooks = sd.get("lifecycleHookDetails") or []
    paused = next((h for h in hooks if h.get("targetType") == "PAUSE" and h.get("status") == "AWAITING_ACTION"), None)
    if paused is not None:
        expires = epoch(paused.get("expiresAt"))
        return reasons.native_waiting_paused(stage, str(paused.get("hookId")),
                                             max(0.0, expires - now) if expires is not None else None)
    running = next((h for h in hooks if h.get("status") == "IN_PROGRESS"), None)
    if running is not None:
        return reasons.native_waiting_hook(stage, str(running.get("targetArn") or running.get("hookId")))
    config = sd.get("deploymentConfiguration") or {}
    target = sd.get("targetServiceRevision") or {}
    if stage == "SCALE_UP":
        return reasons.native_waiting_scale_up(int(target.get("runningTaskCount") or 0),
                                               int(target.get("requestedTaskCount") or 0))
    if stage == "PRODUCTION_TRAFFIC_SHIFT":
        return reasons.native_waiting_traffic(traffic, str(config.get("strategy") or ""))
    if stage == "BAKE_TIME":
        bake = config.get("bakeTimeInMinutes")
        return reasons.native_waiting_bake(int(bake) if bake is not None else None)
    return ""


def lifecycle_events_of(sd: Raw, status: str) -> tuple[LifecycleEvent, ...]:
    """ECS reports the stage it is in, not a list of events: the current stage, with its hook."""
    stage = sd.get("lifecycleStage")
    if not stage:
        return ()
    hook = next(iter(sd.get("lifecycleHookDetails") or []), None)
    ev_status = {"Succeeded": "Succeeded", "Failed": "Failed", "Stopped": "Failed"}.get(status, "InProgress")
    return (LifecycleEvent(name=str(stage), status=ev_status, start_time=epoch(sd.get("startedAt")),
                           end_time=epoch(sd.get("finishedAt")),
                           hook=str(hook.get("targetArn") or hook.get("targetType")) if hook else None,
                           execution_id=str(hook["hookId"]) if hook and hook.get("hookId") else None,
                           message=str(hook.get("status") or "") if hook else ""),)


def service_deployment_view(sd: Raw, revisions: Mapping[str, Raw], *, environment: str, service: str,
                            creator: str, actions: Sequence[HistoryEntry], now: float,
                            origin: Mapping[str, Any] | None = None) -> CodeDeployDeployment:
    status, code, message = outcome_of(sd)
    traffic = traffic_of(sd)
    target_arn = str((sd.get("targetServiceRevision") or {}).get("arn") or "")
    sets = task_sets_of(sd, revisions)
    original, replacement = sets.get("original"), sets.get("replacement")
    rollback = sd.get("rollback") or {}
    rollback_info = ({"rollbackMessage": rollback.get("reason"), "rollbackStartedAt": epoch(rollback.get("startedAt")),
                      "rollbackServiceRevisionArn": rollback.get("serviceRevisionArn")} if rollback else {})
    created_at = epoch(sd.get("createdAt")) or 0.0
    done = status in ("Succeeded", "Failed", "Stopped")
    completed_at = (epoch(sd.get("finishedAt")) or epoch(sd.get("stoppedAt"))) if done else None
    return CodeDeployDeployment(
        id=str(sd["serviceDeploymentArn"]), environment=environment, service=service,
        task_definition=revision_task_definition(revisions.get(target_arn)), status=status, phase=phase_of(sd),
        creator=creator, traffic=traffic, waiting=waiting_of(sd, traffic, now), error_code=code, error_message=message,
        rollback_info=rollback_info, origin=dict(origin or {}),
        original_task_set=original.id if original else None,
        replacement_task_set=replacement.id if replacement else None,
        created_at=created_at, updated_at=epoch(sd.get("updatedAt")) or created_at, completed_at=completed_at,
        timings={}, has_appspec=True, lifecycle_events=lifecycle_events_of(sd, status),
        history=tuple(sorted(actions, key=lambda h: h.at)), task_sets=sets)
