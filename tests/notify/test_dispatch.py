"""The dispatcher: which rules an event goes to, and deliveries created with the cursor in one
transaction (a crash can neither lose a delivery nor create one twice)."""

from __future__ import annotations

import sqlite3

import pytest
from notify_support import DEFINITION, FakeClock, FakeLog, book

from conveyor.events.types import Event, Subject
from conveyor.notify.dispatcher import Dispatcher
from conveyor.notify.rules import PipelineRules, matches
from conveyor.notify.store import DeliveryStore, delivery_id


@pytest.fixture
def store(tmp_path):
    s = DeliveryStore(tmp_path / "notifications.db")
    yield s
    s.close()


def targets(store: DeliveryStore) -> list[tuple[str, str, int]]:
    return sorted((d.event.type, d.rule, d.target_index) for d in store.recent(limit=1000))


def test_rules_take_their_pipelines_events_and_their_environments_deployments(store):
    log = FakeLog()
    log.append("pipeline-execution-failed", pipeline="orders", execution_id="e1")      # prod: 2, errors: 1
    log.append("pipeline-execution-failed", pipeline="billing", execution_id="e2")     # another pipeline's
    log.append("deployment-succeeded", environment="production", service="web")       # prod: 2 (info < error)
    log.append("deployment-failed", environment="staging", service="web")             # errors only
    log.append("deployment-failed", environment="production", service="other")        # a service not ours
    log.append("manual-approval-needed", pipeline="orders", execution_id="e1", stage="Deploy")  # prod: 2
    log.append("stage-execution-succeeded", pipeline="orders", execution_id="e1", stage="Deploy")  # none
    dispatcher = Dispatcher(log, store, book(), clock=FakeClock())
    assert dispatcher.pump() == 8
    assert targets(store) == [
        ("deployment-failed", "errors", 0),
        ("deployment-succeeded", "prod", 0), ("deployment-succeeded", "prod", 1),
        ("manual-approval-needed", "prod", 0), ("manual-approval-needed", "prod", 1),
        ("pipeline-execution-failed", "errors", 0),
        ("pipeline-execution-failed", "prod", 0), ("pipeline-execution-failed", "prod", 1)]
    assert store.cursor() == 7
    assert dispatcher.pump() == 0


def test_a_filter_narrows_only_events_that_name_its_field():
    (prod, _) = PipelineRules.from_definition("orders", DEFINITION).rules
    failed = Event("pipeline-execution-failed", 0, Subject(pipeline="orders"))
    staging = Event("deployment-failed", 0, Subject(pipeline="orders", environment="staging", service="web"))
    production = Event("deployment-failed", 0, Subject(environment="production", service="web"))
    assert matches(prod, failed) and matches(prod, production) and not matches(prod, staging)


def test_the_rules_are_reloaded_when_an_execution_of_the_pipeline_starts(store):
    definition = {**DEFINITION, "notifications": [{"name": "one", "events": ["pipeline-execution-succeeded"],
                                                   "targets": [{"webhook": {"url": "http://a", "secret": "hook"}}]}]}
    current = {"def": definition}
    rules = book(definition)
    rules._load_one = lambda name: current["def"]  # what the executions table says now
    log = FakeLog()
    dispatcher = Dispatcher(log, store, rules, clock=FakeClock())
    log.append("pipeline-execution-succeeded", pipeline="orders", execution_id="e1")
    assert dispatcher.pump() == 1
    current["def"] = {**definition, "notifications": []}  # the protected branch dropped the rule
    log.append("pipeline-execution-started", pipeline="orders", execution_id="e2")
    log.append("pipeline-execution-succeeded", pipeline="orders", execution_id="e2")
    assert dispatcher.pump() == 0


def test_deliveries_and_the_cursor_commit_together(store, monkeypatch):
    """A failure while recording a batch leaves neither its deliveries nor its cursor; the next
    pump records the batch exactly once."""
    log = FakeLog()
    for i in range(3):
        log.append("pipeline-execution-failed", pipeline="orders", execution_id=f"e{i}")
    dispatcher = Dispatcher(log, store, book(), clock=FakeClock())
    real = store._db

    class Crashing:
        def execute(self, sql, *args):
            if sql.startswith("INSERT INTO cursors"):
                raise sqlite3.OperationalError("disk I/O error (simulated crash before commit)")
            return real.execute(sql, *args)

    store._db = Crashing()
    with pytest.raises(sqlite3.OperationalError):
        dispatcher.pump()
    store._db = real
    assert store.recent(limit=100) == [] and store.cursor() == 0
    assert dispatcher.pump() == 9
    store.enqueue(dispatcher.deliveries(log.events), cursor=3, now=0)  # a repeat (cursor lost) adds nothing
    assert len(store.recent(limit=100)) == 9


def test_delivery_ids_are_stable_and_distinct():
    assert delivery_id("pipeline-1", "orders", "prod", 0) == delivery_id("pipeline-1", "orders", "prod", 0)
    assert len({delivery_id("pipeline-1", "orders", "prod", i) for i in range(3)}
               | {delivery_id("pipeline-2", "orders", "prod", 0)}) == 4


def test_a_new_notifier_starts_at_the_end_of_the_stream_and_keeps_its_cursor_after(tmp_path):
    """An installation's history is not sent out the first time it runs a notifier; after that,
    the cursor is the store's, events written while it was down included."""
    from notify_support import Recorder, builder

    from conveyor.notify.notifier import Notifier

    log = FakeLog()
    log.append("pipeline-execution-failed", pipeline="orders", execution_id="old")
    recorders: dict[str, Recorder] = {}

    def notifier() -> Notifier:
        return Notifier(DeliveryStore(tmp_path / "notifications.db"), log, book(), builder(recorders),
                        clock=FakeClock())

    first = notifier()
    first.start()
    first.stop()
    reopened = DeliveryStore(tmp_path / "notifications.db")
    assert reopened.cursor() == 1 and reopened.recent() == []
    reopened.close()
    log.append("pipeline-execution-failed", pipeline="orders", execution_id="while-down")
    second = notifier()
    assert not second.store.start_cursor(log.last_seq())
    second.dispatcher.pump()
    assert {d.event.subject.execution_id for d in second.store.recent()} == {"while-down"}
    second.store.close()
