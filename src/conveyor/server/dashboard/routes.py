"""The dashboard's own pages, served by the daemon's ASGI app before the API dispatch (the Host
check runs in front of both):

    GET  /                      303 /ui/
    GET  /login                 the login form (Token, Your name); ?next=/ui/... to return to
    POST /login                 form post: token + name -> a session cookie, 303 to next
    GET  /login/link?code=      a one-time link (`conveyor dashboard`) -> a session, 303 /ui/
    POST /logout                form post with the session's csrf field
    GET  /ui/assets/PATH        the package's files (conveyor/data/dashboard)
    GET  /ui, /ui/ANYTHING      index.html with the session's CSRF token and name; the page
                                modules route in the browser. Without a session: 303 to /login.

Every answer carries the security headers (conveyor.server.dashboard.security). The token is
never put in a page, a URL or a cookie: it is posted once, compared in constant time, and what
the browser keeps is a random session id that only this daemon's dashboard.db knows the hash of.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from urllib.parse import parse_qsl, quote

import anyio
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from conveyor.server.dashboard.assets import Assets
from conveyor.server.dashboard.security import (
    LoginThrottle,
    cleared_cookie,
    cookie_value,
    equal,
    safe_next,
    same_origin,
    security_headers,
    session_cookie,
)
from conveyor.server.dashboard.sessions import Session, SessionStore

log = logging.getLogger("conveyor.dashboard")

FORM_BYTES = 4096
FORM_SECONDS = 10.0
NAME_CHARS = 80


class Refusal(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class Pages:
    """The HTML side: login, logout, the shell and the assets."""

    def __init__(self, sessions: SessionStore, assets: Assets, token: Callable[[], str],
                 throttle: LoginThrottle | None = None):
        self.sessions, self.assets, self.token = sessions, assets, token
        self.throttle = throttle or LoginThrottle()

    @staticmethod
    def serves(path: str) -> bool:
        return path in ("/", "/login", "/login/link", "/logout", "/ui") or path.startswith("/ui/")

    async def handle(self, request: Request) -> Response:
        path, method = request.url.path, request.method
        raw = request.scope.get("raw_path", path.encode()).decode("latin-1")
        read_only = method in ("GET", "HEAD")
        if path == "/" and read_only:
            return redirect("/ui/")
        if path == "/login" and read_only:
            return await self._login_form(request)
        if path == "/login" and method == "POST":
            return await self._login(request)
        if path == "/login/link" and read_only:
            return await anyio.to_thread.run_sync(self._link, request)
        if path == "/logout" and method == "POST":
            return await self._logout(request)
        if raw.startswith("/ui/assets/") and read_only:
            return self._asset(raw.removeprefix("/ui/assets/"), request.headers.get("if-none-match"))
        if (path == "/ui" or path.startswith("/ui/")) and not raw.startswith("/ui/assets/") and read_only:
            return await anyio.to_thread.run_sync(self._shell, request)
        allowed = "POST" if path in ("/logout",) else "GET, HEAD, POST" if path == "/login" else "GET, HEAD"
        return page(405, "<h1>Method not allowed</h1>", {"Allow": allowed})

    # -- the shell
    def session(self, request: Request) -> Session | None:
        return self.sessions.get(cookie_value(request.headers.get("cookie")))

    def _shell(self, request: Request) -> Response:
        session = self.session(request)
        if session is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return redirect("/login?next=" + quote(safe_next(target), safe="/"))
        text = self.assets.text("index.html")
        text = text.replace("{{csrf}}", html.escape(session.csrf)).replace("{{actor}}", html.escape(session.actor))
        return page(200, text, whole=True)

    def _asset(self, name: str, if_none_match: str | None) -> Response:
        asset = self.assets.get(name)
        if asset is None or name == "index.html":
            return page(404, "<h1>Not found</h1>")
        headers = {**security_headers(), "ETag": asset.etag, "Cache-Control": "no-cache"}
        if if_none_match and asset.etag in [t.strip() for t in if_none_match.split(",")]:
            return Response(status_code=304, headers=headers)
        return Response(asset.body, media_type=asset.content_type, headers=headers)

    # -- login
    async def _login_form(self, request: Request) -> Response:
        target = safe_next(request.query_params.get("next"))
        if await anyio.to_thread.run_sync(self.session, request) is not None:
            return redirect(target)
        return login_page(200, target)

    async def _login(self, request: Request) -> Response:
        client = request.client.host if request.client else "?"
        try:
            if not same_origin(request.headers):
                raise Refusal(403, "This form was posted from another site.")
            form = await read_form(request)
        except Refusal as exc:
            return login_page(exc.status, "/ui/", exc.message, close=True)
        target = safe_next(form.get("next"))
        wait = self.throttle.retry_after(client)
        if wait:
            response = login_page(429, target, f"Too many failed attempts. Try again in {wait} s.")
            response.headers["Retry-After"] = str(wait)
            return response
        name = clean_name(form.get("name"))
        if not equal(form.get("token"), self.token()):
            self.throttle.failed(client)
            log.warning("dashboard: failed login from %s", client)
            return login_page(401, target, "That is not this daemon's token.", name=name or "")
        if not name:
            return login_page(400, target, "Say who you are: your actions are recorded under this name.")
        sid, _ = await anyio.to_thread.run_sync(self.sessions.create, name)
        log.info("dashboard: %s logged in from %s", name, client)
        return redirect(target, cookie=session_cookie(sid))

    def _link(self, request: Request) -> Response:
        actor = self.sessions.redeem_link(request.query_params.get("code"))
        if actor is None:
            return login_page(401, "/ui/", "This login link was used already or has expired: "
                                           "run `conveyor dashboard` for a new one.")
        sid, _ = self.sessions.create(actor)
        log.info("dashboard: %s logged in with a one-time link", actor)
        return redirect("/ui/", cookie=session_cookie(sid))

    async def _logout(self, request: Request) -> Response:
        try:
            form = await read_form(request)
        except Refusal as exc:
            return page(exc.status, f"<h1>{html.escape(exc.message)}</h1>", close=True)
        sid = cookie_value(request.headers.get("cookie"))
        session = await anyio.to_thread.run_sync(self.sessions.get, sid)
        if session is not None:
            if not equal(form.get("csrf"), session.csrf) or \
                    not same_origin(request.headers):
                return page(403, "<h1>Refused</h1><p>This logout did not come from the dashboard.</p>")
            assert sid is not None
            await anyio.to_thread.run_sync(self.sessions.delete, sid)
            log.info("dashboard: %s logged out", session.actor)
        return redirect("/login", cookie=cleared_cookie())


async def read_form(request: Request) -> dict[str, str]:
    """A small urlencoded form: announced length within FORM_BYTES, read within FORM_SECONDS."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise Refusal(415, "Expected a form (application/x-www-form-urlencoded).")
    raw = request.headers.get("content-length")
    if raw is None or not raw.strip().isdigit():
        raise Refusal(411, "A form needs a Content-Length.")
    if int(raw) > FORM_BYTES:
        raise Refusal(413, "The form is too large.")
    data = b""
    try:
        with anyio.move_on_after(FORM_SECONDS):
            async for chunk in request.stream():
                data += chunk
                if len(data) > FORM_BYTES:
                    raise Refusal(413, "The form is too large.")
    except ClientDisconnect:
        raise Refusal(400, "The form did not arrive.") from None
    try:
        return dict(parse_qsl(data.decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                              max_num_fields=10))
    except (UnicodeDecodeError, ValueError):
        raise Refusal(400, "The form is malformed.") from None


def clean_name(value: str | None) -> str:
    """The name actions are recorded under: printable, one line, at most NAME_CHARS."""
    name = " ".join((value or "").split())
    if not name.isprintable():
        return ""
    return name[:NAME_CHARS]


def page(status: int, body: str, headers: dict[str, str] | None = None, whole: bool = False,
         close: bool = False) -> Response:
    text = body if whole else (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<title>Conveyor</title><link rel="stylesheet" href="/ui/assets/login.css"></head>'
        f'<body>{body}</body></html>\n')
    all_headers = {**security_headers(), "Cache-Control": "no-store", **(headers or {})}
    if close:
        all_headers["Connection"] = "close"
    return Response(text.encode(), status_code=status, media_type="text/html; charset=utf-8", headers=all_headers)


def redirect(location: str, cookie: str | None = None) -> Response:
    headers = {**security_headers(), "Location": location, "Cache-Control": "no-store"}
    response = Response(status_code=303, headers=headers)
    if cookie:
        response.headers.append("Set-Cookie", cookie)
    return response


def login_page(status: int, target: str, error: str = "", name: str = "", close: bool = False) -> Response:
    alert = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    body = (
        '<main class="login">'
        '<h1>Conveyor</h1>'
        f'{alert}'
        '<form method="post" action="/login">'
        f'<input type="hidden" name="next" value="{html.escape(target)}">'
        '<label for="token">Token</label>'
        '<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>'
        '<label for="name">Your name</label>'
        f'<input id="name" name="name" type="text" autocomplete="username" required maxlength="{NAME_CHARS}" '
        f'value="{html.escape(name)}">'
        '<button type="submit">Log in</button>'
        '</form>'
        '<p class="hint">The token is the file <code>token</code> in the daemon\'s data directory; '
        '<code>conveyor dashboard</code> prints a one-time login link instead. '
        'What you do here is recorded under your name.</p>'
        '</main>')
    return page(status, body, close=close)
