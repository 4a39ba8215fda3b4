"""The delivery store (home/notifications.db): one row per (event, rule, target), every attempt,
and the dispatcher's cursor over the event stream.

The dispatcher inserts the deliveries of a batch of events and moves its cursor in ONE
transaction (`enqueue`), and a delivery's id is derived from (event, pipeline, rule, target
index) with INSERT OR IGNORE: a crash between reading events and committing re-reads them and
creates nothing twice, and no event is passed over without its deliveries.

A delivery is `pending` until a send succeeds (`delivered`) or the retry policy gives up
(`dead`). An attempt is recorded `in-flight` before the send; one still in flight when the daemon
starts again was interrupted by a crash (`recover`), and the delivery, still pending and due, is
sent again: at least once, and the stable id lets a receiver drop the repeat.

    store = DeliveryStore(home / "notifications.db")
    store.enqueue([NewDelivery(...)], cursor=event.seq)
    for row in store.due(now, limit=50): ...
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.config.notification_targets import TargetDef
from conveyor.events.types import Event, Subject
from conveyor.store.sqlite import open_database

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
CURSOR = "dispatcher"

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    event_seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    rule TEXT NOT NULL,
    target_index INTEGER NOT NULL,
    target TEXT NOT NULL,
    target_key TEXT NOT NULL,
    detail_type TEXT NOT NULL,
    allow_host_commands INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    budget_from INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error TEXT,
    receipt TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS deliveries_created ON deliveries (created_at);
CREATE TABLE IF NOT EXISTS attempts (
    delivery_id TEXT NOT NULL REFERENCES deliveries (id),
    n INTEGER NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    outcome TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (delivery_id, n)
);
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL);
"""


def target_key(target: TargetDef) -> str:
    """The same target (kind and settings) in any rule: what per-target concurrency counts."""
    return hashlib.sha256(json.dumps({"k": target.kind, "s": dict(target.spec)}, sort_keys=True,
                                     default=str).encode()).hexdigest()[:16]


def delivery_id(event_id: str, pipeline: str, rule: str, target_index: int) -> str:
    """Stable across retries and restarts: what a receiver deduplicates on."""
    digest = hashlib.sha256(f"{event_id}\0{pipeline}\0{rule}\0{target_index}".encode()).hexdigest()
    return f"dlv-{digest[:24]}"


@dataclass(frozen=True)
class NewDelivery:
    event: Event
    pipeline: str
    rule: str
    target_index: int
    target: TargetDef
    detail_type: str
    allow_host_commands: bool = False

    @property
    def id(self) -> str:
        return delivery_id(self.event.id, self.pipeline, self.rule, self.target_index)


@dataclass(frozen=True)
class Delivery:
    id: str
    event: Event
    pipeline: str
    rule: str
    target_index: int
    target: TargetDef
    target_key: str
    detail_type: str
    allow_host_commands: bool
    status: str
    attempts: int
    budget_from: int
    next_attempt_at: float
    last_error: str | None
    receipt: str | None
    created_at: float
    updated_at: float

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "eventId": self.event.id, "eventType": self.event.type, "summary": self.event.summary,
                "pipeline": self.pipeline, "rule": self.rule, "targetIndex": self.target_index,
                "target": self.target.kind, "status": self.status, "attempts": self.attempts,
                "nextAttemptAt": self.next_attempt_at if self.status == PENDING else None,
                "lastError": self.last_error, "receipt": self.receipt, "createdAt": self.created_at,
                "updatedAt": self.updated_at}


def event_from_json(data: dict[str, Any]) -> Event:
    return Event(data["type"], float(data["at"]), Subject.from_dict(data.get("subject") or {}),
                 data.get("detail") or {}, data.get("summary") or "", seq=int(data.get("seq") or 0),
                 id=str(data.get("id") or ""))


class DeliveryStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = open_database(self.path, SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- the dispatcher's side
    def cursor(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT seq FROM cursors WHERE name = ?", (CURSOR,)).fetchone()
        return int(row[0]) if row else 0

    def start_cursor(self, seq: int) -> bool:
        """Set the cursor if it has never been set (a new notifications.db): True if it was."""
        with self._lock:
            cur = self._db.execute("INSERT OR IGNORE INTO cursors (name, seq) VALUES (?, ?)", (CURSOR, seq))
        return cur.rowcount == 1

    def enqueue(self, items: Iterable[NewDelivery], cursor: int, now: float) -> int:
        """Insert deliveries (those already there are skipped) and move the cursor to `cursor`, in
        one transaction. Returns how many were new."""
        added = 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for d in items:
                    cur = self._db.execute(
                        "INSERT OR IGNORE INTO deliveries (id, event_id, event_seq, event, pipeline, rule, "
                        "target_index, target, target_key, detail_type, allow_host_commands, status, "
                        "next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (d.id, d.event.id, d.event.seq, json.dumps(d.event.as_dict(), default=str), d.pipeline,
                         d.rule, d.target_index, json.dumps({"kind": d.target.kind, "spec": dict(d.target.spec)}),
                         target_key(d.target), d.detail_type, int(d.allow_host_commands), PENDING, now, now, now))
                    added += cur.rowcount
                self._db.execute("INSERT INTO cursors (name, seq) VALUES (?, ?) ON CONFLICT (name) "
                                 "DO UPDATE SET seq = MAX(seq, excluded.seq)", (CURSOR, cursor))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return added

    # -- the workers' side
    def due(self, now: float, limit: int = 100, exclude: Iterable[str] = (), per_target: int = 1000) -> list[Delivery]:
        """Pending deliveries due at `now`, oldest first, at most `per_target` of any one target (so
        one target's backlog never fills the batch and starves the others), none of `exclude`."""
        skip = list(exclude)
        where = "status = 'pending' AND next_attempt_at <= ?"
        if skip:
            where += f" AND id NOT IN ({', '.join('?' * len(skip))})"
        sql = (f"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY target_key ORDER BY next_attempt_at, "
               f"event_seq) AS nth FROM deliveries WHERE {where}) WHERE nth <= ? "
               "ORDER BY next_attempt_at, event_seq LIMIT ?")
        with self._lock:
            rows = self._db.execute(sql, (now, *skip, per_target, limit)).fetchall()
        return [_delivery(r) for r in rows]

    def next_due(self) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'pending'").fetchone()
        return None if row[0] is None else float(row[0])

    def begin_attempt(self, delivery: str, now: float) -> int:
        """Record an attempt as in flight (before the send); its number."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                n = int(self._db.execute("SELECT attempts FROM deliveries WHERE id = ?", (delivery,)).fetchone()[0]) + 1
                self._db.execute("UPDATE deliveries SET attempts = ?, updated_at = ? WHERE id = ?", (n, now, delivery))
                self._db.execute("INSERT INTO attempts (delivery_id, n, started_at, outcome) "
                                 "VALUES (?, ?, ?, 'in-flight')", (delivery, n, now))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return n

    def finish_attempt(self, delivery: str, n: int, now: float, *, status: str, outcome: str, message: str,
                       next_attempt_at: float | None = None) -> None:
        """The attempt's outcome and the delivery's new state, together."""
        receipt = message if status == DELIVERED else None
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("UPDATE attempts SET finished_at = ?, outcome = ?, message = ? "
                                 "WHERE delivery_id = ? AND n = ?", (now, outcome, message, delivery, n))
                if status == DELIVERED:
                    self._db.execute("UPDATE deliveries SET status = ?, receipt = ?, updated_at = ? WHERE id = ?",
                                     (status, receipt, now, delivery))
                else:
                    self._db.execute("UPDATE deliveries SET status = ?, last_error = ?, next_attempt_at = ?, "
                                     "updated_at = ? WHERE id = ?",
                                     (status, message, next_attempt_at if next_attempt_at is not None else now, now,
                                      delivery))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def recover(self, now: float) -> int:
        """At start: attempts left in flight by a daemon that died are `interrupted`; their
        deliveries stay pending and are due now. Returns how many."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                ids = [r[0] for r in self._db.execute(
                    "SELECT DISTINCT delivery_id FROM attempts WHERE outcome = 'in-flight'").fetchall()]
                self._db.execute("UPDATE attempts SET outcome = 'interrupted', finished_at = ?, "
                                 "message = 'the daemon stopped during the send' WHERE outcome = 'in-flight'", (now,))
                for d in ids:
                    self._db.execute("UPDATE deliveries SET next_attempt_at = MIN(next_attempt_at, ?), updated_at = ? "
                                     "WHERE id = ? AND status = 'pending'", (now, now, d))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return len(ids)

    # -- people's side
    def redeliver(self, delivery: str, now: float) -> Delivery | None:
        """Send again now, with a fresh retry budget, whatever its state."""
        with self._lock:
            self._db.execute("UPDATE deliveries SET status = 'pending', budget_from = attempts, next_attempt_at = ?, "
                             "updated_at = ? WHERE id = ?", (now, now, delivery))
        return self.get(delivery)

    def get(self, delivery: str) -> Delivery | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM deliveries WHERE id = ?", (delivery,)).fetchone()
        return _delivery(row) if row else None

    def find(self, prefix: str) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT id FROM deliveries WHERE id LIKE ? ESCAPE '\\' LIMIT 2",
                                                   (_like(prefix) + "%",)).fetchall()]

    def recent(self, *, failed: bool = False, limit: int = 50) -> "list[Delivery]":
        """Newest first; `failed`: dead ones, and pending ones that have failed at least once."""
        where = "WHERE status = 'dead' OR (status = 'pending' AND last_error IS NOT NULL)" if failed else ""
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM deliveries {where} ORDER BY created_at DESC, event_seq DESC "
                                    "LIMIT ?", (limit,)).fetchall()
        return [_delivery(r) for r in rows]

    def attempts(self, delivery: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT n, started_at, finished_at, outcome, message FROM attempts "
                                    "WHERE delivery_id = ? ORDER BY n", (delivery,)).fetchall()
        return [{"n": r[0], "startedAt": r[1], "finishedAt": r[2], "outcome": r[3], "message": r[4]} for r in rows]

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status").fetchall()
        return {PENDING: 0, DELIVERED: 0, DEAD: 0, **{r[0]: int(r[1]) for r in rows}}


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _delivery(r: Any) -> Delivery:
    target = json.loads(r["target"])
    return Delivery(r["id"], event_from_json(json.loads(r["event"])), r["pipeline"], r["rule"], int(r["target_index"]),
                    TargetDef(target["kind"], target.get("spec") or {}), r["target_key"], r["detail_type"],
                    bool(r["allow_host_commands"]), r["status"], int(r["attempts"]), int(r["budget_from"]),
                    float(r["next_attempt_at"]), r["last_error"], r["receipt"], float(r["created_at"]),
                    float(r["updated_at"]))
