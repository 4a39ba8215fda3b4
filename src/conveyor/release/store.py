"""What the release service remembers (releases.db in the data directory): each service's
declaration as last deployed (its backend target, for the commands that name only ENV SERVICE),
the deployments it created (so one id finds its backend), and the idempotency records of the
callers that create deployments: a key is written before the backend call and the deployment id
after it, so a caller re-run after a crash adopts what the first run created.

    >>> store = ReleaseStore(":memory:")                     # home / "releases.db" in the daemon
    >>> store.intend("exec-1/Deploy/Deploy/1", "production", "orders")
    >>> store.request("exec-1/Deploy/Deploy/1").release_id is None
    True
    >>> store.created("exec-1/Deploy/Deploy/1",
    ...               ReleaseRecord("d-ABCDEFGHI", "production", "orders", "CODE_DEPLOY", "local"))
    >>> store.request("exec-1/Deploy/Deploy/1").release_id
    'd-ABCDEFGHI'
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.deploy.spec import ServiceSpec
from conveyor.store.sqlite import open_database

SCHEMA = """
CREATE TABLE IF NOT EXISTS declared_services (
    environment TEXT NOT NULL,
    service TEXT NOT NULL,
    target TEXT NOT NULL,
    spec TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (environment, service)
);
CREATE TABLE IF NOT EXISTS environments (
    name TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    settings TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS releases (
    id TEXT PRIMARY KEY,
    environment TEXT NOT NULL,
    service TEXT NOT NULL,
    controller TEXT NOT NULL,
    target TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS actions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id TEXT NOT NULL,
    at REAL NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS actions_deployment ON actions (deployment_id, seq);
CREATE TABLE IF NOT EXISTS requests (
    key TEXT PRIMARY KEY,
    environment TEXT NOT NULL,
    service TEXT NOT NULL,
    release_id TEXT,
    requested_at REAL NOT NULL,
    created_at REAL
);
"""


@dataclass(frozen=True)
class ReleaseRecord:
    id: str
    environment: str
    service: str
    controller: str
    target: str


@dataclass(frozen=True)
class RequestRecord:
    key: str
    environment: str
    service: str
    release_id: str | None


class ReleaseStore:
    def __init__(self, path: str | Path, clock: Callable[[], float] = time.time):
        self.clock = clock
        self._lock = threading.RLock()
        self._db = open_database(path, SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- declarations
    def declare(self, spec: ServiceSpec) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO declared_services (environment, service, target, spec, updated_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (environment, service) DO UPDATE SET target = excluded.target, spec = excluded.spec, "
                "updated_at = excluded.updated_at",
                (spec.environment, spec.name, spec.target, json.dumps(spec.to_json()), self.clock()))

    def declared(self, environment: str, service: str) -> ServiceSpec | None:
        with self._lock:
            row = self._db.execute("SELECT spec FROM declared_services WHERE environment = ? AND service = ?",
                                   (environment, service)).fetchone()
        return ServiceSpec.from_json(json.loads(row["spec"])) if row else None

    def remember_environment(self, spec: ServiceSpec) -> None:
        """The environment's target and backend settings, as of the latest deployment to it
        (written before the backend is called: it needs them to find the environment)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO environments (name, target, settings, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET target = excluded.target, settings = excluded.settings, "
                "updated_at = excluded.updated_at",
                (spec.environment, spec.target, json.dumps(spec.environment_settings, sort_keys=True), self.clock()))

    def target(self, environment: str) -> str | None:
        """The target the environment was last deployed to."""
        with self._lock:
            row = self._db.execute("SELECT target FROM environments WHERE name = ?", (environment,)).fetchone()
            if row is None:  # data directories from before the environments table
                row = self._db.execute("SELECT target FROM declared_services WHERE environment = ? "
                                       "ORDER BY updated_at DESC LIMIT 1", (environment,)).fetchone()
        return row["target"] if row else None

    def environment_settings(self, environment: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT settings FROM environments WHERE name = ?", (environment,)).fetchone()
        return json.loads(row["settings"]) if row else None

    def environments(self, target: str) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT name FROM environments WHERE target = ? ORDER BY name", (target,))
            return [r["name"] for r in rows]

    # -- releases
    def record(self, release: ReleaseRecord) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO releases "
                             "(id, environment, service, controller, target, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                             (release.id, release.environment, release.service, release.controller, release.target,
                              self.clock()))

    def release(self, release_id: str) -> ReleaseRecord | None:
        with self._lock:
            row = self._db.execute("SELECT id, environment, service, controller, target FROM releases WHERE id = ?",
                                   (release_id,)).fetchone()
        return ReleaseRecord(**dict(row)) if row else None

    # -- idempotency
    def intend(self, key: str, environment: str, service: str) -> None:
        """Before the backend call: the key exists, its deployment not yet."""
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO requests (key, environment, service, requested_at) "
                             "VALUES (?, ?, ?, ?)", (key, environment, service, self.clock()))

    def created(self, key: str, release: ReleaseRecord) -> None:
        """After the backend call: the key's deployment, recorded with the release in one transaction."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("INSERT OR IGNORE INTO releases (id, environment, service, controller, target, "
                                 "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                                 (release.id, release.environment, release.service, release.controller,
                                  release.target, self.clock()))
                self._db.execute("UPDATE requests SET release_id = ?, created_at = ? WHERE key = ?",
                                 (release.id, self.clock(), key))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def request(self, key: str) -> RequestRecord | None:
        with self._lock:
            row = self._db.execute("SELECT key, environment, service, release_id FROM requests WHERE key = ?",
                                   (key,)).fetchone()
        return RequestRecord(**dict(row)) if row else None

    # -- people's actions on deployments a backend does not journal itself (AWS: CodeDeploy keeps
    # no who and why)
    def record_action(self, deployment_id: str, who: str, action: str, reason: str = "") -> None:
        with self._lock:
            self._db.execute("INSERT INTO actions (deployment_id, at, who, action, reason) VALUES (?, ?, ?, ?, ?)",
                             (deployment_id, self.clock(), who, action, reason))

    def actions(self, deployment_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT at, who, action, reason FROM actions WHERE deployment_id = ? "
                                    "ORDER BY seq", (deployment_id,)).fetchall()
        return [dict(r) for r in rows]
