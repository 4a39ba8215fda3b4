"""The deployments API of a local service: registering task definition revisions, making a
revision the PRIMARY deployment of a rolling service (UpdateService), declaring a blue/green
service for the deploy controller (CreateService of a CODE_DEPLOY service), changing the desired
count, and `conveyor rollback` of a rolling service. Each records the intent and wakes the
scheduler, which does the work. Preparing the revision (the images, the placeholders) is the
release service's job (conveyor.deploy.revisions).

    name = deployments.register_taskdef(body)                       # "orders:7"
    dep = deployments.update_service(spec, task_definition=name)    # PRIMARY, IN_PROGRESS
    deployments.scale("staging", "orders", 3, by="ana")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.config.environments import MAX_LOCAL_DESIRED_COUNT
from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import UserError
from conveyor.lb.model import validate_topology
from conveyor.providers.local.ecs import reasons
from conveyor.providers.local.ecs.balancers import LoadBalancers, TaskBalancer
from conveyor.providers.local.ecs.queries import primary_deployment, service_row, spec_of
from conveyor.providers.local.ecs.scheduler import SchedulerState
from conveyor.providers.local.ecs.store import COMPLETED, FAILED, Deployment, EcsStore, ServiceRow
from conveyor.providers.local.ecs.taskdefs import TaskDefinitions


class Deployments:
    def __init__(self, store: EcsStore, taskdefs: TaskDefinitions, balancers: LoadBalancers[TaskBalancer],
                 state: SchedulerState):
        self._store = store
        self._taskdefs = taskdefs
        self._balancers = balancers
        self._state = state

    def register_taskdef(self, body: dict[str, Any]) -> str:
        """RegisterTaskDefinition: `family:N` (the latest revision again if nothing changed)."""
        return self._taskdefs.register(body)

    def update_service(self, spec: ServiceSpec, *, task_definition: str, client_token: str | None = None,
                       origin: Mapping[str, object] | None = None) -> Deployment:
        """Make `task_definition` the service's PRIMARY deployment (creating the service the
        first time). Deploying what the service already runs starts nothing; the same client
        token returns the deployment it created."""
        if spec.controller != "ECS":
            raise UserError(reasons.not_rolling(spec.environment, spec.name, spec.controller),
                            hint=reasons.ROLLING_ONLY_HINT)
        with self._state.lock:
            if client_token:
                known = self._store.deployment_by_token(client_token)
                if known is not None:
                    return known
            self._declare(spec, task_definition)
            primary = primary_deployment(self._store, spec.environment, spec.name)
            if primary is not None and primary.taskdef == task_definition and primary.rollout_state != FAILED:
                self._state.wake()
                return primary
            dep = self._store.create_deployment(spec.environment, spec.name, task_definition, dict(origin or {}),
                                                client_token=client_token)
            self._store.event(spec.environment, spec.name,
                              reasons.deployment_started(spec.name, dep.id, task_definition))
            self._state.changed(spec.environment, spec.name)
        self._state.wake()
        return dep

    def declare_service(self, spec: ServiceSpec, *, task_definition: str) -> None:
        """Blue/green: store the service's declaration (the deploy controller creates the task
        sets) and put its listeners on the load balancer before any weight moves."""
        with self._state.lock:
            self._declare(spec, task_definition)
            self._balancers.apply(spec.environment, [spec_of(r) for r in self._store.services(spec.environment)])
        self._state.wake()

    def scale(self, environment: str, service: str, count: int, by: str = "") -> None:
        """UpdateService's desiredCount (`conveyor service scale`)."""
        if not 0 <= count <= MAX_LOCAL_DESIRED_COUNT:  # as conveyor.yml allows
            raise UserError(reasons.desired_count_out_of_range(count), hint=reasons.DESIRED_COUNT_HINT)
        with self._state.lock:
            service_row(self._store, environment, service)
            self._store.set_desired_count(environment, service, count)
            self._store.event(environment, service, reasons.desired_count_set(service, count, by))
            self._state.changed(environment, service)
        self._state.wake()

    def roll_back_to_previous(self, environment: str, service: str, *, who: str, reason: str = "") -> Deployment:
        """`conveyor rollback` of a rolling service: deploy the last revision that completed
        before the current one, as a new (rolling) deployment."""
        with self._state.lock:
            row = service_row(self._store, environment, service)
            primary = primary_deployment(self._store, environment, service)
            current = primary.taskdef if primary else row.taskdef
            previous = next((d for d in self._store.deployments(environment, service, limit=100)
                             if d.rollout_state == COMPLETED and d.taskdef != current), None)
            if previous is None:
                raise UserError(reasons.nothing_to_roll_back_to(environment, service))
            origin = {"rollback": True, "of": primary.id if primary else None, "to": previous.id, "by": who,
                      "reason": reason}
            dep = self._store.create_deployment(environment, service, previous.taskdef, origin)
            self._store.event(environment, service, reasons.rollback_requested(service, previous.taskdef, who, reason,
                                                                               dep.id))
            self._state.changed(environment, service)
        self._state.wake()
        return dep

    def _declare(self, spec: ServiceSpec, task_definition: str) -> None:
        if spec.target_group is not None:  # what HAProxy would refuse, before anything changes
            validate_topology(spec.listeners, spec.target_groups)
        row = self._store.service(spec.environment, spec.name)
        self._store.put_service(spec.environment, spec.name, spec.to_json(), row.taskdef if row else task_definition,
                                desired_count(spec, row))


def desired_count(spec: ServiceSpec, row: ServiceRow | None) -> int:
    """The declared desired count, unless `conveyor service scale` changed it since the
    declaration last changed."""
    if row is not None and row.spec.get("desired_count") == spec.desired_count:
        return row.desired_count
    return spec.desired_count
