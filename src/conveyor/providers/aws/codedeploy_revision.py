"""What a CodeDeploy deployment on AWS deploys and how Conveyor finds it again: the AppSpec
content (aws-semantics §5.2) with the revision's ARN in it, checked against the service; the
deployment config it names; and the description that carries the caller's idempotency key,
because CreateDeployment takes no client token.

    text, appspec = prepare_appspec(spec, None, "appspec.yaml", "orders:7", ARN)   # or UserError
    deployment_description("orders:7", "CodePipeline", "ex-1/Deploy/Deploy/1")
    # 'Conveyor: orders:7 (CodePipeline) [conveyor:a6c70345b751fc73]'

AppSpec hooks on AWS are Lambda functions: parse_appspec refuses a hook value that is not a
function name (NAME, NAME:QUALIFIER, ACCOUNT:function:NAME) or a Lambda ARN. conveyor.yml's
`deployment.hooks` (commands, containers, URLs standing in for functions) only run locally.
"""

from __future__ import annotations

import hashlib
import re

from conveyor.config.appspec import TASK_DEFINITION_TOKEN, AppSpec, parse_appspec
from conveyor.config.codedeploy_configs import PREDEFINED
from conveyor.deploy.spec import LoadBalancerSpec, ServiceSpec
from conveyor.errors import ConfigError, UserError
from conveyor.providers.aws import codedeploy_reasons as reasons

#: CodeDeploy quotas: "Number of characters in a deployment description: 100".
DESCRIPTION_LIMIT = 100
#: The idempotency key is hashed: keys (EXECUTION/STAGE/ACTION/N) can be longer than a description.
KEY_DIGITS = 16
_DESCRIPTION = re.compile(r"^Conveyor: (?P<taskdef>\S+) \((?P<creator>[^)]*)\)")


def load_balancer_of(spec: ServiceSpec) -> LoadBalancerSpec:
    if spec.load_balancer is None:
        raise UserError(reasons.no_load_balancer(spec.name, spec.environment), hint=reasons.HINT_NO_LOAD_BALANCER)
    return spec.load_balancer


def default_appspec(spec: ServiceSpec) -> str:
    """The AppSpec of a deployment without one: the service's container and port, no hooks."""
    lb = load_balancer_of(spec)
    return ("version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n"
            f"        TaskDefinition: {TASK_DEFINITION_TOKEN}\n        LoadBalancerInfo:\n"
            f"          ContainerName: {lb.container}\n          ContainerPort: {lb.container_port}\n")


def parse_checked(text: str, source: str) -> AppSpec:
    """The AppSpec in text, or ConfigError with its diagnostics (hook values included)."""
    appspec, problems = parse_appspec(text, source)
    errors = [p for p in problems if p.severity == "error"]
    if appspec is None or errors:
        raise ConfigError(errors or problems)
    return appspec


def prepare_appspec(spec: ServiceSpec, appspec: str | None, source: str, revision: str,
                    revision_arn: str) -> tuple[str, AppSpec]:
    """The AppSpec content to send (the given text, or the default) with <TASK_DEFINITION>
    replaced by the revision's ARN, and its parsed form; ConfigError or UserError when it does
    not fit the service or names another revision."""
    lb = load_balancer_of(spec)
    text = (appspec if appspec is not None else default_appspec(spec)).replace(TASK_DEFINITION_TOKEN, revision_arn)
    parsed = parse_checked(text, source)
    where = reasons.appspec_properties(source)
    if parsed.container_name != lb.container or int(parsed.container_port) != lb.container_port:
        raise UserError(reasons.appspec_other_container(where, parsed.container_name, parsed.container_port,
                                                        lb.container, lb.container_port),
                        hint=reasons.HINT_SAME_CONTAINER)
    if parsed.task_definition != revision_arn:
        raise UserError(reasons.appspec_other_revision(where, parsed.task_definition, revision),
                        hint=reasons.HINT_TASK_DEFINITION_PLACEHOLDER)
    return text, parsed


def deployment_config_name(spec: ServiceSpec) -> str | None:
    """deploymentConfigName for CreateDeployment: None leaves the group's own; a predefined
    CodeDeployDefault.* name is passed; a custom config must exist on AWS under its `name`."""
    config = spec.deployment.get("config")
    if config is None:
        return None
    if isinstance(config, str):
        return config
    name = config.get("name") if isinstance(config, dict) else None
    if not name:
        raise UserError(reasons.custom_config_without_name(spec.environment, spec.name),
                        hint=reasons.HINT_CUSTOM_CONFIG)
    return str(name)


def is_predefined(config: str) -> bool:
    return config in PREDEFINED


# -- the description: what, by whom, and the key --------------------------------------------------
def key_marker(key: str) -> str:
    """The marker a deployment's description carries for its key (a hash: keys can be long).

    >>> key_marker("ex-1/Deploy/Deploy/1")
    '[conveyor:a6c70345b751fc73]'
    """
    return f"[conveyor:{hashlib.sha256(key.encode()).hexdigest()[:KEY_DIGITS]}]"


def deployment_description(task_definition: str, creator: str, key: str | None) -> str:
    marker = f" {key_marker(key)}" if key else ""
    text = reasons.description(task_definition, creator)
    return text[:DESCRIPTION_LIMIT - len(marker)] + marker


def carries_key(description: str | None, key: str) -> bool:
    return bool(description) and key_marker(key) in str(description)


def described(description: str | None) -> tuple[str, str] | None:
    """(task definition, creator) from a description Conveyor wrote, else None.

    >>> described("Conveyor: orders:7 (CodePipeline) [conveyor:a6c70345b751fc73]")
    ('orders:7', 'CodePipeline')
    """
    match = _DESCRIPTION.match(description or "")
    return (match["taskdef"], match["creator"]) if match else None
