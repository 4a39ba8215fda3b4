"""The dashboard's server side: sessions, the login and page routes, the browser's access to the
API, and the live streams. The daemon builds one Dashboard and gives it to the ASGI app:

    dashboard = Dashboard(home / "dashboard.db", api)   # adds its API routes to `api`
    app = create_app(api, allowed, dashboard=dashboard)
    dashboard.base_url = "http://127.0.0.1:7878"          # once the port is known (login links)
    ...
    dashboard.shutdown()                                   # ends the open streams; then stop uvicorn

    POST /api/v1/dashboard/links {name}         (token only) -> {"url", "expiresAt"}: a one-time login
    GET  /api/v1/events/stream?after=N&...       server-sent events (conveyor.server.dashboard.sse)
    GET  /api/v1/executions/ID/logs/STAGE/ACTION/ATTEMPT/stream?offset=N

The pages themselves are static files in the package (conveyor/data/dashboard) rendered in the
browser from the same JSON API the CLI uses.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

import anyio
from starlette.responses import Response

from conveyor.errors import NotFound, UserError
from conveyor.events.stream import MAX_SEQ
from conveyor.events.types import EVENT_TYPES
from conveyor.server.dashboard.access import Access
from conveyor.server.dashboard.assets import Assets
from conveyor.server.dashboard.routes import Pages
from conveyor.server.dashboard.security import LoginThrottle, cookie_value
from conveyor.server.dashboard.sessions import Session, SessionStore, digest
from conveyor.server.dashboard.sse import EventHub, StreamResponse, event_stream, log_stream

if TYPE_CHECKING:
    from conveyor.engine.service import Service
    from conveyor.events.stream import EventLog


class Api(Protocol):
    """What the dashboard needs of the daemon's API (conveyor.server.api.Api; not imported: the
    API's package builds on this one, not the other way round)."""

    token: str
    service: Service
    events: EventLog | None

    def add_route(self, method: str, pattern: str, fn: Callable[..., Any], **meta: Any) -> None: ...


class Route(Protocol):
    @property
    def template(self) -> str: ...

SSE = "text/event-stream"
EVENT_QUERY = {
    "after": {"type": "integer", "minimum": 0, "maximum": MAX_SEQ,
              "description": "stream the events after this seq (default: from now; Last-Event-ID wins)"},
    "type": {"type": "string", "maxLength": 4096, "description": "event types, comma-separated (any of them)"},
    "pipeline": {"type": "string", "maxLength": 200},
    "environment": {"type": "string", "maxLength": 200},
    "service": {"type": "string", "maxLength": 200},
}
LOG_QUERY = {"offset": {"type": "integer", "minimum": 0, "maximum": MAX_SEQ,
                        "description": "byte offset (Last-Event-ID wins)"}}


class Dashboard:
    def __init__(self, path: str | Path, api: Api, clock: Callable[[], float] = time.time,
                 base_url: str = "http://127.0.0.1:7878", hub: EventHub | None = None,
                 throttle: LoginThrottle | None = None):
        self.api = api
        # sessions end with the token they were opened under (a hash of it, never the token)
        self.sessions = SessionStore(path, clock, epoch=digest("conveyor-dashboard:" + api.token)[:32])
        self.access = Access(self.sessions)
        self.pages = Pages(self.sessions, Assets(), lambda: api.token, throttle)
        self.hub = hub or EventHub(api.events)
        self.base_url = base_url
        self._add_routes(api)

    def _add_routes(self, api: Api) -> None:
        api.add_route("POST", r"/api/v1/dashboard/links", self.new_link,
                      summary="a one-time dashboard login link (valid 10 minutes, one use; token only)",
                      body={"type": "object", "properties": {"name": {
                          "type": ["string", "null"], "maxLength": 80,
                          "description": "who logs in with it (recorded as `by`)"}}},
                      response={"type": "object", "required": ["url", "expiresAt"],
                                "properties": {"url": {"type": "string"}, "expiresAt": {"type": "number"}}})
        api.add_route("GET", r"/api/v1/events/stream", _stream_only, media_type=SSE, query=EVENT_QUERY,
                      summary="the event stream, live (server-sent events; `id:` is the event's seq)")
        api.add_route("GET", r"/api/v1/executions/(?P<id>[^/]+)/logs/(?P<stage>[^/]+)/(?P<action>[^/]+)/"
                             r"(?P<attempt>\d+)/stream", _stream_only, media_type=SSE, query=LOG_QUERY,
                      summary="an action attempt's log, live (server-sent events {text, offset}, then `end`)")

    def new_link(self, q: Mapping[str, Any], b: Mapping[str, Any]) -> dict:
        name = " ".join(str(b.get("name") or "").split())[:80] or "cli"
        if not name.isprintable():
            raise UserError("the name must be printable text")
        code, expires = self.sessions.create_link(name)
        return {"url": f"{self.base_url}/login/link?code={quote(code)}", "expiresAt": expires}

    async def stream(self, route: Route, params: Mapping[str, str], query: Mapping[str, Any],
                     headers: Mapping[str, str], session: Session | None = None) -> Response | tuple[int, dict]:
        """The answer of a text/event-stream route (query already checked against its schema).
        Opened by a session (not the token), the stream ends once that session has."""
        alive = None
        if session is not None:
            sid = cookie_value(headers.get("cookie"))
            alive = partial(lambda sid: self.sessions.get(sid, touch=False) is not None, sid)
        resume = headers.get("last-event-id", "").strip()
        resumed = int(resume) if resume.isdigit() and len(resume) < 19 else None
        if route.template == "/api/v1/events/stream":
            types = [t.strip() for t in str(query.get("type") or "").split(",") if t.strip()]
            unknown = [t for t in types if t not in EVENT_TYPES]
            if unknown:
                return 400, _error("BadRequest", f"unknown event type(s) {', '.join(unknown)}",
                                   "types: " + ", ".join(EVENT_TYPES))
            filters = {"types": types or None, "pipeline": query.get("pipeline") or None,
                       "environment": query.get("environment") or None, "service": query.get("service") or None}
            after = query.get("after")
            cursor = resumed if resumed is not None else (int(after) if after is not None else None)
            if not self.hub.acquire():
                return _busy()
            return StreamResponse(self.hub, event_stream(self.hub, cursor, filters, alive))
        service = self.api.service
        execution, stage, action, attempt = params["id"], params["stage"], params["action"], int(params["attempt"])
        try:
            streams = await anyio.to_thread.run_sync(service.log_streams, execution)
        except NotFound as exc:
            return 404, _error("NotFound", str(exc), exc.hint)
        if not any((s["stage"], s["action"], int(s["attempt"])) == (stage, action, attempt) for s in streams):
            return 404, _error("NotFound", f"execution {execution} has no log for {stage}.{action} attempt {attempt}",
                               f"`GET /api/v1/executions/{execution}/logs` lists its logs")
        offset = resumed if resumed is not None else int(query.get("offset") or 0)
        if not self.hub.acquire():
            return _busy()
        return StreamResponse(self.hub, log_stream(self.hub, service, execution, stage, action, attempt, offset,
                                                   alive))

    def shutdown(self) -> None:
        """End every open stream (before the HTTP server stops: it waits for open answers)."""
        self.hub.shutdown()

    def close(self) -> None:
        self.sessions.close()


def _stream_only(q: Any, b: Any, **params: str) -> Any:
    raise UserError("this route answers server-sent events (text/event-stream): read it over HTTP")


def _busy() -> tuple[int, dict]:
    return 503, _error("Unavailable", "too many open streams on this daemon",
                       "close other dashboard tabs, or try again shortly")


def _error(kind: str, message: str, hint: str | None) -> dict:
    return {"error": {"type": kind, "message": message, "hint": hint}}
