"""CodeDeploy for the CODE_DEPLOY services of an environment (aws-semantics §5): the application
(`codeDeployApplication`, default conveyor-<env>, compute platform ECS), its service role, a
deployment group per service named after it, and the custom deployment configs conveyor.yml
defines (CodeDeploy's predefined ones are named as they are).

A group is BLUE_GREEN WITH_TRAFFIC_CONTROL (the only style for ECS) over the service's target
group pair behind its production listener (and test listener), with conveyor.yml's ready
option, blue's termination, automatic rollback and alarms. Durations become the whole minutes
CodeDeploy takes, rounded up; a custom config's percentage becomes a whole one. Each change is
noted.

    add_codedeploy(ctx, alarms)      # alarms: name -> value, from alarms.add_alarms
"""

from __future__ import annotations

import math
from typing import Any

from conveyor.config.codedeploy_configs import (
    ALL_AT_ONCE,
    CANARY,
    DEFAULT_CONFIG_NAME,
    format_duration,
    number_text,
    parse_duration,
)
from conveyor.config.codedeploy_model import ROLLBACK_EVENTS, STOP_DEPLOYMENT, TERMINATE
from conveyor.export.alarms import listed_alarms
from conveyor.export.context import CODE_DEPLOY, EnvironmentExport, ServiceExport
from conveyor.export.ecs import CLUSTER, service_id
from conveyor.export.iam import CODEDEPLOY_ROLE, add_codedeploy_role
from conveyor.export.naming import custom_config_name
from conveyor.export.network import has_test_listener, listener_id, target_group_ids
from conveyor.export.rounding import whole_minutes
from conveyor.export.template import GetAtt, Ref

APPLICATION = "CodeDeployApplication"


def add_codedeploy(ctx: EnvironmentExport, alarms: dict[str, Any]) -> None:
    services = [s for s in ctx.services if s.kind == CODE_DEPLOY]
    if not services:
        return
    ctx.template.resource(APPLICATION, "AWS::CodeDeploy::Application", {
        "ApplicationName": ctx.codedeploy_application, "ComputePlatform": "ECS"},
        source=ctx.at("codeDeployApplication"))
    ctx.template.output("CodeDeployApplicationName", Ref(APPLICATION), "The CodeDeploy application")
    add_codedeploy_role(ctx)
    configs: dict[str, tuple[dict[str, Any], str]] = {}  # name -> (TrafficRoutingConfig, logical id)
    for svc in services:
        _deployment_group(ctx, svc, _config_name(ctx, svc, configs), alarms)


def _config_name(ctx: EnvironmentExport, svc: ServiceExport, configs: dict[str, tuple[dict[str, Any], str]]) -> Any:
    """DeploymentConfigName: a predefined name, or a Ref to the custom config it creates."""
    config = svc.deployment_raw.get("config", DEFAULT_CONFIG_NAME)
    if isinstance(config, str):
        return config
    where = svc.at("deployment", "config")
    name = str(config.get("name") or custom_config_name(ctx.environment, svc.name))
    if not config.get("name"):
        ctx.notes.add(where + ".name", "not set (a custom config without a name)",
                      f"{name}; add `name: {name}` to conveyor.yml: the AWS backend deploys a custom config by name")
    routing = _traffic_routing(ctx, where, config)
    if name in configs:
        if configs[name][0] != routing:
            ctx.notes.add(where, f"custom config {name} defined again, differently",
                          "one deployment config of that name, as the first service defines it")
        return Ref(configs[name][1])
    logical_id = svc.id("DeploymentConfig")
    configs[name] = (routing, logical_id)
    ctx.template.resource(logical_id, "AWS::CodeDeploy::DeploymentConfig", {
        "DeploymentConfigName": name, "ComputePlatform": "ECS", "TrafficRoutingConfig": routing}, source=where)
    return Ref(logical_id)


def _traffic_routing(ctx: EnvironmentExport, where: str, config: dict[str, Any]) -> dict[str, Any]:
    kind = str(config.get("type", ALL_AT_ONCE))
    if kind == ALL_AT_ONCE:
        return {"Type": ALL_AT_ONCE}
    prefix = "canary" if kind == CANARY else "linear"
    percent_key, interval_key = f"{prefix}Percentage", f"{prefix}Interval"
    percent = float(config[percent_key])
    whole = min(100, max(1, math.floor(percent + 0.5)))
    if whole != percent:
        ctx.notes.add(f"{where}.{percent_key}", f"{number_text(percent)}%",
                      f"{whole}% (CodeDeploy takes whole percentages)")
    seconds = parse_duration(config[interval_key])
    minutes = whole_minutes(seconds, minimum=1)
    if minutes * 60 != seconds:
        ctx.notes.add(f"{where}.{interval_key}", format_duration(seconds),
                      f"{minutes} min (CodeDeploy takes whole minutes, at least 1)")
    name = kind  # TimeBasedCanary / TimeBasedLinear
    return {"Type": kind, name: {f"{prefix.capitalize()}Percentage": whole, f"{prefix.capitalize()}Interval": minutes}}


def _minutes(ctx: EnvironmentExport, svc: ServiceExport, key: str, seconds: float) -> int:
    minutes = whole_minutes(seconds)
    if minutes * 60 != seconds:
        ctx.notes.add(svc.at("deployment", key), format_duration(seconds),
                      f"{minutes} min (CodeDeploy takes whole minutes)")
    return minutes


def _deployment_group(ctx: EnvironmentExport, svc: ServiceExport, config: Any, alarms: dict[str, Any]) -> None:
    group = svc.group
    assert group is not None
    ready: dict[str, Any] = {"ActionOnTimeout": group.ready_action}
    if group.ready_action == STOP_DEPLOYMENT:
        ready["WaitTimeInMinutes"] = _minutes(ctx, svc, "waitTimeMinutes", group.ready_wait)
    blue: dict[str, Any] = {"Action": group.termination_action}
    if group.termination_action == TERMINATE:
        blue["TerminationWaitTimeInMinutes"] = _minutes(ctx, svc, "terminationWaitMinutes", group.termination_wait)
    groups = target_group_ids(svc)
    pair: dict[str, Any] = {"TargetGroups": [{"Name": GetAtt(g, "TargetGroupName")} for g in groups],
                            "ProdTrafficRoute": {"ListenerArns": [Ref(listener_id(svc))]}}
    if has_test_listener(svc):
        pair["TestTrafficRoute"] = {"ListenerArns": [Ref(listener_id(svc, test=True))]}
    events = [e for e in ROLLBACK_EVENTS if e in group.auto_rollback]
    rollback: dict[str, Any] = {"Enabled": bool(events)}
    if events:
        rollback["Events"] = events
    properties: dict[str, Any] = {
        "ApplicationName": Ref(APPLICATION), "DeploymentGroupName": svc.name,
        "ServiceRoleArn": GetAtt(CODEDEPLOY_ROLE, "Arn"), "DeploymentConfigName": config,
        "DeploymentStyle": {"DeploymentType": "BLUE_GREEN", "DeploymentOption": "WITH_TRAFFIC_CONTROL"},
        "BlueGreenDeploymentConfiguration": {"DeploymentReadyOption": ready,
                                             "TerminateBlueInstancesOnDeploymentSuccess": blue},
        "ECSServices": [{"ClusterName": Ref(CLUSTER), "ServiceName": GetAtt(service_id(svc), "Name")}],
        "LoadBalancerInfo": {"TargetGroupPairInfoList": [pair]},
        "AutoRollbackConfiguration": rollback}
    names = [name for name, _, _ in listed_alarms(svc)]
    if names:
        properties["AlarmConfiguration"] = {"Enabled": group.alarms_enabled,
                                            "IgnorePollAlarmFailure": group.ignore_poll_alarm_failure,
                                            "Alarms": [{"Name": alarms.get(n, n)} for n in names]}
    ctx.template.resource(svc.id("DeploymentGroup"), "AWS::CodeDeploy::DeploymentGroup", properties,
                          source=svc.at("deployment"))
