"""How every Conveyor store opens its SQLite file: autocommit (transactions are explicit), WAL so
readers never wait for the writer, NORMAL sync (WAL keeps it crash-safe), shared across threads
behind the store's own lock.

    db = open_database(home / "services.db", SCHEMA)
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

BUSY_TIMEOUT = 30.0


def open_database(path: str | Path, schema: str, *, rows: bool = True) -> sqlite3.Connection:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT)
    if rows:
        db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(schema)
    return db
