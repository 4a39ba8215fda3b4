"""Helpers the dashboard's server tests share: log in through the form, read the page's CSRF token."""

from __future__ import annotations

import re

from api_support import TOKEN


def log_in(client, name: str = "alice", next_path: str = "/ui/") -> str:
    """Log in through the form; the CSRF token of the session."""
    r = client.post("/login", data={"token": TOKEN, "name": name, "next": next_path})
    assert r.status_code == 303, r.text
    return csrf_of(client)


def csrf_of(client) -> str:
    page = client.get("/ui/")
    assert page.status_code == 200
    return re.search(r'name="conveyor-csrf" content="([^"]+)"', page.text).group(1)
