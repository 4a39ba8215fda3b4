"""Task health for the service controller: ECS container health checks (interval, retries,
startPeriod, run with `podman exec` on worker threads), the load balancer's view, and how they
combine into a healthy task (aws-semantics §4.3).

Mixed into ServiceController (store, runtime, clock, _pool, _health, _wake, _taskdef).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from conveyor.config.taskdef import ContainerDefinition, TaskDefinition
from conveyor.deploy.spec import NO_HEALTH_CHECK_SETTLE_SECONDS, ServiceSpec
from conveyor.providers.local.ecs.store import Task

log = logging.getLogger("conveyor.services")


@dataclass
class ContainerHealth:
    """Container health-check bookkeeping for one container of one task (in memory: after a
    restart the checks simply start counting again; the task's stored health stays)."""

    failures: int = 0
    status: str = "UNKNOWN"
    next_at: float = 0.0
    output: str = ""
    running: bool = False


class TaskHealth:
    def _container_health(self, task: Task, td: TaskDefinition | None, now: float) -> str:
        """ECS task health: UNHEALTHY if an essential container's check failed `retries` times
        in a row (failures during startPeriod do not count); HEALTHY if all checked essential
        containers passed; UNKNOWN otherwise (including no checks at all)."""
        statuses = []
        for c in (td.essential_containers() if td else ()):
            if c.health_check is None:
                continue
            h = self._health.setdefault((task.id, c.name), ContainerHealth())
            if not h.running and now >= h.next_at:
                h.running = True
                self._pool.submit(self._run_health_check, task, c, h)
            statuses.append(h.status)
        if not statuses:
            return "UNKNOWN"
        if "UNHEALTHY" in statuses:
            return "UNHEALTHY"
        return "HEALTHY" if all(s == "HEALTHY" for s in statuses) else "UNKNOWN"

    def _run_health_check(self, task: Task, container: ContainerDefinition, h: ContainerHealth) -> None:
        check = container.health_check
        try:
            ok, output = self.runtime.health_check(task.id, container)
            now = self.clock()
            in_start_period = task.running_at is not None and now - task.running_at < check.start_period
            if ok:
                h.failures, h.status = 0, "HEALTHY"
            elif not in_start_period or h.status == "HEALTHY":
                h.failures += 1
                if h.failures >= check.retries:
                    h.status = "UNHEALTHY"
            h.output = output
            # checks start fast (so a new task becomes HEALTHY quickly), then keep ECS's interval
            h.next_at = now + (min(1.0, check.interval) if h.status == "UNKNOWN" else check.interval)
        except Exception:
            log.exception("health check of %s/%s failed to run", task.id, container.name)
            h.next_at = self.clock() + check.interval
        finally:
            h.running = False
            self._wake.set()

    def _is_healthy(self, task: Task, td, spec: ServiceSpec, target, health: str, now: float) -> bool:
        has_checks = td is not None and any(c.health_check for c in td.essential_containers())
        if spec.target_group is not None:
            if target is None or target.state != "healthy":
                return False
            return health == "HEALTHY" if has_checks else True
        if has_checks:
            return health == "HEALTHY"
        return task.running_at is not None and now - task.running_at >= NO_HEALTH_CHECK_SETTLE_SECONDS

    def _wait_container_healthy(self, task_id: str, container_name: str) -> bool:
        task = self.store.task(task_id)
        td = self._taskdef(task.taskdef) if task else None
        c = td.container(container_name) if td else None
        if c is None or c.health_check is None:
            return True
        ok, _ = self.runtime.health_check(task_id, c)
        return ok


def elb_failed(task: Task, target, spec: ServiceSpec, now: float) -> bool:
    """ALB: a target that failed `unhealthyThresholdCount` checks in a row is unhealthy, and ECS
    replaces its task. A new target still in its first checks is `initial`; one that never
    passes is failed once its threshold of checks has had time to run."""
    if target.state == "unhealthy" and target.reason != "Elb.InitialHealthChecking":
        return True
    if target.state in ("initial", "unhealthy") and task.running_at and not task.healthy_at:
        hc = spec.load_balancer.health_check
        window = hc.interval * (hc.unhealthy_threshold + 1) + hc.timeout + 1.0
        return now - task.running_at - spec.health_check_grace_period > window
    return False
