"""A rolling (controller ECS) service, one pass at a time (aws-semantics §4.3): count its tasks,
take the next step conveyor.deploy.rolling allows (start new ones within maximumPercent, stop
old ones while minimumHealthyPercent stays healthy), retire deployments without tasks, and say
when the PRIMARY deployment is complete and the service steady.

    moving = rolling_update.reconcile(spec, desired_count, live_deployments, tasks)
"""

from __future__ import annotations

from collections.abc import Callable

from conveyor.config.ecs_deployment import bounds
from conveyor.deploy import rolling
from conveyor.deploy.spec import ServiceSpec
from conveyor.providers.local.ecs import reasons
from conveyor.providers.local.ecs.lifecycle import TaskLifecycle
from conveyor.providers.local.ecs.queries import primary_deployment
from conveyor.providers.local.ecs.scheduler import SchedulerState
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
)


class RollingUpdate:
    def __init__(self, store: EcsStore, lifecycle: TaskLifecycle, state: SchedulerState,
                 clock: Callable[[], float]):
        self._store = store
        self._lifecycle = lifecycle
        self._state = state
        self._clock = clock

    def reconcile(self, spec: ServiceSpec, desired: int, deployments: list[Deployment], tasks: list[Task]) -> bool:
        """One step for the service; returns whether it is still moving."""
        primary = next((d for d in deployments if d.status == PRIMARY), None)
        if primary is None:
            return False
        self._step(spec, desired, primary, tasks)
        tasks = self._store.tasks(spec.environment, spec.name)
        for dep in deployments:
            if dep.status == ACTIVE and not any(t.deployment_id == dep.id for t in tasks):
                self._store.transition_deployment(dep.id, status=INACTIVE, why=reasons.HISTORY_NO_TASKS_LEFT)
        return self._check_steady(spec, desired, primary_deployment(self._store, spec.environment, spec.name), tasks)

    def _step(self, spec: ServiceSpec, desired: int, primary: Deployment, tasks: list[Task]) -> None:
        active = [t for t in tasks if t.last_status in (PENDING, RUNNING)]
        new = [t for t in active if t.deployment_id == primary.id]
        old = [t for t in active if t.deployment_id != primary.id]
        stopping = [t for t in tasks if t.last_status in (DEACTIVATING, STOPPING)]
        counts = rolling.Counts(desired=desired, new_active=len(new), new_healthy=sum(1 for t in new if t.healthy_at),
                                old_active=len(old), old_healthy=sum(1 for t in old if t.healthy_at),
                                stopping=len(stopping))
        move = rolling.step(counts, bounds(desired, spec.rolling.minimum_healthy_percent, spec.rolling.maximum_percent))
        start = move.start
        if primary.rollout_state == FAILED or self._state.holding_starts(spec.environment, spec.name, self._clock()):
            start = 0  # a FAILED deployment launches no more tasks; a crash loop waits
        for _ in range(start):
            self._lifecycle.start(spec, primary)
        for task in stop_order(new, old, desired)[:move.stop]:
            reason = (reasons.scaling_by_deployment(task.deployment_id) if task.deployment_id != primary.id
                      else reasons.DESIRED_COUNT_LOWERED)
            self._lifecycle.begin_stop(task, spec, reason, failed=0, drain=True)
        if move.reason:
            self._store.event(spec.environment, spec.name, reasons.cannot_move(
                spec.name, move.reason, spec.rolling.minimum_healthy_percent, spec.rolling.maximum_percent))

    def _check_steady(self, spec: ServiceSpec, desired: int, primary: Deployment | None, tasks: list[Task]) -> bool:
        """ECS's steady state: one deployment, desired tasks running, all healthy. Returns
        whether the service is still moving."""
        if primary is None:
            return False
        live = [t for t in tasks if t.last_status != STOPPED]
        others = [t for t in live if t.deployment_id != primary.id]
        mine = [t for t in live if t.deployment_id == primary.id]
        steady = not others and len(mine) == desired and all(t.last_status == RUNNING and t.healthy_at for t in mine)
        if steady and primary.rollout_state == IN_PROGRESS:
            timings = {**primary.timings, "completed": self._clock() - primary.created_at}
            self._store.transition_deployment(primary.id, rollout_state=COMPLETED, why=reasons.HISTORY_STEADY,
                                              completed_at=self._clock(), timings=timings)
            self._store.event(spec.environment, spec.name, reasons.deployment_completed(spec.name, primary.id))
        if self._state.observe_steady(spec.environment, spec.name, steady):
            self._store.reached_steady_state(spec.environment, spec.name, reasons.steady_state(spec.name))
        return not steady


def stop_order(new: list[Task], old: list[Task], desired: int) -> list[Task]:
    """Which tasks go first: unhealthy old ones, unhealthy surplus new ones, healthy old ones
    (oldest first), healthy surplus new ones."""
    surplus = new[desired:] if len(new) > desired else []
    return ([t for t in old if not t.healthy_at] + [t for t in surplus if not t.healthy_at]
            + sorted((t for t in old if t.healthy_at), key=lambda t: t.created_at)
            + [t for t in surplus if t.healthy_at])
