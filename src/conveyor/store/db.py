"""SQLite store. State is rows: executions are created once, and every status change of an
execution, stage or action is an appended `transitions` row; nothing is updated in place.

WAL mode with synchronous=NORMAL: a committed row survives a kill -9 of the daemon (the WAL is
written before commit returns); only an OS crash may lose the last commits.

    store = Store(path)
    store.append(Transition(execution_id, "stage", "InProgress", stage="Build"), events)

Each append writes the transition's events (conveyor.engine.events) into the `outbox` table in
the same transaction as its row (conveyor.events.outbox): the event exists exactly when the
transition does.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from conveyor.events.outbox import OUTBOX_SCHEMA, write_events
from conveyor.events.types import Event

SCHEMA_VERSION = 2
#: The branches a pipeline trusts when nothing else is said (`conveyor run --protected-branch`,
#: or `protectedBranches:` in conveyor.yml on the protected branch).
DEFAULT_PROTECTED_BRANCHES = ("main",)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pipelines (
    name TEXT PRIMARY KEY,
    repository TEXT NOT NULL,
    config_path TEXT NOT NULL,
    poll_interval REAL NOT NULL DEFAULT 15,
    registered_at REAL NOT NULL,
    protected_branches TEXT NOT NULL DEFAULT '["main"]'
);
CREATE TABLE IF NOT EXISTS executions (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    pipeline TEXT NOT NULL,
    created_at REAL NOT NULL,
    trigger TEXT NOT NULL,
    revisions TEXT NOT NULL,
    variables TEXT NOT NULL,
    definition TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS executions_pipeline ON executions (pipeline, seq);
CREATE TABLE IF NOT EXISTS transitions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id TEXT NOT NULL REFERENCES executions (id),
    scope TEXT NOT NULL CHECK (scope IN ('execution', 'stage', 'action')),
    stage TEXT,
    action TEXT,
    attempt INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    at REAL NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS transitions_execution ON transitions (execution_id, seq);
CREATE INDEX IF NOT EXISTS transitions_stage ON transitions (stage, status);
CREATE TABLE IF NOT EXISTS refs (
    repository TEXT NOT NULL,
    ref TEXT NOT NULL,
    commit_id TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (repository, ref)
);
""" + OUTBOX_SCHEMA


@dataclass(frozen=True)
class Transition:
    execution_id: str
    scope: str
    status: str
    stage: str | None = None
    action: str | None = None
    attempt: int = 0
    detail: dict[str, Any] = field(default_factory=dict)
    at: float = 0.0
    seq: int = 0


@dataclass(frozen=True)
class ExecutionRow:
    id: str
    seq: int
    pipeline: str
    created_at: float
    trigger: dict
    revisions: dict
    variables: dict
    definition: dict


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self._lock:
            self._db.executescript(SCHEMA)
            self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                             (str(SCHEMA_VERSION),))
            self._migrate()

    def _migrate(self) -> None:
        """Bring a store written by an older Conveyor up to SCHEMA_VERSION, keeping its rows.
        Version 2 adds pipelines.protected_branches: existing pipelines trust `main`, the default."""
        version = int(self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
        if version >= SCHEMA_VERSION:
            return
        columns = {r["name"] for r in self._db.execute("PRAGMA table_info(pipelines)")}
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if "protected_branches" not in columns:
                self._db.execute("ALTER TABLE pipelines ADD COLUMN protected_branches TEXT NOT NULL "
                                 "DEFAULT '[\"main\"]'")
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- pipelines
    def register_pipeline(self, name: str, repository: str, config_path: str, poll_interval: float,
                          protected_branches: Iterable[str] | None = None) -> None:
        """Register a pipeline or update its registration. `protected_branches` None keeps the
        ones it has (DEFAULT_PROTECTED_BRANCHES for a new pipeline)."""
        given = json.dumps(list(protected_branches)) if protected_branches is not None else None
        with self._lock:
            self._db.execute(
                "INSERT INTO pipelines (name, repository, config_path, poll_interval, registered_at, "
                "protected_branches) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "repository = excluded.repository, config_path = excluded.config_path, "
                "poll_interval = excluded.poll_interval, "
                "protected_branches = COALESCE(?, pipelines.protected_branches)",
                (name, repository, config_path, poll_interval, time.time(),
                 given or json.dumps(list(DEFAULT_PROTECTED_BRANCHES)), given))

    def pipelines(self) -> list[dict]:
        with self._lock:
            rows = [dict(r) for r in self._db.execute("SELECT * FROM pipelines ORDER BY name")]
        for row in rows:
            row["protected_branches"] = json.loads(row["protected_branches"])
        return rows

    # -- executions
    def create_execution(self, row: ExecutionRow, first: Transition,
                         events: Callable[[ExecutionRow], Iterable[Event]] | None = None) -> ExecutionRow:
        """Insert the execution and its first transition in one transaction; assigns seq.
        `events(row)` gives the events of the first transition, given the row with its seq."""
        with self._lock, self._atomic():
            seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM executions").fetchone()[0]
            self._db.execute(
                "INSERT INTO executions (id, seq, pipeline, created_at, trigger, revisions, variables, definition) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (row.id, seq, row.pipeline, row.created_at, json.dumps(row.trigger), json.dumps(row.revisions),
                 json.dumps(row.variables), json.dumps(row.definition)))
            self._insert_transition(first)
            created = ExecutionRow(row.id, seq, row.pipeline, row.created_at, row.trigger, row.revisions,
                                   row.variables, row.definition)
            if events is not None:
                write_events(self._db, events(created))
        return created

    def execution(self, execution_id: str) -> ExecutionRow | None:
        with self._lock:
            r = self._db.execute("SELECT * FROM executions WHERE id = ?", (execution_id,)).fetchone()
        return _execution(r) if r else None

    def find_executions(self, prefix: str) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT id FROM executions WHERE id LIKE ? || '%' LIMIT 5", (prefix,)).fetchall()
        return [r[0] for r in rows]

    def executions(self, pipeline: str | None = None, limit: int = 50, active_only: bool = False) -> list[ExecutionRow]:
        sql = "SELECT * FROM executions"
        args: list[Any] = []
        where = []
        if pipeline:
            where.append("pipeline = ?")
            args.append(pipeline)
        if active_only:
            where.append("id IN (SELECT execution_id FROM transitions t WHERE scope = 'execution' AND seq = "
                         "(SELECT MAX(seq) FROM transitions u WHERE u.execution_id = t.execution_id AND u.scope = "
                         "'execution') AND status IN ('InProgress', 'Stopping', 'Failed', 'Stopped'))")
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            return [_execution(r) for r in self._db.execute(sql, args)]

    @contextmanager
    def _atomic(self) -> Iterator[None]:
        """One all-or-nothing unit: its own transaction, or a savepoint inside the caller's
        `transaction()` (whose rollback then takes it too). Call with the lock held."""
        if self._db.in_transaction:
            self._db.execute("SAVEPOINT transition")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK TO transition")
                self._db.execute("RELEASE transition")
                raise
            self._db.execute("RELEASE transition")
            return
        with self._begin():
            yield

    @contextmanager
    def _begin(self) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any exception."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group appends into one commit (the scheduler commits a whole pass at once). Holds the
        store's lock throughout, so other threads' writes wait rather than interleave."""
        with self._lock, self._begin():
            yield

    # -- transitions
    def append(self, t: Transition, events: Iterable[Event] = ()) -> Transition:
        """Append a transition and its events, both or neither."""
        at = t.at or time.time()
        with self._lock, self._atomic():
            seq = self._insert_transition(t, at)
            write_events(self._db, events)
        return Transition(t.execution_id, t.scope, t.status, t.stage, t.action, t.attempt, t.detail, at, seq)

    def append_many(self, items: Iterable[Transition], events: Iterable[Event] = ()) -> None:
        """Append transitions and their events, all or none."""
        with self._lock, self._atomic():
            for t in items:
                self._insert_transition(t)
            write_events(self._db, events)

    def _insert_transition(self, t: Transition, at: float | None = None) -> int:
        cur = self._db.execute(
            "INSERT INTO transitions (execution_id, scope, stage, action, attempt, status, at, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (t.execution_id, t.scope, t.stage, t.action, t.attempt, t.status, at or t.at or time.time(),
             json.dumps(t.detail)))
        return int(cur.lastrowid or 0)

    def transitions(self, execution_id: str) -> list[Transition]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM transitions WHERE execution_id = ? ORDER BY seq",
                                    (execution_id,)).fetchall()
        return [Transition(r["execution_id"], r["scope"], r["status"], r["stage"], r["action"], r["attempt"],
                           json.loads(r["detail"]), r["at"], r["seq"]) for r in rows]

    def later_entry(self, pipeline: str, stage: str, seq: int) -> bool:
        """Has an execution newer than `seq` entered `stage`? (then an older one may not retry it)"""
        with self._lock:
            r = self._db.execute(
                "SELECT 1 FROM transitions t JOIN executions e ON e.id = t.execution_id WHERE e.pipeline = ? AND "
                "t.scope = 'stage' AND t.stage = ? AND t.status = 'InProgress' AND e.seq > ? LIMIT 1",
                (pipeline, stage, seq)).fetchone()
        return r is not None

    # -- git refs seen by triggers
    def ref(self, repository: str, ref: str) -> str | None:
        with self._lock:
            r = self._db.execute("SELECT commit_id FROM refs WHERE repository = ? AND ref = ?",
                                 (repository, ref)).fetchone()
        return r[0] if r else None

    def refs(self, repository: str) -> dict[str, str]:
        with self._lock:
            rows = self._db.execute("SELECT ref, commit_id FROM refs WHERE repository = ?", (repository,)).fetchall()
        return {r[0]: r[1] for r in rows}

    def set_ref(self, repository: str, ref: str, commit: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO refs (repository, ref, commit_id, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT "
                "(repository, ref) DO UPDATE SET commit_id = excluded.commit_id, updated_at = excluded.updated_at",
                (repository, ref, commit, time.time()))


def _execution(r: sqlite3.Row) -> ExecutionRow:
    return ExecutionRow(r["id"], r["seq"], r["pipeline"], r["created_at"], json.loads(r["trigger"]),
                        json.loads(r["revisions"]), json.loads(r["variables"]), json.loads(r["definition"]))
