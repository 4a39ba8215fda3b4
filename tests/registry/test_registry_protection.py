"""Which images the deploy state protects from lifecycle expiry (pure, fixture state), and the
deploy state read from real ECS and CodeDeploy stores."""

from __future__ import annotations

import sqlite3

import pytest

from conveyor.registry.protection import (
    DeploymentRow,
    DeployState,
    DeployStateUnreadable,
    parse_reference,
    protected_images,
    read_deploy_state,
    rollback_targets,
)

HOST = "000000000000.dkr.ecr.us-east-1.localhost:5000"
TAGS = {"orders": {"v1": "sha256:a1", "v2": "sha256:a2", "v3": "sha256:a3", "latest": "sha256:a3"}}


def tags_of(repo):
    return TAGS.get(repo, {})


def test_parse_reference_by_tag_digest_and_host():
    assert parse_reference(f"{HOST}/orders:v1").tag == "v1"
    assert parse_reference(f"{HOST}/team/orders@sha256:ab").digest == "sha256:ab"
    assert parse_reference(f"{HOST}/team/orders@sha256:ab").repository == "team/orders"
    assert parse_reference("127.0.0.1:5000/orders").tag is None
    assert parse_reference("localhost/orders:v1").repository == "orders"
    assert parse_reference("busybox:latest") is None  # no registry host: never the local registry
    assert parse_reference("library/busybox") is None


def test_current_taskdef_protects_by_tag_and_by_digest():
    state = DeployState(services=(("staging", "orders-service", "orders-service:7"),),
                        taskdefs={"orders-service:7": (f"{HOST}/orders:v2", f"{HOST}/orders@sha256:a1",
                                                       "docker.io/library/redis:7")})
    kept = protected_images(state, tags_of, now=0)
    assert kept == {
        ("orders", "sha256:a2"): ["in use by staging/orders-service task definition orders-service:7"],
        ("orders", "sha256:a1"): ["in use by staging/orders-service task definition orders-service:7"],
    }


def test_untagged_reference_means_latest():
    state = DeployState(services=(("prod", "web", "web:1"),), taskdefs={"web:1": (f"{HOST}/orders",)})
    assert list(protected_images(state, tags_of, now=0)) == [("orders", "sha256:a3")]


def test_rollback_target_is_the_newest_completed_other_revision():
    state = DeployState(
        services=(("prod", "web", "web:3"),),
        deployments=(DeploymentRow("ecs", "d1", "prod", "web", "web:1", "INACTIVE", "COMPLETED", 1),
                     DeploymentRow("ecs", "d2", "prod", "web", "web:2", "INACTIVE", "COMPLETED", 2),
                     DeploymentRow("ecs", "d3", "prod", "web", "web:3", "PRIMARY", "COMPLETED", 3),
                     DeploymentRow("ecs", "d4", "prod", "web", "web:4", "INACTIVE", "FAILED", 4)),
        taskdefs={"web:1": (f"{HOST}/orders:v1",), "web:2": (f"{HOST}/orders:v2",), "web:3": (f"{HOST}/orders:v3",),
                  "web:4": (f"{HOST}/orders@sha256:a9",)})
    assert rollback_targets(state) == {("prod", "web"): ["web:2"]}
    kept = protected_images(state, tags_of, now=0)
    assert kept[("orders", "sha256:a2")] == ["rollback target of prod/web: task definition web:2"]
    assert ("orders", "sha256:a1") not in kept  # two back: a rollback does not go there
    assert ("orders", "sha256:a9") not in kept  # a failed, inactive deployment's image


def test_blue_green_both_sides_and_codedeploy_in_flight():
    state = DeployState(
        services=(("prod", "web", "web:1"),),
        deployments=(DeploymentRow("ecs", "ts-blue", "prod", "web", "web:1", "PRIMARY", "COMPLETED", 1),
                     DeploymentRow("ecs", "ts-green", "prod", "web", "web:2", "ACTIVE", "IN_PROGRESS", 2),
                     DeploymentRow("codedeploy", "d-READY", "prod", "web", "web:2", "Ready", "", 1)),
        taskdefs={"web:1": (f"{HOST}/orders:v1",), "web:2": (f"{HOST}/orders:v2",)})
    kept = protected_images(state, tags_of, now=0)
    assert ("orders", "sha256:a1") in kept
    assert kept[("orders", "sha256:a2")] == [
        "prod/web deployment ts-green (ACTIVE) uses task definition web:2",
        "prod/web CodeDeploy deployment d-READY (Ready) uses task definition web:2"]


def test_codedeploy_rollback_target_after_success():
    state = DeployState(
        services=(("prod", "web", "web:2"),),
        deployments=(DeploymentRow("codedeploy", "d-1", "prod", "web", "web:1", "Succeeded", "", 1),
                     DeploymentRow("codedeploy", "d-2", "prod", "web", "web:2", "Succeeded", "", 2)),
        taskdefs={"web:1": (f"{HOST}/orders:v1",), "web:2": (f"{HOST}/orders:v2",)})
    assert rollback_targets(state) == {("prod", "web"): ["web:1"]}


def test_rollback_target_is_other_than_the_primary_deployments_revision():
    """As roll_back_to_previous: "current" is the PRIMARY deployment's task definition (a
    rollback in progress makes the older one PRIMARY while the service row still names the newer)."""
    state = DeployState(
        services=(("prod", "web", "web:3"),),
        deployments=(DeploymentRow("ecs", "d1", "prod", "web", "web:1", "INACTIVE", "COMPLETED", 1),
                     DeploymentRow("ecs", "d2", "prod", "web", "web:2", "ACTIVE", "COMPLETED", 2),
                     DeploymentRow("ecs", "d3", "prod", "web", "web:3", "PRIMARY", "COMPLETED", 3)))
    assert rollback_targets(state) == {("prod", "web"): ["web:2"]}
    state = DeployState(services=state.services, deployments=state.deployments[:2] + (
        DeploymentRow("ecs", "d4", "prod", "web", "web:2", "PRIMARY", "IN_PROGRESS", 4),))
    assert rollback_targets(state) == {("prod", "web"): ["web:1"]}


def test_live_task_of_an_old_revision_is_protected():
    state = DeployState(live_tasks=(("prod", "web", "web:1"),), taskdefs={"web:1": (f"{HOST}/orders:v1",)})
    assert protected_images(state, tags_of, now=0) == {
        ("orders", "sha256:a1"): ["a live task of prod/web runs task definition web:1"]}


def test_recent_push_is_kept_within_the_grace_window_only():
    recent = [("orders", "sha256:new", 5000.0), ("orders", "sha256:old", 1000.0), ("orders", "sha256:edge", 2000.0)]
    kept = protected_images(DeployState(), tags_of, recent, now=5600.0, grace=3600)  # edge: exactly 3600 s
    assert kept == {("orders", "sha256:new"): ["pushed 10 min ago, within the 60 min grace for deploys to start"]}


def test_read_deploy_state_from_the_stores(tmp_path):
    from conveyor.providers.local.ecs.store import EcsStore

    EcsStore(tmp_path / "services.db").close()  # the real schema
    db = sqlite3.connect(tmp_path / "services.db")
    db.execute("INSERT INTO taskdefs (family, revision, body, registered_at) VALUES ('web', 1, ?, 0)",
               ('{"family": "web", "containerDefinitions": [{"name": "app", "image": "%s/orders:v1"}]}' % HOST,))
    db.execute("INSERT INTO services (environment, name, spec, taskdef, desired_count, status, created_at, updated_at)"
               " VALUES ('prod', 'web', '{}', 'web:1', 1, 'ACTIVE', 0, 0)")
    db.commit()
    db.close()
    state = read_deploy_state(tmp_path)
    assert state.services == (("prod", "web", "web:1"),)
    assert state.taskdefs == {"web:1": (f"{HOST}/orders:v1",)}
    assert state.deployments == ()


def test_missing_stores_are_empty_and_unreadable_ones_fail_closed(tmp_path):
    assert read_deploy_state(tmp_path) == DeployState()
    (tmp_path / "services.db").write_text("not a database at all, but long enough to be read as one" * 20)
    with pytest.raises(DeployStateUnreadable, match="nothing was expired"):
        read_deploy_state(tmp_path)
