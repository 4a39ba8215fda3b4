"""The transactional outbox every store shares: `OUTBOX_SCHEMA` goes into the store's schema and
`write_events` is called with the store's connection inside the transaction that records the
state change, so the event exists exactly when the change does (a crash loses neither, and never
leaves an event for a change that was rolled back).

    with store.transaction() as db:
        db.execute("INSERT INTO transitions ...")
        write_events(db, [Event("deployment-started", now, Subject(environment="prod", service="web"))])

The relay (conveyor.events.stream) reads `outbox` rows after a cursor with `read_outbox` and
never deletes them here; `prune_outbox` drops rows the stream has already taken.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from conveyor.events.types import EVENT_TYPES, Event, Subject

OUTBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL,
    at REAL NOT NULL,
    subject TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}'
);
"""


def write_events(db: sqlite3.Connection, events: Iterable[Event]) -> None:
    """Append events to the outbox on `db`, inside the caller's transaction. An unknown type is a
    bug in the caller: refused before anything is written."""
    rows = []
    for event in events:
        if event.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event.type!r}")
        rows.append((event.type, event.at, json.dumps(event.subject.as_dict()), event.summary,
                     json.dumps(dict(event.detail), default=str)))
    db.executemany("INSERT INTO outbox (type, at, subject, summary, detail) VALUES (?, ?, ?, ?, ?)", rows)


def read_outbox(db: sqlite3.Connection, after: int, limit: int = 500) -> list[tuple[int, Event]]:
    """(outbox seq, event) for the rows after `after`, oldest first."""
    rows = db.execute("SELECT seq, type, at, subject, summary, detail FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                      (after, limit)).fetchall()
    return [(int(r[0]), Event(r[1], float(r[2]), Subject.from_dict(json.loads(r[3])), json.loads(r[5]), r[4]))
            for r in rows]


def prune_outbox(db: sqlite3.Connection, through: int) -> None:
    """Drop outbox rows up to `through` (the stream has them)."""
    db.execute("DELETE FROM outbox WHERE seq <= ?", (through,))


class OutboxTransactions:
    """How a store with an outbox runs its transactions: BEGIN IMMEDIATE under the store's lock,
    events written with `write` inside it, and `on_events` called after a commit that wrote any
    (the daemon wakes the relay with it, so they are streamed at once rather than on its tick).

        self.outbox = OutboxTransactions(self._db, self._lock)
        with self.outbox.transaction() as db:
            db.execute("UPDATE ...")
            self.outbox.write(db, [event])
    """

    def __init__(self, db: sqlite3.Connection, lock: Any):
        self._db = db
        self._lock = lock  # the store's (reentrant): reads elsewhere in the store take it too
        self.on_events: Callable[[], None] | None = None
        self._wrote = False

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._wrote = False
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            if self._wrote and self.on_events is not None:
                self.on_events()

    def write(self, db: sqlite3.Connection, events: Iterable[Event]) -> None:
        """write_events inside the current transaction, remembered for `on_events`."""
        events = list(events)
        if events:
            write_events(db, events)
            self._wrote = True
