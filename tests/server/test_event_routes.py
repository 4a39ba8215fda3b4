"""GET /api/v1/events: read after a cursor with filters, the cursor for the next call, and the long
poll that answers as soon as a matching event is relayed."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from conveyor.backend.fake import FakeBackend
from conveyor.events.outbox import OUTBOX_SCHEMA, write_events
from conveyor.events.stream import EventLog, Relay
from conveyor.events.types import Event, Subject
from conveyor.release.service import ReleaseService
from conveyor.release.store import ReleaseStore
from conveyor.server.api import Api
from conveyor.server.event_routes import WAITERS

TOKEN = "t"


class Source:
    """A store's outbox and the relay that takes it into the stream."""

    def __init__(self, home: Path, log: EventLog):
        self.db = sqlite3.connect(str(home / "conveyor.db"), isolation_level=None, check_same_thread=False)
        self.db.executescript(OUTBOX_SCHEMA)
        self.relay = Relay(log, {"pipeline": home / "conveyor.db"})

    def emit(self, kind: str, pipeline: str = "orders") -> None:
        write_events(self.db, [Event(kind, 1.0, Subject(pipeline, "e1"), {"x": 1}, f"{pipeline}: {kind}")])
        self.relay.pump()


@pytest.fixture
def log(tmp_path):
    events = EventLog(tmp_path / "events.db")
    yield events
    events.close()


@pytest.fixture
def source(tmp_path, log):
    return Source(tmp_path, log)


def make_api(log: EventLog | None) -> Api:
    releases = ReleaseService({"local": FakeBackend().backend}, ReleaseStore(":memory:"))
    return Api(None, releases, TOKEN, events=log)  # type: ignore[arg-type]


def call(api: Api, **query: str) -> tuple[int, dict]:
    return api.handle("GET", "/api/v1/events", query, {}, f"Bearer {TOKEN}")


def test_events_after_a_cursor_with_their_ids_and_the_next_cursor(log, source):
    api = make_api(log)
    source.emit("pipeline-execution-started")
    source.emit("pipeline-execution-failed")
    status, body = call(api)
    assert status == 200
    assert [(e["id"], e["seq"], e["type"], e["severity"]) for e in body["events"]] == [
        ("pipeline-1", 1, "pipeline-execution-started", "info"),
        ("pipeline-2", 2, "pipeline-execution-failed", "error")]
    assert body["events"][1] == {"id": "pipeline-2", "seq": 2, "type": "pipeline-execution-failed",
                                 "severity": "error", "at": 1.0, "summary": "orders: pipeline-execution-failed",
                                 "subject": {"pipeline": "orders", "execution_id": "e1"}, "detail": {"x": 1}}
    assert body["last"] == 2
    assert call(api, after="1", limit="1")[1]["events"][0]["id"] == "pipeline-2"
    assert call(api, after="2") == (200, {"events": [], "last": 2})


def test_filters_and_a_cursor_past_what_they_skipped(log, source):
    api = make_api(log)
    source.emit("pipeline-execution-started")
    source.emit("pipeline-execution-started", pipeline="billing")
    source.emit("pipeline-execution-failed")
    _, body = call(api, type="pipeline-execution-failed,pipeline-execution-succeeded")
    assert [e["id"] for e in body["events"]] == ["pipeline-3"] and body["last"] == 3
    _, body = call(api, pipeline="billing")
    assert [e["id"] for e in body["events"]] == ["pipeline-2"]
    assert body["last"] == 3  # the next call need not look at 3 again: it does not match
    _, body = call(api, limit="1")
    assert body["last"] == 1  # cut by the limit: the cursor stops at what was returned
    assert call(api, service="web") == (200, {"events": [], "last": 3})


def test_an_unknown_type_or_a_bad_query_is_a_400(log):
    api = make_api(log)
    status, body = call(api, type="pipeline-execution-exploded")
    assert status == 400 and "unknown event type(s) pipeline-execution-exploded" in body["error"]["message"]
    assert call(api, wait="31")[0] == 400
    assert call(api, after="-1")[0] == 400
    assert call(api, limit="many")[0] == 400


def test_a_waiting_read_answers_with_the_first_matching_event_relayed(log, source):
    api = make_api(log)
    source.emit("pipeline-execution-started")
    answer: list = []
    waiter = threading.Thread(target=lambda: answer.append(call(api, after="1", pipeline="billing", wait="30")))
    waiter.start()
    source.emit("pipeline-execution-succeeded")  # not billing: the wait goes on
    source.emit("pipeline-execution-started", pipeline="billing")
    waiter.join()
    [(status, body)] = answer
    assert status == 200
    assert [e["id"] for e in body["events"]] == ["pipeline-3"] and body["last"] == 3


def test_waiters_beyond_the_limit_answer_at_once(log):
    class Recording:
        """The log, recording whether anyone waited on it."""

        waited = False

        def __getattr__(self, name):
            return getattr(log, name)

        def wait(self, after, timeout):
            Recording.waited = True
            return False

    api = make_api(Recording())  # type: ignore[arg-type]
    reads = next(r.fn.__self__ for r in api.routes if r.template == "/api/v1/events")
    held = [reads._waiters.acquire(blocking=False) for _ in range(WAITERS)]
    assert all(held)
    assert call(api, wait="30") == (200, {"events": [], "last": 0})
    assert Recording.waited is False
    reads._waiters.release()
    assert call(api, wait="1") == (200, {"events": [], "last": 0})
    assert Recording.waited is True


def test_a_daemon_without_a_stream_answers_empty(tmp_path):
    assert call(make_api(None), after="5") == (200, {"events": [], "last": 5})


def test_tail_gives_the_newest_matching_events_and_the_cursor_to_follow_from(log, source):
    api = make_api(log)
    for kind in ("pipeline-execution-started", "pipeline-execution-failed", "pipeline-execution-started"):
        source.emit(kind)
    source.emit("pipeline-execution-started", pipeline="billing")
    _, body = call(api, tail="2", pipeline="orders")
    assert [e["id"] for e in body["events"]] == ["pipeline-2", "pipeline-3"] and body["last"] == 4
    _, body = call(api, tail="5", type="pipeline-execution-failed")
    assert [e["id"] for e in body["events"]] == ["pipeline-2"] and body["last"] == 4
