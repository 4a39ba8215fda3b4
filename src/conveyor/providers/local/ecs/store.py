"""Where services, task definition revisions, deployments, tasks and service events live: SQLite
(WAL) in the data directory, so the daemon can die at any moment and pick up where it was.

Task definitions are immutable numbered revisions (`family:3`). A service, a deployment and a
task are rows whose status moves only as the tables in conveyor.providers.local.ecs.states allow:
the transition_* methods check the move, write it with the row's other changes in one SQL
transaction and append it to `transitions` (the status history); the generic update methods
refuse status columns. Every change of note is also an appended service event, the history
`conveyor service describe` shows.

    store.transition_task(task.id, RUNNING, running_at=now, host_port=32768)
    store.transitions(task.id)   # [{'kind': 'task', 'from_status': None, 'to_status': 'PENDING', ...}, ...]
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, TypeVar

from conveyor.errors import NotFound
from conveyor.events.outbox import OUTBOX_SCHEMA, OutboxTransactions
from conveyor.providers.local.ecs import events as stream_events
from conveyor.providers.local.ecs import reasons
from conveyor.providers.local.ecs.rows import (
    SCHEMA,
    Deployment,
    ServiceRow,
    Task,
    new_id,
    read_deployment,
    read_service,
)
from conveyor.providers.local.ecs.states import (
    ACTIVE,
    COMPLETED,
    DEACTIVATING,
    DRAINING,
    FAILED,
    IN_PROGRESS,
    INACTIVE,
    LIVE,
    PENDING,
    PRIMARY,
    RUNNING,
    STOPPED,
    STOPPING,
    check_transition,
    deployment_scope,
)
from conveyor.store.sqlite import open_database
from conveyor.transitions import refuse_status_keys

#: The statuses live in conveyor.providers.local.ecs.states and the rows in .rows; importing them from here
#: still works.
__all__ = ["ACTIVE", "COMPLETED", "DEACTIVATING", "DRAINING", "FAILED", "INACTIVE", "IN_PROGRESS", "LIVE", "PENDING",
           "PRIMARY", "RUNNING", "STOPPED", "STOPPING", "EVENTS_KEPT", "Deployment", "EcsStore", "ServiceRow", "Task",
           "new_id"]
#: ECS keeps the latest 100 events per service.
EVENTS_KEPT = 100


class EcsStore:
    def __init__(self, path: str | Path, clock=time.time):
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.RLock()
        self._db = open_database(self.path, SCHEMA + OUTBOX_SCHEMA)
        self.outbox = OutboxTransactions(self._db, self._lock)
        with self._lock:
            columns = {r["name"] for r in self._db.execute("PRAGMA table_info(deployments)")}
            for column, kind in (("target_group", "TEXT"), ("scale", "INTEGER"), ("client_token", "TEXT")):
                if column not in columns:  # data dirs from before
                    self._db.execute(f"ALTER TABLE deployments ADD COLUMN {column} {kind}")
            if "unhealthy_since" not in {r["name"] for r in self._db.execute("PRAGMA table_info(services)")}:
                self._db.execute("ALTER TABLE services ADD COLUMN unhealthy_since REAL")
            self._db.execute("CREATE UNIQUE INDEX IF NOT EXISTS deployments_token ON deployments (client_token) "
                             "WHERE client_token IS NOT NULL")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """One transaction under the store's lock; its events go with `self.outbox.write`."""
        return self.outbox.transaction()

    def _all(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._db.execute(sql, args))

    # -- status history
    def _record(self, db: sqlite3.Connection, kind: str, entity: str, current: str | None, new: str, why: str,
                now: float) -> None:
        """Check one status move against its table and append it; inside the caller's transaction."""
        check_transition(kind, current, new)
        db.execute("INSERT INTO transitions (kind, entity, from_status, to_status, at, reason) "
                   "VALUES (?, ?, ?, ?, ?, ?)", (kind, entity, current, new, now, why or ""))

    def transitions(self, entity: str | None = None, *, kind: str | None = None, limit: int = 1000) -> list[dict]:
        """Status moves, oldest first: of one service ("environment/name"), deployment or task,
        or all of them; of one kind (service, deployment, task_set, rollout, task) or all."""
        where, args = [], []
        if entity is not None:
            where.append("entity = ?")
            args.append(entity)
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        sql = "SELECT seq, kind, entity, from_status, to_status, at, reason FROM transitions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._all(sql + " ORDER BY seq DESC LIMIT ?", (*args, limit))
        return [dict(r) for r in reversed(rows)]

    # -- task definitions
    def register_taskdef(self, family: str, body: dict) -> tuple[str, bool]:
        """A new revision `family:N`, unless the latest revision has the same body: then that
        one (a re-run of the same deploy registers nothing). Returns (arn-ish name, created)."""
        text = json.dumps(body, sort_keys=True)
        with self.transaction() as db:
            last = db.execute("SELECT revision, body FROM taskdefs WHERE family = ? ORDER BY revision DESC LIMIT 1",
                              (family,)).fetchone()
            if last and json.dumps(json.loads(last["body"]), sort_keys=True) == text:
                return f"{family}:{last['revision']}", False
            revision = (last["revision"] if last else 0) + 1
            db.execute("INSERT INTO taskdefs (family, revision, body, registered_at) VALUES (?, ?, ?, ?)",
                       (family, revision, text, self.clock()))
        return f"{family}:{revision}", True

    def _taskdef_body(self, db: sqlite3.Connection, name: str) -> dict | None:
        family, _, revision = name.rpartition(":")
        if not revision.isdigit():
            return None
        row = db.execute("SELECT body FROM taskdefs WHERE family = ? AND revision = ?",
                         (family, int(revision))).fetchone()
        return json.loads(row["body"]) if row else None

    def taskdef(self, name: str) -> dict | None:
        family, _, revision = name.rpartition(":")
        rows = self._all("SELECT body FROM taskdefs WHERE family = ? AND revision = ?", (family, int(revision)))
        return json.loads(rows[0]["body"]) if rows else None

    def taskdef_revisions(self, family: str) -> list[dict]:
        return [{"taskDefinition": f"{family}:{r['revision']}", "registeredAt": r["registered_at"]}
                for r in self._all("SELECT revision, registered_at FROM taskdefs WHERE family = ? ORDER BY revision",
                                   (family,))]

    # -- services
    def service(self, environment: str, name: str) -> ServiceRow | None:
        rows = self._all("SELECT * FROM services WHERE environment = ? AND name = ?", (environment, name))
        return read_service(rows[0]) if rows else None

    def services(self, environment: str | None = None) -> list[ServiceRow]:
        if environment:
            rows = self._all("SELECT * FROM services WHERE environment = ? ORDER BY name", (environment,))
        else:
            rows = self._all("SELECT * FROM services ORDER BY environment, name")
        return [read_service(r) for r in rows]

    def put_service(self, environment: str, name: str, spec: dict, taskdef: str, desired_count: int) -> None:
        """Create the service (ACTIVE) or update its declaration; a service that is not ACTIVE
        becomes ACTIVE again only where the table allows it."""
        now = self.clock()
        with self.transaction() as db:
            row = db.execute("SELECT status FROM services WHERE environment = ? AND name = ?",
                             (environment, name)).fetchone()
            if row is None:
                self._record(db, "service", _service_key(environment, name), None, ACTIVE, reasons.HISTORY_CREATED, now)
                db.execute("INSERT INTO services (environment, name, spec, taskdef, desired_count, status, created_at, "
                           "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (environment, name, json.dumps(spec), taskdef, desired_count, ACTIVE, now, now))
                return
            if row["status"] != ACTIVE:
                self._record(db, "service", _service_key(environment, name), row["status"], ACTIVE,
                             reasons.HISTORY_CREATED_AGAIN, now)
            db.execute("UPDATE services SET spec = ?, taskdef = ?, desired_count = ?, updated_at = ?, status = ? "
                       "WHERE environment = ? AND name = ?",
                       (json.dumps(spec), taskdef, desired_count, now, ACTIVE, environment, name))

    def transition_service(self, environment: str, name: str, status: str, *, why: str = "") -> ServiceRow:
        """Move a service's status as the "service" table allows, with a history row."""
        now = self.clock()
        with self.transaction() as db:
            row = db.execute("SELECT status FROM services WHERE environment = ? AND name = ?",
                             (environment, name)).fetchone()
            if row is None:
                raise NotFound(reasons.service_not_found(environment, name))
            self._record(db, "service", _service_key(environment, name), row["status"], status, why, now)
            db.execute("UPDATE services SET status = ?, updated_at = ? WHERE environment = ? AND name = ?",
                       (status, now, environment, name))
        return _written(self.service(environment, name))

    def set_desired_count(self, environment: str, name: str, count: int) -> None:
        with self._lock:
            self._db.execute("UPDATE services SET desired_count = ?, updated_at = ? WHERE environment = ? AND name = ?",
                             (count, self.clock(), environment, name))

    # -- deployments
    def create_deployment(self, environment: str, service: str, taskdef: str, origin: dict, *,
                          client_token: str | None = None) -> Deployment:
        """The new PRIMARY; the previous PRIMARY becomes ACTIVE (it still has tasks)."""
        now = self.clock()
        dep_id = new_id("ecs-svc/")
        with self.transaction() as db:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM deployments").fetchone()[0]
            self._demote_primary(db, environment, service, reasons.history_replaced_by(dep_id), now)
            self._record(db, "deployment", dep_id, None, PRIMARY, reasons.history_deployment_of(taskdef), now)
            self._record(db, "rollout", dep_id, None, IN_PROGRESS, reasons.history_deployment_of(taskdef), now)
            db.execute("INSERT INTO deployments (id, seq, environment, service, taskdef, status, rollout_state, "
                       "created_at, updated_at, origin, client_token) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (dep_id, seq, environment, service, taskdef, PRIMARY, IN_PROGRESS, now, now, json.dumps(origin),
                        client_token))
            db.execute("UPDATE services SET taskdef = ?, updated_at = ? WHERE environment = ? AND name = ?",
                       (taskdef, now, environment, service))
            dep = read_deployment(db.execute("SELECT * FROM deployments WHERE id = ?", (dep_id,)).fetchone())
            self.outbox.write(db, stream_events.started(dep, now=now, taskdef_body=self._taskdef_body(db, taskdef)))
        return dep

    def create_task_set(self, environment: str, service: str, taskdef: str, target_group: str, scale: int,
                        origin: dict, *, primary: bool = False) -> Deployment:
        """A blue/green task set (a deployment row that keeps `scale` tasks registered in
        `target_group`). ACTIVE (the replacement) unless `primary` (a service's first one)."""
        now = self.clock()
        dep_id = new_id("ecs-svc/")
        status = PRIMARY if primary else ACTIVE
        with self.transaction() as db:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM deployments").fetchone()[0]
            why = reasons.history_task_set_of(taskdef, target_group)
            self._record(db, "task_set", dep_id, None, status, why, now)
            self._record(db, "rollout", dep_id, None, IN_PROGRESS, why, now)
            db.execute("INSERT INTO deployments (id, seq, environment, service, taskdef, status, rollout_state, "
                       "created_at, updated_at, origin, target_group, scale) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (dep_id, seq, environment, service, taskdef, status, IN_PROGRESS, now,
                        now, json.dumps(origin), target_group, scale))
            if primary:
                db.execute("UPDATE services SET taskdef = ?, updated_at = ? WHERE environment = ? AND name = ?",
                           (taskdef, now, environment, service))
        return _written(self.deployment(dep_id))

    def promote_task_set(self, dep_id: str) -> None:
        """The replacement becomes PRIMARY (it serves production); the old PRIMARY becomes ACTIVE.
        Promoting the PRIMARY changes no status."""
        now = self.clock()
        with self.transaction() as db:
            row = db.execute("SELECT environment, service, taskdef, status, scale FROM deployments WHERE id = ?",
                             (dep_id,)).fetchone()
            if row is None:
                return
            if row["status"] != PRIMARY:
                self._demote_primary(db, row["environment"], row["service"],
                                     reasons.history_task_set_promoted(dep_id), now)
                self._record(db, deployment_scope(row["scale"]), dep_id, row["status"], PRIMARY,
                             reasons.HISTORY_PROMOTED, now)
                db.execute("UPDATE deployments SET status = ?, updated_at = ? WHERE id = ?", (PRIMARY, now, dep_id))
            db.execute("UPDATE services SET taskdef = ?, updated_at = ? WHERE environment = ? AND name = ?",
                       (row["taskdef"], now, row["environment"], row["service"]))

    def deployment_by_token(self, client_token: str) -> Deployment | None:
        rows = self._all("SELECT * FROM deployments WHERE client_token = ?", (client_token,))
        return read_deployment(rows[0]) if rows else None

    def _demote_primary(self, db: sqlite3.Connection, environment: str, service: str, why: str, now: float) -> None:
        for other in db.execute("SELECT id, scale FROM deployments "
                                "WHERE environment = ? AND service = ? AND status = ?",
                                (environment, service, PRIMARY)).fetchall():
            self._record(db, deployment_scope(other["scale"]), other["id"], PRIMARY, ACTIVE, why, now)
            db.execute("UPDATE deployments SET status = ?, updated_at = ? WHERE id = ?", (ACTIVE, now, other["id"]))

    def transition_deployment(self, dep_id: str, *, status: str | None = None, rollout_state: str | None = None,
                              why: str = "", **changes: Any) -> Deployment:
        """Move a deployment's status (the "deployment" table, or "task_set" for a row with a
        scale) and/or its rolloutState ("rollout"), with its other column changes, in one
        transaction; one history row per moved column. `why` defaults to the `reason` change."""
        if status is None and rollout_state is None:
            raise TypeError("transition_deployment needs a status or a rollout_state")
        why = why or changes.get("reason") or ""
        now = self.clock()
        with self.transaction() as db:
            row = db.execute("SELECT * FROM deployments WHERE id = ?", (dep_id,)).fetchone()
            if row is None:
                raise NotFound(reasons.deployment_not_found(dep_id))
            if status is not None:
                self._record(db, deployment_scope(row["scale"]), dep_id, row["status"], status, why, now)
                changes["status"] = status
            if rollout_state is not None:
                self._record(db, "rollout", dep_id, row["rollout_state"], rollout_state, why, now)
                self.outbox.write(db, stream_events.rollout_events(read_deployment(row), rollout_state, why, now=now))
                changes["rollout_state"] = rollout_state
            self._update_deployment(db, dep_id, changes, now)
        return _written(self.deployment(dep_id))

    def deployment(self, dep_id: str) -> Deployment | None:
        rows = self._all("SELECT * FROM deployments WHERE id = ?", (dep_id,))
        return read_deployment(rows[0]) if rows else None

    def deployments(self, environment: str, service: str, *, live_only: bool = False,
                    limit: int = 50) -> list[Deployment]:
        where = " AND status != 'INACTIVE'" if live_only else ""
        rows = self._all(f"SELECT * FROM deployments WHERE environment = ? AND service = ?{where} "
                         "ORDER BY seq DESC LIMIT ?", (environment, service, limit))
        return [read_deployment(r) for r in rows]

    def update_deployment(self, dep_id: str, **changes: Any) -> None:
        """Columns other than status and rollout_state (transition_deployment moves those)."""
        refuse_status_keys("update_deployment", changes, ("status", "rollout_state"), "transition_deployment")
        with self._lock:
            self._update_deployment(self._db, dep_id, changes, self.clock())

    def _update_deployment(self, db: sqlite3.Connection, dep_id: str, changes: dict, now: float) -> None:
        if "timings" in changes:
            changes["timings"] = json.dumps(changes["timings"])
        changes["updated_at"] = now
        cols = ", ".join(f"{k} = ?" for k in changes)
        db.execute(f"UPDATE deployments SET {cols} WHERE id = ?", (*changes.values(), dep_id))

    # -- tasks
    def add_task(self, task: Task) -> None:
        values = task.to_json()
        with self.transaction() as db:
            self._record(db, "task", task.id, None, task.last_status, reasons.history_task_of(task.deployment_id),
                         task.created_at or self.clock())
            db.execute(f"INSERT INTO tasks ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                       tuple(values.values()))

    def update_task(self, task_id: str, **changes: Any) -> None:
        """Columns other than last_status (transition_task moves that)."""
        refuse_status_keys("update_task", changes, ("last_status",), "transition_task")
        cols = ", ".join(f"{k} = ?" for k in changes)
        with self._lock:
            self._db.execute(f"UPDATE tasks SET {cols} WHERE id = ?", (*changes.values(), task_id))

    def transition_task(self, task_id: str, last_status: str, *, why: str = "", **changes: Any) -> Task:
        """Move a task's lastStatus as the "task" table allows, with its other column changes,
        in one transaction, and a history row. `why` defaults to the stopped_reason change. A
        failed task (`failed=1`) of a service that was healthy starts an unhealthy episode:
        service-unhealthy, once until the service is steady again."""
        why = why or changes.get("stopped_reason") or ""
        with self.transaction() as db:
            row = db.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
            if row is None:
                raise NotFound(reasons.task_not_found(task_id))
            now = self.clock()
            self._record(db, "task", task_id, row["last_status"], last_status, why, now)
            if changes.get("failed") and not row["failed"]:
                self._begin_unhealthy(db, Task(**dict(row)), why, changes.get("stop_code"), now)
            changes["last_status"] = last_status
            cols = ", ".join(f"{k} = ?" for k in changes)
            db.execute(f"UPDATE tasks SET {cols} WHERE id = ?", (*changes.values(), task_id))
        return _written(self.task(task_id))

    def _begin_unhealthy(self, db: sqlite3.Connection, task: Task, why: str, stop_code: str | None,
                         now: float) -> None:
        claimed = db.execute("UPDATE services SET unhealthy_since = ? WHERE environment = ? AND name = ? "
                             "AND unhealthy_since IS NULL", (now, task.environment, task.service)).rowcount
        if claimed:
            self.outbox.write(db, [stream_events.unhealthy(task, why, stop_code, now=now)])

    def task(self, task_id: str) -> Task | None:
        rows = self._all("SELECT * FROM tasks WHERE id = ?", (task_id,))
        return Task(**dict(rows[0])) if rows else None

    def tasks(self, environment: str, service: str, *, live_only: bool = True, limit: int = 200) -> list[Task]:
        if live_only:
            rows = self._all("SELECT * FROM tasks WHERE environment = ? AND service = ? AND last_status != 'STOPPED' "
                             "ORDER BY created_at", (environment, service))
        else:
            rows = self._all("SELECT * FROM tasks WHERE environment = ? AND service = ? ORDER BY created_at DESC "
                             "LIMIT ?", (environment, service, limit))
        return [Task(**dict(r)) for r in rows]

    def live_task_ids(self) -> set[str]:
        return {r["id"] for r in self._all("SELECT id FROM tasks WHERE last_status != 'STOPPED'")}

    # -- events
    def event(self, environment: str, service: str, message: str) -> bool:
        """Append a service event unless it repeats the latest one (ECS de-duplicates)."""
        with self._lock:
            return self._append_event(self._db, environment, service, message, self.clock())

    def reached_steady_state(self, environment: str, service: str, message: str, *, announce: bool = True) -> bool:
        """The service has just become steady: its service event `message` (unless it repeats
        the latest one, as after a daemon restart) with service-steady-state, and the end of an
        unhealthy episode, in one transaction; without `announce` (a blue/green deployment
        between steps) only the service event. Returns whether the service event was new."""
        now = self.clock()
        with self.transaction() as db:
            new = self._append_event(db, environment, service, message, now)
            if announce:
                db.execute("UPDATE services SET unhealthy_since = NULL WHERE environment = ? AND name = ?",
                           (environment, service))
                if new:
                    self.outbox.write(db, [stream_events.steady(environment, service, now=now)])
        return new

    def _append_event(self, db: sqlite3.Connection, environment: str, service: str, message: str,
                      now: float) -> bool:
        last = db.execute("SELECT message FROM service_events WHERE environment = ? AND service = ? "
                          "ORDER BY seq DESC LIMIT 1", (environment, service)).fetchone()
        if last and last["message"] == message:
            return False
        db.execute("INSERT INTO service_events (environment, service, at, message) VALUES (?, ?, ?, ?)",
                   (environment, service, now, message))
        db.execute("DELETE FROM service_events WHERE environment = ? AND service = ? AND seq <= "
                   "(SELECT seq FROM service_events WHERE environment = ? AND service = ? "
                   "ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                   (environment, service, environment, service, EVENTS_KEPT))
        return True

    def events(self, environment: str, service: str, limit: int = 20, since_seq: int = 0) -> list[dict]:
        rows = self._all("SELECT seq, at, message FROM service_events WHERE environment = ? AND service = ? "
                         "AND seq > ? ORDER BY seq DESC LIMIT ?", (environment, service, since_seq, limit))
        return [dict(r) for r in rows]


def _service_key(environment: str, name: str) -> str:
    return f"{environment}/{name}"


Row = TypeVar("Row")


def _written(row: Row | None) -> Row:
    """A row this store wrote a moment ago, in the same lock."""
    assert row is not None
    return row
