"""What `conveyor service describe`, `service ls` and `deploy status` show: read-only views over
the service controller's store, its load balancer targets and its health-check bookkeeping."""

from __future__ import annotations

from conveyor.deploy.spec import ServiceSpec
from conveyor.providers.local.ecs.store import COMPLETED, DEACTIVATING, FAILED, PENDING, RUNNING, STOPPING, Deployment, Task


class ServiceViews:
    """Mixed into ServiceController (which provides store, _targets, _health, _primary, _service_row)."""

    def services(self) -> list[dict]:
        return [self._summary(row) for row in self.store.services()]

    def describe(self, environment: str, service: str) -> dict:
        row = self._service_row(environment, service)
        out = self._summary(row)
        out["deployments"] = [self.deployment_json(d) for d in self.store.deployments(environment, service, limit=10)]
        out["tasks"] = [t.to_json() for t in self.store.tasks(environment, service)]
        out["events"] = self.store.events(environment, service, limit=20)
        spec = ServiceSpec.from_json(row.spec)
        if spec.load_balancer is not None:
            lb = spec.load_balancer
            out["loadBalancer"] = {"url": f"http://{lb.bind}:{lb.port}/", "targetGroup": spec.target_group.name,
                                   "targets": [vars(t) for t in self._targets(spec)]}
        return out

    def deployment_status(self, environment: str, service: str) -> dict:
        """What the latest deployment is waiting for, in words and numbers (`deploy status`)."""
        row = self._service_row(environment, service)
        spec = ServiceSpec.from_json(row.spec)
        deps = self.store.deployments(environment, service, limit=5)
        if not deps:
            return {"service": service, "environment": environment, "deployment": None, "waitingFor": "no deployment yet"}
        dep = deps[0]
        tasks = self.store.tasks(environment, service)
        targets = {t.target_id: t for t in self._targets(spec)}
        new = [t for t in tasks if t.deployment_id == dep.id and t.last_status in (PENDING, RUNNING)]
        healthy = [t for t in new if t.healthy_at]
        old = [t for t in tasks if t.deployment_id != dep.id and t.last_status in (PENDING, RUNNING)]
        draining = [t for t in tasks if t.last_status in (DEACTIVATING, STOPPING)]
        parts = [f"{len(healthy)}/{row.desired_count} new tasks healthy"]
        for t in new:
            if t.healthy_at:
                continue
            parts.append(f"task {t.id} {self._task_problem(t, targets.get(t.id), spec)}")
        if old:
            parts.append(f"{len(old)} old task(s) still serving")
        if draining:
            parts.append(f"{len(draining)} task(s) draining/stopping")
        waiting = "; ".join(parts)
        if dep.rollout_state == COMPLETED:
            waiting = "nothing: the deployment is complete"
        elif dep.rollout_state == FAILED:
            waiting = f"nothing: the deployment failed ({dep.reason})"
        return {"service": service, "environment": environment, "deployment": self.deployment_json(dep),
                "waitingFor": waiting, "desiredCount": row.desired_count,
                "newTasks": {"running": len(new), "healthy": len(healthy)}, "oldTasks": len(old),
                "draining": len(draining), "events": self.store.events(environment, service, limit=10)}

    def _summary(self, row) -> dict:
        spec = ServiceSpec.from_json(row.spec)
        tasks = self.store.tasks(row.environment, row.name)
        primary = self._primary(row.environment, row.name)
        return {"environment": row.environment, "serviceName": row.name, "status": row.status,
                "taskDefinition": row.taskdef, "desiredCount": row.desired_count,
                "runningCount": sum(1 for t in tasks if t.last_status == RUNNING),
                "pendingCount": sum(1 for t in tasks if t.last_status == PENDING),
                "healthyCount": sum(1 for t in tasks if t.last_status == RUNNING and t.healthy_at),
                "rolloutState": primary.rollout_state if primary else None,
                "url": (f"http://{spec.load_balancer.bind}:{spec.load_balancer.port}/" if spec.load_balancer else None),
                "deploymentController": spec.controller}

    def deployment_json(self, dep: Deployment) -> dict:
        tasks = [t for t in self.store.tasks(dep.environment, dep.service) if t.deployment_id == dep.id]
        return {"id": dep.id, "status": dep.status, "taskDefinition": dep.taskdef, "rolloutState": dep.rollout_state,
                "rolloutStateReason": dep.reason, "failedTasks": dep.failed_tasks,
                "runningCount": sum(1 for t in tasks if t.last_status == RUNNING),
                "pendingCount": sum(1 for t in tasks if t.last_status == PENDING),
                "createdAt": dep.created_at, "updatedAt": dep.updated_at, "completedAt": dep.completed_at,
                "origin": dep.origin, "timings": dep.timings}

    def _task_problem(self, task: Task, target, spec: ServiceSpec) -> str:
        if task.last_status == PENDING:
            return "starting"
        problems = [f"{cname}: {h.output or 'no result yet'}" for (tid, cname), h in self._health.items()
                    if tid == task.id and h.status != "HEALTHY"]
        if target is not None and target.state != "healthy":
            what = target.description or target.reason or target.state
            lb = spec.load_balancer
            problems.insert(0, f"target {target.state}: {what} on {lb.health_check.path}" if lb else what)
        elif target is None and spec.target_group is not None:
            problems.insert(0, "not yet registered with the load balancer")
        return "failing health check: " + "; ".join(problems) if problems else "waiting for health checks"
