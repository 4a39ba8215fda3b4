"""Blue/green task sets (aws-semantics §5.1, §5.3), the task-set API the local CodeDeploy uses
(conveyor.providers.local.ecs.task_set_api.TaskSetApi): a CODE_DEPLOY service runs one or two
task sets, each a deployment row that keeps `scale` percent of the service's desired count
running and registered in its own target group. The deploy controller decides which task sets
exist, their scale and which one is PRIMARY; TaskSetScaling keeps each at its size.

    ts = task_sets.create_task_set("production", "orders", "orders:7", "production-orders-2", 100, origin={})
    task_sets.task_set_status(ts.id)      # TaskSet(desired=2, running=2, healthy=2, ...), .steady
    task_sets.update_task_set(ts.id, scale=0)    # drain and stop its tasks; INACTIVE once they are gone
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from conveyor.backend.types import TaskSet
from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import NotFound
from conveyor.providers.local.ecs import reasons
from conveyor.providers.local.ecs.deployments import Deployments
from conveyor.providers.local.ecs.queries import spec_of
from conveyor.providers.local.ecs.scheduler import SchedulerState
from conveyor.providers.local.ecs.store import (
    DEACTIVATING,
    PENDING,
    RUNNING,
    STOPPING,
    Deployment,
    EcsStore,
)
from conveyor.providers.local.ecs.task_set_api import TaskSetRecord


def task_count(desired: int, scale: int | None) -> int:
    """Tasks a task set keeps: ECS rounds a task set's scale percent of the desired count up.

    >>> task_count(3, 50), task_count(2, 0), task_count(2, None)
    (2, 0, 2)
    """
    return math.ceil(desired * (100 if scale is None else scale) / 100)


class TaskSets:
    """CreateTaskSet, UpdateTaskSet, UpdateServicePrimaryTaskSet, DescribeTaskSets (a TaskSetApi)."""

    def __init__(self, store: EcsStore, deployments: Deployments, state: SchedulerState):
        self._store = store
        self._deployments = deployments
        self._state = state

    def service_spec(self, environment: str, service: str) -> ServiceSpec | None:
        row = self._store.service(environment, service)
        return spec_of(row) if row else None

    def service_specs(self) -> list[ServiceSpec]:
        return [spec_of(row) for row in self._store.services()]

    def declare_service(self, spec: ServiceSpec, *, task_definition: str) -> None:
        self._deployments.declare_service(spec, task_definition=task_definition)

    def task_sets(self, environment: str, service: str) -> list[TaskSetRecord]:
        return [_record(d) for d in self._store.deployments(environment, service, live_only=True)]

    def create_task_set(self, environment: str, service: str, task_definition: str, target_group: str, scale: int,
                        origin: Mapping[str, object], *, primary: bool = False) -> TaskSetRecord:
        with self._state.lock:
            dep = self._store.create_task_set(environment, service, task_definition, target_group, scale,
                                              dict(origin), primary=primary)
            self._store.event(environment, service, reasons.task_set_created(service, dep.id, task_definition,
                                                                             target_group, scale))
            self._state.changed(environment, service)
        self._state.wake()
        return _record(dep)

    def update_task_set(self, task_set_id: str, *, scale: int, target_group: str | None = None) -> None:
        with self._state.lock:
            dep = self._task_set(task_set_id)
            if target_group is not None and dep.target_group != target_group:
                self._store.update_deployment(task_set_id, target_group=target_group)
            if dep.scale != scale:
                self._store.update_deployment(task_set_id, scale=scale)
                self._store.event(dep.environment, dep.service,
                                  reasons.task_set_scaled(dep.service, task_set_id, scale))
                self._state.changed(dep.environment, dep.service)
        self._state.wake()

    def update_service_primary_task_set(self, task_set_id: str) -> None:
        with self._state.lock:
            dep = self._task_set(task_set_id)
            self._store.promote_task_set(task_set_id)
            self._store.event(dep.environment, dep.service, reasons.task_set_primary(dep.service, task_set_id,
                                                                                     dep.taskdef))

    def task_set(self, task_set_id: str) -> TaskSetRecord | None:
        dep = self._store.deployment(task_set_id)
        return _record(dep) if dep else None

    def last_task_failure(self, task_set_id: str) -> str | None:
        dep = self._task_set(task_set_id)
        stopped = [t for t in self._store.tasks(dep.environment, dep.service, live_only=False)
                   if t.deployment_id == task_set_id and t.failed]
        return stopped[0].stopped_reason if stopped else None

    def service_event(self, environment: str, service: str, message: str) -> None:
        self._store.event(environment, service, message)

    def task_set_status(self, task_set_id: str) -> TaskSet:
        """How far a task set is: desired/running/healthy tasks, failures, steady."""
        dep = self._task_set(task_set_id)
        row = self._store.service(dep.environment, dep.service)
        mine = [t for t in self._store.tasks(dep.environment, dep.service) if t.deployment_id == task_set_id]
        running = [t for t in mine if t.last_status == RUNNING]
        return TaskSet(id=dep.id, status=dep.status, task_definition=dep.taskdef, target_group=dep.target_group,
                       scale=dep.scale, desired=task_count(row.desired_count if row else 0, dep.scale),
                       pending=sum(1 for t in mine if t.last_status == PENDING), running=len(running),
                       healthy=sum(1 for t in running if t.healthy_at), failed_tasks=dep.failed_tasks,
                       draining=sum(1 for t in mine if t.last_status in (DEACTIVATING, STOPPING)))

    def _task_set(self, task_set_id: str) -> Deployment:
        dep = self._store.deployment(task_set_id)
        if dep is None:
            raise NotFound(reasons.unknown_task_set(task_set_id))
        return dep


def _record(dep: Deployment) -> TaskSetRecord:
    return TaskSetRecord(id=dep.id, environment=dep.environment, service=dep.service, status=dep.status,
                         task_definition=dep.taskdef, target_group=dep.target_group, scale=dep.scale)
