"""One task, observed: its row against its pod, its container checks and its load balancer
target, and the next step that follows (aws-semantics §4.3).

- PENDING without a worker (the daemon restarted while it started): adopt its pod if its
  essential containers run, else STOPPED.
- RUNNING: an essential container exited, the container checks failed, or the load balancer's
  checks failed → stop it (a failure); register it while it is not a target; note when it
  becomes (or stops being) healthy.
- DEACTIVATING: once drained, out of the target group and STOPPING.
- STOPPING without a worker: stop its pod.

    observer.observe(task, pods.get(task.id), {t.target_id: t for t in targets}, spec)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from conveyor.config.taskdef import TaskDefinition
from conveyor.deploy.spec import ServiceSpec
from conveyor.lb.model import TargetHealth
from conveyor.providers.local.ecs import reasons
from conveyor.providers.local.ecs.balancers import LoadBalancers, TaskBalancer
from conveyor.providers.local.ecs.lifecycle import TaskLifecycle
from conveyor.providers.local.ecs.runtime import PodState
from conveyor.providers.local.ecs.store import DEACTIVATING, PENDING, RUNNING, STOPPING, EcsStore, Task
from conveyor.providers.local.ecs.task_health import (
    HEALTHY,
    UNHEALTHY,
    ContainerHealthChecks,
    elb_failed,
    task_is_healthy,
)
from conveyor.providers.local.ecs.taskdefs import TaskDefinitions
from conveyor.providers.local.ecs.workers import TaskWorkers

#: The host a task's published ports listen on (the load balancer's targets).
TASK_HOST = "127.0.0.1"


class TaskObserver:
    def __init__(self, store: EcsStore, balancers: LoadBalancers[TaskBalancer], taskdefs: TaskDefinitions,
                 health: ContainerHealthChecks, lifecycle: TaskLifecycle, workers: TaskWorkers,
                 clock: Callable[[], float]):
        self._store = store
        self._balancers = balancers
        self._taskdefs = taskdefs
        self._health = health
        self._lifecycle = lifecycle
        self._workers = workers
        self._clock = clock

    def observe(self, task: Task, pod: PodState | None, targets: Mapping[str, TargetHealth],
                spec: ServiceSpec) -> None:
        if self._workers.busy(task.id):
            return
        now = self._clock()
        td = self._taskdefs.get(task.taskdef)
        if task.last_status == PENDING:
            if pod and td and essentials_running(td, pod):
                self._lifecycle.adopt(task, spec, td, now)
            else:
                self._lifecycle.finish_stop(task, reasons.PROVISIONING_INTERRUPTED, failed=0)
        elif task.last_status == RUNNING:
            self._running(task, td, pod, targets, spec, now)
        elif task.last_status == DEACTIVATING:
            tg = self._lifecycle.target_group(task, spec)
            if tg is None or task.id not in targets or self._balancers.get(spec.environment).drained(tg.name, task.id):
                if tg is not None:
                    self._balancers.get(spec.environment).remove(tg.name, task.id)
                self._store.transition_task(task.id, STOPPING, why=reasons.HISTORY_DRAINED)
                self._lifecycle.stop(task)
        elif task.last_status == STOPPING:
            self._lifecycle.stop(task)

    def _running(self, task: Task, td: TaskDefinition | None, pod: PodState | None,
                 targets: Mapping[str, TargetHealth], spec: ServiceSpec, now: float) -> None:
        exited = exited_essential(td, pod)
        if exited is not None:
            container, code = exited
            self._lifecycle.begin_stop(task, spec, reasons.essential_container_exited(container, code), failed=1,
                                       drain=False)
            return
        health = self._health.status(task, td, now)
        if health == UNHEALTHY:
            self._lifecycle.begin_stop(task, spec, reasons.CONTAINER_HEALTH_CHECKS_FAILED, failed=1, drain=False)
            return
        tg = self._lifecycle.target_group(task, spec)
        target = targets.get(task.id)
        if tg is not None and task.host_port and target is None:
            self._balancers.get(spec.environment).register(tg.name, task.id, TASK_HOST, task.host_port)
        in_grace = task.running_at and now - task.running_at < spec.health_check_grace_period
        if tg is not None and target is not None and not in_grace and elb_failed(task, target, spec, now):
            self._lifecycle.begin_stop(task, spec, reasons.elb_health_checks_failed(
                tg.name, target.description or target.reason), failed=1, drain=True)
            return
        healthy = task_is_healthy(task, td, spec, target, health, now)
        if healthy and not task.healthy_at:
            self._store.update_task(task.id, healthy_at=now, health=HEALTHY if health == HEALTHY else task.health)
            self._lifecycle.on_healthy(task, spec)
        elif not healthy and task.healthy_at:
            self._store.update_task(task.id, healthy_at=None)
        if health != task.health:
            self._store.update_task(task.id, health=health)


def essentials_running(td: TaskDefinition, pod: PodState) -> bool:
    return all(pod.containers.get(c.name) and pod.containers[c.name].running for c in td.essential_containers())


def exited_essential(td: TaskDefinition | None, pod: PodState | None) -> tuple[str, int | None] | None:
    """The first essential container that is not running (gone: no exit code), if any."""
    if td is None:
        return None
    for c in td.essential_containers():
        state = pod.containers.get(c.name) if pod else None
        if state is None:
            return c.name, None
        if not state.running:
            return c.name, state.exit_code
    return None
