"""The task-set API the local ECS offers to the local CodeDeploy, as ECS offers it to AWS
CodeDeploy (CreateTaskSet, UpdateTaskSet, UpdateServicePrimaryTaskSet, DescribeTaskSets): the
deploy controller decides which task sets exist, their scale and which one is primary; the
service controller keeps each at its size. Nothing else of the ECS side (its store, its tasks)
is the deploy controller's business.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from conveyor.backend.types import TaskSet
from conveyor.deploy.spec import ServiceSpec


@dataclass(frozen=True)
class TaskSetRecord:
    """A task set as DescribeTaskSets lists it (without its task counts: see TaskSet)."""

    id: str
    environment: str
    service: str
    status: str  # PRIMARY | ACTIVE | INACTIVE
    task_definition: str
    target_group: str | None
    scale: int | None  # percent of the desired count; None: a rolling deployment's tasks


class TaskSetApi(Protocol):
    def service_spec(self, environment: str, service: str) -> ServiceSpec | None:
        """The service as last declared, or None."""
        ...

    def service_specs(self) -> list[ServiceSpec]:
        """Every declared service (the alarms to watch are theirs)."""
        ...

    def declare_service(self, spec: ServiceSpec, *, task_definition: str) -> None:
        """CreateService of a CODE_DEPLOY service, or refresh its declaration and listeners."""
        ...

    def task_sets(self, environment: str, service: str) -> list[TaskSetRecord]:
        """The service's live task sets (not INACTIVE), newest first."""
        ...

    def task_set(self, task_set_id: str) -> TaskSetRecord | None: ...

    def task_set_status(self, task_set_id: str) -> TaskSet:
        """Its tasks: desired, pending, running, healthy, draining, failed (NotFound if unknown)."""
        ...

    def create_task_set(self, environment: str, service: str, task_definition: str, target_group: str, scale: int,
                        origin: Mapping[str, object], *, primary: bool = False) -> TaskSetRecord: ...

    def update_task_set(self, task_set_id: str, *, scale: int, target_group: str | None = None) -> None:
        """UpdateTaskSet: its scale (0 drains and stops its tasks); a target group moves a
        rolling deployment's tasks into a blue/green pair."""
        ...

    def update_service_primary_task_set(self, task_set_id: str) -> None:
        """UpdateServicePrimaryTaskSet: it becomes PRIMARY, the former PRIMARY ACTIVE."""
        ...

    def last_task_failure(self, task_set_id: str) -> str | None:
        """Why the task set's latest failed task stopped."""
        ...

    def service_event(self, environment: str, service: str, message: str) -> None:
        """Append to the service's events (what `conveyor service describe` shows)."""
        ...
