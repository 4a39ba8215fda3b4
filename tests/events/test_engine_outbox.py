"""The engine store writes a transition and its events in one transaction: both or neither, on
its own (BEGIN IMMEDIATE) and inside a scheduler pass (a savepoint of Store.transaction())."""

from __future__ import annotations

import pytest

from conveyor.events.outbox import read_outbox
from conveyor.events.types import Event, Subject
from conveyor.store.db import ExecutionRow, Store, Transition


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "conveyor.db")
    yield s
    s.close()


def _row(store: Store, id_: str = "e1") -> ExecutionRow:
    return store.create_execution(ExecutionRow(id_, 0, "orders", 1.0, {}, {}, {}, {}),
                                  Transition(id_, "execution", "InProgress", at=1.0))


def _event(kind: str = "stage-execution-started") -> Event:
    return Event(kind, 2.0, Subject("orders", "e1", stage="Build"), {"k": 1}, "orders #1: stage Build started")


def events(store: Store) -> list[str]:
    return [e.type for _, e in read_outbox(store._db, 0)]


def test_append_writes_the_transition_and_its_events(store):
    _row(store)
    t = store.append(Transition("e1", "stage", "InProgress", stage="Build", at=2.0), [_event()])
    assert t.seq and [x.status for x in store.transitions("e1")] == ["InProgress", "InProgress"]
    [(seq, event)] = read_outbox(store._db, 0)
    assert (event.type, event.subject, event.detail, event.summary) == (
        "stage-execution-started", Subject("orders", "e1", stage="Build"), {"k": 1}, "orders #1: stage Build started")


def test_an_event_that_cannot_be_written_rolls_back_its_transition(store):
    _row(store)
    with pytest.raises(ValueError, match="unknown event type"):
        store.append(Transition("e1", "stage", "InProgress", stage="Build"), [_event(), _event("no-such-event")])
    assert [x.scope for x in store.transitions("e1")] == ["execution"]
    assert events(store) == []
    with pytest.raises(ValueError):
        store.append_many([Transition("e1", "stage", "InProgress", stage="Build")], [_event("no-such-event")])
    assert [x.scope for x in store.transitions("e1")] == ["execution"]


def test_inside_a_pass_a_failed_append_is_undone_alone_and_a_rolled_back_pass_leaves_no_event(store):
    _row(store)
    with store.transaction():
        store.append(Transition("e1", "stage", "InProgress", stage="Build"), [_event()])
        with pytest.raises(ValueError):
            store.append(Transition("e1", "action", "InProgress", stage="Build", action="A", attempt=1),
                         [_event("no-such-event")])
    assert [x.scope for x in store.transitions("e1")] == ["execution", "stage"]
    assert events(store) == ["stage-execution-started"]

    with pytest.raises(RuntimeError):
        with store.transaction():
            store.append(Transition("e1", "stage", "Succeeded", stage="Build"), [_event("stage-execution-succeeded")])
            raise RuntimeError("the pass failed after the append")
    assert [x.status for x in store.transitions("e1")] == ["InProgress", "InProgress"]
    assert events(store) == ["stage-execution-started"]


def test_create_execution_writes_the_events_of_the_row_with_its_seq(store):
    _row(store, "e0")
    seen = []

    def first_events(row: ExecutionRow) -> list[Event]:
        seen.append(row.seq)
        return [Event("pipeline-execution-started", 1.0, Subject("orders", row.id), {"number": row.seq})]

    store.create_execution(ExecutionRow("e1", 0, "orders", 1.0, {}, {}, {}, {}),
                           Transition("e1", "execution", "InProgress"), first_events)
    assert seen == [2] and events(store) == ["pipeline-execution-started"]

    def broken(row: ExecutionRow) -> list[Event]:
        raise RuntimeError("mapping bug")

    with pytest.raises(RuntimeError):
        store.create_execution(ExecutionRow("e2", 0, "orders", 1.0, {}, {}, {}, {}),
                               Transition("e2", "execution", "InProgress"), broken)
    assert store.execution("e2") is None and store.transitions("e2") == []
