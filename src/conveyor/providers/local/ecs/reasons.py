"""What the local ECS says, in one catalog: the service events `conveyor service describe` shows,
the stoppedReason and stopCode of a task, a deployment's failure reason, the reasons written to
the status history, and the refusals of its API. Nothing else in this package builds such a text.

The wording is Amazon ECS's where ECS publishes one: the service event messages
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-event-messages-list.html),
the stopped-task errors (…/developerguide/stopped-task-error-codes.html) and the task's
stopCode (…/APIReference/API_Task.html). A text marked "Conveyor's" has no ECS counterpart.

    >>> steady_state("orders")
    '(service orders) has reached a steady state.'
    >>> essential_container_exited("api", 3)
    'Essential container in task exited: container api exited with code 3'
"""

from __future__ import annotations

# -- service events ------------------------------------------------------------------------------


def steady_state(service: str) -> str:
    """ECS: "(service service-name) has reached a steady state." (SERVICE_STEADY_STATE)."""
    return f"(service {service}) has reached a steady state."


def deployment_completed(service: str, deployment_id: str) -> str:
    """ECS: "(service service-name) (deployment deployment-id) deployment completed."."""
    return f"(service {service}) (deployment {deployment_id}) deployment completed."


def deployment_failed(service: str, deployment_id: str, reason: str) -> str:
    """ECS: "(service service-name) (deployment deployment-id) deployment failed: …"; the
    reason is the circuit breaker's (circuit_breaker_tripped)."""
    return f"(service {service}) (deployment {deployment_id}) deployment failed: {reason}"


def started_task(service: str, task_id: str) -> str:
    """ECS: "(service service-name) has started 1 tasks: (task task-id)."."""
    return f"(service {service}) has started 1 tasks: (task {task_id})."


def stopped_failed_task(service: str, task_id: str, reason: str) -> str:
    """ECS: "(service service-name) has stopped 1 running tasks: (task task-id)."; followed
    here by the task's stoppedReason, so the event says why."""
    return f"(service {service}) has stopped 1 running tasks: (task {task_id}) {reason}."


def draining(service: str, task_id: str) -> str:
    """ECS: "(service service-name) has begun draining connections on 1 tasks."; with the task."""
    return f"(service {service}) has begun draining connections on 1 tasks: (task {task_id})."


def failed_to_start(service: str, task_id: str, reason: str) -> str:
    """Conveyor's: a task that never reached RUNNING (ECS reports it as a stopped task)."""
    return f"(service {service}) failed to start task {task_id}: {reason}"


def cannot_move(service: str, stuck: str, minimum_healthy_percent: int, maximum_percent: int) -> str:
    """A rolling update neither bound lets move; `stuck` is conveyor.deploy.rolling.STUCK (ECS:
    "(service service-name) is unable to …")."""
    return (f"(service {service}) is "
            + stuck.format(min=minimum_healthy_percent, max=maximum_percent) + ".")


def desired_count_set(service: str, count: int, by: str = "") -> str:
    """Conveyor's: `conveyor service scale` (ECS records no event for an UpdateService)."""
    return f"(service {service}) desired count set to {count}" + (f" by {by}." if by else ".")


def load_balancer_problem(service: str, error: object) -> str:
    """Conveyor's: the environment's HAProxy refused its listeners or target groups."""
    return f"(service {service}) load balancer problem: {error}"


def deployment_started(service: str, deployment_id: str, task_definition: str) -> str:
    """Conveyor's: UpdateService made `task_definition` the PRIMARY deployment."""
    return f"(service {service}) started deployment {deployment_id} of {task_definition}."


def rollback_requested(service: str, task_definition: str, who: str, reason: str, deployment_id: str) -> str:
    """Conveyor's: `conveyor rollback` of a rolling service."""
    return (f"(service {service}) rollback to {task_definition} by {who}" + (f": {reason}" if reason else "")
            + f" (deployment {deployment_id}).")


def circuit_breaker_rolling_back(service: str, deployment_id: str) -> str:
    """The circuit breaker's rollback (ECS's deployment reason: "ECS deployment circuit breaker:
    rolling back to deploymentId …")."""
    return f"(service {service}) ECS deployment circuit breaker: rolling back to deploymentId {deployment_id}."


def circuit_breaker_nothing_to_roll_back(service: str) -> str:
    """The circuit breaker tripped on a service with no COMPLETED deployment before it."""
    return f"(service {service}) ECS deployment circuit breaker: no completed deployment to roll back to."


def task_set_created(service: str, task_set_id: str, task_definition: str, target_group: str, scale: int) -> str:
    """Conveyor's: CreateTaskSet (ECS records the task set, not an event)."""
    return (f"(service {service}) created task set {task_set_id} of {task_definition} in "
            f"(target-group {target_group}) at {scale}% scale.")


def task_set_scaled(service: str, task_set_id: str, scale: int) -> str:
    """Conveyor's: UpdateTaskSet."""
    return f"(service {service}) task set {task_set_id} scaled to {scale}%."


def task_set_primary(service: str, task_set_id: str, task_definition: str) -> str:
    """Conveyor's: UpdateServicePrimaryTaskSet."""
    return f"(service {service}) task set {task_set_id} ({task_definition}) is now PRIMARY."


def task_set_inactive(service: str, task_set_id: str) -> str:
    """Conveyor's: a task set scaled to 0 whose last task stopped."""
    return f"(service {service}) task set {task_set_id} has no tasks left: INACTIVE."


def task_set_steady(service: str, task_set_id: str) -> str:
    """After ECS's TASKSET_STEADY_STATE."""
    return f"(service {service}) task set {task_set_id} has reached a steady state."


# -- a deployment's failure reason (rolloutStateReason) -------------------------------------------


def circuit_breaker_tripped(failed: int, threshold: int, last_reason: str) -> str:
    """ECS: "ECS deployment circuit breaker: tasks failed to start."; with the counts and the
    last task's stoppedReason."""
    return f"ECS deployment circuit breaker: {failed} task(s) failed (threshold {threshold}); last: {last_reason}"


# -- a task's stoppedReason -----------------------------------------------------------------------

#: ECS: "Task failed container health checks".
CONTAINER_HEALTH_CHECKS_FAILED = "Task failed container health checks"
#: Conveyor's: a scale-in stops surplus tasks.
DESIRED_COUNT_LOWERED = "Service desired count lowered"
#: Conveyor's: a PENDING task whose start worker a daemon restart lost.
PROVISIONING_INTERRUPTED = "Task provisioning was interrupted (the daemon restarted)"


def essential_container_exited(container: str, exit_code: int | None) -> str:
    """ECS: "Essential container in task exited"; with the container and its exit code."""
    return f"Essential container in task exited: container {container} exited with code {exit_code}"


def elb_health_checks_failed(target_group: str, detail: str | None) -> str:
    """ECS: "Task failed ELB health checks in (target-group …)"; with the target's description."""
    return f"Task failed ELB health checks in (target-group {target_group}): {detail}"


def scaling_by_deployment(deployment_id: str) -> str:
    """ECS: "Scaling activity initiated by (deployment …)" (an older deployment's task replaced)."""
    return f"Scaling activity initiated by (deployment {deployment_id})"


def scaling_by_task_set(task_set_id: str, scale: int | None) -> str:
    """As scaling_by_deployment, for a task set CodeDeploy scaled down."""
    return f"Scaling activity initiated by (task set {task_set_id}) scaled to {scale}%"


def cannot_pull_container(detail: str) -> str:
    """ECS: "CannotPullContainerError: …" (the image does not pull)."""
    return f"CannotPullContainerError: {detail}"


def cannot_start_container(detail: object) -> str:
    """ECS: "CannotStartContainerError: …" (the engine refused the container)."""
    return f"CannotStartContainerError: {detail}"


def secrets_unavailable(error: object) -> str:
    """ECS: "ResourceInitializationError: unable to pull secrets …"."""
    return f"ResourceInitializationError: unable to pull secrets: {error}"


def dependency_exited(container: str, exit_code: int | None) -> str:
    """Conveyor's: a dependsOn SUCCESS condition failed."""
    return f"dependency {container} exited with code {exit_code} (condition SUCCESS)"


def dependency_timed_out(container: str, dependency: str, condition: str) -> str:
    """Conveyor's: a dependsOn condition not reached within startTimeout."""
    return f"container {container}: dependency {dependency} did not reach {condition} in time"


def depends_on_cycle(path: tuple[str, ...]) -> str:
    """Conveyor's: the containers' dependsOn form a cycle."""
    return f"dependsOn cycle: {' -> '.join(path)}"


def environment_name_invalid(name: str, problem: str) -> str:
    """Conveyor's: a name the container's env-file cannot carry as written (conveyor.names)."""
    return f"environment variable {name!r} {problem}"


def environment_value_with_nul(name: str) -> str:
    """Conveyor's: no process environment can carry a NUL byte."""
    return f"environment variable {name}: a value with a NUL byte cannot be passed to the container"


def environment_value_with_newline(name: str) -> str:
    """Conveyor's: podman's --env-file cannot carry a newline in a value."""
    return f"environment variable {name}: a value with a newline cannot be passed to the container"


# -- a task's stopCode (ECS: TaskFailedToStart | EssentialContainerExited | UserInitiated |
#    ServiceSchedulerInitiated | SpotInterruption | TerminationNotice) ----------------------------

STOP_CODE_FAILED_TO_START = "TaskFailedToStart"
STOP_CODE_SCHEDULER = "ServiceSchedulerInitiated"
#: Conveyor's, for a task stopped because it failed (exited or unhealthy); ECS would say
#: EssentialContainerExited or ServiceSchedulerInitiated. Kept: `service describe` shows it.
STOP_CODE_TASK_FAILED = "TaskFailed"

# -- reasons written to the status history (transitions.reason) -------------------------------

HISTORY_ADOPTED = "adopted by a restarted daemon"
HISTORY_STARTED = "started"
HISTORY_DRAINED = "drained"
HISTORY_STOPPED = "stopped"
HISTORY_STEADY = "steady state"
HISTORY_NO_TASKS_LEFT = "no tasks left"
HISTORY_TASK_SET_EMPTY = "scaled to 0 and no tasks left"

#: The store's, for the rows it creates and promotes.
HISTORY_CREATED = "created"
HISTORY_CREATED_AGAIN = "created again"
HISTORY_PROMOTED = "promoted"


def history_deployment_of(task_definition: str) -> str:
    return f"deployment of {task_definition}"


def history_task_set_of(task_definition: str, target_group: str) -> str:
    return f"task set of {task_definition} in {target_group}"


def history_replaced_by(deployment_id: str) -> str:
    return f"replaced by deployment {deployment_id}"


def history_task_set_promoted(task_set_id: str) -> str:
    return f"task set {task_set_id} promoted"


def history_task_of(deployment_id: str) -> str:
    """A task's first row: the deployment that started it."""
    return f"deployment {deployment_id}"


# -- what a rollout waits for (`conveyor deploy status`: Rollout.waiting) -------------------------

NO_DEPLOYMENT_YET = "no deployment yet"
WAITING_FOR_NOTHING = "nothing: the deployment is complete"
TASK_STARTING = "starting"
TASK_NOT_REGISTERED = "not yet registered with the load balancer"
TASK_AWAITING_CHECKS = "waiting for health checks"


def waiting_for_nothing_failed(reason: str) -> str:
    return f"nothing: the deployment failed ({reason})"


def new_tasks_healthy(healthy: int, desired: int) -> str:
    return f"{healthy}/{desired} new tasks healthy"


def task_waiting(task_id: str, problem: str) -> str:
    return f"task {task_id} {problem}"


def old_tasks_serving(count: int) -> str:
    return f"{count} old task(s) still serving"


def tasks_draining(count: int) -> str:
    return f"{count} task(s) draining/stopping"


def failing_health_checks(problems: list[str]) -> str:
    return "failing health check: " + "; ".join(problems)


def target_unhealthy(state: str, detail: str, path: str | None) -> str:
    """The load balancer's view of a target; with the health check's path when there is one."""
    return f"target {state}: {detail} on {path}" if path is not None else detail


def container_check_failing(container: str, output: str) -> str:
    return f"{container}: {output or 'no result yet'}"


# -- refusals of the API (the message of a UserError or NotFound) -------------------------------

DESIRED_COUNT_HINT = "use 0-100"
ROLLING_ONLY_HINT = ("a rolling deployment needs controller: ECS; CODE_DEPLOY services are "
                     "deployed by the CodeDeployToECS action")


def desired_count_out_of_range(count: int) -> str:
    return f"desired count {count} is out of range"


def unknown_service(environment: str, service: str, known: list[str]) -> str:
    return f"no service '{service}' in environment '{environment}' (services: {', '.join(known) or 'none yet'})"


def not_rolling(environment: str, service: str, controller: str) -> str:
    return f"service {service} in {environment} uses the {controller} deployment controller"


def nothing_to_roll_back_to(environment: str, service: str) -> str:
    return f"{environment}/{service} has no earlier completed revision to roll back to"


def unknown_task_set(task_set_id: str) -> str:
    return f"no task set {task_set_id}"


def unknown_deployment(environment: str, service: str, deployment_id: str) -> str:
    return f"no deployment {deployment_id} of {environment}/{service}"


def no_secret_store(value_from: str) -> str:
    return f"no secret store to resolve {value_from}"


def service_not_found(environment: str, service: str) -> str:
    return f"no service '{service}' in environment '{environment}'"


def deployment_not_found(deployment_id: str) -> str:
    return f"no deployment {deployment_id}"


def task_not_found(task_id: str) -> str:
    return f"no task {task_id}"


# -- summaries of the stream's events (conveyor.providers.local.ecs.events), Conveyor's ------------
def event_deployment(environment: str, service: str, deployment_id: str) -> str:
    """How an event's summary names a rolling deployment."""
    return f"{environment}/{service}: rolling deployment {deployment_id}"


def event_started(deployment: str, task_definition: str, rollback_of: str | None) -> str:
    return (f"{deployment} of {task_definition} started"
            + (f" (rolling back {rollback_of})" if rollback_of else ""))


def event_succeeded(deployment: str, task_definition: str) -> str:
    return f"{deployment} of {task_definition} completed"


def event_rolled_back(deployment: str, task_definition: str, rolled_back: str | None) -> str:
    return (f"{deployment} completed: {task_definition} serves again"
            + (f" ({rolled_back} rolled back)" if rolled_back else ""))


def event_failed(deployment: str, why: str) -> str:
    return f"{deployment} failed: {why}"


def event_circuit_breaker(deployment: str, failed: int) -> str:
    return f"{deployment}: the deployment circuit breaker tripped after {failed} failed task(s)"


def event_unhealthy(environment: str, service: str, task_id: str, why: str) -> str:
    return f"{environment}/{service}: task {task_id} failed: {why}"


def event_steady(environment: str, service: str) -> str:
    return f"{environment}/{service} has reached a steady state"
