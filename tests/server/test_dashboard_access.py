"""Who may call the API: every route (but health and the document) refuses a request with
neither the token nor a session, every /ui page sends it to the login; a session reads with its
cookie and writes only with its CSRF header from its own origin; a form another site posts with
the browser's cookie is refused and changes nothing; a session's writes are recorded under its
name whatever the page sent as `by`."""

from __future__ import annotations

import re

import pytest
from api_support import TOKEN
from dashboard_support import csrf_of, log_in
from starlette.testclient import TestClient

from conveyor.server.schema import BY, obj

PAGES = ["/ui", "/ui/", "/ui/pipelines", "/ui/pipelines/orders", "/ui/executions/1a2b", "/ui/services",
         "/ui/services/prod/orders", "/ui/deployments/d-123", "/ui/registry", "/ui/events", "/ui/dora",
         "/ui/no/such/page"]


@pytest.fixture
def client(asgi_app):
    with TestClient(asgi_app, base_url="http://testserver", follow_redirects=False) as c:
        yield c


def sample_path(template: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: "1" if m.group(1) == "attempt" else "x", template)


def nav_pages(client) -> list[str]:
    """The pages the shell's navigation links to (they change as pages are added)."""
    log_in(client)
    found = re.findall(r'href="(/ui[^"]*)"', client.get("/ui/").text)
    client.cookies.clear()
    return [p for p in found if not p.startswith("/ui/assets/")]


def test_every_page_without_a_session_goes_to_the_login(client):
    for path in sorted(set(PAGES + nav_pages(client))):
        for method in ("GET", "HEAD"):
            r = client.request(method, path)
            assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), (method, path)


def test_every_api_route_without_a_token_or_session_is_401(client, real_api):
    for route in real_api.routes:
        r = client.request(route.method, sample_path(route.template), json={} if route.method == "POST" else None)
        if route.public:
            assert r.status_code == 200, route.template
        else:
            assert r.status_code == 401, (route.method, route.template, r.text)
            assert r.json()["error"]["type"] == "Unauthorized"
    # a forged or expired cookie is no session
    client.cookies.set("conveyor_session", "forged")
    assert client.get("/api/v1/pipelines").status_code == 401


def test_a_session_reads_with_its_cookie(client):
    log_in(client)
    assert client.get("/api/v1/pipelines").json() == []
    assert client.get("/api/v1/secrets").status_code == 200


def test_every_write_with_the_cookie_but_without_the_csrf_header_is_403(client, real_api):
    log_in(client)
    for route in real_api.routes:
        if route.method in ("GET", "HEAD"):
            continue
        r = client.request(route.method, sample_path(route.template), json={} if route.method == "POST" else None)
        assert r.status_code == 403, (route.method, route.template, r.text)
        assert r.json()["error"]["type"] == "Forbidden"
        r = client.request(route.method, sample_path(route.template), json={} if route.method == "POST" else None,
                           headers={"X-Conveyor-CSRF": "not-the-token"})
        assert r.status_code == 403, (route.method, route.template)


@pytest.mark.parametrize("content_type, body", [
    ("text/plain", b'{"name": "FORGED", "value": "x", "pad": "="}'),
    ("application/x-www-form-urlencoded", b'{"name": "FORGED", "value": "x"}'),
    ("multipart/form-data; boundary=b", b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--'),
])
def test_a_cross_site_form_post_with_the_cookie_changes_nothing(client, real_api, content_type, body):
    log_in(client)
    r = client.post("/api/v1/secrets", content=body, headers={
        "Content-Type": content_type, "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    r = client.post("/api/v1/secrets", content=body, headers={"Content-Type": content_type})  # no Origin at all
    assert r.status_code == 403
    assert real_api.service.list_secrets() == []


def test_a_write_with_the_csrf_header_from_another_origin_is_403(client, real_api):
    csrf = log_in(client)
    for origin, site in (("http://evil.example", "cross-site"), ("http://testserver:81", "same-site")):
        r = client.post("/api/v1/secrets", json={"name": "A", "value": "x"},
                        headers={"X-Conveyor-CSRF": csrf, "Origin": origin, "Sec-Fetch-Site": site})
        assert r.status_code == 403, origin
    assert real_api.service.list_secrets() == []


def test_a_write_with_the_csrf_header_from_the_dashboard_is_done(client, real_api):
    csrf = log_in(client)
    r = client.post("/api/v1/secrets", json={"name": "A", "value": "x"},
                    headers={"X-Conveyor-CSRF": csrf, "Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 200
    r = client.post("/api/v1/secrets", json={"name": "B", "value": "x"},
                    headers={"X-Conveyor-CSRF": csrf, "Origin": "null", "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 200
    assert [s["name"] for s in real_api.service.list_secrets()] == ["A", "B"]


def test_one_session_token_does_not_open_another_session(client, asgi_app):
    csrf = log_in(client, "alice")
    with TestClient(asgi_app, base_url="http://testserver", follow_redirects=False) as other:
        log_in(other, "bob")
        r = other.post("/api/v1/secrets", json={"name": "A", "value": "x"}, headers={"X-Conveyor-CSRF": csrf})
        assert r.status_code == 403


def test_a_session_write_is_recorded_under_its_name_whatever_by_the_page_sent(client, real_api):
    seen: list[tuple[dict, dict]] = []
    real_api.add_route("POST", r"/api/v1/test/record", lambda q, b: seen.append((dict(q), dict(b))) or {},
                       body=obj({"by": BY}))
    real_api.add_route("DELETE", r"/api/v1/test/record", lambda q, b: seen.append((dict(q), dict(b))) or {},
                       query={"by": BY})
    real_api.add_route("POST", r"/api/v1/test/plain", lambda q, b: seen.append((dict(q), dict(b))) or {},
                       body=obj({"comment": BY}))
    csrf = log_in(client, "alice")
    headers = {"X-Conveyor-CSRF": csrf}
    assert client.post("/api/v1/test/record", json={"by": "mallory"}, headers=headers).status_code == 200
    assert client.post("/api/v1/test/record", json={}, headers=headers).status_code == 200
    assert client.delete("/api/v1/test/record?by=mallory", headers=headers).status_code == 200
    assert client.post("/api/v1/test/plain", json={"comment": "c"}, headers=headers).status_code == 200
    assert [b.get("by") for _, b in seen[:2]] == ["alice (dashboard)", "alice (dashboard)"]
    assert seen[2][0]["by"] == "alice (dashboard)"
    assert "by" not in seen[3][1]
    # the token's writes keep the `by` the CLI sends
    client.cookies.clear()
    client.post("/api/v1/test/record", json={"by": "alice@laptop"}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert seen[4][1]["by"] == "alice@laptop"


def test_login_links_are_minted_with_the_token_only(client):
    csrf = log_in(client)
    r = client.post("/api/v1/dashboard/links", json={"name": "eve"}, headers={"X-Conveyor-CSRF": csrf})
    assert r.status_code == 403
    client.cookies.clear()
    assert client.post("/api/v1/dashboard/links", json={}).status_code == 401
    r = client.post("/api/v1/dashboard/links", json={"name": "ops"}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200 and r.json()["url"].startswith("http://127.0.0.1:7878/login/link?code=")


def test_the_shell_carries_the_csrf_token_of_its_own_session(client):
    first = log_in(client, "alice")
    assert csrf_of(client) == first
    client.cookies.clear()
    assert log_in(client, "alice") != first
