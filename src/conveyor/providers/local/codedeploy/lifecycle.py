"""One step of a CodeDeploy ECS deployment at a time (aws-semantics §5.3): `advance(d)` looks at
where the deployment is (its phase) and at the world (task sets, hooks, alarms, the clock), asks
the phase's rule (conveyor.providers.local.codedeploy.steps) what to do, and does it, writing it
down first. Any step may be repeated after a crash: each one checks what is already done.

    lifecycle = Lifecycle(store, task_sets, router, journal, hook_runs, alarms, outcomes, clock=time.time)
    for d in store.active():
        lifecycle.advance(d)
"""

from __future__ import annotations

import time
from collections.abc import Callable

from conveyor.config.codedeploy_group import hook_for
from conveyor.config.codedeploy_model import HOOK_EVENTS, KEEP_ALIVE, STOP_DEPLOYMENT, DeploymentGroup
from conveyor.deploy import traffic
from conveyor.deploy.spec import ServiceSpec
from conveyor.elapsed import Elapsed
from conveyor.events.types import Event
from conveyor.providers.local.codedeploy import events as stream_events
from conveyor.providers.local.codedeploy import reasons
from conveyor.providers.local.codedeploy.alarms import AlarmWatch
from conveyor.providers.local.codedeploy.events import Cause
from conveyor.providers.local.codedeploy.hook_runs import HookRuns
from conveyor.providers.local.codedeploy.journal import Journal
from conveyor.providers.local.codedeploy.outcomes import Outcomes
from conveyor.providers.local.codedeploy.revision import appspec_hooks, group_of, load_balancer_of, spec_of
from conveyor.providers.local.codedeploy.routing import TrafficRouter
from conveyor.providers.local.codedeploy.states import EV_IN_PROGRESS, EV_SUCCEEDED, IN_PROGRESS, READY, SKIPPED
from conveyor.providers.local.codedeploy.steps import (
    NOT_EVENTS,
    ROLLBACK_CLEANUP,
    WATCHED,
    Decision,
    Fail,
    Move,
    Run,
    Shift,
    Skip,
    Wait,
    hook_event_step,
    install_step,
    next_phase,
    ready_wait_step,
    termination_wait_step,
    traffic_step,
)
from conveyor.providers.local.codedeploy.store import CodeDeployment, DeploymentStore
from conveyor.providers.local.codedeploy.task_set_pair import INACTIVE, PRIMARY, plan_replacement, replacement_tg_of
from conveyor.providers.local.ecs.task_set_api import TaskSetApi

Phase = Callable[[CodeDeployment, DeploymentGroup, ServiceSpec], Decision]


class Lifecycle:
    def __init__(self, store: DeploymentStore, services: TaskSetApi, router: TrafficRouter, journal: Journal,
                 hooks: HookRuns, alarms: AlarmWatch, outcomes: Outcomes, *, clock: Callable[[], float] = time.time,
                 wake: Callable[[], None] = lambda: None):
        self._store = store
        self._services = services
        self._router = router
        self._journal = journal
        self._hooks = hooks
        self._alarms = alarms
        self._outcomes = outcomes
        self._clock = clock
        self._elapsed = Elapsed(clock)  # waits and canary steps: immune to wall-clock steps
        self._wake = wake
        self._phases: dict[str, Phase] = {
            "Start": self._start, "Install": self._install, "AllowTestTraffic": self._allow_test_traffic,
            "ReadyWait": self._ready_wait, "AllowTraffic": self._allow_traffic,
            "TerminationWait": self._termination_wait, "Terminate": self._terminate,
            ROLLBACK_CLEANUP: self._rollback_cleanup,
            **{event: self._hook_event for event in HOOK_EVENTS}}

    def advance(self, d: CodeDeployment) -> None:
        """Take the deployment's next step, if it has one now."""
        spec = spec_of(self._services, d)
        group = group_of(d)
        decision: Decision = self._alarms.alarm_stop(d, group, spec) if d.phase in WATCHED else None
        if decision is None and d.phase in self._phases:
            decision = self._phases[d.phase](d, group, spec)
        self._carry_out(d, spec, decision)

    def _carry_out(self, d: CodeDeployment, spec: ServiceSpec, decision: Decision) -> None:
        if isinstance(decision, Wait):
            if d.waiting != decision.why:
                self._store.update(d.id, waiting=decision.why)
                d.waiting = decision.why
        elif isinstance(decision, Move):
            if decision.note:
                self._journal.log(d, decision.note)
            self._move(d, decision.phase)
        elif isinstance(decision, Fail):
            self._outcomes.fail(d, decision.code, decision.message, status=decision.status,
                                rollback=decision.rollback, cause=Cause(alarms=decision.alarms))
        elif isinstance(decision, Shift):
            self._shift(d, spec, decision)
        elif isinstance(decision, Skip):
            ev = self._store.lifecycle_event(d.id, d.phase)
            if ev is None or ev["status"] != SKIPPED:
                now = self._clock()
                self._store.transition_event(d.id, d.phase, SKIPPED, why=decision.why, started_at=now, ended_at=now)
            self._move(d)

    def _move(self, d: CodeDeployment, phase: str | None = None) -> None:
        """Leave the current phase (its duration goes into timings; its event Succeeded) for the
        next one (its event InProgress)."""
        now = self._clock()
        phase = phase or next_phase(d.phase)
        timings = dict(d.timings)
        if d.phase_at is not None and d.phase != "Start":
            timings[d.phase] = round(now - d.phase_at, 3)
        self._store.update(d.id, phase=phase, timings=timings, waiting="", outbox=self._waits(d, phase, now))
        if d.phase not in HOOK_EVENTS and d.phase not in NOT_EVENTS:
            ev = self._store.lifecycle_event(d.id, d.phase)
            if ev is None or ev["status"] == EV_IN_PROGRESS:  # (a Skipped one stays Skipped)
                self._store.transition_event(d.id, d.phase, EV_SUCCEEDED, ended_at=now)
        d.phase, d.timings, d.phase_at = phase, timings, now
        if phase not in HOOK_EVENTS and phase not in NOT_EVENTS and self._store.lifecycle_event(d.id, phase) is None:
            self._store.transition_event(d.id, phase, EV_IN_PROGRESS, started_at=now)
        self._wake()

    def _waits(self, d: CodeDeployment, phase: str, now: float) -> list[Event]:
        """deployment-waiting when a termination wait begins that a person can end early."""
        group = group_of(d)
        if (phase != "TerminationWait" or d.original_task_set is None or group.termination_action == KEEP_ALIVE
                or group.termination_wait <= 0):
            return []
        return [stream_events.termination_wait(d, group.termination_wait, now=now)]

    def _waited(self, d: CodeDeployment) -> float:
        """Seconds in the current phase."""
        return self._elapsed.since(d.phase_at or d.created_at)

    # -- phases
    def _start(self, d: CodeDeployment, group: DeploymentGroup, spec: ServiceSpec) -> Decision:
        self._journal.log(d, reasons.started(d.id, d.taskdef, group.config.name,
                                             traffic.describe_plan(traffic.traffic_plan(group.config))))
        if d.status != IN_PROGRESS:  # (already, when a crash came between the two writes)
            self._store.transition(d.id, IN_PROGRESS, why=reasons.WHY_STARTED)
        return Move()

    def _install(self, d: CodeDeployment, group: DeploymentGroup, spec: ServiceSpec) -> Decision:
        if d.replacement_task_set is None:
            self._create_replacement(d, spec)
            return None
        return install_step(self._services.task_set_status(d.replacement_task_set), target_group=d.replacement_tg,
                            waited=self._waited(d), last_failure=lambda: self._last_task_failure(d))

    def _create_replacement(self, d: CodeDeployment, spec: ServiceSpec) -> None:
        plan = plan_replacement(self._services.task_sets(d.environment, d.service),
                                [tg.name for tg in spec.target_groups])
        for other in plan.retire:
            self._services.update_task_set(other.id, scale=0)
        original = plan.original
        if original is not None and plan.adopt_original:
            self._services.update_task_set(original.id, scale=100, target_group=plan.original_tg)
        ts = self._services.create_task_set(d.environment, d.service, d.taskdef, plan.replacement_tg, 100,
                                            {"codedeploy": d.id}, primary=original is None)
        self._store.update(d.id, original_task_set=original.id if original else None, original_tg=plan.original_tg,
                           replacement_task_set=ts.id, replacement_tg=plan.replacement_tg)
        d.original_tg, d.replacement_tg = plan.original_tg, plan.replacement_tg
        # Attach the replacement's target group (weight 0) so its targets are health checked.
        lb = load_balancer_of(spec)
        for port in filter(None, (lb.port, lb.test_port)):
            self._router.point(d.environment, port, blue=d.original_tg, green=d.replacement_tg, percent=0)
        self._journal.log(d, reasons.replacement_created(ts.id, plan.replacement_tg, original.id if original else None,
                                                         plan.original_tg))
        self._wake()

    def _last_task_failure(self, d: CodeDeployment) -> str:
        last = self._services.last_task_failure(d.replacement_task_set) if d.replacement_task_set else None
        return last or reasons.UNKNOWN_FAILURE

    def _allow_test_traffic(self, d: CodeDeployment, group: DeploymentGroup, spec: ServiceSpec) -> Decision:
        port = load_balancer_of(spec).test_port
        if port:
            self._router.point(d.environment, port, blue=d.original_tg, green=replacement_tg_of(d), percent=100)
            self._journal.log(d, reasons.test_traffic(port, d.replacement_tg))
        elif (self._store.lifecycle_event(d.id, d.phase) or {}).get("status") != SKIPPED:
            self._store.transition_event(d.id, d.phase, SKIPPED, why=reasons.WHY_NO_TEST_LISTENER,
                                         ended_at=self._clock())
        return Move()

    def _ready_wait(self, d: CodeDeployment, group: DeploymentGroup, spec: ServiceSpec) -> Decision:
        decision = ready_wait_step(group, continued=bool((d.continue_request or {}).get("ready")),
                                   waited=self._waited(d))
        if isinstance(decision, Move):
            if d.status == READY:
                self._store.transition(d.id, IN_PROGRESS, why=reasons.WHY_CONTINUED)
        elif d.status != READY:
            self._store.transition(d.id, READY, why=reasons.WHY_READY)
            self._journal.log(d, reasons.ready(group.ready_wait, d.environment, d.service, STOP_DEPLOYMENT))
        return decision

    def _allow_traffic(self, d: CodeDeployment, group: DeploymentGroup, spec: ServiceSpec) -> Decision:
        return traffic_step(traffic.traffic_plan(group.config), step=d.step, traffic=d.traffic,
                            waited=self._elapsed.since(d.step_at) if d.step_at else 0.0,
                            promote=bool((d.continue_request or {}).get("promote")),
                            gate=lambda: self._alarms.traffic_gate(d, group, spec),
                            gate_first=bool(group.probe and load_balancer_of(spec).test_port))

    def _shift(self, d: CodeDeployment, spec: ServiceSpec, shift: Shift) -> None:
        self._router.point(d.environment, load_balancer_of(spec).port, blue=d.original_tg, green=replacement_tg_of(d),
                           percent=shift.percent)
        now = self._clock()
        timings = dict(d.timings)
        timings.setdefault("firstProductionTraffic", round(now - d.created_at, 3))
        if shift.percent >= 100:
            timings.setdefault("allProductionTraffic", round(now - d.created_at, 3))
        self._store.update(d.id, step=shift.step, step_at=now, traffic=int(round(shift.percent)), timings=timings,
                           waiting="", outbox=[stream_events.traffic_shifted(d, shift.percent, now=now)])
        self._journal.log(d, reasons.shifted(shift.percent, d.replacement_tg, d.original_tg))
        self._wake()

    def _termination_wait(self, d: CodeDeployment, group: DeploymentGroup, spec: ServiceSpec) -> Decision:
        return termination_wait_step(group, has_original=d.original_task_set is not None, waited=self._waited(d),
                                     requested=bool((d.continue_request or {}).get("termination")),
                                     original_tg=d.original_tg,
                                     gate=lambda: self._alarms.traffic_gate(d, group, spec))

    def _terminate(self, d: CodeDeployment, group: DeploymentGroup, spec: ServiceSpec) -> Decision:
        ts = self._services.task_set(d.replacement_task_set) if d.replacement_task_set else None
        if ts is not None and ts.status != PRIMARY:
            self._services.update_service_primary_task_set(ts.id)
        if d.original_task_set is None or group.termination_action == KEEP_ALIVE:
            if d.original_task_set:
                self._journal.log(d, reasons.kept_alive(d.original_task_set))
            self._outcomes.succeed(d)
            return None
        original = self._services.task_set(d.original_task_set)
        if original is not None and original.status != INACTIVE:
            if original.scale != 0:
                self._journal.log(d, reasons.terminating(d.original_task_set))
                self._services.update_task_set(d.original_task_set, scale=0)
            return Wait(reasons.waiting_drain("original", d.original_task_set))
        self._outcomes.succeed(d)
        return None

    def _hook_event(self, d: CodeDeployment, group: DeploymentGroup, spec: ServiceSpec) -> Decision:
        event = d.phase
        function = appspec_hooks(d).get(event)
        ev = self._store.lifecycle_event(d.id, event)
        decision = hook_event_step(event, function, ev["status"] if ev else None, ev["message"] if ev else "")
        if not isinstance(decision, Run):
            return decision
        assert function is not None  # (RUN only for an event whose AppSpec names a hook)
        hook = hook_for(group, function)
        assert hook is not None  # (check_appspec refused an AppSpec naming a hook its group does not define)
        return self._hooks.step(d, hook, spec, event, function, ev)

    def _rollback_cleanup(self, d: CodeDeployment, group: DeploymentGroup, spec: ServiceSpec) -> Decision:
        """Traffic is already back on blue: drain and remove the replacement task set."""
        ts = self._services.task_set(d.replacement_task_set) if d.replacement_task_set else None
        if ts is not None and ts.status != INACTIVE:
            if ts.scale != 0:
                self._services.update_task_set(ts.id, scale=0)
            return Wait(reasons.waiting_drain("replacement", ts.id))
        self._outcomes.rollback_succeeded(d)
        return None
