"""GET /metrics on the real daemon after a pipeline run: what Prometheus would scrape agrees with
what the API says about the same executions, and nothing is answered without the token."""

from __future__ import annotations

import json
import textwrap
import urllib.error
import urllib.request

import pytest
from e2e_support import pipeline_repo, wait_until
from prometheus_client.parser import text_string_to_metric_families

PIPELINE = textwrap.dedent("""\
    name: scraped
    allowHostCommands: true
    pipeline:
      pollIntervalSeconds: 0
      stages:
        - name: Source
          actions:
            - {name: Source, provider: Git, outputArtifacts: [src]}
        - name: Build
          actions:
            - {name: Build, provider: Command, command: [sh, -c, "echo built"], inputArtifacts: [src]}
    """)


def scrape(conveyor, token: str | None) -> tuple[int, str, str]:
    endpoint = json.loads((conveyor.home / "daemon.json").read_text())
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"http://127.0.0.1:{endpoint['port']}/metrics", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def samples(text: str) -> dict[tuple, float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.mark.slow
def test_metrics_after_two_runs_agree_with_the_api(tmp_path, daemon):
    repo = pipeline_repo(tmp_path / "repo", PIPELINE)
    ids = [daemon.json("run", "--repo", str(repo))["id"]]
    wait_until(lambda: daemon.execution(ids[0])["status"] == "Succeeded", 60, what="the first run")
    ids.append(daemon.json("run", "--repo", str(repo))["id"])
    wait_until(lambda: daemon.execution(ids[1])["status"] == "Succeeded", 60, what="the second run")
    token = (daemon.home / "token").read_text().strip()

    status, _, body = scrape(daemon, None)
    assert status == 401 and "conveyor_" not in body

    status, content_type, body = scrape(daemon, token)
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    s = samples(body)
    assert s[("conveyor_pipelines", ())] == 1
    assert s[("conveyor_executions_started_total", (("pipeline", "scraped"),))] == 2
    assert s[("conveyor_executions", (("pipeline", "scraped"), ("status", "Succeeded")))] == 2
    assert s[("conveyor_executions", (("pipeline", "scraped"), ("status", "InProgress")))] == 0
    build = (("action", "Build"), ("pipeline", "scraped"), ("stage", "Build"))
    assert s[("conveyor_action_duration_seconds_count", build)] == 2
    took = [a for ex in ids for st in daemon.execution(ex)["stages"] for a in st["actions"] if a["name"] == "Build"]
    assert s[("conveyor_action_duration_seconds_sum", build)] == pytest.approx(
        sum(a["endedAt"] - a["startedAt"] for a in took), abs=0.01)
    assert s[("conveyor_process_resident_memory_bytes", ())] > 0

    printed = [json.loads(line)["seq"] for line in daemon("events", "--after", "0", "--json").stdout.splitlines()]
    later = samples(scrape(daemon, token)[2])
    assert printed and later[("conveyor_events_last_seq", ())] >= max(printed)
