"""DescribeServices for the local ECS: read-only views over the service controller's store, its
load balancer targets and its health-check bookkeeping, as the backend's neutral types."""

from __future__ import annotations

from conveyor.backend.types import (
    EcsDeployment,
    EcsTask,
    LoadBalancerView,
    Rollout,
    ServiceDescription,
    ServiceEvent,
    ServiceSummary,
    TargetHealth,
)
from conveyor.deploy.spec import ServiceSpec
from conveyor.providers.local.ecs import reasons
from conveyor.providers.local.ecs.store import (
    COMPLETED,
    DEACTIVATING,
    FAILED,
    PENDING,
    RUNNING,
    STOPPING,
    Deployment,
    Task,
)


class ServiceViews:
    """Mixed into ServiceController (which provides store, balancers, _health, _primary, _service_row)."""

    def services(self) -> list[ServiceSummary]:
        return [self._summary(row) for row in self.store.services()]

    def describe(self, environment: str, service: str) -> ServiceDescription:
        row = self._service_row(environment, service)
        spec = ServiceSpec.from_json(row.spec)
        lb_view = None
        if spec.load_balancer is not None:
            lb = spec.load_balancer
            lb_view = LoadBalancerView(url=f"http://{lb.bind}:{lb.port}/", target_group=spec.target_group.name,
                                       targets=tuple(target_view(t) for t in self.balancers.targets(spec)))
        return ServiceDescription(
            summary=self._summary(row),
            deployments=tuple(self.deployment_view(d) for d in self.store.deployments(environment, service, limit=10)),
            tasks=tuple(task_view(t) for t in self.store.tasks(environment, service)),
            events=tuple(self._events(environment, service, 20)), load_balancer=lb_view)

    def deployment_status(self, environment: str, service: str) -> Rollout:
        """What the latest deployment is waiting for, in words and numbers (`deploy status`)."""
        row = self._service_row(environment, service)
        spec = ServiceSpec.from_json(row.spec)
        deps = self.store.deployments(environment, service, limit=5)
        if not deps:
            return Rollout(environment, service, None, reasons.NO_DEPLOYMENT_YET, desired_count=row.desired_count)
        dep = deps[0]
        tasks = self.store.tasks(environment, service)
        targets = {t.target_id: t for t in self.balancers.targets(spec)}
        new = [t for t in tasks if t.deployment_id == dep.id and t.last_status in (PENDING, RUNNING)]
        healthy = [t for t in new if t.healthy_at]
        old = [t for t in tasks if t.deployment_id != dep.id and t.last_status in (PENDING, RUNNING)]
        draining = [t for t in tasks if t.last_status in (DEACTIVATING, STOPPING)]
        parts = [reasons.new_tasks_healthy(len(healthy), row.desired_count)]
        for t in new:
            if t.healthy_at:
                continue
            parts.append(reasons.task_waiting(t.id, self._task_problem(t, targets.get(t.id), spec)))
        if old:
            parts.append(reasons.old_tasks_serving(len(old)))
        if draining:
            parts.append(reasons.tasks_draining(len(draining)))
        waiting = "; ".join(parts)
        if dep.rollout_state == COMPLETED:
            waiting = reasons.WAITING_FOR_NOTHING
        elif dep.rollout_state == FAILED:
            waiting = reasons.waiting_for_nothing_failed(dep.reason)
        return Rollout(environment, service, self.deployment_view(dep), waiting, desired_count=row.desired_count,
                       new_running=len(new), new_healthy=len(healthy), old_tasks=len(old), draining=len(draining),
                       events=tuple(self._events(environment, service, 10)))

    def _events(self, environment: str, service: str, limit: int) -> list[ServiceEvent]:
        return [ServiceEvent(e["seq"], e["at"], e["message"]) for e in self.store.events(environment, service, limit=limit)]

    def _summary(self, row) -> ServiceSummary:
        spec = ServiceSpec.from_json(row.spec)
        tasks = self.store.tasks(row.environment, row.name)
        primary = self._primary(row.environment, row.name)
        return ServiceSummary(
            environment=row.environment, name=row.name, status=row.status, controller=spec.controller,
            task_definition=row.taskdef, desired_count=row.desired_count,
            running_count=sum(1 for t in tasks if t.last_status == RUNNING),
            pending_count=sum(1 for t in tasks if t.last_status == PENDING),
            healthy_count=sum(1 for t in tasks if t.last_status == RUNNING and t.healthy_at),
            rollout_state=primary.rollout_state if primary else None,
            url=f"http://{spec.load_balancer.bind}:{spec.load_balancer.port}/" if spec.load_balancer else None,
            target=spec.target)

    def deployment_view(self, dep: Deployment) -> EcsDeployment:
        tasks = [t for t in self.store.tasks(dep.environment, dep.service) if t.deployment_id == dep.id]
        return EcsDeployment(
            id=dep.id, environment=dep.environment, service=dep.service, status=dep.status,
            task_definition=dep.taskdef, rollout_state=dep.rollout_state, rollout_state_reason=dep.reason,
            failed_tasks=dep.failed_tasks, running_count=sum(1 for t in tasks if t.last_status == RUNNING),
            pending_count=sum(1 for t in tasks if t.last_status == PENDING), created_at=dep.created_at,
            updated_at=dep.updated_at, completed_at=dep.completed_at, origin=dict(dep.origin),
            timings=dict(dep.timings), target_group=dep.target_group, scale=dep.scale)

    def _task_problem(self, task: Task, target, spec: ServiceSpec) -> str:
        if task.last_status == PENDING:
            return reasons.TASK_STARTING
        problems = [reasons.container_check_failing(cname, h.output) for (tid, cname), h in self._health.items()
                    if tid == task.id and h.status != "HEALTHY"]
        if target is not None and target.state != "healthy":
            what = target.description or target.reason or target.state
            lb = spec.load_balancer
            problems.insert(0, reasons.target_unhealthy(target.state, what, lb.health_check.path if lb else None))
        elif target is None and spec.target_group is not None:
            problems.insert(0, reasons.TASK_NOT_REGISTERED)
        return reasons.failing_health_checks(problems) if problems else reasons.TASK_AWAITING_CHECKS


def task_view(task: Task) -> EcsTask:
    return EcsTask(**task.to_json())


def target_view(target) -> TargetHealth:
    """conveyor.lb's TargetHealth (HAProxy's view) → the backend's."""
    return TargetHealth(target_id=target.target_id, address=target.address, state=target.state,
                        reason=target.reason, description=target.description, weight=target.weight,
                        in_flight=target.in_flight)
