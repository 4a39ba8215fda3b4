"""A task's life as the scheduler drives it: PENDING (the row first, then a worker starts the
pod) → RUNNING → DEACTIVATING (deregistered, draining) → STOPPING (a worker stops the pod) →
STOPPED. A task that fails (it does not start, exits, fails its checks) is counted: the
service's crash-loop back-off grows and the circuit breaker judges its deployment.

    lifecycle.start(spec, deployment)                       # a PENDING row; a worker starts the pod
    lifecycle.begin_stop(task, spec, reason, failed=1, drain=False)
    lifecycle.stop(task)                                    # a worker stops the pod, then STOPPED
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from conveyor.config.taskdef import TaskDefinition
from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import NotFound
from conveyor.lb.model import TargetGroup
from conveyor.providers.local.ecs import reasons
from conveyor.providers.local.ecs.balancers import LoadBalancers, TaskBalancer
from conveyor.providers.local.ecs.circuit_breaker import CircuitBreaker
from conveyor.providers.local.ecs.runtime import SecretResolver, TaskRuntime, TaskStartError
from conveyor.providers.local.ecs.scheduler import SchedulerState
from conveyor.providers.local.ecs.store import (
    DEACTIVATING,
    IN_PROGRESS,
    PENDING,
    PRIMARY,
    RUNNING,
    STOPPED,
    Deployment,
    EcsStore,
    Task,
    new_id,
)
from conveyor.providers.local.ecs.task_health import ContainerHealthChecks
from conveyor.providers.local.ecs.taskdefs import TaskDefinitions
from conveyor.providers.local.ecs.tasks import DEFAULT_STOP_TIMEOUT
from conveyor.providers.local.ecs.workers import TaskWorkers

log = logging.getLogger("conveyor.services")


class SecretReferences(Protocol):
    """conveyor.secrets.store.SecretStore, as a task's `secrets` need it."""

    def resolve_reference(self, ref: str, kind: str = ...) -> str: ...


def secret_resolver(secrets: SecretReferences | None) -> SecretResolver:
    """valueFrom → value: an SSM parameter (its ARN, or a name with a slash) or a Secrets
    Manager secret."""
    def resolve(value_from: str) -> str:
        if secrets is None:
            raise NotFound(reasons.no_secret_store(value_from))
        parameter = ":ssm:" in value_from or not value_from.startswith("arn:") and "/" in value_from
        return secrets.resolve_reference(value_from, "parameter-store" if parameter else "secrets-manager")
    return resolve


def published_ports(spec: ServiceSpec, td: TaskDefinition) -> list[int]:
    """The container ports a task publishes on 127.0.0.1: its TCP port mappings and the load
    balancer's container port."""
    ports = {pm.container_port for c in td.containers for pm in c.port_mappings if pm.protocol == "tcp"}
    if spec.load_balancer:
        ports.add(spec.load_balancer.container_port)
    return sorted(ports)


class TaskLifecycle:
    def __init__(self, store: EcsStore, runtime: TaskRuntime, balancers: LoadBalancers[TaskBalancer],
                 taskdefs: TaskDefinitions, workers: TaskWorkers, health: ContainerHealthChecks,
                 breaker: CircuitBreaker, state: SchedulerState, secrets: SecretResolver,
                 clock: Callable[[], float]):
        self._store = store
        self._runtime = runtime
        self._balancers = balancers
        self._taskdefs = taskdefs
        self._workers = workers
        self._health = health
        self._breaker = breaker
        self._state = state
        self._secrets = secrets
        self._clock = clock

    def target_group(self, task: Task, spec: ServiceSpec) -> TargetGroup | None:
        """Where the task registers: the service's target group, or its task set's."""
        if not spec.blue_green:
            return spec.target_group
        dep = self._store.deployment(task.deployment_id)
        return spec.target_group_named(dep.target_group if dep else None)

    # -- starting
    def start(self, spec: ServiceSpec, dep: Deployment) -> None:
        """A new task of the deployment: its PENDING row, then a worker starts the pod."""
        td = self._taskdefs.get(dep.taskdef)
        task = Task(id=new_id(), environment=spec.environment, service=spec.name, deployment_id=dep.id,
                    taskdef=dep.taskdef, last_status=PENDING, created_at=self._clock())
        self._store.add_task(task)  # the row first: a pod without a row is an orphan we remove
        timings = dict(dep.timings)
        if "firstTaskStarted" not in timings:
            timings["firstTaskStarted"] = self._clock() - dep.created_at
            self._store.update_deployment(dep.id, timings=timings)
        self._workers.submit(task.id, lambda: self._run_start(task, td, spec))

    def _run_start(self, task: Task, td: TaskDefinition | None, spec: ServiceSpec) -> None:
        if td is None:  # still PENDING without a worker: the next pass stops it (PROVISIONING_INTERRUPTED)
            log.error("task %s: task definition %s is not registered", task.id, task.taskdef)
            return
        published = published_ports(spec, td)
        try:
            ports = self._runtime.start(task.id, spec.environment, spec.name, td, self._secrets, published,
                                        wait_healthy=self._dependency_healthy)
        except TaskStartError as exc:
            self._start_failed(task, spec, str(exc))
            return
        except Exception as exc:
            log.exception("task %s failed to start", task.id)
            self._start_failed(task, spec, reasons.cannot_start_container(exc))
            return
        with self._state.lock:
            current = self._store.task(task.id)
            if current is None or current.last_status != PENDING:
                return
            host_port = ports.get(spec.load_balancer.container_port) if spec.load_balancer else None
            self._store.transition_task(task.id, RUNNING, why=reasons.HISTORY_STARTED, running_at=self._clock(),
                                        host_port=host_port)
            self._store.event(spec.environment, spec.name, reasons.started_task(spec.name, task.id))

    def _dependency_healthy(self, task_id: str, container_name: str) -> bool:
        task = self._store.task(task_id)
        td = self._taskdefs.get(task.taskdef) if task else None
        return self._health.passes_now(task_id, td.container(container_name) if td else None)

    def _start_failed(self, task: Task, spec: ServiceSpec, reason: str) -> None:
        with self._state.lock:
            self._store.transition_task(task.id, STOPPED, stopped_at=self._clock(),
                                        stop_code=reasons.STOP_CODE_FAILED_TO_START, stopped_reason=reason, failed=1)
            self._store.event(spec.environment, spec.name, reasons.failed_to_start(spec.name, task.id, reason))
            self._count_failure(task, spec, reason)

    def adopt(self, task: Task, spec: ServiceSpec, td: TaskDefinition, now: float) -> None:
        """A PENDING task whose pod a restarted daemon found running: RUNNING, as it is."""
        ports = self._runtime.ports(task.id, published_ports(spec, td))
        host_port = ports.get(spec.load_balancer.container_port) if spec.load_balancer else None
        self._store.transition_task(task.id, RUNNING, why=reasons.HISTORY_ADOPTED, running_at=now, host_port=host_port)

    def on_healthy(self, task: Task, spec: ServiceSpec) -> None:
        """The task just became healthy: no more back-off; its deployment's first healthy task;
        the circuit breaker's count starts again (resetOnHealthyTask)."""
        self._state.clear_failures(spec.environment, spec.name)
        dep = self._store.deployment(task.deployment_id)
        if dep and dep.status == PRIMARY and dep.rollout_state == IN_PROGRESS:
            timings = dict(dep.timings)
            timings.setdefault("firstTaskHealthy", self._clock() - dep.created_at)
            changes: dict[str, Any] = {"timings": timings}
            if spec.circuit_breaker.reset_on_healthy_task and dep.failed_tasks:
                changes["failed_tasks"] = 0
            self._store.update_deployment(dep.id, **changes)

    # -- stopping
    def begin_stop(self, task: Task, spec: ServiceSpec, reason: str, *, failed: int, drain: bool) -> None:
        """DEACTIVATING: out of its target group (draining first when `drain`); a failed task
        counts against the deployment."""
        now = self._clock()
        tg = self.target_group(task, spec)
        self._store.transition_task(task.id, DEACTIVATING, stopping_at=now, stopped_reason=reason, failed=failed,
                                    stop_code=reasons.STOP_CODE_TASK_FAILED if failed else reasons.STOP_CODE_SCHEDULER)
        if tg is not None:
            lb = self._balancers.get(spec.environment)
            if drain:
                lb.deregister(tg.name, task.id)
            else:
                lb.remove(tg.name, task.id)
        if failed:
            self._store.event(spec.environment, spec.name, reasons.stopped_failed_task(spec.name, task.id, reason))
            self._count_failure(task, spec, reason)
        else:
            self._store.event(spec.environment, spec.name, reasons.draining(spec.name, task.id))

    def stop(self, task: Task) -> None:
        """A worker stops the pod (the containers' stopTimeout), then the task is STOPPED."""
        td = self._taskdefs.get(task.taskdef)
        self._workers.submit(task.id, lambda: self._stop(task, td))

    def _stop(self, task: Task, td: TaskDefinition | None) -> None:
        timeout = max([c.stop_timeout or DEFAULT_STOP_TIMEOUT for c in td.containers] if td else [DEFAULT_STOP_TIMEOUT])
        self._runtime.stop(task.id, timeout)
        with self._state.lock:
            self.finish_stop(task, None, failed=None)

    def finish_stop(self, task: Task, reason: str | None, failed: int | None) -> None:
        """STOPPED; with a reason, its pod is removed at once (it was never started or adopted)."""
        changes: dict[str, Any] = {"stopped_at": self._clock()}
        if reason:
            changes["stopped_reason"] = reason
            self._runtime.remove(task.id)
        if failed is not None:
            changes["failed"] = failed
        self._store.transition_task(task.id, STOPPED, why=reason or reasons.HISTORY_STOPPED, **changes)
        self._health.forget(task.id)
        self._state.wake()

    def _count_failure(self, task: Task, spec: ServiceSpec, reason: str) -> None:
        self._state.record_failure(spec.environment, spec.name, self._clock())
        self._breaker.count_failure(task, spec, reason)
