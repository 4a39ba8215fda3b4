"""ECS's status tables over the full from/to matrix of every scope (aws-semantics §4).

The expected pairs are written out here from the AWS documentation, not derived from the tables;
the few moves Conveyor makes that AWS documents differently are listed apart, each with why.
"""

from __future__ import annotations

import itertools

import pytest

from conveyor.errors import Conflict
from conveyor.providers.local.ecs import states as S
from conveyor.providers.local.ecs.states import ALLOWED, InvalidTransition, check_transition
from conveyor.transitions import InvalidTransition as SharedInvalidTransition

SCOPE_STATUSES = {
    "service": ("ACTIVE", "DRAINING", "INACTIVE"),
    "deployment": ("PRIMARY", "ACTIVE", "INACTIVE"),
    "task_set": ("PRIMARY", "ACTIVE", "INACTIVE"),
    "rollout": ("IN_PROGRESS", "COMPLETED", "FAILED"),
    "task": ("PENDING", "RUNNING", "DEACTIVATING", "STOPPING", "STOPPED"),
}

# What AWS documents, in the statuses Conveyor uses.
AWS = {
    # DeleteService: ACTIVE → DRAINING while tasks need cleanup → INACTIVE once they are STOPPING
    # or STOPPED (straight to INACTIVE when none do); CreateService may reuse an INACTIVE name.
    "service": {(None, "ACTIVE"), ("ACTIVE", "DRAINING"), ("ACTIVE", "INACTIVE"), ("DRAINING", "INACTIVE"),
                ("INACTIVE", "ACTIVE")},
    # Deployment.status: the newest is PRIMARY, a replaced one with tasks ACTIVE, one completely
    # replaced INACTIVE.
    "deployment": {(None, "PRIMARY"), ("PRIMARY", "ACTIVE"), ("ACTIVE", "INACTIVE")},
    # TaskSet.status: CreateTaskSet → ACTIVE (a CODE_DEPLOY service's first task set PRIMARY);
    # UpdateServicePrimaryTaskSet swaps PRIMARY and ACTIVE.
    "task_set": {(None, "PRIMARY"), (None, "ACTIVE"), ("ACTIVE", "PRIMARY"), ("PRIMARY", "ACTIVE")},
    # Deployment.rolloutState: IN_PROGRESS → COMPLETED at steady state, → FAILED by the circuit
    # breaker or an alarm.
    "rollout": {(None, "IN_PROGRESS"), ("IN_PROGRESS", "COMPLETED"), ("IN_PROGRESS", "FAILED")},
    # Task lifecycle: PENDING → RUNNING → DEACTIVATING → STOPPING → STOPPED; a task that fails to
    # start goes from PENDING to STOPPED.
    "task": {(None, "PENDING"), ("PENDING", "RUNNING"), ("PENDING", "STOPPED"), ("RUNNING", "DEACTIVATING"),
             ("DEACTIVATING", "STOPPING"), ("STOPPING", "STOPPED")},
}

# What Conveyor does beyond that (each one is explained next to its table entry in states.py).
CONVEYOR_ONLY = {
    "service": set(),
    "deployment": set(),
    # A task set scaled to 0 becomes INACTIVE when its last task stopped (AWS: DRAINING, then gone).
    "task_set": {("ACTIVE", "INACTIVE")},
    "rollout": set(),
    # Surplus tasks still starting are drained like running ones; a task stopped while its start
    # was under way and whose start then failed is STOPPED at once.
    "task": {("PENDING", "DEACTIVATING"), ("DEACTIVATING", "STOPPED")},
}

# Every status of every scope, AWS statuses Conveyor does not use, and nonsense: a scope accepts
# only its own.
EVERY_STATUS = sorted(set(itertools.chain(*SCOPE_STATUSES.values()))
                      | {"PROVISIONING", "ACTIVATING", "DEPROVISIONING", "STABILIZING", "Bogus", ""})


def expected(scope: str) -> set[tuple[str | None, str]]:
    return AWS[scope] | CONVEYOR_ONLY[scope]


MATRIX = [(scope, current, new) for scope, statuses in SCOPE_STATUSES.items()
          for current in (None, *statuses) for new in EVERY_STATUS]
ALLOWED_PAIRS = [c for c in MATRIX if (c[1], c[2]) in expected(c[0])]
FORBIDDEN_PAIRS = [c for c in MATRIX if (c[1], c[2]) not in expected(c[0])]


def test_the_expected_pairs_use_only_each_scopes_statuses():
    for scope, pairs in AWS.items():
        for current, new in pairs | CONVEYOR_ONLY[scope]:
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


@pytest.mark.parametrize("scope", ["deployment", "task_set"])
def test_inactive_is_final(scope):
    assert ALLOWED[scope]["INACTIVE"] == frozenset()


def test_a_rolling_deployment_is_never_primary_again():
    # A rollback is a new deployment (aws-semantics §4.4), not an old one promoted.
    assert not any("PRIMARY" in targets for current, targets in ALLOWED["deployment"].items() if current)


def test_only_task_sets_are_promoted_and_only_from_active():
    assert [c for c, targets in ALLOWED["task_set"].items() if c and "PRIMARY" in targets] == ["ACTIVE"]


@pytest.mark.parametrize("final", ["COMPLETED", "FAILED"])
def test_a_finished_rollout_never_moves(final):
    # A FAILED deployment launches no more tasks; a new deployment is a new row.
    assert ALLOWED["rollout"][final] == frozenset()


def test_a_stopped_task_is_final_and_every_task_starts_pending():
    assert ALLOWED["task"]["STOPPED"] == frozenset()
    assert ALLOWED["task"][None] == {"PENDING"}
    assert "RUNNING" not in set().union(*(t for c, t in ALLOWED["task"].items() if c != "PENDING"))


def test_a_running_task_drains_before_it_stops():
    assert ALLOWED["task"]["RUNNING"] == {"DEACTIVATING"}


def test_a_draining_service_only_becomes_inactive():
    # Creating a service with the name of an ACTIVE or DRAINING one is an error (DeleteService).
    assert ALLOWED["service"]["DRAINING"] == {"INACTIVE"}


def test_live_task_statuses_are_all_but_stopped():
    assert set(S.LIVE) == set(S.TASK_STATUSES) - {"STOPPED"}


def test_status_constants_match_the_scopes():
    assert S.SERVICE_STATUSES == SCOPE_STATUSES["service"]
    assert S.DEPLOYMENT_STATUSES == SCOPE_STATUSES["deployment"]
    assert S.TASK_SET_STATUSES == SCOPE_STATUSES["task_set"]
    assert S.ROLLOUT_STATES == SCOPE_STATUSES["rollout"]
    assert S.TASK_STATUSES == SCOPE_STATUSES["task"]


def test_a_row_with_a_scale_follows_the_task_set_table():
    assert S.deployment_scope(None) == "deployment"
    assert S.deployment_scope(0) == "task_set" and S.deployment_scope(100) == "task_set"
