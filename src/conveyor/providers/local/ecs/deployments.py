"""Deployments of a local service: registering task definition revisions, making a revision
the PRIMARY deployment of a rolling service (UpdateService), declaring a blue/green service for
the deploy controller, and `conveyor rollback` of a rolling service. Preparing the revision (the
images, the placeholders) is the release service's job (conveyor.deploy.revisions).

Mixed into ServiceController (store, lock, _taskdefs, _primary, _service_row, _steady, _wake,
balancers).
"""

from __future__ import annotations

from collections.abc import Mapping

from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import UserError
from conveyor.lb.model import validate_topology
from conveyor.providers.local.ecs import reasons
from conveyor.providers.local.ecs.store import COMPLETED, FAILED, Deployment


class Deployments:
    def register_taskdef(self, body: dict) -> str:
        """RegisterTaskDefinition: `family:N` (the latest revision again if nothing changed)."""
        name, _ = self.store.register_taskdef(str(body["family"]), body)
        self._taskdefs.pop(name, None)
        return name

    def update_service(self, spec: ServiceSpec, *, task_definition: str, client_token: str | None = None,
                       origin: Mapping[str, object] | None = None) -> Deployment:
        """Make `task_definition` the service's PRIMARY deployment (creating the service the
        first time). Deploying what the service already runs starts nothing; the same client
        token returns the deployment it created."""
        if spec.controller != "ECS":
            raise UserError(reasons.not_rolling(spec.environment, spec.name, spec.controller),
                            hint=reasons.ROLLING_ONLY_HINT)
        with self.lock:
            if client_token:
                known = self.store.deployment_by_token(client_token)
                if known is not None:
                    return known
            self._check_topology(spec)
            row = self.store.service(spec.environment, spec.name)
            self.store.put_service(spec.environment, spec.name, spec.to_json(), row.taskdef if row else task_definition,
                                   self._desired(spec, row))
            primary = self._primary(spec.environment, spec.name)
            if primary is not None and primary.taskdef == task_definition and primary.rollout_state != FAILED:
                self._wake.set()
                return primary
            dep = self.store.create_deployment(spec.environment, spec.name, task_definition, dict(origin or {}),
                                               client_token=client_token)
            self.store.event(spec.environment, spec.name,
                             reasons.deployment_started(spec.name, dep.id, task_definition))
            self._steady.pop((spec.environment, spec.name), None)
        self._wake.set()
        return dep

    def declare_service(self, spec: ServiceSpec, *, task_definition: str) -> None:
        """Blue/green: store the service's declaration (the deploy controller creates the task
        sets) and put its listeners on the load balancer before any weight moves."""
        with self.lock:
            self._check_topology(spec)
            row = self.store.service(spec.environment, spec.name)
            self.store.put_service(spec.environment, spec.name, spec.to_json(), row.taskdef if row else task_definition,
                                   self._desired(spec, row))
            self.balancers.apply(spec.environment,
                                 [ServiceSpec.from_json(r.spec) for r in self.store.services(spec.environment)])
        self._wake.set()

    @staticmethod
    def _desired(spec: ServiceSpec, row) -> int:
        """The declared desired count, unless `conveyor service scale` changed it since the
        declaration last changed."""
        if row is not None and row.spec.get("desired_count") == spec.desired_count:
            return row.desired_count
        return spec.desired_count

    @staticmethod
    def _check_topology(spec: ServiceSpec) -> None:
        if spec.target_group is not None:  # what HAProxy would refuse, before anything changes
            validate_topology(spec.listeners, spec.target_groups)

    def roll_back_to_previous(self, environment: str, service: str, *, who: str, reason: str = "") -> Deployment:
        """`conveyor rollback` of a rolling service: deploy the last revision that completed
        before the current one, as a new (rolling) deployment."""
        with self.lock:
            row = self._service_row(environment, service)
            primary = self._primary(environment, service)
            current = primary.taskdef if primary else row.taskdef
            previous = next((d for d in self.store.deployments(environment, service, limit=100)
                             if d.rollout_state == COMPLETED and d.taskdef != current), None)
            if previous is None:
                raise UserError(reasons.nothing_to_roll_back_to(environment, service))
            dep = self.store.create_deployment(environment, service, previous.taskdef,
                                               {"rollback": True, "to": previous.id, "by": who, "reason": reason})
            self.store.event(environment, service, reasons.rollback_requested(service, previous.taskdef, who, reason,
                                                                              dep.id))
            self._steady.pop((environment, service), None)
        self._wake.set()
        return dep
