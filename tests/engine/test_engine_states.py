"""The status state machine over the full from/to matrix of every scope (aws-semantics §2.17).

Every allowed pair passes `check_transition`; every other pair, including from "no row yet" and
towards statuses of other scopes, raises InvalidTransition (a Conflict).
"""

from __future__ import annotations

import itertools

import pytest

from conveyor.engine import states as S
from conveyor.engine.states import ALLOWED, InvalidTransition, check_transition
from conveyor.errors import Conflict

SCOPE_STATUSES = {
    "execution": S.EXECUTION_STATUSES,
    "stage": S.STAGE_STATUSES,
    "action": S.ACTION_STATUSES,
}
# Every status any scope knows, plus AWS statuses Conveyor does not produce (stage `Skipped`) and
# nonsense: a scope only accepts its own.
EVERY_STATUS = sorted(set(itertools.chain(*SCOPE_STATUSES.values())) | {"Skipped", "Bogus", ""})


def matrix(allowed: bool) -> list[tuple[str, str | None, str]]:
    cases = []
    for scope, statuses in SCOPE_STATUSES.items():
        for current in (None, *statuses):
            for new in EVERY_STATUS:
                if (new in ALLOWED[scope].get(current, ())) is allowed:
                    cases.append((scope, current, new))
    return cases


ALLOWED_PAIRS = matrix(True)
FORBIDDEN_PAIRS = matrix(False)


def test_the_tables_cover_exactly_the_statuses_of_each_scope():
    for scope, statuses in SCOPE_STATUSES.items():
        assert set(ALLOWED[scope]) == {None, *statuses}, scope
        for current, targets in ALLOWED[scope].items():
            assert targets <= set(statuses), (scope, current, targets - set(statuses))


def test_the_matrix_is_complete():
    total = sum((len(statuses) + 1) * len(EVERY_STATUS) for statuses in SCOPE_STATUSES.values())
    assert len(ALLOWED_PAIRS) + len(FORBIDDEN_PAIRS) == total
    assert len(ALLOWED_PAIRS) == sum(len(t) for table in ALLOWED.values() for t in table.values())


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


def test_invalid_transition_is_a_conflict():
    assert issubclass(InvalidTransition, Conflict)


def test_unknown_current_status_is_refused():
    for scope in SCOPE_STATUSES:
        with pytest.raises(InvalidTransition):
            check_transition(scope, "Bogus", S.IN_PROGRESS)


# --- what AWS says, pair by pair ----------------------------------------------------------------


@pytest.mark.parametrize("final", [S.SUCCEEDED, S.SUPERSEDED, S.CANCELLED])
def test_succeeded_superseded_cancelled_executions_are_final(final):
    assert ALLOWED["execution"][final] == frozenset()
    assert final in S.FINAL_EXECUTION
    for new in EVERY_STATUS:
        with pytest.raises(InvalidTransition):
            check_transition("execution", final, new)


@pytest.mark.parametrize("scope", ["execution", "stage"])
@pytest.mark.parametrize("status", [S.FAILED, S.STOPPED])
def test_failed_and_stopped_go_back_to_in_progress_on_retry(scope, status):
    # §2.14 stage retry, §2.5 "a stopped execution releases the stage lock; retry becomes available"
    check_transition(scope, status, S.IN_PROGRESS)
    assert ALLOWED[scope][status] == {S.IN_PROGRESS}


def test_final_and_retryable_execution_statuses_partition_the_terminal_ones():
    retryable = {s for s in S.TERMINAL_EXECUTION if S.IN_PROGRESS in ALLOWED["execution"][s]}
    assert retryable == {S.FAILED, S.STOPPED}
    assert S.FINAL_EXECUTION == S.TERMINAL_EXECUTION - retryable
    assert S.ACTIVE_EXECUTION == {S.IN_PROGRESS, S.STOPPING}
    assert not S.ACTIVE_EXECUTION & S.TERMINAL_EXECUTION


@pytest.mark.parametrize("status", S.ACTION_STATUSES)
def test_an_action_attempt_never_goes_back_to_in_progress(status):
    # A re-run is a new attempt (new rows), never a step back of the old one.
    with pytest.raises(InvalidTransition):
        check_transition("action", status, S.IN_PROGRESS)


@pytest.mark.parametrize("status", [S.SUCCEEDED, S.FAILED, S.ABANDONED])
def test_finished_action_attempts_are_final(status):
    assert ALLOWED["action"][status] == frozenset()


def test_an_action_starts_in_progress_and_ends_succeeded_failed_or_abandoned():
    assert ALLOWED["action"][None] == {S.IN_PROGRESS}
    assert ALLOWED["action"][S.IN_PROGRESS] == {S.SUCCEEDED, S.FAILED, S.ABANDONED}


def test_stopping_only_leads_to_stopped():
    # §2.5: Stopping then Stopped, whether the running actions finish or are abandoned.
    assert ALLOWED["execution"][S.STOPPING] == {S.STOPPED}
    assert ALLOWED["stage"][S.STOPPING] == {S.STOPPED}


def test_only_executions_are_superseded_and_only_while_in_progress():
    # §2.4: superseded while waiting between stages; never a stage or action status.
    assert [c for c, targets in ALLOWED["execution"].items() if S.SUPERSEDED in targets] == [S.IN_PROGRESS]
    assert S.SUPERSEDED not in S.STAGE_STATUSES
    assert S.SUPERSEDED not in S.ACTION_STATUSES


def test_abandoned_is_an_action_status_only():
    assert S.ABANDONED in S.ACTION_STATUSES
    assert S.ABANDONED not in S.EXECUTION_STATUSES
    assert S.ABANDONED not in S.STAGE_STATUSES


def test_an_execution_is_born_in_progress_or_failed_and_a_stage_in_progress():
    # Failed at birth: its definition did not validate.
    assert ALLOWED["execution"][None] == {S.IN_PROGRESS, S.FAILED}
    assert ALLOWED["stage"][None] == {S.IN_PROGRESS}


def test_statuses_are_aws_spellings():
    # §2.17
    assert set(S.EXECUTION_STATUSES) == {"Cancelled", "InProgress", "Stopped", "Stopping", "Succeeded",
                                         "Superseded", "Failed"}
    assert set(S.STAGE_STATUSES) <= {"Cancelled", "InProgress", "Failed", "Stopped", "Stopping", "Succeeded",
                                     "Skipped"}
    assert set(S.ACTION_STATUSES) == {"InProgress", "Abandoned", "Succeeded", "Failed"}
