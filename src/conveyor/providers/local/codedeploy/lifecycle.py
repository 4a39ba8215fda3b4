"""One step of a CodeDeploy ECS deployment at a time (aws-semantics §5.3), as a pure-ish state
machine over a stored row: `advance(d)` looks at where the deployment is (its phase), at the world
(task sets, hooks, alarms, the clock) and takes the next step, writing it down first. Any step may
be repeated after a crash: each one checks what is already done.

Phases, in order: Start → BeforeInstall → Install → AfterInstall → AllowTestTraffic →
AfterAllowTestTraffic → ReadyWait → BeforeAllowTraffic → AllowTraffic → AfterAllowTraffic →
TerminationWait → Terminate → End. A rollback deployment has one phase: RollbackCleanup.

Mixed into DeployController (which provides store, services, clock, _group, _appspec_hooks,
_run_hook, _fail, _weights, _alarm_gate, _traffic_gate, _log).
"""

from __future__ import annotations

import logging

from conveyor.config.codedeploy_model import (
    CONTINUE_DEPLOYMENT,
    HOOK_EVENTS,
    KEEP_ALIVE,
    STOP_DEPLOYMENT,
    DeploymentGroup,
)
from conveyor.deploy import traffic
from conveyor.deploy.spec import ServiceSpec
from conveyor.providers.local.codedeploy.store import (
    EV_FAILED,
    EV_IN_PROGRESS,
    EV_SUCCEEDED,
    FAILED,
    IN_PROGRESS,
    READY,
    SKIPPED,
    STOPPED,
    SUCCEEDED,
    CodeDeployment,
)
from conveyor.providers.local.ecs.store import INACTIVE, PRIMARY

log = logging.getLogger("conveyor.codedeploy")

PHASES = ("Start", "BeforeInstall", "Install", "AfterInstall", "AllowTestTraffic", "AfterAllowTestTraffic",
          "ReadyWait", "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic", "TerminationWait", "Terminate",
          "End")
#: Phases during which alarms can stop the deployment and a rollback reroutes to blue.
WATCHED = ("Install", "AfterInstall", "AllowTestTraffic", "AfterAllowTestTraffic", "ReadyWait",
           "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic", "TerminationWait")
#: Install fails after this many failed replacement tasks (at least; or the desired count)...
INSTALL_FAILURE_LIMIT = 3
#: ...or when the replacement task set is not healthy within this time (ECS_UPDATE_ERROR / TIMEOUT).
INSTALL_TIMEOUT = 600.0


def next_phase(phase: str) -> str:
    return PHASES[PHASES.index(phase) + 1]


class Lifecycle:
    def advance(self, d: CodeDeployment) -> None:
        spec = self._spec(d)
        group = self._group(d)
        if d.phase == "RollbackCleanup":
            self._rollback_cleanup(d)
            return
        if d.phase in WATCHED and self._alarm_gate(d, group, spec):
            return
        handler = getattr(self, f"_phase_{d.phase}", None)
        if d.phase in HOOK_EVENTS:
            self._hook_phase(d, group, spec)
        elif handler is not None:
            handler(d, group, spec)

    def _move(self, d: CodeDeployment, phase: str | None = None, **changes) -> None:
        """Leave the current phase (its duration goes into timings) for the next one."""
        now = self.clock()
        phase = phase or next_phase(d.phase)
        timings = dict(d.timings)
        if d.phase_at is not None and d.phase != "Start":
            timings[d.phase] = round(now - d.phase_at, 3)
        self.store.update(d.id, phase=phase, timings=timings, waiting="", **changes)
        if d.phase not in HOOK_EVENTS and d.phase not in ("Start", "ReadyWait", "TerminationWait", "Terminate"):
            ev = self.store.lifecycle_event(d.id, d.phase)
            if ev is None or ev["status"] == EV_IN_PROGRESS:  # (a Skipped one stays Skipped)
                self.store.transition_event(d.id, d.phase, EV_SUCCEEDED, ended_at=now)
        d.phase, d.timings, d.phase_at = phase, timings, now
        if phase not in HOOK_EVENTS and phase not in ("ReadyWait", "TerminationWait", "Terminate", "End") \
                and self.store.lifecycle_event(d.id, phase) is None:
            self.store.transition_event(d.id, phase, EV_IN_PROGRESS, started_at=now)
        self._wake()

    # -- phases
    def _phase_Start(self, d: CodeDeployment, group: DeploymentGroup, spec: ServiceSpec) -> None:
        self._log(d, f"Deployment {d.id} of {d.taskdef} started ({group.config.name}: "
                     f"{traffic.describe_plan(traffic.traffic_plan(group.config))}).")
        if d.status != IN_PROGRESS:  # (already, when a crash came between the two writes)
            self.store.transition(d.id, IN_PROGRESS, why="started")
        self._move(d, "BeforeInstall")

    def _phase_Install(self, d: CodeDeployment, group: DeploymentGroup, spec: ServiceSpec) -> None:
        if d.replacement_task_set is None:
            self._create_replacement(d, spec)
            return
        status = self.task_sets.task_set_status(d.replacement_task_set)
        limit = max(INSTALL_FAILURE_LIMIT, status.desired)
        if status.failed_tasks >= limit:
            reason = self._last_task_failure(d)
            self._fail(d, "ECS_UPDATE_ERROR", f"{status.failed_tasks} tasks of the replacement task set failed "
                                              f"to start or stay healthy; last: {reason}")
            return
        if self.clock() - (d.phase_at or d.created_at) > INSTALL_TIMEOUT:
            self._fail(d, "TIMEOUT", f"the replacement task set was not healthy within {INSTALL_TIMEOUT:.0f} s "
                                     f"({status.healthy}/{status.desired} healthy)")
            return
        if not status.steady:
            self._wait(d, f"replacement task set {status.healthy}/{status.desired} tasks healthy in "
                          f"(target-group {d.replacement_tg})")
            return
        self._log(d, f"Replacement task set {d.replacement_task_set} ({d.taskdef}) is healthy in "
                     f"(target-group {d.replacement_tg}): {status.healthy} tasks.")
        self._move(d)

    def _create_replacement(self, d: CodeDeployment, spec: ServiceSpec) -> None:
        deps = self.task_sets.task_sets(d.environment, d.service)
        original = next((x for x in deps if x.status == PRIMARY), None)
        names = [tg.name for tg in spec.target_groups]
        original_tg = None
        if original is not None:  # (a service that ran rolling deployments gets the pair's first group)
            original_tg = original.target_group if original.target_group in names else names[0]
        replacement_tg = next(n for n in names if n != original_tg)
        # Whatever else runs in that target group (a task set kept alive by KEEP_ALIVE, a
        # replacement left by a crash) goes: the new one takes its place.
        for other in deps:
            if other.target_group == replacement_tg and other.status != INACTIVE and other is not original:
                self.task_sets.update_task_set(other.id, scale=0)
        if original is not None and (original.scale is None or original.target_group != original_tg):
            self.task_sets.update_task_set(original.id, scale=100, target_group=original_tg)
        ts = self.task_sets.create_task_set(d.environment, d.service, d.taskdef, replacement_tg, 100,
                                           {"codedeploy": d.id}, primary=original is None)
        self.store.update(d.id, original_task_set=original.id if original else None, original_tg=original_tg,
                          replacement_task_set=ts.id, replacement_tg=replacement_tg)
        d.original_tg, d.replacement_tg = original_tg, replacement_tg
        # Attach the replacement's target group (weight 0) so its targets are health checked.
        for port in filter(None, (spec.load_balancer.port, spec.load_balancer.test_port)):
            self._weights(d, spec, port, 0)
        self._log(d, f"Install: replacement task set {ts.id} created in (target-group {replacement_tg})"
                     + (f"; original task set {original.id} serves production from (target-group {original_tg})."
                        if original else "; no original task set (the service's first deployment)."))
        self._wake()

    def _phase_AllowTestTraffic(self, d: CodeDeployment, group: DeploymentGroup, spec: ServiceSpec) -> None:
        lb = spec.load_balancer
        if lb.test_port:
            self._weights(d, spec, lb.test_port, 100)
            self._log(d, f"AllowTestTraffic: test listener {lb.test_port} → (target-group {d.replacement_tg}).")
        elif (self.store.lifecycle_event(d.id, "AllowTestTraffic") or {}).get("status") != SKIPPED:
            self.store.transition_event(d.id, "AllowTestTraffic", SKIPPED, why="no test listener",
                                        ended_at=self.clock())
        self._move(d)

    def _phase_ReadyWait(self, d: CodeDeployment, group: DeploymentGroup, spec: ServiceSpec) -> None:
        if group.ready_action == CONTINUE_DEPLOYMENT or (d.continue_request or {}).get("ready"):
            if d.status == READY:
                self.store.transition(d.id, IN_PROGRESS, why="continued (READY_WAIT)")
            self._move(d)
            return
        if d.status != READY:
            self.store.transition(d.id, READY, why="waiting for ContinueDeployment (STOP_DEPLOYMENT)")
            self._log(d, f"Ready: green is serving the test listener; waiting up to {group.ready_wait:g} s for "
                         f"`conveyor deploy continue {d.environment} {d.service}` ({STOP_DEPLOYMENT}).")
        if self.clock() - (d.phase_at or d.created_at) >= group.ready_wait:
            self._fail(d, "TIMEOUT", f"nobody continued the deployment within the ready wait of "
                                     f"{group.ready_wait:g} s", status=STOPPED, rollback=True)
            return
        left = group.ready_wait - (self.clock() - (d.phase_at or d.created_at))
        self._wait(d, f"manual reroute (`conveyor deploy continue`); stops in {left:.0f} s")

    def _phase_AllowTraffic(self, d: CodeDeployment, group: DeploymentGroup, spec: ServiceSpec) -> None:
        plan = traffic.traffic_plan(group.config)
        promote = bool((d.continue_request or {}).get("promote"))
        if d.step < 0:
            # With probe traffic on the test listener, green's alarms judge it before any
            # production request reaches it.
            gate = self._traffic_gate(d, group, spec) if group.probe and spec.load_balancer.test_port and not promote else None
            if gate:
                self._wait(d, "before production traffic: " + gate)
                return
            self._shift(d, spec, 0 if not promote else len(plan) - 1, plan)
            return
        if d.step >= len(plan) - 1:
            self._move(d, step=d.step)
            return
        if promote:
            self._shift(d, spec, len(plan) - 1, plan)
            return
        waited = self.clock() - (d.step_at or self.clock())
        if waited < plan[d.step].wait:
            self._wait(d, f"{d.traffic}% of production on green; next step in {plan[d.step].wait - waited:.0f} s")
            return
        gate = self._traffic_gate(d, group, spec)
        if gate:
            self._wait(d, gate)
            return
        self._shift(d, spec, d.step + 1, plan)

    def _shift(self, d: CodeDeployment, spec: ServiceSpec, step: int, plan: list) -> None:
        percent = plan[step].percent
        self._weights(d, spec, spec.load_balancer.port, percent)
        now = self.clock()
        timings = dict(d.timings)
        timings.setdefault("firstProductionTraffic", round(now - d.created_at, 3))
        if percent >= 100:
            timings.setdefault("allProductionTraffic", round(now - d.created_at, 3))
        self.store.update(d.id, step=step, step_at=now, traffic=int(round(percent)), timings=timings, waiting="")
        self._log(d, f"AllowTraffic: {percent:g}% of production traffic → (target-group {d.replacement_tg})"
                     + (f", {100 - percent:g}% stays on (target-group {d.original_tg})"
                        if d.original_tg and percent < 100 else "") + ".")
        self._wake()

    def _phase_TerminationWait(self, d: CodeDeployment, group: DeploymentGroup, spec: ServiceSpec) -> None:
        if d.original_task_set is None or group.termination_action == KEEP_ALIVE:
            self._move(d)
            return
        requested = bool((d.continue_request or {}).get("termination"))
        left = group.termination_wait - (self.clock() - (d.phase_at or d.created_at))
        if left > 0 and not requested:
            self._wait(d, f"termination wait: blue (target-group {d.original_tg}) stays warm for {left:.0f} s "
                          "more; `conveyor rollback` returns traffic to it at once")
            return
        gate = None if requested else self._traffic_gate(d, group, spec)
        if gate:
            self._wait(d, gate)
            return
        self._move(d)

    def _phase_Terminate(self, d: CodeDeployment, group: DeploymentGroup, spec: ServiceSpec) -> None:
        ts = self.task_sets.task_set(d.replacement_task_set)
        if ts is not None and ts.status != PRIMARY:
            self.task_sets.update_service_primary_task_set(d.replacement_task_set)
        if d.original_task_set is None or group.termination_action == KEEP_ALIVE:
            if d.original_task_set:
                self._log(d, f"Original task set {d.original_task_set} kept alive (KEEP_ALIVE), without traffic.")
            self._succeed(d)
            return
        original = self.task_sets.task_set(d.original_task_set)
        if original is not None and original.status != INACTIVE:
            if original.scale != 0:
                self._log(d, f"Terminating the original task set {d.original_task_set} (draining its tasks).")
                self.task_sets.update_task_set(d.original_task_set, scale=0)
            self._wait(d, f"original task set {d.original_task_set} draining and stopping")
            return
        self._succeed(d)

    def _succeed(self, d: CodeDeployment) -> None:
        now = self.clock()
        timings = dict(d.timings)
        if d.phase_at is not None:
            timings[d.phase] = round(now - d.phase_at, 3)
        timings["total"] = round(now - d.created_at, 3)
        self.store.transition(d.id, SUCCEEDED, why="green serves production", phase="End", completed_at=now,
                              timings=timings, waiting="")
        self._log(d, f"Deployment {d.id} succeeded: {d.taskdef} serves production "
                     f"(target-group {d.replacement_tg}) in {timings['total']:.1f} s.")
        self._finished(d)

    # -- hooks
    def _hook_phase(self, d: CodeDeployment, group: DeploymentGroup, spec: ServiceSpec) -> None:
        event = d.phase
        function = self._appspec_hooks(d).get(event)
        ev = self.store.lifecycle_event(d.id, event)
        if function is None:
            if ev is None or ev["status"] != SKIPPED:
                self.store.transition_event(d.id, event, SKIPPED, why="no hook", started_at=self.clock(),
                                            ended_at=self.clock())
            self._move(d)
            return
        if ev is not None and ev["status"] == EV_SUCCEEDED:
            self._move(d)
            return
        if ev is not None and ev["status"] == EV_FAILED:
            rollback = event != "BeforeInstall"  # nothing to undo before Install (§5.3)
            self._fail(d, "HOOK_EXECUTION_FAILURE", f"{event} hook {function} failed: {ev['message']}",
                       rollback=rollback)
            return
        self._run_hook(d, group, spec, event, function, ev)

    # -- rollback deployments
    def _rollback_cleanup(self, d: CodeDeployment) -> None:
        """Traffic is already back on blue: drain and remove the replacement task set."""
        ts = self.task_sets.task_set(d.replacement_task_set) if d.replacement_task_set else None
        if ts is not None and ts.status != INACTIVE:
            if ts.scale != 0:
                self.task_sets.update_task_set(ts.id, scale=0)
            self._wait(d, f"replacement task set {ts.id} draining and stopping")
            return
        now = self.clock()
        self.store.transition(d.id, SUCCEEDED, why="the replacement task set is gone", phase="End", completed_at=now,
                              timings={**d.timings, "total": round(now - d.created_at, 3)}, waiting="")
        self._log(d, f"Rollback deployment {d.id} succeeded: the replacement task set is gone.")
        self._finished(d)

    def _last_task_failure(self, d: CodeDeployment) -> str:
        return (self.task_sets.last_task_failure(d.replacement_task_set) if d.replacement_task_set else None) or "unknown"

    def _wait(self, d: CodeDeployment, why: str) -> None:
        if d.waiting != why:
            self.store.update(d.id, waiting=why)
            d.waiting = why


__all__ = ["FAILED", "PHASES", "WATCHED", "Lifecycle"]
