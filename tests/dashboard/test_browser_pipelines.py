"""The dashboard's pipelines, execution, events and registry pages in a real browser (headless
Chromium through Playwright) against the real daemon (a separate process, its own data dir and
port). The pipelines here run host commands and a manual approval, so they need no containers;
the test report one runs a real CodeBuild action in the build container.

Every page is checked for being live the same way: a marker set on `window` after the page is
opened must still be there when the change shows, so the change came without a reload."""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
import urllib.request
from pathlib import Path

import pytest
from browser_support import browser, login  # noqa: F401  (a fixture)
from e2e.e2e_support import Conveyor, free_port, git, pipeline_repo, wait_until
from stack_support import stack_missing

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[1] / "reports" / "fixtures"

APPROVAL = textwrap.dedent("""\
    name: shipped
    allowHostCommands: true
    pipeline:
      pollIntervalSeconds: 0
      stages:
        - name: Source
          actions:
            - {name: Source, provider: Git, outputArtifacts: [src], namespace: SourceVariables}
        - name: Build
          actions:
            - {name: Build, provider: Command, inputArtifacts: [src],
               command: [sh, -c, "for i in 1 2 3; do echo building step $i; done"]}
        - name: Approval
          actions:
            - {name: Approve, provider: Manual, customData: "ship it?"}
        - name: Release
          actions:
            - {name: Release, provider: Command, command: [sh, -c, "echo released"]}
    repositories:
      orders: {}
    """)


class Dashboard:
    """The daemon's URL and token, and its JSON API with the bearer token (what the CLI uses)."""

    def __init__(self, conveyor: Conveyor):
        endpoint = json.loads((conveyor.home / "daemon.json").read_text())
        self.url = f"http://127.0.0.1:{endpoint['port']}"
        self.token = (conveyor.home / "token").read_text().strip()
        self.conveyor = conveyor

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            self.url + path, method=method, data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read())

    def start(self, repo: Path) -> str:
        return self.api("POST", "/api/v1/executions", {"repository": str(repo)})["id"]

    def execution(self, execution_id: str) -> dict:
        return self.api("GET", f"/api/v1/executions/{execution_id}")


@pytest.fixture
def dashboard(tmp_path):
    conveyor = Conveyor(tmp_path / "home", free_port())
    conveyor("up")
    try:
        yield Dashboard(conveyor)
    finally:
        conveyor("down", "--all", check=False)


@pytest.fixture
def page(browser, dashboard):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, dashboard.url, dashboard.token, name="alice")
    yield page
    context.close()
    assert not errors, errors


def mark(page) -> None:
    page.evaluate("window.__noReload = true")


def not_reloaded(page) -> bool:
    return page.evaluate("window.__noReload === true")


def test_watch_an_execution_live_and_approve_it_in_the_page(tmp_path, dashboard, page):
    from playwright.sync_api import expect

    repo = pipeline_repo(tmp_path / "repo", APPROVAL)
    page.goto(f"{dashboard.url}/ui/pipelines")
    expect(page.get_by_text("No pipeline is registered yet")).to_be_visible()
    mark(page)

    ex = dashboard.start(repo)
    row = page.locator("tr", has=page.get_by_role("rowheader", name="shipped"))
    expect(row).to_contain_text("waiting for approval (Approval.Approve)", timeout=30_000)
    expect(row.get_by_role("link", name="#1")).to_be_visible()
    assert not_reloaded(page)

    row.get_by_role("link", name="#1").click()  # the router: still no reload
    expect(page).to_have_url(f"{dashboard.url}/ui/executions/{ex}")
    expect(page.get_by_role("heading", name="Approval waiting: Approval.Approve")).to_be_visible()
    # exact: the screen-reader status line also reads the event's summary, which quotes it
    expect(page.get_by_text("ship it?", exact=True)).to_be_visible()
    # the approval's buttons and the stop form apply; retry does not
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    expect(page.get_by_role("button", name="Retry failed actions")).to_have_count(0)

    page.get_by_role("button", name="Show log of Build.Build").click()
    expect(page.locator("pre.log")).to_contain_text("building step 1\nbuilding step 2\nbuilding step 3")

    page.get_by_label("Comment").fill("tests are green, go")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Succeeded", timeout=30_000)
    release = page.locator(".ex-stage", has=page.get_by_role("heading", name="Release", exact=True))
    expect(release).to_contain_text("Succeeded")
    expect(page.get_by_role("heading", name="Approval waiting: Approval.Approve")).to_have_count(0)
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)
    expect(page.get_by_text("Approval.Approve: Approved by alice (dashboard) — “tests are green, go”")).to_be_visible()
    assert not_reloaded(page)

    done = dashboard.execution(ex)
    assert done["status"] == "Succeeded"
    assert [(a["action"], a["decision"], a["by"], a["comment"]) for a in done["approvals"]] == [
        ("Approval.Approve", "Approved", "alice (dashboard)", "tests are green, go")]

    # the pipelines page shows the finished execution, and its row followed without a reload
    page.get_by_role("link", name="Pipelines").first.click()
    row = page.locator("tr", has=page.get_by_role("rowheader", name="shipped"))
    expect(row).to_contain_text("Succeeded")


def test_reject_with_a_comment_fails_the_execution(tmp_path, dashboard, page):
    from playwright.sync_api import expect

    ex = dashboard.start(pipeline_repo(tmp_path / "repo", APPROVAL))
    page.goto(f"{dashboard.url}/ui/executions/{ex}")
    expect(page.get_by_role("button", name="Reject")).to_be_visible(timeout=30_000)
    page.get_by_label("Comment").fill("not on a Friday")
    page.keyboard.press("Tab")  # the keyboard alone: comment -> Approve -> Reject
    expect(page.get_by_role("button", name="Approve")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Reject")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Failed", timeout=30_000)
    done = dashboard.execution(ex)
    assert done["status"] == "Failed"
    assert [(a["decision"], a["by"], a["comment"]) for a in done["approvals"]] == [
        ("Rejected", "alice (dashboard)", "not on a Friday")]


def test_an_error_is_shown_with_its_hint(tmp_path, dashboard, page):
    """A page that has not caught up (its event stream cut) approves an approval someone else has
    just given: the daemon's Conflict comes back as an alert with its message and hint."""
    from playwright.sync_api import expect

    ex = dashboard.start(pipeline_repo(tmp_path / "repo", APPROVAL))
    wait_until(lambda: dashboard.execution(ex)["awaitingApproval"], 30, what="the approval")
    page.route("**/api/v1/events/stream*", lambda route: route.abort())
    page.goto(f"{dashboard.url}/ui/executions/{ex}")
    expect(page.get_by_role("button", name="Approve")).to_be_visible()
    dashboard.api("POST", f"/api/v1/executions/{ex}/approval", {"decision": "Approved", "by": "bob"})
    page.get_by_role("button", name="Approve").click()
    alert = page.get_by_role("alert").filter(has_text="has no approval waiting")
    expect(alert).to_contain_text("`conveyor status` shows which executions wait for approval")
    assert [a["by"] for a in dashboard.execution(ex)["approvals"]] == ["bob"]


FLAKY = textwrap.dedent("""\
    name: flaky
    allowHostCommands: true
    pipeline:
      pollIntervalSeconds: 0
      stages:
        - name: Source
          actions:
            - {name: Source, provider: Git, outputArtifacts: [src]}
        - name: Test
          actions:
            - name: Test
              provider: Command
              command: [sh, -c, "if [ -f FLAG ]; then echo passed; else touch FLAG; echo 'test_orders FAILED';
                                 exit 1; fi"]
        - name: Soak
          actions:
            - name: Soak
              provider: Command
              command: [sh, -c, "echo soak started; while [ ! -f GO ]; do sleep 0.2; done; echo soak $((6*7))"]
    """)


def test_retry_then_stream_a_running_log_then_stop(tmp_path, dashboard, page):
    from playwright.sync_api import expect

    flags = tmp_path / "flags"
    flags.mkdir()
    repo = pipeline_repo(tmp_path / "repo", FLAKY.replace("FLAG", str(flags / "flag")).replace("GO", str(flags / "go")))
    ex = dashboard.start(repo)
    page.goto(f"{dashboard.url}/ui/executions/{ex}")
    mark(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Failed", timeout=30_000)
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)  # not for a finished execution
    page.get_by_role("button", name="Show log of Test.Test").click()
    expect(page.locator("pre.log")).to_contain_text("test_orders FAILED")

    page.get_by_role("button", name="Retry failed actions").click()
    soak = page.locator(".ex-stage", has=page.get_by_role("heading", name="Soak", exact=True))
    expect(soak).to_contain_text("InProgress", timeout=30_000)
    test_stage = page.locator(".ex-stage", has=page.get_by_role("heading", name="Test", exact=True))
    expect(test_stage).to_contain_text("attempt 2")
    expect(page.locator("pre.log")).to_contain_text("passed")  # the viewer followed the new attempt

    # a running action's log, then more of it as it is written
    page.get_by_role("button", name="Show log of Soak.Soak").click()
    expect(page.locator("pre.log")).to_contain_text("soak started")
    expect(page.locator("pre.log")).not_to_contain_text("soak 42")

    page.get_by_label("Reason").fill("soak takes too long")
    page.get_by_label("Abandon running actions (do not wait for them)").check()
    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Stopped", timeout=30_000)
    expect(page.get_by_role("button", name="Retry all actions")).to_be_visible()
    assert not_reloaded(page)

    done = dashboard.execution(ex)
    assert done["status"] == "Stopped"
    stops = [e for e in done["events"] if e["scope"] == "execution" and e["status"] == "Stopping"]
    assert [(e["by"], e["reason"]) for e in stops] == [("alice (dashboard)", "soak takes too long")]
    retries = [e for e in done["events"] if e["scope"] == "execution" and e.get("retry")]
    assert [(e["retry"], e["by"]) for e in retries] == [("FAILED_ACTIONS", "alice (dashboard)")]

    # retry all actions of the stopped stage; the log streams while the action runs
    page.get_by_role("button", name="Retry all actions").click()
    expect(soak).to_contain_text("attempt 2", timeout=30_000)
    page.get_by_role("button", name="Show log of Soak.Soak").click()
    expect(page.locator("pre.log")).to_contain_text("soak started")
    (flags / "go").touch()
    expect(page.locator("pre.log")).to_contain_text("soak 42", timeout=30_000)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Succeeded", timeout=30_000)
    assert not_reloaded(page)


def test_events_page_filters_and_prepends_new_events(tmp_path, dashboard, page):
    from playwright.sync_api import expect

    first = dashboard.start(pipeline_repo(tmp_path / "repo", APPROVAL))
    wait_until(lambda: dashboard.execution(first)["awaitingApproval"], 30, what="the approval")
    page.goto(f"{dashboard.url}/ui/events")
    rows = page.locator(".ev-table tbody tr")
    expect(rows.first).to_contain_text("manual-approval-needed")
    expect(rows.first).to_contain_text("shipped #1: approval Approval.Approve needed: ship it?")

    page.get_by_label("Type").select_option("manual-approval-succeeded")
    expect(page).to_have_url(f"{dashboard.url}/ui/events?type=manual-approval-succeeded")
    expect(page.get_by_text("No events match yet")).to_be_visible()
    mark(page)
    dashboard.api("POST", f"/api/v1/executions/{first}/approval", {"decision": "Approved", "by": "bob"})
    expect(rows).to_have_count(1, timeout=30_000)
    expect(rows.first).to_contain_text("manual-approval-succeeded")
    expect(rows.first.get_by_role("link", name="shipped")).to_have_attribute("href", f"/ui/executions/{first}")
    assert not_reloaded(page)

    page.get_by_role("button", name="Clear").click()
    page.get_by_label("Pipeline").fill("nothing-like-this")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(0)
    page.get_by_label("Pipeline").fill("shipped")
    page.get_by_role("button", name="Apply").click()
    expect(rows.first).to_contain_text("pipeline-execution-succeeded", timeout=30_000)


def test_registry_page_lists_declared_repositories(tmp_path, dashboard, page):
    from playwright.sync_api import expect

    ex = dashboard.start(pipeline_repo(tmp_path / "repo", APPROVAL))
    wait_until(lambda: dashboard.execution(ex)["awaitingApproval"], 30, what="the approval")
    page.goto(f"{dashboard.url}/ui/registry")
    section = page.get_by_role("region", name="orders")
    expect(section.get_by_role("heading", name="orders")).to_be_visible()
    expect(section).to_contain_text("No images yet.")


@pytest.mark.podman
def test_failing_test_report_first_and_the_build_log(tmp_path, dashboard, page):
    """A real CodeBuild Test action with a JUnit report holding failures: the report's failed cases
    come first, the build's own log text is in the viewer, and an image pushed to the registry
    shows on the registry page with its tag and digest."""
    from playwright.sync_api import expect

    from conveyor.images import BUILD_IMAGE, BUSYBOX_IMAGE
    from conveyor.providers.local.containers import detect_engine, image_exists

    engine = detect_engine()
    if not image_exists(engine, BUILD_IMAGE) or not image_exists(engine, BUSYBOX_IMAGE):
        stack_missing(f"{BUILD_IMAGE} or {BUSYBOX_IMAGE} is missing: run `conveyor setup`")
    repo = pipeline_repo(tmp_path / "repo", textwrap.dedent("""\
        name: tested
        pipeline:
          pollIntervalSeconds: 0
          stages:
            - name: Source
              actions:
                - {name: Source, provider: Git, outputArtifacts: [src]}
            - name: Test
              actions:
                - {name: Unit, provider: CodeBuild, category: Test, inputArtifacts: [src]}
        """))
    (repo / "reports").mkdir()
    shutil.copy(FIXTURES / "pytest-junit-xunit2.xml", repo / "reports" / "junit.xml")
    (repo / "buildspec.yml").write_text(textwrap.dedent("""\
        version: 0.2
        phases:
          build:
            commands:
              - echo running the unit tests
        reports:
          unit-tests:
            files: ["**/*.xml"]
            base-directory: reports
            file-format: JUNITXML
        """))
    git("add", "-A", cwd=repo)
    git("commit", "--quiet", "-m", "with reports", cwd=repo)
    ex = dashboard.start(repo)
    page.goto(f"{dashboard.url}/ui/executions/{ex}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Failed", timeout=180_000)

    report = page.locator(".ex-report").first
    expect(report).to_contain_text("Test.Unit — unit-tests (JUNITXML)")
    first_case = report.locator(".ex-cases tbody tr").first
    expect(first_case).to_contain_text("FAILED")
    [group] = dashboard.api("GET", f"/api/v1/executions/{ex}/reports")
    failed = [c for c in group["cases"] if c["status"] in ("FAILED", "ERROR")]
    assert failed
    expect(report.locator(".ex-cases").first.locator("tbody tr")).to_have_count(len(failed))

    page.get_by_role("button", name="Show log of Test.Unit").click()
    expect(page.locator("pre.log")).to_contain_text("running the unit tests")
    expect(page.locator("pre.log")).to_contain_text("Report group unit-tests: FAILED")

    # the registry page: an image pushed by hand shows with its tag and digest
    endpoint = json.loads((dashboard.conveyor.home / "registry.json").read_text())
    token = (dashboard.conveyor.home / "registry" / "token").read_text().strip()
    address = endpoint["address"]
    ref = f"{address}/tools:v1"

    def podman(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(["podman", *args], capture_output=True, text=True, input=input, timeout=120)

    try:
        assert podman("login", "--tls-verify=false", "-u", "AWS", "--password-stdin", address,
                      input=token).returncode == 0
        assert podman("tag", BUSYBOX_IMAGE, ref).returncode == 0
        assert podman("push", "--tls-verify=false", ref).returncode == 0
        [repository] = dashboard.api("GET", "/api/v1/images?repository=tools")["repositories"]
        digest = repository["images"][0]["imageDigest"]
        page.get_by_role("link", name="Registry").click()
        section = page.get_by_role("region", name="tools")
        expect(section.get_by_role("rowheader", name="v1")).to_be_visible()
        expect(section.locator(f'td[title="{digest}"]')).to_contain_text(digest[:19])

        # another push while the page is open: its image-pushed event redraws the listing in place
        mark(page)
        assert podman("tag", BUSYBOX_IMAGE, f"{address}/tools:v2").returncode == 0
        assert podman("push", "--tls-verify=false", f"{address}/tools:v2").returncode == 0
        expect(section.locator(".rg-tag", has_text="v2")).to_be_visible(timeout=30_000)
        assert not_reloaded(page)
        page.goto(f"{dashboard.url}/ui/events?type=image-pushed")
        row = page.locator(".ev-table tbody tr").first
        expect(row).to_contain_text("tools:v2 pushed")
        expect(row.get_by_role("link", name="tools")).to_have_attribute("href", "/ui/registry")
    finally:
        podman("rmi", ref, f"{address}/tools:v2")


UNLABELLED = """() => [...document.querySelectorAll("main input, main select, main textarea")]
    .filter((el) => el.type !== "hidden" && !el.labels.length && !el.getAttribute("aria-label"))
    .map((el) => el.outerHTML)"""
UNSCOPED = """() => [...document.querySelectorAll("main th")].filter((th) => !th.getAttribute("scope"))
    .map((th) => th.textContent)"""


def test_pages_at_phone_width_have_labels_scoped_headers_and_no_sideways_scroll(tmp_path, dashboard, browser):  # noqa: F811
    """At 375px every page fits the screen's width (wide tables scroll inside their own box), every
    field has a label, every table header says what it heads, and statuses are words."""
    from playwright.sync_api import expect

    ex = dashboard.start(pipeline_repo(tmp_path / "repo", APPROVAL))
    wait_until(lambda: dashboard.execution(ex)["awaitingApproval"], 30, what="the approval")
    context = browser.new_context(viewport={"width": 375, "height": 812})
    page = context.new_page()
    try:
        login(page, dashboard.url, dashboard.token, name="phone")
        for path, heading, table in (("/ui/pipelines", "Pipelines", True), (f"/ui/executions/{ex}", "shipped #1", True),
                                     ("/ui/registry", "Registry", False), ("/ui/events", "Events", True)):
            page.goto(dashboard.url + path)
            expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
            if table:
                expect(page.locator("main table").first).to_be_visible()
            else:
                expect(page.get_by_text("No images yet.")).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
            assert page.evaluate(UNLABELLED) == [], path
            assert page.evaluate(UNSCOPED) == [], path
        page.goto(f"{dashboard.url}/ui/executions/{ex}")
        approval = page.locator(".ex-stage", has=page.get_by_role("heading", name="Approval", exact=True))
        expect(approval.locator(".status").first).to_have_text("InProgress")
        expect(page.get_by_role("button", name="Approve")).to_be_in_viewport(ratio=0.5)
    finally:
        context.close()
