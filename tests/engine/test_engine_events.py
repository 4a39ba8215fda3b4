"""Every path a pipeline execution takes gives exactly its events (conveyor.engine.events), written
in the transaction of the transition (the outbox of conveyor.db): run, approve, reject, expire,
fail and retry, stop (wait or abandon), supersede, a failed push, and the daemon dying under an
action."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from engine_support import GATE, git, make_repo, wait_until

from conveyor.engine.service import Service
from conveyor.events.outbox import read_outbox
from conveyor.events.types import Event

SOURCE = """\
    - name: Source
      actions:
        - {name: Source, provider: Git, outputArtifacts: [src]}
"""
APPROVAL_STAGES = """\
    - name: Approval
      actions:
        - name: Approve
          provider: Manual
          customData: "ship #{codepipeline.PipelineExecutionId}?"
          externalEntityLink: http://127.0.0.1:8081/
          timeoutInMinutes: 1
    - name: Release
      actions:
        - {name: Ship, provider: Wait, seconds: 0}
"""


def pipeline(stages: str, mode: str = "SUPERSEDED", name: str = "orders") -> str:
    return f"name: {name}\nallowHostCommands: true\npipeline:\n  executionMode: {mode}\n  stages:\n{SOURCE}{stages}"


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def outbox(svc: Service, execution_id: str | None = None) -> list[Event]:
    db = sqlite3.connect(str(svc.home / "conveyor.db"))
    try:
        events = [e for _, e in read_outbox(db, 0, 100_000)]
    finally:
        db.close()
    return [e for e in events if execution_id is None or e.subject.execution_id == execution_id]


def kinds(svc: Service, execution_id: str) -> list[tuple[str, ...]]:
    """(type, stage.action) per event, in outbox order."""
    out = []
    for e in outbox(svc, execution_id):
        where = ".".join(p for p in (e.subject.stage, e.subject.action) if p)
        out.append((e.type, where) if where else (e.type,))
    return out


def finished(svc: Service, execution_id: str) -> dict | None:
    d = svc.describe(execution_id)
    return d if d["status"] not in ("InProgress", "Stopping") else None


def awaiting(svc: Service, ex: str) -> dict | None:
    d = svc.describe(ex)
    return d if d["awaitingApproval"] else None


def action_status(svc: Service, ex: str, stage: str, action: str) -> str | None:
    d = svc.describe(ex)
    return next(a for s in d["stages"] if s["name"] == stage for a in s["actions"] if a["name"] == action)["status"]


START = [("pipeline-execution-started",), ("stage-execution-started", "Source"),
         ("action-execution-started", "Source.Source"), ("action-execution-succeeded", "Source.Source"),
         ("stage-execution-succeeded", "Source")]
APPROVAL_NEEDED = [("stage-execution-started", "Approval"), ("action-execution-started", "Approval.Approve"),
                   ("manual-approval-needed", "Approval.Approve")]
RELEASED = [("stage-execution-started", "Release"), ("action-execution-started", "Release.Ship"),
            ("action-execution-succeeded", "Release.Ship"), ("stage-execution-succeeded", "Release"),
            ("pipeline-execution-succeeded",)]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def svc(tmp_path, clock):
    service = Service(tmp_path / "home", clock=clock)
    service.start(polling=False)
    yield service
    service.shutdown()


def test_an_approved_execution_gives_the_whole_sequence_once(svc, tmp_path):
    repo = make_repo(tmp_path / "repo", pipeline(APPROVAL_STAGES))
    ex = svc.start_execution(repository=str(repo), trigger={"type": "StartPipelineExecution", "by": "carol"})["id"]
    wait_until(lambda: awaiting(svc, ex))
    assert kinds(svc, ex) == START + APPROVAL_NEEDED
    svc.decide(ex, "Approved", comment="looks good", by="alice")
    wait_until(lambda: finished(svc, ex))
    assert kinds(svc, ex) == START + APPROVAL_NEEDED + [
        ("manual-approval-succeeded", "Approval.Approve"), ("action-execution-succeeded", "Approval.Approve"),
        ("stage-execution-succeeded", "Approval")] + RELEASED

    events = {e.type: e for e in outbox(svc, ex)}
    commit = git(repo, "rev-parse", "HEAD").strip()
    started = events["pipeline-execution-started"]
    assert started.subject.pipeline == "orders" and started.subject.execution_id == ex
    assert started.detail["execution"] == {"id": ex, "number": 1}
    assert started.detail["revision"] == {"repository": str(repo), "branch": "main", "commit": commit}
    assert started.detail["trigger"] == {"type": "StartPipelineExecution", "by": "carol"}
    assert started.summary == f"orders #1: execution started (by carol, at main@{commit[:7]})"
    needed = events["manual-approval-needed"]
    assert needed.severity == "warning"
    assert needed.detail["approval"]["customData"] == f"ship {ex}?"
    assert needed.detail["approval"]["externalEntityLink"] == "http://127.0.0.1:8081/"
    assert needed.detail["approval"]["expires"] == pytest.approx(needed.at + 60)
    assert "token" not in needed.detail["approval"]  # whoever reads events may not approve with it
    assert needed.summary == f"orders #1: approval Approval.Approve needed: ship {ex}?"
    approved = events["manual-approval-succeeded"]
    assert approved.detail["approval"] == {"decision": "Approved", "by": "alice", "comment": "looks good"}
    assert approved.summary == "orders #1: approval Approval.Approve approved by alice: looks good"
    assert events["action-execution-succeeded"].detail["provider"] in ("Git", "Manual", "Wait")
    assert events["pipeline-execution-succeeded"].summary == "orders #1: execution succeeded"


def test_a_rejection_fails_the_approval_the_action_the_stage_and_the_execution(svc, tmp_path):
    repo = make_repo(tmp_path / "repo", pipeline(APPROVAL_STAGES))
    ex = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: awaiting(svc, ex))
    svc.decide(ex, "Rejected", comment="not today", by="bob")
    wait_until(lambda: finished(svc, ex))
    assert kinds(svc, ex) == START + APPROVAL_NEEDED + [
        ("manual-approval-failed", "Approval.Approve"), ("action-execution-failed", "Approval.Approve"),
        ("stage-execution-failed", "Approval"), ("pipeline-execution-failed",)]
    events = {e.type: e for e in outbox(svc, ex)}
    assert events["manual-approval-failed"].detail["approval"] == {"decision": "Rejected", "by": "bob",
                                                                    "comment": "not today"}
    assert events["manual-approval-failed"].summary == "orders #1: approval Approval.Approve rejected by bob: not today"
    assert events["action-execution-failed"].detail["error"] == "rejected by bob: not today"
    assert events["stage-execution-failed"].summary == \
        "orders #1: stage Approval failed: Approve: rejected by bob: not today"
    assert events["stage-execution-failed"].detail["failedActions"] == ["Approve"]
    failed = events["pipeline-execution-failed"]
    assert failed.severity == "error"
    assert failed.summary == "orders #1: execution failed: stage Approval failed: Approve: rejected by bob: not today"
    assert failed.detail["stage"] == "Approval"


def test_an_expired_approval_fails_without_a_decision(svc, tmp_path, clock):
    repo = make_repo(tmp_path / "repo", pipeline(APPROVAL_STAGES))
    ex = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: awaiting(svc, ex))
    clock.advance(61)
    svc.scheduler.tick()
    wait_until(lambda: finished(svc, ex))
    assert kinds(svc, ex)[-4:] == [("manual-approval-failed", "Approval.Approve"),
                                   ("action-execution-failed", "Approval.Approve"),
                                   ("stage-execution-failed", "Approval"), ("pipeline-execution-failed",)]
    expired = next(e for e in outbox(svc, ex) if e.type == "manual-approval-failed")
    assert expired.detail["approval"] == {"decision": "Expired", "by": None, "comment": None,
                                          "error": "approval timed out"}
    assert expired.summary == "orders #1: approval Approval.Approve expired: approval timed out"


def test_an_approval_whose_configuration_cannot_be_resolved_never_asked_anyone(svc, tmp_path):
    repo = make_repo(tmp_path / "repo", pipeline("""\
    - name: Build
      actions:
        - {name: Producer, provider: Command, command: [sh, -c, "true"], namespace: P}
    - name: Approval
      actions:
        - {name: Approve, provider: Manual, customData: "version #{P.VERSION}"}
"""))
    ex = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: finished(svc, ex))
    assert kinds(svc, ex) == START + [
        ("stage-execution-started", "Build"), ("action-execution-started", "Build.Producer"),
        ("action-execution-succeeded", "Build.Producer"), ("stage-execution-succeeded", "Build"),
        ("stage-execution-started", "Approval"), ("action-execution-started", "Approval.Approve"),
        ("action-execution-failed", "Approval.Approve"), ("stage-execution-failed", "Approval"),
        ("pipeline-execution-failed",)]


FLAKY = """\
    - name: Build
      actions:
        - {{name: Flaky, provider: Command, command: [sh, -c, 'test -e "$FLAG"'], env: {{FLAG: "{flag}"}}}}
"""


def test_a_failed_action_retried_resumes_the_execution_and_the_stage(svc, tmp_path):
    flag = tmp_path / "flag"
    repo = make_repo(tmp_path / "repo", pipeline(FLAKY.format(flag=flag)))
    ex = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: finished(svc, ex))
    failed = START + [("stage-execution-started", "Build"), ("action-execution-started", "Build.Flaky"),
                      ("action-execution-failed", "Build.Flaky"), ("stage-execution-failed", "Build"),
                      ("pipeline-execution-failed",)]
    assert kinds(svc, ex) == failed
    error = next(e for e in outbox(svc, ex) if e.type == "action-execution-failed")
    assert error.detail["error"] == "command exited with code 1"
    assert error.detail["provider"] == "Command" and error.detail["attempt"] == 1
    assert error.summary == "orders #1: action Build.Flaky failed: command exited with code 1"

    flag.touch()
    svc.retry(ex, stage="Build", by="bob")
    wait_until(lambda: finished(svc, ex))
    assert kinds(svc, ex) == failed + [
        ("pipeline-execution-resumed",), ("stage-execution-resumed", "Build"),
        ("action-execution-started", "Build.Flaky"), ("action-execution-succeeded", "Build.Flaky"),
        ("stage-execution-succeeded", "Build"), ("pipeline-execution-succeeded",)]
    resumed = {e.type: e for e in outbox(svc, ex)}
    assert resumed["pipeline-execution-resumed"].detail["retry"] == {"mode": "FAILED_ACTIONS", "by": "bob"}
    assert resumed["pipeline-execution-resumed"].summary == "orders #1: execution resumed by bob"
    assert resumed["stage-execution-resumed"].detail["retry"]["actions"] == ["Flaky"]


def held(gates: Path) -> str:
    return pipeline(f"""\
    - name: Hold
      actions:
        - name: Gate
          provider: Command
          command: [sh, -c, '{GATE}']
          env: {{GATES: "{gates}"}}
    - name: Next
      actions:
        - {{name: After, provider: Wait, seconds: 0}}
""")


HOLDING = START + [("stage-execution-started", "Hold"), ("action-execution-started", "Hold.Gate")]


def test_stop_and_wait_gives_nothing_for_stopping_and_canceled_at_the_end(svc, tmp_path):
    gates = tmp_path / "gates"
    gates.mkdir()
    repo = make_repo(tmp_path / "repo", held(gates))
    ex = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: action_status(svc, ex, "Hold", "Gate") == "InProgress")
    svc.stop(ex, reason="maintenance window", by="alice")
    assert kinds(svc, ex) == HOLDING  # Stopping is not an event
    (gates / ex).touch()
    wait_until(lambda: finished(svc, ex))
    assert kinds(svc, ex) == HOLDING + [("action-execution-succeeded", "Hold.Gate"),
                                        ("stage-execution-canceled", "Hold"), ("pipeline-execution-canceled",)]
    canceled = outbox(svc, ex)[-1]
    assert canceled.severity == "warning"
    assert canceled.summary == "orders #1: execution canceled by alice: maintenance window"
    assert (canceled.detail["stoppedBy"], canceled.detail["reason"], canceled.detail["abandon"]) == \
        ("alice", "maintenance window", False)


def test_stop_and_abandon_cancels_the_action_then_a_retry_resumes(svc, tmp_path):
    gates = tmp_path / "gates"
    gates.mkdir()
    repo = make_repo(tmp_path / "repo", held(gates))
    ex = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: action_status(svc, ex, "Hold", "Gate") == "InProgress")
    svc.stop(ex, abandon=True, by="alice")
    wait_until(lambda: finished(svc, ex))
    stopped = HOLDING + [("action-execution-canceled", "Hold.Gate"), ("stage-execution-canceled", "Hold"),
                         ("pipeline-execution-canceled",)]
    assert kinds(svc, ex) == stopped
    abandoned = next(e for e in outbox(svc, ex) if e.type == "action-execution-canceled")
    assert abandoned.summary == "orders #1: action Hold.Gate canceled: abandoned by stop"
    assert abandoned.detail["interrupted"] is False
    (gates / ex).touch()
    svc.retry(ex, stage="Hold")
    wait_until(lambda: finished(svc, ex))
    assert kinds(svc, ex) == stopped + [
        ("pipeline-execution-resumed",), ("stage-execution-resumed", "Hold"),
        ("action-execution-started", "Hold.Gate"), ("action-execution-succeeded", "Hold.Gate"),
        ("stage-execution-succeeded", "Hold"), ("stage-execution-started", "Next"),
        ("action-execution-started", "Next.After"), ("action-execution-succeeded", "Next.After"),
        ("stage-execution-succeeded", "Next"), ("pipeline-execution-succeeded",)]


def test_stopping_a_waiting_approval_cancels_it_without_a_decision(svc, tmp_path):
    repo = make_repo(tmp_path / "repo", pipeline(APPROVAL_STAGES))
    ex = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: awaiting(svc, ex))
    svc.stop(ex, by="alice")
    wait_until(lambda: finished(svc, ex))
    assert kinds(svc, ex) == START + APPROVAL_NEEDED + [
        ("action-execution-canceled", "Approval.Approve"), ("stage-execution-canceled", "Approval"),
        ("pipeline-execution-canceled",)]


def test_an_execution_waiting_behind_a_newer_one_is_superseded(svc, tmp_path):
    gates = tmp_path / "gates"
    gates.mkdir()
    repo = make_repo(tmp_path / "repo", held(gates))
    first = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: action_status(svc, first, "Hold", "Gate") == "InProgress")
    second = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: svc.describe(second)["waitingFor"] == "Hold")
    third = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: finished(svc, second))
    assert kinds(svc, second) == START + [("pipeline-execution-superseded",)]
    superseded = outbox(svc, second)[-1]
    assert superseded.detail["supersededBy"] == third
    assert superseded.summary == f"orders #2: execution superseded by execution {third[:8]}"
    for ex in (first, third):
        (gates / ex).touch()
    wait_until(lambda: finished(svc, third))
    assert kinds(svc, third)[-1] == ("pipeline-execution-succeeded",)


def test_a_push_that_cannot_start_gives_one_failed_event(svc, tmp_path):
    repo = make_repo(tmp_path / "repo", "name: orders\npipeline: [not, a, mapping]\n")
    head = git(repo, "rev-parse", "HEAD").strip()
    started = svc.on_push(str(repo), "refs/heads/main", "0" * 40, head)
    assert len(started) == 1
    ex = started[0]["id"]
    assert kinds(svc, ex) == [("pipeline-execution-failed",)]
    failed = outbox(svc, ex)[0]
    assert failed.detail["revision"] == {"repository": str(repo), "branch": "main", "commit": head}
    assert failed.detail["trigger"] == {"type": "GitPush", "ref": "refs/heads/main"}
    assert failed.summary.startswith("repo #1: execution failed: the pipeline definition is invalid")


def test_an_action_the_daemon_died_under_is_canceled_as_interrupted_and_starts_again(tmp_path, clock):
    gates = tmp_path / "gates"
    gates.mkdir()
    repo = make_repo(tmp_path / "repo", held(gates))
    first = Service(tmp_path / "home", clock=clock)
    first.start(polling=False)
    ex = first.start_execution(repository=str(repo))["id"]
    wait_until(lambda: action_status(first, ex, "Hold", "Gate") == "InProgress")
    first.shutdown()  # the action stays InProgress in the rows, as after a kill -9
    (gates / ex).touch()
    again = Service(tmp_path / "home", clock=clock)
    again.start(polling=False)
    try:
        wait_until(lambda: finished(again, ex))
        assert kinds(again, ex) == HOLDING + [
            ("action-execution-canceled", "Hold.Gate"), ("action-execution-started", "Hold.Gate"),
            ("action-execution-succeeded", "Hold.Gate"), ("stage-execution-succeeded", "Hold"),
            ("stage-execution-started", "Next"), ("action-execution-started", "Next.After"),
            ("action-execution-succeeded", "Next.After"), ("stage-execution-succeeded", "Next"),
            ("pipeline-execution-succeeded",)]
        interrupted = next(e for e in outbox(again, ex) if e.type == "action-execution-canceled")
        assert interrupted.detail["interrupted"] is True
        assert [e.detail["attempt"] for e in outbox(again, ex) if e.subject.action == "Gate"] == [1, 1, 2, 2]
    finally:
        again.shutdown()
