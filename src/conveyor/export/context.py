"""What the parts of an environment's export share: the template being built, the notes, the
environment, and each service with its logical-id prefix, its kind of deployment and (blue/green)
its deployment group.

    ctx = EnvironmentExport(template, notes, "production", env_raw, Path("."))
    svc = ctx.services[0]
    svc.id("Service"), svc.at("deployment", "config")   # 'OrdersService', 'environments.production.…'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conveyor.config.codedeploy_group import deployment_group
from conveyor.config.codedeploy_model import DeploymentGroup
from conveyor.deploy.spec import ServiceSpec, service_specs
from conveyor.export.naming import cluster_name, codedeploy_application_name, logical_ids
from conveyor.export.notes import Notes
from conveyor.export.template import Template

#: How a service deploys: an ECS rolling update, CodeDeploy blue/green, or ECS-native
#: blue/green, canary or linear (a CODE_DEPLOY service of conveyor.yml with a `strategy`).
ROLLING, CODE_DEPLOY, NATIVE = "rolling", "codedeploy", "native"


@dataclass(frozen=True)
class ServiceExport:
    spec: ServiceSpec
    prefix: str  # the logical-id prefix, e.g. "Orders"
    group: DeploymentGroup | None  # blue/green only
    raw: dict[str, Any] = field(default_factory=dict, compare=False)  # environments.E.services.S

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def kind(self) -> str:
        if not self.spec.blue_green:
            return ROLLING
        return NATIVE if "strategy" in self.spec.deployment else CODE_DEPLOY

    def id(self, suffix: str) -> str:
        return self.prefix + suffix

    @property
    def load_balancer_raw(self) -> dict[str, Any]:
        return dict(self.raw.get("loadBalancer") or {})

    @property
    def deployment_raw(self) -> dict[str, Any]:
        return dict(self.raw.get("deployment") or {})

    def at(self, *keys: str) -> str:
        """The conveyor.yml key path of something of this service."""
        return ".".join(("environments", self.spec.environment, "services", self.name, *keys))


@dataclass
class EnvironmentExport:
    template: Template
    notes: Notes
    environment: str
    raw: dict[str, Any]  # environments.<name>
    repository_root: Path
    repositories: list[str] = field(default_factory=list)  # conveyor.yml `repositories:` names
    services: list[ServiceExport] = field(default_factory=list)

    def __post_init__(self) -> None:
        specs = service_specs({self.environment: self.raw}, self.environment)
        prefixes = logical_ids(specs)
        alarms = self.raw.get("alarms") if isinstance(self.raw.get("alarms"), dict) else {}
        self.services = [ServiceExport(spec, prefixes[name],
                                       deployment_group(spec.deployment, alarms) if spec.blue_green else None,
                                       dict((self.raw.get("services") or {}).get(name) or {}))
                         for name, spec in specs.items()]

    @property
    def cluster(self) -> str:
        return cluster_name(self.environment, self.raw)

    @property
    def codedeploy_application(self) -> str:
        return codedeploy_application_name(self.environment, self.raw)

    @property
    def load_balanced(self) -> list[ServiceExport]:
        return [s for s in self.services if s.spec.load_balancer is not None]

    def at(self, *keys: str) -> str:
        return ".".join(("environments", self.environment, *keys))
