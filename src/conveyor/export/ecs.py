"""ECS resources of an environment (aws-semantics §4): the cluster (`cluster`, default
conveyor-<env>), and per service its log group, its first task definition revision and the
service itself, named as in conveyor.yml, on Fargate in TaskSubnetIds:

    rolling (controller ECS)     deployment controller ECS; minimumHealthyPercent, maximumPercent,
                                 the circuit breaker and the deployment's alarms, as the AWS backend's
                                 UpdateService sends them (conveyor.providers.aws.ecs.deployment_configuration)
    CODE_DEPLOY                  deployment controller CODE_DEPLOY: CodeDeploy deploys (codedeploy.py)
    CODE_DEPLOY with a strategy  ECS-native: controller ECS, Strategy BLUE_GREEN | CANARY | LINEAR with
                                 its bake times, the pair and listener rules in AdvancedConfiguration

A service starts with desiredCount tasks (none with StartTasks false). CloudFormation changes a
service's task definition only when the template's changes: deploys register later revisions
and CloudFormation leaves them alone until taskdef.json (or an image parameter) changes; then a
rolling service is updated to the template's revision, and a CODE_DEPLOY one refuses (CodeDeploy
owns its task definition), so deploy such a change with `conveyor deploy`.
"""

from __future__ import annotations

from typing import Any

from conveyor.config.codedeploy_configs import (
    DEFAULT_CANARY_BAKE_MINUTES,
    DEFAULT_CANARY_PERCENT,
    DEFAULT_STEP_BAKE_MINUTES,
    DEFAULT_STEP_PERCENT,
    format_duration,
    parse_duration,
)
from conveyor.config.codedeploy_group import rollback_events
from conveyor.config.codedeploy_model import DEPLOYMENT_STOP_ON_ALARM
from conveyor.config.taskdef import TaskDefinition
from conveyor.export.alarms import listed_alarms
from conveyor.export.context import CODE_DEPLOY, NATIVE, ROLLING, EnvironmentExport, ServiceExport
from conveyor.export.iam import ECS_LOAD_BALANCER_ROLE
from conveyor.export.naming import log_group_name
from conveyor.export.network import (
    has_test_listener,
    listener_id,
    listener_rule_id,
    target_group_ids,
    task_security_group_id,
)
from conveyor.export.parameters import ASSIGN_PUBLIC_IP, LOG_RETENTION, STARTING_TASKS, TASK_SUBNETS
from conveyor.export.rounding import whole_minutes
from conveyor.export.task_definition import log_group_id, task_definition
from conveyor.export.template import GetAtt, If, Ref

CLUSTER = "Cluster"


def add_cluster(ctx: EnvironmentExport) -> None:
    ctx.template.resource(CLUSTER, "AWS::ECS::Cluster", {"ClusterName": ctx.cluster}, source=ctx.at("cluster"))
    ctx.template.output("ClusterName", Ref(CLUSTER), "The ECS cluster")


def service_id(svc: ServiceExport) -> str:
    return svc.id("Service")


def add_service(ctx: EnvironmentExport, svc: ServiceExport, td: TaskDefinition, alarms: dict[str, Any]) -> None:
    """The service's log group, task definition and ECS service; `alarms` maps alarm names to
    their values in the template (alarms.add_alarms)."""
    t = ctx.template
    t.resource(log_group_id(svc), "AWS::Logs::LogGroup", {
        "LogGroupName": log_group_name(ctx.environment, svc.name), "RetentionInDays": Ref(LOG_RETENTION)},
        source=svc.at())
    t.output(log_group_id(svc) + "Name", Ref(log_group_id(svc)), f"{svc.name}: its containers' logs")
    t.resource(svc.id("TaskDefinition"), "AWS::ECS::TaskDefinition", task_definition(ctx, svc, td),
               source=svc.at("taskDefinition"))
    spec = svc.spec
    properties: dict[str, Any] = {
        "ServiceName": spec.name, "Cluster": Ref(CLUSTER), "TaskDefinition": Ref(svc.id("TaskDefinition")),
        "LaunchType": "FARGATE", "DesiredCount": If(STARTING_TASKS, spec.desired_count, 0),
        "DeploymentController": {"Type": "CODE_DEPLOY" if svc.kind == CODE_DEPLOY else "ECS"},
        "NetworkConfiguration": {"AwsvpcConfiguration": {
            "Subnets": Ref(TASK_SUBNETS), "SecurityGroups": [GetAtt(task_security_group_id(svc), "GroupId")],
            "AssignPublicIp": Ref(ASSIGN_PUBLIC_IP)}}}
    depends: tuple[str, ...] = ()
    lb = spec.load_balancer
    if lb is not None:
        groups = target_group_ids(svc)
        balancer: dict[str, Any] = {"ContainerName": lb.container, "ContainerPort": lb.container_port,
                                    "TargetGroupArn": Ref(groups[0])}
        if svc.kind == NATIVE:
            advanced: dict[str, Any] = {"AlternateTargetGroupArn": Ref(groups[1]),
                                        "ProductionListenerRule": Ref(listener_rule_id(svc))}
            if has_test_listener(svc):
                advanced["TestListenerRule"] = Ref(listener_rule_id(svc, test=True))
            advanced["RoleArn"] = GetAtt(ECS_LOAD_BALANCER_ROLE, "Arn")
            balancer["AdvancedConfiguration"] = advanced  # its Refs order the rules (and listeners) first
        else:
            depends = (listener_id(svc),) + ((listener_id(svc, True),) if has_test_listener(svc) else ())
        properties["LoadBalancers"] = [balancer]
    if lb is not None or spec.health_check_grace_period:
        grace = int(spec.health_check_grace_period)  # as the AWS backend's UpdateService sends it
        if grace != spec.health_check_grace_period:
            ctx.notes.add(svc.at("healthCheckGracePeriodSeconds"), f"{spec.health_check_grace_period} s",
                          f"{grace} s (ECS takes whole seconds; the AWS backend's deploys send the same)")
        properties["HealthCheckGracePeriodSeconds"] = grace
    configuration = {ROLLING: _rolling, CODE_DEPLOY: _code_deploy, NATIVE: _native}[svc.kind](ctx, svc, alarms)
    if configuration:
        properties["DeploymentConfiguration"] = configuration
    t.resource(service_id(svc), "AWS::ECS::Service", properties, source=svc.at(), depends_on=depends)
    t.output(service_id(svc) + "Name", GetAtt(service_id(svc), "Name"), f"{svc.name}: the ECS service")


def _alarm_configuration(svc: ServiceExport, alarms: dict[str, Any]) -> dict[str, Any] | None:
    """ECS deployment alarms of the `deployment:` block: enable is alarmsEnabled, rollback follows
    DEPLOYMENT_STOP_ON_ALARM of autoRollback (as the AWS backend sends them)."""
    names = [name for name, _, _ in listed_alarms(svc)]
    if not names:
        return None
    dep = svc.deployment_raw
    return {"AlarmNames": [alarms.get(n, n) for n in names], "Enable": bool(dep.get("alarmsEnabled", True)),
            "Rollback": DEPLOYMENT_STOP_ON_ALARM in rollback_events(dep.get("autoRollback", True))}


def _rolling(ctx: EnvironmentExport, svc: ServiceExport, alarms: dict[str, Any]) -> dict[str, Any]:
    spec, breaker = svc.spec, svc.spec.circuit_breaker
    given = svc.deployment_raw.get("circuitBreaker") or {}
    for key in ("threshold", "resetOnHealthyTask"):
        if key in given:
            ctx.notes.add(svc.at("deployment", "circuitBreaker", key), f"{key} {shown(given[key])}",
                          "left out: ECS takes enable and rollback only and applies its own threshold "
                          "(half the desired count, 3 to 200 tasks) and reset")
    out: dict[str, Any] = {
        "MinimumHealthyPercent": spec.rolling.minimum_healthy_percent, "MaximumPercent": spec.rolling.maximum_percent,
        "DeploymentCircuitBreaker": {"Enable": breaker.enable, "Rollback": breaker.rollback}}
    configured = _alarm_configuration(svc, alarms)
    if configured:
        out["Alarms"] = configured
    return out


def _code_deploy(ctx: EnvironmentExport, svc: ServiceExport, alarms: dict[str, Any]) -> dict[str, Any]:
    for key in ("minimumHealthyPercent", "maximumPercent"):
        if key in svc.deployment_raw:
            ctx.notes.add(svc.at("deployment", key), f"{key} {svc.deployment_raw[key]}",
                          "left out: CodeDeploy replaces a Fargate service's tasks as a whole task set")
    return {}


def _native(ctx: EnvironmentExport, svc: ServiceExport, alarms: dict[str, Any]) -> dict[str, Any]:
    """ECS-native strategy, as the AWS backend's UpdateService sends it
    (conveyor.providers.aws.ecs_native_views.deployment_configuration), in whole minutes."""
    dep = svc.deployment_raw
    strategy = str(dep["strategy"])
    out: dict[str, Any] = {"Strategy": strategy}
    if "bakeTimeInMinutes" in dep:
        out["BakeTimeInMinutes"] = _minutes(ctx, svc.at("deployment", "bakeTimeInMinutes"), dep["bakeTimeInMinutes"])
    if strategy == "CANARY":
        canary = dep.get("canaryConfiguration") or {}
        out["CanaryConfiguration"] = {
            "CanaryPercent": float(canary.get("canaryPercent", DEFAULT_CANARY_PERCENT)),
            "CanaryBakeTimeInMinutes": _minutes(ctx, svc.at("deployment", "canaryConfiguration",
                                                            "canaryBakeTimeInMinutes"),
                                                canary.get("canaryBakeTimeInMinutes", DEFAULT_CANARY_BAKE_MINUTES))}
    elif strategy == "LINEAR":
        linear = dep.get("linearConfiguration") or {}
        out["LinearConfiguration"] = {
            "StepPercent": float(linear.get("stepPercent", DEFAULT_STEP_PERCENT)),
            "StepBakeTimeInMinutes": _minutes(ctx, svc.at("deployment", "linearConfiguration",
                                                          "stepBakeTimeInMinutes"),
                                              linear.get("stepBakeTimeInMinutes", DEFAULT_STEP_BAKE_MINUTES))}
    configured = _alarm_configuration(svc, alarms)
    if configured:
        out["Alarms"] = configured
    return out


def shown(value: Any) -> str:
    """A conveyor.yml value as it reads there.

    >>> shown(True), shown({"type": "COUNT", "value": 3})
    ('true', '{type: COUNT, value: 3}')
    """
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {shown(v)}" for k, v in value.items()) + "}"
    return str(value)


def _minutes(ctx: EnvironmentExport, where: str, value: Any) -> int:
    seconds = parse_duration(value)
    minutes = whole_minutes(seconds)
    if minutes * 60 != seconds:
        ctx.notes.add(where, format_duration(seconds), f"{minutes} min (ECS takes whole minutes)")
    return minutes
