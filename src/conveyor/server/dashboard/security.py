"""The dashboard's browser-facing rules, in one place so they can be read (and tested) together:
the headers on every answer, the session cookie, which `next` paths a login may return to, the
same-origin check on writes, and the brake on guessing the token.

    headers = security_headers()                     # CSP, X-Frame-Options, nosniff, no referrer
    session_cookie(sid)                              # Set-Cookie value: HttpOnly, SameSite=Strict
    safe_next("/ui/executions/1a2b")                 # the path, or "/ui/" for anything else
    same_origin({"origin": "http://127.0.0.1:7878", "host": "127.0.0.1:7878"})
"""

from __future__ import annotations

import hmac
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

COOKIE = "conveyor_session"
CSRF_HEADER = "x-conveyor-csrf"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: No inline script or style, nothing from another origin, no framing (clickjacking), no <base>
#: rewriting, forms post only here.
CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"


def security_headers() -> dict[str, str]:
    return {"Content-Security-Policy": CSP, "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer"}


def session_cookie(sid: str, max_age: int | None = None) -> str:
    """The cookie: unreadable by scripts (HttpOnly), never sent on a request another site starts
    (SameSite=Strict), for the whole daemon (the API under /api/v1 reads it too). No `Secure`:
    the daemon speaks plain HTTP on loopback. A session cookie (no Max-Age) unless `max_age`."""
    value = f"{COOKIE}={sid}; HttpOnly; SameSite=Strict; Path=/"
    if max_age is not None:
        value += f"; Max-Age={max_age}"
    return value


def cleared_cookie() -> str:
    return f"{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"


def cookie_value(header: str | None) -> str | None:
    """The session id from a Cookie header (the first `conveyor_session`), or None."""
    for part in (header or "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name == COOKIE and value:
            return value.strip()
    return None


_NEXT = re.compile(r"/ui(/[A-Za-z0-9._~%!$'()*+,;=:@/-]*)?(\?[A-Za-z0-9._~%!$'()*+,;=:@/?&-]*)?")


def safe_next(value: str | None) -> str:
    """Where a login returns to: a path of this dashboard (/ui or /ui/...), never another site
    (//evil.example, /\\evil, http://...), never a path that climbs out of /ui (/ui/../api)."""
    if not value or len(value) > 2000 or not _NEXT.fullmatch(value):
        return "/ui/"
    path = value.split("?", 1)[0]
    if "//" in path or any(seg in (".", "..") for seg in path.split("/")) or "%2e" in path.lower() \
            or "%2f" in path.lower() or "%5c" in path.lower():
        return "/ui/"
    return value


def same_origin(headers: Mapping[str, str]) -> bool:
    """Whether a browser's request comes from this daemon's own pages, as far as the browser says:
    `Sec-Fetch-Site` (sent by current browsers whatever the referrer policy) must be same-origin,
    and an `Origin` must be the scheme and Host the request came with (that Host already passed
    the allow-list: conveyor.hostcheck). `Origin: null` is what our own pages send under
    `Referrer-Policy: no-referrer`, so it is not taken as foreign; what refuses a foreign write
    is then the CSRF token, which no other page can read or send. A client that sends neither
    header (the CLI, curl) is not a browser acting for someone else."""
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = headers.get("origin")
    if origin is None or origin == "null":
        return True
    host = headers.get("host")
    if not host:
        return False
    return any(hmac.compare_digest(origin.encode("latin-1", "replace"), f"{scheme}://{host}".encode("latin-1",
                                                                                                     "replace"))
               for scheme in ("http", "https"))


def equal(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a secret a client sent with the one expected."""
    return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


class LoginThrottle:
    """At most `attempts` failed logins per client address in `window` seconds: a guess of the
    token (32 random bytes) is already hopeless, this keeps a script from trying and the log calm."""

    def __init__(self, attempts: int = 10, window: float = 300.0, clock: Callable[[], float] = time.monotonic):
        self.attempts, self.window, self.clock = attempts, window, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """Seconds until `client` may try again; 0 when it may now."""
        with self._lock:
            recent = self._recent(client)
            if len(recent) < self.attempts:
                return 0
            return max(1, int(recent[0] + self.window - self.clock()) + 1)

    def failed(self, client: str) -> None:
        with self._lock:
            self._recent(client).append(self.clock())
            if len(self._failures) > 10_000:  # many addresses: forget the quiet ones
                for key in [k for k, v in self._failures.items() if not v]:
                    del self._failures[key]

    def _recent(self, client: str) -> deque[float]:
        recent = self._failures.setdefault(client, deque())
        while recent and recent[0] <= self.clock() - self.window:
            recent.popleft()
        return recent
