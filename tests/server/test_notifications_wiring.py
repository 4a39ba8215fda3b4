"""Where the daemon's notifier reads its rules: each registered pipeline's latest execution, whose
stored definition is the governing one (the protected branch's conveyor.yml), reloaded when a
new execution of the pipeline starts."""

from __future__ import annotations

from conveyor.events.types import Event, Subject
from conveyor.notify.rules import PipelineRules
from conveyor.server.notifications import retry_policy, rule_book
from conveyor.store.db import ExecutionRow, Store, Transition


def definition(events: list[str]) -> dict:
    return {"name": "orders", "notifications": [
        {"name": "team", "events": events, "targets": [{"webhook": {"url": "http://127.0.0.1:9/h", "secret": "k"}}]}]}


def execute(store: Store, n: int, defn: dict) -> None:
    row = ExecutionRow(f"ex-{n}", 0, "orders", float(n), {}, {}, {}, defn)
    store.create_execution(row, Transition(row.id, "execution", "InProgress", at=float(n)))


def rules(pipelines: list[PipelineRules]) -> list[tuple[str, tuple[str, ...]]]:
    return [(p.pipeline, r.events) for p in pipelines for r in p.rules]


def test_rules_come_from_the_latest_execution_and_reload_when_one_starts(tmp_path):
    store = Store(tmp_path / "conveyor.db")
    store.register_pipeline("orders", "/srv/orders.git", "conveyor.yml", 0)
    store.register_pipeline("idle", "/srv/idle.git", "conveyor.yml", 0)  # never ran: no rules yet
    execute(store, 1, definition(["pipeline-execution-failed"]))
    execute(store, 2, definition(["deployment-*"]))
    book = rule_book(store)
    book.load()
    assert rules(book.pipelines()) == [("orders", ("deployment-*",))]
    execute(store, 3, definition(["manual-approval-needed"]))
    assert rules(book.pipelines()) == [("orders", ("deployment-*",))]  # until the start is dispatched
    book.refresh("orders")
    assert rules(book.pipelines()) == [("orders", ("manual-approval-needed",))]
    event = Event("manual-approval-needed", 0, Subject(pipeline="orders", execution_id="ex-3"))
    assert [(o.pipeline, r.name) for o, r in book.matching(event)] == [("orders", "team")]
    store.close()


def test_the_backoff_cap_can_be_lowered_for_demos_and_tests(monkeypatch):
    monkeypatch.setenv("CONVEYOR_NOTIFY_BACKOFF_CAP", "1")
    assert (retry_policy().base, retry_policy().cap) == (1.0, 1.0)
    monkeypatch.setenv("CONVEYOR_NOTIFY_BACKOFF_CAP", "soon")
    assert retry_policy().cap == 300.0
    monkeypatch.delenv("CONVEYOR_NOTIFY_BACKOFF_CAP")
    assert (retry_policy().base, retry_policy().cap) == (2.0, 300.0)
