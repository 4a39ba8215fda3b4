"""The deployment circuit breaker of a rolling service (aws-semantics §4.4): every failed task of
the PRIMARY deployment in progress counts; at the threshold the deployment FAILED, launches no
more tasks and, with rollback on, the last COMPLETED deployment before it is deployed again.
A blue/green task set's failures are counted too, but judged by the deploy controller.

    breaker = CircuitBreaker(store, state, clock)
    breaker.count_failure(task, spec, "Essential container in task exited: ...")
"""

from __future__ import annotations

from collections.abc import Callable

from conveyor.deploy.spec import CircuitBreakerSpec, ServiceSpec
from conveyor.providers.local.ecs import reasons
from conveyor.providers.local.ecs.scheduler import SchedulerState
from conveyor.providers.local.ecs.store import COMPLETED, FAILED, IN_PROGRESS, PRIMARY, Deployment, EcsStore, Task


def trips(breaker: CircuitBreakerSpec, failed_tasks: int, desired_count: int) -> int | None:
    """The threshold when `failed_tasks` trips an enabled breaker, else None.

    >>> trips(CircuitBreakerSpec(enable=True), 3, desired_count=2), trips(CircuitBreakerSpec(enable=True), 2, 2)
    (3, None)
    >>> trips(CircuitBreakerSpec(enable=False), 50, 2) is None
    True
    """
    threshold = breaker.threshold(desired_count)
    return threshold if breaker.enable and failed_tasks >= threshold else None


class CircuitBreaker:
    def __init__(self, store: EcsStore, state: SchedulerState, clock: Callable[[], float]):
        self._store = store
        self._state = state
        self._clock = clock

    def count_failure(self, task: Task, spec: ServiceSpec, reason: str) -> None:
        """One more failed task of the task's deployment, if that one is still in progress;
        `reason` is the task's stoppedReason (the breaker's message quotes the last one)."""
        dep = self._store.deployment(task.deployment_id)
        if dep is None or dep.rollout_state != IN_PROGRESS or (dep.status != PRIMARY and dep.scale is None):
            return
        failed = dep.failed_tasks + 1
        self._store.update_deployment(dep.id, failed_tasks=failed)
        if dep.scale is not None:  # a blue/green task set: the deploy controller judges failures
            return
        row = self._store.service(spec.environment, spec.name)
        threshold = trips(spec.circuit_breaker, failed, row.desired_count if row else spec.desired_count)
        if threshold is None:
            return
        why = reasons.circuit_breaker_tripped(failed, threshold, reason)
        self._store.transition_deployment(dep.id, rollout_state=FAILED, reason=why, completed_at=self._clock())
        self._store.event(spec.environment, spec.name, reasons.deployment_failed(spec.name, dep.id, why))
        if spec.circuit_breaker.rollback:
            self._roll_back(spec, dep)

    def _roll_back(self, spec: ServiceSpec, failed: Deployment) -> None:
        previous = next((d for d in self._store.deployments(spec.environment, spec.name, limit=100)
                         if d.seq < failed.seq and d.rollout_state == COMPLETED), None)
        if previous is None:
            self._store.event(spec.environment, spec.name, reasons.circuit_breaker_nothing_to_roll_back(spec.name))
            return
        dep = self._store.create_deployment(spec.environment, spec.name, previous.taskdef,
                                            {"rollback": True, "of": failed.id, "to": previous.id})
        self._store.update_deployment(failed.id, timings={**failed.timings, "rolledBackBy": dep.id})
        self._store.event(spec.environment, spec.name, reasons.circuit_breaker_rolling_back(spec.name, previous.id))
        self._state.clear_failures(spec.environment, spec.name)
