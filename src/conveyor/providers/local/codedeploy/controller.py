"""The deploy controller: CodeDeploy blue/green for the local ECS services (aws-semantics §5).

It owns CodeDeploy deployments (rows in codedeploy.db) and offers CodeDeploy's API over them
(create, continue, stop, roll back, a hook's status, get); a loop drives each deployment through
its lifecycle. It uses ECS only through the task-set API (CreateTaskSet, UpdateTaskSet,
UpdateServicePrimaryTaskSet, DescribeTaskSets) and HAProxy only through the injected load
balancers. The work is done by collaborators it composes, each in its module:

    Journal       the history: events, human actions (who, why), mirrored as service events
    TrafficRouter listener forward weights, healthy-target checks, instant reroute to blue
    HookRuns      lifecycle hooks on a worker pool: attempts, callBackDelay, callbacks
    AlarmWatch    the metrics sampler, alarm evaluation, the alarm stop and the traffic gate
    Probes        synthetic traffic to the test listener while green is judged
    Rollbacks     reroute to blue with a rollback deployment; redeploy once blue is gone
    Outcomes      how a deployment ends (Succeeded, Failed, Stopped), rolling back as configured
    Lifecycle     one step per pass, as the pure rules of conveyor.providers.local.codedeploy.steps say

    deploys = DeployController(home, task_sets, load_balancer=..., load_balancers=...)
    deploys.start()
    d = deploys.create(spec, task_definition="orders:7", appspec_text=text, creator="user")
    deploys.rollback("production", "orders", who="ana", reason="p99 up")
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from pathlib import Path

from conveyor.backend.errors import DeploymentLimitExceeded, DeploymentNotReady
from conveyor.backend.types import CodeDeployDeployment
from conveyor.config.codedeploy_group import deployment_group
from conveyor.config.codedeploy_model import DEPLOYMENT_STOP_ON_REQUEST
from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import ConveyorError, UserError
from conveyor.lb.haproxy import LoadBalancer
from conveyor.metrics.store import MetricStore
from conveyor.providers.local.codedeploy import reasons
from conveyor.providers.local.codedeploy.alarms import AlarmWatch
from conveyor.providers.local.codedeploy.events import Cause
from conveyor.providers.local.codedeploy.hook_runs import HookRuns, Invoke
from conveyor.providers.local.codedeploy.hooks import invoke_hook
from conveyor.providers.local.codedeploy.journal import Journal
from conveyor.providers.local.codedeploy.lifecycle import Lifecycle
from conveyor.providers.local.codedeploy.loop import ControlLoop
from conveyor.providers.local.codedeploy.outcomes import Outcomes
from conveyor.providers.local.codedeploy.probes import Probes
from conveyor.providers.local.codedeploy.revision import (
    PLACEHOLDER,
    TASK_DEFINITION_ARN,
    check_appspec,
    default_appspec,
    group_of,
    load_balancer_of,
)
from conveyor.providers.local.codedeploy.rollback import KeptAlive, Rollbacks
from conveyor.providers.local.codedeploy.routing import TrafficRouter
from conveyor.providers.local.codedeploy.states import STOPPED
from conveyor.providers.local.codedeploy.steps import PROMOTABLE, ROLLBACK_CLEANUP, TERMINATING, WAIT_TYPES, WATCHED
from conveyor.providers.local.codedeploy.store import CREATED, PIPELINE, ROLLBACK, USER, CodeDeployment, DeploymentStore
from conveyor.providers.local.codedeploy.views import deployment_view
from conveyor.providers.local.ecs.task_set_api import TaskSetApi

log = logging.getLogger("conveyor.codedeploy")

#: continue_request keys, by ContinueDeployment's wait type.
CONTINUE_KEYS = {"READY_WAIT": "ready", "TERMINATION_WAIT": "termination"}


class DeployController:
    def __init__(self, home: str | Path, task_sets: TaskSetApi, *, load_balancer: Callable[[str], LoadBalancer],
                 load_balancers: Callable[[], Mapping[str, LoadBalancer]], clock: Callable[[], float] = time.time,
                 mask: Callable[[str], str] | None = None, sample: bool = True, invoke: Invoke = invoke_hook,
                 hook_executor: Executor | None = None):
        """`invoke` and `hook_executor` run the hooks (tests pass stand-ins)."""
        self.home = Path(home)
        self.task_sets = task_sets
        self.store = DeploymentStore(self.home / "codedeploy.db", clock=clock)
        self.lock = threading.RLock()
        self.loop = ControlLoop("codedeploy", self.run_pass)
        self.passes = self.loop.passes
        wake = self.loop.wake
        self.journal = Journal(self.store, task_sets)
        self.router = TrafficRouter(load_balancer)
        self.hooks = HookRuns(self.store, self.journal, lock=self.lock, clock=clock, wake=wake, mask=mask,
                              invoke=invoke, executor=hook_executor)
        self.alarms = AlarmWatch(MetricStore(self.home / "metrics.db"), self.store, task_sets,
                                 load_balancers=load_balancers, clock=clock, sample=sample, wake=wake)
        self.probes = Probes(self.store, task_sets)
        self.rollbacks = Rollbacks(self.store, task_sets, self.router, self.journal)
        self.outcomes = Outcomes(self.store, self.journal, self.rollbacks, clock=clock, work=(self.hooks, self.probes))
        self.lifecycle = Lifecycle(self.store, task_sets, self.router, self.journal, self.hooks, self.alarms,
                                   self.outcomes, clock=clock, wake=wake)

    # -- the controller's own lifecycle
    def start(self) -> None:
        self.alarms.start()
        self.loop.start()

    def shutdown(self) -> None:
        """Stop steering; traffic stays where it is and a restarted daemon resumes."""
        self.loop.stop()
        self.hooks.shutdown()
        self.alarms.stop()
        self.probes.stop_all()
        self.store.close()

    def run_pass(self) -> bool:
        """One pass of the loop: alarms, probes, then every deployment in flight."""
        self.alarms.tick()
        self.probes.tick()
        return self.tick()

    def tick(self) -> bool:
        """One step of every deployment in flight. Returns whether any is."""
        with self.lock:
            active = self.store.active()
            for d in active:
                try:
                    self.lifecycle.advance(d)
                except ConveyorError as exc:
                    current = self.store.get(d.id)
                    if current is not None and not current.done:
                        self.outcomes.fail(current, reasons.INTERNAL_ERROR, str(exc))
                    else:  # it ended (failed, stopped) before the error: it cannot fail again
                        self.journal.log(d, reasons.internal_error_after_end(exc))
            return bool(active)

    # -- the API
    def create(self, spec: ServiceSpec, *, task_definition: str, appspec_text: str | None = None,
               appspec_source: str = "appspec.yaml", creator: str = USER, origin: dict | None = None,
               workdir: str | None = None, config_override: dict | None = None,
               client_token: str | None = None) -> CodeDeployment:
        """Create a deployment of a registered revision (status Created; the loop starts it).
        Fails with DeploymentLimitExceeded while another one is in progress, unless it is the
        one `client_token` created: that one is returned."""
        if not spec.blue_green:
            raise UserError(reasons.not_code_deploy(spec.name, spec.environment, spec.controller),
                            hint=reasons.HINT_NOT_CODE_DEPLOY)
        load_balancer_of(spec)  # (UserError without one)
        raw = {**spec.deployment, **(config_override or {})}
        group = deployment_group(raw, spec.environment_alarms)
        with self.lock:
            if client_token:
                known = self.store.by_token(client_token)
                if known is not None:
                    return known
            running = self.store.active(spec.environment, spec.name)
            if running:
                raise DeploymentLimitExceeded(
                    reasons.deployment_limit_exceeded(running[0].id, spec.environment, spec.name, running[0].phase),
                    hint=reasons.HINT_DEPLOYMENT_LIMIT)
            text = appspec_text if appspec_text is not None else default_appspec(spec)
            text = text.replace(PLACEHOLDER, TASK_DEFINITION_ARN.format(task_definition))
            appspec = check_appspec(text, appspec_source, spec, group, task_definition)
            self.task_sets.declare_service(spec, task_definition=task_definition)
            d = self.store.create(spec.environment, spec.name, taskdef=task_definition, appspec=text,
                                  group={"deployment": raw, "alarms": spec.environment_alarms},
                                  creator=creator, origin=origin, workdir=workdir, client_token=client_token)
            self.journal.log(d, reasons.created(d.id, creator, task_definition, appspec.hooks))
        self.loop.wake()
        return d

    def continue_deployment(self, environment: str, service: str, *, who: str, reason: str = "",
                            wait_type: str | None = None) -> CodeDeployment:
        """ContinueDeployment: READY_WAIT (reroute now) or TERMINATION_WAIT (terminate blue now);
        None: whichever the deployment waits in."""
        with self.lock:
            d = self._current(environment, service)
            waiting_in = WAIT_TYPES.get(d.phase)
            if waiting_in is None or (wait_type is not None and wait_type != waiting_in):
                raise DeploymentNotReady(reasons.not_waiting(d.id, d.phase, wait_type), hint=reasons.HINT_CONTINUE)
            self.journal.action(d, who, reasons.action_continue(waiting_in), reason)
            self.store.update(d.id, continue_request={**(d.continue_request or {}), CONTINUE_KEYS[waiting_in]: True})
            self.lifecycle.advance(self.store.require(d.id))
        self.loop.wake()
        return self.store.require(d.id)

    def promote(self, environment: str, service: str, *, who: str, reason: str = "") -> CodeDeployment:
        """Skip the remaining traffic steps: all production traffic to green now."""
        with self.lock:
            d = self._current(environment, service)
            if d.phase not in PROMOTABLE:
                raise DeploymentNotReady(reasons.nothing_to_promote(d.id, d.phase))
            self.journal.action(d, who, reasons.ACTION_PROMOTE, reason)
            self.store.update(d.id, continue_request={**(d.continue_request or {}), "promote": True, "ready": True})
            self.lifecycle.advance(self.store.require(d.id))
        self.loop.wake()
        return self.store.require(d.id)

    def stop(self, environment: str, service: str, *, who: str, reason: str = "",
             rollback: bool | None = None) -> CodeDeployment:
        """StopDeployment: status Stopped; traffic back to blue when `rollback` (default: the
        group's DEPLOYMENT_STOP_ON_REQUEST)."""
        with self.lock:
            d = self._current(environment, service)
            if rollback is None:
                rollback = group_of(d).rolls_back_on(DEPLOYMENT_STOP_ON_REQUEST)
            self.journal.action(d, who, reasons.action_stop(rollback), reason)
            self.outcomes.fail(d, reasons.MANUAL_STOP, reasons.stopped_by(who, reason), status=STOPPED,
                               rollback=rollback, cause=Cause(who=who, reason=reason))
        self.loop.wake()
        return self.store.require(d.id)

    def rollback(self, environment: str, service: str, *, who: str, reason: str = "") -> CodeDeployment:
        """While blue is alive: traffic back to it at once, green drained and removed. After blue
        is gone: the previous revision deployed as a new deployment."""
        with self.lock:
            current = next((d for d in self.store.active(environment, service) if d.phase != ROLLBACK_CLEANUP), None)
            if current is not None and current.replacement_task_set and current.phase in WATCHED:
                self.journal.action(current, who, reasons.ACTION_ROLLBACK, reason)
                self.outcomes.fail(current, reasons.MANUAL_STOP, reasons.rolled_back_by(who, reason), status=STOPPED,
                                   rollback=True, cause=Cause(who=who, reason=reason))
                return self.store.require(current.id)
            if current is not None and current.phase in TERMINATING:
                raise UserError(reasons.blue_terminating(current.id), hint=reasons.HINT_BLUE_TERMINATING)
            if current is not None:
                raise UserError(reasons.nothing_to_roll_back(current.id, current.phase),
                                hint=reasons.HINT_NOTHING_TO_ROLL_BACK)
            plan = self.rollbacks.previous(environment, service, who=who)
            if isinstance(plan, KeptAlive):
                rb = self.rollbacks.to_kept(plan, who=who, reason=reason)
                self.loop.wake()
                return rb
            d = self.create(plan.spec, task_definition=plan.task_definition, appspec_text=plan.appspec,
                            creator=ROLLBACK, origin=plan.origin, workdir=plan.workdir,
                            config_override=plan.config_override)
            self.journal.action(d, who, reasons.action_redeploy(plan.task_definition), reason)
            return d

    def put_hook_status(self, deployment_id: str, execution_id: str, status: str) -> dict:
        """PutLifecycleEventHookExecutionStatus: a hook reports Succeeded or Failed."""
        return self.hooks.put_status(deployment_id, execution_id, status)

    # -- views
    def view(self, dep_id: str) -> CodeDeployDeployment:
        return deployment_view(self.store, self.task_sets.task_set_status, self.store.require(dep_id))

    def views(self, environment: str, service: str, limit: int = 10) -> list[CodeDeployDeployment]:
        return [deployment_view(self.store, self.task_sets.task_set_status, d)
                for d in self.store.list(environment, service, limit=limit)]

    def alarms_view(self, environment: str, service: str) -> list[dict]:
        return self.alarms.view(environment, service)

    def metrics_view(self, environment: str, service: str, seconds: int = 60) -> dict:
        return self.alarms.metrics_view(environment, service, seconds)

    def _current(self, environment: str, service: str) -> CodeDeployment:
        active = [d for d in self.store.active(environment, service) if d.phase != ROLLBACK_CLEANUP]
        if not active:
            raise DeploymentNotReady(reasons.none_in_progress(environment, service))
        return active[0]


__all__ = ["CREATED", "PIPELINE", "TASK_DEFINITION_ARN", "DeployController", "DeploymentLimitExceeded",
           "DeploymentNotReady"]
