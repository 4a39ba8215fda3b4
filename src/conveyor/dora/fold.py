"""Production's deployment events folded into one `Change` per deployment of a change: what
happened to it, whether it was a change failure and why, when the failure began and when
production was healthy again. Pure: the caller gives the events (already narrowed to the
environments that count) and what conveyor.db knows about executions; docs/dora.md states every
rule implemented here.

A deployment is a *change* unless it is itself a rollback (an ECS rolling deployment whose
origin says `rollback`, a CodeDeploy deployment created by `codeDeployRollback`): rollbacks are
how production is restored, not changes shipped.

    >>> from conveyor.events.types import Event, Subject
    >>> s = Subject(environment="production", service="orders", deployment_id="d-1")
    >>> changes = fold([Event("deployment-started", 10.0, s), Event("deployment-succeeded", 70.0, s)], end=100.0)
    >>> changes[0].succeeded_at, changes[0].failure
    (70.0, None)
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from conveyor.events.types import Event

#: The deployment events a change's fate is read from.
DEPLOYMENT_TYPES = ("deployment-started", "deployment-alarm", "deployment-stopped", "deployment-failed",
                    "deployment-rolled-back", "deployment-succeeded")
#: Events that say production is unhealthy outside a deployment's own outcome.
SIGNAL_TYPES = ("service-unhealthy", "service-circuit-breaker")
#: A later deployment within this many seconds of a change's success can be its fix-forward.
FIX_FORWARD_WINDOW = 24 * 3600.0
#: CodeDeploy's creator of the deployments it makes to roll back (DeploymentInfo.creator).
ROLLBACK_CREATOR = "codeDeployRollback"

ALARM, FAILED, ROLLED_BACK, FIX_FORWARD = "alarm", "failed", "rolled-back", "fix-forward"
CAUSES = (ALARM, FAILED, ROLLED_BACK, FIX_FORWARD)


@dataclass(frozen=True)
class Change:
    """One production deployment of a change, as of the end of the history read."""

    id: str
    environment: str
    service: str
    pipeline: str | None
    execution_id: str | None
    started_at: float | None
    finished_at: float | None        # the first of succeeded, failed, stopped, rolled back; None: running
    succeeded_at: float | None
    failure: str | None = None       # one of CAUSES, or None: not a change failure
    failed_at: float | None = None   # the failure's onset (what time to restore counts from)
    restored_at: float | None = None  # production healthy again; None: not (yet)
    commit_at: float | None = None   # the executed commit's committer time
    fixed_by: str | None = None      # the fix-forward deployment

    @property
    def lead_time(self) -> float | None:
        if self.succeeded_at is None or self.commit_at is None:
            return None
        return max(0.0, self.succeeded_at - self.commit_at)

    @property
    def time_to_restore(self) -> float | None:
        if self.failed_at is None or self.restored_at is None:
            return None
        return max(0.0, self.restored_at - self.failed_at)


@dataclass
class _Deployment:
    id: str
    environment: str
    service: str
    pipeline: str | None = None
    execution_id: str | None = None
    rollback: bool = False
    rollback_of: str | None = None   # for a rollback deployment: the deployment it rolls back
    first_at: float = 0.0
    started_at: float | None = None
    succeeded_at: float | None = None
    failed_at: float | None = None
    stopped_at: float | None = None
    alarm_at: float | None = None
    rolled_back_at: float | None = None           # production back on the previous version
    rollback_started_at: float | None = None      # the deployment rolling it back started
    signals: list[float] = field(default_factory=list)


def fold(events: Iterable[Event], *, end: float, commit_times: Mapping[str, float] | None = None,
         triggered_at: Mapping[str, float] | None = None,
         fix_forward_window: float = FIX_FORWARD_WINDOW) -> list[Change]:
    """Every change deployed before `end`, oldest first. `events`: the deployment and signal events
    of the environments that count, in stream order (events at or after `end` are ignored).
    `commit_times`: execution id -> committer time of its commit; `triggered_at`: execution id ->
    when the execution was created."""
    commit_times = commit_times or {}
    triggered_at = triggered_at or {}
    deployments: dict[str, _Deployment] = {}
    rollbacks: list[tuple[str | None, float, _Deployment | None, str, str]] = []
    signals: dict[tuple[str, str], list[float]] = defaultdict(list)
    for e in sorted((e for e in events if e.at < end), key=lambda e: (e.at, e.seq)):
        s = e.subject
        if not s.environment or not s.service:
            continue
        if e.type in SIGNAL_TYPES:
            signals[(s.environment, s.service)].append(e.at)
            continue
        if e.type not in DEPLOYMENT_TYPES or not s.deployment_id:
            continue
        d = deployments.get(s.deployment_id)
        if d is None:
            d = deployments[s.deployment_id] = _Deployment(s.deployment_id, s.environment, s.service, first_at=e.at)
        d.pipeline = d.pipeline or s.pipeline
        d.execution_id = d.execution_id or s.execution_id
        detail = e.detail or {}
        if detail.get("rollback") is True or detail.get("creator") == ROLLBACK_CREATOR:
            d.rollback = True
        named = detail.get("rolledBack") or detail.get("rollbackOf")
        if d.rollback and named:
            d.rollback_of = str(named)
        if e.type == "deployment-started":
            d.started_at = _first(d.started_at, e.at)
        elif e.type == "deployment-succeeded":
            d.succeeded_at = _first(d.succeeded_at, e.at)
        elif e.type == "deployment-failed":
            d.failed_at = _first(d.failed_at, e.at)
        elif e.type == "deployment-stopped":
            d.stopped_at = _first(d.stopped_at, e.at)
        elif e.type == "deployment-alarm":
            d.alarm_at = _first(d.alarm_at, e.at)
        elif e.type == "deployment-rolled-back":
            # Which deployment production left: the one the event names, else (a CodeDeploy
            # reroute) the deployment it is about, else the service's change before the rollback.
            target = str(named) if named else (None if d.rollback else d.id)
            rollbacks.append((target, e.at, d, s.environment, s.service))
    timelines: dict[tuple[str, str], list[_Deployment]] = defaultdict(list)
    for d in deployments.values():
        if not d.rollback:
            timelines[(d.environment, d.service)].append(d)
    for line in timelines.values():
        line.sort(key=lambda d: (_start(d), d.id))
    for target, at, by, env, svc in rollbacks:
        victim = deployments.get(target) if target else _before(timelines[(env, svc)], by)
        if victim is None or victim.rollback:
            continue
        victim.rolled_back_at = _first(victim.rolled_back_at, at)
        if by is not None and by is not victim and by.started_at is not None:
            victim.rollback_started_at = _first(victim.rollback_started_at, by.started_at)
    for d in deployments.values():  # a rollback deployment still running names its victim
        victim = deployments.get(d.rollback_of or "")
        if d.rollback and victim is not None and d.started_at is not None:
            victim.rollback_started_at = _first(victim.rollback_started_at, d.started_at)
    out = []
    for key, line in timelines.items():
        successes = sorted((d.succeeded_at, d.id) for d in line if d.succeeded_at is not None)
        for i, d in enumerate(line):
            nxt = line[i + 1] if i + 1 < len(line) else None
            out.append(_change(d, nxt, successes, signals[key], commit_times, triggered_at, fix_forward_window))
    out.sort(key=lambda c: (c.started_at if c.started_at is not None else c.finished_at or 0.0, c.id))
    return out


def _change(d: _Deployment, nxt: _Deployment | None, successes: list[tuple[float, str]], signals: list[float],
            commit_times: Mapping[str, float], triggered_at: Mapping[str, float], window: float) -> Change:
    """`nxt`: the service's next change; `successes`: (time, id) of its changes' successes, sorted;
    `signals`: the times of its failure signals, sorted."""
    ends = [t for t in (d.succeeded_at, d.failed_at, d.stopped_at, d.rolled_back_at) if t is not None]
    finished = min(ends) if ends else None
    cause: str | None = None
    onset: float | None = None
    fixed_by: str | None = None
    if d.alarm_at is not None:
        cause, onset = ALARM, d.alarm_at
    elif d.failed_at is not None:
        cause, onset = FAILED, d.failed_at
    elif d.rolled_back_at is not None:
        cause = ROLLED_BACK
        if d.stopped_at is not None:
            onset = d.stopped_at
        else:
            after = d.succeeded_at if d.succeeded_at is not None else _start(d)
            seen = _first_signal(signals, after)
            onset = seen if seen is not None and seen <= d.rolled_back_at else min(
                t for t in (d.rollback_started_at, d.rolled_back_at) if t is not None)
    elif d.succeeded_at is not None and nxt is not None:
        nxt_start = _start(nxt)
        trigger = triggered_at.get(nxt.execution_id or "", nxt_start)
        seen = _first_signal(signals, d.succeeded_at)
        if nxt_start - d.succeeded_at <= window and seen is not None and seen < trigger:
            cause, onset, fixed_by = FIX_FORWARD, seen, nxt.id
    restored = None
    if onset is not None:
        candidates = [max(onset, d.rolled_back_at)] if d.rolled_back_at is not None else []
        i = bisect.bisect_left(successes, (onset, ""))
        while i < len(successes) and successes[i][1] == d.id:
            i += 1
        if i < len(successes):
            candidates.append(successes[i][0])
        restored = min(candidates) if candidates else None
    return Change(d.id, d.environment, d.service, d.pipeline, d.execution_id, d.started_at, finished,
                  d.succeeded_at, cause, onset, restored, commit_times.get(d.execution_id or ""), fixed_by)


def _first_signal(signals: list[float], after: float) -> float | None:
    """The first signal strictly after `after` (`signals` sorted)."""
    i = bisect.bisect_right(signals, after)
    return signals[i] if i < len(signals) else None


def _start(d: _Deployment) -> float:
    return d.started_at if d.started_at is not None else d.first_at


def _before(line: list[_Deployment], rollback: _Deployment | None) -> _Deployment | None:
    """The service's last change that started before `rollback` did."""
    if rollback is None:
        return None
    at = _start(rollback)
    earlier = [d for d in line if _start(d) <= at]
    return earlier[-1] if earlier else None


def _first(current: float | None, at: float) -> float:
    return at if current is None else min(current, at)
