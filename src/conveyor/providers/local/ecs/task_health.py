"""Task health (aws-semantics §4.3): ECS container health checks (interval, retries, startPeriod,
run through the TaskRuntime on worker threads), the load balancer's view of a task, and how
they combine into a healthy task.

    checks = ContainerHealthChecks(runtime, workers, state, clock)
    checks.status(task, taskdef, now)     # "HEALTHY" | "UNHEALTHY" | "UNKNOWN"; schedules due checks
    task_is_healthy(task, taskdef, spec, target, "HEALTHY", now)
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from conveyor.config.taskdef import ContainerDefinition, TaskDefinition
from conveyor.deploy.spec import NO_HEALTH_CHECK_SETTLE_SECONDS, ServiceSpec
from conveyor.lb.model import TargetHealth
from conveyor.providers.local.ecs import reasons
from conveyor.providers.local.ecs.runtime import TaskRuntime
from conveyor.providers.local.ecs.scheduler import SchedulerState
from conveyor.providers.local.ecs.store import Task
from conveyor.providers.local.ecs.workers import TaskWorkers

log = logging.getLogger("conveyor.services")

HEALTHY, UNHEALTHY, UNKNOWN = "HEALTHY", "UNHEALTHY", "UNKNOWN"
#: A new container's checks run at least this often until they have a verdict, so a new task
#: becomes HEALTHY quickly; then at the health check's interval, as ECS runs them.
FIRST_CHECKS_INTERVAL = 1.0


@dataclass
class ContainerHealth:
    """Container health-check bookkeeping for one container of one task (in memory: after a
    restart the checks simply start counting again; the task's stored health stays)."""

    failures: int = 0
    status: str = UNKNOWN
    next_at: float = 0.0
    output: str = ""
    running: bool = False


class ContainerHealthChecks:
    def __init__(self, runtime: TaskRuntime, workers: TaskWorkers, state: SchedulerState,
                 clock: Callable[[], float]):
        self._runtime = runtime
        self._workers = workers
        self._state = state
        self._clock = clock
        self._checks: dict[tuple[str, str], ContainerHealth] = {}

    def status(self, task: Task, td: TaskDefinition | None, now: float) -> str:
        """ECS task health: UNHEALTHY if an essential container's check failed `retries` times
        in a row (failures during startPeriod do not count); HEALTHY if all checked essential
        containers passed; UNKNOWN otherwise (including no checks at all). Starts the checks
        that are due."""
        statuses = []
        for c in (td.essential_containers() if td else ()):
            if c.health_check is None:
                continue
            h = self._checks.setdefault((task.id, c.name), ContainerHealth())
            if not h.running and now >= h.next_at:
                h.running = True
                self._workers.run(functools.partial(self._run, task, c, h))
            statuses.append(h.status)
        if not statuses:
            return UNKNOWN
        if UNHEALTHY in statuses:
            return UNHEALTHY
        return HEALTHY if all(s == HEALTHY for s in statuses) else UNKNOWN

    def _run(self, task: Task, container: ContainerDefinition, h: ContainerHealth) -> None:
        check = container.health_check
        assert check is not None
        try:
            ok, output = self._runtime.health_check(task.id, container)
            now = self._clock()
            in_start_period = task.running_at is not None and now - task.running_at < check.start_period
            if ok:
                h.failures, h.status = 0, HEALTHY
            elif not in_start_period or h.status == HEALTHY:
                h.failures += 1
                if h.failures >= check.retries:
                    h.status = UNHEALTHY
            h.output = output
            h.next_at = now + (min(FIRST_CHECKS_INTERVAL, check.interval) if h.status == UNKNOWN else check.interval)
        except Exception:
            log.exception("health check of %s/%s failed to run", task.id, container.name)
            h.next_at = self._clock() + check.interval
        finally:
            h.running = False
            self._state.wake()

    def passes_now(self, task_id: str, container: ContainerDefinition | None) -> bool:
        """Run the container's check once, now (a dependsOn HEALTHY condition); True without one."""
        if container is None or container.health_check is None:
            return True
        ok, _ = self._runtime.health_check(task_id, container)
        return ok

    def problems(self, task_id: str) -> list[str]:
        """What the task's failing or unanswered container checks said (`deploy status`)."""
        return [reasons.container_check_failing(name, h.output) for (tid, name), h in list(self._checks.items())
                if tid == task_id and h.status != HEALTHY]

    def forget(self, task_id: str) -> None:
        for key in [k for k in self._checks if k[0] == task_id]:
            del self._checks[key]


def task_is_healthy(task: Task, td: TaskDefinition | None, spec: ServiceSpec, target: TargetHealth | None,
                    health: str, now: float) -> bool:
    """Healthy as ECS counts it: behind a load balancer, a healthy target (and passing container
    checks, if any); without one, passing container checks; with neither, running for
    NO_HEALTH_CHECK_SETTLE_SECONDS."""
    has_checks = td is not None and any(c.health_check for c in td.essential_containers())
    if spec.target_group is not None:
        if target is None or target.state != "healthy":
            return False
        return health == HEALTHY if has_checks else True
    if has_checks:
        return health == HEALTHY
    return task.running_at is not None and now - task.running_at >= NO_HEALTH_CHECK_SETTLE_SECONDS


def elb_failed(task: Task, target: TargetHealth, spec: ServiceSpec, now: float) -> bool:
    """ALB: a target that failed `unhealthyThresholdCount` checks in a row is unhealthy, and ECS
    replaces its task. A new target still in its first checks is `initial`; one that never
    passes is failed once its threshold of checks has had time to run since it was registered
    (not since its task started: registration comes a pass later). One whose checks pass is
    rising, however long HAProxy reloads keep restarting its count: never failed."""
    if target.state == "unhealthy" and target.reason != "Elb.InitialHealthChecking":
        return True
    if target.state == "initial" and target.passing:
        return False
    if target.state in ("initial", "unhealthy") and task.running_at and not task.healthy_at:
        assert spec.load_balancer is not None  # a task with a target has a load balancer
        hc = spec.load_balancer.health_check
        window = hc.interval * (hc.unhealthy_threshold + 1) + hc.timeout + 1.0
        since = max(task.running_at, target.registered_at or task.running_at)
        return now - since - spec.health_check_grace_period > window
    return False
