"""The API as an ASGI application (Starlette), in the order that keeps a hostile request cheap:

1. the Host header against the allow-list (conveyor.hostcheck): 421 for a name this daemon
   was not told it answers to, the defence against DNS rebinding from a browser;
2. the request line against the routes: 404/405;
3. the bearer token, for every route but /api/v1/health and the OpenAPI document, or a
   dashboard session's cookie (with its CSRF header on a write: conveyor.server.dashboard.access):
   401 (403 for a session's refused write);
4. the announced length (Content-Length, a plain number within the limit, required on POST):
   400/411/413, all before a byte of the body is read;
5. the body, read against a deadline and the length limit (408/413), then parsed as JSON with
   depth, size and text checks (400), then checked against the route's schema (400);
6. the route itself, in a worker thread (the service layer blocks), its answer masked; a
   text/event-stream route is answered by the dashboard's streams, which hold no thread.

The dashboard's pages (/, /login, /logout, /ui/...: conveyor.server.dashboard.routes) are
served by the same app, after the Host check and before the API's dispatch.

A refusal of the caller's input is a 4xx; an operation the daemon tried and that failed for a
reason it can name (a repository it cannot clone, no registry running) is 422 with type
"Failed"; a 500 is a bug in Conveyor.

Every refusal is a JSON error {"error": {"type", "message", "hint"}} and carries
`Connection: close` when the body was left unread, so no unread bytes are taken for a next request.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import anyio
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from conveyor.hostcheck import AllowedHosts, host_allowed, host_name
from conveyor.secrets.masking import masked_response
from conveyor.server.api import Api, _error, unauthorized
from conveyor.server.limits import DEFAULT_LIMITS, Limits, Refused, declared_length, json_body
from conveyor.server.openapi import document

if TYPE_CHECKING:
    from conveyor.server.dashboard import Dashboard

log = logging.getLogger("conveyor.api")

OPENAPI_PATH = b"/api/v1/openapi.json"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def create_app(api: Api, allowed: AllowedHosts, limits: Limits = DEFAULT_LIMITS, any_address: bool = False,
               hooks: ASGIApp | None = None, dashboard: Dashboard | None = None) -> ASGIApp:
    """The API's ASGI application behind its Host check; `any_address` when bound to 0.0.0.0 or ::;
    `hooks` serves /hooks/* (conveyor.server.hooks) on this listener too; `dashboard` its pages,
    its sessions in place of the token, and its streams."""
    spec = json.dumps(document(api.routes)).encode()

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        """Every request, whatever its path and method: the Api matches it on the raw path
        (Starlette's router would match the decoded one, where an id's %2F is a separator)."""
        request = Request(scope, receive)
        if hooks is not None and request.scope.get("raw_path", b"").startswith(b"/hooks/"):
            await hooks(scope, receive, send)
            return
        if dashboard is not None and dashboard.pages.serves(request.url.path) \
                and not request.scope.get("raw_path", b"").startswith(b"/api/"):
            response = await dashboard.pages.handle(request)
        elif request.scope.get("raw_path", b"") == OPENAPI_PATH:
            response = (Response(spec, media_type="application/json") if request.method in ("GET", "HEAD")
                        else _json(405, _error("MethodNotAllowed", "the document is read with GET", None)))
        else:
            response = await _dispatch(api, limits, request, dashboard)
        await response(scope, receive, send)

    app = Starlette()
    app.router.redirect_slashes = False
    app.router.default = dispatch
    return HostCheck(app, allowed, limits.header_bytes, any_address)


class HostCheck:
    """Refuses a request whose Host header names another site (421 Misdirected Request), and
    one whose headers are larger than the limit (431): h11 bounds only headers that arrive in
    pieces, not a block that comes in one read.

    Bound to every interface (0.0.0.0, ::), the daemon also answers any IP address in Host:
    it is reached by whichever address of the machine the client used, and DNS rebinding
    needs a name, so a literal address cannot be a rebinding page."""

    def __init__(self, app: ASGIApp, allowed: AllowedHosts, header_bytes: int, any_address: bool = False):
        self.app, self.allowed, self.header_bytes = app, allowed, header_bytes
        self.any_address = any_address

    def allows(self, header: str | None) -> bool:
        if host_allowed(header, self.allowed):
            return True
        name = host_name(header) if self.any_address and header is not None else None
        try:
            return name is not None and ipaddress.ip_address(name) is not None
        except ValueError:
            return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = sum(len(k) + len(v) + 4 for k, v in scope["headers"]) + len(scope.get("raw_path") or b"")
            if size > self.header_bytes:
                response = _json(431, _error("HeadersTooLarge", f"request headers over {self.header_bytes} bytes",
                                             None), close=True)
                await response(scope, receive, send)
                return
            hosts = [v.decode("latin-1") for k, v in scope["headers"] if k == b"host"]
            if len(hosts) > 1 or not self.allows(hosts[0] if hosts else None):
                shown = hosts[0][:100] if hosts else ""
                response = _json(421, _error(
                    "MisdirectedRequest", f"this daemon does not answer for Host {shown!r}",
                    "start it with `conveyor up --allow-host NAME` to answer for another name"), close=True)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _dispatch(api: Api, limits: Limits, request: Request, dashboard: Dashboard | None = None) -> Response:
    method = request.method
    raw_path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.scope["headers"]}
    expects_body = "content-length" in headers or "transfer-encoding" in headers
    found = api.resolve(method, raw_path)
    if isinstance(found[0], int):
        return _json(found[0], found[1], close=expects_body, allow=found[1]["error"].get("hint"))
    route, params = found
    session = None
    if not route.public and not api.authorized(headers.get("authorization")):
        session = await anyio.to_thread.run_sync(dashboard.access.session, headers) if dashboard else None
        if session is None:
            return _json(401, unauthorized(), close=expects_body, www_authenticate=True)
        refused = dashboard.access.refusal(method, route.template, headers, session) if dashboard else None
        if refused:
            return _json(403, _error("Forbidden", refused, None), close=expects_body)
    try:
        query = _query(request.scope.get("query_string", b""))
        length = declared_length(headers, method, limits)
        data = await _read_body(request, length, limits) if length else b""
        body = json_body(data, limits)
    except Refused as exc:
        return _json(exc.status, _error(exc.kind, exc.message, None), close=True)
    except ClientDisconnect:  # nobody to answer; the server drops the connection
        return _json(400, _error("BadRequest", "the client went away mid-body", None), close=True)
    if session is not None and dashboard is not None:
        dashboard.access.attribute(route.body, route.query, body, query, session)
    if route.media_type == "text/event-stream" and dashboard is not None:
        checked, bad = api.check(route, query, body)
        if bad:
            return _json(400, _error("BadRequest", "invalid request: " + "; ".join(bad), None))
        answer = await dashboard.stream(route, params, checked, headers, session)
        return answer if isinstance(answer, Response) else _json(*answer)
    status, payload = await anyio.to_thread.run_sync(api.invoke, route, params, query, body)
    return _json(status, payload)


def _query(raw: bytes) -> dict[str, str]:
    """The query string, last value of a repeated name winning (as before)."""
    try:
        pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, errors="strict", max_num_fields=50)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused(400, f"malformed query string: {exc}") from None
    return dict(pairs)


async def _read_body(request: Request, length: int, limits: Limits) -> bytes:
    """The body, no more than announced and the limit, and in no more than body_seconds."""
    chunks: list[bytes] = []
    size = 0
    with anyio.move_on_after(limits.body_seconds) as deadline:
        async for chunk in request.stream():
            size += len(chunk)
            if size > min(length, limits.body_bytes):
                raise Refused(413, f"request body longer than announced or than {limits.body_bytes} bytes",
                              "TooLarge")
            chunks.append(chunk)
    if deadline.cancelled_caught:
        raise Refused(408, f"the request body did not arrive within {limits.body_seconds:g} s", "RequestTimeout")
    if size < length:
        raise Refused(400, f"the request body ended after {size} of {length} bytes")
    return b"".join(chunks)


def _json(status: int, payload: Any, close: bool = False, allow: str | None = None,
          www_authenticate: bool = False) -> Response:
    headers = {}
    if close:
        headers["Connection"] = "close"
    if status == 405 and allow and allow.startswith("allowed: "):
        headers["Allow"] = allow.removeprefix("allowed: ")
    if www_authenticate:
        headers["WWW-Authenticate"] = 'Bearer realm="conveyor"'
    # every body, errors included: an exception's message may quote a secret's value
    return Response(json.dumps(masked_response(payload)).encode(), status_code=status, headers=headers,
                    media_type="application/json")
