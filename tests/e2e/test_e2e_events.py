"""The event stream through the real daemon: a pipeline with a build step and a manual approval,
the daemon killed with -9 while the approval waits and started again, the approval given with
the CLI; GET /api/v1/events then holds exactly the CodePipeline-named sequence of that
execution, each event once, and `conveyor events --json` prints the same."""

from __future__ import annotations

import json
import textwrap
import urllib.request

from e2e_support import git, pipeline_repo, wait_until

PIPELINE = textwrap.dedent("""\
    name: notified
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
        - name: Approval
          actions:
            - {name: Approve, provider: Manual, customData: "ship it?"}
        - name: Release
          actions:
            - {name: Release, provider: Command, command: [sh, -c, "echo released"]}
    """)

EXPECTED = [
    ("pipeline-execution-started", None, None),
    ("stage-execution-started", "Source", None),
    ("action-execution-started", "Source", "Source"),
    ("action-execution-succeeded", "Source", "Source"),
    ("stage-execution-succeeded", "Source", None),
    ("stage-execution-started", "Build", None),
    ("action-execution-started", "Build", "Build"),
    ("action-execution-succeeded", "Build", "Build"),
    ("stage-execution-succeeded", "Build", None),
    ("stage-execution-started", "Approval", None),
    ("action-execution-started", "Approval", "Approve"),
    ("manual-approval-needed", "Approval", "Approve"),
    ("manual-approval-succeeded", "Approval", "Approve"),
    ("action-execution-succeeded", "Approval", "Approve"),
    ("stage-execution-succeeded", "Approval", None),
    ("stage-execution-started", "Release", None),
    ("action-execution-started", "Release", "Release"),
    ("action-execution-succeeded", "Release", "Release"),
    ("stage-execution-succeeded", "Release", None),
    ("pipeline-execution-succeeded", None, None),
]


def get_events(conveyor, **query: str) -> dict:
    endpoint = json.loads((conveyor.home / "daemon.json").read_text())
    token = (conveyor.home / "token").read_text().strip()
    url = f"http://127.0.0.1:{endpoint['port']}/api/v1/events?" + "&".join(f"{k}={v}" for k, v in query.items())
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def of(events: list[dict], execution_id: str) -> list[tuple]:
    return [(e["type"], e["subject"].get("stage"), e["subject"].get("action")) for e in events
            if e["subject"].get("execution_id") == execution_id]


def test_an_approved_run_across_a_daemon_crash_gives_each_event_once(tmp_path, daemon):
    repo = pipeline_repo(tmp_path / "repo", PIPELINE)
    commit = git("rev-parse", "HEAD", cwd=repo)
    ex = daemon.json("run", "--repo", str(repo))["id"]
    wait_until(lambda: daemon.execution(ex)["awaitingApproval"], 60, what="the approval")
    needed = wait_until(lambda: [e for e in get_events(daemon, type="manual-approval-needed")["events"]], 10,
                        what="the approval event")
    assert needed[0]["summary"] == "notified #1: approval Approval.Approve needed: ship it?"

    daemon.kill9()
    daemon("up")
    daemon("approve", ex, "--comment", "go")
    wait_until(lambda: daemon.execution(ex)["status"] == "Succeeded", 60, what="success")
    answer = wait_until(lambda: (a := get_events(daemon, after="0", pipeline="notified"))["events"]
                        and a["events"][-1]["type"] == "pipeline-execution-succeeded" and a, 10,
                        what="the last event relayed")
    assert of(answer["events"], ex) == EXPECTED
    ids = [e["id"] for e in answer["events"]]
    assert len(set(ids)) == len(ids) and [e["seq"] for e in answer["events"]] == sorted(e["seq"] for e in
                                                                                     answer["events"])
    started = answer["events"][0]
    assert started["detail"]["revision"]["commit"] == commit
    assert started["detail"]["execution"] == {"id": ex, "number": 1}
    approved = next(e for e in answer["events"] if e["type"] == "manual-approval-succeeded")
    assert approved["detail"]["approval"]["decision"] == "Approved"
    assert approved["detail"]["approval"]["comment"] == "go"

    printed = [json.loads(line) for line in daemon("events", "--after", "0", "--json").stdout.splitlines()]
    assert [e["id"] for e in printed] == ids
