"""Notifications through the real daemon: a rule of the pipeline sends its events to a webhook
receiver on 127.0.0.1 that is down; the daemon is killed with -9 while those deliveries are
pending, started again, the receiver comes up, the approval is given: every event the rule takes
reaches the receiver (signed, each delivery id accepted exactly once), and `conveyor notify
deliveries` shows each delivered, the early ones after failed attempts."""

from __future__ import annotations

import json
import textwrap

from e2e_support import free_port, pipeline_repo, wait_until

from conveyor.notify.receiver import Receiver

SECRET = "whsec-e2e-notify-0123456789"

PIPELINE = textwrap.dedent("""\
    name: notified
    allowHostCommands: true
    pipeline:
      pollIntervalSeconds: 0
      stages:
        - name: Source
          actions:
            - {{name: Source, provider: Git, outputArtifacts: [src]}}
        - name: Build
          actions:
            - {{name: Build, provider: Command, command: [sh, -c, "echo built"], inputArtifacts: [src]}}
        - name: Approval
          actions:
            - {{name: Approve, provider: Manual, customData: "ship it?"}}
    notifications:
      - name: team
        events: [pipeline-execution-*, stage-execution-succeeded, manual-approval-*]
        targets:
          - webhook: {{url: "http://127.0.0.1:{port}/hook", secret: e2e-hook}}
    """)

BEFORE_CRASH = ["pipeline-execution-started", "stage-execution-succeeded", "stage-execution-succeeded",
                "manual-approval-needed"]
AFTER_CRASH = ["manual-approval-succeeded", "stage-execution-succeeded", "pipeline-execution-succeeded"]


def deliveries(conveyor) -> list[dict]:
    return json.loads(conveyor("notify", "deliveries", "--json", "--limit", "100").stdout)


def test_pending_deliveries_survive_a_kill_and_arrive_once(tmp_path, conveyor):
    port = free_port()  # the receiver's; nothing listens on it until after the crash
    conveyor.env["CONVEYOR_NOTIFY_BACKOFF_CAP"] = "1"
    conveyor("up")
    conveyor("secret", "set", "e2e-hook", input=SECRET)
    repo = pipeline_repo(tmp_path / "repo", PIPELINE.format(port=port))
    ex = conveyor.json("run", "--repo", str(repo))["id"]
    wait_until(lambda: conveyor.execution(ex)["awaitingApproval"], 60, what="the approval")
    failing = wait_until(lambda: len(rows := [d for d in deliveries(conveyor) if d["lastError"]]) == 4 and rows, 30,
                         what="the four deliveries failing against the closed port")
    assert sorted(d["eventType"] for d in failing) == sorted(BEFORE_CRASH)
    assert all(d["status"] == "pending" for d in failing)

    conveyor.kill9()
    conveyor("up")
    with Receiver(SECRET, port=port) as rx:
        conveyor("approve", ex, "--comment", "go")
        wait_until(lambda: conveyor.execution(ex)["status"] == "Succeeded", 60, what="success")
        got = rx.wait_for(7, timeout=60)
        rows = wait_until(lambda: len(r := [d for d in deliveries(conveyor) if d["status"] == "delivered"]) == 7
                          and r, 30, what="seven deliveries recorded as delivered")
        bodies = [r.json() for r in got]
        assert sorted(b["type"] for b in bodies) == sorted(BEFORE_CRASH + AFTER_CRASH)
        assert all(r.verified for r in got)
        assert sorted(rx.accepted.values()) == [1] * 7  # each delivery id accepted exactly once
        assert {b["deliveryId"] for b in bodies} == {d["id"] for d in rows}
        assert all(b["subject"]["execution_id"] == ex for b in bodies)
        approval = next(b for b in bodies if b["type"] == "manual-approval-needed")
        assert approval["links"]["approve"].startswith(f"conveyor approve {ex}")
        early = [d for d in rows if d["id"] in {f["id"] for f in failing}]
        assert len(early) == 4 and all(d["attempts"] >= 2 for d in early)

    listed = conveyor("notify", "ls").stdout
    assert "notified/team" in listed and f"127.0.0.1:{port}" in listed
    conveyor("down")
