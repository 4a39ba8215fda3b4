"""The ECS store moves statuses only through its transition methods: each checks the table,
writes the move with the row's other changes in one transaction and appends one history row; an
illegal move raises and changes nothing; the generic update methods refuse status columns."""

from __future__ import annotations

import sqlite3

import pytest

from conveyor.providers.local.ecs.states import ALLOWED, InvalidTransition
from conveyor.providers.local.ecs.store import (
    ACTIVE,
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    INACTIVE,
    PENDING,
    PRIMARY,
    RUNNING,
    STOPPED,
    STOPPING,
    EcsStore,
    Task,
)


@pytest.fixture
def clock():
    return [1000.0]


@pytest.fixture
def store(tmp_path, clock):
    s = EcsStore(tmp_path / "services.db", clock=lambda: clock[0])
    s.put_service("production", "orders", {}, "orders:1", 2)
    yield s
    s.close()


def _task(store: EcsStore, dep_id: str, task_id: str = "t1") -> Task:
    task = Task(id=task_id, environment="production", service="orders", deployment_id=dep_id, taskdef="orders:1",
                last_status=PENDING, created_at=1000.0)
    store.add_task(task)
    return task


def _force(store: EcsStore, sql: str, args: tuple) -> None:
    """Put a row in a given state behind the store's back (tests only)."""
    store._db.execute(sql, args)


def _pairs(scope: str, allowed: bool) -> list[tuple[str, str]]:
    statuses = [s for s in ALLOWED[scope] if s is not None]
    return [(c, n) for c in statuses for n in statuses if (n in ALLOWED[scope][c]) is allowed]


# --- every pair of the tables, through the store ------------------------------------------------


@pytest.mark.parametrize("current,new", _pairs("task", True))
def test_every_allowed_task_move_is_written_with_one_history_row(store, clock, current, new):
    dep = store.create_deployment("production", "orders", "orders:1", {})
    _task(store, dep.id)
    _force(store, "UPDATE tasks SET last_status = ? WHERE id = ?", (current, "t1"))
    before = len(store.transitions())
    clock[0] = 1005.0
    task = store.transition_task("t1", new, why="because", stopped_reason="r", stopped_at=1005.0)
    assert (task.last_status, task.stopped_reason, task.stopped_at) == (new, "r", 1005.0)
    history = store.transitions()
    assert len(history) == before + 1
    assert {k: history[-1][k] for k in ("kind", "entity", "from_status", "to_status", "at", "reason")} == {
        "kind": "task", "entity": "t1", "from_status": current, "to_status": new, "at": 1005.0, "reason": "because"}


@pytest.mark.parametrize("current,new", _pairs("task", False))
def test_every_forbidden_task_move_raises_and_changes_nothing(store, current, new):
    dep = store.create_deployment("production", "orders", "orders:1", {})
    _task(store, dep.id)
    _force(store, "UPDATE tasks SET last_status = ? WHERE id = ?", (current, "t1"))
    before = (store.task("t1"), store.transitions())
    with pytest.raises(InvalidTransition, match=f"task cannot go from {current} to {new}"):
        store.transition_task("t1", new, stopped_reason="r", health="HEALTHY")
    assert (store.task("t1"), store.transitions()) == before


@pytest.mark.parametrize("scale", [None, 100], ids=["deployment", "task_set"])
@pytest.mark.parametrize("allowed", [True, False])
def test_every_deployment_status_move_follows_its_rows_table(store, clock, scale, allowed):
    scope = "deployment" if scale is None else "task_set"
    for current, new in _pairs(scope, allowed):
        dep = store.create_deployment("production", "orders", "orders:1", {})
        _force(store, "UPDATE deployments SET status = ?, scale = ? WHERE id = ?", (current, scale, dep.id))
        before = (store.deployment(dep.id), store.transitions())
        clock[0] += 1
        if allowed:
            got = store.transition_deployment(dep.id, status=new, why="w", failed_tasks=3)
            assert (got.status, got.failed_tasks, got.updated_at) == (new, 3, clock[0])
            assert store.transitions()[len(before[1]):] == [store.transitions()[-1]]
            last = store.transitions()[-1]
            assert (last["kind"], last["entity"], last["from_status"], last["to_status"], last["reason"]) == (
                scope, dep.id, current, new, "w")
        else:
            with pytest.raises(InvalidTransition, match=f"{scope} cannot go from {current} to {new}"):
                store.transition_deployment(dep.id, status=new, failed_tasks=3)
            assert (store.deployment(dep.id), store.transitions()) == before


@pytest.mark.parametrize("allowed", [True, False])
def test_every_rollout_move(store, clock, allowed):
    for current, new in _pairs("rollout", allowed):
        dep = store.create_deployment("production", "orders", "orders:1", {})
        _force(store, "UPDATE deployments SET rollout_state = ? WHERE id = ?", (current, dep.id))
        before = (store.deployment(dep.id), store.transitions())
        if allowed:
            got = store.transition_deployment(dep.id, rollout_state=new, reason="why it moved", completed_at=5.0)
            assert (got.rollout_state, got.reason, got.completed_at) == (new, "why it moved", 5.0)
            assert len(store.transitions()) == len(before[1]) + 1
            assert store.transitions()[-1]["reason"] == "why it moved"  # the rolloutStateReason by default
        else:
            with pytest.raises(InvalidTransition):
                store.transition_deployment(dep.id, rollout_state=new, reason="x")
            assert (store.deployment(dep.id), store.transitions()) == before


@pytest.mark.parametrize("allowed", [True, False])
def test_every_service_move(store, allowed):
    for current, new in _pairs("service", allowed):
        _force(store, "UPDATE services SET status = ? WHERE name = ?", (current, "orders"))
        before = (store.service("production", "orders"), store.transitions())
        if allowed:
            assert store.transition_service("production", "orders", new, why="w").status == new
            assert len(store.transitions()) == len(before[1]) + 1
            assert store.transitions()[-1]["entity"] == "production/orders"
        else:
            with pytest.raises(InvalidTransition):
                store.transition_service("production", "orders", new)
            assert (store.service("production", "orders"), store.transitions()) == before


# --- the creating and swapping operations ------------------------------------------------------


def test_a_rolling_deploy_writes_its_whole_history(store):
    first = store.create_deployment("production", "orders", "orders:1", {})
    second = store.create_deployment("production", "orders", "orders:2", {})
    _task(store, second.id)
    store.transition_task("t1", RUNNING)
    store.transition_deployment(second.id, rollout_state=COMPLETED)
    store.transition_deployment(first.id, status=INACTIVE, why="no tasks left")
    moves = [(h["kind"], h["entity"], h["from_status"], h["to_status"]) for h in store.transitions()]
    assert moves == [
        ("service", "production/orders", None, ACTIVE),
        ("deployment", first.id, None, PRIMARY), ("rollout", first.id, None, IN_PROGRESS),
        ("deployment", first.id, PRIMARY, ACTIVE),
        ("deployment", second.id, None, PRIMARY), ("rollout", second.id, None, IN_PROGRESS),
        ("task", "t1", None, PENDING), ("task", "t1", PENDING, RUNNING),
        ("rollout", second.id, IN_PROGRESS, COMPLETED),
        ("deployment", first.id, ACTIVE, INACTIVE),
    ]
    assert [h["to_status"] for h in store.transitions("t1")] == [PENDING, RUNNING]
    assert [h["to_status"] for h in store.transitions(kind="rollout")] == [IN_PROGRESS, IN_PROGRESS, COMPLETED]


def test_promoting_a_task_set_swaps_primary_and_active_in_the_history(store):
    blue = store.create_task_set("production", "orders", "orders:1", "tg-1", 100, {}, primary=True)
    green = store.create_task_set("production", "orders", "orders:2", "tg-2", 100, {})
    assert (blue.status, green.status) == (PRIMARY, ACTIVE)
    store.promote_task_set(green.id)
    store.promote_task_set(green.id)  # already PRIMARY: no move
    assert (store.deployment(blue.id).status, store.deployment(green.id).status) == (ACTIVE, PRIMARY)
    assert store.service("production", "orders").taskdef == "orders:2"
    swaps = [(h["entity"], h["from_status"], h["to_status"]) for h in store.transitions(kind="task_set")]
    assert swaps == [(blue.id, None, PRIMARY), (green.id, None, ACTIVE), (blue.id, PRIMARY, ACTIVE),
                     (green.id, ACTIVE, PRIMARY)]


def test_an_inactive_task_set_cannot_be_promoted(store):
    ts = store.create_task_set("production", "orders", "orders:2", "tg-2", 0, {})
    store.transition_deployment(ts.id, status=INACTIVE)
    before = store.transitions()
    with pytest.raises(InvalidTransition, match="task_set cannot go from INACTIVE to PRIMARY"):
        store.promote_task_set(ts.id)
    assert store.transitions() == before and store.deployment(ts.id).status == INACTIVE


def test_declaring_a_service_again_moves_no_status(store):
    store.put_service("production", "orders", {"x": 1}, "orders:1", 3)
    assert [h["to_status"] for h in store.transitions("production/orders")] == [ACTIVE]
    assert store.service("production", "orders").desired_count == 3


def test_a_draining_service_cannot_be_declared_again(store):
    store.transition_service("production", "orders", "DRAINING")
    with pytest.raises(InvalidTransition, match="service cannot go from DRAINING to ACTIVE"):
        store.put_service("production", "orders", {}, "orders:1", 2)


def test_a_task_stopped_with_its_reason_as_the_history_reason(store):
    dep = store.create_deployment("production", "orders", "orders:1", {})
    _task(store, dep.id)
    store.transition_task("t1", STOPPED, stopped_reason="CannotPullContainerError: nope", failed=1)
    assert store.transitions("t1")[-1]["reason"] == "CannotPullContainerError: nope"


# --- nothing bypasses the tables ----------------------------------------------------------------


@pytest.mark.parametrize("key,value", [("status", INACTIVE), ("rollout_state", FAILED)])
def test_update_deployment_refuses_status_columns(store, key, value):
    dep = store.create_deployment("production", "orders", "orders:1", {})
    before = (store.deployment(dep.id), store.transitions())
    with pytest.raises(TypeError, match=f"update_deployment cannot set {key}: use transition_deployment"):
        store.update_deployment(dep.id, failed_tasks=2, **{key: value})
    assert (store.deployment(dep.id), store.transitions()) == before


def test_update_task_refuses_last_status(store):
    dep = store.create_deployment("production", "orders", "orders:1", {})
    _task(store, dep.id)
    with pytest.raises(TypeError, match="update_task cannot set last_status: use transition_task"):
        store.update_task("t1", last_status=STOPPING, health="HEALTHY")
    assert (store.task("t1").last_status, store.task("t1").health) == (PENDING, "UNKNOWN")


def test_a_deployment_transition_needs_a_status_to_move(store):
    dep = store.create_deployment("production", "orders", "orders:1", {})
    with pytest.raises(TypeError, match="needs a status or a rollout_state"):
        store.transition_deployment(dep.id, failed_tasks=1)


def test_other_columns_still_update(store):
    dep = store.create_deployment("production", "orders", "orders:1", {})
    _task(store, dep.id)
    store.update_deployment(dep.id, timings={"a": 1}, failed_tasks=2)
    store.update_task("t1", health="HEALTHY", healthy_at=3.0)
    assert (store.deployment(dep.id).timings, store.deployment(dep.id).failed_tasks) == ({"a": 1}, 2)
    assert (store.task("t1").health, store.task("t1").healthy_at) == ("HEALTHY", 3.0)


# --- data directories from before the history -----------------------------------------------


def test_a_data_directory_from_before_the_history_keeps_working(tmp_path):
    path = tmp_path / "services.db"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE services (environment TEXT NOT NULL, name TEXT NOT NULL, spec TEXT NOT NULL,
            taskdef TEXT NOT NULL, desired_count INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'ACTIVE',
            created_at REAL NOT NULL, updated_at REAL NOT NULL, PRIMARY KEY (environment, name));
        CREATE TABLE deployments (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, environment TEXT NOT NULL,
            service TEXT NOT NULL, taskdef TEXT NOT NULL, status TEXT NOT NULL, rollout_state TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '', failed_tasks INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL,
            updated_at REAL NOT NULL, completed_at REAL, origin TEXT NOT NULL DEFAULT '{}',
            timings TEXT NOT NULL DEFAULT '{}');
        INSERT INTO services VALUES ('production', 'orders', '{}', 'orders:1', 1, 'ACTIVE', 1, 1);
        INSERT INTO deployments (id, seq, environment, service, taskdef, status, rollout_state, created_at, updated_at)
            VALUES ('ecs-svc/old', 1, 'production', 'orders', 'orders:1', 'PRIMARY', 'IN_PROGRESS', 1, 1);
    """)
    db.close()
    store = EcsStore(path)
    assert store.transitions() == []
    store.transition_deployment("ecs-svc/old", rollout_state=COMPLETED)
    new = store.create_deployment("production", "orders", "orders:2", {})
    assert store.deployment("ecs-svc/old").status == ACTIVE and new.status == PRIMARY
    assert [(h["entity"], h["to_status"]) for h in store.transitions()][:2] == [
        ("ecs-svc/old", COMPLETED), ("ecs-svc/old", ACTIVE)]
    store.close()
