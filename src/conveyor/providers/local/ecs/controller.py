"""The service controller: ECS's scheduler for local environments.

A loop observes the world (the engine's containers, HAProxy's targets, container health checks),
compares it with the desired state in the store (services, their PRIMARY deployment, desired
count) and takes the next step of a rolling update (rolling.step), persisting every change. Any
pass may be interrupted: a restarted daemon adopts the running tasks, never restarts them.

Slow effects (starting a pod, stopping one after its drain) run on worker threads; the task's
row says what is under way (PENDING, STOPPING), so a worker lost in a crash is finished by the
next pass.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from conveyor.backend.types import ContainerLog, ServiceDescription
from conveyor.config.taskdef import TaskDefinition, parse_taskdef
from conveyor.deploy import rolling
from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import ConveyorError, NotFound, UserError
from conveyor.passes import PassTimer
from conveyor.providers.local.ecs import reasons
from conveyor.providers.local.ecs.balancers import LoadBalancers
from conveyor.providers.local.ecs.deployments import Deployments
from conveyor.providers.local.ecs.runtime import PodState, TaskRuntime, TaskStartError
from conveyor.providers.local.ecs.store import (
    ACTIVE,
    COMPLETED,
    DEACTIVATING,
    FAILED,
    IN_PROGRESS,
    INACTIVE,
    PENDING,
    PRIMARY,
    RUNNING,
    STOPPED,
    STOPPING,
    Deployment,
    EcsStore,
    Task,
    new_id,
)
from conveyor.providers.local.ecs.task_health import (
    ContainerHealth,
    TaskHealth,
    elb_failed,
)
from conveyor.providers.local.ecs.task_sets import TaskSets
from conveyor.providers.local.ecs.tasks import DEFAULT_STOP_TIMEOUT, PodRuntime
from conveyor.providers.local.ecs.views import ServiceViews

log = logging.getLogger("conveyor.services")

#: How often the loop passes while something moves, and while all is steady.
BUSY_INTERVAL = 0.25
IDLE_INTERVAL = 1.0
WORKERS = 8


@dataclass
class _Backoff:
    failures: int = 0
    next_start_at: float = 0.0


class ServiceController(Deployments, TaskSets, TaskHealth, ServiceViews):
    def __init__(self, home: str | Path, *, balancers: LoadBalancers, secrets: Any = None, clock: Callable[[], float] = time.time,
                 runtime: TaskRuntime | None = None):
        self.home = Path(home)
        self.clock = clock
        self.store = EcsStore(self.home / "services.db", clock=clock)
        self.runtime: TaskRuntime = runtime or PodRuntime(self.home)
        self.secrets = secrets
        self.lock = threading.RLock()
        self.balancers = balancers
        self._busy: dict[str, Future] = {}
        self._health: dict[tuple[str, str], ContainerHealth] = {}
        self._backoff: dict[tuple[str, str], _Backoff] = {}
        self._steady: dict[tuple[str, str], bool] = {}
        self._taskdefs: dict[str, TaskDefinition] = {}
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="task")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._moving = False
        self.passes = PassTimer()

    # -- lifecycle
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="services", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        """Stop steering; the data plane (tasks, HAProxy) keeps serving."""
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.store.close()

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.reconcile()
            except Exception:  # a bug must not stop the control plane; the next pass retries
                log.exception("service reconcile pass failed")
            self.passes.record(time.monotonic() - started)
            self._wake.wait(BUSY_INTERVAL if self._moving else IDLE_INTERVAL)
            self._wake.clear()

    # -- the API
    def scale(self, environment: str, service: str, count: int, by: str = "") -> ServiceDescription:
        if not 0 <= count <= 100:
            raise UserError(reasons.desired_count_out_of_range(count), hint=reasons.DESIRED_COUNT_HINT)
        with self.lock:
            self._service_row(environment, service)
            self.store.set_desired_count(environment, service, count)
            self.store.event(environment, service, reasons.desired_count_set(service, count, by))
            self._steady.pop((environment, service), None)
        self._wake.set()
        return self.describe(environment, service)

    def logs(self, environment: str, service: str, tail: int = 100) -> list[ContainerLog]:
        self._service_row(environment, service)
        out = []
        for task in self.store.tasks(environment, service):
            td = self._taskdef(task.taskdef)
            for c in td.containers if td else ():
                out.append(ContainerLog(task.id, c.name, self.runtime.logs(task.id, c.name, tail)))
        return out

    def remove_all(self) -> None:
        """Take the whole data plane of this data directory down (`conveyor down --all`)."""
        self.runtime.remove_all()
        self.balancers.stop_all()

    # -- one pass
    def reconcile(self) -> None:
        with self.lock:
            rows = self.store.services()
            if not rows:  # nothing deployed from this data directory: nothing to watch
                self._moving = False
                return
            pods = self.runtime.observe()
            moving = False
            for env in {r.environment for r in rows}:
                in_env = [r for r in rows if r.environment == env]
                try:
                    self.balancers.apply(env, [ServiceSpec.from_json(r.spec) for r in in_env])
                except ConveyorError as exc:  # e.g. a listener port taken: say so where users look
                    log.error("load balancer of environment %s: %s", env, exc)
                    for r in in_env:
                        self.store.event(env, r.name, reasons.load_balancer_problem(r.name, exc))
            for row in rows:
                if row.status != "ACTIVE":
                    continue
                moving |= self._reconcile_service(row, pods)
            live = self.store.live_task_ids()
            for task_id in pods:
                if task_id not in live and task_id not in self._busy:  # left over by a crash
                    log.info("removing task %s: no longer known", task_id)
                    self._submit(task_id, self.runtime.remove, task_id)
            self._moving = moving or bool(self._busy)

    def _reconcile_service(self, row, pods: dict[str, PodState]) -> bool:
        env, name = row.environment, row.name
        spec = ServiceSpec.from_json(row.spec)
        tasks = self.store.tasks(env, name)
        targets = {t.target_id: t for t in self.balancers.targets(spec)}
        for task in tasks:
            self._observe_task(task, pods.get(task.id), targets, spec)
        tasks = self.store.tasks(env, name)
        deps = self.store.deployments(env, name, live_only=True)
        if spec.blue_green:
            return self._reconcile_task_sets(spec, row.desired_count, deps, tasks)
        primary = next((d for d in deps if d.status == PRIMARY), None)
        if primary is None:
            return False
        self._roll(spec, row.desired_count, primary, tasks)
        tasks = self.store.tasks(env, name)
        for dep in deps:
            if dep.status == ACTIVE and not any(t.deployment_id == dep.id for t in tasks):
                self.store.transition_deployment(dep.id, status=INACTIVE, why=reasons.HISTORY_NO_TASKS_LEFT)
        return self._check_steady(spec, row.desired_count, self._primary(env, name), tasks)

    def _observe_task(self, task: Task, pod: PodState | None, targets: dict, spec: ServiceSpec) -> None:
        if task.id in self._busy:
            return
        now = self.clock()
        td = self._taskdef(task.taskdef)
        tg = self._task_target_group(task, spec)
        if task.last_status == PENDING:  # its start worker was lost (daemon restart): adopt or clean
            if pod and td and all(pod.containers.get(c.name) and pod.containers[c.name].running
                                  for c in td.essential_containers()):
                ports = self.runtime.ports(task.id, _published(spec, td))
                self.store.transition_task(task.id, RUNNING, why=reasons.HISTORY_ADOPTED, running_at=now,
                                           host_port=ports.get(spec.load_balancer.container_port) if spec.load_balancer else None)
            else:
                self._finish_stop(task, reasons.PROVISIONING_INTERRUPTED, failed=0)
            return
        if task.last_status == RUNNING:
            exited = _exited_essential(td, pod)
            if exited is not None:
                cname, code = exited
                self._begin_stop(task, spec, reasons.essential_container_exited(cname, code), failed=1,
                                 drain=False)
                return
            health = self._container_health(task, td, now)
            if health == "UNHEALTHY":
                self._begin_stop(task, spec, reasons.CONTAINER_HEALTH_CHECKS_FAILED, failed=1, drain=False)
                return
            target = targets.get(task.id)
            if tg is not None and task.host_port and target is None:
                self.balancers.get(spec.environment).register(tg.name, task.id, "127.0.0.1", task.host_port)
            in_grace = task.running_at and now - task.running_at < spec.health_check_grace_period
            if tg is not None and target is not None and not in_grace and elb_failed(task, target, spec, now):
                self._begin_stop(task, spec, reasons.elb_health_checks_failed(
                    tg.name, target.description or target.reason), failed=1, drain=True)
                return
            healthy = self._is_healthy(task, td, spec, target, health, now)
            if healthy and not task.healthy_at:
                self.store.update_task(task.id, healthy_at=now, health="HEALTHY" if health == "HEALTHY" else task.health)
                self._on_healthy(task, spec)
            elif not healthy and task.healthy_at:
                self.store.update_task(task.id, healthy_at=None)
            if health != task.health:
                self.store.update_task(task.id, health=health)
            return
        if task.last_status == DEACTIVATING:
            if tg is None or task.id not in targets or self.balancers.get(spec.environment).drained(tg.name, task.id):
                if tg is not None:
                    self.balancers.get(spec.environment).remove(tg.name, task.id)
                self.store.transition_task(task.id, STOPPING, why=reasons.HISTORY_DRAINED)
                self._submit(task.id, self._stop_task, task, td)
            return
        if task.last_status == STOPPING:
            self._submit(task.id, self._stop_task, task, td)

    def _on_healthy(self, task: Task, spec: ServiceSpec) -> None:
        self._backoff.pop((spec.environment, spec.name), None)
        dep = self.store.deployment(task.deployment_id)
        if dep and dep.status == PRIMARY and dep.rollout_state == IN_PROGRESS:
            timings = dict(dep.timings)
            timings.setdefault("firstTaskHealthy", self.clock() - dep.created_at)
            changes: dict[str, Any] = {"timings": timings}
            if spec.circuit_breaker.reset_on_healthy_task and dep.failed_tasks:
                changes["failed_tasks"] = 0
            self.store.update_deployment(dep.id, **changes)

    # -- rolling update
    def _roll(self, spec: ServiceSpec, desired: int, primary: Deployment, tasks: list[Task]) -> None:
        active = [t for t in tasks if t.last_status in (PENDING, RUNNING)]
        new = [t for t in active if t.deployment_id == primary.id]
        old = [t for t in active if t.deployment_id != primary.id]
        stopping = [t for t in tasks if t.last_status in (DEACTIVATING, STOPPING)]
        counts = rolling.Counts(desired=desired, new_active=len(new), new_healthy=sum(1 for t in new if t.healthy_at),
                                old_active=len(old), old_healthy=sum(1 for t in old if t.healthy_at),
                                stopping=len(stopping))
        b = rolling.bounds(desired, spec.rolling.minimum_healthy_percent, spec.rolling.maximum_percent)
        move = rolling.step(counts, b)
        start = move.start
        backoff = self._backoff.get((spec.environment, spec.name))
        if primary.rollout_state == FAILED or (backoff and self.clock() < backoff.next_start_at):
            start = 0  # a FAILED deployment launches no more tasks; a crash loop waits
        for _ in range(start):
            self._start_task(spec, primary)
        for task in _stop_order(new, old, desired)[:move.stop]:
            self._begin_stop(task, spec, reasons.scaling_by_deployment(task.deployment_id)
                             if task.deployment_id != primary.id else reasons.DESIRED_COUNT_LOWERED,
                             failed=0, drain=True)
        if move.reason:
            self.store.event(spec.environment, spec.name, reasons.cannot_move(
                spec.name, move.reason, spec.rolling.minimum_healthy_percent, spec.rolling.maximum_percent))

    def _start_task(self, spec: ServiceSpec, dep: Deployment) -> None:
        td = self._taskdef(dep.taskdef)
        task = Task(id=new_id(), environment=spec.environment, service=spec.name, deployment_id=dep.id,
                    taskdef=dep.taskdef, last_status=PENDING, created_at=self.clock())
        self.store.add_task(task)  # the row first: a pod without a row is an orphan we remove
        timings = dict(dep.timings)
        if "firstTaskStarted" not in timings:
            timings["firstTaskStarted"] = self.clock() - dep.created_at
            self.store.update_deployment(dep.id, timings=timings)
        self._submit(task.id, self._run_start, task, td, spec)

    def _run_start(self, task: Task, td: TaskDefinition, spec: ServiceSpec) -> None:
        published = _published(spec, td)
        try:
            ports = self.runtime.start(task.id, spec.environment, spec.name, td, self._secret,
                                       published, wait_healthy=self._wait_container_healthy)
        except TaskStartError as exc:
            self._start_failed(task, spec, str(exc))
            return
        except Exception as exc:
            log.exception("task %s failed to start", task.id)
            self._start_failed(task, spec, reasons.cannot_start_container(exc))
            return
        with self.lock:
            current = self.store.task(task.id)
            if current is None or current.last_status != PENDING:
                return
            host_port = ports.get(spec.load_balancer.container_port) if spec.load_balancer else None
            self.store.transition_task(task.id, RUNNING, why=reasons.HISTORY_STARTED, running_at=self.clock(),
                                       host_port=host_port)
            self.store.event(spec.environment, spec.name, reasons.started_task(spec.name, task.id))

    def _start_failed(self, task: Task, spec: ServiceSpec, reason: str) -> None:
        with self.lock:
            self.store.transition_task(task.id, STOPPED, stopped_at=self.clock(),
                                       stop_code=reasons.STOP_CODE_FAILED_TO_START, stopped_reason=reason, failed=1)
            self.store.event(spec.environment, spec.name, reasons.failed_to_start(spec.name, task.id, reason))
            self._count_failure(task, spec, reason)

    def _begin_stop(self, task: Task, spec: ServiceSpec, reason: str, *, failed: int, drain: bool) -> None:
        now = self.clock()
        tg = self._task_target_group(task, spec)
        self.store.transition_task(task.id, DEACTIVATING, stopping_at=now, stopped_reason=reason,
                                   failed=failed,
                                   stop_code=reasons.STOP_CODE_TASK_FAILED if failed else reasons.STOP_CODE_SCHEDULER)
        if tg is not None:
            lb = self.balancers.get(spec.environment)
            if drain:
                lb.deregister(tg.name, task.id)
            else:
                lb.remove(tg.name, task.id)
        if failed:
            self.store.event(spec.environment, spec.name, reasons.stopped_failed_task(spec.name, task.id, reason))
            self._count_failure(task, spec, reason)
        else:
            self.store.event(spec.environment, spec.name, reasons.draining(spec.name, task.id))

    def _count_failure(self, task: Task, spec: ServiceSpec, reason: str) -> None:
        key = (spec.environment, spec.name)
        backoff = self._backoff.setdefault(key, _Backoff())
        backoff.failures += 1
        backoff.next_start_at = self.clock() + rolling.restart_delay(backoff.failures)
        dep = self.store.deployment(task.deployment_id)
        if dep is None or dep.rollout_state != IN_PROGRESS or (dep.status != PRIMARY and dep.scale is None):
            return
        failed = dep.failed_tasks + 1
        self.store.update_deployment(dep.id, failed_tasks=failed)
        if dep.scale is not None:  # a blue/green task set: the deploy controller judges failures
            return
        cb = spec.circuit_breaker
        row = self.store.service(spec.environment, spec.name)
        threshold = cb.threshold(row.desired_count if row else spec.desired_count)
        if not cb.enable or failed < threshold:
            return
        why = reasons.circuit_breaker_tripped(failed, threshold, reason)
        self.store.transition_deployment(dep.id, rollout_state=FAILED, reason=why, completed_at=self.clock())
        self.store.event(spec.environment, spec.name, reasons.deployment_failed(spec.name, dep.id, why))
        if cb.rollback:
            self._roll_back(spec, dep)

    def _roll_back(self, spec: ServiceSpec, failed: Deployment) -> None:
        previous = next((d for d in self.store.deployments(spec.environment, spec.name, limit=100)
                         if d.seq < failed.seq and d.rollout_state == COMPLETED), None)
        if previous is None:
            self.store.event(spec.environment, spec.name, reasons.circuit_breaker_nothing_to_roll_back(spec.name))
            return
        dep = self.store.create_deployment(spec.environment, spec.name, previous.taskdef,
                                           {"rollback": True, "of": failed.id, "to": previous.id})
        self.store.update_deployment(failed.id, timings={**failed.timings, "rolledBackBy": dep.id})
        self.store.event(spec.environment, spec.name, reasons.circuit_breaker_rolling_back(spec.name, previous.id))
        self._backoff.pop((spec.environment, spec.name), None)

    def _stop_task(self, task: Task, td: TaskDefinition | None) -> None:
        timeout = max([c.stop_timeout or DEFAULT_STOP_TIMEOUT for c in td.containers] if td else [DEFAULT_STOP_TIMEOUT])
        self.runtime.stop(task.id, timeout)
        with self.lock:
            self._finish_stop(task, None, failed=None)

    def _finish_stop(self, task: Task, reason: str | None, failed: int | None) -> None:
        changes: dict[str, Any] = {"stopped_at": self.clock()}
        if reason:
            changes["stopped_reason"] = reason
            self.runtime.remove(task.id)
        if failed is not None:
            changes["failed"] = failed
        self.store.transition_task(task.id, STOPPED, why=reason or reasons.HISTORY_STOPPED, **changes)
        for key in [k for k in self._health if k[0] == task.id]:
            del self._health[key]
        self._wake.set()

    def _check_steady(self, spec: ServiceSpec, desired: int, primary: Deployment | None, tasks: list[Task]) -> bool:
        """ECS's steady state: one deployment, desired tasks running, all healthy. Returns
        whether the service is still moving."""
        if primary is None:
            return False
        key = (spec.environment, spec.name)
        live = [t for t in tasks if t.last_status != STOPPED]
        others = [t for t in live if t.deployment_id != primary.id]
        mine = [t for t in live if t.deployment_id == primary.id]
        steady = (not others and len(mine) == desired and all(t.last_status == RUNNING and t.healthy_at for t in mine))
        if steady and primary.rollout_state == IN_PROGRESS:
            timings = {**primary.timings, "completed": self.clock() - primary.created_at}
            self.store.transition_deployment(primary.id, rollout_state=COMPLETED, why=reasons.HISTORY_STEADY,
                                             completed_at=self.clock(), timings=timings)
            self.store.event(spec.environment, spec.name, reasons.deployment_completed(spec.name, primary.id))
        if steady and not self._steady.get(key):
            self.store.event(spec.environment, spec.name, reasons.steady_state(spec.name))
        self._steady[key] = steady
        return not steady

    # -- helpers
    def _submit(self, task_id: str, fn: Callable, *args: Any) -> None:
        if task_id in self._busy:
            return

        def run() -> None:
            try:
                fn(*args)
            except Exception:
                log.exception("task worker %s failed", task_id)
            finally:
                with self.lock:
                    self._busy.pop(task_id, None)
                self._wake.set()

        self._busy[task_id] = self._pool.submit(run)

    def _secret(self, value_from: str) -> str:
        if self.secrets is None:
            raise NotFound(reasons.no_secret_store(value_from))
        kind = "parameter-store" if ":ssm:" in value_from or not value_from.startswith("arn:") and "/" in value_from \
            else "secrets-manager"
        return self.secrets.resolve_reference(value_from, kind)

    def _taskdef(self, name: str | None) -> TaskDefinition | None:
        if not name:
            return None
        if name not in self._taskdefs:
            body = self.store.taskdef(name)
            if body is None:
                return None
            td, _ = parse_taskdef(body, name)
            if td is None:
                return None
            self._taskdefs[name] = td
        return self._taskdefs[name]

    def _task_target_group(self, task: Task, spec: ServiceSpec):
        if not spec.blue_green:
            return spec.target_group
        dep = self.store.deployment(task.deployment_id)
        return spec.target_group_named(dep.target_group if dep else None)

    def _primary(self, environment: str, service: str) -> Deployment | None:
        return next((d for d in self.store.deployments(environment, service, live_only=True) if d.status == PRIMARY),
                    None)

    def _service_row(self, environment: str, service: str):
        row = self.store.service(environment, service)
        if row is None:
            known = [f"{r.environment}/{r.name}" for r in self.store.services()]
            raise NotFound(reasons.unknown_service(environment, service, known))
        return row



def _published(spec: ServiceSpec, td: TaskDefinition) -> list[int]:
    ports = {pm.container_port for c in td.containers for pm in c.port_mappings if pm.protocol == "tcp"}
    if spec.load_balancer:
        ports.add(spec.load_balancer.container_port)
    return sorted(ports)


def _exited_essential(td: TaskDefinition | None, pod: PodState | None) -> tuple[str, int | None] | None:
    if td is None:
        return None
    for c in td.essential_containers():
        state = pod.containers.get(c.name) if pod else None
        if state is None:
            return c.name, None
        if not state.running:
            return c.name, state.exit_code
    return None


def _stop_order(new: list[Task], old: list[Task], desired: int) -> list[Task]:
    """Which tasks go first: unhealthy old ones, unhealthy surplus new ones, healthy old ones
    (oldest first), healthy surplus new ones."""
    surplus = new[desired:] if len(new) > desired else []
    return ([t for t in old if not t.healthy_at] + [t for t in surplus if not t.healthy_at]
            + sorted((t for t in old if t.healthy_at), key=lambda t: t.created_at)
            + [t for t in surplus if t.healthy_at])
