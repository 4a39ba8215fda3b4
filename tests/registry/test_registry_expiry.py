"""Applying lifecycle policies (pure parts and the store): the plan names the rule and the
evaluator's explanation, protected images are reported not expired, an image index's children
wait for the index, deletes are recorded as ECR-style DELETE image actions, and a whole
housekeeping run with a fake clock, a fake registry backend and fixture deploy state."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from conveyor.registry.expiry import apply_plan, plan_repository
from conveyor.registry.gc import WriteGate
from conveyor.registry.housekeeping import Housekeeping, Settings, settings_from_env, summary
from conveyor.registry.protection import DeployState
from conveyor.registry.repositories import RepositoryStore

DAY = 86400.0
HOST = "000000000000.dkr.ecr.us-east-1.localhost:5000"
KEEP_TWO = {"rules": [{"rulePriority": 1, "description": "keep two", "selection": {
    "tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 2}, "action": {"type": "expire"}}]}


def store_with(tmp_path: Path, n: int, policy=KEEP_TWO) -> RepositoryStore:
    store = RepositoryStore(tmp_path / "registry.db", clock=lambda: 0.0)
    store.declare("orders", "MUTABLE", (), policy)
    for i in range(1, n + 1):
        store.record_push("orders", f"v{i}", f"sha256:{i:064x}", size=1000 * i, at=i * DAY)
    return store


def digest(i: int) -> str:
    return f"sha256:{i:064x}"


def test_plan_expires_beyond_the_count_with_rule_and_explanation(tmp_path):
    store = store_with(tmp_path, 4)
    plan = plan_repository(store.get("orders"), store.images("orders"), {}, now=10 * DAY)
    assert [d.digest for d in plan.expire] == [digest(1), digest(2)]
    first = plan.expire[0]
    assert (first.rule_priority, first.description, first.tags) == (1, "keep two", ("v1",))
    assert first.explanation == ('expired by rule 1 "keep two" (any, imageCountMoreThan 2): '
                                 "4th newest of 4 selected, beyond the 2 kept")
    assert plan.kept == 2 and plan.protected == []


def test_protected_image_is_reported_not_expired(tmp_path):
    store = store_with(tmp_path, 4)
    why = ["in use by staging/orders-service task definition orders-service:7"]
    plan = plan_repository(store.get("orders"), store.images("orders"), {("orders", digest(1)): why}, now=10 * DAY)
    assert [d.digest for d in plan.expire] == [digest(2)]
    assert [(d.digest, d.reasons) for d in plan.protected] == [(digest(1), tuple(why))]
    assert plan.to_json()["protected"][0]["protectedBecause"] == why


def test_index_children_wait_for_their_index(tmp_path):
    untagged = {"rules": [{"rulePriority": 1, "action": {"type": "expire"}, "selection": {
        "tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 1}}]}
    store = store_with(tmp_path, 1, untagged)
    store.record_push("orders", None, digest(7), at=2 * DAY)  # a platform manifest, pushed by digest
    store.record_push("orders", None, digest(8), at=3 * DAY)  # a loose untagged one
    plan = plan_repository(store.get("orders"), store.images("orders"), {}, now=10 * DAY,
                           children={digest(1): [digest(7)]})
    assert [d.digest for d in plan.expire] == [digest(8)]


def test_no_policy_keeps_everything(tmp_path):
    store = store_with(tmp_path, 3, None)
    plan = plan_repository(store.get("orders"), store.images("orders"), {}, now=10 * DAY)
    assert (plan.policy, plan.expire, plan.kept) == (False, [], 3)


def test_apply_deletes_and_records_ecr_style_actions(tmp_path):
    store = store_with(tmp_path, 3)
    deleted = []

    def delete(name, d):
        deleted.append((name, d))
        return True

    plan = apply_plan(plan_repository(store.get("orders"), store.images("orders"), {}, now=10 * DAY), store, delete)
    assert deleted == [("orders", digest(1))] and plan.deleted == [digest(1)]
    assert [i.digest for i in store.images("orders")] == [digest(3), digest(2)]
    action = store.actions("orders")[-1]
    assert (action["action_type"], action["result"], action["digest"]) == ("DELETE", "SUCCESS", digest(1))
    assert action["message"].startswith("lifecycle policy rule 1: expired by rule 1")


def test_a_failed_delete_keeps_the_image_and_records_a_failure(tmp_path):
    from conveyor.errors import ConveyorError

    store = store_with(tmp_path, 3)

    def delete(name, d):
        raise ConveyorError("HTTP 405 UNSUPPORTED")

    plan = apply_plan(plan_repository(store.get("orders"), store.images("orders"), {}, now=10 * DAY), store, delete)
    assert plan.deleted == [] and "HTTP 405" in plan.errors[0]
    assert len(store.images("orders")) == 3
    assert store.actions("orders")[-1]["result"] == "FAILURE"


class FakeBackend:
    def __init__(self):
        self.deleted = []

    def delete_manifest(self, name, d):
        self.deleted.append(d)
        return True

    def request(self, *a, **k):
        return 404, {}, b""


def fake_registry(tmp_path, store):
    data = tmp_path / "registry" / "data"
    (data / "docker/registry/v2/blobs").mkdir(parents=True)
    (data / "docker/registry/v2/blobs/blob").write_bytes(b"x" * 8192)
    return SimpleNamespace(store=store, proxy=SimpleNamespace(gate=WriteGate()),
                           service=SimpleNamespace(data_dir=data, config_path=tmp_path / "config.yml",
                                                   binary="/nonexistent/docker-registry"))


def test_housekeeping_dry_run_changes_nothing_and_says_why(tmp_path):
    store = store_with(tmp_path, 4)
    store.backend = FakeBackend()
    state = DeployState(services=(("staging", "orders-service", "orders-service:7"),),
                        taskdefs={"orders-service:7": (f"{HOST}/orders:v1",)})
    hk = Housekeeping(fake_registry(tmp_path, store), tmp_path, Settings(grace=0), clock=lambda: 10 * DAY,
                      engine=None, deploy_state=lambda: state, caches=lambda dry_run: {"dryRun": dry_run})
    result = hk.run(dry_run=True)
    assert result["buildCache"] == {"dryRun": True}  # the cache bound is asked for a dry run too
    repo = result["repositories"][0]
    assert [d["imageDigest"] for d in repo["expire"]] == [digest(2)]
    assert repo["protected"][0]["protectedBecause"] == [
        "in use by staging/orders-service task definition orders-service:7"]
    assert result["garbageCollection"]["skipped"] == "dry run"
    assert store.backend.deleted == [] and len(store.images("orders")) == 4
    assert summary(result).startswith("1 image(s) would expire, 1 protected")


def test_housekeeping_applies_and_reports_a_gc_failure_without_raising(tmp_path):
    store = store_with(tmp_path, 4)
    store.backend = FakeBackend()
    hk = Housekeeping(fake_registry(tmp_path, store), tmp_path, Settings(grace=0), clock=lambda: 10 * DAY,
                      engine=None, deploy_state=DeployState)
    result = hk.run()
    assert store.backend.deleted == [digest(1), digest(2)]
    assert result["repositories"][0]["deleted"] == [digest(1), digest(2)]
    gc = result["garbageCollection"]
    assert gc["ran"] is False and gc["error"]  # the binary does not exist: reported, not raised


def test_unreadable_deploy_state_expires_nothing(tmp_path):
    from conveyor.registry.protection import DeployStateUnreadable

    store = store_with(tmp_path, 4)
    store.backend = FakeBackend()

    def broken():
        raise DeployStateUnreadable("cannot read")

    result = Housekeeping(fake_registry(tmp_path, store), tmp_path, Settings(grace=0), clock=lambda: 10 * DAY,
                          engine=None, deploy_state=broken).run()
    assert result["errors"] == ["cannot read"] and result["repositories"] == []
    assert store.backend.deleted == []


def test_settings_from_env():
    s = settings_from_env({"CONVEYOR_LIFECYCLE_INTERVAL": "600", "CONVEYOR_BUILD_CACHE_MAX": "512M",
                           "CONVEYOR_KEEP_LOCAL_IMAGES": "5"})
    assert (s.interval, s.cache_max, s.keep_local, s.grace) == (600.0, 512 * 1024 ** 2, 5, 3600.0)
    import pytest

    from conveyor.errors import UserError

    with pytest.raises(UserError, match="CONVEYOR_LIFECYCLE_INTERVAL='soon': not a number"):
        settings_from_env({"CONVEYOR_LIFECYCLE_INTERVAL": "soon"})
    with pytest.raises(UserError, match="CONVEYOR_BUILD_CACHE_MAX: '2 lots' is not a size"):
        settings_from_env({"CONVEYOR_BUILD_CACHE_MAX": "2 lots"})
