"""In-memory stand-ins for what the service controller drives, so the scheduler's logic runs pass by
pass on a fake clock: a TaskRuntime (pods as dicts), a load balancer whose targets turn healthy
after a while of fake time, and an executor that runs the workers' jobs only when told (as the
daemon would, between two passes).

    h = Harness.make(tmp_path)
    h.deploy(spec(desired=2), image="app:1")
    h.run(passes=20)            # each: reconcile, then the workers, then 0.25 s of fake time
    h.events("staging", "orders")
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from conveyor.config.taskdef import ContainerDefinition, TaskDefinition
from conveyor.deploy.spec import ServiceSpec
from conveyor.lb.model import Listener, TargetGroup, TargetHealth
from conveyor.providers.local.ecs.balancers import LoadBalancers
from conveyor.providers.local.ecs.controller import ServiceController
from conveyor.providers.local.ecs.runtime import ContainerState, PodState, TaskStartError
from conveyor.providers.local.ecs.store import STOPPED, Task

#: The fake loop's pass interval (the daemon's BUSY_INTERVAL).
PASS = 0.25


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ManualExecutor(Executor):
    """Queues the workers' jobs; run_all() runs them (and the jobs they queue) in order."""

    def __init__(self) -> None:
        self.queue: list[tuple[Future, Callable[..., Any], tuple, dict]] = []

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        future: Future = Future()
        self.queue.append((future, fn, args, kwargs))
        return future

    def run_all(self) -> None:
        while self.queue:
            future, fn, args, kwargs = self.queue.pop(0)
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # the worker's own wrapper logs; keep the queue going
                future.set_exception(exc)

    def drop_all(self) -> None:
        """The daemon died: queued work never runs."""
        self.queue.clear()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.queue.clear()


@dataclass
class FakeRuntime:
    """Pods as dicts. An image in `crashing` starts, then its containers exit with code 1 at once;
    one in `unpullable` does not start; `checks` answers container health checks per task."""

    pods: dict[str, PodState] = field(default_factory=dict)
    crashing: set[str] = field(default_factory=set)
    unpullable: set[str] = field(default_factory=set)
    checks: dict[str, tuple[bool, str]] = field(default_factory=dict)
    default_check: tuple[bool, str] = (True, "ok")
    started: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)

    def start(self, task_id: str, environment: str, service: str, taskdef: TaskDefinition,
              secrets: Callable[[str], str], published: Sequence[int],
              wait_healthy: Callable[[str, str], bool] | None = None) -> dict[int, int]:
        images = {c.image for c in taskdef.containers}
        if images & self.unpullable:
            raise TaskStartError(f"CannotPullContainerError: {sorted(images & self.unpullable)[0]}: manifest unknown")
        crash = bool(images & self.crashing)
        self.pods[task_id] = PodState(task_id, environment, service, {
            c.name: ContainerState(c.name, not crash, 1 if crash else None) for c in taskdef.containers})
        self.started.append(task_id)
        return self.ports(task_id, published)

    def stop(self, task_id: str, timeout: int) -> None:
        self.stopped.append(task_id)
        self.pods.pop(task_id, None)

    def remove(self, task_id: str) -> None:
        self.pods.pop(task_id, None)

    def observe(self) -> dict[str, PodState]:
        return {k: replace(v, containers=dict(v.containers)) for k, v in self.pods.items()}

    def ports(self, task_id: str, published: Sequence[int]) -> dict[int, int]:
        return {port: 40000 + len(self.started) for port in published}

    def logs(self, task_id: str, container: str, tail: int | None = 100) -> str:
        return f"{task_id}/{container}: listening\n"

    def health_check(self, task_id: str, container: ContainerDefinition) -> tuple[bool, str]:
        return self.checks.get(task_id, self.default_check)

    def remove_all(self) -> None:
        self.pods.clear()

    def exit(self, task_id: str, container: str, code: int) -> None:
        self.pods[task_id].containers[container] = ContainerState(container, False, code)


class FakeBalancer:
    """One environment's load balancer: a registered target is `initial`, then `healthy` once
    `healthy_after` seconds of fake time passed (or stays as `stuck` says)."""

    def __init__(self, clock: FakeClock, healthy_after: float = 2.0):
        self.clock = clock
        self.healthy_after = healthy_after
        self.groups: dict[str, dict[str, tuple[float, str]]] = {}  # group -> target -> (registered at, state)
        self.applied: list[tuple[list[Listener], list[TargetGroup]]] = []
        self.stuck: dict[str, TargetHealth] = {}  # target id -> what targets() reports, always
        self.stopped = False

    def apply(self, listeners: list[Listener], target_groups: list[TargetGroup]) -> None:
        self.applied.append((list(listeners), list(target_groups)))
        for tg in target_groups:
            self.groups.setdefault(tg.name, {})

    def ensure_running(self) -> bool:
        return False

    def register(self, target_group: str, target_id: str, host: str, port: int) -> None:
        self.groups[target_group][target_id] = (self.clock(), "initial")

    def deregister(self, target_group: str, target_id: str) -> None:
        if target_id in self.groups[target_group]:
            self.groups[target_group][target_id] = (self.clock(), "draining")

    def drained(self, target_group: str, target_id: str) -> bool:
        return True

    def remove(self, target_group: str, target_id: str) -> None:
        self.groups[target_group].pop(target_id, None)

    def targets(self, target_group: str) -> list[TargetHealth]:
        out = []
        for target_id, (since, state) in self.groups[target_group].items():
            if target_id in self.stuck:
                out.append(self.stuck[target_id])
                continue
            if state == "initial" and self.clock() - since >= self.healthy_after:
                state = "healthy"
            out.append(TargetHealth(target_id, "127.0.0.1:40000", state, None, None, 100, 0))
        return out

    def stop(self) -> None:
        self.stopped = True


def taskdef_body(image: str = "app:1", *, health_check: bool = False, family: str = "orders") -> dict:
    container: dict[str, Any] = {"name": "api", "image": image, "essential": True, "memory": 128,
                                 "portMappings": [{"containerPort": 8080}]}
    if health_check:
        container["healthCheck"] = {"command": ["CMD", "true"], "interval": 5, "retries": 2, "startPeriod": 0,
                                    "timeout": 2}
    return {"family": family, "containerDefinitions": [container]}


def spec(desired: int = 2, *, lb: bool = True, minimum: int = 50, maximum: int = 200, breaker: bool = False,
         rollback: bool = False, controller: str = "ECS", name: str = "orders") -> ServiceSpec:
    raw: dict[str, Any] = {"desiredCount": desired, "deployment": {
        "controller": controller, "minimumHealthyPercent": minimum, "maximumPercent": maximum,
        "circuitBreaker": {"enable": breaker, "rollback": rollback}}}
    if controller == "CODE_DEPLOY":
        raw["deployment"] = {"controller": controller}
    if lb:
        raw["loadBalancer"] = {"port": 18080, "container": "api", "containerPort": 8080,
                               "healthCheck": {"intervalSeconds": 1, "unhealthyThresholdCount": 2}}
        if controller == "CODE_DEPLOY":
            raw["loadBalancer"]["testPort"] = 18081
    return ServiceSpec.from_config("staging", name, raw)


@dataclass
class Harness:
    services: ServiceController
    runtime: FakeRuntime
    balancers: LoadBalancers[FakeBalancer]
    clock: FakeClock
    executor: ManualExecutor
    #: Every pass's tasks, for invariants over the whole rollout.
    history: list[list[Task]] = field(default_factory=list)

    @classmethod
    def make(cls, home: Path, *, runtime: FakeRuntime | None = None, clock: FakeClock | None = None) -> Harness:
        clock = clock or FakeClock()
        runtime = runtime or FakeRuntime()
        executor = ManualExecutor()
        balancers = LoadBalancers(home / "lb", lambda directory, env: FakeBalancer(clock))
        services = ServiceController(home, balancers=balancers, clock=clock, runtime=runtime, executor=executor)
        return cls(services, runtime, balancers, clock, executor)

    def deploy(self, service: ServiceSpec, image: str = "app:1", **body: Any) -> str:
        """UpdateService to a new revision of `image`; returns the deployment id."""
        name = self.services.deployments.register_taskdef(taskdef_body(image, **body))
        return self.services.deployments.update_service(service, task_definition=name).id

    def step(self) -> None:
        """One pass, then the workers it started, then one pass interval of fake time."""
        self.services.reconciler.reconcile()
        self.executor.run_all()
        self.history.append(self.tasks())
        self.clock.advance(PASS)

    def run(self, passes: int) -> None:
        for _ in range(passes):
            self.step()

    def run_until(self, done: Callable[[], bool], *, limit: int = 2000) -> int:
        """Passes until `done()`; returns how many it took (fails after `limit`)."""
        for n in range(1, limit + 1):
            self.step()
            if done():
                return n
        raise AssertionError(f"not done after {limit} passes")

    def tasks(self, *, live_only: bool = True) -> list[Task]:
        return self.services.store.tasks("staging", "orders", live_only=live_only)

    def live(self) -> list[Task]:
        return [t for t in self.tasks() if t.last_status != STOPPED]

    def events(self, environment: str = "staging", service: str = "orders") -> list[str]:
        """The service's events, oldest first."""
        return [e["message"] for e in reversed(self.services.store.events(environment, service, limit=100))]

    def deployment(self, dep_id: str):
        dep = self.services.store.deployment(dep_id)
        assert dep is not None
        return dep

    def balancer(self, environment: str = "staging") -> FakeBalancer:
        return self.balancers.get(environment)
