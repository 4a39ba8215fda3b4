"""Blue/green task sets (aws-semantics §5.1, §5.3): a CODE_DEPLOY service runs one or two task
sets, each a deployment row that keeps `scale` percent of the service's desired count running
and registered in its own target group. The deploy controller (conveyor.providers.local.codedeploy) decides
which task sets exist, their scale and the listeners' weights; this loop only keeps each task
set at its size, replaces failed tasks and reports when it is steady.

Mixed into ServiceController (which provides store, lock, _start_task, _begin_stop, _backoff,
_steady, _wake).

    ts = services.create_task_set("production", "orders", "orders:7", "production-orders-2", 100, origin={})
    services.task_set_status(ts.id)      # TaskSet(desired=2, running=2, healthy=2, ...), .steady
    services.update_task_set(ts.id, scale=0)    # drain and stop its tasks; INACTIVE once they are gone
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from conveyor.backend.types import TaskSet
from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import NotFound
from conveyor.providers.local.ecs import reasons
from conveyor.providers.local.ecs.store import (
    ACTIVE,
    COMPLETED,
    DEACTIVATING,
    IN_PROGRESS,
    INACTIVE,
    PENDING,
    PRIMARY,
    RUNNING,
    STOPPING,
    Deployment,
    Task,
)
from conveyor.providers.local.ecs.task_set_api import TaskSetRecord


def task_count(desired: int, scale: int | None) -> int:
    """Tasks a task set keeps: ECS rounds a task set's scale percent of the desired count up."""
    return math.ceil(desired * (100 if scale is None else scale) / 100)


class TaskSets:
    """The task-set API (conveyor.providers.local.ecs.task_set_api.TaskSetApi)."""

    def service_spec(self, environment: str, service: str) -> ServiceSpec | None:
        row = self.store.service(environment, service)
        return ServiceSpec.from_json(row.spec) if row else None

    def service_specs(self) -> list[ServiceSpec]:
        return [ServiceSpec.from_json(row.spec) for row in self.store.services()]

    def task_sets(self, environment: str, service: str) -> list[TaskSetRecord]:
        return [_record(d) for d in self.store.deployments(environment, service, live_only=True)]

    def create_task_set(self, environment: str, service: str, task_definition: str, target_group: str, scale: int,
                        origin: Mapping[str, object], *, primary: bool = False) -> TaskSetRecord:
        with self.lock:
            dep = self.store.create_task_set(environment, service, task_definition, target_group, scale, dict(origin),
                                             primary=primary)
            self.store.event(environment, service, reasons.task_set_created(service, dep.id, task_definition,
                                                                            target_group, scale))
            self._steady.pop((environment, service), None)
        self._wake.set()
        return _record(dep)

    def update_task_set(self, task_set_id: str, *, scale: int, target_group: str | None = None) -> None:
        with self.lock:
            dep = self._task_set(task_set_id)
            if target_group is not None and dep.target_group != target_group:
                self.store.update_deployment(task_set_id, target_group=target_group)
            if dep.scale != scale:
                self.store.update_deployment(task_set_id, scale=scale)
                self.store.event(dep.environment, dep.service, reasons.task_set_scaled(dep.service, task_set_id, scale))
                self._steady.pop((dep.environment, dep.service), None)
        self._wake.set()

    def update_service_primary_task_set(self, task_set_id: str) -> None:
        with self.lock:
            dep = self._task_set(task_set_id)
            self.store.promote_task_set(task_set_id)
            self.store.event(dep.environment, dep.service, reasons.task_set_primary(dep.service, task_set_id,
                                                                                    dep.taskdef))

    def task_set(self, task_set_id: str) -> TaskSetRecord | None:
        dep = self.store.deployment(task_set_id)
        return _record(dep) if dep else None

    def last_task_failure(self, task_set_id: str) -> str | None:
        dep = self._task_set(task_set_id)
        stopped = [t for t in self.store.tasks(dep.environment, dep.service, live_only=False)
                   if t.deployment_id == task_set_id and t.failed]
        return stopped[0].stopped_reason if stopped else None

    def service_event(self, environment: str, service: str, message: str) -> None:
        self.store.event(environment, service, message)

    def task_set_status(self, dep_id: str) -> TaskSet:
        """How far a task set is: desired/running/healthy tasks, failures, steady."""
        dep = self._task_set(dep_id)
        row = self.store.service(dep.environment, dep.service)
        mine = [t for t in self.store.tasks(dep.environment, dep.service) if t.deployment_id == dep_id]
        running = [t for t in mine if t.last_status == RUNNING]
        return TaskSet(id=dep.id, status=dep.status, task_definition=dep.taskdef, target_group=dep.target_group,
                       scale=dep.scale, desired=task_count(row.desired_count if row else 0, dep.scale),
                       pending=sum(1 for t in mine if t.last_status == PENDING), running=len(running),
                       healthy=sum(1 for t in running if t.healthy_at), failed_tasks=dep.failed_tasks,
                       draining=sum(1 for t in mine if t.last_status in (DEACTIVATING, STOPPING)))

    def _task_set(self, dep_id: str) -> Deployment:
        dep = self.store.deployment(dep_id)
        if dep is None:
            raise NotFound(reasons.unknown_task_set(dep_id))
        return dep

    def _reconcile_task_sets(self, spec: ServiceSpec, desired: int, deps: list[Deployment],
                             tasks: list[Task]) -> bool:
        """Keep every live task set at its size. Returns whether anything is still moving."""
        key = (spec.environment, spec.name)
        backoff = self._backoff.get(key)
        waiting = backoff is not None and self.clock() < backoff.next_start_at
        moving = False
        for dep in deps:
            want = task_count(desired, dep.scale if dep.scale is not None else (100 if dep.status == PRIMARY else 0))
            mine = [t for t in tasks if t.deployment_id == dep.id]
            active = [t for t in mine if t.last_status in (PENDING, RUNNING)]
            if len(active) < want and not waiting:
                for _ in range(want - len(active)):
                    self._start_task(spec, dep)
            elif len(active) > want:
                surplus = sorted(active, key=lambda t: (t.healthy_at is not None, -t.created_at))[:len(active) - want]
                for task in surplus:
                    self._begin_stop(task, spec, reasons.scaling_by_task_set(dep.id, dep.scale), failed=0, drain=True)
            live = [t for t in mine if t.last_status != "STOPPED"]
            steady = len(live) == want and all(t.last_status == RUNNING and t.healthy_at for t in live)
            if want == 0 and not live and dep.status == ACTIVE:
                self.store.transition_deployment(dep.id, status=INACTIVE, why=reasons.HISTORY_TASK_SET_EMPTY)
                self.store.event(spec.environment, spec.name, reasons.task_set_inactive(spec.name, dep.id))
                continue
            if steady and want and dep.rollout_state == IN_PROGRESS:
                timings = {**dep.timings, "steady": self.clock() - dep.created_at}
                self.store.transition_deployment(dep.id, rollout_state=COMPLETED, why=reasons.HISTORY_STEADY,
                                                 completed_at=self.clock(), timings=timings)
                self.store.event(spec.environment, spec.name, reasons.task_set_steady(spec.name, dep.id))
            moving |= not steady
        steady_all = not moving
        if steady_all and not self._steady.get(key):
            self.store.event(spec.environment, spec.name, reasons.steady_state(spec.name))
        self._steady[key] = steady_all
        return moving


def _record(dep: Deployment) -> TaskSetRecord:
    return TaskSetRecord(id=dep.id, environment=dep.environment, service=dep.service, status=dep.status,
                         task_definition=dep.taskdef, target_group=dep.target_group, scale=dep.scale)
