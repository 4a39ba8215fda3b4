"""The services, service and deployment pages in a real browser (Debian's Chromium through
Playwright) against the real daemon, podman, registry and HAProxy: a person logs in, watches a
blue/green canary start and shift traffic on the page without reloading it, and rolls it back
with a reason from the page; the API then says production is back on the old revision and the
rollback is recorded under "<name> (dashboard)" with that reason.

The canary is held at a known point by a BeforeAllowTraffic hook that waits for a file (the
"gate"), so the page is open before any production traffic moves and the test, not a clock,
decides when the shift happens."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

import browser_support  # noqa: E402
import test_e2e_bluegreen as bluegreen  # noqa: E402  (its Release project and its images' build)
from e2e_support import Conveyor, free_port, wait_until  # noqa: E402
from stack_support import stack_missing  # noqa: E402

from conveyor.images import BASE_IMAGE  # noqa: E402
from conveyor.providers.local.containers import detect_engine, image_exists  # noqa: E402

pytestmark = [pytest.mark.podman, pytest.mark.slow]
browser = browser_support.browser  # the fixture: one headless Chromium for the module
login = browser_support.login

GATE = ("import os, pathlib, time\n"
        "gate = pathlib.Path(os.environ['GATE'])\n"
        "while not gate.exists():\n"
        "    time.sleep(0.2)\n"
        "print('gate open: traffic may move')\n")
ALARM = """\
alarms:
  - name: green-errors
    metric: HTTPCode_Target_5XX_Count
    scope: green
    statistic: Sum
    period: 1
    evaluationPeriods: 3
    datapointsToAlarm: 3
    threshold: 1000
    comparisonOperator: GreaterThanThreshold
    treatMissingData: notBreaching
"""


def deployment_config(gate: Path, canary: str) -> str:
    return (f"config: {canary}\nterminationWaitMinutes: 0\n"
            f"hooks:\n  Gate: {{command: [python3, gate.py], timeoutSeconds: 300, env: {{GATE: '{gate}'}}}}\n"
            + ALARM)


@pytest.fixture
def daemon(tmp_path):
    c = Conveyor(tmp_path / "home", free_port())
    c("up")
    yield c
    c("down", "--all", check=False)


@pytest.fixture(scope="module")
def images():
    engine = detect_engine()
    if engine.binary != "podman" or not image_exists(engine, BASE_IMAGE):
        stack_missing(f"needs podman and {BASE_IMAGE}: run `conveyor setup`")
    return {"v1": bluegreen._build("bg-v1", "APP_VERSION=v1"), "v2": bluegreen._build("bg-v2", "APP_VERSION=v2")}


class Api:
    """The daemon's JSON API with its token, to check what the page did."""

    def __init__(self, daemon: Conveyor):
        self.base = f"http://127.0.0.1:{daemon.env['CONVEYOR_PORT']}"
        self.token = (daemon.home / "token").read_text().strip()

    def get(self, path: str):
        req = urllib.request.Request(self.base + path, headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())


def test_watch_a_canary_shift_live_then_roll_it_back_from_the_page(tmp_path, daemon, images, browser):
    from playwright.sync_api import expect  # present: the `browser` fixture made sure

    gate = tmp_path / "gate"
    gate.touch()  # the first release passes the gate at once
    rel = bluegreen.Release(daemon, tmp_path, deployment_config(gate, "CodeDeployDefault.ECSAllAtOnce"),
                            hooks="Hooks:\n  - BeforeAllowTraffic: Gate\n")
    (rel.root / "gate.py").write_text(GATE)
    rel.first(images["v1"])
    api = Api(daemon)
    first = api.get("/api/v1/services/production/orders")["taskDefinition"]

    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, api.base, api.token, name="alice")
    page.goto(f"{api.base}/ui/services")
    row = page.locator('tr[data-service="production/orders"]')
    row.wait_for()
    assert first in row.inner_text() and "Succeeded" in row.inner_text()
    page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page

    # a canary that, once past the gate, holds 25% on green for ten minutes
    gate.unlink()
    rel.write(deployment_config(gate, "{type: TimeBasedCanary, canaryPercentage: 25, canaryInterval: 600s}"))
    rel.deploy(images["v2"], "--no-wait")
    # the services page hears of it: the row now links the new deployment, in progress
    link = row.get_by_role("link", name="In progress")
    link.wait_for(timeout=60_000)
    link.click()  # in-page navigation (the router), not a load
    page.wait_for_url("**/ui/deployments/d-*")
    dep_id = page.url.rsplit("/", 1)[1]
    traffic = page.locator("#traffic-now")
    traffic.wait_for()
    wait_until(lambda: "BeforeAllowTraffic" in api.get(f"/api/v1/deployments/{dep_id}")["phase"], 90, 0.3,
               what="the deployment to wait at the gate")
    page.get_by_text("Skipped").first.wait_for()  # the lifecycle table is there
    assert "0% on green" in traffic.inner_text()

    gate.touch()  # traffic may move: 25% to green, and the page shows it by itself
    expect(traffic).to_contain_text("25% on green", timeout=60_000)
    assert page.evaluate("window.__sameDocument") is True
    assert "gate open" in page.locator(".card.hook").inner_text()  # the hook's output
    assert page.locator("svg.chart title").first.text_content().startswith("Production weight")
    assert page.get_by_role("img", name="HTTPCode_Target_5XX_Count against the green-errors threshold").count() == 1
    assert page.locator("#dep-phases-h + .table-wrap th[scope=col]").first.inner_text() == "Lifecycle event"

    page.set_viewport_size({"width": 375, "height": 800})  # a phone: nothing wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    page.get_by_label("Reason").fill("canary answers slowly")
    page.get_by_role("button", name="Roll back").click()
    expect(traffic).to_contain_text(": 0% on green", timeout=60_000)
    page.locator("h1").get_by_text("Stopped").wait_for()
    assert page.evaluate("window.__sameDocument") is True

    # what the API says: production on the old revision, the rollback recorded with who and why
    assert rel.version() == "v1"
    d = api.get(f"/api/v1/deployments/{dep_id}")
    assert (d["status"], d["traffic"], d["error_code"]) == ("Stopped", 0, "MANUAL_STOP"), d
    assert [a["who"] for a in d["actions"]] == ["alice (dashboard)"], d["actions"]
    assert "canary answers slowly" in d["actions"][0]["message"], d["actions"]
    wait_until(lambda: api.get("/api/v1/services/production/orders")["taskDefinition"] == first, 60, 0.3,
               what="the service back on its first revision")
    events = api.get("/api/v1/events?type=deployment-rolled-back&service=orders")["events"]
    assert [(e["subject"]["deployment_id"], e["detail"]["who"]) for e in events] == [(dep_id, "alice (dashboard)")]

    # the service's page, reached through the page's own link: its tasks, target groups, alarm
    # and recent deployments, in tables with headers
    page.set_viewport_size({"width": 1100, "height": 800})
    page.get_by_role("link", name="orders in production").click()
    page.wait_for_url("**/ui/services/production/orders")
    tasks = page.get_by_role("table", name="Tasks")
    expect(tasks.locator("tbody tr")).to_have_count(2, timeout=60_000)  # green's tasks drained
    assert tasks.locator("thead th[scope=col]").all_inner_texts()[:3] == ["Task", "Revision", "Status"]
    assert set(tasks.locator("tbody td:nth-child(2)").all_inner_texts()) == {first}
    assert page.get_by_role("table", name="Alarms").get_by_role("row", name="green-errors").count() == 1
    recent = page.get_by_role("table", name="Recent deployments")
    assert "Stopped" in recent.get_by_role("row", name=dep_id).inner_text()
    assert page.locator("h3", has_text="blue: original").count() == 1
    assert page.evaluate("window.__sameDocument") is True

    # the services list filters as one types
    page.get_by_role("link", name="Services", exact=True).click()
    page.get_by_label("Filter services").fill("no-such-service")
    expect(row).to_be_hidden()
    page.get_by_label("Filter services").fill("ord")
    expect(row).to_be_visible()
    assert errors == []
