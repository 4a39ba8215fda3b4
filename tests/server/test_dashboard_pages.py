"""The dashboard's pages over HTTP (in-process, the daemon's ASGI app): login with the token
and with a one-time link, logout, the page shell, the package's files, and the headers every
answer carries. The token is compared, never echoed; a failed login is braked per address."""

from __future__ import annotations

import asyncio

import pytest
from api_support import TOKEN
from dashboard_support import log_in
from starlette.testclient import TestClient

from conveyor.server.dashboard.security import COOKIE, CSP


@pytest.fixture
def client(asgi_app):
    with TestClient(asgi_app, base_url="http://testserver", follow_redirects=False) as c:
        yield c


def assert_security_headers(r) -> None:
    assert r.headers["content-security-policy"] == CSP, r.url
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


def raw_get(app, raw_path: bytes, cookie: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """A request with exactly this path on the wire (a client library would normalise `..`)."""
    path, _, query = raw_path.partition(b"?")
    headers = [(b"host", b"testserver")] + ([(b"cookie", cookie.encode())] if cookie else [])
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": path.decode("latin-1"), "raw_path": path,
             "query_string": query, "root_path": "", "headers": headers, "client": ("127.0.0.1", 5),
             "server": ("testserver", 80)}
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    return (start["status"], {k.decode(): v.decode() for k, v in start["headers"]},
            b"".join(m.get("body", b"") for m in sent[1:]))


def test_the_root_and_every_page_without_a_session_go_to_the_login(client):
    assert client.get("/").headers["location"] == "/ui/"
    for path in ("/ui", "/ui/", "/ui/pipelines", "/ui/executions/1a2b", "/ui/services/prod/orders"):
        r = client.get(path)
        assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}", path
        assert_security_headers(r)
    r = client.get("/ui/events?type=a")
    assert r.headers["location"] == "/login?next=/ui/events%3Ftype%3Da"


def test_the_login_form_has_labelled_fields_and_keeps_only_a_local_next(client):
    r = client.get("/login?next=/ui/executions/1a2b")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert_security_headers(r)
    assert '<label for="token">Token</label>' in r.text and '<label for="name">Your name</label>' in r.text
    assert '<button type="submit">Log in</button>' in r.text
    assert 'name="next" value="/ui/executions/1a2b"' in r.text
    assert "<script" not in r.text and "style=" not in r.text  # the CSP allows neither
    evil = client.get("/login", params={"next": '//evil.example/"><script>'})
    assert 'name="next" value="/ui/"' in evil.text and "evil" not in evil.text


def test_logging_in_sets_an_httponly_strict_cookie_and_returns_to_next(client):
    r = client.post("/login", data={"token": TOKEN, "name": "alice", "next": "/ui/events"})
    assert r.status_code == 303 and r.headers["location"] == "/ui/events"
    assert_security_headers(r)
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Path=/" in cookie and TOKEN not in cookie
    page = client.get("/ui/events")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert_security_headers(page)
    assert '<meta name="conveyor-actor" content="alice">' in page.text
    assert "{{" not in page.text and TOKEN not in page.text
    # logged in, the form sends you on
    assert client.get("/login?next=/ui/registry").headers["location"] == "/ui/registry"


def test_a_foreign_next_after_login_goes_home(client):
    r = client.post("/login", data={"token": TOKEN, "name": "alice", "next": "https://evil.example/"})
    assert r.headers["location"] == "/ui/"


def test_the_name_is_escaped_into_the_page(client):
    log_in(client, name='<img src=x onerror="alert(1)">')
    text = client.get("/ui/").text
    assert "<img" not in text and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in text


def test_a_wrong_token_answers_the_form_again_with_401_and_no_cookie(client):
    r = client.post("/login", data={"token": "wrong", "name": "alice", "next": "/ui/events"})
    assert r.status_code == 401 and "set-cookie" not in r.headers
    assert "That is not this daemon" in r.text and 'value="/ui/events"' in r.text and "wrong" not in r.text
    assert_security_headers(r)
    assert client.get("/ui/").status_code == 303


def test_a_login_needs_a_name(client):
    r = client.post("/login", data={"token": TOKEN, "name": "  ", "next": "/ui/"})
    assert r.status_code == 400 and "set-cookie" not in r.headers


def test_failed_logins_from_one_address_are_braked(client):
    for _ in range(10):
        assert client.post("/login", data={"token": "guess", "name": "x"}).status_code == 401
    r = client.post("/login", data={"token": TOKEN, "name": "x"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0 and "set-cookie" not in r.headers


def test_the_login_takes_only_a_small_form(client):
    assert client.post("/login", json={"token": TOKEN, "name": "x"}).status_code == 415
    big = client.post("/login", data={"token": TOKEN, "name": "x" * 5000})
    assert big.status_code == 413 and "set-cookie" not in big.headers


def test_a_login_form_posted_from_another_site_is_refused(client):
    r = client.post("/login", data={"token": TOKEN, "name": "x"},
                    headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403 and "set-cookie" not in r.headers


def test_a_one_time_link_logs_in_once_and_leaves_the_address_bar(client, dashboard):
    link = client.post("/api/v1/dashboard/links", json={"name": "bob"},
                       headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert link["url"].startswith("http://127.0.0.1:7878/login/link?code=")
    path = link["url"].removeprefix("http://127.0.0.1:7878")
    r = client.get(path)
    assert r.status_code == 303 and r.headers["location"] == "/ui/" and COOKIE in r.headers["set-cookie"]
    assert '<meta name="conveyor-actor" content="bob">' in client.get("/ui/").text
    client.cookies.clear()
    again = client.get(path)
    assert again.status_code == 401 and "used already or has expired" in again.text
    assert "set-cookie" not in again.headers


def test_logout_needs_the_session_csrf_token(client, dashboard):
    csrf = log_in(client)
    refused = client.post("/logout", data={"csrf": "forged"})
    assert refused.status_code == 403
    assert client.get("/ui/").status_code == 200
    r = client.post("/logout", data={"csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/login" and "Max-Age=0" in r.headers["set-cookie"]
    assert dashboard.sessions.count() == 0


def test_the_session_ends_on_the_server_at_logout_not_only_in_the_browser(client):
    csrf = log_in(client)
    sid = client.cookies[COOKIE]
    client.post("/logout", data={"csrf": csrf})
    client.cookies.set(COOKIE, sid)
    assert client.get("/ui/").status_code == 303
    assert client.get("/api/v1/pipelines").status_code == 401


@pytest.mark.parametrize("name, kind", [("app.js", "text/javascript"), ("app.css", "text/css"),
                                        ("pages/index.js", "text/javascript"), ("login.css", "text/css")])
def test_the_package_files_are_served_with_their_type_and_an_etag(client, name, kind):
    r = client.get(f"/ui/assets/{name}")
    assert r.status_code == 200 and r.headers["content-type"].startswith(kind)
    assert_security_headers(r)
    etag = r.headers["etag"]
    assert r.headers["cache-control"] == "no-cache"
    again = client.get(f"/ui/assets/{name}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.content


@pytest.mark.parametrize("raw", [b"/ui/assets/../../token", b"/ui/assets/..%2f..%2ftoken", b"/ui/assets/%2e%2e/app.js",
                                 b"/ui/assets/pages/../app.js", b"/ui/assets/.hidden", b"/ui/assets//etc/passwd",
                                 b"/ui/assets/..\\app.js", b"/ui/assets/nope.js", b"/ui/assets/index.html",
                                 b"/ui/assets/pages", b"/ui/assets/", b"/ui/assets/app.py"])
def test_no_name_reaches_outside_the_package_files(asgi_app, raw):
    status, headers, body = raw_get(asgi_app, raw)
    assert status == 404, (raw, body[:200])
    assert headers["content-security-policy"] == CSP


def test_the_shell_is_only_for_reading(client):
    assert client.post("/ui/pipelines", data={}).status_code == 405
    assert client.delete("/ui/assets/app.js").status_code == 405
