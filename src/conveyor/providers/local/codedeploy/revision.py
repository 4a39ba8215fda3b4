"""What a deployment deploys and under which rules: its AppSpec (aws-semantics §5.2), checked
against the service and its deployment group, and the group (§5.5) as the deployment recorded it.

    text = default_appspec(spec).replace(PLACEHOLDER, TASK_DEFINITION_ARN.format("orders:7"))
    appspec = check_appspec(text, "appspec.yaml", spec, group, "orders:7")    # or UserError
    group_of(d).config.name                                                  # 'CodeDeployDefault.ECSAllAtOnce'
    load_balancer_of(spec).test_port                                         # or UserError without one
"""

from __future__ import annotations

from typing import Protocol

from conveyor.config.appspec import AppSpec, parse_appspec
from conveyor.config.codedeploy_group import deployment_group, hook_for
from conveyor.config.codedeploy_model import DeploymentGroup
from conveyor.deploy.spec import LoadBalancerSpec, ServiceSpec
from conveyor.errors import ConfigError, NotFound, UserError
from conveyor.providers.local.codedeploy import reasons
from conveyor.providers.local.codedeploy.store import CodeDeployment

#: A registered revision's ARN, as the AppSpec's TaskDefinition names it.
TASK_DEFINITION_ARN = "arn:aws:ecs:local:000000000000:task-definition/{}"
#: What an AppSpec writes for "the revision being deployed" (the CodeDeployToECS action's placeholder).
PLACEHOLDER = "<TASK_DEFINITION>"


class ServiceSpecs(Protocol):
    """The part of the task-set API that gives a service's declaration."""

    def service_spec(self, environment: str, service: str) -> ServiceSpec | None: ...


def load_balancer_of(spec: ServiceSpec) -> LoadBalancerSpec:
    """The service's load balancer, or UserError: a CODE_DEPLOY service shifts traffic on one
    (DeployController.create refuses a service without it)."""
    if spec.load_balancer is None:
        raise UserError(reasons.no_load_balancer(spec.name, spec.environment), hint=reasons.HINT_NO_LOAD_BALANCER)
    return spec.load_balancer


def default_appspec(spec: ServiceSpec) -> str:
    """The AppSpec a deployment without one uses: the service's container and port, no hooks."""
    lb = load_balancer_of(spec)
    return ("version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n"
            f"        TaskDefinition: {PLACEHOLDER}\n        LoadBalancerInfo:\n"
            f"          ContainerName: {lb.container}\n          ContainerPort: {lb.container_port}\n")


def check_appspec(text: str, source: str, spec: ServiceSpec, group: DeploymentGroup, revision: str) -> AppSpec:
    """The parsed AppSpec, or ConfigError/UserError naming what does not fit the service."""
    appspec, problems = parse_appspec(text, source)
    errors = [p for p in problems if p.severity == "error"]
    if appspec is None or errors:
        raise ConfigError(errors or problems)
    lb = load_balancer_of(spec)
    where = reasons.appspec_properties(source)
    if appspec.container_name != lb.container or int(appspec.container_port) != lb.container_port:
        raise UserError(reasons.appspec_other_container(where, appspec.container_name, appspec.container_port,
                                                        lb.container, lb.container_port),
                        hint=reasons.HINT_SAME_CONTAINER)
    if appspec.task_definition.rsplit("/", 1)[-1] != revision:
        raise UserError(reasons.appspec_other_revision(where, appspec.task_definition, revision),
                        hint=reasons.HINT_TASK_DEFINITION_PLACEHOLDER)
    for event, function in appspec.hooks:
        if hook_for(group, function) is None:
            raise UserError(reasons.appspec_unknown_hook(source, event, function, spec.environment, spec.name,
                                                         group.hooks),
                            hint=reasons.HINT_DEFINE_HOOK)
    return appspec


def group_of(d: CodeDeployment) -> DeploymentGroup:
    """The deployment group as the deployment recorded it when it was created."""
    return deployment_group(d.grp.get("deployment") or {}, d.grp.get("alarms") or {})


def appspec_hooks(d: CodeDeployment) -> dict[str, str]:
    """Lifecycle event → the function its AppSpec names."""
    if not d.appspec:
        return {}
    appspec, _ = parse_appspec(d.appspec, "appspec")
    return dict(appspec.hooks) if appspec else {}


def spec_of(services: ServiceSpecs, d: CodeDeployment) -> ServiceSpec:
    """The deployment's service as last declared (NotFound once it is gone)."""
    spec = services.service_spec(d.environment, d.service)
    if spec is None:
        raise NotFound(reasons.service_gone(d.environment, d.service))
    return spec
