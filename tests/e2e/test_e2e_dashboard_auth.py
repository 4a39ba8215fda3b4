"""The dashboard's ways in, through the real daemon and a real browser (headless Chromium):
the token form and `conveyor dashboard`'s one-time link log in; afterwards the token is in no
page, no URL the browser visited and no cookie, and the session cookie is out of the page
scripts' reach (HttpOnly). A write made from the dashboard is recorded under the session's name;
a form posted from another origin is refused and changes nothing; the live event stream reaches
the page."""

from __future__ import annotations

import http.server
import json
import textwrap
import threading
import urllib.request
from collections.abc import Iterator

import pytest
from browser_support import browser, login  # noqa: F401  (browser: a fixture)
from e2e_support import free_port, pipeline_repo, wait_until

PIPELINE = textwrap.dedent("""\
    name: watched
    allowHostCommands: true
    pipeline:
      pollIntervalSeconds: 0
      stages:
        - name: Source
          actions:
            - {name: Source, provider: Git, outputArtifacts: [src]}
        - name: Approval
          actions:
            - {name: Approve, provider: Manual}
    """)


def base_url(conveyor) -> str:
    endpoint = json.loads((conveyor.home / "daemon.json").read_text())
    return f"http://127.0.0.1:{endpoint['port']}"


def token_of(conveyor) -> str:
    return (conveyor.home / "token").read_text().strip()


def api_get(conveyor, path: str):
    request = urllib.request.Request(base_url(conveyor) + path,
                                     headers={"Authorization": f"Bearer {token_of(conveyor)}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def visited(page) -> list[str]:
    """Every URL the page's main frame was at (the browser history of this tab)."""
    urls: list[str] = []
    page.on("framenavigated", lambda frame: urls.append(frame.url) if frame == page.main_frame else None)
    return urls


def assert_no_token_anywhere(page, context, token: str, urls: list[str]) -> None:
    assert urls and all(token not in u for u in urls), urls
    assert token not in page.content()
    for cookie in context.cookies():
        assert token not in cookie["value"]
    session = [c for c in context.cookies() if c["name"] == "conveyor_session"]
    assert len(session) == 1 and session[0]["httpOnly"] and session[0]["sameSite"] == "Strict"
    assert "conveyor_session" not in page.evaluate("document.cookie")
    assert session[0]["value"] not in page.evaluate("document.documentElement.outerHTML")


def test_token_form_login_keeps_the_token_out_of_pages_urls_and_cookies(browser, daemon, tmp_path):  # noqa: F811
    token = token_of(daemon)
    context = browser.new_context()
    page = context.new_page()
    urls = visited(page)
    page.goto(base_url(daemon) + "/ui/events")
    assert "/login?next=/ui/events" in page.url
    page.get_by_label("Token").fill("not-the-token")
    page.get_by_label("Your name").fill("alice")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text().startswith("That is not this daemon's token")
    login(page, base_url(daemon), token, name="alice")
    assert page.url.startswith(base_url(daemon) + "/ui/")
    assert_no_token_anywhere(page, context, token, urls)

    # an action taken from the page is recorded under the session's name (the page sends no `by`)
    repo = pipeline_repo(tmp_path / "repo", PIPELINE)
    ex = daemon.json("run", "--repo", str(repo))["id"]
    wait_until(lambda: daemon.execution(ex)["awaitingApproval"], 60, what="the approval")
    answer = page.evaluate("""async (id) => {
        const {api} = await import('/ui/assets/app.js');
        return await api.post(`/api/v1/executions/${id}/approval`, {decision: 'Approved', comment: 'looks good',
                                                                     by: 'mallory'});
    }""", ex)
    assert answer["id"] == ex
    done = wait_until(lambda: (e := daemon.execution(ex))["status"] == "Succeeded" and e, 60, what="success")
    approval = done["stages"][1]["actions"][0]["approval"]
    assert (approval["by"], approval["comment"]) == ("alice (dashboard)", "looks good")
    assert_no_token_anywhere(page, context, token, urls)
    context.close()


def test_a_one_time_link_logs_in_once_and_the_page_gets_live_events(browser, daemon, tmp_path):  # noqa: F811
    url = daemon("dashboard", "--name", "bob").stdout.strip()
    assert url.startswith(base_url(daemon) + "/login/link?code=")
    context = browser.new_context()
    page = context.new_page()
    urls = visited(page)
    page.goto(url)
    assert page.url == base_url(daemon) + "/ui/"  # the code left the address bar
    assert page.locator('meta[name="conveyor-actor"]').get_attribute("content") == "bob"
    assert_no_token_anywhere(page, context, token_of(daemon), urls)

    page.evaluate("""async () => {
        const {subscribe} = await import('/ui/assets/app.js');
        window.seen = [];
        subscribe((e) => e.subject.pipeline === 'watched', (e) => window.seen.push(e.type));
    }""")
    wait_until(lambda: page.locator("#live").inner_text() == "live", 10, what="the stream open")
    repo = pipeline_repo(tmp_path / "repo", PIPELINE)
    daemon.json("run", "--repo", str(repo))
    wait_until(lambda: "manual-approval-needed" in page.evaluate("window.seen"), 30, what="the event on the page")
    assert page.evaluate("window.seen")[0] == "pipeline-execution-started"

    again = browser.new_context().new_page()
    again.goto(url)
    assert "/login/link" in again.url and "used already or has expired" in again.content()
    context.close()


@pytest.fixture
def other_site() -> Iterator[tuple[int, dict]]:
    """A page on another origin of this machine that posts a form to the daemon (what a
    malicious local page or a site the user visits would do). Its HTML is set per test."""
    pages: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield port, pages
    server.shutdown()
    server.server_close()


def forged_secret_form(target: str) -> bytes:
    """A text/plain form whose body reads as the JSON of POST /api/v1/secrets."""
    return (f'<form method="post" enctype="text/plain" action="{target}/api/v1/secrets">'
            '<input type="hidden" name=\'{"name":"FORGED","value":"x","pad":"\' value=\'"}\'>'
            '</form><script>document.forms[0].submit()</script>').encode()


def test_a_form_posted_from_another_origin_changes_nothing(browser, daemon, other_site):  # noqa: F811
    port, pages = other_site
    context = browser.new_context()
    page = context.new_page()
    login(page, base_url(daemon), token_of(daemon), name="carol")
    # the same site (127.0.0.1, another port): the cookie goes along, the CSRF header cannot
    pages["/same-site"] = forged_secret_form(base_url(daemon))
    with page.expect_response(lambda r: r.url.endswith("/api/v1/secrets")) as posted:
        page.goto(f"http://127.0.0.1:{port}/same-site")
    assert posted.value.status == 403
    # another site (localhost): SameSite=Strict keeps the cookie home, so not even a session
    pages["/cross-site"] = forged_secret_form(base_url(daemon))
    with page.expect_response(lambda r: r.url.endswith("/api/v1/secrets")) as posted:
        page.goto(f"http://localhost:{port}/cross-site")
    assert posted.value.status == 401
    assert [s["name"] for s in api_get(daemon, "/api/v1/secrets")] == []
    context.close()
