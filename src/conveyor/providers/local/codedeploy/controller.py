"""The deploy controller: CodeDeploy blue/green for the local ECS services (aws-semantics §5).

It owns CodeDeploy deployments (rows in codedeploy.db), drives each one through its lifecycle
(conveyor.providers.local.codedeploy.lifecycle) in a loop, shifts traffic by rewriting the listeners' forward
weights in HAProxy (a runtime map: no reload), watches alarms on the metrics the sampler records,
and rolls back by pointing the listeners at blue again — one runtime call, so it takes
milliseconds while blue is warm. The ServiceController keeps each task set at its size.

    deploys = DeployController(home, services)
    deploys.start()
    d = deploys.create(spec, taskdef=..., images=[...], appspec_text=..., creator="user")
    deploys.wait(d.id, cancel=threading.Event(), timeout=600)
    deploys.rollback("production", "orders", who="ana", reason="p99 up")
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from conveyor.backend.errors import DeploymentLimitExceeded, DeploymentNotReady
from conveyor.backend.types import CodeDeployDeployment
from conveyor.config.appspec import parse_appspec
from conveyor.config.codedeploy_group import deployment_group, hook_for
from conveyor.config.codedeploy_model import (
    DEPLOYMENT_FAILURE,
    DEPLOYMENT_STOP_ON_ALARM,
    DEPLOYMENT_STOP_ON_REQUEST,
    DeploymentGroup,
)
from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import ConfigError, ConveyorError, NotFound, UserError
from conveyor.lb.haproxy import LoadBalancer
from conveyor.passes import PassTimer
from conveyor.providers.local.codedeploy.hook_runs import HookRuns
from conveyor.providers.local.codedeploy.lifecycle import WATCHED, Lifecycle
from conveyor.providers.local.codedeploy.store import (
    CREATED,
    EV_FAILED,
    EV_IN_PROGRESS,
    FAILED,
    IN_PROGRESS,
    PIPELINE,
    ROLLBACK,
    STOPPED,
    SUCCEEDED,
    USER,
    CodeDeployment,
    DeploymentStore,
)
from conveyor.providers.local.codedeploy.views import deployment_view
from conveyor.providers.local.codedeploy.watch import Watch
from conveyor.providers.local.ecs.store import INACTIVE, PRIMARY
from conveyor.providers.local.ecs.task_set_api import TaskSetApi

log = logging.getLogger("conveyor.codedeploy")

BUSY_INTERVAL = 0.2
IDLE_INTERVAL = 1.0
HOOK_WORKERS = 4
TASK_DEFINITION_ARN = "arn:aws:ecs:local:000000000000:task-definition/{}"


class DeployController(HookRuns, Lifecycle, Watch):
    def __init__(self, home: str | Path, task_sets: TaskSetApi, *, load_balancer: Callable[[str], LoadBalancer],
                 load_balancers: Callable[[], Mapping[str, LoadBalancer]], clock: Callable[[], float] = time.time,
                 mask: Callable[[str], str] | None = None, sample: bool = True):
        self.home = Path(home)
        self.task_sets = task_sets
        self.load_balancer = load_balancer  # environment -> its HAProxy (shared with the service controller)
        self.load_balancers = load_balancers
        self.clock = clock
        self.mask = mask or (lambda text: text)
        self.store = DeploymentStore(self.home / "codedeploy.db", clock=clock)
        self.lock = threading.RLock()
        self._pool = ThreadPoolExecutor(max_workers=HOOK_WORKERS, thread_name_prefix="hook")
        self._hooks: dict[tuple[str, str], tuple[Future, threading.Event]] = {}
        self._wake_event = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = PassTimer()
        self._init_watch(sample=sample)

    # -- lifecycle of the controller
    def start(self) -> None:
        self._start_watch()
        self._thread = threading.Thread(target=self._loop, name="codedeploy", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        """Stop steering; traffic stays where it is and a restarted daemon resumes."""
        self._stop.set()
        self._wake_event.set()
        for _, cancel in self._hooks.values():
            cancel.set()
        if self._thread:
            self._thread.join(timeout=10)
        self._stop_watch()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.store.close()

    def _wake(self) -> None:
        self._wake_event.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            busy = False
            started = time.monotonic()
            try:
                self._tick_watch()
                busy = self.tick()
            except Exception:  # a bug must not stop the control plane; the next pass retries
                log.exception("deploy controller pass failed")
            self.passes.record(time.monotonic() - started)
            self._wake_event.wait(BUSY_INTERVAL if busy else IDLE_INTERVAL)
            self._wake_event.clear()

    def tick(self) -> bool:
        """One pass over the deployments in flight. Returns whether any is."""
        with self.lock:
            active = self.store.active()
            for d in active:
                try:
                    self.advance(d)
                except ConveyorError as exc:
                    current = self.store.get(d.id)
                    if current is not None and not current.done:
                        self._fail(current, "INTERNAL_ERROR", str(exc))
                    else:  # it ended (failed, stopped) before the error: it cannot fail again
                        self._log(d, f"Internal error after the deployment ended: {exc}")
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
            raise UserError(f"service {spec.name} in {spec.environment} uses the {spec.controller} controller",
                            hint="blue/green deployments need deployment.controller: CODE_DEPLOY")
        if spec.load_balancer is None:
            raise UserError(f"service {spec.name} in {spec.environment} has no loadBalancer",
                            hint="a CODE_DEPLOY service needs a load balancer to shift traffic")
        raw = dict(spec.deployment)
        if config_override is not None:
            raw.update(config_override)
        group = deployment_group(raw, spec.environment_alarms)
        with self.lock:
            if client_token:
                known = self.store.by_token(client_token)
                if known is not None:
                    return known
            running = self.store.active(spec.environment, spec.name)
            if running:
                raise DeploymentLimitExceeded(
                    f"deployment {running[0].id} is already in progress for {spec.environment}/{spec.name} "
                    f"({running[0].phase})", hint="wait for it, or `conveyor deploy stop` / `conveyor rollback` it")
            name = task_definition
            text = appspec_text if appspec_text is not None else default_appspec(spec)
            text = text.replace("<TASK_DEFINITION>", TASK_DEFINITION_ARN.format(name))
            appspec = self._check_appspec(text, appspec_source, spec, group, name)
            self.task_sets.declare_service(spec, task_definition=name)
            d = self.store.create(spec.environment, spec.name, taskdef=name, appspec=text,
                                  group={"deployment": raw, "alarms": spec.environment_alarms},
                                  creator=creator, origin=origin, workdir=workdir, client_token=client_token)
            self._log(d, f"Deployment {d.id} created by {creator} for {name}"
                         + (f" (hooks: {', '.join(f'{e}={f}' for e, f in appspec.hooks)})" if appspec.hooks else "")
                         + ".")
        self._wake()
        return d

    def _check_appspec(self, text: str, source: str, spec: ServiceSpec, group: DeploymentGroup, name: str):
        appspec, problems = parse_appspec(text, source)
        errors = [p for p in problems if p.severity == "error"]
        if appspec is None or errors:
            raise ConfigError(errors or problems)
        lb = spec.load_balancer
        where = f"{source}: Resources[0].TargetService.Properties"
        if appspec.container_name != lb.container or int(appspec.container_port) != lb.container_port:
            raise UserError(f"{where}.LoadBalancerInfo names container {appspec.container_name}:"
                            f"{appspec.container_port}, but the service's loadBalancer sends traffic to "
                            f"{lb.container}:{lb.container_port}", hint="make them the same container and port")
        revision = appspec.task_definition.rsplit("/", 1)[-1]
        if revision != name:
            raise UserError(f"{where}.TaskDefinition is {appspec.task_definition}, not the revision being deployed "
                            f"({name})", hint="write TaskDefinition: <TASK_DEFINITION> and let Conveyor fill it in")
        for event, function in appspec.hooks:
            if hook_for(group, function) is None:
                known = ", ".join(sorted(group.hooks)) or "none"
                raise UserError(f"{source}: Hooks: {event} names function '{function}', which "
                                f"environments.{spec.environment}.services.{spec.name}.deployment.hooks does not "
                                f"define (defined: {known})",
                                hint="define it there as a command, a container or a URL")
        return appspec

    def continue_deployment(self, environment: str, service: str, *, who: str, reason: str = "",
                            wait_type: str | None = None) -> CodeDeployment:
        """ContinueDeployment: READY_WAIT (reroute now) or TERMINATION_WAIT (terminate blue now)."""
        with self.lock:
            d = self._current(environment, service)
            kind = {"ReadyWait": "ready", "TerminationWait": "termination"}.get(d.phase)
            wanted = {"READY_WAIT": "ready", "TERMINATION_WAIT": "termination", None: kind}[wait_type]
            if kind is None or kind != wanted:
                raise DeploymentNotReady(f"deployment {d.id} is in {d.phase}, not waiting"
                                         + (f" in {wait_type}" if wait_type else ""),
                                         hint="continue applies to a STOP_DEPLOYMENT ready wait or the "
                                              "termination wait")
            self._action(d, who, f"continue ({'READY_WAIT' if kind == 'ready' else 'TERMINATION_WAIT'})", reason)
            self.store.update(d.id, continue_request={**(d.continue_request or {}), kind: True})
            self.advance(self.store.get(d.id))
        self._wake()
        return self.store.get(d.id)

    def promote(self, environment: str, service: str, *, who: str, reason: str = "") -> CodeDeployment:
        """Skip the remaining traffic steps: all production traffic to green now."""
        with self.lock:
            d = self._current(environment, service)
            if d.phase not in ("ReadyWait", "BeforeAllowTraffic", "AllowTraffic", "AfterInstall",
                               "AfterAllowTestTraffic", "AllowTestTraffic", "Install"):
                raise DeploymentNotReady(f"deployment {d.id} is in {d.phase}: nothing left to promote")
            self._action(d, who, "promote", reason)
            self.store.update(d.id, continue_request={**(d.continue_request or {}), "promote": True, "ready": True})
            self.advance(self.store.get(d.id))
        self._wake()
        return self.store.get(d.id)

    def stop(self, environment: str, service: str, *, who: str, reason: str = "",
             rollback: bool | None = None) -> CodeDeployment:
        """StopDeployment: status Stopped; traffic back to blue when `rollback` (default: the
        group's DEPLOYMENT_STOP_ON_REQUEST)."""
        with self.lock:
            d = self._current(environment, service)
            group = self._group(d)
            if rollback is None:
                rollback = group.rolls_back_on(DEPLOYMENT_STOP_ON_REQUEST)
            self._action(d, who, "stop" + (" with rollback" if rollback else " without rollback"), reason)
            self._fail(d, "MANUAL_STOP", f"stopped by {who}" + (f": {reason}" if reason else ""),
                       status=STOPPED, rollback=rollback)
        self._wake()
        return self.store.get(d.id)

    def rollback(self, environment: str, service: str, *, who: str, reason: str = "") -> CodeDeployment:
        """While blue is alive: traffic back to it at once, green drained and removed. After blue
        is gone: the previous revision deployed as a new deployment."""
        with self.lock:
            active = self.store.active(environment, service)
            current = next((d for d in active if d.phase != "RollbackCleanup"), None)
            if current is not None and current.replacement_task_set and current.phase in WATCHED:
                self._action(current, who, "rollback", reason)
                self._fail(current, "MANUAL_STOP", f"rolled back by {who}" + (f": {reason}" if reason else ""),
                           status=STOPPED, rollback=True)
                return self.store.get(current.id)
            if current is not None and current.phase in ("Terminate", "End"):
                raise UserError(f"deployment {current.id} is terminating the original task set; blue is no longer "
                                "serving", hint="run `conveyor rollback` again once it finished: it then redeploys "
                                                "the previous revision")
            if current is not None:
                raise UserError(f"deployment {current.id} is in {current.phase}: no replacement exists yet, so "
                                "there is nothing to roll back", hint="`conveyor deploy stop` ends it")
            return self._redeploy_previous(environment, service, who, reason)

    def _redeploy_previous(self, environment: str, service: str, who: str, reason: str) -> CodeDeployment:
        spec = self.task_sets.service_spec(environment, service)
        if spec is None:
            raise NotFound(f"no service '{service}' in environment '{environment}'")
        live = self.task_sets.task_sets(environment, service)
        primary = next((x for x in live if x.status == PRIMARY), None)
        kept = next((x for x in live if x is not primary and x.status != INACTIVE and x.scale), None)
        past = [d for d in self.store.list(environment, service, limit=50) if d.status == SUCCEEDED]
        current_rev = primary.task_definition if primary else None
        previous = next((d.taskdef for d in past if d.taskdef != current_rev), None)
        if kept is not None and primary is not None and self._healthy_targets(spec, kept.target_group):
            return self._flip_to_kept(spec, primary, kept, who, reason)
        if previous is None:
            raise UserError(f"{environment}/{service} has no earlier revision to roll back to",
                            hint="it has run only one revision so far")
        last = past[0] if past else None
        text = last.appspec if last else default_appspec(spec)
        text = text.replace(TASK_DEFINITION_ARN.format(last.taskdef) if last else "<TASK_DEFINITION>",
                            "<TASK_DEFINITION>")
        d = self.create(spec, task_definition=previous, appspec_text=text, creator=ROLLBACK,
                        origin={"rollbackOf": last.id if last else None, "by": who},
                        workdir=last.workdir if last else None,
                        config_override={"config": "CodeDeployDefault.ECSAllAtOnce"})
        self._action(d, who, f"rollback: redeploy {previous} (blue is no longer running)", reason)
        return d

    def _flip_to_kept(self, spec: ServiceSpec, primary, kept, who: str, reason: str) -> CodeDeployment:
        """KEEP_ALIVE left the previous task set running: point both listeners back at it in one
        runtime call each, make it PRIMARY, and drain the current one (a rollback deployment)."""
        started = time.monotonic()
        lb = self.load_balancer(spec.environment)
        for port in filter(None, (spec.load_balancer.port, spec.load_balancer.test_port)):
            lb.set_weights(port, forward_weights(primary.target_group, kept.target_group, 100))
        took = time.monotonic() - started
        self.task_sets.update_service_primary_task_set(kept.id)
        rb = self.store.create(spec.environment, spec.name, taskdef=kept.task_definition, appspec="",
                               group={"deployment": spec.deployment, "alarms": spec.environment_alarms},
                               creator=ROLLBACK, origin={"by": who, "keptAlive": kept.id}, status=IN_PROGRESS)
        self.store.update(rb.id, phase="RollbackCleanup", original_task_set=kept.id, original_tg=kept.target_group,
                          replacement_task_set=primary.id, replacement_tg=primary.target_group,
                          rollback_info={"trafficRestoredSeconds": round(took, 4),
                                         "rollbackMessage": f"back to the kept task set {kept.id}"})
        rb = self.store.get(rb.id)
        self._action(rb, who, f"rollback to {kept.task_definition} (kept alive)", reason)
        self._log(rb, f"Rollback: traffic back on (target-group {kept.target_group}) in {took * 1000:.0f} ms; "
                      f"draining task set {primary.id}.")
        self._wake()
        return rb

    # -- failing, stopping, rolling back
    def _fail(self, d: CodeDeployment, code: str, message: str, *, status: str = FAILED,
              rollback: bool | None = None) -> None:
        group = self._group(d)
        if rollback is None:
            rollback = group.rolls_back_on(DEPLOYMENT_STOP_ON_ALARM if code == "ALARM_ACTIVE" else DEPLOYMENT_FAILURE)
        now = self.clock()
        self._stop_hooks(d)
        if d.phase not in ("Terminate", "End") and self.store.lifecycle_event(d.id, d.phase) is not None:
            ev = self.store.lifecycle_event(d.id, d.phase)
            if ev["status"] == EV_IN_PROGRESS:
                self.store.transition_event(d.id, d.phase, EV_FAILED, ended_at=now, message=message)
        timings = {**d.timings, "total": round(now - d.created_at, 3)}
        if d.phase_at is not None:
            timings[d.phase] = round(now - d.phase_at, 3)
        self.store.transition(d.id, status, why=f"{code}: {message}", error_code=code, error_message=message,
                              completed_at=now, waiting="", timings=timings)
        self._log(d, f"Deployment {d.id} {status.lower()}: {code}: {message}")
        if rollback and d.replacement_task_set and d.phase != "BeforeInstall":
            self._roll_back(d, message)
        elif d.replacement_task_set:
            self._log(d, "No rollback: the replacement task set and the traffic stay as they are.")
        self._finished(d)

    def _roll_back(self, d: CodeDeployment, why: str) -> None:
        spec = self._spec(d)
        original = self.task_sets.task_set(d.original_task_set) if d.original_task_set else None
        if d.original_task_set is None:
            self._log(d, "Rollback: nothing to return to (the service's first deployment); the replacement stays.")
            return
        if original is None or original.status == INACTIVE or not self._healthy_targets(spec, d.original_tg):
            self._log(d, "Rollback: the original task set has no healthy tasks, so traffic stays where it is "
                         "(Conveyor never routes to a target group without healthy targets); "
                         "`conveyor rollback` redeploys the previous revision.")
            return
        started = time.monotonic()
        self._weights(d, spec, spec.load_balancer.port, 0)
        if spec.load_balancer.test_port:
            self._weights(d, spec, spec.load_balancer.test_port, 0)
        took = time.monotonic() - started
        if original.status != PRIMARY:
            self.task_sets.update_service_primary_task_set(original.id)
        if (original.scale or 0) < 100:
            self.task_sets.update_task_set(original.id, scale=100)
        rb = self.store.create(d.environment, d.service, taskdef=original.task_definition, appspec="",
                               group=d.grp, creator=ROLLBACK, origin={"rollbackOf": d.id}, workdir=d.workdir,
                               status=IN_PROGRESS)
        self.store.update(rb.id, phase="RollbackCleanup", original_task_set=d.original_task_set,
                          original_tg=d.original_tg, replacement_task_set=d.replacement_task_set,
                          replacement_tg=d.replacement_tg, traffic=0)
        info = {"rollbackDeploymentId": rb.id, "rollbackMessage": f"Rolled back: {why}",
                "trafficRestoredSeconds": round(took, 4)}
        self.store.update(d.id, rollback_info=info, traffic=0)
        self._log(d, f"Rollback {rb.id}: production (and test) traffic back on (target-group {d.original_tg}) "
                     f"in {took * 1000:.0f} ms; the replacement task set is drained and removed.")

    def _healthy_targets(self, spec: ServiceSpec, target_group: str | None) -> bool:
        if not target_group:
            return False
        try:
            return any(t.state == "healthy" for t in self.load_balancer(spec.environment).targets(target_group))
        except ConveyorError:
            return False

    def _weights(self, d: CodeDeployment, spec: ServiceSpec, port: int, percent: float) -> None:
        """Point a listener `percent` % at the replacement and the rest at the original. Both
        groups stay in the forward action (one at weight 0), so both are attached and health
        checked, as a target group pair is on ALB."""
        self.load_balancer(spec.environment).set_weights(port, forward_weights(
            d.original_tg, d.replacement_tg or self.store.get(d.id).replacement_tg, percent))

    # -- views
    def view(self, dep_id: str) -> CodeDeployDeployment:
        d = self.store.get(dep_id)
        if d is None:
            raise NotFound(f"no deployment {dep_id}")
        return deployment_view(self.store, self.task_sets.task_set_status, d)

    def views(self, environment: str, service: str, limit: int = 10) -> list[CodeDeployDeployment]:
        return [deployment_view(self.store, self.task_sets.task_set_status, d)
                for d in self.store.list(environment, service, limit=limit)]

    # -- helpers
    def _spec(self, d: CodeDeployment) -> ServiceSpec:
        spec = self.task_sets.service_spec(d.environment, d.service)
        if spec is None:
            raise NotFound(f"service {d.environment}/{d.service} is gone")
        return spec

    def _group(self, d: CodeDeployment) -> DeploymentGroup:
        return deployment_group(d.grp.get("deployment") or {}, d.grp.get("alarms") or {})

    def _appspec_hooks(self, d: CodeDeployment) -> dict[str, str]:
        if not d.appspec:
            return {}
        appspec, _ = parse_appspec(d.appspec, "appspec")
        return dict(appspec.hooks) if appspec else {}

    def _current(self, environment: str, service: str) -> CodeDeployment:
        active = [d for d in self.store.active(environment, service) if d.phase != "RollbackCleanup"]
        if not active:
            raise DeploymentNotReady(f"no deployment in progress for {environment}/{service}")
        return active[0]

    def _action(self, d: CodeDeployment, who: str, action: str, reason: str) -> None:
        self.store.log(d.id, f"{action} by {who}" + (f": {reason}" if reason else ""), kind="action", who=who)
        self.task_sets.service_event(d.environment, d.service, f"(service {d.service}) (deployment {d.id}) "
                                                            f"{action} by {who}" + (f": {reason}" if reason else "."))

    def _log(self, d: CodeDeployment, message: str) -> None:
        self.store.log(d.id, message)
        self.task_sets.service_event(d.environment, d.service, f"(service {d.service}) (deployment {d.id}) {message}")
        log.info("%s/%s %s", d.environment, d.service, message)

    def _finished(self, d: CodeDeployment) -> None:
        self._stop_probe(d.id)


def forward_weights(blue: str | None, green: str, percent: float) -> dict[str, int]:
    """ALB ForwardConfig weights (0-999) sending `percent` % to green, in steps of 0.1 %.

    >>> forward_weights("b", "g", 10)
    {'b': 900, 'g': 100}
    >>> forward_weights("b", "g", 100), forward_weights(None, "g", 0)
    ({'b': 0, 'g': 1}, {'g': 1})
    """
    if blue is None:
        return {green: 1}
    w = min(1000, max(0, round(percent * 10)))
    if w == 0:
        return {blue: 1, green: 0}
    if w == 1000:
        return {blue: 0, green: 1}
    return {blue: 1000 - w, green: w}


def default_appspec(spec: ServiceSpec) -> str:
    """The AppSpec a deployment without one uses: the service's container and port, no hooks."""
    lb = spec.load_balancer
    return ("version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n"
            "        TaskDefinition: <TASK_DEFINITION>\n        LoadBalancerInfo:\n"
            f"          ContainerName: {lb.container}\n          ContainerPort: {lb.container_port}\n")


__all__ = ["CREATED", "PIPELINE", "DeployController", "DeploymentLimitExceeded", "DeploymentNotReady"]
