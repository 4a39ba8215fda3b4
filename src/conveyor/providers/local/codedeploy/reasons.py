"""Every text the local CodeDeploy writes, in one catalog (STYLE 7): the error codes a deployment
ends with, the refusals its API raises, the lines of a deployment's history, the `waiting` texts
and the reasons recorded with each status move. The controller's modules build no message of
their own; tests/providers/codedeploy/test_codedeploy_reasons.py asserts the texts and that rule.

    >>> ended("d-ABCDEF123", "Stopped", ALARM_ACTIVE, alarm_in_alarm("p99", "3 of 3 datapoints breached"))
    'Deployment d-ABCDEF123 stopped: ALARM_ACTIVE: alarm p99 is in ALARM: 3 of 3 datapoints breached'
    >>> action_line("rollback", "ana", "")
    'rollback by ana'
"""

from __future__ import annotations

from collections.abc import Iterable

# -- ErrorInformation.code ----------------------------------------------------------------------
# The ErrorCode enum of the CodeDeploy API reference (API_ErrorInformation.html; botocore
# codedeploy/2014-10-06 ErrorCode), in its order.
ERROR_CODES = (
    "AGENT_ISSUE", "ALARM_ACTIVE", "APPLICATION_MISSING", "AUTOSCALING_VALIDATION_ERROR",
    "AUTO_SCALING_CONFIGURATION", "AUTO_SCALING_IAM_ROLE_PERMISSIONS", "CODEDEPLOY_RESOURCE_CANNOT_BE_FOUND",
    "CUSTOMER_APPLICATION_UNHEALTHY", "DEPLOYMENT_GROUP_MISSING", "ECS_UPDATE_ERROR", "ELASTIC_LOAD_BALANCING_INVALID",
    "ELB_INVALID_INSTANCE", "HEALTH_CONSTRAINTS", "HEALTH_CONSTRAINTS_INVALID", "HOOK_EXECUTION_FAILURE",
    "IAM_ROLE_MISSING", "IAM_ROLE_PERMISSIONS", "INTERNAL_ERROR", "INVALID_ECS_SERVICE", "INVALID_LAMBDA_CONFIGURATION",
    "INVALID_LAMBDA_FUNCTION", "INVALID_REVISION", "MANUAL_STOP", "MISSING_BLUE_GREEN_DEPLOYMENT_CONFIGURATION",
    "MISSING_ELB_INFORMATION", "MISSING_GITHUB_TOKEN", "NO_EC2_SUBSCRIPTION", "NO_INSTANCES", "OVER_MAX_INSTANCES",
    "RESOURCE_LIMIT_EXCEEDED", "REVISION_MISSING", "THROTTLED", "TIMEOUT", "CLOUDFORMATION_STACK_FAILURE",
)
#: The codes an ECS deployment can end with (aws-semantics §5.4). Conveyor sets the first six.
ALARM_ACTIVE = "ALARM_ACTIVE"  # an alarm of the group went into ALARM (status Stopped)
HOOK_EXECUTION_FAILURE = "HOOK_EXECUTION_FAILURE"  # a hook reported Failed, or did not report in time
ECS_UPDATE_ERROR = "ECS_UPDATE_ERROR"  # the replacement task set's tasks kept failing
TIMEOUT = "TIMEOUT"  # "The deployment has timed out": install, or the ready wait (status Stopped)
MANUAL_STOP = "MANUAL_STOP"  # StopDeployment, or a rollback asked for while blue still serves
INTERNAL_ERROR = "INTERNAL_ERROR"  # "There was an internal error": the service is gone, a bug
INVALID_ECS_SERVICE = "INVALID_ECS_SERVICE"
ELASTIC_LOAD_BALANCING_INVALID = "ELASTIC_LOAD_BALANCING_INVALID"
IAM_ROLE_PERMISSIONS = "IAM_ROLE_PERMISSIONS"
INVALID_LAMBDA_FUNCTION = "INVALID_LAMBDA_FUNCTION"


def _by(who: str, reason: str) -> str:
    return f" by {who}" + (f": {reason}" if reason else "")


# -- refusals of the API (the AWS exception each one stands for in brackets) -----------------
def not_code_deploy(name: str, environment: str, controller: str) -> str:
    return f"service {name} in {environment} uses the {controller} controller"


HINT_NOT_CODE_DEPLOY = "blue/green deployments need deployment.controller: CODE_DEPLOY"


def no_load_balancer(name: str, environment: str) -> str:
    return f"service {name} in {environment} has no loadBalancer"


HINT_NO_LOAD_BALANCER = "a CODE_DEPLOY service needs a load balancer to shift traffic"


def deployment_limit_exceeded(dep_id: str, environment: str, service: str, phase: str) -> str:
    """[DeploymentLimitExceededException] one deployment in progress per group (§5.8)."""
    return f"deployment {dep_id} is already in progress for {environment}/{service} ({phase})"


HINT_DEPLOYMENT_LIMIT = "wait for it, or `conveyor deploy stop` / `conveyor rollback` it"


def appspec_properties(source: str) -> str:
    """Where in the AppSpec the target service's properties are."""
    return f"{source}: Resources[0].TargetService.Properties"


def appspec_other_container(where: str, container: str, port: object, lb_container: str, lb_port: int) -> str:
    return (f"{where}.LoadBalancerInfo names container {container}:{port}, but the service's loadBalancer sends "
            f"traffic to {lb_container}:{lb_port}")


HINT_SAME_CONTAINER = "make them the same container and port"


def appspec_other_revision(where: str, task_definition: str, revision: str) -> str:
    return f"{where}.TaskDefinition is {task_definition}, not the revision being deployed ({revision})"


HINT_TASK_DEFINITION_PLACEHOLDER = "write TaskDefinition: <TASK_DEFINITION> and let Conveyor fill it in"


def appspec_unknown_hook(source: str, event: str, function: str, environment: str, service: str,
                         defined: Iterable[str]) -> str:
    known = ", ".join(sorted(defined)) or "none"
    return (f"{source}: Hooks: {event} names function '{function}', which "
            f"environments.{environment}.services.{service}.deployment.hooks does not define (defined: {known})")


HINT_DEFINE_HOOK = "define it there as a command, a container or a URL"


def not_waiting(dep_id: str, phase: str, wait_type: str | None) -> str:
    """[DeploymentIsNotInReadyStateException] ContinueDeployment outside its wait."""
    return f"deployment {dep_id} is in {phase}, not waiting" + (f" in {wait_type}" if wait_type else "")


HINT_CONTINUE = "continue applies to a STOP_DEPLOYMENT ready wait or the termination wait"


def nothing_to_promote(dep_id: str, phase: str) -> str:
    """[DeploymentIsNotInReadyStateException] promote after the traffic shift."""
    return f"deployment {dep_id} is in {phase}: nothing left to promote"


def blue_terminating(dep_id: str) -> str:
    return f"deployment {dep_id} is terminating the original task set; blue is no longer serving"


HINT_BLUE_TERMINATING = ("run `conveyor rollback` again once it finished: it then redeploys the previous "
                         "revision")


def nothing_to_roll_back(dep_id: str, phase: str) -> str:
    return f"deployment {dep_id} is in {phase}: no replacement exists yet, so there is nothing to roll back"


HINT_NOTHING_TO_ROLL_BACK = "`conveyor deploy stop` ends it"


def no_earlier_revision(environment: str, service: str) -> str:
    return f"{environment}/{service} has no earlier revision to roll back to"


HINT_NO_EARLIER_REVISION = "it has run only one revision so far"


def no_service(environment: str, service: str) -> str:
    return f"no service '{service}' in environment '{environment}'"


def no_deployment(dep_id: str) -> str:
    """[DeploymentDoesNotExistException]"""
    return f"no deployment {dep_id}"


def service_gone(environment: str, service: str) -> str:
    return f"service {environment}/{service} is gone"


def none_in_progress(environment: str, service: str) -> str:
    return f"no deployment in progress for {environment}/{service}"


def hook_status_not_final(status: str) -> str:
    """[InvalidLifecycleEventHookExecutionStatusException]"""
    return f"status {status!r} is not Succeeded or Failed"


def no_hook_execution(execution_id: str, dep_id: str) -> str:
    """[InvalidLifecycleEventHookExecutionIdException]"""
    return f"no lifecycle event hook execution {execution_id} in deployment {dep_id}"


def event_already_completed(event: str, status: str) -> str:
    """[LifecycleEventAlreadyCompletedException]"""
    return f"lifecycle event {event} is already {status}"


# -- human actions (history rows of kind "action", who and why) ---------------------------------
ACTION_PROMOTE = "promote"
ACTION_ROLLBACK = "rollback"


def action_continue(wait_type: str) -> str:
    return f"continue ({wait_type})"


def action_stop(rollback: bool) -> str:
    return "stop" + (" with rollback" if rollback else " without rollback")


def action_redeploy(task_definition: str) -> str:
    return f"rollback: redeploy {task_definition} (blue is no longer running)"


def action_to_kept(task_definition: str) -> str:
    return f"rollback to {task_definition} (kept alive)"


def action_line(action: str, who: str, reason: str) -> str:
    """The history row of a human action."""
    return action + _by(who, reason)


def action_event(action: str, who: str, reason: str) -> str:
    """The same action among the service's events."""
    return action + _by(who, reason) + ("" if reason else ".")


def service_event(service: str, dep_id: str, message: str) -> str:
    """A deployment's history line among its service's events."""
    return f"(service {service}) (deployment {dep_id}) {message}"


def stopped_by(who: str, reason: str) -> str:
    return "stopped" + _by(who, reason)


def rolled_back_by(who: str, reason: str) -> str:
    return "rolled back" + _by(who, reason)


# -- history: creating, ending, rolling back ----------------------------------------------------
def created(dep_id: str, creator: str, task_definition: str, hooks: Iterable[tuple[str, str]]) -> str:
    named = ", ".join(f"{event}={function}" for event, function in hooks)
    return (f"Deployment {dep_id} created by {creator} for {task_definition}"
            + (f" (hooks: {named})" if named else "") + ".")


def created_by(creator: str) -> str:
    """Why a deployment row appeared (its first status move)."""
    return f"created by {creator}"


def internal_error_after_end(error: object) -> str:
    return f"Internal error after the deployment ended: {error}"


def error_why(code: str, message: str) -> str:
    """The reason recorded with the status move to Failed or Stopped."""
    return f"{code}: {message}"


def ended(dep_id: str, status: str, code: str, message: str) -> str:
    return f"Deployment {dep_id} {status.lower()}: {code}: {message}"


NO_ROLLBACK = "No rollback: the replacement task set and the traffic stay as they are."
ROLLBACK_FIRST_DEPLOYMENT = ("Rollback: nothing to return to (the service's first deployment); the replacement "
                             "stays.")
ROLLBACK_BLUE_UNHEALTHY = ("Rollback: the original task set has no healthy tasks, so traffic stays where it is "
                           "(Conveyor never routes to a target group without healthy targets); "
                           "`conveyor rollback` redeploys the previous revision.")


def rollback_message(why: str) -> str:
    """RollbackInfo.rollbackMessage of the deployment that was rolled back."""
    return f"Rolled back: {why}"


def rerouted(rollback_id: str, target_group: str | None, seconds: float) -> str:
    return (f"Rollback {rollback_id}: production (and test) traffic back on (target-group {target_group}) in "
            f"{seconds * 1000:.0f} ms; the replacement task set is drained and removed.")


def back_to_kept(task_set: str) -> str:
    """RollbackInfo.rollbackMessage of a rollback to a task set KEEP_ALIVE left running."""
    return f"back to the kept task set {task_set}"


def rerouted_to_kept(target_group: str | None, seconds: float, draining: str) -> str:
    return (f"Rollback: traffic back on (target-group {target_group}) in {seconds * 1000:.0f} ms; "
            f"draining task set {draining}.")


WHY_REPLACEMENT_GONE = "the replacement task set is gone"


def rollback_succeeded(dep_id: str) -> str:
    return f"Rollback deployment {dep_id} succeeded: the replacement task set is gone."


# -- history and waiting texts of the lifecycle (aws-semantics §5.3) ----------------------------
WHY_STARTED = "started"


def started(dep_id: str, task_definition: str, config: str, plan: str) -> str:
    return f"Deployment {dep_id} of {task_definition} started ({config}: {plan})."


def replacement_created(task_set: str, target_group: str, original: str | None, original_tg: str | None) -> str:
    return (f"Install: replacement task set {task_set} created in (target-group {target_group})"
            + (f"; original task set {original} serves production from (target-group {original_tg})."
               if original else "; no original task set (the service's first deployment)."))


#: What tasks_failed says when ECS gave no reason for the last failed task.
UNKNOWN_FAILURE = "unknown"


def tasks_failed(failed: int, last: str) -> str:
    """ECS_UPDATE_ERROR."""
    return f"{failed} tasks of the replacement task set failed to start or stay healthy; last: {last}"


def install_timeout(limit: float, healthy: int, desired: int) -> str:
    """TIMEOUT during Install."""
    return f"the replacement task set was not healthy within {limit:.0f} s ({healthy}/{desired} healthy)"


def waiting_replacement(healthy: int, desired: int, target_group: str | None) -> str:
    return f"replacement task set {healthy}/{desired} tasks healthy in (target-group {target_group})"


def replacement_healthy(task_set: str | None, task_definition: str, target_group: str | None, healthy: int) -> str:
    return (f"Replacement task set {task_set} ({task_definition}) is healthy in (target-group {target_group}): "
            f"{healthy} tasks.")


WHY_NO_TEST_LISTENER = "no test listener"


def test_traffic(port: int, target_group: str | None) -> str:
    return f"AllowTestTraffic: test listener {port} → (target-group {target_group})."


WHY_CONTINUED = "continued (READY_WAIT)"
WHY_READY = "waiting for ContinueDeployment (STOP_DEPLOYMENT)"


def ready(wait: float, environment: str, service: str, option: str) -> str:
    return (f"Ready: green is serving the test listener; waiting up to {wait:g} s for "
            f"`conveyor deploy continue {environment} {service}` ({option}).")


def ready_wait_timeout(wait: float) -> str:
    """TIMEOUT of a STOP_DEPLOYMENT ready wait (status Stopped)."""
    return f"nobody continued the deployment within the ready wait of {wait:g} s"


def waiting_ready(left: float) -> str:
    return f"manual reroute (`conveyor deploy continue`); stops in {left:.0f} s"


def waiting_before_production(gate: str) -> str:
    return "before production traffic: " + gate


def waiting_next_step(traffic: int, left: float) -> str:
    return f"{traffic}% of production on green; next step in {left:.0f} s"


def shifted(percent: float, green: str | None, blue: str | None) -> str:
    return (f"AllowTraffic: {percent:g}% of production traffic → (target-group {green})"
            + (f", {100 - percent:g}% stays on (target-group {blue})" if blue and percent < 100 else "") + ".")


def waiting_termination(target_group: str | None, left: float) -> str:
    return (f"termination wait: blue (target-group {target_group}) stays warm for {left:.0f} s more; "
            "`conveyor rollback` returns traffic to it at once")


def kept_alive(task_set: str) -> str:
    return f"Original task set {task_set} kept alive (KEEP_ALIVE), without traffic."


def terminating(task_set: str) -> str:
    return f"Terminating the original task set {task_set} (draining its tasks)."


def waiting_drain(role: str, task_set: str | None) -> str:
    """role: original | replacement."""
    return f"{role} task set {task_set} draining and stopping"


WHY_SUCCEEDED = "green serves production"


def succeeded(dep_id: str, task_definition: str, target_group: str | None, seconds: float) -> str:
    return (f"Deployment {dep_id} succeeded: {task_definition} serves production (target-group {target_group}) in "
            f"{seconds:.1f} s.")


# -- hooks (aws-semantics §5.4) -----------------------------------------------------------------
WHY_NO_HOOK = "no hook"


def why_hook(function: str) -> str:
    return f"hook {function}"


def invoking(event: str, function: str, kind: str) -> str:
    return f"{event}: invoking hook {function} ({kind})."


def hook_failed(event: str, function: str, message: str) -> str:
    """HOOK_EXECUTION_FAILURE: the hook reported Failed."""
    return f"{event} hook {function} failed: {message}"


def hook_timeout(event: str, function: str, timeout: float) -> str:
    """HOOK_EXECUTION_FAILURE: no status within the hook's timeout (CodeDeploy: 1 hour)."""
    return f"{event} hook {function} did not report within {timeout:g} s"


def waiting_hook_running(event: str, function: str, attempt: int) -> str:
    return f"{event} hook {function} running (attempt {attempt})"


def waiting_hook_callback(event: str, function: str) -> str:
    return (f"{event} hook {function}: waiting for it to report its status "
            "(POST /api/v1/deployments/ID/hooks/EXECUTION)")


def waiting_hook_poll(event: str, function: str, left: float) -> str:
    return f"{event} hook {function} asked to be polled again in {left:.0f} s"


def reported(status: str) -> str:
    return f"reported {status} through the API"


def hook_internal_error(error: object) -> str:
    return f"internal error: {error}"


def hook_answered(event: str, function: str, status: str, message: str) -> str:
    return f"{event}: hook {function} → {status}" + (f": {message}" if message else "")


# -- alarms (aws-semantics §5.5) and the traffic-aware gate -------------------------------------
def alarm_in_alarm(name: str, reason: str) -> str:
    """ALARM_ACTIVE."""
    return f"alarm {name} is in ALARM: {reason}"


def gate_breaching(name: str, breaching: int, periods: int, to_alarm: int) -> str:
    return (f"alarm {name} saw {breaching} breaching datapoint(s) of green in its last {periods} periods "
            f"(below its {to_alarm} to alarm); waiting for a clean window")


def gate_no_traffic(target_group: str | None, seen: int, periods: int, period: int, name: str, state: str,
                    window: float, probing: bool) -> str:
    return (f"green (target-group {target_group}) had requests in {seen} of the last {periods} periods of "
            f"{period} s, so alarm {name} cannot vouch for it yet ({state}); waiting for {window:g} s of traffic"
            + ("" if probing else " (deployment.probe sends synthetic requests)"))


# -- the daemon's log (not the deployment's history) --------------------------------------------
LOG_PASS_FAILED = "deploy controller pass failed"
LOG_HOOK_CRASHED = "hook %s of %s failed to run"
LOG_HISTORY_LINE = "%s/%s %s"


# -- summaries of the stream's events (conveyor.providers.local.codedeploy.events) ----------------
def event_deployment(environment: str, service: str, dep_id: str) -> str:
    """How an event's summary names a deployment."""
    return f"{environment}/{service}: blue/green deployment {dep_id}"


def event_started(deployment: str, task_definition: str, config: str) -> str:
    return f"{deployment} of {task_definition} started" + (f" ({config})" if config else "")


def event_ready(deployment: str, command: str) -> str:
    return f"{deployment} is ready and waits for `{command}`"


def event_alarm(deployment: str, alarms: Iterable[str]) -> str:
    return f"{deployment} stopped: alarm {', '.join(alarms) or '?'} in ALARM"


def event_stopped(deployment: str, who: str | None, code: str | None, message: str) -> str:
    return f"{deployment} stopped" + (f" by {who}" if who else "") + f": {code}: {message}"


def event_failed(deployment: str, code: str | None, message: str) -> str:
    return f"{deployment} failed: {code}: {message}"


def event_succeeded(deployment: str, task_definition: str) -> str:
    return f"{deployment} of {task_definition} succeeded"


def event_redeployed(deployment: str, task_definition: str) -> str:
    return f"{deployment} rolled back: the previous revision {task_definition} serves production again"


def event_shifted(deployment: str, percent: int, task_definition: str, green: str | None, blue: str | None) -> str:
    return (f"{deployment}: {percent}% of production traffic on {task_definition}"
            + (f" ({green}), {100 - percent}% on {blue}" if blue and percent < 100 else ""))


def event_rolled_back(deployment: str, why: str) -> str:
    return f"{deployment} rolled back: {why}"


def event_rolled_back_to_kept(environment: str, service: str, task_definition: str, who: str, reason: str) -> str:
    return (f"{environment}/{service}: rolled back to {task_definition} (kept alive) by {who}"
            + (f": {reason}" if reason else ""))


def event_termination_wait(deployment: str, seconds: float, blue: str | None, command: str, rollback: str) -> str:
    return (f"{deployment} waits {seconds:g} s before terminating {blue}; `{command}` ends the wait, "
            f"`{rollback}` goes back")
