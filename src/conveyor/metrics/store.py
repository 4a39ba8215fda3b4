"""Where metrics and alarm states live: SQLite (WAL) in the data directory, safe to share
between the sampler thread, the alarm monitor and API handlers.

    store = MetricStore(home / "metrics.db")
    store.put([Datapoint(1700000000, "tg:production-orders-2", "RequestCount", 12.0)])
    store.series("tg:production-orders-2", "RequestCount", since=1699999990, until=1700000001)
    store.latest("tg:production-orders-2")          # {"RequestCount": (1700000000, 12.0)}
    store.prune(now=time.time())                      # drops what is older than RETENTION

Scopes: `tg:<target group>` (target group names carry their environment) and
`listener:<environment>:<port>`. One row per (series, second); a series is a (scope, metric)
pair numbered once, so a datapoint costs three integers and a float.

Alarm states are rows too: `alarms` holds each alarm's current state, `alarm_history` one row per
transition (the latest HISTORY_KEPT per alarm, like ECS keeps the latest 100 service events).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from conveyor.store.sqlite import open_database

#: How long datapoints are kept. CloudWatch keeps 1-second (high-resolution) datapoints for
#: 3 hours and 1-minute ones for 15 days; a day of seconds is enough to look back on releases.
DEFAULT_RETENTION = 24 * 3600.0
#: Transitions kept per alarm.
HISTORY_KEPT = 100

SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    scope TEXT NOT NULL,
    metric TEXT NOT NULL,
    UNIQUE (scope, metric)
);
CREATE TABLE IF NOT EXISTS datapoints (
    series INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (series, ts)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS datapoints_ts ON datapoints (ts);
CREATE TABLE IF NOT EXISTS alarms (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}',
    since REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS alarm_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    at REAL NOT NULL,
    old_state TEXT,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS alarm_history_key ON alarm_history (key, seq);
"""


@dataclass(frozen=True)
class Datapoint:
    ts: int  # the second (epoch) the value is about
    scope: str
    metric: str
    value: float


@dataclass(frozen=True)
class AlarmState:
    """An alarm's current state, entered at `since`; `data` is what the monitor keeps with it
    (the deployment start it judges from, the datapoints of the transition)."""

    key: str
    state: str
    reason: str
    since: float
    data: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class AlarmTransition:
    key: str
    at: float
    old_state: str | None
    state: str
    reason: str
    data: dict = field(default_factory=dict, compare=False)

    def to_json(self) -> dict:
        return {"key": self.key, "at": self.at, "oldState": self.old_state, "state": self.state,
                "reason": self.reason, "data": self.data}


def tg_scope(target_group: str) -> str:
    return f"tg:{target_group}"


def listener_scope(environment: str, port: int) -> str:
    return f"listener:{environment}:{port}"


class MetricStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = open_database(self.path, SCHEMA, rows=False)
        self._series: dict[tuple[str, str], int] = {}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- datapoints --------------------------------------------------------------------------

    def put(self, points: Iterable[Datapoint]) -> None:
        """Write datapoints in one transaction; a second written twice keeps the last value."""
        points = list(points)
        if not points:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rows = [(self._series_id(p.scope, p.metric), int(p.ts), float(p.value))
                        for p in points]
                self._db.executemany(
                    "INSERT OR REPLACE INTO datapoints (series, ts, value) VALUES (?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._series.clear()  # ids created in the rolled-back transaction are gone
                raise

    def series(self, scope: str, metric: str, since: float, until: float) -> list[tuple[int, float]]:
        """[(ts, value)] with since <= ts < until, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT d.ts, d.value FROM datapoints d JOIN series s ON s.id = d.series "
                "WHERE s.scope = ? AND s.metric = ? AND d.ts >= ? AND d.ts < ? ORDER BY d.ts",
                (scope, metric, since, until)).fetchall()
        return [(int(ts), float(value)) for ts, value in rows]

    def latest(self, scope: str) -> dict[str, tuple[int, float]]:
        """Each metric of a scope with its newest datapoint."""
        with self._lock:
            rows = self._db.execute(
                "SELECT s.metric, d.ts, d.value FROM series s JOIN datapoints d ON d.series = s.id "
                "WHERE s.scope = ? AND d.ts = (SELECT MAX(ts) FROM datapoints WHERE series = s.id)",
                (scope,)).fetchall()
        return {metric: (int(ts), float(value)) for metric, ts, value in rows}

    def scopes(self, prefix: str = "") -> list[str]:
        """The scopes that have datapoints, e.g. scopes("tg:production-")."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT s.scope FROM series s WHERE s.scope LIKE ? ESCAPE '\\' AND "
                "EXISTS (SELECT 1 FROM datapoints d WHERE d.series = s.id) ORDER BY s.scope",
                (_like_prefix(prefix),)).fetchall()
        return [scope for (scope,) in rows]

    def prune(self, now: float, retention_seconds: float = DEFAULT_RETENTION) -> int:
        """Delete datapoints older than the retention; returns how many."""
        with self._lock:
            cursor = self._db.execute("DELETE FROM datapoints WHERE ts < ?",
                                      (int(now - retention_seconds),))
            return cursor.rowcount

    def _series_id(self, scope: str, metric: str) -> int:
        key = (scope, metric)
        found = self._series.get(key)
        if found is None:
            self._db.execute("INSERT OR IGNORE INTO series (scope, metric) VALUES (?, ?)", key)
            found = self._db.execute("SELECT id FROM series WHERE scope = ? AND metric = ?",
                                     key).fetchone()[0]
            self._series[key] = found
        return found

    # --- alarm states ------------------------------------------------------------------------

    def alarm_state(self, key: str) -> AlarmState | None:
        with self._lock:
            row = self._db.execute("SELECT state, reason, since, data FROM alarms WHERE key = ?",
                                   (key,)).fetchone()
        if row is None:
            return None
        return AlarmState(key, row[0], row[1], row[2], json.loads(row[3]))

    def alarm_states(self, prefix: str = "") -> list[AlarmState]:
        """Every alarm whose key starts with `prefix` ("production/orders/")."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, state, reason, since, data FROM alarms WHERE key LIKE ? ESCAPE '\\' "
                "ORDER BY key", (_like_prefix(prefix),)).fetchall()
        return [AlarmState(k, s, r, t, json.loads(d)) for k, s, r, t, d in rows]

    def set_alarm_state(self, key: str, state: str, reason: str, data: dict, at: float) -> AlarmState:
        """Record a transition: the alarm is now in `state` since `at`; the transition is
        appended to its history (of which the latest HISTORY_KEPT stay)."""
        text = json.dumps(data, sort_keys=True, default=str)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                old = self._db.execute("SELECT state FROM alarms WHERE key = ?", (key,)).fetchone()
                self._db.execute(
                    "INSERT INTO alarms (key, state, reason, data, since) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET state = excluded.state, "
                    "reason = excluded.reason, data = excluded.data, since = excluded.since",
                    (key, state, reason, text, at))
                self._db.execute(
                    "INSERT INTO alarm_history (key, at, old_state, state, reason, data) "
                    "VALUES (?, ?, ?, ?, ?, ?)", (key, at, old[0] if old else None, state, reason, text))
                self._db.execute(
                    "DELETE FROM alarm_history WHERE key = ? AND seq NOT IN (SELECT seq FROM "
                    "alarm_history WHERE key = ? ORDER BY seq DESC LIMIT ?)", (key, key, HISTORY_KEPT))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return AlarmState(key, state, reason, at, json.loads(text))

    def alarm_history(self, key: str, limit: int = 20) -> list[AlarmTransition]:
        """The latest transitions of an alarm, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT at, old_state, state, reason, data FROM alarm_history WHERE key = ? "
                "ORDER BY seq DESC LIMIT ?", (key, limit)).fetchall()
        return [AlarmTransition(key, at, old, state, reason, json.loads(data))
                for at, old, state, reason, data in rows]


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
