"""Statuses and the transitions allowed between them (CodePipeline's, aws-semantics §2.17).

Every state change is a proposal checked here before it is appended to the store; the current
state is derived from the appended rows (`conveyor.engine.view`). The tables are data so that
tests can walk the whole from/to matrix; the check itself is conveyor.transitions' (shared with
the deploy side's tables).

    check_transition("execution", "InProgress", "Stopping")     # ok
    check_transition("execution", "Succeeded", "InProgress")    # raises InvalidTransition
"""

from __future__ import annotations

from conveyor.transitions import InvalidTransition as InvalidTransition  # re-exported: callers catch it here
from conveyor.transitions import check

# Execution statuses
IN_PROGRESS = "InProgress"
STOPPING = "Stopping"
STOPPED = "Stopped"
SUCCEEDED = "Succeeded"
SUPERSEDED = "Superseded"
FAILED = "Failed"
CANCELLED = "Cancelled"
# Action-only
ABANDONED = "Abandoned"

EXECUTION_STATUSES = (IN_PROGRESS, STOPPING, STOPPED, SUCCEEDED, SUPERSEDED, FAILED, CANCELLED)
STAGE_STATUSES = (IN_PROGRESS, STOPPING, STOPPED, SUCCEEDED, FAILED, CANCELLED)
ACTION_STATUSES = (IN_PROGRESS, ABANDONED, SUCCEEDED, FAILED)

# None = "no row yet". Failed/Stopped executions and stages go back to InProgress on retry.
ALLOWED: dict[str, dict[str | None, frozenset[str]]] = {
    "execution": {
        None: frozenset({IN_PROGRESS, FAILED}),  # Failed at birth: its definition did not validate
        IN_PROGRESS: frozenset({STOPPING, SUCCEEDED, FAILED, SUPERSEDED, CANCELLED}),
        STOPPING: frozenset({STOPPED}),
        FAILED: frozenset({IN_PROGRESS}),
        STOPPED: frozenset({IN_PROGRESS}),
        SUCCEEDED: frozenset(),
        SUPERSEDED: frozenset(),
        CANCELLED: frozenset(),
    },
    "stage": {
        None: frozenset({IN_PROGRESS}),
        IN_PROGRESS: frozenset({STOPPING, SUCCEEDED, FAILED, CANCELLED}),
        STOPPING: frozenset({STOPPED}),
        FAILED: frozenset({IN_PROGRESS}),
        STOPPED: frozenset({IN_PROGRESS}),
        SUCCEEDED: frozenset(),
        CANCELLED: frozenset(),
    },
    # One row set per attempt: a re-run is a new attempt, never a step back.
    "action": {
        None: frozenset({IN_PROGRESS}),
        IN_PROGRESS: frozenset({SUCCEEDED, FAILED, ABANDONED}),
        SUCCEEDED: frozenset(),
        FAILED: frozenset(),
        ABANDONED: frozenset(),
    },
}

TERMINAL_EXECUTION = frozenset({SUCCEEDED, SUPERSEDED, CANCELLED, STOPPED, FAILED})
FINAL_EXECUTION = frozenset({SUCCEEDED, SUPERSEDED, CANCELLED})  # no retry from these
ACTIVE_EXECUTION = frozenset({IN_PROGRESS, STOPPING})


def check_transition(scope: str, current: str | None, new: str) -> None:
    check(ALLOWED[scope], scope, current, new)
