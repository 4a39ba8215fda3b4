"""Reads of the ECS store that the API and the scheduler both ask: a service that must exist,
its PRIMARY deployment, its declaration.

    row = service_row(store, "staging", "orders")    # or NotFound naming the known services
    primary_deployment(store, "staging", "orders")   # Deployment | None
"""

from __future__ import annotations

from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import NotFound
from conveyor.providers.local.ecs import reasons
from conveyor.providers.local.ecs.store import PRIMARY, Deployment, EcsStore, ServiceRow


def service_row(store: EcsStore, environment: str, service: str) -> ServiceRow:
    row = store.service(environment, service)
    if row is None:
        known = [f"{r.environment}/{r.name}" for r in store.services()]
        raise NotFound(reasons.unknown_service(environment, service, known))
    return row


def primary_deployment(store: EcsStore, environment: str, service: str) -> Deployment | None:
    return next((d for d in store.deployments(environment, service, live_only=True) if d.status == PRIMARY), None)


def spec_of(row: ServiceRow) -> ServiceSpec:
    return ServiceSpec.from_json(row.spec)
