"""What the AWS ECS side of Conveyor says, in one catalog: refusals (a cluster, service, task
definition or target group that is not there, and what to do), what a rolling deployment waits for (in words a
person reads in `conveyor deploy status` and a pipeline's log), and the origin of a rollback.
Nothing else in conveyor.providers.aws builds such a text for ECS.

Conveyor does not create AWS resources (`conveyor provision` will): a missing one is named, with
the hint to provision it.

    >>> no_service("production", "orders-prod", "orders")
    "no ECS service 'orders' in cluster 'orders-prod' (environment production)"
    >>> rollout_progress(running=1, pending=1, desired=2, old=2, failed=0)
    '1/2 new tasks running (1 pending); 2 old tasks still running'
"""

from __future__ import annotations

PROVISION_HINT = "create it with `conveyor provision` (or your infrastructure code), then deploy again"


# -- refusals ------------------------------------------------------------------------------------


def no_cluster(environment: str, cluster: str) -> str:
    return f"no ECS cluster '{cluster}' for environment {environment}"


def no_service(environment: str, cluster: str, service: str) -> str:
    return f"no ECS service '{service}' in cluster '{cluster}' (environment {environment})"


def no_target_group(environment: str, region: str, name: str) -> str:
    return f"no target group '{name}' in {region} (environment {environment})"


def no_alarm(name: str, region: str) -> str:
    """AlarmView.reason of an alarm a deployment names that CloudWatch does not have."""
    return f"no CloudWatch alarm named {name} in {region}: a deployment guarded by it is not guarded"


def not_rolling_on_aws(environment: str, service: str, controller: str) -> str:
    """UpdateService cannot change the task definition of a CODE_DEPLOY service (aws-semantics §4.2)."""
    return (f"ECS service {service} in {environment} uses the {controller} deployment controller, but conveyor.yml "
            "deploys it with controller ECS (rolling)")


NOT_ROLLING_HINT = ("make conveyor.yml's deployment.controller match the service (CODE_DEPLOY services are "
                    "deployed through CodeDeploy), or provision the service again with the ECS controller")


def unknown_deployment(environment: str, service: str, deployment_id: str) -> str:
    return f"no deployment {deployment_id} of {environment}/{service} (ECS lists a service's current deployments only)"


def unknown_task_definition(environment: str, name: str) -> str:
    return f"no task definition {name} in environment {environment}"


def nothing_to_roll_back_to(environment: str, service: str, current: str) -> str:
    return f"{environment}/{service} runs {current} and has no earlier revision to roll back to"


# -- what a rolling deployment waits for (Rollout.waiting_for) ------------------------------------

NO_DEPLOYMENT_YET = "no deployment yet"
WAITING_FOR_NOTHING = "nothing: the deployment is complete"
WAITING_FOR_STEADY_STATE = "ECS to see the new tasks healthy and the service steady (then COMPLETED)"


def waiting_for_nothing_failed(reason: str) -> str:
    return f"nothing: the deployment failed ({reason})"


def rollout_progress(*, running: int, pending: int, desired: int, old: int, failed: int) -> str:
    """The counts of DescribeServices' deployments, in words."""
    parts = [f"{running}/{desired} new tasks running" + (f" ({pending} pending)" if pending else "")]
    if old:
        parts.append(f"{old} old task{'s' if old != 1 else ''} still running")
    if failed:
        parts.append(f"{failed} failed task{'s' if failed != 1 else ''} so far (the circuit breaker counts them)")
    return "; ".join(parts)


def latest_event(message: str) -> str:
    return f"latest event: {message}"


# -- origins of the deployments Conveyor starts -------------------------------------------------


def rollback_origin(to: str, who: str, reason: str) -> dict[str, object]:
    """EcsDeployment.origin of `conveyor rollback` on a rolling service."""
    return {"rollback": True, "to": to, "by": who, "reason": reason}


# -- service logs (ContainerLog.text when Conveyor cannot read them) ------------------------------


def logs_elsewhere(driver: str | None) -> str:
    if not driver:
        return "this container has no logConfiguration: ECS keeps no logs of it"
    return f"this container logs with the {driver} driver; Conveyor reads awslogs (CloudWatch Logs) only"


def logs_in_group(group: str, region: str, why: str) -> str:
    return f"the logs are in CloudWatch Logs group {group} ({region}); {why}"


def no_log_stream(group: str, stream: str) -> str:
    return f"no log stream {stream} in CloudWatch Logs group {group} (yet)"
