"""The dashboard's DORA page in a real browser (headless Chromium): the four metrics with their
values written out and their trend lines labelled for screen readers, the per-pipeline and
per-service tables, the 7/30/90-day window, and a deployment event arriving on the live stream
redrawing the numbers (no reload, no polling)."""

from __future__ import annotations

import re
import time

import pytest
from browser_support import browser, login  # noqa: F401  (browser: a fixture)
from dora_history import D, History

from conveyor.backend.fake import FakeBackend
from conveyor.engine.service import Service
from conveyor.events.stream import EventLog
from conveyor.hostcheck import allowed_hosts
from conveyor.release.service import ReleaseService
from conveyor.release.store import ReleaseStore
from conveyor.server.api import Api
from conveyor.server.asgi import create_app
from conveyor.server.dashboard import Dashboard
from conveyor.server.serve import ApiServer

TOKEN = "dora-page-token"


class Site:
    def __init__(self, tmp_path):
        self.service = Service(tmp_path / "home")
        self.events = EventLog(tmp_path / "home" / "events.db")
        self.releases = ReleaseStore(tmp_path / "releases.db")
        self.api = Api(self.service, ReleaseService({"local": FakeBackend().backend}, self.releases), TOKEN,
                       events=self.events)
        self.board = Dashboard(tmp_path / "home" / "dashboard.db", self.api)
        self.server = ApiServer(create_app(self.api, allowed_hosts("127.0.0.1"), dashboard=self.board),
                                "127.0.0.1", 0)
        self.server.start()
        self.url = f"http://127.0.0.1:{self.server.address[1]}"
        self.seq = 0

    def record(self, h: History) -> None:
        rows = []
        for e in h.events:
            self.seq += 1
            rows.append((self.seq, e))
        self.events.take("test", rows)

    def close(self) -> None:
        self.board.shutdown()
        self.server.stop()
        self.board.close()
        self.events.close()
        self.releases.close()
        self.service.store.close()


@pytest.fixture
def site(tmp_path):
    s = Site(tmp_path)
    yield s
    s.close()


def test_the_page_shows_the_metrics_trends_and_follows_new_deployments(browser, site):  # noqa: F811
    from playwright.sync_api import expect

    now = time.time()
    h = History()
    h.deployed("A", now - 20 * D, now - 20 * D + 60)                      # in 30 days, not in 7
    h.deployed("B", now - 2 * D, now - 2 * D + 60)
    h.add("deployment-started", now - D, "C").add("deployment-failed", now - D + 30, "C")
    h.deployed("F", now - D + 600, now - D + 630)                        # restores C 600 s later
    site.record(h)
    page = browser.new_page()
    login(page, site.url, TOKEN, name="dora")
    page.goto(f"{site.url}/ui/dora")
    cards = page.locator(".dora-card")
    cards.first.wait_for()
    # 30 days: A, B, F succeeded (3/30 = 0.10 a day); C failed: 1 of 4; restored in 10 min.
    assert page.get_by_role("heading", name="Deployment frequency").is_visible()
    assert cards.nth(0).locator(".dora-value").inner_text().startswith("0.10 / day")
    assert cards.nth(2).locator(".dora-value").inner_text().startswith("25%")
    assert "1 of 4 deployments" in cards.nth(2).inner_text()
    assert cards.nth(3).locator(".dora-value").inner_text().startswith("10 min 0 s")
    spark = cards.nth(0).get_by_role("img")
    label = spark.get_attribute("aria-label")
    assert label.startswith("Deployment frequency, successful deployments a day, last 30 days, oldest first: ")
    assert len(label.split(": ", 1)[1].split(", ")) == 30
    assert "null" not in page.locator("main").inner_text()
    assert page.locator("table.dora-table caption").all_inner_texts() == ["Per pipeline", "Per service"]
    assert page.get_by_role("row", name="production/orders").is_visible()
    # the window: keyboard-reachable, labelled, and it redraws the numbers
    page.get_by_label("Window").select_option("7")
    first = cards.nth(0).locator(".dora-value")
    expect(first).to_have_text(re.compile(r"^0\.29 / day"))
    assert "days=7" in page.url
    # B (2 days ago) and F (yesterday) in the last two of the 7 slots
    assert cards.nth(0).get_by_role("img").get_attribute("aria-label").endswith(
        "last 7 days, oldest first: 0, 0, 0, 0, 0, 1, 1")
    # a new deployment arrives on the live stream: 3 successes in 7 days
    site.record(History().deployed("G", time.time() - 5, time.time()))
    expect(first).to_have_text(re.compile(r"^0\.43 / day"), timeout=15000)
    page.close()
