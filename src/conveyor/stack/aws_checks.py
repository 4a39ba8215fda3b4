"""`conveyor doctor --target aws [ENV]`: who Conveyor is on AWS, and whether every resource that
conveyor.yml's `target: aws` environments name exists and can be read — with, for whatever is
missing or refused, what to do (provision it, or the IAM action to allow). Read-only.

    for status in aws_checks(definition, only="production")():
        print(status.line())
    # -> ✓ aws identity (production): arn:aws:sts::123456789012:assumed-role/deployer/conveyor
    # -> ✓ ecs cluster orders-prod (production): ACTIVE, 2 services
    # -> ✗ codedeploy deployment group orders/orders (production): not found — fix: conveyor provision production
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

from conveyor.deploy.spec import ServiceSpec, service_specs
from conveyor.errors import ConveyorError, NotFound, UserError
from conveyor.stack.checks import Status

PROVISION_FIX = "conveyor provision {env} (or create it in your own templates)"


def aws_environments(environments: Mapping[str, Any], only: str | None = None) -> list[str]:
    names = [name for name, env in (environments or {}).items()
             if isinstance(env, dict) and env.get("target") == "aws"]
    if only is not None:
        if only not in (environments or {}):
            known = ", ".join(environments) or "none"
            raise UserError(f"no environment '{only}' in conveyor.yml (environments: {known})")
        if only not in names:
            raise UserError(f"environment '{only}' is not target: aws")
        return [only]
    return names


Check = Callable[[], Iterable[Status]]


def aws_checks(environments: Mapping[str, Any], *, only: str | None = None,
               api_for: Callable[[str, Mapping[str, Any]], Any] | None = None) -> list[tuple[str, Check]]:
    """One check per AWS environment. `api_for(name, settings)` gives its AwsApi (tests pass one
    over moto)."""
    if api_for is None:
        from conveyor.providers.aws.api import AwsApi
        from conveyor.providers.aws.settings import AwsEnvironment

        def api_for(name: str, settings: Mapping[str, Any]) -> Any:
            return AwsApi(AwsEnvironment.from_settings(name, settings))
    make = api_for
    out: list[tuple[str, Check]] = []
    for name in aws_environments(environments, only):
        settings = {k: v for k, v in environments[name].items() if k not in ("target", "services", "alarms")}
        out.append((f"aws {name}", partial(_check, name, settings, service_specs(dict(environments), name), make)))
    return out


def _check(env: str, settings: Mapping[str, Any], specs: Mapping[str, ServiceSpec],
           make: Callable[[str, Mapping[str, Any]], Any]) -> list[Status]:
    return list(_environment(env, make(env, settings), specs))


def _environment(env: str, api: Any, specs: Mapping[str, ServiceSpec]) -> Iterable[Status]:
    where = f"({env})"
    try:
        who = api.call("sts", "GetCallerIdentity")
    except ConveyorError as exc:
        yield Status(f"aws identity {where}", False, str(exc), exc.hint)
        return
    yield Status(f"aws identity {where}", True, f"{who['Arn']} (account {who['Account']}, {api.env.region})")
    cluster = api.env.cluster
    yield from _probe(f"ecs cluster {cluster} {where}", env, lambda: _cluster(api, cluster))
    for spec in specs.values():
        yield from _probe(f"ecs service {cluster}/{spec.name} {where}", env, partial(_service, api, spec))
        if spec.blue_green and not spec.deployment.get("strategy"):
            app = api.env.codedeploy_application
            yield from _probe(f"codedeploy deployment group {app}/{spec.name} {where}", env,
                              partial(_deployment_group, api, app, spec.name))
        alarms = _alarm_names(spec)
        if alarms:
            yield from _probe(f"cloudwatch alarms of {spec.name} {where}", env,
                              partial(_alarms, api, alarms))


def _probe(name: str, env: str, observe: Callable[[], str]) -> Iterable[Status]:
    try:
        yield Status(name, True, observe())
    except NotFound as exc:
        yield Status(name, False, f"not found ({exc})", PROVISION_FIX.format(env=env))
    except ConveyorError as exc:  # AwsPermissionDenied carries the IAM action in its hint
        yield Status(name, False, str(exc), exc.hint)


def _cluster(api: Any, cluster: str) -> str:
    found = api.call("ecs", "DescribeClusters", clusters=[cluster]).get("clusters") or []
    if not found or found[0].get("status") != "ACTIVE":
        raise NotFound(f"ECS cluster {cluster}")
    c = found[0]
    return f"{c['status']}, {c.get('activeServicesCount', 0)} services, {c.get('runningTasksCount', 0)} tasks running"


def _service(api: Any, spec: ServiceSpec) -> str:
    found = api.call("ecs", "DescribeServices", cluster=api.env.cluster, services=[spec.name]).get("services") or []
    if not found or found[0].get("status") != "ACTIVE":
        raise NotFound(f"ECS service {spec.name} in cluster {api.env.cluster}")
    s = found[0]
    controller = (s.get("deploymentController") or {}).get("type", "ECS")
    wanted = "CODE_DEPLOY" if spec.blue_green and not spec.deployment.get("strategy") else "ECS"
    if controller != wanted:
        raise UserError(f"its deployment controller is {controller}, conveyor.yml says {wanted}")
    groups = [lb.get("targetGroupArn", "").rsplit(":", 1)[-1] for lb in s.get("loadBalancers") or []]
    return (f"{s['status']}, {controller}, {s.get('runningCount', 0)}/{s.get('desiredCount', 0)} running"
            + (f", {', '.join(groups)}" if groups else ""))


def _deployment_group(api: Any, app: str, group: str) -> str:
    info = api.call("codedeploy", "GetDeploymentGroup", applicationName=app,
                    deploymentGroupName=group)["deploymentGroupInfo"]
    style = info.get("deploymentStyle") or {}
    pairs = (info.get("loadBalancerInfo") or {}).get("targetGroupPairInfoList") or []
    groups = [tg["name"] for pair in pairs for tg in pair.get("targetGroups", [])]
    return (f"{style.get('deploymentType', '?')}, {info.get('deploymentConfigName', '?')}, "
            f"target groups {', '.join(groups) or 'none'}")


def _alarm_names(spec: ServiceSpec) -> list[str]:
    names = []
    for alarm in spec.deployment.get("alarms") or []:
        names.append(alarm if isinstance(alarm, str) else str(alarm.get("name")))
    return names


def _alarms(api: Any, names: list[str]) -> str:
    found = {a["AlarmName"]: a["StateValue"] for a in
             api.call("cloudwatch", "DescribeAlarms", AlarmNames=names).get("MetricAlarms") or []}
    missing = [n for n in names if n not in found]
    if missing:
        raise NotFound(f"CloudWatch alarm(s) {', '.join(missing)}")
    return ", ".join(f"{n} {found[n]}" for n in names)
