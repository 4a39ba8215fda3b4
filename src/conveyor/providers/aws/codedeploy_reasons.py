"""Every text the AWS CodeDeploy backend writes, in one catalog (STYLE 7): its refusals, the
`waiting` texts of a deployment in flight, the lines of a deployment's history and the lines of
people's actions. Where the local backend says the same thing (conveyor.providers.local.codedeploy
.reasons) the wording is the same, so the CLI reads alike whichever backend runs a service;
tests/providers/aws/test_codedeploy_reasons.py holds the two catalogs to that.

    >>> action_line(action_stop(True), "ana", "p99 up")
    'stop with rollback by ana: p99 up'
    >>> waiting_ready(40.2)
    'manual reroute (`conveyor deploy continue`); stops in 40 s'
"""

from __future__ import annotations

from collections.abc import Iterable

# -- ErrorInformation.code values Conveyor sets for ECS-native deployments (CodeDeploy's own enum)
ALARM_ACTIVE = "ALARM_ACTIVE"
HOOK_EXECUTION_FAILURE = "HOOK_EXECUTION_FAILURE"
ECS_UPDATE_ERROR = "ECS_UPDATE_ERROR"
MANUAL_STOP = "MANUAL_STOP"


def _by(who: str, reason: str) -> str:
    return f" by {who}" + (f": {reason}" if reason else "")


# -- refusals -----------------------------------------------------------------------------------
def not_code_deploy(name: str, environment: str, controller: str) -> str:
    return f"service {name} in {environment} uses the {controller} controller"


HINT_NOT_CODE_DEPLOY = "blue/green deployments need deployment.controller: CODE_DEPLOY"


def no_load_balancer(name: str, environment: str) -> str:
    return f"service {name} in {environment} has no loadBalancer"


HINT_NO_LOAD_BALANCER = "a CODE_DEPLOY service needs a load balancer to shift traffic"


def appspec_properties(source: str) -> str:
    return f"{source}: Resources[0].TargetService.Properties"


def appspec_other_container(where: str, container: str, port: object, lb_container: str, lb_port: int) -> str:
    return (f"{where}.LoadBalancerInfo names container {container}:{port}, but the service's loadBalancer sends "
            f"traffic to {lb_container}:{lb_port}")


HINT_SAME_CONTAINER = "make them the same container and port"


def appspec_other_revision(where: str, task_definition: str, revision: str) -> str:
    return f"{where}.TaskDefinition is {task_definition}, not the revision being deployed ({revision})"


HINT_TASK_DEFINITION_PLACEHOLDER = "write TaskDefinition: <TASK_DEFINITION> and let Conveyor fill it in"


def custom_config_without_name(environment: str, service: str) -> str:
    return (f"environments.{environment}.services.{service}.deployment.config is a custom config without a name; "
            "on AWS a deployment names a deployment config that exists in the account")


HINT_CUSTOM_CONFIG = ("create it with CreateDeploymentConfig (compute platform ECS) and give its name as config.name, "
                      "or use a CodeDeployDefault.ECS* config")


def missing_resource(code: str, application: str, group: str, config: object) -> str | None:
    """What an AWS error code says does not exist, or None for another code."""
    return {"ApplicationDoesNotExistException": f"CodeDeploy application '{application}'",
            "DeploymentGroupDoesNotExistException": f"deployment group '{group}' of CodeDeploy application "
                                                    f"'{application}'",
            "DeploymentConfigDoesNotExistException": f"deployment config '{config}'"}.get(code)


def missing_codedeploy(application: str, group: str, environment: str, region: str, what: str) -> str:
    """ApplicationDoesNotExist / DeploymentGroupDoesNotExist / DeploymentConfigDoesNotExist."""
    return (f"{what} does not exist in {region} (environment {environment}: CodeDeploy application "
            f"'{application}', deployment group '{group}')")


HINT_MISSING_CODEDEPLOY = ("Conveyor does not create AWS resources: create the CodeDeploy application (compute "
                           "platform ECS) and a blue/green deployment group named after the service, or name the "
                           "application in environments.ENV.codeDeployApplication")


def deployment_limit_exceeded(dep_id: str, environment: str, service: str, phase: str) -> str:
    """[DeploymentLimitExceededException] one deployment in progress per group (aws-semantics §5.8)."""
    return f"deployment {dep_id} is already in progress for {environment}/{service} ({phase})"


HINT_DEPLOYMENT_LIMIT = "wait for it, or `conveyor deploy stop` / `conveyor rollback` it"


def not_waiting(dep_id: str, phase: str, wait_type: str | None) -> str:
    """[DeploymentIsNotInReadyStateException] ContinueDeployment outside its wait."""
    return f"deployment {dep_id} is in {phase}, not waiting" + (f" in {wait_type}" if wait_type else "")


HINT_CONTINUE = "continue applies to a STOP_DEPLOYMENT ready wait or the termination wait"


def none_in_progress(environment: str, service: str) -> str:
    return f"no deployment in progress for {environment}/{service}"


def no_deployment(dep_id: str) -> str:
    """[DeploymentDoesNotExistException]"""
    return f"no deployment {dep_id}"


def no_earlier_revision(environment: str, service: str) -> str:
    return f"{environment}/{service} has no earlier revision to roll back to"


HINT_NO_EARLIER_REVISION = "it has run only one revision so far"


def no_appspec_content(dep_id: str) -> str:
    return f"deployment {dep_id} has no AppSpec content to deploy again (its revision is not AppSpecContent)"


def cannot_promote(dep_id: str, phase: str, config: str) -> str:
    return (f"CodeDeploy shifts traffic only as deployment {dep_id}'s config {config} says and has no call to skip "
            f"its steps (it is in {phase})")


HINT_PROMOTE = ("`conveyor deploy continue` ends a ready wait or the termination wait; `conveyor rollback` returns "
                "traffic to blue; deploy with config CodeDeployDefault.ECSAllAtOnce to shift everything at once")


def hook_status_not_final(status: str) -> str:
    """[InvalidLifecycleEventHookExecutionStatusException]"""
    return f"status {status!r} is not Succeeded or Failed"


# -- ECS-native (aws-semantics §4.7) ------------------------------------------------------------
def native_appspec_hooks(source: str, events: Iterable[str]) -> str:
    return (f"{source}: Hooks ({', '.join(events)}) are CodeDeploy hooks; an ECS-native deployment (strategy) runs "
            "the service's deploymentConfiguration.lifecycleHooks instead")


HINT_NATIVE_HOOKS = "remove Hooks from the AppSpec and register the functions as lifecycleHooks of the ECS service"


def native_not_paused(dep_id: str, stage: str) -> str:
    """ContinueServiceDeployment needs a PAUSE hook awaiting action."""
    return f"service deployment {dep_id} is in {stage}, not paused at a PAUSE lifecycle hook"


HINT_NATIVE_CONTINUE = "continue resolves a PAUSE hook of the service's lifecycleHooks; the bake time runs its course"


def native_stop_without_rollback(dep_id: str) -> str:
    return f"ECS stops service deployment {dep_id} only by rolling it back (StopServiceDeployment stopType ROLLBACK)"


HINT_NATIVE_STOP = "`conveyor deploy stop` without --no-rollback, or `conveyor rollback`"


def native_cannot_promote(dep_id: str, stage: str, strategy: str) -> str:
    return (f"ECS moves traffic as strategy {strategy} says and has no call to skip its steps (service deployment "
            f"{dep_id} is in {stage})")


HINT_NATIVE_PROMOTE = "`conveyor deploy continue` resolves a PAUSE hook; `conveyor rollback` returns traffic to blue"


def native_hook_status(dep_id: str) -> str:
    return (f"service deployment {dep_id} is ECS-native: its lifecycle hooks answer ECS with the Lambda function's "
            "hookStatus, not through PutLifecycleEventHookExecutionStatus")


HINT_NATIVE_HOOK_STATUS = "return {hookStatus: SUCCEEDED | FAILED | IN_PROGRESS} from the hook's Lambda function"


def native_no_previous(environment: str, service: str) -> str:
    return f"{environment}/{service} has no earlier successful service deployment to roll back to"


# -- human actions (history rows of kind "action": who and why) ---------------------------------
ACTION_PROMOTE = "promote"
ACTION_ROLLBACK = "rollback"


def action_continue(wait_type: str) -> str:
    return f"continue ({wait_type})"


#: What an ECS-native continue resolves (in place of READY_WAIT / TERMINATION_WAIT).
PAUSE_HOOK = "PAUSE hook"


def action_stop(rollback: bool) -> str:
    return "stop" + (" with rollback" if rollback else " without rollback")


def action_redeploy(task_definition: str) -> str:
    return f"rollback: redeploy {task_definition} (blue is no longer running)"


def action_line(action: str, who: str, reason: str) -> str:
    """The history row of a human action."""
    return action + _by(who, reason)


# -- what a deployment's description carries (CreateDeployment has no client token) ------------
def description(task_definition: str, creator: str) -> str:
    return f"Conveyor: {task_definition} ({creator})"


# -- history lines (derived from what AWS reports) ----------------------------------------------
def created(dep_id: str, creator: str, task_definition: str, hooks: Iterable[tuple[str, str]]) -> str:
    named = ", ".join(f"{event}={function}" for event, function in hooks)
    return (f"Deployment {dep_id} created by {creator} for {task_definition}"
            + (f" (hooks: {named})" if named else "") + ".")


def event_ended(event: str, status: str, message: str) -> str:
    return f"{event}: {status}" + (f": {message}" if message else "") + "."


def ended(dep_id: str, status: str, code: str | None, message: str | None, rollback_id: str | None) -> str:
    return (f"Deployment {dep_id} {status.lower()}" + (f": {code}: {message}" if code else "")
            + (f"; rollback deployment {rollback_id}" if rollback_id else "") + ".")


# -- waiting texts (aws-semantics §5.3) ---------------------------------------------------------
def waiting_start(status: str) -> str:
    return "queued behind another deployment of the group" if status == "Queued" else "CodeDeploy is starting it"


def waiting_ready(left: float | None) -> str:
    return "manual reroute (`conveyor deploy continue`)" + (f"; stops in {left:.0f} s" if left is not None else "")


def waiting_termination(target_group: str | None, left: float | None) -> str:
    more = f" for {left:.0f} s more" if left is not None else ""
    return (f"termination wait: blue (target-group {target_group}) stays warm{more}; "
            "`conveyor rollback` returns traffic to it at once")


def waiting_hook(event: str, function: str) -> str:
    return (f"{event} hook {function} (Lambda) running; CodeDeploy waits up to an hour for it to report through "
            "PutLifecycleEventHookExecutionStatus")


def waiting_replacement(running: int, desired: int, target_group: str | None) -> str:
    return f"replacement task set {running}/{desired} tasks running in (target-group {target_group})"


def waiting_test_traffic(target_group: str | None) -> str:
    return f"test listener → (target-group {target_group})"


def waiting_traffic(traffic: int, config: str) -> str:
    return f"{traffic}% of production on green ({config})"


# -- ECS-native waiting texts (aws-semantics §4.7) ----------------------------------------------
def native_waiting_pending() -> str:
    return "ECS is starting the service deployment"


def native_waiting_paused(stage: str, hook_id: str, left: float | None) -> str:
    return (f"paused at {stage} (hook {hook_id}): `conveyor deploy continue` goes on, `conveyor rollback` goes back"
            + (f"; the hook times out in {left:.0f} s" if left is not None else ""))


def native_waiting_hook(stage: str, target: str) -> str:
    return f"{stage}: lifecycle hook {target} running"


def native_waiting_scale_up(running: int, requested: int) -> str:
    return f"green revision {running}/{requested} tasks running"


def native_waiting_traffic(traffic: int, strategy: str) -> str:
    return f"{traffic}% of production on green ({strategy})"


def native_waiting_bake(minutes: int | None) -> str:
    span = f" for {minutes} min" if minutes is not None else ""
    return f"bake time: blue stays up{span} after the shift; `conveyor rollback` returns traffic to it at once"


def native_waiting_rollback(reason: str) -> str:
    return "rolling back" + (f": {reason}" if reason else "")


NATIVE_WAITING_STOPPING = "stopping"


def native_alarm(names: Iterable[str]) -> str:
    return f"alarm {', '.join(names)} went into ALARM"


def native_circuit_breaker(failed: int, threshold: int) -> str:
    return f"the deployment circuit breaker tripped: {failed} failed tasks (threshold {threshold})"


def native_hook_failed(target: str, status: str) -> str:
    return f"lifecycle hook {target} {status.lower().replace('_', ' ')}"


def native_rollback_failed(message: str) -> str:
    return f"{message}; the rollback failed" if message else "the rollback failed"
