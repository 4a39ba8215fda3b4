"""The one event stream (home/events.db) and the relay that fills it from the stores' outboxes.

Each store (conveyor.db for pipelines, services.db for ECS, codedeploy.db for CodeDeploy) writes
its events into its own `outbox` table in the transaction of the change (conveyor.events.outbox).
The relay copies them, in outbox order, into `events`, and moves its cursor for that source in the
SAME events.db transaction; a row is also unique on (source, source_seq), so a copy that is
repeated after a crash inserts nothing twice. An event's id, `<source>-<outbox seq>`, is therefore
stable: receivers deduplicate on it.

    log = EventLog(home / "events.db")
    relay = Relay(log, {"pipeline": home / "conveyor.db", "ecs": home / "services.db"})
    relay.start()
    for event in log.read(after=0, types=["pipeline-execution-failed"]):
        print(event.id, event.summary)

Readers in this process are woken by the relay (`wait`, `subscribe`); `wait` also polls the file,
so a reader in another process sees the daemon's writes.

The outboxes are not pruned here: they are small rows, and keeping them lets a lost events.db be
rebuilt by resetting the cursors.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from conveyor.events.outbox import read_outbox
from conveyor.events.types import Event, Subject

log = logging.getLogger("conveyor.events")

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    source_seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    severity TEXT NOT NULL,
    at REAL NOT NULL,
    subject TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}',
    UNIQUE (source, source_seq)
);
CREATE INDEX IF NOT EXISTS events_type ON events (type, seq);
CREATE TABLE IF NOT EXISTS relay_cursor (
    source TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
"""

#: How often `wait` looks at the file for another process's writes (in-process writes wake it at once).
POLL_INTERVAL = 0.25
#: How often the relay thread pumps without being woken.
PUMP_INTERVAL = 0.1
#: Outbox rows copied per events.db transaction.
BATCH = 500

#: The largest sequence number SQLite holds (a signed 64-bit integer): a cursor past it is bad input.
MAX_SEQ = 2**63 - 1


def _connect(path: Path, schema: str | None = None) -> sqlite3.Connection:
    """Autocommit connection (transactions explicit), WAL: readers never wait for the writer. (Not
    conveyor.store.sqlite: the stores import this package for their outbox.)"""
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30.0)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    if schema:
        db.executescript(schema)
    return db


def event_id(source: str, source_seq: int) -> str:
    return f"{source}-{source_seq}"


class EventLog:
    """The persisted stream: append-only, read after a seq. Thread-safe."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = _connect(self.path, SCHEMA)
        self._changed = threading.Condition(threading.Lock())
        self._subscribers: list[Callable[[Event], None]] = []

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- reading
    def read(self, after: int = 0, limit: int = 500, *, types: Iterable[str] | None = None,
             pipeline: str | None = None, environment: str | None = None,
             service: str | None = None) -> list[Event]:
        """Events with seq > `after`, oldest first, at most `limit`, matching every filter given
        (`types`: any of them)."""
        return self._select(after, limit, False, types, pipeline, environment, service)

    def tail(self, limit: int = 20, *, types: Iterable[str] | None = None, pipeline: str | None = None,
             environment: str | None = None, service: str | None = None) -> list[Event]:
        """The newest `limit` events matching the filters, oldest first (`conveyor events`)."""
        return self._select(0, limit, True, types, pipeline, environment, service)[::-1]

    def _select(self, after: int, limit: int, newest: bool, types: Iterable[str] | None, pipeline: str | None,
                environment: str | None, service: str | None) -> list[Event]:
        where = ["seq > ?"]
        args: list[object] = [after]
        wanted = list(types or ())
        if wanted:
            where.append(f"type IN ({', '.join('?' * len(wanted))})")
            args.extend(wanted)
        for key, value in (("pipeline", pipeline), ("environment", environment), ("service", service)):
            if value is not None:
                where.append(f"json_extract(subject, '$.{key}') = ?")
                args.append(value)
        args.append(max(0, int(limit)))
        sql = (f"SELECT seq, id, type, at, subject, summary, detail FROM events WHERE {' AND '.join(where)} "
               f"ORDER BY seq {'DESC' if newest else ''} LIMIT ?")
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [Event(r[2], float(r[3]), Subject.from_dict(json.loads(r[4])), json.loads(r[6]), r[5],
                      seq=int(r[0]), id=r[1]) for r in rows]

    def last_seq(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])

    def wait(self, after: int, timeout: float) -> bool:
        """True as soon as an event with seq > `after` exists; False after `timeout` seconds."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            if self.last_seq() > after:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._changed:
                self._changed.wait(min(remaining, POLL_INTERVAL))

    def subscribe(self, callback: Callable[[Event], None]) -> None:
        """`callback(event)` for each event the relay takes from now on, after its commit, in the
        relay's thread. It must be quick (queue the work); an exception is logged and ignored."""
        with self._lock:
            self._subscribers.append(callback)

    def unsubscribe(self, callback: Callable[[Event], None]) -> None:
        with self._lock:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

    # -- the relay's side
    def cursor(self, source: str) -> int:
        """The last outbox seq of `source` already in the stream."""
        with self._lock:
            row = self._db.execute("SELECT seq FROM relay_cursor WHERE source = ?", (source,)).fetchone()
        return int(row[0]) if row else 0

    def set_cursor(self, source: str, seq: int) -> None:
        """Move a cursor by hand (back: the next pump re-reads, and inserts only what is missing)."""
        with self._lock:
            self._db.execute("INSERT INTO relay_cursor (source, seq) VALUES (?, ?) ON CONFLICT (source) "
                             "DO UPDATE SET seq = excluded.seq", (source, seq))

    def take(self, source: str, rows: list[tuple[int, Event]]) -> list[Event]:
        """Insert outbox rows of `source` and move its cursor to the last one, in one transaction.
        Rows already in the stream are skipped. Returns the events inserted (seq and id set), after
        commit, having told the waiters and the subscribers."""
        if not rows:
            return []
        inserted: list[Event] = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for source_seq, e in rows:
                    eid = event_id(source, source_seq)
                    cur = self._db.execute(
                        "INSERT OR IGNORE INTO events (id, source, source_seq, type, severity, at, subject, summary, "
                        "detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (eid, source, source_seq, e.type, e.severity, e.at, json.dumps(e.subject.as_dict()),
                         e.summary, json.dumps(dict(e.detail), default=str)))
                    if cur.rowcount == 1:
                        inserted.append(Event(e.type, e.at, e.subject, e.detail, e.summary,
                                              seq=int(cur.lastrowid or 0), id=eid))
                self._db.execute("INSERT INTO relay_cursor (source, seq) VALUES (?, ?) ON CONFLICT (source) "
                                 "DO UPDATE SET seq = MAX(seq, excluded.seq)", (source, rows[-1][0]))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            subscribers = list(self._subscribers)
        if inserted:
            with self._changed:
                self._changed.notify_all()
            for event in inserted:
                for callback in subscribers:
                    try:
                        callback(event)
                    except Exception:
                        log.exception("event subscriber %r failed on %s", callback, event.id)
        return inserted


class Relay:
    """Copies the stores' outboxes into the EventLog: `pump()` once, or `start()` a thread that
    pumps every PUMP_INTERVAL and when `wake()` is called. A source whose file or outbox table
    does not exist yet is skipped until it does."""

    def __init__(self, log: EventLog, sources: Mapping[str, str | Path], *, batch: int = BATCH,
                 mask: Callable[[Event], Event] | None = None):
        self.log = log
        self.sources = {name: Path(path) for name, path in sources.items()}
        self.batch = batch
        #: Applied to each event before it enters the stream: the daemon's secret masker, so no
        #: stored secret value reaches a reader or a notification target through an event.
        self.mask = mask
        self._readers: dict[str, sqlite3.Connection] = {}
        self._pump_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _reader(self, source: str) -> sqlite3.Connection | None:
        db = self._readers.get(source)
        if db is not None:
            return db
        path = self.sources[source]
        if not path.exists():
            return None
        db = _connect(path)
        self._readers[source] = db
        return db

    def pump(self) -> int:
        """Copy everything new from every source; the number of events added to the stream."""
        added = 0
        with self._pump_lock:
            for source in self.sources:
                db = self._reader(source)
                if db is None:
                    continue
                while True:
                    try:
                        rows = read_outbox(db, self.log.cursor(source), self.batch)
                    except sqlite3.OperationalError as exc:
                        if "no such table" in str(exc):
                            break  # the store has not been opened by this Conveyor yet
                        raise
                    if self.mask is not None:
                        rows = [(seq, self.mask(event)) for seq, event in rows]
                    added += len(self.log.take(source, rows))
                    if len(rows) < self.batch:
                        break
        return added

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="event-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after one last pump (what was committed before stop is in the stream)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        with self._pump_lock:
            for db in self._readers.values():
                db.close()
            self._readers.clear()

    def _run(self) -> None:
        while True:
            stopping = self._stop.is_set()
            try:
                self.pump()
            except Exception:
                log.exception("event relay: pump failed (retried)")
            if stopping:
                return
            self._wake.wait(PUMP_INTERVAL)
            self._wake.clear()
