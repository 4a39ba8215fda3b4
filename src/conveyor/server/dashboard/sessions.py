"""The dashboard's sessions and one-time login links, in home/dashboard.db, so that a daemon
restart logs nobody out.

Only a SHA-256 of a session id or of a link's code is stored: a copy of the file (a backup, a
support bundle) holds nothing that logs anyone in. A session ends after IDLE seconds without a
request or ABSOLUTE seconds after login, whichever comes first; a link is good for LINK_TTL
seconds and for one login.

    store = SessionStore(home / "dashboard.db")
    sid, session = store.create("alice")          # sid goes in the cookie, never stored
    store.get(sid)                                # the Session, or None (expired, unknown, logged out)
    code, expires = store.create_link("alice")    # for `conveyor dashboard`
    store.redeem_link(code)                       # the actor's name once, then None
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from conveyor.store.sqlite import open_database

IDLE = 12 * 3600.0
ABSOLUTE = 7 * 24 * 3600.0
LINK_TTL = 600.0
#: A session's last-seen time is written at most this often (not on every API call).
TOUCH_EVERY = 60.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,
    actor TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created REAL NOT NULL,
    seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS login_links (
    code_hash TEXT PRIMARY KEY,
    actor TEXT NOT NULL,
    expires REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Session:
    id_hash: str
    actor: str
    csrf: str
    created: float
    seen: float


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


class SessionStore:
    """Thread-safe (the API's worker threads and the event loop both ask)."""

    def __init__(self, path: str | Path, clock: Callable[[], float] = time.time,
                 idle: float = IDLE, absolute: float = ABSOLUTE, link_ttl: float = LINK_TTL):
        self._db = open_database(path, SCHEMA, rows=False)
        self._lock = threading.Lock()
        self.clock, self.idle, self.absolute, self.link_ttl = clock, idle, absolute, link_ttl

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- sessions
    def create(self, actor: str) -> tuple[str, Session]:
        """A new session for `actor`: its id (for the cookie; only its hash is kept) and itself."""
        sid = secrets.token_urlsafe(32)
        now = self.clock()
        session = Session(digest(sid), actor, secrets.token_urlsafe(32), now, now)
        with self._lock:
            self._prune(now)
            self._db.execute("INSERT INTO sessions (id_hash, actor, csrf, created, seen) VALUES (?, ?, ?, ?, ?)",
                             (session.id_hash, actor, session.csrf, now, now))
        return sid, session

    def get(self, sid: str | None, touch: bool = True) -> Session | None:
        """The live session with this id, its idle clock restarted (unless not `touch`: an open
        stream asking whether it may go on is not someone using the dashboard); None when
        unknown or expired."""
        if not sid:
            return None
        key = digest(sid)
        now = self.clock()
        with self._lock:
            row = self._db.execute("SELECT actor, csrf, created, seen FROM sessions WHERE id_hash = ?",
                                   (key,)).fetchone()
            if row is None:
                return None
            actor, csrf, created, seen = str(row[0]), str(row[1]), float(row[2]), float(row[3])
            if now - seen >= self.idle or now - created >= self.absolute:
                self._db.execute("DELETE FROM sessions WHERE id_hash = ?", (key,))
                return None
            if touch and now - seen >= TOUCH_EVERY:
                self._db.execute("UPDATE sessions SET seen = ? WHERE id_hash = ?", (now, key))
                seen = now
        return Session(key, actor, csrf, created, seen)

    def delete(self, sid: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE id_hash = ?", (digest(sid),))

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])

    # -- one-time login links
    def create_link(self, actor: str) -> tuple[str, float]:
        """A code for /login/link?code= (only its hash is kept) and when it expires."""
        code = secrets.token_urlsafe(32)
        expires = self.clock() + self.link_ttl
        with self._lock:
            self._prune(self.clock())
            self._db.execute("INSERT INTO login_links (code_hash, actor, expires) VALUES (?, ?, ?)",
                             (digest(code), actor, expires))
        return code, expires

    def redeem_link(self, code: str | None) -> str | None:
        """The actor the link was made for, once: the row is deleted in the same statement that
        reads it, so two requests racing with one code get one session between them."""
        if not code:
            return None
        with self._lock:
            row = self._db.execute("DELETE FROM login_links WHERE code_hash = ? RETURNING actor, expires",
                                   (digest(code),)).fetchone()
        if row is None or float(row[1]) <= self.clock():
            return None
        return str(row[0])

    def _prune(self, now: float) -> None:
        """Forget expired sessions and links (at each login: the table stays as small as its users)."""
        self._db.execute("DELETE FROM sessions WHERE seen <= ? OR created <= ?", (now - self.idle, now - self.absolute))
        self._db.execute("DELETE FROM login_links WHERE expires <= ?", (now,))
