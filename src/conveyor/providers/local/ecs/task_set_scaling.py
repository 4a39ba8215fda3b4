"""Each task set of a blue/green service at its size, one pass at a time: start tasks up to
its share of the desired count (unless the crash-loop back-off holds starts), drain the surplus
(unhealthy and newest first), retire a task set scaled to 0 once its tasks are gone, and say
when a task set and the service are steady. Which task sets exist is CodeDeploy's call
(conveyor.providers.local.ecs.task_sets).

    moving = task_set_scaling.reconcile(spec, desired_count, live_deployments, tasks)
"""

from __future__ import annotations

from collections.abc import Callable

from conveyor.deploy.spec import ServiceSpec
from conveyor.providers.local.ecs import reasons
from conveyor.providers.local.ecs.lifecycle import TaskLifecycle
from conveyor.providers.local.ecs.scheduler import SchedulerState
from conveyor.providers.local.ecs.store import (
    ACTIVE,
    COMPLETED,
    IN_PROGRESS,
    INACTIVE,
    PENDING,
    PRIMARY,
    RUNNING,
    STOPPED,
    Deployment,
    EcsStore,
    Task,
)
from conveyor.providers.local.ecs.task_sets import task_count


class TaskSetScaling:
    def __init__(self, store: EcsStore, lifecycle: TaskLifecycle, state: SchedulerState,
                 clock: Callable[[], float]):
        self._store = store
        self._lifecycle = lifecycle
        self._state = state
        self._clock = clock

    def reconcile(self, spec: ServiceSpec, desired: int, deployments: list[Deployment], tasks: list[Task]) -> bool:
        """Keep every live task set at its size. Returns whether anything is still moving."""
        waiting = self._state.holding_starts(spec.environment, spec.name, self._clock())
        moving = False
        left = len(deployments)  # task sets still live after this pass
        for dep in deployments:
            want = task_count(desired, dep.scale if dep.scale is not None else (100 if dep.status == PRIMARY else 0))
            mine = [t for t in tasks if t.deployment_id == dep.id]
            active = [t for t in mine if t.last_status in (PENDING, RUNNING)]
            if len(active) < want and not waiting:
                for _ in range(want - len(active)):
                    self._lifecycle.start(spec, dep)
            elif len(active) > want:
                surplus = sorted(active, key=lambda t: (t.healthy_at is not None, -t.created_at))[:len(active) - want]
                for task in surplus:
                    self._lifecycle.begin_stop(task, spec, reasons.scaling_by_task_set(dep.id, dep.scale), failed=0,
                                               drain=True)
            live = [t for t in mine if t.last_status != STOPPED]
            steady = len(live) == want and all(t.last_status == RUNNING and t.healthy_at for t in live)
            if want == 0 and not live and dep.status == ACTIVE:
                self._store.transition_deployment(dep.id, status=INACTIVE, why=reasons.HISTORY_TASK_SET_EMPTY)
                self._store.event(spec.environment, spec.name, reasons.task_set_inactive(spec.name, dep.id))
                left -= 1
                continue
            if steady and want and dep.rollout_state == IN_PROGRESS:
                timings = {**dep.timings, "steady": self._clock() - dep.created_at}
                self._store.transition_deployment(dep.id, rollout_state=COMPLETED, why=reasons.HISTORY_STEADY,
                                                  completed_at=self._clock(), timings=timings)
                self._store.event(spec.environment, spec.name, reasons.task_set_steady(spec.name, dep.id))
            moving |= not steady
        if self._state.observe_steady(spec.environment, spec.name, not moving):
            # with a replacement and an original both live a deployment is under way: steady
            # between its steps is no news for the event stream (the service event still says it)
            self._store.reached_steady_state(spec.environment, spec.name, reasons.steady_state(spec.name),
                                             announce=left == 1)
        return moving
