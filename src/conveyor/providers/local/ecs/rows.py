"""The rows of the ECS store: its SQLite schema and the dataclasses a query returns.

    >>> task = Task(id="t1", environment="staging", service="orders", deployment_id="ecs-svc/1",
    ...             taskdef="orders:3", last_status="PENDING")
    >>> task.health, task.host_port, task.failed
    ('UNKNOWN', None, 0)
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass, field, fields

SCHEMA = """
CREATE TABLE IF NOT EXISTS taskdefs (
    family TEXT NOT NULL,
    revision INTEGER NOT NULL,
    body TEXT NOT NULL,
    registered_at REAL NOT NULL,
    PRIMARY KEY (family, revision)
);
CREATE TABLE IF NOT EXISTS services (
    environment TEXT NOT NULL,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    taskdef TEXT NOT NULL,
    desired_count INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'ACTIVE',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    unhealthy_since REAL,
    PRIMARY KEY (environment, name)
);
CREATE TABLE IF NOT EXISTS deployments (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    environment TEXT NOT NULL,
    service TEXT NOT NULL,
    taskdef TEXT NOT NULL,
    status TEXT NOT NULL,
    rollout_state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    failed_tasks INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    completed_at REAL,
    origin TEXT NOT NULL DEFAULT '{}',
    timings TEXT NOT NULL DEFAULT '{}',
    target_group TEXT,
    scale INTEGER,
    client_token TEXT
);
CREATE INDEX IF NOT EXISTS deployments_service ON deployments (environment, service, seq);
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    environment TEXT NOT NULL,
    service TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    taskdef TEXT NOT NULL,
    last_status TEXT NOT NULL,
    health TEXT NOT NULL DEFAULT 'UNKNOWN',
    host_port INTEGER,
    created_at REAL NOT NULL,
    running_at REAL,
    healthy_at REAL,
    stopping_at REAL,
    stopped_at REAL,
    stop_code TEXT,
    stopped_reason TEXT,
    failed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS tasks_service ON tasks (environment, service, last_status);
CREATE TABLE IF NOT EXISTS service_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    environment TEXT NOT NULL,
    service TEXT NOT NULL,
    at REAL NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS service_events_service ON service_events (environment, service, seq);
CREATE TABLE IF NOT EXISTS transitions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    entity TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    at REAL NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS transitions_entity ON transitions (entity, seq);
"""


@dataclass
class Task:
    id: str
    environment: str
    service: str
    deployment_id: str
    taskdef: str
    last_status: str
    health: str = "UNKNOWN"
    host_port: int | None = None
    created_at: float = 0.0
    running_at: float | None = None
    healthy_at: float | None = None
    stopping_at: float | None = None
    stopped_at: float | None = None
    stop_code: str | None = None
    stopped_reason: str | None = None
    failed: int = 0

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Deployment:
    id: str
    seq: int
    environment: str
    service: str
    taskdef: str
    status: str
    rollout_state: str
    reason: str = ""
    failed_tasks: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0
    completed_at: float | None = None
    origin: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    #: Blue/green task sets only: the target group its tasks register in, and how many it keeps.
    target_group: str | None = None
    scale: int | None = None
    #: The caller's idempotency key (UpdateService's clientToken): a second call with it finds this.
    client_token: str | None = None

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class ServiceRow:
    environment: str
    name: str
    spec: dict
    taskdef: str
    desired_count: int
    status: str
    created_at: float
    updated_at: float
    #: When a task of the service first failed since it was last steady (service-unhealthy said so).
    unhealthy_since: float | None = None


def new_id(prefix: str = "") -> str:
    return prefix + uuid.uuid4().hex[:12]


def read_service(row: sqlite3.Row) -> ServiceRow:
    d = dict(row)
    d["spec"] = json.loads(d["spec"])
    return ServiceRow(**d)


def read_deployment(row: sqlite3.Row) -> Deployment:
    d = dict(row)
    d["origin"] = json.loads(d["origin"])
    d["timings"] = json.loads(d["timings"])
    return Deployment(**d)
