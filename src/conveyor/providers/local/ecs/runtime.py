"""What runs a task: the service controller's seam to the container engine. PodRuntime
(conveyor.providers.local.ecs.tasks: one podman pod per task) implements it; unit tests pass an
in-memory one.

A runtime knows tasks by id only: which service a task belongs to, and whether it should run,
is the controller's business (its store). Everything here may be slow: the controller calls
start, stop and remove on worker threads, never while it holds its lock for long.

    runtime.start("t1", "staging", "orders", taskdef, resolve_secret, [8080])   # {8080: 43121}
    runtime.observe()["t1"].containers["api"].running                          # True
    runtime.stop("t1", 30)                                                     # SIGTERM, then SIGKILL
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from conveyor.config.taskdef import ContainerDefinition, TaskDefinition
from conveyor.errors import ConveyorError


class TaskStartError(ConveyorError):
    """A task could not start: the image does not pull, a container exits at once, …
    (ECS: the task stops with a stoppedReason; the circuit breaker counts it)."""


@dataclass
class ContainerState:
    name: str          # the container definition's name
    running: bool
    exit_code: int | None
    started_at: float | None = None


@dataclass
class PodState:
    """A task's containers as the engine reports them."""

    task_id: str
    environment: str
    service: str
    containers: dict[str, ContainerState] = field(default_factory=dict)

    @property
    def all_gone(self) -> bool:
        return not self.containers


#: Resolves a container secret's valueFrom (an ARN or a parameter name) to its value.
SecretResolver = Callable[[str], str]
#: (task id, container name) → whether that container passes its health check now (dependsOn HEALTHY).
DependencyCheck = Callable[[str, str], bool]


class TaskRuntime(Protocol):
    def start(self, task_id: str, environment: str, service: str, taskdef: TaskDefinition,
              secrets: SecretResolver, published: Sequence[int],
              wait_healthy: DependencyCheck | None = None) -> dict[int, int]:
        """Start the task's containers in dependsOn order; containerPort → host port (on
        127.0.0.1). Raises TaskStartError with an ECS-style stoppedReason, leaving nothing."""
        ...

    def stop(self, task_id: str, timeout: int) -> None:
        """SIGTERM to every container, SIGKILL after `timeout` seconds; then remove the task."""
        ...

    def remove(self, task_id: str) -> None:
        """Remove the task's containers at once (idempotent)."""
        ...

    def observe(self) -> dict[str, PodState]:
        """Every task of this data directory that has containers, by task id."""
        ...

    def ports(self, task_id: str, published: Sequence[int]) -> dict[int, int]:
        """containerPort → host port of a running task."""
        ...

    def logs(self, task_id: str, container: str, tail: int | None = 100) -> str: ...

    def health_check(self, task_id: str, container: ContainerDefinition) -> tuple[bool, str]:
        """Run the container's health check once: (passed, output)."""
        ...

    def remove_all(self) -> None:
        """Every task of this data directory (`conveyor down --all`)."""
        ...
