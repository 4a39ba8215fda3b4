"""DescribeServices for the local ECS: read-only views over the store, the load balancers'
targets, the container checks and the tasks' logs, as the backend's neutral types
(conveyor.backend.types).

    views.describe("staging", "orders")           # ServiceDescription: summary, deployments, tasks, events
    views.deployment_status("staging", "orders")  # Rollout: what the latest deployment waits for
"""

from __future__ import annotations

from conveyor.backend.types import (
    ContainerLog,
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
from conveyor.lb import model as lb_model
from conveyor.providers.local.ecs import reasons
from conveyor.providers.local.ecs.balancers import LoadBalancers, TaskBalancer
from conveyor.providers.local.ecs.queries import primary_deployment, service_row, spec_of
from conveyor.providers.local.ecs.runtime import TaskRuntime
from conveyor.providers.local.ecs.store import (
    COMPLETED,
    DEACTIVATING,
    FAILED,
    PENDING,
    RUNNING,
    STOPPING,
    Deployment,
    EcsStore,
    ServiceRow,
    Task,
)
from conveyor.providers.local.ecs.task_health import ContainerHealthChecks
from conveyor.providers.local.ecs.taskdefs import TaskDefinitions

#: Events DescribeServices shows, and `deploy status`.
DESCRIBE_EVENTS = 20
ROLLOUT_EVENTS = 10
#: Deployments DescribeServices shows; the latest ones `deploy status` looks at.
DESCRIBE_DEPLOYMENTS = 10
ROLLOUT_DEPLOYMENTS = 5


class ServiceViews:
    def __init__(self, store: EcsStore, balancers: LoadBalancers[TaskBalancer], health: ContainerHealthChecks,
                 runtime: TaskRuntime, taskdefs: TaskDefinitions):
        self._store = store
        self._balancers = balancers
        self._health = health
        self._runtime = runtime
        self._taskdefs = taskdefs

    def services(self) -> list[ServiceSummary]:
        return [self._summary(row) for row in self._store.services()]

    def describe(self, environment: str, service: str) -> ServiceDescription:
        row = service_row(self._store, environment, service)
        spec = spec_of(row)
        lb_view = None
        if spec.load_balancer is not None and spec.target_group is not None:
            lb = spec.load_balancer
            lb_view = LoadBalancerView(url=f"http://{lb.bind}:{lb.port}/", target_group=spec.target_group.name,
                                       targets=tuple(target_view(t) for t in self._balancers.targets(spec)),
                                       health_check_path=lb.health_check.path)
        deployments = self._store.deployments(environment, service, limit=DESCRIBE_DEPLOYMENTS)
        return ServiceDescription(
            summary=self._summary(row),
            deployments=tuple(self.deployment_view(d) for d in deployments),
            tasks=tuple(task_view(t) for t in self._store.tasks(environment, service)),
            events=tuple(self._events(environment, service, DESCRIBE_EVENTS)), load_balancer=lb_view)

    def deployment_status(self, environment: str, service: str) -> Rollout:
        """What the latest deployment is waiting for, in words and numbers (`deploy status`)."""
        row = service_row(self._store, environment, service)
        spec = spec_of(row)
        deps = self._store.deployments(environment, service, limit=ROLLOUT_DEPLOYMENTS)
        if not deps:
            return Rollout(environment, service, None, reasons.NO_DEPLOYMENT_YET, desired_count=row.desired_count)
        dep = deps[0]
        tasks = self._store.tasks(environment, service)
        targets = {t.target_id: t for t in self._balancers.targets(spec)}
        new = [t for t in tasks if t.deployment_id == dep.id and t.last_status in (PENDING, RUNNING)]
        healthy = [t for t in new if t.healthy_at]
        old = [t for t in tasks if t.deployment_id != dep.id and t.last_status in (PENDING, RUNNING)]
        draining = [t for t in tasks if t.last_status in (DEACTIVATING, STOPPING)]
        parts = [reasons.new_tasks_healthy(len(healthy), row.desired_count)]
        for t in new:
            if not t.healthy_at:
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
                       events=tuple(self._events(environment, service, ROLLOUT_EVENTS)))

    def deployment_view(self, dep: Deployment) -> EcsDeployment:
        tasks = [t for t in self._store.tasks(dep.environment, dep.service) if t.deployment_id == dep.id]
        return EcsDeployment(
            id=dep.id, environment=dep.environment, service=dep.service, status=dep.status,
            task_definition=dep.taskdef, rollout_state=dep.rollout_state, rollout_state_reason=dep.reason,
            failed_tasks=dep.failed_tasks, running_count=sum(1 for t in tasks if t.last_status == RUNNING),
            pending_count=sum(1 for t in tasks if t.last_status == PENDING), created_at=dep.created_at,
            updated_at=dep.updated_at, completed_at=dep.completed_at, origin=dict(dep.origin),
            timings=dict(dep.timings), target_group=dep.target_group, scale=dep.scale)

    def logs(self, environment: str, service: str, tail: int = 100) -> list[ContainerLog]:
        """The last `tail` lines of every container of the service's live tasks."""
        service_row(self._store, environment, service)
        out = []
        for task in self._store.tasks(environment, service):
            td = self._taskdefs.get(task.taskdef)
            for c in td.containers if td else ():
                out.append(ContainerLog(task.id, c.name, self._runtime.logs(task.id, c.name, tail)))
        return out

    def _events(self, environment: str, service: str, limit: int) -> list[ServiceEvent]:
        return [ServiceEvent(e["seq"], e["at"], e["message"])
                for e in self._store.events(environment, service, limit=limit)]

    def _summary(self, row: ServiceRow) -> ServiceSummary:
        spec = spec_of(row)
        tasks = self._store.tasks(row.environment, row.name)
        primary = primary_deployment(self._store, row.environment, row.name)
        return ServiceSummary(
            environment=row.environment, name=row.name, status=row.status, controller=spec.controller,
            task_definition=row.taskdef, desired_count=row.desired_count,
            running_count=sum(1 for t in tasks if t.last_status == RUNNING),
            pending_count=sum(1 for t in tasks if t.last_status == PENDING),
            healthy_count=sum(1 for t in tasks if t.last_status == RUNNING and t.healthy_at),
            rollout_state=primary.rollout_state if primary else None,
            url=f"http://{spec.load_balancer.bind}:{spec.load_balancer.port}/" if spec.load_balancer else None,
            target=spec.target)

    def _task_problem(self, task: Task, target: lb_model.TargetHealth | None, spec: ServiceSpec) -> str:
        if task.last_status == PENDING:
            return reasons.TASK_STARTING
        problems = self._health.problems(task.id)
        if target is not None and target.state != "healthy":
            what = target.description or target.reason or target.state
            lb = spec.load_balancer
            problems.insert(0, reasons.target_unhealthy(target.state, what, lb.health_check.path if lb else None))
        elif target is None and spec.target_group is not None:
            problems.insert(0, reasons.TASK_NOT_REGISTERED)
        return reasons.failing_health_checks(problems) if problems else reasons.TASK_AWAITING_CHECKS


def task_view(task: Task) -> EcsTask:
    return EcsTask(**task.to_json())


def target_view(target: lb_model.TargetHealth) -> TargetHealth:
    """conveyor.lb's TargetHealth (HAProxy's view) → the backend's."""
    return TargetHealth(target_id=target.target_id, address=target.address, state=target.state,
                        reason=target.reason, description=target.description, weight=target.weight,
                        in_flight=target.in_flight)
