"""The dashboard's browser-facing rules as plain functions (conveyor.server.dashboard.security):
which `next` a login may return to, the cookie's attributes, the same-origin check and the
brake on failed logins (a fake clock)."""

from __future__ import annotations

import pytest

from conveyor.server.dashboard.security import (
    CSP,
    LoginThrottle,
    cleared_cookie,
    cookie_value,
    equal,
    safe_next,
    same_origin,
    security_headers,
    session_cookie,
)


@pytest.mark.parametrize("path", ["/ui", "/ui/", "/ui/pipelines", "/ui/executions/1a2b-3c",
                                  "/ui/services/prod/orders?tab=events", "/ui/events?type=a,b&after=3",
                                  "/ui/x%20y"])
def test_a_login_returns_to_a_dashboard_path(path):
    assert safe_next(path) == path


@pytest.mark.parametrize("path", [None, "", "/", "/api/v1/secrets", "//evil.example/ui/", "/\\evil.example",
                                  "http://evil.example/ui/", "https:/ui/", "/ui//evil.example", "/ui/../api/v1",
                                  "/ui/./x/../../login", "/ui/%2e%2e/api", "/ui/%2F%2Fevil", "/ui/\\x",
                                  "/uix", "/ui\r\nSet-Cookie: a=b", "/ui/" + "a" * 3000, " /ui/", "/ui/\x00",
                                  "javascript:alert(1)", "/ui/<script>"])
def test_anything_else_returns_to_the_dashboard_home(path):
    assert safe_next(path) == "/ui/"


def test_the_session_cookie_is_httponly_strict_and_for_the_whole_daemon():
    cookie = session_cookie("abc")
    parts = [p.strip() for p in cookie.split(";")]
    assert parts[0] == "conveyor_session=abc"
    assert {"HttpOnly", "SameSite=Strict", "Path=/"} <= set(parts)
    assert "Max-Age=0" in cleared_cookie() and cleared_cookie().startswith("conveyor_session=;")


def test_the_session_id_is_read_from_among_other_cookies():
    assert cookie_value("a=1; conveyor_session=s3cr3t; b=2") == "s3cr3t"
    assert cookie_value("conveyor_sessionx=1; xconveyor_session=2") is None
    assert cookie_value(None) is None and cookie_value("conveyor_session=") is None


def test_security_headers_forbid_framing_sniffing_referrers_and_foreign_or_inline_script():
    headers = security_headers()
    assert headers["Content-Security-Policy"] == CSP
    assert "default-src 'self'" in CSP and "frame-ancestors 'none'" in CSP and "unsafe-inline" not in CSP
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("headers, ok", [
    ({"host": "127.0.0.1:7878"}, True),                                                  # the CLI, curl
    ({"host": "127.0.0.1:7878", "origin": "http://127.0.0.1:7878"}, True),
    ({"host": "127.0.0.1:7878", "origin": "null", "sec-fetch-site": "same-origin"}, True),  # no-referrer pages
    ({"host": "127.0.0.1:7878", "origin": "http://127.0.0.1:9999"}, False),
    ({"host": "127.0.0.1:7878", "origin": "http://evil.example"}, False),
    ({"host": "127.0.0.1:7878", "origin": "null", "sec-fetch-site": "cross-site"}, False),
    ({"host": "127.0.0.1:7878", "sec-fetch-site": "same-site"}, False),                 # another port, same host
    ({"origin": "http://127.0.0.1:7878"}, False),
])
def test_same_origin(headers, ok):
    assert same_origin(headers) is ok


def test_equal_is_a_plain_comparison_of_secrets():
    assert equal("abc", "abc") and not equal("abd", "abc") and not equal(None, "abc") and not equal("", "abc")


def test_failed_logins_are_braked_per_address_and_forgotten_after_the_window():
    now = [0.0]
    throttle = LoginThrottle(attempts=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.retry_after("10.0.0.1") == 0
        throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 61
    assert throttle.retry_after("10.0.0.2") == 0
    now[0] = 30
    assert 0 < throttle.retry_after("10.0.0.1") <= 31
    now[0] = 60
    assert throttle.retry_after("10.0.0.1") == 0
