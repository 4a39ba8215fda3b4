"""ECS's statuses and the transitions allowed between them, as data (aws-semantics §4).

Five scopes, each a table checked by conveyor.transitions before the store writes a change:

- "service": Service.status.
- "deployment": Deployment.status of a rolling (ECS controller) deployment.
- "task_set": the same column for a blue/green task set (a deployment row with a `scale`).
- "rollout": Deployment.rolloutState (rolling deployments and task sets).
- "task": Task.lastStatus, the subset Conveyor uses.

    >>> check_transition("task", "RUNNING", "DEACTIVATING")     # allowed: nothing happens
    >>> check_transition("task", "STOPPED", "RUNNING")
    Traceback (most recent call last):
    ...
    conveyor.transitions.InvalidTransition: task cannot go from STOPPED to RUNNING

Where Conveyor does what AWS documents differently, the table allows Conveyor's move and the
comment next to it says so.
"""

from __future__ import annotations

from conveyor.transitions import (
    InvalidTransition as InvalidTransition,  # re-exported for callers
)
from conveyor.transitions import check

#: Service.status, Deployment.status and TaskSet.status (INACTIVE and ACTIVE are shared words).
ACTIVE, DRAINING, INACTIVE, PRIMARY = "ACTIVE", "DRAINING", "INACTIVE", "PRIMARY"
#: Deployment.rolloutState.
IN_PROGRESS, COMPLETED, FAILED = "IN_PROGRESS", "COMPLETED", "FAILED"
#: Task lastStatus values Conveyor uses (a subset of ECS's, same meaning): PROVISIONING and
#: ACTIVATING are folded into PENDING, DEPROVISIONING into STOPPING.
PENDING, RUNNING, DEACTIVATING, STOPPING, STOPPED = "PENDING", "RUNNING", "DEACTIVATING", "STOPPING", "STOPPED"
LIVE = (PENDING, RUNNING, DEACTIVATING, STOPPING)

SERVICE_STATUSES = (ACTIVE, DRAINING, INACTIVE)
DEPLOYMENT_STATUSES = (PRIMARY, ACTIVE, INACTIVE)
TASK_SET_STATUSES = (PRIMARY, ACTIVE, INACTIVE)
ROLLOUT_STATES = (IN_PROGRESS, COMPLETED, FAILED)
TASK_STATUSES = (PENDING, RUNNING, DEACTIVATING, STOPPING, STOPPED)

# None = "no row yet".
ALLOWED: dict[str, dict[str | None, frozenset[str]]] = {
    # DeleteService (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeleteService.html):
    # ACTIVE → DRAINING while tasks still need cleanup, DRAINING → INACTIVE once every task is
    # STOPPING or STOPPED (ACTIVE → INACTIVE when there is none). A new service may take the name
    # of an INACTIVE one (only ACTIVE and DRAINING names are refused); a service row is keyed by
    # its name here, so that is INACTIVE → ACTIVE. Conveyor has no DeleteService yet: it only
    # creates services (put_service).
    "service": {
        None: frozenset({ACTIVE}),
        ACTIVE: frozenset({DRAINING, INACTIVE}),
        DRAINING: frozenset({INACTIVE}),
        INACTIVE: frozenset({ACTIVE}),
    },
    # Deployment.status (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Deployment.html):
    # PRIMARY is the most recent deployment, ACTIVE one that still has tasks being replaced by a
    # newer PRIMARY, INACTIVE one completely replaced. A rollback is a new deployment, never an
    # old one made PRIMARY again.
    "deployment": {
        None: frozenset({PRIMARY}),
        PRIMARY: frozenset({ACTIVE}),
        ACTIVE: frozenset({INACTIVE}),
        INACTIVE: frozenset(),
    },
    # TaskSet.status (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_TaskSet.html):
    # PRIMARY serves production, ACTIVE does not, DRAINING is being stopped. CreateTaskSet makes an
    # ACTIVE one (a CODE_DEPLOY service's first task set is PRIMARY);
    # UpdateServicePrimaryTaskSet makes an ACTIVE one PRIMARY and the old PRIMARY ACTIVE.
    # Conveyor differs at the end: a task set scaled to 0 stays ACTIVE while its tasks drain and
    # becomes INACTIVE (the Deployment word) once the last one stopped, where ECS's DeleteTaskSet
    # shows DRAINING and then forgets the task set.
    "task_set": {
        None: frozenset({PRIMARY, ACTIVE}),
        PRIMARY: frozenset({ACTIVE}),
        ACTIVE: frozenset({PRIMARY, INACTIVE}),
        INACTIVE: frozenset(),
    },
    # Deployment.rolloutState (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Deployment.html):
    # IN_PROGRESS when it starts, COMPLETED at steady state, FAILED when the circuit breaker (or an
    # alarm) fails it; a FAILED deployment launches no more tasks. ECS reports rolloutState for
    # rolling deployments only; Conveyor also keeps it on task sets (COMPLETED once the task set
    # first reached its steady state, ECS's stabilityStatus STEADY_STATE).
    "rollout": {
        None: frozenset({IN_PROGRESS}),
        IN_PROGRESS: frozenset({COMPLETED, FAILED}),
        COMPLETED: frozenset(),
        FAILED: frozenset(),
    },
    # Task lifecycle (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-lifecycle-explanation.html):
    # PROVISIONING → PENDING → ACTIVATING → RUNNING → DEACTIVATING → STOPPING → DEPROVISIONING →
    # STOPPED, and a task that fails to start (CannotPullContainerError, …) goes from PENDING to
    # STOPPED. Conveyor's two additions:
    # - PENDING → DEACTIVATING: the scheduler stops surplus tasks that are still starting the way
    #   it stops running ones (drain, then stop), where ECS stops a PENDING task directly.
    # - DEACTIVATING → STOPPED: a task stopped while its start was under way whose start then
    #   failed is STOPPED at once (its containers never ran, nothing is left to stop).
    "task": {
        None: frozenset({PENDING}),
        PENDING: frozenset({RUNNING, STOPPED, DEACTIVATING}),
        RUNNING: frozenset({DEACTIVATING}),
        DEACTIVATING: frozenset({STOPPING, STOPPED}),
        STOPPING: frozenset({STOPPED}),
        STOPPED: frozenset(),
    },
}


def check_transition(scope: str, current: str | None, new: str) -> None:
    check(ALLOWED[scope], scope, current, new)


def deployment_scope(scale: int | None) -> str:
    """Which table a deployment row's status follows: a row with a scale is a task set.

    >>> deployment_scope(None), deployment_scope(100)
    ('deployment', 'task_set')
    """
    return "deployment" if scale is None else "task_set"
