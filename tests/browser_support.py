"""A real browser for the dashboard's tests: Debian's headless Chromium driven by Playwright.
Missing (no `chromium`, no `playwright`), a browser test skips on a developer's machine and
FAILS under CI=true, like the rest of the stack (stack_support).

    from browser_support import browser, login       # `browser` is a module-scoped fixture

    def test_x(browser, real_dashboard):
        page = browser.new_page()
        login(page, base_url, token, name="alice")
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from stack_support import stack_missing

CHROMIUM = os.environ.get("CONVEYOR_CHROMIUM", "/usr/bin/chromium")


def chromium_path() -> str:
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not path:
        stack_missing("no Chromium (apt-get install -y chromium; scripts/test installs it)")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        stack_missing("playwright is not installed (pip install -e '.[test]')")
    path = chromium_path()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def login(page: Any, base_url: str, token: str, name: str = "tester") -> None:
    """Log in through the login form (token and the name actions are recorded under)."""
    page.goto(f"{base_url}/login")
    page.get_by_label("Token").fill(token)
    page.get_by_label("Your name").fill(name)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/ui/**")
