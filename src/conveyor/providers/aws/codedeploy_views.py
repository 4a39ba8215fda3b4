"""GetDeployment's deploymentInfo and GetDeploymentTarget's ecsTarget as the backend's neutral
CodeDeployDeployment: where the deployment is (its phase, from the lifecycle events, aws-semantics
§5.3), the share of production on green (the Green task set's trafficWeight), both task sets,
what it waits for in words, and its history. Pure: the clock is passed in.

    view = deployment_view(info, target, environment="production", actions=[], now=time.time())
    view.phase, view.traffic, view.waiting      # ('AllowTraffic', 10, '10% of production on green (…)')

Phases carry the local backend's names: Start, the eight lifecycle events, ReadyWait (status
Ready), TerminationWait (every event done and instanceTerminationWaitTimeStarted) and End.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from conveyor.backend.types import CodeDeployDeployment, HistoryEntry, LifecycleEvent, TaskSet
from conveyor.config.appspec import parse_appspec
from conveyor.config.codedeploy_model import HOOK_EVENTS, LIFECYCLE_EVENTS
from conveyor.providers.aws import codedeploy_reasons as reasons
from conveyor.providers.aws.codedeploy_revision import described

Info = Mapping[str, Any]
#: Statuses of a deployment that has not ended (DeploymentInfo.status).
IN_FLIGHT = ("Created", "Queued", "InProgress", "Baking", "Ready")
#: The creator of the deployments CodeDeploy makes itself to roll one back: they reroute and
#: clean up, with no AppSpec of their own to show (the local backend's RollbackCleanup).
AWS_ROLLBACK_CREATOR = "codeDeployRollback"
GREEN, BLUE = "Green", "Blue"


def epoch(value: Any) -> float | None:
    """botocore's datetime (or a number) as seconds since the epoch."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return float(value)


# -- the revision -------------------------------------------------------------------------------
def appspec_content(revision: Mapping[str, Any] | None) -> str | None:
    """The AppSpec text of a RevisionLocation of type AppSpecContent (None otherwise)."""
    content = ((revision or {}).get("appSpecContent") or {}).get("content")
    return str(content) if content else None


@lru_cache(maxsize=256)
def _appspec_facts(content: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    appspec, _ = parse_appspec(content, "appspec")
    if appspec is None:
        return "", ()
    return appspec.task_definition.rsplit("/", 1)[-1], appspec.hooks


def task_definition_of(info: Info) -> str:
    """`family:revision` the deployment deploys: from its AppSpec, else from Conveyor's description."""
    content = appspec_content(info.get("revision"))
    if content:
        found = _appspec_facts(content)[0]
        if found:
            return found
    known = described(info.get("description"))
    return known[0] if known else ""


def hooks_of(info: Info) -> dict[str, str]:
    """Lifecycle event → the Lambda function its AppSpec names."""
    content = appspec_content(info.get("revision"))
    return dict(_appspec_facts(content)[1]) if content else {}


def creator_of(info: Info) -> str:
    """CodeDeploy says `user` for every API caller; Conveyor's description names the real one."""
    creator = str(info.get("creator") or "user")
    known = described(info.get("description"))
    return known[1] if known and creator == "user" else creator


# -- the target: lifecycle events, phase, traffic, task sets -----------------------------------
def lifecycle_events(target: Info | None, hooks: Mapping[str, str]) -> tuple[LifecycleEvent, ...]:
    """ecsTarget.lifecycleEvents in lifecycle order, with the function hooked on each."""
    raw = list(((target or {}).get("lifecycleEvents")) or [])
    order = {name: i for i, name in enumerate(LIFECYCLE_EVENTS)}
    raw.sort(key=lambda e: order.get(str(e.get("lifecycleEventName")), len(order)))
    out = []
    for e in raw:
        name = str(e.get("lifecycleEventName"))
        diagnostics = e.get("diagnostics") or {}
        out.append(LifecycleEvent(name=name, status=str(e.get("status", "Pending")),
                                  start_time=epoch(e.get("startTime")), end_time=epoch(e.get("endTime")),
                                  hook=hooks.get(name) if name in HOOK_EVENTS else None,
                                  message=str(diagnostics.get("message") or ""),
                                  log_tail=str(diagnostics.get("logTail") or "")))
    return tuple(out)


def phase_of(status: str, events: Sequence[LifecycleEvent], termination_started: bool) -> str:
    """Where the deployment is: the event in progress, else what the status and events say.

    >>> ev = lambda n, s: LifecycleEvent(n, s)
    >>> phase_of("InProgress", [ev("BeforeInstall", "Succeeded"), ev("Install", "InProgress")], False)
    'Install'
    >>> phase_of("InProgress", [ev("AllowTraffic", "Succeeded"), ev("AfterAllowTraffic", "Succeeded")], True)
    'TerminationWait'
    >>> phase_of("Stopped", [ev("Install", "Succeeded"), ev("AllowTraffic", "Failed")], False)
    'AllowTraffic'
    """
    if status == "Succeeded":
        return "End"
    if status == "Ready":
        return "ReadyWait"
    running = next((e for e in events if e.status == "InProgress"), None)
    if running is not None:
        return running.name
    if status in ("Failed", "Stopped"):
        failed = next((e for e in events if e.status == "Failed"), None)
        started = [e for e in events if e.status not in ("Pending", "Unknown")]
        return failed.name if failed else started[-1].name if started else "Start"
    pending = next((e for e in events if e.status == "Pending"), None)
    if pending is not None:
        started = [e for e in events if e.status not in ("Pending", "Unknown")]
        return pending.name if started else "Start"
    if events:
        return "TerminationWait" if termination_started else events[-1].name
    return "Start"


def task_set_infos(target: Info | None) -> dict[str, Info]:
    """taskSetsInfo by label (Blue, Green)."""
    return {str(ts.get("taskSetLabel")): ts for ts in ((target or {}).get("taskSetsInfo") or [])}


def traffic_of(status: str, target: Info | None) -> int:
    """Percent of production on the replacement (Green) task set."""
    green = task_set_infos(target).get(GREEN)
    if green is not None and green.get("trafficWeight") is not None:
        return int(round(float(green["trafficWeight"])))
    return 100 if status == "Succeeded" else 0


def task_set(ts: Info, task_definition: str) -> TaskSet:
    """An ECSTaskSet: CodeDeploy counts desired, pending and running tasks; it reports no health,
    so a running task counts as healthy here (DescribeTaskSets has more)."""
    running = int(ts.get("runningCount") or 0)
    return TaskSet(id=str(ts.get("identifer") or ""), status=str(ts.get("status") or ""),
                   task_definition=task_definition, target_group=(ts.get("targetGroup") or {}).get("name"),
                   scale=None, desired=int(ts.get("desiredCount") or 0), pending=int(ts.get("pendingCount") or 0),
                   running=running, healthy=running)


# -- words: waiting, timings, history ----------------------------------------------------------
def _minutes_left(minutes: Any, since: float | None, now: float) -> float | None:
    if minutes is None or since is None:
        return None
    return max(0.0, float(minutes) * 60 - (now - since))


def waiting_of(info: Info, target: Info | None, events: Sequence[LifecycleEvent], phase: str, traffic: int,
               now: float) -> str:
    status = str(info.get("status"))
    if status not in IN_FLIGHT:
        return ""
    sets = task_set_infos(target)
    green = sets.get(GREEN) or {}
    blue = sets.get(BLUE) or {}
    bg = info.get("blueGreenDeploymentConfiguration") or {}
    last_end = max((e.end_time for e in events if e.end_time is not None), default=None)
    event = next((e for e in events if e.name == phase), None)
    if status in ("Created", "Queued"):
        return reasons.waiting_start(status)
    if phase == "ReadyWait":
        ready = bg.get("deploymentReadyOption") or {}
        return reasons.waiting_ready(_minutes_left(ready.get("waitTimeInMinutes"), last_end, now))
    if phase == "TerminationWait":
        terminate = bg.get("terminateBlueInstancesOnDeploymentSuccess") or {}
        return reasons.waiting_termination((blue.get("targetGroup") or {}).get("name"),
                                           _minutes_left(terminate.get("terminationWaitTimeInMinutes"), last_end, now))
    if event is not None and event.status == "InProgress":
        if event.hook:
            return reasons.waiting_hook(event.name, event.hook)
        if event.name == "Install":
            return reasons.waiting_replacement(int(green.get("runningCount") or 0), int(green.get("desiredCount") or 0),
                                               (green.get("targetGroup") or {}).get("name"))
        if event.name == "AllowTestTraffic":
            return reasons.waiting_test_traffic((green.get("targetGroup") or {}).get("name"))
        if event.name == "AllowTraffic":
            return reasons.waiting_traffic(traffic, str(info.get("deploymentConfigName") or ""))
    messages = info.get("deploymentStatusMessages") or []
    return str(messages[-1]) if messages else ""


def timings_of(events: Sequence[LifecycleEvent]) -> dict[str, Any]:
    return {e.name: round(e.end_time - e.start_time, 3) for e in events
            if e.start_time is not None and e.end_time is not None}


def history_of(info: Info, events: Sequence[LifecycleEvent], actions: Sequence[HistoryEntry],
               task_definition: str, creator: str) -> tuple[HistoryEntry, ...]:
    """What AWS reports as lines (created, each event that ended, the end) and people's actions, in time order."""
    dep_id = str(info.get("deploymentId"))
    lines: list[HistoryEntry] = []
    created_at = epoch(info.get("createTime"))
    if created_at is not None:
        lines.append(HistoryEntry(created_at, "event", reasons.created(dep_id, creator, task_definition,
                                                                       sorted(hooks_of(info).items()))))
    for e in events:
        if e.end_time is not None:
            lines.append(HistoryEntry(e.end_time, "event", reasons.event_ended(e.name, e.status, e.message)))
    completed = epoch(info.get("completeTime"))
    if completed is not None:
        error = info.get("errorInformation") or {}
        lines.append(HistoryEntry(completed, "event", reasons.ended(
            dep_id, str(info.get("status")), error.get("code"), error.get("message"),
            (info.get("rollbackInfo") or {}).get("rollbackDeploymentId"))))
    lines.extend(actions)
    return tuple(sorted(lines, key=lambda h: h.at))


# -- the whole view -----------------------------------------------------------------------------
def deployment_view(info: Info, target: Info | None, *, environment: str, actions: Sequence[HistoryEntry],
                    now: float, origin: Mapping[str, Any] | None = None) -> CodeDeployDeployment:
    """deploymentInfo (+ the ECS target once it exists) → CodeDeployDeployment."""
    status = str(info.get("status") or "Created")
    events = lifecycle_events(target, hooks_of(info))
    ecs = dict(target or {})
    phase = phase_of(status, events, bool(info.get("instanceTerminationWaitTimeStarted")))
    traffic = traffic_of(status, target)
    task_definition = task_definition_of(info)
    previous = appspec_content(info.get("previousRevision"))
    sets = task_set_infos(target)
    task_sets: dict[str, TaskSet | None] = {}
    if BLUE in sets:
        task_sets["original"] = task_set(sets[BLUE], _appspec_facts(previous)[0] if previous else "")
    if GREEN in sets:
        task_sets["replacement"] = task_set(sets[GREEN], task_definition)
    error = info.get("errorInformation") or {}
    created_at = epoch(info.get("createTime")) or 0.0
    completed_at = epoch(info.get("completeTime"))
    creator = creator_of(info)
    return CodeDeployDeployment(
        id=str(info["deploymentId"]), environment=environment, service=str(info.get("deploymentGroupName") or ""),
        task_definition=task_definition, status=status, phase=phase, creator=creator, traffic=traffic,
        waiting=waiting_of(info, target, events, phase, traffic, now),
        error_code=error.get("code"), error_message=error.get("message"),
        rollback_info=dict(info.get("rollbackInfo") or {}), origin=dict(origin or {}),
        original_task_set=(sets.get(BLUE) or {}).get("identifer"),
        replacement_task_set=(sets.get(GREEN) or {}).get("identifer"),
        original_target_group=((sets.get(BLUE) or {}).get("targetGroup") or {}).get("name"),
        replacement_target_group=((sets.get(GREEN) or {}).get("targetGroup") or {}).get("name"),
        created_at=created_at, updated_at=epoch(ecs.get("lastUpdatedAt")) or completed_at or created_at,
        completed_at=completed_at, timings=timings_of(events),
        has_appspec=str(info.get("creator")) != AWS_ROLLBACK_CREATOR, lifecycle_events=events,
        history=history_of(info, events, actions, task_definition, creator), task_sets=task_sets)
