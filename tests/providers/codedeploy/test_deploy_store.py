"""The deploy controller's pure parts and its store: forward weights, phase order, task set
sizes, and deployments, lifecycle events and history as rows that survive a reopen."""

from __future__ import annotations

import re

import pytest

from conveyor.providers.local.codedeploy.controller import default_appspec, forward_weights
from conveyor.providers.local.codedeploy.lifecycle import PHASES, WATCHED, next_phase
from conveyor.config.codedeploy_model import HOOK_EVENTS, LIFECYCLE_EVENTS
from conveyor.providers.local.codedeploy.store import (IN_PROGRESS, ROLLBACK, SUCCEEDED, DeploymentStore, new_deployment_id)
from conveyor.config.appspec import parse_appspec
from conveyor.deploy.spec import ServiceSpec
from conveyor.providers.local.ecs.task_sets import task_count
from conveyor.lb.model import validate_forward_weights


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
    store.update(d.id, status=IN_PROGRESS, phase="AllowTraffic", traffic=10, rollback_info={"x": 1})
    store.event(d.id, "BeforeInstall", status="Skipped", started_at=1000.5, ended_at=1000.5)
    store.event(d.id, "AfterAllowTestTraffic", status="InProgress", started_at=1000.8, execution_id="e1",
                details={"n": 1})
    store.log(d.id, "stop with rollback by ana: pager", kind="action", who="ana")
    rb = store.create("production", "orders", taskdef="orders:1", appspec="", group={}, creator=ROLLBACK,
                      status=IN_PROGRESS)
    store.update(rb.id, status=SUCCEEDED)
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
