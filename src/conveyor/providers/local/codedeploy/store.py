"""CodeDeploy deployments as rows (SQLite, WAL, in the data directory): the deployment with its
phase, the lifecycle events with their hook executions, and every human action (who, when,
why). The deploy controller advances a deployment one idempotent step at a time and writes each
step here first, so a daemon that dies mid-deployment resumes where it was.

    store = DeploymentStore(home / "codedeploy.db")
    d = store.create("production", "orders", taskdef="orders:7", appspec=text, group={...}, creator="user")
    store.update(d.id, status=IN_PROGRESS, phase="BeforeInstall")
    store.event(d.id, "BeforeInstall", status="Succeeded")
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from conveyor.store.sqlite import open_database

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
"""

#: Deployment statuses (CodeDeploy GetDeployment; `Baking` is not used for ECS).
CREATED, QUEUED, IN_PROGRESS, READY, SUCCEEDED, FAILED, STOPPED = (
    "Created", "Queued", "InProgress", "Ready", "Succeeded", "Failed", "Stopped")
TERMINAL = (SUCCEEDED, FAILED, STOPPED)
#: Lifecycle event statuses (ECSTarget.lifecycleEvents).
PENDING, EV_IN_PROGRESS, EV_SUCCEEDED, EV_FAILED, SKIPPED = "Pending", "InProgress", "Succeeded", "Failed", "Skipped"
#: Creators (DeploymentInfo.creator).
USER, PIPELINE, ROLLBACK = "user", "CodePipeline", "codeDeployRollback"


@dataclass
class CodeDeployment:
    id: str
    seq: int
    environment: str
    service: str
    taskdef: str
    appspec: str
    grp: dict
    status: str
    phase: str
    creator: str
    origin: dict = field(default_factory=dict)
    original_task_set: str | None = None
    replacement_task_set: str | None = None
    original_tg: str | None = None
    replacement_tg: str | None = None
    traffic: int = 0  # percent of production traffic on the replacement
    step: int = -1  # index in the traffic plan
    step_at: float | None = None
    phase_at: float | None = None
    waiting: str = ""
    error_code: str | None = None
    error_message: str | None = None
    rollback_info: dict = field(default_factory=dict)
    stop_request: dict | None = None
    continue_request: dict | None = None
    workdir: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    completed_at: float | None = None
    timings: dict = field(default_factory=dict)
    #: The caller's idempotency key: creating again with it returns this deployment.
    client_token: str | None = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def to_json(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out.pop("appspec")
        out["group"] = out.pop("grp")
        out["rollbackInfo"] = out.pop("rollback_info")  # CodeDeploy's DeploymentInfo.rollbackInfo
        return out


_JSON = ("grp", "origin", "rollback_info", "stop_request", "continue_request", "timings")


def new_deployment_id() -> str:
    """CodeDeploy's shape: d- and nine characters of [A-Z0-9]."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "d-" + "".join(secrets.choice(alphabet) for _ in range(9))


class DeploymentStore:
    def __init__(self, path: str | Path, clock=time.time):
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.RLock()
        self._db = open_database(self.path, SCHEMA)
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

    # -- deployments
    def create(self, environment: str, service: str, *, taskdef: str, appspec: str, group: dict, creator: str,
               origin: dict | None = None, workdir: str | None = None, status: str = CREATED,
               client_token: str | None = None) -> CodeDeployment:
        now = self.clock()
        dep_id = new_deployment_id()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM cd_deployments").fetchone()[0]
                self._db.execute(
                    "INSERT INTO cd_deployments (id, seq, environment, service, taskdef, appspec, grp, status, phase, "
                    "creator, origin, workdir, created_at, updated_at, phase_at, client_token) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (dep_id, seq, environment, service, taskdef, appspec, json.dumps(group), status, "Start", creator,
                     json.dumps(origin or {}), workdir, now, now, now, client_token))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return self.get(dep_id)

    def by_token(self, client_token: str) -> CodeDeployment | None:
        rows = self._all("SELECT * FROM cd_deployments WHERE client_token = ?", (client_token,))
        return _deployment(rows[0]) if rows else None

    def get(self, dep_id: str) -> CodeDeployment | None:
        rows = self._all("SELECT * FROM cd_deployments WHERE id = ?", (dep_id,))
        return _deployment(rows[0]) if rows else None

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

    def update(self, dep_id: str, **changes: Any) -> None:
        for key in _JSON:
            if key in changes and changes[key] is not None:
                changes[key] = json.dumps(changes[key])
        if "phase" in changes and "phase_at" not in changes:
            changes["phase_at"] = self.clock()
        changes["updated_at"] = self.clock()
        cols = ", ".join(f"{k} = ?" for k in changes)
        with self._lock:
            self._db.execute(f"UPDATE cd_deployments SET {cols} WHERE id = ?", (*changes.values(), dep_id))

    # -- lifecycle events
    def event(self, dep_id: str, name: str, **changes: Any) -> None:
        """Create or update one lifecycle event of a deployment."""
        if "details" in changes and changes["details"] is not None:
            changes["details"] = json.dumps(changes["details"])
        with self._lock:
            self._db.execute("INSERT INTO cd_events (deployment_id, name, status) VALUES (?, ?, ?) "
                             "ON CONFLICT (deployment_id, name) DO NOTHING",
                             (dep_id, name, changes.get("status", PENDING)))
            if changes:
                cols = ", ".join(f"{k} = ?" for k in changes)
                self._db.execute(f"UPDATE cd_events SET {cols} WHERE deployment_id = ? AND name = ?",
                                 (*changes.values(), dep_id, name))

    def events(self, dep_id: str) -> list[dict]:
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

    def history(self, dep_id: str, limit: int = 200) -> list[dict]:
        rows = self._all("SELECT at, kind, who, message FROM cd_history WHERE deployment_id = ? ORDER BY seq DESC "
                         "LIMIT ?", (dep_id, limit))
        return [dict(r) for r in reversed(rows)]


def _deployment(row: sqlite3.Row) -> CodeDeployment:
    d = dict(row)
    for key in _JSON:
        d[key] = json.loads(d[key]) if d[key] else ({} if key not in ("stop_request", "continue_request") else None)
    return CodeDeployment(**d)
