"""Who may call /api/v1 from a browser: a dashboard session in place of the bearer token.

The cookie alone authenticates reads. A write (POST, PUT, PATCH, DELETE) also needs the
session's CSRF token in the X-Conveyor-CSRF header (compared in constant time) and, when the
browser sends an Origin header, this daemon's own origin. A page on another site can make the
browser send the cookie only on a request it cannot add a header to (a form post; and
SameSite=Strict keeps the cookie off even that in current browsers), so a cross-site write is
refused twice over. A few routes take the token only: minting a login link is for the CLI.

A session's write is recorded under its actor: wherever the route takes a `by` (in its body or
its query), it is set to "<name> (dashboard)", whatever the page sent, so the record says who
did it and through what, as the CLI's `by` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.server.dashboard.security import CSRF_HEADER, UNSAFE_METHODS, cookie_value, equal, same_origin
from conveyor.server.dashboard.sessions import Session, SessionStore

TOKEN_ONLY = frozenset({("POST", "/api/v1/dashboard/links")})


def actor_label(session: Session) -> str:
    return f"{session.actor} (dashboard)"


class Access:
    def __init__(self, sessions: SessionStore):
        self.sessions = sessions

    def session(self, headers: Mapping[str, str]) -> Session | None:
        """The live session the request's cookie names, or None."""
        return self.sessions.get(cookie_value(headers.get("cookie")))

    @staticmethod
    def refusal(method: str, template: str, headers: Mapping[str, str], session: Session) -> str | None:
        """Why this session may not make this request (a 403's message), or None."""
        if (method, template) in TOKEN_ONLY:
            return f"{method} {template} needs the API token, not a dashboard session"
        if method not in UNSAFE_METHODS:
            return None
        if not equal(headers.get(CSRF_HEADER), session.csrf):
            return "a dashboard write needs the session's X-Conveyor-CSRF header"
        if not same_origin(headers):
            return "a dashboard write must come from the dashboard's own origin"
        return None

    @staticmethod
    def attribute(body_schema: Mapping[str, Any] | None, query_schema: Mapping[str, Any], body: Any,
                  query: dict[str, str], session: Session) -> None:
        """Set `by` to the session's actor in the body and the query, where the route takes one."""
        label = actor_label(session)
        if body_schema is not None and "by" in body_schema.get("properties", {}) and isinstance(body, dict):
            body["by"] = label
        if "by" in query_schema:
            query["by"] = label
