"""kill -9 of the daemon at several points, then `conveyor up`: every execution continues from
where it was; a finished action never runs twice; a running one is re-run (and what it left
running is stopped first); a waiting approval keeps its token."""

from __future__ import annotations

import os
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
from e2e_support import action, pipeline_repo, wait_until
from stack_support import stack_missing


def pipeline(marks: Path) -> str:
    # Each Command appends its name to a marks file outside Conveyor: the count of lines is the
    # number of times it really ran. Work then sleeps, so a kill can land inside it.
    return textwrap.dedent(f"""\
        name: crashy
        allowHostCommands: true
        pipeline:
          pollIntervalSeconds: 0
          stages:
            - name: Source
              actions:
                - {{name: Source, provider: Git, outputArtifacts: [src]}}
            - name: Work
              actions:
                - name: Work
                  provider: Command
                  command: [sh, -c, "echo work >> {marks}; echo $$ > {marks}.pid; sleep 4; echo done > out.txt"]
                  inputArtifacts: [src]
                  outputArtifacts: [out]
            - name: Approval
              actions:
                - {{name: Approve, provider: Manual, customData: check it}}
            - name: Final
              actions:
                - name: Final
                  provider: Command
                  command: [sh, -c, "cat out.txt; echo final >> {marks}"]
                  inputArtifacts: [out]
        """)


@pytest.fixture
def repo(tmp_path):
    marks = tmp_path / "marks"
    return pipeline_repo(tmp_path / "repo", pipeline(marks)), marks


def runs(marks: Path, name: str) -> int:
    return marks.read_text().split().count(name) if marks.exists() else 0


def source_attempts(ex: dict) -> int:
    return len([e for e in ex["events"] if e["scope"] == "action" and e["action"] == "Source"
                and e["status"] == "InProgress"])


def finish(daemon, ex_id: str, marks: Path) -> dict:
    wait_until(lambda: daemon.execution(ex_id)["awaitingApproval"], 60, what="the approval")
    daemon("approve", ex_id, "--comment", "after the crash")
    ex = wait_until(lambda: (e := daemon.execution(ex_id))["status"] == "Succeeded" and e, 60, what="success")
    assert runs(marks, "final") == 1
    assert source_attempts(ex) == 1
    return ex


def test_kill_during_an_action_reruns_it(repo, daemon):
    work, marks = repo
    ex = daemon.json("run", "--repo", str(work))
    wait_until(lambda: runs(marks, "work") == 1, 30, what="Work to start")
    old_pid = int(Path(f"{marks}.pid").read_text())
    daemon.kill9()
    daemon("up")
    # The interrupted attempt's process was stopped before the action ran again.
    wait_until(lambda: not Path(f"/proc/{old_pid}").exists(), 10, what="the orphaned command to be stopped")
    done = finish(daemon, ex["id"], marks)
    assert runs(marks, "work") == 2
    work_action = action(done, "Work", "Work")
    assert work_action["attempt"] == 2 and work_action["status"] == "Succeeded"
    interrupted = [e for e in done["events"] if e["action"] == "Work" and e["status"] == "Abandoned"]
    assert len(interrupted) == 1 and "daemon stopped" in interrupted[0]["reason"]


def test_kill_between_stages_never_reruns_finished_actions(repo, daemon):
    work, marks = repo
    ex = daemon.json("run", "--repo", str(work))
    wait_until(lambda: action(daemon.execution(ex["id"]), "Work", "Work")["status"] == "Succeeded", 30,
               interval=0.02, what="Work to succeed")
    daemon.kill9()
    daemon("up")
    done = finish(daemon, ex["id"], marks)
    assert runs(marks, "work") == 1
    assert action(done, "Work", "Work")["attempt"] == 1


def test_kill_while_waiting_for_approval_keeps_the_approval(repo, daemon):
    work, marks = repo
    ex = daemon.json("run", "--repo", str(work))
    wait_until(lambda: daemon.execution(ex["id"])["awaitingApproval"], 60, what="the approval")
    token = action(daemon.execution(ex["id"]), "Approval", "Approve")["approval"]["token"]
    daemon.kill9()
    # The data plane of an execution is its rows: nothing is lost while the daemon is down.
    assert daemon("status", check=False).returncode == 3
    daemon("up")
    after = daemon.execution(ex["id"])
    assert after["awaitingApproval"] == ["Approval.Approve"]
    assert action(after, "Approval", "Approve")["approval"]["token"] == token
    done = finish(daemon, ex["id"], marks)
    assert runs(marks, "work") == 1
    approval = action(done, "Approval", "Approve")["approval"]
    assert approval["comment"] == "after the crash" and approval["decision"] == "Approved"
    # who approved, and why, is part of the history
    row = daemon.json("history")[0]
    assert [(a["action"], a["decision"], a["comment"]) for a in row["approvals"]] == [
        ("Approval.Approve", "Approved", "after the crash")]
    assert f"approved by {approval['by']}: after the crash" in daemon("history").stdout


def test_kill_at_random_moments_loses_nothing(repo, daemon):
    """Several crashes in a row at spread-out moments; the execution still ends exactly once."""
    work, marks = repo
    ex = daemon.json("run", "--repo", str(work))
    for delay in (0.05, 0.5, 1.5):
        time.sleep(delay)
        daemon.kill9()
        daemon("up")
    done = finish(daemon, ex["id"], marks)
    assert runs(marks, "work") >= 1
    assert action(done, "Work", "Work")["status"] == "Succeeded"
    assert os.path.exists(daemon.home / "conveyor.db")


@pytest.mark.podman
def test_kill_during_a_container_action_removes_the_container_and_reruns(tmp_path, daemon):
    from conveyor.images import BUSYBOX_IMAGE
    from conveyor.providers.local.containers import detect_engine, image_exists

    engine = detect_engine()
    if not image_exists(engine, BUSYBOX_IMAGE):
        stack_missing(f"{BUSYBOX_IMAGE} is missing: run `conveyor setup`")
    work = pipeline_repo(tmp_path / "boxed", textwrap.dedent(f"""\
        name: boxed
        pipeline:
          pollIntervalSeconds: 0
          stages:
            - name: Source
              actions:
                - {{name: Source, provider: Git, outputArtifacts: [src]}}
            - name: Work
              actions:
                - name: Boxed
                  provider: Command
                  image: {BUSYBOX_IMAGE}
                  command: [sh, -c, "echo started; sleep 12; echo finished"]
                  inputArtifacts: [src]
        """))
    ex = daemon.json("run", "--repo", str(work))

    def containers() -> list[str]:
        out = subprocess.run([engine.binary, "ps", "--all", "--format", "{{.Names}}", "--filter",
                              "label=conveyor.run"], capture_output=True, text=True).stdout
        return [n for n in out.split() if ex["id"] in n]

    first = wait_until(containers, 30, what="the action's container")
    daemon.kill9()
    assert containers() == first  # the container outlives the daemon…
    daemon("up")
    # …until recovery removes it, long before its 12 s sleep would have ended on its own.
    wait_until(lambda: first[0] not in containers(), 8, what="the interrupted container to be removed")
    done = wait_until(lambda: (e := daemon.execution(ex["id"]))["status"] == "Succeeded" and e, 60,
                      what="the re-run to succeed")
    boxed = action(done, "Work", "Boxed")
    assert boxed["attempt"] == 2
    assert "finished" in daemon("logs", ex["id"], "--stage", "Work").stdout
