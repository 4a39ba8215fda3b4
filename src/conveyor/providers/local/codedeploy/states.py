"""CodeDeploy's statuses and the transitions allowed between them, as data (aws-semantics §5).

Two scopes, each a table checked by conveyor.transitions before the store writes a change:

- "deployment": DeploymentInfo.status.
- "lifecycle_event": an ECS target's LifecycleEvent.status (the subset Conveyor uses; never
  Unknown).

    check_transition("deployment", "InProgress", "Ready")        # ok
    check_transition("deployment", "Succeeded", "InProgress")    # raises InvalidTransition

AWS lists the statuses but draws no graph; the pairs below come from what its API reference
says about each status and action (cited per table). Where Conveyor does what AWS documents
differently, the table allows Conveyor's move and the comment next to it says so.
"""

from __future__ import annotations

from conveyor.transitions import (
    InvalidTransition as InvalidTransition,  # re-exported for callers
)
from conveyor.transitions import check

#: Deployment statuses (DeploymentInfo.status).
CREATED, QUEUED, IN_PROGRESS, BAKING, READY, SUCCEEDED, FAILED, STOPPED = (
    "Created", "Queued", "InProgress", "Baking", "Ready", "Succeeded", "Failed", "Stopped")
TERMINAL = (SUCCEEDED, FAILED, STOPPED)
#: Lifecycle event statuses (LifecycleEvent.status).
PENDING, EV_IN_PROGRESS, EV_SUCCEEDED, EV_FAILED, SKIPPED = "Pending", "InProgress", "Succeeded", "Failed", "Skipped"

DEPLOYMENT_STATUSES = (CREATED, QUEUED, IN_PROGRESS, BAKING, READY, SUCCEEDED, FAILED, STOPPED)
EVENT_STATUSES = (PENDING, EV_IN_PROGRESS, EV_SUCCEEDED, EV_FAILED, SKIPPED)

# None = "no row yet".
ALLOWED: dict[str, dict[str | None, frozenset[str]]] = {
    # DeploymentInfo.status (https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_DeploymentInfo.html):
    # CreateDeployment makes it Created; it starts (InProgress), possibly after waiting its turn
    # (Queued). DeploymentReadyOption STOP_DEPLOYMENT (API_DeploymentReadyOption.html) pauses it
    # in Ready until ContinueDeployment (API_ContinueDeployment.html: "does not have a status of
    # Ready and can't continue yet") sends it on, or the wait expires: Stopped. StopDeployment
    # (API_StopDeployment.html) stops any deployment not yet complete; a failure (hook, ECS
    # update, timeout) fails it. Succeeded, Failed and Stopped are final (the
    # deployment-successful waiter). Baking is listed but not described for ECS: kept as a step
    # between InProgress and the end, never entered by Conveyor.
    # Conveyor's differences:
    # - None → InProgress: a rollback deployment (creator codeDeployRollback) starts at once in
    #   its RollbackCleanup phase, where AWS creates it like any other deployment.
    # - Created → Failed, Ready → Failed: an internal error (its service gone, a bug) fails a
    #   deployment wherever it is, also before it started and during the ready wait.
    "deployment": {
        None: frozenset({CREATED, IN_PROGRESS}),
        CREATED: frozenset({QUEUED, IN_PROGRESS, STOPPED, FAILED}),
        QUEUED: frozenset({IN_PROGRESS, STOPPED}),
        IN_PROGRESS: frozenset({BAKING, READY, SUCCEEDED, FAILED, STOPPED}),
        BAKING: frozenset({SUCCEEDED, FAILED, STOPPED}),
        READY: frozenset({IN_PROGRESS, STOPPED, FAILED}),
        SUCCEEDED: frozenset(),
        FAILED: frozenset(),
        STOPPED: frozenset(),
    },
    # LifecycleEvent.status (https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_LifecycleEvent.html):
    # every event of a deployment is listed Pending, runs (InProgress) and ends Succeeded or
    # Failed (PutLifecycleEventHookExecutionStatus reports Succeeded or Failed for a hook); an
    # event that does not run is Skipped; one that does not start within 5 minutes fails
    # (CodeDeploy quotas, https://docs.aws.amazon.com/codedeploy/latest/userguide/limits.html).
    # Conveyor writes an event's row when it starts, so a first row is the status the event
    # starts with (None stands for AWS's Pending); its other differences:
    # - None → Succeeded: a non-hook phase whose InProgress row a daemon crash lost (between
    #   writing the phase and writing its event) is written Succeeded when the phase ends.
    # - InProgress → Skipped: AllowTestTraffic starts, then finds no test listener to move.
    "lifecycle_event": {
        None: frozenset({PENDING, EV_IN_PROGRESS, SKIPPED, EV_SUCCEEDED}),
        PENDING: frozenset({EV_IN_PROGRESS, SKIPPED, EV_FAILED}),
        EV_IN_PROGRESS: frozenset({EV_SUCCEEDED, EV_FAILED, SKIPPED}),
        EV_SUCCEEDED: frozenset(),
        EV_FAILED: frozenset(),
        SKIPPED: frozenset(),
    },
}


def check_transition(scope: str, current: str | None, new: str) -> None:
    check(ALLOWED[scope], scope, current, new)
