"""The dashboard's server side through the real daemon: a login outlives a daemon restart, an
action's log streams live until its `end`, and `conveyor down` with dashboards' streams open
stops the daemon cleanly (it does not wait them out, and is not killed)."""

from __future__ import annotations

import json
import textwrap
import threading
import time

import httpx
from browser_support import browser, login  # noqa: F401  (browser: a fixture)
from e2e_support import pipeline_repo, wait_until

LOGGED = textwrap.dedent("""\
    name: chatty
    allowHostCommands: true
    pipeline:
      pollIntervalSeconds: 0
      stages:
        - name: Source
          actions:
            - {name: Source, provider: Git, outputArtifacts: [src]}
        - name: Build
          actions:
            - name: Build
              provider: Command
              command: [sh, -c, "for i in 1 2 3 4 5; do echo line $i; sleep 0.3; done"]
    """)


def base_url(conveyor) -> str:
    endpoint = json.loads((conveyor.home / "daemon.json").read_text())
    return f"http://127.0.0.1:{endpoint['port']}"


def auth(conveyor) -> dict[str, str]:
    return {"Authorization": f"Bearer {(conveyor.home / 'token').read_text().strip()}"}


def test_a_login_outlives_a_daemon_restart(browser, daemon):  # noqa: F811
    context = browser.new_context()
    page = context.new_page()
    login(page, base_url(daemon), (daemon.home / "token").read_text().strip(), name="erin")
    daemon("down")
    daemon("up")
    page.goto(base_url(daemon) + "/ui/events")
    assert page.url == base_url(daemon) + "/ui/events"
    assert page.locator('meta[name="conveyor-actor"]').get_attribute("content") == "erin"
    context.close()


def test_an_actions_log_streams_live_then_ends(daemon, tmp_path):
    repo = pipeline_repo(tmp_path / "repo", LOGGED)
    ex = daemon.json("run", "--repo", str(repo))["id"]
    url = f"{base_url(daemon)}/api/v1/executions/{ex}/logs/Build/Build/1/stream"
    wait_until(lambda: httpx.get(url.removesuffix("/stream"), headers=auth(daemon)).status_code == 200, 60,
               what="the Build log")
    text, chunks, ended = "", 0, None
    with httpx.stream("GET", url, headers=auth(daemon), timeout=60) as answer:
        assert answer.status_code == 200
        event = None
        for line in answer.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                if event == "end":
                    ended = data
                    break
                text += data["text"]
                chunks += 1
    assert [f"line {i}" for i in range(1, 6)] == [x for x in text.splitlines() if x.startswith("line ")]
    assert ended is not None and ended["offset"] == len(text.encode())
    assert chunks > 1  # it arrived as it was written, not in one piece at the end
    assert daemon.execution(ex)["stages"][1]["actions"][0]["status"] == "Succeeded"


def test_down_with_open_streams_stops_cleanly(daemon):
    answers: list[str] = []

    def listen() -> None:
        try:
            with httpx.stream("GET", f"{base_url(daemon)}/api/v1/events/stream", headers=auth(daemon),
                              timeout=60) as answer:
                for _ in answer.iter_lines():
                    pass
            answers.append("ended")
        except httpx.HTTPError as exc:
            answers.append(repr(exc))

    threads = [threading.Thread(target=listen) for _ in range(10)]
    for t in threads:
        t.start()
    wait_until(lambda: len(json.loads(httpx.get(f"{base_url(daemon)}/api/v1/daemon", headers=auth(daemon)).text)
                           ) > 0, 10, what="the daemon")
    time.sleep(0.5)  # let the ten streams open (not an assertion on time)
    started = time.monotonic()
    done = daemon("down")
    took = time.monotonic() - started
    assert "Conveyor is down" in done.stdout, done.stdout
    for t in threads:
        t.join(10)
    assert answers == ["ended"] * 10
    print(f"conveyor down with 10 open streams: {took:.2f} s")
