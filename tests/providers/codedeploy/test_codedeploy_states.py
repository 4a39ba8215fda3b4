"""CodeDeploy's status tables over the full from/to matrix of both scopes (aws-semantics §5).

The expected pairs are written out here from the AWS API reference, not derived from the tables;
the few moves Conveyor makes that AWS documents differently are listed apart, each with why.
"""

from __future__ import annotations

import itertools

import pytest

from conveyor.errors import Conflict
from conveyor.providers.local.codedeploy import states as S
from conveyor.providers.local.codedeploy.states import ALLOWED, InvalidTransition, check_transition
from conveyor.transitions import InvalidTransition as SharedInvalidTransition

SCOPE_STATUSES = {
    "deployment": ("Created", "Queued", "InProgress", "Baking", "Ready", "Succeeded", "Failed", "Stopped"),
    "lifecycle_event": ("Pending", "InProgress", "Succeeded", "Failed", "Skipped"),
}

# What AWS documents.
AWS = {
    "deployment": {
        # CreateDeployment → Created; it starts, or waits its turn first.
        (None, "Created"), ("Created", "Queued"), ("Created", "InProgress"), ("Queued", "InProgress"),
        # STOP_DEPLOYMENT ready option: Ready until ContinueDeployment(READY_WAIT), or Stopped
        # when the wait expires.
        ("InProgress", "Ready"), ("Ready", "InProgress"), ("Ready", "Stopped"),
        # A running deployment ends Succeeded, Failed or Stopped (StopDeployment), possibly after
        # Baking.
        ("InProgress", "Succeeded"), ("InProgress", "Failed"), ("InProgress", "Stopped"), ("InProgress", "Baking"),
        ("Baking", "Succeeded"), ("Baking", "Failed"), ("Baking", "Stopped"),
        # StopDeployment stops any deployment not yet complete.
        ("Created", "Stopped"), ("Queued", "Stopped"),
    },
    "lifecycle_event": {
        # Listed Pending; runs; ends Succeeded or Failed (PutLifecycleEventHookExecutionStatus);
        # Skipped when it does not run; Failed when it does not start in time.
        (None, "Pending"), ("Pending", "InProgress"), ("Pending", "Skipped"), ("Pending", "Failed"),
        ("InProgress", "Succeeded"), ("InProgress", "Failed"),
    },
}

# What Conveyor does beyond that (each one is explained next to its table entry in states.py).
CONVEYOR_ONLY = {
    "deployment": {
        (None, "InProgress"),  # a rollback deployment starts at once (RollbackCleanup)
        ("Created", "Failed"), ("Ready", "Failed"),  # an internal error fails it wherever it is
    },
    "lifecycle_event": {
        # Rows are written when an event starts: the first status stands for Pending → it.
        (None, "InProgress"), (None, "Skipped"),
        (None, "Succeeded"),  # a phase whose InProgress row a crash lost ends Succeeded
        ("InProgress", "Skipped"),  # AllowTestTraffic finds no test listener
    },
}

# Every status of both scopes, AWS statuses Conveyor does not use, and nonsense.
EVERY_STATUS = sorted(set(itertools.chain(*SCOPE_STATUSES.values())) | {"Unknown", "IN_PROGRESS", "Bogus", ""})


def expected(scope: str) -> set[tuple[str | None, str]]:
    return AWS[scope] | CONVEYOR_ONLY[scope]


MATRIX = [(scope, current, new) for scope, statuses in SCOPE_STATUSES.items()
          for current in (None, *statuses) for new in EVERY_STATUS]
ALLOWED_PAIRS = [c for c in MATRIX if (c[1], c[2]) in expected(c[0])]
FORBIDDEN_PAIRS = [c for c in MATRIX if (c[1], c[2]) not in expected(c[0])]


def test_the_expected_pairs_use_only_each_scopes_statuses():
    for scope in SCOPE_STATUSES:
        for current, new in expected(scope):
            assert current in (None, *SCOPE_STATUSES[scope]) and new in SCOPE_STATUSES[scope], (scope, current, new)
        assert not AWS[scope] & CONVEYOR_ONLY[scope], scope


def test_the_tables_cover_exactly_the_statuses_of_each_scope():
    assert set(ALLOWED) == set(SCOPE_STATUSES)
    for scope, statuses in SCOPE_STATUSES.items():
        assert set(ALLOWED[scope]) == {None, *statuses}, scope


def test_the_tables_are_exactly_the_expected_pairs():
    for scope in SCOPE_STATUSES:
        table = {(current, new) for current, targets in ALLOWED[scope].items() for new in targets}
        assert table == expected(scope), scope


def test_the_matrix_is_complete():
    assert len(MATRIX) == sum((len(s) + 1) * len(EVERY_STATUS) for s in SCOPE_STATUSES.values())
    assert len(ALLOWED_PAIRS) == sum(len(expected(scope)) for scope in SCOPE_STATUSES)
    assert len(ALLOWED_PAIRS) + len(FORBIDDEN_PAIRS) == len(MATRIX)


@pytest.mark.parametrize("scope,current,new", ALLOWED_PAIRS)
def test_allowed_transition_passes(scope, current, new):
    check_transition(scope, current, new)


@pytest.mark.parametrize("scope,current,new", FORBIDDEN_PAIRS)
def test_forbidden_transition_raises(scope, current, new):
    with pytest.raises(InvalidTransition) as info:
        check_transition(scope, current, new)
    err = info.value
    assert (err.scope, err.current, err.new) == (scope, current, new)
    assert str(err) == f"{scope} cannot go from {current or 'nothing'} to {new}"


def test_invalid_transition_is_the_shared_conflict():
    assert InvalidTransition is SharedInvalidTransition
    assert issubclass(InvalidTransition, Conflict)


# --- what AWS says, pair by pair ----------------------------------------------------------------


@pytest.mark.parametrize("final", ["Succeeded", "Failed", "Stopped"])
def test_finished_deployments_never_move(final):
    # The deployment-successful waiter stops on Succeeded, Failed and Stopped.
    assert ALLOWED["deployment"][final] == frozenset()
    assert final in S.TERMINAL


def test_only_a_ready_deployment_is_continued():
    # ContinueDeployment: "The deployment does not have a status of Ready and can't continue yet."
    assert ALLOWED["deployment"]["Ready"] >= {"InProgress", "Stopped"}
    assert [c for c, targets in ALLOWED["deployment"].items() if "Ready" in targets] == ["InProgress"]


def test_every_unfinished_deployment_can_be_stopped():
    for status in set(S.DEPLOYMENT_STATUSES) - set(S.TERMINAL):
        assert "Stopped" in ALLOWED["deployment"][status], status


def test_a_deployment_never_goes_back_to_created_or_queued():
    def sources(status):
        return {c for c, targets in ALLOWED["deployment"].items() if status in targets}

    assert sources("Created") == {None}
    assert sources("Queued") == {"Created"}


@pytest.mark.parametrize("final", ["Succeeded", "Failed", "Skipped"])
def test_finished_lifecycle_events_never_move(final):
    # A hook reports once; an event runs at most once per deployment.
    assert ALLOWED["lifecycle_event"][final] == frozenset()


def test_a_hook_reports_succeeded_or_failed_while_in_progress():
    assert ALLOWED["lifecycle_event"]["InProgress"] >= {"Succeeded", "Failed"}


def test_status_constants_are_aws_spellings():
    assert S.DEPLOYMENT_STATUSES == SCOPE_STATUSES["deployment"]
    assert S.EVENT_STATUSES == SCOPE_STATUSES["lifecycle_event"]
    assert (S.IN_PROGRESS, S.EV_IN_PROGRESS) == ("InProgress", "InProgress")
