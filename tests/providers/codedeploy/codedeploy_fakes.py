"""Stand-ins for what the local CodeDeploy talks to: the ECS task-set API (task sets that turn
healthy when told, or at once), an environment's load balancer (forward weights per listener,
healthy targets where a live healthy task set is), a clock that moves only when a test moves it,
and a hook executor that runs a hook's invocation at once, on the caller's thread."""

from __future__ import annotations

import math
from concurrent.futures import Executor, Future
from dataclasses import dataclass, replace

from conveyor.backend.types import TaskSet
from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import NotFound
from conveyor.lb.model import TargetHealth
from conveyor.providers.local.ecs.task_set_api import TaskSetRecord

PRIMARY, ACTIVE, INACTIVE = "PRIMARY", "ACTIVE", "INACTIVE"


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class _TaskSet:
    record: TaskSetRecord
    healthy: bool
    failed_tasks: int = 0


class FakeTaskSets:
    """The TaskSetApi protocol over dicts. New task sets are healthy at once unless
    `healthy_on_create` is False (then `make_healthy` does it); scale 0 makes a task set INACTIVE
    (its tasks drain at once)."""

    def __init__(self, *, healthy_on_create: bool = True):
        self.healthy_on_create = healthy_on_create
        self.specs: dict[tuple[str, str], ServiceSpec] = {}
        self.sets: dict[str, _TaskSet] = {}
        self.events: list[str] = []
        self.last_failure: str | None = None

    # -- TaskSetApi
    def service_spec(self, environment: str, service: str) -> ServiceSpec | None:
        return self.specs.get((environment, service))

    def service_specs(self) -> list[ServiceSpec]:
        return list(self.specs.values())

    def declare_service(self, spec: ServiceSpec, *, task_definition: str) -> None:
        self.specs[(spec.environment, spec.name)] = spec

    def task_sets(self, environment: str, service: str) -> list[TaskSetRecord]:
        live = [t.record for t in self.sets.values()
                if (t.record.environment, t.record.service) == (environment, service) and t.record.status != INACTIVE]
        return list(reversed(live))

    def task_set(self, task_set_id: str) -> TaskSetRecord | None:
        found = self.sets.get(task_set_id)
        return found.record if found else None

    def task_set_status(self, task_set_id: str) -> TaskSet:
        t = self._get(task_set_id)
        r = t.record
        spec = self.specs[(r.environment, r.service)]
        desired = 0 if r.status == INACTIVE else math.ceil(spec.desired_count * (r.scale or 0) / 100)
        healthy = desired if t.healthy else 0
        return TaskSet(id=r.id, status=r.status, task_definition=r.task_definition, target_group=r.target_group,
                       scale=r.scale, desired=desired, pending=desired - healthy, running=healthy, healthy=healthy,
                       failed_tasks=t.failed_tasks)

    def create_task_set(self, environment, service, task_definition, target_group, scale, origin, *,
                        primary=False) -> TaskSetRecord:
        ident = f"ecs-svc/{len(self.sets) + 1}"
        record = TaskSetRecord(ident, environment, service, PRIMARY if primary else ACTIVE, task_definition,
                               target_group, scale)
        self.sets[ident] = _TaskSet(record, healthy=self.healthy_on_create)
        return record

    def update_task_set(self, task_set_id: str, *, scale: int, target_group: str | None = None) -> None:
        t = self._get(task_set_id)
        t.record = replace(t.record, scale=scale, target_group=target_group or t.record.target_group,
                           status=INACTIVE if scale == 0 else t.record.status)

    def update_service_primary_task_set(self, task_set_id: str) -> None:
        for t in self.sets.values():
            if t.record.status == PRIMARY:
                t.record = replace(t.record, status=ACTIVE)
        t = self._get(task_set_id)
        t.record = replace(t.record, status=PRIMARY)

    def last_task_failure(self, task_set_id: str) -> str | None:
        return self.last_failure

    def service_event(self, environment: str, service: str, message: str) -> None:
        self.events.append(message)

    # -- for the tests
    def running(self, environment: str, service: str, task_definition: str, target_group: str) -> TaskSetRecord:
        """A service already on `task_definition`, PRIMARY in `target_group` (a finished deployment)."""
        return self.create_task_set(environment, service, task_definition, target_group, 100, {}, primary=True)

    def make_healthy(self, task_set_id: str) -> None:
        self._get(task_set_id).healthy = True

    def fail_tasks(self, task_set_id: str, count: int) -> None:
        self._get(task_set_id).failed_tasks = count

    def _get(self, task_set_id: str) -> _TaskSet:
        if task_set_id not in self.sets:
            raise NotFound(f"no task set {task_set_id}")
        return self.sets[task_set_id]


class FakeLoadBalancer:
    """An environment's listeners: the forward weights each one was given, in order, and a
    healthy target for every live, healthy task set in a target group."""

    def __init__(self, task_sets: FakeTaskSets):
        self._task_sets = task_sets
        self.weights: dict[int, dict[str, int]] = {}
        self.calls: list[tuple[int, dict[str, int]]] = []

    def set_weights(self, listener_port: int, weights: dict[str, int]) -> None:
        self.weights[listener_port] = dict(weights)
        self.calls.append((listener_port, dict(weights)))

    def targets(self, target_group: str) -> list[TargetHealth]:
        return [TargetHealth(t.record.id, "127.0.0.1:1", "healthy", None, None, 1, 0)
                for t in self._task_sets.sets.values()
                if t.record.target_group == target_group and t.record.status != INACTIVE and t.healthy]

    def share(self, port: int, target_group: str) -> float:
        """The fraction of the listener's traffic `target_group` gets."""
        weights = self.weights.get(port, {})
        return weights.get(target_group, 0) / (sum(weights.values()) or 1)


class InlineExecutor(Executor):
    """Runs what is submitted at once (a hook worker finishes before submit returns)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # (the worker catches its own errors; this is the executor contract)
            future.set_exception(exc)
        return future
