"""Sending: retries on the back-off schedule (fake clock, seeded random), dead letters, redelivery,
a send cut short by a crash sent again after restart, and a slow target holding up no other."""

from __future__ import annotations

import random
import threading

import pytest
from notify_support import FakeClock, FakeLog, Recorder, book, builder, retryable

from conveyor.notify.backoff import RetryPolicy
from conveyor.notify.deliverer import Deliverer
from conveyor.notify.dispatcher import Dispatcher
from conveyor.notify.store import DEAD, DELIVERED, PENDING, DeliveryStore
from conveyor.notify.target import DeliveryError


@pytest.fixture
def store(tmp_path):
    s = DeliveryStore(tmp_path / "notifications.db")
    yield s
    s.close()


def one_delivery(store: DeliveryStore, clock: FakeClock, event_type: str = "pipeline-execution-succeeded"):
    """Dispatch one event to the single rule `errors`-less definition: one webhook target."""
    target = {"webhook": {"url": "http://a", "secret": "hook"}}
    definition = {"name": "orders", "notifications": [{"name": "all", "events": ["*"], "targets": [target]}]}
    log = FakeLog()
    log.append(event_type, pipeline="orders", execution_id="1a2b", stage="Approve", action="Approve")
    Dispatcher(log, store, book(definition), clock=clock).pump()
    (delivery,) = store.due(clock())
    return delivery


def test_the_back_off_ceiling_doubles_up_to_its_cap_and_the_wait_is_full_jitter():
    policy = RetryPolicy(base=2.0, cap=60.0, max_attempts=10)
    assert [policy.ceiling(n) for n in range(1, 8)] == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    rng = random.Random(3)
    waits = [policy.delay(4, rng) for _ in range(200)]
    assert all(0.0 <= w <= 16.0 for w in waits)
    assert min(waits) < 4.0 and max(waits) > 12.0  # spread over the whole range, not bunched at the top


def test_a_failing_target_is_retried_on_the_schedule_then_delivered_with_every_attempt_recorded(store):
    clock = FakeClock()
    recorders = {"http://a": Recorder()}
    recorders["http://a"].fail = [retryable("HTTP 503"), retryable("timed out after 10 s")]
    policy = RetryPolicy(base=2.0, cap=60.0)
    rng, expected_rng = random.Random(11), random.Random(11)
    deliverer = Deliverer(store, builder(recorders), policy=policy, clock=clock, rng=rng)
    delivery = one_delivery(store, clock)
    assert deliverer.attempt(delivery) == PENDING
    first_wait = expected_rng.uniform(0, 2.0)
    assert store.get(delivery.id).next_attempt_at == pytest.approx(clock.now + first_wait)
    assert store.due(clock()) == []  # not before its time
    clock.now += first_wait
    (again,) = store.due(clock())
    assert deliverer.attempt(again) == PENDING
    second_wait = expected_rng.uniform(0, 4.0)
    assert store.get(delivery.id).next_attempt_at == pytest.approx(clock.now + second_wait)
    clock.now += second_wait
    assert deliverer.attempt(store.due(clock())[0]) == DELIVERED
    final = store.get(delivery.id)
    assert (final.status, final.attempts, final.receipt) == (DELIVERED, 3, f"HTTP 200 {delivery.id}")
    assert [(a["n"], a["outcome"], a["message"]) for a in store.attempts(delivery.id)] == [
        (1, "failed", "HTTP 503"), (2, "failed", "timed out after 10 s"), (3, "delivered", f"HTTP 200 {delivery.id}")]
    (message,) = recorders["http://a"].sent
    assert (message.delivery_id, message.attempt, message.rule) == (delivery.id, 3, "all")


def test_links_say_how_to_act_on_an_approval(store):
    clock = FakeClock()
    recorders: dict = {}
    delivery = one_delivery(store, clock, "manual-approval-needed")
    Deliverer(store, builder(recorders), clock=clock).attempt(delivery)
    (message,) = recorders["http://a"].sent
    assert dict(message.links) == {"cli": "conveyor status 1a2b",
                                   "approve": "conveyor approve 1a2b --stage Approve --action Approve",
                                   "reject": "conveyor reject 1a2b --stage Approve --action Approve"}


def test_with_the_daemons_url_a_message_links_to_the_dashboard_page_without_credentials(store):
    clock = FakeClock()
    recorders: dict = {}
    delivery = one_delivery(store, clock, "manual-approval-needed")
    deliverer = Deliverer(store, builder(recorders), clock=clock)
    deliverer.dashboard = "http://127.0.0.1:7878"
    deliverer.attempt(delivery)
    (message,) = recorders["http://a"].sent
    assert message.links["dashboard"] == "http://127.0.0.1:7878/ui/executions/1a2b"
    assert message.links["cli"] == "conveyor status 1a2b"


def test_a_permanent_error_dead_letters_at_once_and_redeliver_sends_it_again(store):
    clock = FakeClock()
    recorders = {"http://a": Recorder()}
    recorders["http://a"].fail = [DeliveryError("HTTP 404 Not Found", retry=False)]
    deliverer = Deliverer(store, builder(recorders), clock=clock)
    delivery = one_delivery(store, clock)
    assert deliverer.attempt(delivery) == DEAD
    assert store.get(delivery.id).last_error == "HTTP 404 Not Found"
    assert [d.id for d in store.recent(failed=True)] == [delivery.id]
    store.redeliver(delivery.id, clock())
    assert deliverer.attempt(store.due(clock())[0]) == DELIVERED
    assert store.recent(failed=True) == []
    assert [a["outcome"] for a in store.attempts(delivery.id)] == ["dead", "delivered"]


def test_the_policy_gives_up_after_max_attempts_and_redeliver_gives_a_fresh_budget(store):
    clock = FakeClock()
    recorders = {"http://a": Recorder()}
    recorders["http://a"].fail = [retryable() for _ in range(5)]
    deliverer = Deliverer(store, builder(recorders), policy=RetryPolicy(max_attempts=3), clock=clock,
                          rng=random.Random(1))
    delivery = one_delivery(store, clock)
    outcomes = []
    for _ in range(3):
        clock.now += 1000
        outcomes.append(deliverer.attempt(store.due(clock())[0]))
    assert outcomes == [PENDING, PENDING, DEAD]
    assert store.get(delivery.id).last_error == "HTTP 503 (gave up after 3 attempts)"
    store.redeliver(delivery.id, clock())
    assert deliverer.attempt(store.due(clock())[0]) == PENDING  # attempt 4 is the first of the new budget
    assert store.get(delivery.id).attempts == 4


def test_the_policy_gives_up_once_a_delivery_is_too_old(store):
    clock = FakeClock()
    recorders = {"http://a": Recorder()}
    recorders["http://a"].fail = [retryable()]
    deliverer = Deliverer(store, builder(recorders), policy=RetryPolicy(max_age=3600), clock=clock)
    delivery = one_delivery(store, clock)
    clock.now += 3600
    assert deliverer.attempt(delivery) == DEAD


def test_a_send_in_flight_when_the_daemon_dies_is_sent_again_after_restart(tmp_path):
    clock = FakeClock()
    store = DeliveryStore(tmp_path / "notifications.db")
    delivery = one_delivery(store, clock)
    store.begin_attempt(delivery.id, clock())  # ... and the process is killed during the send
    store.close()
    clock.now += 5
    store = DeliveryStore(tmp_path / "notifications.db")
    assert store.recover(clock()) == 1
    recorders: dict = {}
    (again,) = store.due(clock())
    assert Deliverer(store, builder(recorders), clock=clock).attempt(again) == DELIVERED
    assert [(a["n"], a["outcome"]) for a in store.attempts(delivery.id)] == [(1, "interrupted"), (2, "delivered")]
    assert [m.delivery_id for m in recorders["http://a"].sent] == [delivery.id]  # same id: the receiver dedupes
    store.close()


def test_secrets_in_errors_and_receipts_are_masked_before_they_are_stored(store):
    clock = FakeClock()
    recorders = {"http://a": Recorder()}
    recorders["http://a"].fail = [retryable("HTTP 401 for token s3cr3t-value")]
    deliverer = Deliverer(store, builder(recorders), clock=clock, mask=lambda s: s.replace("s3cr3t-value", "***"))
    delivery = one_delivery(store, clock)
    deliverer.attempt(delivery)
    assert store.get(delivery.id).last_error == "HTTP 401 for token ***"
    assert store.attempts(delivery.id)[0]["message"] == "HTTP 401 for token ***"


def test_a_slow_target_holds_up_no_other(store):
    """The slow target takes its `per_target` slots and no more; the fast one gets all of its
    deliveries sent while the slow one is stuck."""
    clock = FakeClock()
    definition = {"name": "orders", "notifications": [
        {"name": "slow", "events": ["*"], "targets": [{"webhook": {"url": "http://slow", "secret": "hook"}}]},
        {"name": "fast", "events": ["*"], "targets": [{"webhook": {"url": "http://fast", "secret": "hook"}}]}]}
    log = FakeLog()
    for i in range(5):
        log.append("pipeline-execution-succeeded", pipeline="orders", execution_id=f"e{i}")
    Dispatcher(log, store, book(definition), clock=clock).pump()
    recorders = {"http://slow": Recorder(), "http://fast": Recorder()}
    recorders["http://slow"].gate = threading.Event()
    done = threading.Semaphore(0)
    deliverer = Deliverer(store, builder(recorders), clock=clock, per_target=2, max_threads=16,
                          on_done=done.release)
    started = deliverer.pump()
    assert started == 4  # 2 of each; the rest wait in the store, due
    for _ in range(5):  # as the notifier's loop does: each finished send wakes a pump
        assert done.acquire(timeout=10)
        started += deliverer.pump()
    assert started == 7  # every fast one, and still only 2 slow ones
    assert len(recorders["http://fast"].sent) == 5 and recorders["http://slow"].sent == []
    assert deliverer.in_flight() == 2 and deliverer.pump() == 0
    recorders["http://slow"].gate.set()
    for _ in range(5):
        assert done.acquire(timeout=10)
        started += deliverer.pump()
    assert started == 10
    assert len(recorders["http://slow"].sent) == 5
    assert store.counts() == {"pending": 0, "delivered": 10, "dead": 0}


def test_one_targets_backlog_does_not_starve_another(store):
    """Twenty deliveries to a stuck target queued before one to another: the other still goes in
    the same pass, however small the batch."""
    clock = FakeClock()
    slow = {"name": "orders", "notifications": [
        {"name": "slow", "events": ["pipeline-execution-succeeded"],
         "targets": [{"webhook": {"url": "http://slow", "secret": "hook"}}]},
        {"name": "fast", "events": ["pipeline-execution-failed"],
         "targets": [{"webhook": {"url": "http://fast", "secret": "hook"}}]}]}
    log = FakeLog()
    for i in range(20):
        log.append("pipeline-execution-succeeded", pipeline="orders", execution_id=f"e{i}")
    log.append("pipeline-execution-failed", pipeline="orders", execution_id="last")
    Dispatcher(log, store, book(slow), clock=clock).pump()
    recorders = {"http://slow": Recorder(), "http://fast": Recorder()}
    recorders["http://slow"].gate = threading.Event()
    done = threading.Semaphore(0)
    deliverer = Deliverer(store, builder(recorders), clock=clock, per_target=2, max_threads=3, on_done=done.release)
    assert deliverer.pump() == 3
    assert done.acquire(timeout=10)
    assert [m.event.subject.execution_id for m in recorders["http://fast"].sent] == ["last"]
    recorders["http://slow"].gate.set()
    deliverer.join(10)
