"""The notes for what conveyor.yml says that only Conveyor does: hook stand-ins (on AWS an AppSpec
hook is a Lambda function), the probe, requireTraffic, a local environment exported for AWS, and
the CodeDeploy keys an ECS-native deployment has no place for. Nothing here adds a resource:
each feature is named with what happens on AWS instead.

    add_target_note(ctx)          # first, before any other note
    add_local_only_notes(ctx)     # last, once the resources are made
"""

from __future__ import annotations

from conveyor.config.appspec import hook_function_name, load_appspec
from conveyor.config.codedeploy_configs import number_text
from conveyor.config.codedeploy_model import KEEP_ALIVE, STOP_DEPLOYMENT, HookSpec
from conveyor.errors import ConfigError
from conveyor.export.context import NATIVE, EnvironmentExport, ServiceExport

HOOK_REPORT = "which must exist there and report with PutLifecycleEventHookExecutionStatus within CodeDeploy's hour"


def add_target_note(ctx: EnvironmentExport) -> None:
    if ctx.raw.get("target", "local") != "aws":
        ctx.notes.add(ctx.at("target"), f"a local environment (target: {ctx.raw.get('target', 'local')})",
                      "exported for AWS as it is; to deploy it there with Conveyor, set target: aws and a region")


def add_local_only_notes(ctx: EnvironmentExport) -> None:
    for svc in ctx.services:
        if svc.group is None:
            continue
        _hooks(ctx, svc)
        dep = svc.deployment_raw
        if svc.group.probe is not None:
            ctx.notes.add(svc.at("deployment", "probe"),
                          f"synthetic requests to green on the test listener ({svc.group.probe.path}, "
                          f"{number_text(svc.group.probe.rate)}/s)",
                          "left out: no AWS equivalent; green's alarms see the test listener's real requests only")
        if svc.group.require_traffic and svc.group.alarms:
            default = "" if "requireTraffic" in dep else " (the default)"
            ctx.notes.add(svc.at("deployment", "requireTraffic"),
                          f"requireTraffic true{default}: alarms on green must have seen green requests before "
                          "traffic moves",
                          "no AWS equivalent: traffic moves when no alarm is in ALARM, with or without datapoints "
                          "(treatMissingData decides what a period without requests counts as)")
        if svc.kind == NATIVE:
            _native(ctx, svc)


def _hooks(ctx: EnvironmentExport, svc: ServiceExport) -> None:
    assert svc.group is not None
    events = _appspec_hooks(ctx, svc)
    for name, hook in svc.group.hooks.items():
        where = svc.at("deployment", "hooks", name)
        what = _stand_in(hook, svc.deployment_raw.get("hooks", {}).get(name) or {})
        if svc.kind == NATIVE:
            ctx.notes.add(where, what, "not created: ECS-native deployments run no AppSpec hooks on AWS (the AWS "
                                       "backend refuses them); ECS's lifecycle hooks are Lambda functions in the "
                                       "service's deploymentConfiguration.lifecycleHooks")
        elif events is None:
            ctx.notes.add(where, what, f"not created: on AWS an AppSpec hook invokes the Lambda function {name}, "
                                       f"{HOOK_REPORT}")
        elif name in events:
            ctx.notes.add(where, what, f"not created: on AWS the AppSpec's {' and '.join(events[name])} hook "
                                       f"invokes the Lambda function {name}, {HOOK_REPORT}")
        else:
            ctx.notes.add(where, what, f"not created: {svc.group.appspec} names no function {name}, and only "
                                       "the AppSpec's Lambda functions run on AWS")


def _stand_in(hook: HookSpec, raw: dict[str, object]) -> str:
    if hook.kind == "command":
        what = f"a local command ({' '.join(hook.command)})"
    elif hook.kind == "container":
        what = f"a container ({hook.image})"
    else:
        what = f"a URL ({hook.url})"
    extras = ([f"timeoutSeconds {raw['timeoutSeconds']}"] if "timeoutSeconds" in raw else []) + (
        ["env"] if hook.env else [])
    return what + (f" with {' and '.join(extras)}" if extras else "")


def _appspec_hooks(ctx: EnvironmentExport, svc: ServiceExport) -> dict[str, list[str]] | None:
    """Function name -> the lifecycle events the AppSpec hooks it on; None when it cannot be read."""
    assert svc.group is not None
    try:
        spec = load_appspec(ctx.repository_root / svc.group.appspec, svc.group.appspec)
    except ConfigError:
        return None
    out: dict[str, list[str]] = {}
    for event, function in spec.hooks:
        out.setdefault(hook_function_name(function), []).append(event)
    return out


def _native(ctx: EnvironmentExport, svc: ServiceExport) -> None:
    """CodeDeploy keys an ECS-native strategy has no place for in CloudFormation."""
    dep = svc.deployment_raw
    if dep.get("deploymentReadyOption") == STOP_DEPLOYMENT:
        ctx.notes.add(svc.at("deployment", "deploymentReadyOption"), "STOP_DEPLOYMENT (wait for `conveyor deploy "
                                                                      "continue`)",
                      "left out: ECS pauses a native deployment with a PAUSE lifecycle hook, which CloudFormation's "
                      "AWS::ECS::Service does not take; add one with UpdateService")
    if dep.get("terminateBlue") == KEEP_ALIVE:
        ctx.notes.add(svc.at("deployment", "terminateBlue"), "KEEP_ALIVE",
                      "left out: ECS scales blue to zero once the bake time is over")
    if "terminationWaitMinutes" in dep:
        ctx.notes.add(svc.at("deployment", "terminationWaitMinutes"), f"{dep['terminationWaitMinutes']} minutes",
                      "left out: ECS keeps blue for bakeTimeInMinutes (its own default when not given)")
    if "ignorePollAlarmFailure" in dep:
        ctx.notes.add(svc.at("deployment", "ignorePollAlarmFailure"), str(dep["ignorePollAlarmFailure"]).lower(),
                      "left out: ECS deployment alarms have no such setting")
    if "autoRollback" in dep:
        ctx.notes.add(svc.at("deployment", "autoRollback"), "rollback events",
                      "only DEPLOYMENT_STOP_ON_ALARM maps (the alarms' Rollback); ECS rolls a failed native "
                      "deployment back by itself")
