"""ECS over the local service controller (podman pods behind HAProxy)."""

from __future__ import annotations

from collections.abc import Mapping

from conveyor.backend.types import (
    ContainerLog,
    EcsDeployment,
    Rollout,
    ServiceDescription,
    ServiceSummary,
    TaskDefinitionRevision,
)
from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import NotFound
from conveyor.providers.local.codedeploy.controller import (
    TASK_DEFINITION_ARN,
)
from conveyor.providers.local.ecs import reasons
from conveyor.providers.local.ecs.controller import ServiceController


class LocalEcs:
    def __init__(self, services: ServiceController):
        self._store = services.store
        self._deployments = services.deployments
        self._views = services.views

    def register_task_definition(self, environment: str, body: dict) -> TaskDefinitionRevision:
        name = self._deployments.register_taskdef(body)
        return TaskDefinitionRevision(name, TASK_DEFINITION_ARN.format(name), self._store.taskdef(name) or body)

    def describe_task_definition(self, environment: str, name: str) -> TaskDefinitionRevision | None:
        body = self._store.taskdef(name) if ":" in name else None
        return TaskDefinitionRevision(name, TASK_DEFINITION_ARN.format(name), body) if body is not None else None

    def update_service(self, spec: ServiceSpec, *, task_definition: str, client_token: str | None,
                       origin: Mapping[str, object]) -> EcsDeployment:
        dep = self._deployments.update_service(spec, task_definition=task_definition, client_token=client_token,
                                               origin=origin)
        return self._views.deployment_view(dep)

    def declare_service(self, spec: ServiceSpec, *, task_definition: str) -> None:
        self._deployments.declare_service(spec, task_definition=task_definition)

    def scale_service(self, environment: str, service: str, desired_count: int, *, by: str) -> ServiceDescription:
        self._deployments.scale(environment, service, desired_count, by=by)
        return self._views.describe(environment, service)

    def list_services(self) -> list[ServiceSummary]:
        return self._views.services()

    def describe_service(self, environment: str, service: str) -> ServiceDescription:
        return self._views.describe(environment, service)

    def describe_rollout(self, environment: str, service: str) -> Rollout:
        return self._views.deployment_status(environment, service)

    def describe_deployment(self, environment: str, service: str, deployment_id: str) -> EcsDeployment:
        dep = self._store.deployment(deployment_id)
        if dep is None or (dep.environment, dep.service) != (environment, service):
            raise NotFound(reasons.unknown_deployment(environment, service, deployment_id))
        return self._views.deployment_view(dep)

    def roll_back_service(self, environment: str, service: str, *, who: str, reason: str) -> EcsDeployment:
        dep = self._deployments.roll_back_to_previous(environment, service, who=who, reason=reason)
        return self._views.deployment_view(dep)

    def service_logs(self, environment: str, service: str, tail: int) -> list[ContainerLog]:
        return self._views.logs(environment, service, tail)
