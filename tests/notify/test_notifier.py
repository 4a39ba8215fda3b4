"""The notifier running: the real event stream (events.db), the real webhook target and the local
receiver over HTTP on 127.0.0.1, the delivery store; and the API and CLI in front of it."""

from __future__ import annotations

import random
import threading

import pytest

from conveyor.config.notification_targets import TargetDef
from conveyor.events.stream import EventLog
from conveyor.events.types import Event, Subject
from conveyor.notify.backoff import RetryPolicy
from conveyor.notify.notifier import Notifier
from conveyor.notify.receiver import DELIVERY_HEADER, Receiver
from conveyor.notify.rules import RuleBook
from conveyor.notify.store import DeliveryStore
from conveyor.notify.targets import build_target

SECRET = "whsec-notifier-test-0123456789"
FAST = RetryPolicy(base=0.01, cap=0.05, max_attempts=4)  # retries within the test's patience


def definition(url: str) -> dict:
    return {"name": "orders", "environments": {"production": {"services": {"web": {}}}},
            "notifications": [
                {"name": "ops", "events": ["pipeline-execution-failed", "deployment-*"], "detailType": "BASIC",
                 "targets": [{"webhook": {"url": url, "secret": "hooks/ops"}}]}]}


@pytest.fixture
def receiver():
    with Receiver(SECRET) as rx:
        yield rx


@pytest.fixture
def running(tmp_path, receiver):
    events = EventLog(tmp_path / "events.db")
    book = RuleBook(lambda: [("orders", definition(receiver.url))], lambda name: definition(receiver.url))
    secrets = {"hooks/ops": SECRET}.__getitem__

    def build(target: TargetDef, allow_host: bool):
        return build_target(target, secrets, allow_host_commands=allow_host)

    notifier = Notifier(DeliveryStore(tmp_path / "notifications.db"), events, book, build, policy=FAST,
                        rng=random.Random(5), mask=lambda s: s.replace(SECRET, "***"))
    notifier.start()
    yield notifier, events
    notifier.stop()
    events.close()


def until(check, tries: int = 400):
    """Poll `check` until it holds (a liveness bound for work on other threads, not a timing claim)."""
    for _ in range(tries):
        value = check()
        if value:
            return value
        threading.Event().wait(0.025)
    raise AssertionError("never happened")


def publish(events: EventLog, *items: tuple[str, Subject]) -> list[Event]:
    start = events.cursor("pipeline")
    return events.take("pipeline", [(start + i + 1, Event(t, 1.0, s, {"secret": "x"}, f"{t} #{i}"))
                                    for i, (t, s) in enumerate(items)])


def test_events_reach_the_receiver_signed_with_the_delivery_id(running, receiver):
    notifier, events = running
    published = publish(events, ("pipeline-execution-failed", Subject(pipeline="orders", execution_id="1a2b")),
                        ("pipeline-execution-succeeded", Subject(pipeline="orders", execution_id="1a2b")),
                        ("deployment-rolled-back", Subject(environment="production", service="web")))
    got = sorted(receiver.wait_for(2), key=lambda r: r.json()["seq"])  # sent in parallel: in any order
    assert [r.json()["type"] for r in got] == ["pipeline-execution-failed", "deployment-rolled-back"]
    assert all(r.verified for r in got)
    body = got[0].json()
    assert body["id"] == published[0].id and "detail" not in body  # BASIC
    assert body["links"] == {"cli": "conveyor status 1a2b"}
    rows = {d["eventType"]: d for d in notifier.deliveries()}
    assert got[0].header(DELIVERY_HEADER) == body["deliveryId"] == rows["pipeline-execution-failed"]["id"]
    assert got[1].json()["links"] == {"cli": "conveyor deploy status production web"}


def test_a_failing_receiver_gets_the_delivery_on_a_retry_and_once(running, receiver):
    notifier, events = running
    receiver.fail_next(2, status=503)
    publish(events, ("pipeline-execution-failed", Subject(pipeline="orders", execution_id="1a2b")))
    (got,) = receiver.wait_for(1)
    (row,) = until(lambda: [d for d in notifier.deliveries() if d["status"] == "delivered"])
    assert receiver.attempts[got.delivery_id] == 3 and receiver.accepted[got.delivery_id] == 1
    detail = notifier.delivery(row["id"][:10])
    assert [a["outcome"] for a in detail["attempts"]] == ["failed", "failed", "delivered"]
    assert "503" in detail["attempts"][0]["message"]


def test_a_receiver_that_refuses_for_good_dead_letters_and_redeliver_sends_again(running, receiver):
    notifier, events = running
    receiver.fail_next(1, status=410)
    publish(events, ("pipeline-execution-failed", Subject(pipeline="orders", execution_id="1a2b")))
    (dead,) = until(lambda: [d for d in notifier.deliveries(failed=True) if d["status"] == "dead"])
    assert "410" in dead["lastError"] and dead["attempts"] == 1
    notifier.redeliver(dead["id"])
    (got,) = receiver.wait_for(1)
    assert got.delivery_id == dead["id"]


def test_notify_test_sends_a_synthetic_event_and_reports_each_target(running, receiver):
    notifier, _ = running
    answer = notifier.test("ops")
    assert answer["pipeline"] == "orders" and answer["event"]["type"] == "pipeline-execution-failed"
    assert [(r["kind"], r["ok"]) for r in answer["results"]] == [("webhook", True)]
    (got,) = receiver.wait_for(1)
    assert got.verified and got.json()["summary"].startswith("Test notification for rule ops")
    assert notifier.deliveries() == []  # a test is not a delivery
    receiver.fail_next(1, status=500)
    (result,) = notifier.test("orders/ops")["results"]
    assert (result["ok"], result["retryable"]) == (False, True) and "500" in result["error"]
