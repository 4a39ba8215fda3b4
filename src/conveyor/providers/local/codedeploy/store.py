"""CodeDeploy deployments as rows (SQLite, WAL, in the data directory): the deployment with its
phase, the lifecycle events with their hook executions, and every human action (who, when,
why). The deploy controller advances a deployment one idempotent step at a time and writes each
step here first, so a daemon that dies mid-deployment resumes where it was.

Statuses move only as the tables in conveyor.providers.local.codedeploy.states allow: transition
and transition_event check the move, write it with the row's other changes in one SQL transaction
and append it to `cd_transitions` (the status history); update and event refuse a status.

    store = DeploymentStore(home / "codedeploy.db")
    d = store.create("production", "orders", taskdef="orders:7", appspec=text, group={...}, creator="user")
    store.transition(d.id, IN_PROGRESS, phase="BeforeInstall")
    store.transition_event(d.id, "BeforeInstall", "Skipped")
    store.transitions(d.id)   # [{'kind': 'deployment', 'from_status': None, 'to_status': 'Created', ...}, ...]
"""

from __future__ import annotations

import builtins
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, TypeVar

from conveyor.errors import NotFound
from conveyor.events.outbox import OUTBOX_SCHEMA, OutboxTransactions
from conveyor.events.types import Event
from conveyor.providers.local.codedeploy import reasons
from conveyor.providers.local.codedeploy.events import Cause, transition_events
from conveyor.providers.local.codedeploy.rows import JSON_COLUMNS as _JSON
from conveyor.providers.local.codedeploy.rows import PIPELINE, ROLLBACK, USER, CodeDeployment
from conveyor.providers.local.codedeploy.states import (
    BAKING,
    CREATED,
    EV_FAILED,
    EV_IN_PROGRESS,
    EV_SUCCEEDED,
    FAILED,
    IN_PROGRESS,
    PENDING,
    QUEUED,
    READY,
    SKIPPED,
    STOPPED,
    SUCCEEDED,
    TERMINAL,
    check_transition,
)
from conveyor.store.sqlite import open_database
from conveyor.transitions import refuse_status_keys

SCHEMA = """
CREATE TABLE IF NOT EXISTS cd_deployments (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    environment TEXT NOT NULL,
    service TEXT NOT NULL,
    taskdef TEXT NOT NULL,
    appspec TEXT NOT NULL DEFAULT '',
    grp TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    phase TEXT NOT NULL,
    creator TEXT NOT NULL,
    origin TEXT NOT NULL DEFAULT '{}',
    original_task_set TEXT,
    replacement_task_set TEXT,
    original_tg TEXT,
    replacement_tg TEXT,
    traffic INTEGER NOT NULL DEFAULT 0,
    step INTEGER NOT NULL DEFAULT -1,
    step_at REAL,
    phase_at REAL,
    waiting TEXT NOT NULL DEFAULT '',
    error_code TEXT,
    error_message TEXT,
    rollback_info TEXT NOT NULL DEFAULT '{}',
    stop_request TEXT,
    continue_request TEXT,
    workdir TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    completed_at REAL,
    timings TEXT NOT NULL DEFAULT '{}',
    client_token TEXT
);
CREATE INDEX IF NOT EXISTS cd_deployments_service ON cd_deployments (environment, service, seq);
CREATE TABLE IF NOT EXISTS cd_events (
    deployment_id TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at REAL,
    ended_at REAL,
    hook TEXT,
    execution_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,
    details TEXT,
    message TEXT NOT NULL DEFAULT '',
    log_tail TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (deployment_id, name)
);
CREATE TABLE IF NOT EXISTS cd_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id TEXT NOT NULL,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    who TEXT,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cd_history_deployment ON cd_history (deployment_id, seq);
CREATE TABLE IF NOT EXISTS cd_transitions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    event TEXT NOT NULL DEFAULT '',
    from_status TEXT,
    to_status TEXT NOT NULL,
    at REAL NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS cd_transitions_deployment ON cd_transitions (deployment_id, seq);
"""

#: The statuses live in conveyor.providers.local.codedeploy.states; importing them from here still works.
__all__ = ["BAKING", "CREATED", "EV_FAILED", "EV_IN_PROGRESS", "EV_SUCCEEDED", "FAILED", "IN_PROGRESS", "PENDING",
           "PIPELINE", "QUEUED", "READY", "ROLLBACK", "SKIPPED", "STOPPED", "SUCCEEDED", "TERMINAL", "USER",
           "CodeDeployment", "DeploymentStore", "new_deployment_id"]
def new_deployment_id() -> str:
    """CodeDeploy's shape: d- and nine characters of [A-Z0-9]."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "d-" + "".join(secrets.choice(alphabet) for _ in range(9))


class DeploymentStore:
    def __init__(self, path: str | Path, clock=time.time):
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.RLock()
        self._db = open_database(self.path, SCHEMA + OUTBOX_SCHEMA)
        self.outbox = OutboxTransactions(self._db, self._lock)
        with self._lock:
            columns = {r["name"] for r in self._db.execute("PRAGMA table_info(cd_deployments)")}
            if "client_token" not in columns:  # data dirs from before
                self._db.execute("ALTER TABLE cd_deployments ADD COLUMN client_token TEXT")
            self._db.execute("CREATE UNIQUE INDEX IF NOT EXISTS cd_deployments_token ON cd_deployments (client_token) "
                             "WHERE client_token IS NOT NULL")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _all(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._db.execute(sql, args))

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """One transaction under the store's lock; its events go with `self.outbox.write`."""
        return self.outbox.transaction()

    # -- status history
    def _record(self, db: sqlite3.Connection, kind: str, dep_id: str, event: str, current: str | None, new: str,
                why: str, now: float) -> None:
        """Check one status move against its table and append it; inside the caller's transaction."""
        check_transition(kind, current, new)
        db.execute("INSERT INTO cd_transitions (kind, deployment_id, event, from_status, to_status, at, reason) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)", (kind, dep_id, event, current, new, now, why or ""))

    def transitions(self, dep_id: str | None = None, *, kind: str | None = None, limit: int = 1000) -> list[dict]:
        """Status moves, oldest first: of one deployment (its own and its lifecycle events') or
        of all; of one kind (deployment, lifecycle_event) or both."""
        where, args = [], []
        if dep_id is not None:
            where.append("deployment_id = ?")
            args.append(dep_id)
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        sql = "SELECT seq, kind, deployment_id, event, from_status, to_status, at, reason FROM cd_transitions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._all(sql + " ORDER BY seq DESC LIMIT ?", (*args, limit))
        return [dict(r) for r in reversed(rows)]

    # -- deployments
    def create(self, environment: str, service: str, *, taskdef: str, appspec: str, group: dict, creator: str,
               origin: dict | None = None, workdir: str | None = None, status: str = CREATED,
               client_token: str | None = None) -> CodeDeployment:
        now = self.clock()
        dep_id = new_deployment_id()
        with self.transaction() as db:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM cd_deployments").fetchone()[0]
            self._record(db, "deployment", dep_id, "", None, status, reasons.created_by(creator), now)
            db.execute(
                "INSERT INTO cd_deployments (id, seq, environment, service, taskdef, appspec, grp, status, phase, "
                "creator, origin, workdir, created_at, updated_at, phase_at, client_token) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (dep_id, seq, environment, service, taskdef, appspec, json.dumps(group), status, "Start", creator,
                 json.dumps(origin or {}), workdir, now, now, now, client_token))
        return _written(self.get(dep_id))

    def by_token(self, client_token: str) -> CodeDeployment | None:
        rows = self._all("SELECT * FROM cd_deployments WHERE client_token = ?", (client_token,))
        return _deployment(rows[0]) if rows else None

    def get(self, dep_id: str) -> CodeDeployment | None:
        rows = self._all("SELECT * FROM cd_deployments WHERE id = ?", (dep_id,))
        return _deployment(rows[0]) if rows else None

    def require(self, dep_id: str) -> CodeDeployment:
        """The deployment, or NotFound."""
        d = self.get(dep_id)
        if d is None:
            raise NotFound(reasons.no_deployment(dep_id))
        return d

    def active(self, environment: str | None = None, service: str | None = None) -> list[CodeDeployment]:
        """Deployments not yet Succeeded/Failed/Stopped, oldest first."""
        sql = "SELECT * FROM cd_deployments WHERE status NOT IN ('Succeeded', 'Failed', 'Stopped')"
        args: tuple = ()
        if environment is not None:
            sql += " AND environment = ? AND service = ?"
            args = (environment, service)
        return [_deployment(r) for r in self._all(sql + " ORDER BY seq", args)]

    def list(self, environment: str, service: str, limit: int = 20) -> list[CodeDeployment]:
        rows = self._all("SELECT * FROM cd_deployments WHERE environment = ? AND service = ? ORDER BY seq DESC "
                         "LIMIT ?", (environment, service, limit))
        return [_deployment(r) for r in rows]

    def update(self, dep_id: str, *, outbox: Sequence[Event] = (), **changes: Any) -> None:
        """Columns other than status (transition moves that); with `outbox`, the events these
        changes record (a traffic shift, a reroute), in the same transaction."""
        refuse_status_keys("update", changes, ("status",), "transition")
        if not outbox:
            with self._lock:
                self._update(self._db, dep_id, changes)
            return
        with self.transaction() as db:
            self._update(db, dep_id, changes)
            self.outbox.write(db, outbox)

    def _update(self, db: sqlite3.Connection, dep_id: str, changes: dict) -> None:
        for key in _JSON:
            if key in changes and changes[key] is not None:
                changes[key] = json.dumps(changes[key])
        if "phase" in changes and "phase_at" not in changes:
            changes["phase_at"] = self.clock()
        changes["updated_at"] = self.clock()
        cols = ", ".join(f"{k} = ?" for k in changes)
        db.execute(f"UPDATE cd_deployments SET {cols} WHERE id = ?", (*changes.values(), dep_id))

    def transition(self, dep_id: str, status: str, *, why: str = "", cause: Cause | None = None,
                   **changes: Any) -> CodeDeployment:
        """Move a deployment's status as the "deployment" table allows, with its other column
        changes, in one transaction, a history row and the stream events the move makes
        (conveyor.providers.local.codedeploy.events; `cause`: who asked, which alarms). `why`
        defaults to the error message."""
        why = why or changes.get("error_message") or ""
        with self.transaction() as db:
            row = db.execute("SELECT * FROM cd_deployments WHERE id = ?", (dep_id,)).fetchone()
            if row is None:
                raise NotFound(reasons.no_deployment(dep_id))
            now = self.clock()
            self._record(db, "deployment", dep_id, "", row["status"], status, why, now)
            self.outbox.write(db, transition_events(_deployment(row), status, changes, cause or Cause(), now=now))
            self._update(db, dep_id, {**changes, "status": status})
        return _written(self.get(dep_id))

    # -- lifecycle events
    def transition_event(self, dep_id: str, name: str, status: str, *, why: str = "", **changes: Any) -> dict:
        """Create a lifecycle event in `status` or move it there, as the "lifecycle_event" table
        allows, with its other column changes, in one transaction, and a history row. `why`
        defaults to the message change."""
        why = why or changes.get("message") or ""
        with self.transaction() as db:
            row = db.execute("SELECT status FROM cd_events WHERE deployment_id = ? AND name = ?",
                             (dep_id, name)).fetchone()
            self._record(db, "lifecycle_event", dep_id, name, row["status"] if row else None, status, why,
                         self.clock())
            if row is None:
                db.execute("INSERT INTO cd_events (deployment_id, name, status) VALUES (?, ?, ?)",
                           (dep_id, name, status))
            self._update_event(db, dep_id, name, {**changes, "status": status})
        return _written(self.lifecycle_event(dep_id, name))

    def event(self, dep_id: str, name: str, **changes: Any) -> None:
        """Update a lifecycle event's columns other than its status (transition_event moves
        that); an event without a row yet gets one, Pending."""
        refuse_status_keys("event", changes, ("status",), "transition_event")
        with self.transaction() as db:
            row = db.execute("SELECT 1 FROM cd_events WHERE deployment_id = ? AND name = ?", (dep_id, name)).fetchone()
            if row is None:
                self._record(db, "lifecycle_event", dep_id, name, None, PENDING, "", self.clock())
                db.execute("INSERT INTO cd_events (deployment_id, name, status) VALUES (?, ?, ?)",
                           (dep_id, name, PENDING))
            if changes:
                self._update_event(db, dep_id, name, changes)

    def _update_event(self, db: sqlite3.Connection, dep_id: str, name: str, changes: dict) -> None:
        if "details" in changes and changes["details"] is not None:
            changes["details"] = json.dumps(changes["details"])
        cols = ", ".join(f"{k} = ?" for k in changes)
        db.execute(f"UPDATE cd_events SET {cols} WHERE deployment_id = ? AND name = ?",
                   (*changes.values(), dep_id, name))

    # (builtins.list from here on: in this class, `list` is the method above)
    def events(self, dep_id: str) -> builtins.list[dict]:
        rows = self._all("SELECT * FROM cd_events WHERE deployment_id = ? ORDER BY COALESCE(started_at, 1e18), rowid",
                         (dep_id,))
        out = []
        for r in rows:
            d = dict(r)
            d["details"] = json.loads(d["details"]) if d["details"] else None
            out.append(d)
        return out

    def lifecycle_event(self, dep_id: str, name: str) -> dict | None:
        return next((e for e in self.events(dep_id) if e["name"] == name), None)

    def find_execution(self, execution_id: str) -> dict | None:
        rows = self._all("SELECT * FROM cd_events WHERE execution_id = ?", (execution_id,))
        return dict(rows[0]) if rows else None

    # -- history (messages and human actions)
    def log(self, dep_id: str, message: str, *, kind: str = "event", who: str | None = None) -> None:
        with self._lock:
            self._db.execute("INSERT INTO cd_history (deployment_id, at, kind, who, message) VALUES (?, ?, ?, ?, ?)",
                             (dep_id, self.clock(), kind, who, message))

    def history(self, dep_id: str, limit: int = 200) -> builtins.list[dict]:
        rows = self._all("SELECT at, kind, who, message FROM cd_history WHERE deployment_id = ? ORDER BY seq DESC "
                         "LIMIT ?", (dep_id, limit))
        return [dict(r) for r in reversed(rows)]


Row = TypeVar("Row")


def _written(row: Row | None) -> Row:
    """A row this store wrote a moment ago, in the same lock."""
    assert row is not None
    return row


def _deployment(row: sqlite3.Row) -> CodeDeployment:
    d = dict(row)
    for key in _JSON:
        d[key] = json.loads(d[key]) if d[key] else ({} if key not in ("stop_request", "continue_request") else None)
    return CodeDeployment(**d)
