"""Which stream events (conveyor.events.types DEPLOYMENT_EVENTS) a CodeDeploy status move or
recorded fact makes, as pure functions of the deployment row: the store calls them inside the
transaction that writes the change and hands the result to conveyor.events.outbox.write_events,
so an event exists exactly when its change does.

- a deployment that starts (Created/Queued → InProgress): deployment-started
- Ready (a STOP_DEPLOYMENT ready wait) and the start of a termination wait: deployment-waiting,
  with the command that ends the wait
- each production traffic shift: deployment-traffic-shifted (percent on the replacement)
- Stopped/Failed: deployment-alarm first when an alarm caused it (ALARM_ACTIVE), then
  deployment-stopped (Stopped) or deployment-failed (Failed)
- production traffic back on the original task set (an automatic or manual reroute), or a
  redeploy of the previous revision that succeeded: deployment-rolled-back
- Succeeded: deployment-succeeded (the cleanup deployment of a rollback says nothing more)

    >>> d = CodeDeployment(id="d-ABC", seq=1, environment="production", service="orders", taskdef="orders:7",
    ...                    appspec="", grp={"deployment": {"config": "CodeDeployDefault.ECSCanary10Percent5Minutes"}},
    ...                    status="Created", phase="Start", creator="user")
    >>> [e.type for e in transition_events(d, "InProgress", {}, Cause(), now=1.0)]
    ['deployment-started']
    >>> transition_events(d, "InProgress", {}, Cause(), now=1.0)[0].summary
    'production/orders: blue/green deployment d-ABC of orders:7 started (CodeDeployDefault.ECSCanary10Percent5Minutes)'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conveyor.config.codedeploy_group import deployment_group
from conveyor.errors import ConveyorError
from conveyor.events.types import Event, Subject
from conveyor.providers.local.codedeploy import reasons
from conveyor.providers.local.codedeploy.rows import ROLLBACK, CodeDeployment
from conveyor.providers.local.codedeploy.states import (
    CREATED,
    FAILED,
    IN_PROGRESS,
    QUEUED,
    READY,
    STOPPED,
    SUCCEEDED,
)

ROLLBACK_CLEANUP = "RollbackCleanup"
KIND = "blue/green"


@dataclass(frozen=True)
class Cause:
    """What the row does not say about a status move: who asked (a stop, a rollback) and why,
    and the alarms that were in ALARM."""

    who: str | None = None
    reason: str = ""
    alarms: Sequence[str] = ()


def subject(d: CodeDeployment) -> Subject:
    """Environment, service, deployment; the pipeline and execution when a pipeline action
    created it (its origin)."""
    origin = d.origin or {}
    return Subject(pipeline=_text(origin.get("pipeline")), execution_id=_text(origin.get("execution")),
                   stage=_text(origin.get("stage")), action=_text(origin.get("action")),
                   environment=d.environment, service=d.service, deployment_id=d.id)


def detail(d: CodeDeployment, **more: Any) -> dict[str, Any]:
    """What every deployment event of `d` carries, and `more`."""
    out: dict[str, Any] = {"kind": KIND, "taskdef": d.taskdef, "creator": d.creator}
    config = config_name(d)
    if config:
        out["config"] = config
    origin = d.origin or {}
    for key in ("rollbackOf", "by"):
        if origin.get(key):
            out[key] = origin[key]
    out.update({k: v for k, v in more.items() if v not in (None, "", ())})
    return out


def config_name(d: CodeDeployment) -> str:
    """The deployment configuration's name ("CodeDeployDefault.ECSAllAtOnce",
    "TimeBasedCanary(25%, 3s)"), as the group recorded with the deployment says."""
    try:
        return deployment_group((d.grp or {}).get("deployment") or {}, (d.grp or {}).get("alarms") or {}).config.name
    except ConveyorError:  # a row no group can be read from: say less
        return ""


def transition_events(d: CodeDeployment, status: str, changes: Mapping[str, Any], cause: Cause, *,
                      now: float) -> list[Event]:
    """The events of `d` (the row before the move) going to `status` with `changes`."""
    name = reasons.event_deployment(d.environment, d.service, d.id)
    code = changes.get("error_code") or d.error_code
    message = changes.get("error_message") or d.error_message or ""
    subj = subject(d)
    if status == IN_PROGRESS and d.status in (CREATED, QUEUED):
        config = config_name(d)
        return [Event("deployment-started", now, subj, detail(d), reasons.event_started(name, d.taskdef, config))]
    if status == READY:
        command = ["conveyor", "deploy", "continue", d.environment, d.service]
        return [Event("deployment-waiting", now, subj, detail(d, wait="READY_WAIT", command=command),
                      reasons.event_ready(name, " ".join(command)))]
    if status in (STOPPED, FAILED):
        out = []
        end = detail(d, errorCode=code, errorMessage=message, phase=d.phase, who=cause.who, reason=cause.reason,
                     status=status)
        if code == reasons.ALARM_ACTIVE:
            alarms = list(cause.alarms)
            out.append(Event("deployment-alarm", now, subj, {**end, "alarms": alarms},
                             reasons.event_alarm(name, alarms)))
        if status == STOPPED:
            out.append(Event("deployment-stopped", now, subj, end,
                             reasons.event_stopped(name, cause.who, code, message)))
        else:
            out.append(Event("deployment-failed", now, subj, end, reasons.event_failed(name, code, message)))
        return out
    if status == SUCCEEDED:
        if d.creator == ROLLBACK and d.phase == ROLLBACK_CLEANUP:
            return []  # the reroute already said deployment-rolled-back; this only drained green
        if d.creator == ROLLBACK:
            return [Event("deployment-rolled-back", now, subj,
                          detail(d, how="redeploy", rolledBack=(d.origin or {}).get("rollbackOf")),
                          reasons.event_redeployed(name, d.taskdef))]
        return [Event("deployment-succeeded", now, subj, detail(d, targetGroup=d.replacement_tg),
                      reasons.event_succeeded(name, d.taskdef))]
    return []


def traffic_shifted(d: CodeDeployment, percent: float, *, now: float) -> Event:
    """Production traffic moved: `percent` on the replacement's target group."""
    pct = int(round(percent))
    text = reasons.event_shifted(reasons.event_deployment(d.environment, d.service, d.id), pct, d.taskdef,
                                 d.replacement_tg, d.original_tg)
    return Event("deployment-traffic-shifted", now, subject(d),
                 detail(d, percent=pct, replacementTargetGroup=d.replacement_tg, originalTargetGroup=d.original_tg),
                 text)


def rolled_back(d: CodeDeployment, *, rollback_id: str, why: str, who: str | None = None, now: float) -> Event:
    """Production traffic is back on the original task set (`d` is the deployment rolled back)."""
    return Event("deployment-rolled-back", now, subject(d),
                 detail(d, how="reroute", rollbackDeploymentId=rollback_id, targetGroup=d.original_tg, reason=why,
                        who=who, errorCode=d.error_code),
                 reasons.event_rolled_back(reasons.event_deployment(d.environment, d.service, d.id), why))


def rolled_back_to_kept(rb: CodeDeployment, *, who: str, reason: str, now: float) -> Event:
    """`conveyor rollback` routed production back to a task set KEEP_ALIVE left running
    (`rb` is the rollback deployment that drains the one that served)."""
    return Event("deployment-rolled-back", now, subject(rb),
                 detail(rb, how="kept-alive", who=who, reason=reason, targetGroup=rb.original_tg),
                 reasons.event_rolled_back_to_kept(rb.environment, rb.service, rb.taskdef, who, reason))


def termination_wait(d: CodeDeployment, seconds: float, *, now: float) -> Event:
    """Green serves everything; blue stays warm for `seconds` (ContinueDeployment TERMINATION_WAIT
    ends the wait, a rollback goes back to blue)."""
    command = ["conveyor", "deploy", "continue", d.environment, d.service]
    rollback = ["conveyor", "rollback", d.environment, d.service]
    return Event("deployment-waiting", now, subject(d),
                 detail(d, wait="TERMINATION_WAIT", seconds=seconds, command=command, rollback=rollback),
                 reasons.event_termination_wait(reasons.event_deployment(d.environment, d.service, d.id), seconds,
                                                d.original_tg, " ".join(command), " ".join(rollback)))


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None
