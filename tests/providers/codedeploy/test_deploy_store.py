"""The deploy controller's pure parts and its store: forward weights, phase order, task set
sizes, and deployments, lifecycle events and history as rows that survive a reopen; statuses move
only through the transition table, each move one history row."""

from __future__ import annotations

import re
import sqlite3

import pytest

from conveyor.config.appspec import parse_appspec
from conveyor.config.codedeploy_model import HOOK_EVENTS, LIFECYCLE_EVENTS
from conveyor.deploy.spec import ServiceSpec
from conveyor.lb.model import validate_forward_weights
from conveyor.providers.local.codedeploy.revision import default_appspec
from conveyor.providers.local.codedeploy.routing import forward_weights
from conveyor.providers.local.codedeploy.states import ALLOWED, InvalidTransition
from conveyor.providers.local.codedeploy.steps import PHASES, WATCHED, next_phase
from conveyor.providers.local.codedeploy.store import (
    IN_PROGRESS,
    ROLLBACK,
    SUCCEEDED,
    DeploymentStore,
    new_deployment_id,
)
from conveyor.providers.local.ecs.task_sets import task_count


@pytest.mark.parametrize("percent,expected", [
    (0, {"blue": 1, "green": 0}),
    (0.1, {"blue": 999, "green": 1}),
    (10, {"blue": 900, "green": 100}),
    (33.3, {"blue": 667, "green": 333}),
    (99.9, {"blue": 1, "green": 999}),
    (100, {"blue": 0, "green": 1}),
])
def test_forward_weights_send_the_percent_to_green_and_keep_both_groups_attached(percent, expected):
    weights = forward_weights("blue", "green", percent)
    assert weights == expected
    validate_forward_weights(8080, weights, {"blue", "green"})  # what ALB (and our HAProxy) accepts
    assert weights["green"] / sum(weights.values()) == pytest.approx(percent / 100, abs=0.0005)


def test_a_first_deployment_has_no_blue_to_split_with():
    assert forward_weights(None, "green", 10) == {"green": 1}


def test_phases_follow_codedeploys_lifecycle_order():
    events = [p for p in PHASES if p in LIFECYCLE_EVENTS]
    assert events == list(LIFECYCLE_EVENTS)
    assert [next_phase(p) for p in ("Start", "AfterAllowTestTraffic", "AfterAllowTraffic")] == [
        "BeforeInstall", "ReadyWait", "TerminationWait"]
    assert "BeforeInstall" not in WATCHED and "TerminationWait" in WATCHED and "Terminate" not in WATCHED
    assert set(HOOK_EVENTS) <= set(PHASES)


@pytest.mark.parametrize("desired,scale,count", [(2, 100, 2), (3, 50, 2), (2, 0, 0), (1, None, 1), (0, 100, 0)])
def test_a_task_set_keeps_its_scale_percent_of_the_desired_count_rounded_up(desired, scale, count):
    assert task_count(desired, scale) == count


def test_deployment_ids_look_like_codedeploys():
    assert all(re.fullmatch(r"d-[A-Z0-9]{9}", new_deployment_id()) for _ in range(50))


def test_the_default_appspec_names_the_services_container_and_port():
    spec = ServiceSpec.from_config("production", "orders", {
        "loadBalancer": {"port": 8080, "testPort": 9080, "container": "api", "containerPort": 8081},
        "deployment": {"controller": "CODE_DEPLOY"}})
    appspec, problems = parse_appspec(default_appspec(spec), "appspec.yaml")
    assert not [p for p in problems if p.severity == "error"], problems
    assert (appspec.container_name, appspec.container_port, appspec.task_definition) == (
        "api", 8081, "<TASK_DEFINITION>")
    assert [tg.name for tg in spec.target_groups] == ["production-orders-1", "production-orders-2"]
    assert [(lst.port, lst.target_group) for lst in spec.listeners] == [
        (8080, "production-orders-1"), (9080, "production-orders-1")]


def test_deployments_events_and_history_are_rows_that_survive_a_reopen(tmp_path):
    now = [1000.0]
    store = DeploymentStore(tmp_path / "codedeploy.db", clock=lambda: now[0])
    d = store.create("production", "orders", taskdef="orders:2", appspec="version: 0.0", group={"deployment": {}},
                     creator="user", origin={"by": "ana"})
    assert (d.status, d.phase, d.creator) == ("Created", "Start", "user")
    now[0] = 1001.0
    store.transition(d.id, IN_PROGRESS, phase="AllowTraffic", traffic=10, rollback_info={"x": 1})
    store.transition_event(d.id, "BeforeInstall", "Skipped", started_at=1000.5, ended_at=1000.5)
    store.transition_event(d.id, "AfterAllowTestTraffic", "InProgress", started_at=1000.8, execution_id="e1",
                           details={"n": 1})
    store.log(d.id, "stop with rollback by ana: pager", kind="action", who="ana")
    rb = store.create("production", "orders", taskdef="orders:1", appspec="", group={}, creator=ROLLBACK,
                      status=IN_PROGRESS)
    store.transition(rb.id, SUCCEEDED)
    store.close()

    again = DeploymentStore(tmp_path / "codedeploy.db")
    got = again.get(d.id)
    assert (got.status, got.phase, got.traffic, got.phase_at, got.rollback_info) == (
        IN_PROGRESS, "AllowTraffic", 10, 1001.0, {"x": 1})
    assert [e["name"] for e in again.events(d.id)] == ["BeforeInstall", "AfterAllowTestTraffic"]
    assert again.find_execution("e1")["deployment_id"] == d.id
    assert again.lifecycle_event(d.id, "AfterAllowTestTraffic")["details"] == {"n": 1}
    assert [h["who"] for h in again.history(d.id) if h["kind"] == "action"] == ["ana"]
    assert [x.id for x in again.active("production", "orders")] == [d.id]  # the rollback one is done
    assert [x.id for x in again.list("production", "orders")] == [rb.id, d.id]
    assert got.to_json()["rollbackInfo"] == {"x": 1} and "appspec" not in got.to_json()


# --- statuses move only through the transition table -------------------------------------------

def _store(tmp_path, now):
    return DeploymentStore(tmp_path / "codedeploy.db", clock=lambda: now[0])


def _create(store, status="Created"):
    return store.create("production", "orders", taskdef="orders:2", appspec="", group={}, creator="user",
                        status=status)


def _pairs(scope, allowed):
    statuses = [s for s in ALLOWED[scope] if s is not None]
    return [(c, n) for c in statuses for n in statuses if (n in ALLOWED[scope][c]) is allowed]


def test_creating_a_deployment_records_its_first_status(tmp_path):
    store = _store(tmp_path, [1000.0])
    d = _create(store)
    rb = _create(store, status=IN_PROGRESS)
    moves = [(h["deployment_id"], h["kind"], h["from_status"], h["to_status"], h["at"]) for h in store.transitions()]
    assert moves == [
        (d.id, "deployment", None, "Created", 1000.0), (rb.id, "deployment", None, "InProgress", 1000.0)]
    with pytest.raises(InvalidTransition, match="deployment cannot go from nothing to Succeeded"):
        _create(store, status=SUCCEEDED)
    assert len(store.list("production", "orders")) == 2 and len(store.transitions()) == 2


@pytest.mark.parametrize("allowed", [True, False])
def test_every_deployment_move_through_the_store(tmp_path, allowed):
    now = [1000.0]
    store = _store(tmp_path, now)
    for current, new in _pairs("deployment", allowed):
        d = _create(store)
        store._db.execute("UPDATE cd_deployments SET status = ? WHERE id = ?", (current, d.id))  # (tests only)
        before = (store.get(d.id), store.transitions())
        now[0] += 1
        if allowed:
            got = store.transition(d.id, new, error_code="X", error_message="why", phase="End")
            assert (got.status, got.error_code, got.phase, got.phase_at, got.updated_at) == (
                new, "X", "End", now[0], now[0])
            history = store.transitions()
            assert len(history) == len(before[1]) + 1
            assert {k: history[-1][k] for k in ("kind", "deployment_id", "event", "from_status", "to_status", "at",
                                                "reason")} == {
                "kind": "deployment", "deployment_id": d.id, "event": "", "from_status": current, "to_status": new,
                "at": now[0], "reason": "why"}
        else:
            with pytest.raises(InvalidTransition, match=f"deployment cannot go from {current} to {new}"):
                store.transition(d.id, new, error_code="X", phase="End")
            assert (store.get(d.id), store.transitions()) == before


@pytest.mark.parametrize("allowed", [True, False])
def test_every_lifecycle_event_move_through_the_store(tmp_path, allowed):
    now = [1000.0]
    store = _store(tmp_path, now)
    d = _create(store)
    for i, (current, new) in enumerate(_pairs("lifecycle_event", allowed)):
        name = f"Event{i}"
        store.event(d.id, name)  # a Pending row
        store._db.execute("UPDATE cd_events SET status = ? WHERE deployment_id = ? AND name = ?",
                          (current, d.id, name))  # (tests only)
        before = (store.lifecycle_event(d.id, name), store.transitions())
        now[0] += 1
        if allowed:
            ev = store.transition_event(d.id, name, new, ended_at=now[0], message="done", details={"n": 1})
            assert (ev["status"], ev["ended_at"], ev["details"]) == (new, now[0], {"n": 1})
            history = store.transitions()
            assert len(history) == len(before[1]) + 1
            assert (history[-1]["kind"], history[-1]["event"], history[-1]["from_status"], history[-1]["to_status"],
                    history[-1]["reason"]) == ("lifecycle_event", name, current, new, "done")
        else:
            with pytest.raises(InvalidTransition, match=f"lifecycle_event cannot go from {current} to {new}"):
                store.transition_event(d.id, name, new, message="x")
            assert (store.lifecycle_event(d.id, name), store.transitions()) == before


def test_a_lifecycle_event_is_created_in_its_first_status(tmp_path):
    store = _store(tmp_path, [1000.0])
    d = _create(store)
    store.transition_event(d.id, "Install", "InProgress", started_at=1000.0)
    store.transition_event(d.id, "BeforeInstall", "Skipped")
    before = store.transitions()
    with pytest.raises(InvalidTransition, match="lifecycle_event cannot go from nothing to Failed"):
        store.transition_event(d.id, "AfterInstall", "Failed")
    assert store.lifecycle_event(d.id, "AfterInstall") is None and store.transitions() == before
    moves = [(h["event"], h["from_status"], h["to_status"]) for h in store.transitions(d.id, kind="lifecycle_event")]
    assert moves == [
        ("Install", None, "InProgress"), ("BeforeInstall", None, "Skipped")]


def test_update_refuses_a_status(tmp_path):
    store = _store(tmp_path, [1000.0])
    d = _create(store)
    with pytest.raises(TypeError, match="update cannot set status: use transition"):
        store.update(d.id, status=SUCCEEDED, phase="End")
    assert (store.get(d.id).status, store.get(d.id).phase) == ("Created", "Start")
    assert len(store.transitions()) == 1


def test_event_refuses_a_status_and_updates_the_other_columns(tmp_path):
    store = _store(tmp_path, [1000.0])
    d = _create(store)
    store.transition_event(d.id, "AfterInstall", "InProgress", attempts=0)
    with pytest.raises(TypeError, match="event cannot set status: use transition_event"):
        store.event(d.id, "AfterInstall", status="Succeeded", attempts=1)
    store.event(d.id, "AfterInstall", attempts=2, next_attempt_at=None, details={"k": "v"})
    ev = store.lifecycle_event(d.id, "AfterInstall")
    assert (ev["status"], ev["attempts"], ev["details"]) == ("InProgress", 2, {"k": "v"})
    assert len(store.transitions(d.id, kind="lifecycle_event")) == 1


def test_a_data_directory_from_before_the_history_keeps_working(tmp_path):
    path = tmp_path / "codedeploy.db"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE cd_deployments (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, environment TEXT NOT NULL,
            service TEXT NOT NULL, taskdef TEXT NOT NULL, appspec TEXT NOT NULL DEFAULT '',
            grp TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL, phase TEXT NOT NULL, creator TEXT NOT NULL, origin TEXT NOT NULL DEFAULT '{}',
            original_task_set TEXT, replacement_task_set TEXT, original_tg TEXT, replacement_tg TEXT,
            traffic INTEGER NOT NULL DEFAULT 0, step INTEGER NOT NULL DEFAULT -1, step_at REAL, phase_at REAL,
            waiting TEXT NOT NULL DEFAULT '', error_code TEXT, error_message TEXT,
            rollback_info TEXT NOT NULL DEFAULT '{}', stop_request TEXT, continue_request TEXT, workdir TEXT,
            created_at REAL NOT NULL, updated_at REAL NOT NULL, completed_at REAL, timings TEXT NOT NULL DEFAULT '{}');
        CREATE TABLE cd_events (deployment_id TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
            started_at REAL, ended_at REAL, hook TEXT, execution_id TEXT, attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL, details TEXT, message TEXT NOT NULL DEFAULT '', log_tail TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (deployment_id, name));
        INSERT INTO cd_deployments (id, seq, environment, service, taskdef, status, phase, creator, created_at,
            updated_at) VALUES ('d-OLD000001', 1, 'production', 'orders', 'orders:1', 'InProgress', 'AfterInstall',
            'user', 1, 1);
        INSERT INTO cd_events (deployment_id, name, status) VALUES ('d-OLD000001', 'AfterInstall', 'InProgress');
    """)
    db.close()
    store = DeploymentStore(path)
    store.transition_event("d-OLD000001", "AfterInstall", "Succeeded")
    store.transition("d-OLD000001", "Stopped", error_code="MANUAL_STOP")
    assert [h["to_status"] for h in store.transitions("d-OLD000001")] == ["Succeeded", "Stopped"]
    assert [x.id for x in store.active()] == []
    store.close()
