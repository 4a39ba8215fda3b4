"""Webhook deliveries already handled, by the id the git host gives each one (a redelivery
repeats it), so a delivery starts pipelines at most once. A row is claimed before the delivery
is handled and released when handling fails, so the host's redelivery is taken again.

    deliveries = Deliveries(home / "webhooks.db")
    deliveries.claim("github", delivery_id)     # False: seen before, answer {"duplicate": true}
    deliveries.finish("github", delivery_id, "started 2")
    deliveries.release("github", delivery_id)   # handling failed: a redelivery is welcome

Rows older than KEEP_SECONDS are pruned as new ones come in (hosts redeliver within days).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Callable

KEEP_SECONDS = 14 * 24 * 3600
PRUNE_EVERY = 100  # claims between prunes


class Deliveries:
    def __init__(self, path: str | Path, clock: Callable[[], float] = time.time):
        self.clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS deliveries (host TEXT NOT NULL, delivery TEXT NOT NULL, "
                         "received_at REAL NOT NULL, outcome TEXT NOT NULL DEFAULT '', PRIMARY KEY (host, delivery))")
        self._db.execute("CREATE INDEX IF NOT EXISTS deliveries_received ON deliveries (received_at)")
        self._claims = 0
        self.prune_every = PRUNE_EVERY

    def claim(self, host: str, delivery: str) -> bool:
        """True when this delivery is new (and now taken), False when it was handled before."""
        with self._lock:
            self._claims += 1
            if (self._claims - 1) % self.prune_every == 0:  # the first claim, then every prune_every
                self._db.execute("DELETE FROM deliveries WHERE received_at < ?", (self.clock() - KEEP_SECONDS,))
            cur = self._db.execute("INSERT OR IGNORE INTO deliveries (host, delivery, received_at) VALUES (?, ?, ?)",
                                   (host, delivery, self.clock()))
            return cur.rowcount == 1

    def finish(self, host: str, delivery: str, outcome: str) -> None:
        with self._lock:
            self._db.execute("UPDATE deliveries SET outcome = ? WHERE host = ? AND delivery = ?",
                             (outcome[:200], host, delivery))

    def release(self, host: str, delivery: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM deliveries WHERE host = ? AND delivery = ?", (host, delivery))

    def outcome(self, host: str, delivery: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT outcome FROM deliveries WHERE host = ? AND delivery = ?",
                                   (host, delivery)).fetchone()
        return row[0] if row else None

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM deliveries").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
