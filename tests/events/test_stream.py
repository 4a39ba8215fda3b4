"""The stream and its relay: outbox rows reach events.db once each, in order, with stable ids;
readers are woken; a repeated copy (a crash between copy and cursor) inserts nothing twice."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conveyor.events.outbox import OUTBOX_SCHEMA, write_events
from conveyor.events.stream import EventLog, Relay
from conveyor.events.types import Event, Subject


def _store(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(OUTBOX_SCHEMA)
    return db


def _emit(db: sqlite3.Connection, *types: str, pipeline: str = "orders", service: str | None = None) -> None:
    db.execute("BEGIN IMMEDIATE")
    write_events(db, [Event(t, 1.0 + i, Subject(pipeline=pipeline, service=service), {"n": i}, f"{t} {i}")
                      for i, t in enumerate(types)])
    db.execute("COMMIT")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


def test_pump_copies_each_source_in_outbox_order_with_stable_ids(home):
    pipe, ecs = _store(home / "conveyor.db"), _store(home / "services.db")
    _emit(pipe, "pipeline-execution-started", "stage-execution-started")
    _emit(ecs, "deployment-started", pipeline=None, service="web")  # type: ignore[arg-type]
    log = EventLog(home / "events.db")
    relay = Relay(log, {"pipeline": home / "conveyor.db", "ecs": home / "services.db"})
    assert relay.pump() == 3
    events = log.read()
    assert [(e.seq, e.id, e.type) for e in events] == [
        (1, "pipeline-1", "pipeline-execution-started"), (2, "pipeline-2", "stage-execution-started"),
        (3, "ecs-1", "deployment-started")]
    assert events[0].summary == "pipeline-execution-started 0" and events[0].detail == {"n": 0}
    assert events[2].subject == Subject(service="web")
    assert relay.pump() == 0
    assert log.last_seq() == 3 and log.cursor("pipeline") == 2 and log.cursor("ecs") == 1


def test_missing_source_file_or_table_is_skipped_until_it_exists(home):
    log = EventLog(home / "events.db")
    relay = Relay(log, {"pipeline": home / "conveyor.db", "codedeploy": home / "codedeploy.db"})
    assert relay.pump() == 0
    assert not (home / "conveyor.db").exists()  # the relay never creates a store
    sqlite3.connect(str(home / "codedeploy.db")).close()  # a store without an outbox table yet
    assert relay.pump() == 0
    _emit(_store(home / "conveyor.db"), "pipeline-execution-started")
    assert relay.pump() == 1


def test_copy_repeated_after_a_lost_cursor_inserts_nothing_twice(home):
    pipe = _store(home / "conveyor.db")
    _emit(pipe, "pipeline-execution-started", "stage-execution-started", "action-execution-started")
    log = EventLog(home / "events.db")
    relay = Relay(log, {"pipeline": home / "conveyor.db"}, batch=2)
    assert relay.pump() == 3
    log.set_cursor("pipeline", 1)  # as if the cursor had not moved with the last copies
    _emit(pipe, "action-execution-succeeded")
    assert relay.pump() == 1
    assert [e.id for e in log.read()] == ["pipeline-1", "pipeline-2", "pipeline-3", "pipeline-4"]


def test_copy_and_cursor_are_one_transaction(home, monkeypatch):
    """A failure after the rows are inserted but before the cursor moves leaves neither."""
    pipe = _store(home / "conveyor.db")
    _emit(pipe, "pipeline-execution-started")
    log = EventLog(home / "events.db")
    real = log._db

    class Failing:
        def execute(self, sql, *args):
            if sql.startswith("INSERT INTO relay_cursor"):
                raise sqlite3.OperationalError("disk I/O error")
            return real.execute(sql, *args)

    monkeypatch.setattr(log, "_db", Failing())
    with pytest.raises(sqlite3.OperationalError):
        Relay(log, {"pipeline": home / "conveyor.db"}).pump()
    monkeypatch.setattr(log, "_db", real)
    assert log.read() == [] and log.cursor("pipeline") == 0
    assert Relay(log, {"pipeline": home / "conveyor.db"}).pump() == 1


def test_a_relay_killed_mid_run_and_restarted_delivers_each_event_once(home):
    """Another process pumps and is killed with -9 at random points; a fresh relay finishes."""
    pipe = _store(home / "conveyor.db")
    for _ in range(20):
        _emit(pipe, *["action-execution-started"] * 50)
    script = ("import sys; from conveyor.events.stream import EventLog, Relay\n"
              "r = Relay(EventLog(sys.argv[1] + '/events.db'), {'pipeline': sys.argv[1] + '/conveyor.db'}, batch=7)\n"
              "print('go', flush=True)\nwhile True: r.pump()\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(home)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "go\n"
    proc.kill()
    proc.wait()
    log = EventLog(home / "events.db")
    Relay(log, {"pipeline": home / "conveyor.db"}).pump()
    events = log.read(limit=5000)
    assert [e.id for e in events] == [f"pipeline-{n}" for n in range(1, 1001)]
    assert [e.seq for e in events] == list(range(1, 1001))


def test_read_filters(home):
    pipe, ecs = _store(home / "conveyor.db"), _store(home / "services.db")
    _emit(pipe, "pipeline-execution-started", "pipeline-execution-failed")
    _emit(pipe, "pipeline-execution-started", pipeline="billing")
    _emit(ecs, "deployment-started", "deployment-succeeded", pipeline=None, service="web")  # type: ignore[arg-type]
    log = EventLog(home / "events.db")
    Relay(log, {"pipeline": home / "conveyor.db", "ecs": home / "services.db"}).pump()
    assert [e.id for e in log.read(pipeline="orders")] == ["pipeline-1", "pipeline-2"]
    assert [e.id for e in log.read(types=["pipeline-execution-started"])] == ["pipeline-1", "pipeline-3"]
    assert [e.id for e in log.read(service="web")] == ["ecs-1", "ecs-2"]
    assert [e.id for e in log.read(after=2, limit=2)] == ["pipeline-3", "ecs-1"]
    assert log.read(environment="prod") == []


def test_wait_is_woken_by_the_relay_and_subscribers_see_each_event_once(home):
    pipe = _store(home / "conveyor.db")
    log = EventLog(home / "events.db")
    relay = Relay(log, {"pipeline": home / "conveyor.db"})
    seen: list[str] = []

    def broken(event: Event) -> None:
        raise RuntimeError("subscriber bug")

    log.subscribe(broken)  # logged, does not stop the others or the relay
    log.subscribe(lambda e: seen.append(e.id))
    assert log.wait(0, 0) is False
    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(log.wait(0, 60)))
    waiter.start()
    _emit(pipe, "pipeline-execution-started", "stage-execution-started")
    relay.start()
    relay.wake()
    waiter.join()
    relay.stop()
    assert woke == [True]
    assert seen == ["pipeline-1", "pipeline-2"]
    relay.pump()
    assert seen == ["pipeline-1", "pipeline-2"]


def test_wait_sees_another_processs_writes(home):
    """A second EventLog on the same file (another process: the CLI next to the daemon)."""
    pipe = _store(home / "conveyor.db")
    reader, writer = EventLog(home / "events.db"), EventLog(home / "events.db")
    _emit(pipe, "pipeline-execution-started")
    Relay(writer, {"pipeline": home / "conveyor.db"}).pump()
    assert reader.wait(0, 60) is True
    assert [e.id for e in reader.read()] == ["pipeline-1"]


def test_stop_pumps_what_was_committed_before(home):
    pipe = _store(home / "conveyor.db")
    log = EventLog(home / "events.db")
    relay = Relay(log, {"pipeline": home / "conveyor.db"})
    relay.start()
    _emit(pipe, "pipeline-execution-started")
    relay.stop()
    assert [e.id for e in log.read()] == ["pipeline-1"]


def test_the_relay_masks_each_event_before_it_enters_the_stream(home):
    pipe = _store(home / "conveyor.db")
    pipe.execute("BEGIN IMMEDIATE")
    write_events(pipe, [Event("action-execution-failed", 1.0, Subject(pipeline="orders"),
                              {"error": "login with hunter2 refused"}, "orders #1: login with hunter2 refused")])
    pipe.execute("COMMIT")
    log = EventLog(home / "events.db")

    def mask(event: Event) -> Event:
        return Event(event.type, event.at, event.subject, {"error": event.detail["error"].replace("hunter2", "***")},
                     event.summary.replace("hunter2", "***"))

    Relay(log, {"pipeline": home / "conveyor.db"}, mask=mask).pump()
    [event] = log.read()
    assert (event.summary, event.detail) == ("orders #1: login with *** refused", {"error": "login with *** refused"})
