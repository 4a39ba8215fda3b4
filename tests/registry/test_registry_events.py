"""The local registry's pushes and deletes as stream events: written to registry.db's outbox in
the transaction that records the action (none without the change, no change without it), with
ECR's "ECR Image Action" fields; a push by digest alone and a client's retries of one refused
push add no event; a pipeline's rules take the image events of the repositories it declares."""

from __future__ import annotations

import sqlite3

import pytest

from conveyor.events import outbox as outbox_module
from conveyor.events.outbox import read_outbox
from conveyor.events.types import Event, Subject
from conveyor.notify.rules import PipelineRules
from conveyor.registry.expiry import apply_plan, plan_repository
from conveyor.registry.repositories import RETRY_WINDOW, RepositoryStore

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
REFUSED = "The image tag 'v1' already exists in the 'orders' repository and cannot be overwritten"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path, clock) -> RepositoryStore:
    return RepositoryStore(tmp_path / "registry.db", clock=clock)


def outbox(store: RepositoryStore) -> list[Event]:
    with sqlite3.connect(store.path) as db:  # another connection, as the daemon's relay reads it
        return [event for _, event in read_outbox(db, 0)]


def test_a_tagged_push_is_an_image_pushed_event_with_ecrs_fields(store):
    woken = []
    store.outbox.on_events = lambda: woken.append(True)
    store.record_push("orders", "v1", DIGEST, size=10, at=5.0)
    [event] = outbox(store)
    assert (event.type, event.at, event.subject) == ("image-pushed", 5.0, Subject(repository="orders"))
    assert event.detail == {"action-type": "PUSH", "result": "SUCCESS", "repository-name": "orders",
                            "image-digest": DIGEST, "image-tag": "v1"}
    assert event.summary == "orders:v1 pushed (sha256:ababababab)"
    assert event.severity == "info" and woken == [True]


def test_a_push_by_digest_alone_is_history_only(store):
    store.record_push("orders", None, OTHER)        # a platform manifest before its tagged index
    store.record_push("orders", "v1", DIGEST)
    assert [e.detail["image-digest"] for e in outbox(store)] == [DIGEST]
    assert [a["digest"] for a in store.actions("orders")] == [OTHER, DIGEST]


def test_a_refusal_retried_by_the_client_is_one_event(store, clock):
    for _ in range(4):                               # podman tries four manifest formats
        store.record_rejection("orders", "v1", DIGEST, REFUSED)
    clock.now += RETRY_WINDOW                         # the same push again, later: a new refusal
    store.record_rejection("orders", "v1", DIGEST, REFUSED)
    store.record_rejection("orders", "v2", DIGEST, REFUSED.replace("v1", "v2"))
    events = outbox(store)
    assert [(e.type, e.detail["image-tag"]) for e in events] == [
        ("image-push-failed", "v1"), ("image-push-failed", "v1"), ("image-push-failed", "v2")]
    assert events[0].severity == "warning"
    assert events[0].summary == f"orders:v1 push refused (sha256:ababababab): {REFUSED}"
    assert len(store.actions("orders")) == 6         # the history keeps every attempt


def test_lifecycle_deletes_and_failed_deletes_are_events_with_the_reason(store):
    policy = {"rules": [{"rulePriority": 1, "description": "keep one", "action": {"type": "expire"},
                         "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1}}]}
    store.declare("orders", "MUTABLE", (), policy)
    store.record_push("orders", "v1", DIGEST, at=1.0)
    store.record_push("orders", "v2", OTHER, at=2.0)
    plan = plan_repository(store.get("orders"), store.images("orders"), {}, now=10.0)
    apply_plan(plan, store, lambda name, digest: True)
    store.record_delete_failure("orders", OTHER, "HTTP 405 UNSUPPORTED")
    deleted, failed = outbox(store)[2:]
    assert (deleted.type, deleted.detail["image-digest"]) == ("image-deleted", DIGEST)
    assert deleted.detail["message"].startswith("lifecycle policy rule 1: expired by rule 1")
    assert deleted.summary.startswith("orders@sha256:ababababab deleted: lifecycle policy rule 1")
    assert (failed.type, failed.severity, failed.detail["message"]) == ("image-delete-failed", "warning",
                                                                        "HTTP 405 UNSUPPORTED")


def test_no_event_without_its_change_and_no_change_without_its_event(store, monkeypatch):
    def broken(db, events):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(outbox_module, "write_events", broken)
    with pytest.raises(sqlite3.OperationalError):
        store.record_push("orders", "v1", DIGEST)
    with pytest.raises(sqlite3.OperationalError):
        store.forget_image("orders", DIGEST, "by hand")
    assert store.repositories() == [] and store.actions() == []   # rolled back together
    monkeypatch.undo()
    store.record_push("orders", "v1", DIGEST)
    assert [e.type for e in outbox(store)] == ["image-pushed"]


@pytest.mark.parametrize("declared", [{"orders": {"imageTagMutability": "IMMUTABLE"}}, ["orders"],
                                      [{"name": "orders", "imageTagMutability": "IMMUTABLE"}]])
def test_a_pipeline_owns_the_image_events_of_the_repositories_it_declares(declared):
    rules = PipelineRules.from_definition("shop", {"name": "shop", "repositories": declared,
                                                   "environments": {"production": {}}})
    assert rules.owns(Event("image-pushed", 1.0, Subject(repository="orders")))
    assert not rules.owns(Event("image-pushed", 1.0, Subject(repository="scratch")))
    assert rules.owns(Event("deployment-started", 1.0, Subject(environment="production")))  # as before
    bare = PipelineRules.from_definition("other", {"name": "other"})
    assert not bare.owns(Event("image-deleted", 1.0, Subject(repository="orders")))
