"""The lifecycle of a CodeDeploy ECS deployment as data, and the pure rules that decide its next
step (aws-semantics §5.3). Nothing here reads a clock or touches the world: the lifecycle
(conveyor.providers.local.codedeploy.lifecycle) observes, calls a rule with what it saw and
carries out the decision it gets back.

    >>> group = DeploymentGroup(ready_action="STOP_DEPLOYMENT", ready_wait=60.0)
    >>> ready_wait_step(group, continued=False, waited=20.0)
    Wait(why='manual reroute (`conveyor deploy continue`); stops in 40 s')
    >>> ready_wait_step(group, continued=False, waited=60.0).code
    'TIMEOUT'
    >>> ready_wait_step(group, continued=True, waited=20.0)
    Move(phase=None, note='')

Phases, in order: Start → BeforeInstall → Install → AfterInstall → AllowTestTraffic →
AfterAllowTestTraffic → ReadyWait → BeforeAllowTraffic → AllowTraffic → AfterAllowTraffic →
TerminationWait → Terminate → End. A rollback deployment has one phase: RollbackCleanup.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Union

from conveyor.backend.types import TaskSet
from conveyor.config.codedeploy_model import CONTINUE_DEPLOYMENT, KEEP_ALIVE, DeploymentGroup, TrafficStep
from conveyor.providers.local.codedeploy import reasons
from conveyor.providers.local.codedeploy.states import EV_FAILED, EV_SUCCEEDED, FAILED, STOPPED

PHASES = ("Start", "BeforeInstall", "Install", "AfterInstall", "AllowTestTraffic", "AfterAllowTestTraffic",
          "ReadyWait", "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic", "TerminationWait", "Terminate",
          "End")
ROLLBACK_CLEANUP = "RollbackCleanup"
#: Phases during which alarms can stop the deployment and a rollback reroutes to blue.
WATCHED = ("Install", "AfterInstall", "AllowTestTraffic", "AfterAllowTestTraffic", "ReadyWait",
           "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic", "TerminationWait")
#: Phases during which probe traffic (deployment.probe) goes to the test listener.
PROBE_PHASES = ("AfterAllowTestTraffic", "ReadyWait", "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic",
                "TerminationWait")
#: Phases from which `promote` sends all production traffic to green.
PROMOTABLE = ("Install", "AfterInstall", "AllowTestTraffic", "AfterAllowTestTraffic", "ReadyWait",
              "BeforeAllowTraffic", "AllowTraffic")
#: Phases in which blue no longer serves: a rollback must redeploy.
TERMINATING = ("Terminate", "End")
#: Phases that are no lifecycle event of their own (no cd_events row).
NOT_EVENTS = ("Start", "ReadyWait", "TerminationWait", "Terminate", "End")
#: ContinueDeployment's wait types, by the phase that waits for them.
WAIT_TYPES = {"ReadyWait": "READY_WAIT", "TerminationWait": "TERMINATION_WAIT"}
#: Install fails after this many failed replacement tasks (at least; or the desired count)...
INSTALL_FAILURE_LIMIT = 3
#: ...or when the replacement task set is not healthy within this time (ECS_UPDATE_ERROR / TIMEOUT).
INSTALL_TIMEOUT = 600.0


def next_phase(phase: str) -> str:
    return PHASES[PHASES.index(phase) + 1]


# -- decisions ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Wait:
    """Stay in the phase; `why` is what the deployment waits for (GetDeployment shows it)."""

    why: str


@dataclass(frozen=True)
class Move:
    """Leave the phase for `phase` (default: the next one), writing `note` to the history first."""

    phase: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Fail:
    """End the deployment with an ErrorInformation code; rollback None: as the group says."""

    code: str
    message: str
    status: str = FAILED
    rollback: bool | None = None
    alarms: tuple[str, ...] = ()  # ALARM_ACTIVE: the alarms in ALARM


@dataclass(frozen=True)
class Shift:
    """Move production traffic to step `step` of the traffic plan: `percent` % on green."""

    step: int
    percent: float


@dataclass(frozen=True)
class Skip:
    """The phase's event does not run (a hook event without a hook): Skipped, then the next phase."""

    why: str


Decision = Union[Wait, Move, Fail, Shift, Skip, None]  # None: nothing to do this pass


@dataclass(frozen=True)
class Run:
    """hook_event_step's answer when the event's hook has to run, or be waited for (the hook
    runs decide which); not a decision of its own."""


RUN = Run()


# -- the rules ----------------------------------------------------------------------------------


def install_step(status: TaskSet, *, target_group: str | None, waited: float,
                 last_failure: Callable[[], str]) -> Decision:
    """Install, once the replacement task set exists: fail on failing tasks or after
    INSTALL_TIMEOUT, wait until it is steady, then move on."""
    limit = max(INSTALL_FAILURE_LIMIT, status.desired)
    if status.failed_tasks >= limit:
        return Fail(reasons.ECS_UPDATE_ERROR, reasons.tasks_failed(status.failed_tasks, last_failure()))
    if waited > INSTALL_TIMEOUT:
        return Fail(reasons.TIMEOUT, reasons.install_timeout(INSTALL_TIMEOUT, status.healthy, status.desired))
    if not status.steady:
        return Wait(reasons.waiting_replacement(status.healthy, status.desired, target_group))
    return Move(note=reasons.replacement_healthy(status.id, status.task_definition, target_group, status.healthy))


def ready_wait_step(group: DeploymentGroup, *, continued: bool, waited: float) -> Decision:
    """The ready wait (§5.5 deploymentReadyOption): go on at once (CONTINUE_DEPLOYMENT) or when
    continued; STOP_DEPLOYMENT stops the deployment when nobody continued it in time."""
    if group.ready_action == CONTINUE_DEPLOYMENT or continued:
        return Move()
    if waited >= group.ready_wait:
        return Fail(reasons.TIMEOUT, reasons.ready_wait_timeout(group.ready_wait), status=STOPPED, rollback=True)
    return Wait(reasons.waiting_ready(group.ready_wait - waited))


def traffic_step(plan: Sequence[TrafficStep], *, step: int, traffic: int, waited: float, promote: bool,
                 gate: Callable[[], str | None], gate_first: bool) -> Decision:
    """AllowTraffic (§5.6): the next shift of the plan once the current step's wait is over and
    the traffic gate lets it pass; `promote` goes to 100 % at once. `gate_first` judges green
    before its first production request (probe traffic on the test listener)."""
    last = len(plan) - 1
    if step < 0:
        why = gate() if gate_first and not promote else None
        if why:
            return Wait(reasons.waiting_before_production(why))
        return _shift(plan, last if promote else 0)
    if step >= last:
        return Move()
    if promote:
        return _shift(plan, last)
    if waited < plan[step].wait:
        return Wait(reasons.waiting_next_step(traffic, plan[step].wait - waited))
    why = gate()
    if why:
        return Wait(why)
    return _shift(plan, step + 1)


def _shift(plan: Sequence[TrafficStep], step: int) -> Shift:
    return Shift(step, plan[step].percent)


def termination_wait_step(group: DeploymentGroup, *, has_original: bool, waited: float, requested: bool,
                          original_tg: str | None, gate: Callable[[], str | None]) -> Decision:
    """The termination wait (§5.5 terminateBlueInstancesOnDeploymentSuccess): blue stays warm
    for terminationWaitTime unless continued (TERMINATION_WAIT); green's alarms must vouch for it."""
    if not has_original or group.termination_action == KEEP_ALIVE:
        return Move()
    left = group.termination_wait - waited
    if left > 0 and not requested:
        return Wait(reasons.waiting_termination(original_tg, left))
    why = None if requested else gate()
    if why:
        return Wait(why)
    return Move()


def hook_event_step(event: str, function: str | None, status: str | None, message: str) -> Decision | Run:
    """A hookable event: Skipped without a hook; moves on once its hook Succeeded; fails the
    deployment when it Failed (rolling back after Install: before it there is nothing to undo,
    §5.3). Otherwise RUN: the hook runs or is waited for."""
    if function is None:
        return Skip(reasons.WHY_NO_HOOK)
    if status == EV_SUCCEEDED:
        return Move()
    if status == EV_FAILED:
        return Fail(reasons.HOOK_EXECUTION_FAILURE, reasons.hook_failed(event, function, message),
                    rollback=event != "BeforeInstall")
    return RUN
