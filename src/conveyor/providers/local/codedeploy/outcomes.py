"""How a deployment ends: Succeeded, or Failed/Stopped with an ErrorInformation code and message
(conveyor.providers.local.codedeploy.reasons), rolled back when asked or when the group's
autoRollbackConfiguration says so (aws-semantics §5.5, §5.7). Ending stops what runs on the
deployment's behalf (hook workers, probe traffic).

    outcomes = Outcomes(store, journal, rollbacks, clock=time.time, work=(hook_runs, probes))
    outcomes.fail(d, reasons.MANUAL_STOP, reasons.stopped_by("ana", ""), status=STOPPED, rollback=False)
    outcomes.succeed(d)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from conveyor.config.codedeploy_model import DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_ALARM
from conveyor.providers.local.codedeploy import reasons
from conveyor.providers.local.codedeploy.events import Cause
from conveyor.providers.local.codedeploy.journal import Journal
from conveyor.providers.local.codedeploy.revision import group_of
from conveyor.providers.local.codedeploy.rollback import Rollbacks
from conveyor.providers.local.codedeploy.states import EV_FAILED, EV_IN_PROGRESS, FAILED, SUCCEEDED
from conveyor.providers.local.codedeploy.steps import TERMINATING
from conveyor.providers.local.codedeploy.store import CodeDeployment, DeploymentStore


class DeploymentWork(Protocol):
    """Something that runs on a deployment's behalf and stops when the deployment ends."""

    def stop(self, dep_id: str) -> None: ...


class Outcomes:
    def __init__(self, store: DeploymentStore, journal: Journal, rollbacks: Rollbacks, *,
                 clock: Callable[[], float] = time.time, work: Sequence[DeploymentWork] = ()):
        self._store = store
        self._journal = journal
        self._rollbacks = rollbacks
        self._clock = clock
        self._work = work

    def fail(self, d: CodeDeployment, code: str, message: str, *, status: str = FAILED,
             rollback: bool | None = None, cause: Cause | None = None) -> None:
        """End the deployment Failed (or Stopped); its running lifecycle event fails with it.
        rollback None: as the group's autoRollbackConfiguration says for this kind of end.
        `cause`: who stopped it and why, or the alarms in ALARM (for the stream's events)."""
        if rollback is None:
            event = DEPLOYMENT_STOP_ON_ALARM if code == reasons.ALARM_ACTIVE else DEPLOYMENT_FAILURE
            rollback = group_of(d).rolls_back_on(event)
        now = self._clock()
        self._stop_work(d)
        if d.phase not in TERMINATING:
            ev = self._store.lifecycle_event(d.id, d.phase)
            if ev is not None and ev["status"] == EV_IN_PROGRESS:
                self._store.transition_event(d.id, d.phase, EV_FAILED, ended_at=now, message=message)
        timings = {**d.timings, "total": round(now - d.created_at, 3)}
        if d.phase_at is not None:
            timings[d.phase] = round(now - d.phase_at, 3)
        self._store.transition(d.id, status, why=reasons.error_why(code, message), cause=cause, error_code=code,
                               error_message=message, completed_at=now, waiting="", timings=timings)
        self._journal.log(d, reasons.ended(d.id, status, code, message))
        if rollback and d.replacement_task_set and d.phase != "BeforeInstall":
            self._rollbacks.reroute(d, message, who=cause.who if cause else None)
        elif d.replacement_task_set:
            self._journal.log(d, reasons.NO_ROLLBACK)

    def succeed(self, d: CodeDeployment) -> None:
        """Green serves production: Succeeded, in phase End."""
        now = self._clock()
        timings = dict(d.timings)
        if d.phase_at is not None:
            timings[d.phase] = round(now - d.phase_at, 3)
        timings["total"] = round(now - d.created_at, 3)
        self._store.transition(d.id, SUCCEEDED, why=reasons.WHY_SUCCEEDED, phase="End", completed_at=now,
                               timings=timings, waiting="")
        self._journal.log(d, reasons.succeeded(d.id, d.taskdef, d.replacement_tg, timings["total"]))
        self._stop_work(d)

    def rollback_succeeded(self, d: CodeDeployment) -> None:
        """A rollback deployment drained the replacement: Succeeded."""
        now = self._clock()
        self._store.transition(d.id, SUCCEEDED, why=reasons.WHY_REPLACEMENT_GONE, phase="End", completed_at=now,
                               timings={**d.timings, "total": round(now - d.created_at, 3)}, waiting="")
        self._journal.log(d, reasons.rollback_succeeded(d.id))
        self._stop_work(d)

    def _stop_work(self, d: CodeDeployment) -> None:
        for work in self._work:
            work.stop(d.id)
