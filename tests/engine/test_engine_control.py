"""Intents on a running execution, through the service layer: stop and abandon (aws-semantics
§2.5), stage retry (§2.14), manual approval (§2.11) and runtime variable resolution (§2.7)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from engine_support import GATE, make_repo, wait_until

from conveyor.engine.service import Service
from conveyor.errors import Conflict, UserError

UNRESOLVED = "An action in this pipeline failed because one or more variables could not be resolved: Action name="


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def gates(tmp_path) -> Path:
    path = tmp_path / "gates"
    path.mkdir()
    return path


def status(svc: Service, execution_id: str) -> str:
    return svc.describe(execution_id)["status"]


def stage_of(d: dict, stage: str) -> dict:
    return next(s for s in d["stages"] if s["name"] == stage)


def action_of(d: dict, stage: str, action: str) -> dict:
    return next(a for a in stage_of(d, stage)["actions"] if a["name"] == action)


def action_status(svc: Service, execution_id: str, stage: str, action: str) -> str | None:
    return action_of(svc.describe(execution_id), stage, action)["status"]


def finished(svc: Service, execution_id: str) -> dict | None:
    d = svc.describe(execution_id)
    return d if d["status"] not in ("InProgress", "Stopping") else None


SOURCE = """\
    - name: Source
      actions:
        - {name: Source, provider: Git, outputArtifacts: [src]}
"""


def pipeline(stages: str, mode: str = "SUPERSEDED") -> str:
    return f"name: control\nallowHostCommands: true\npipeline:\n  executionMode: {mode}\n  stages:\n{SOURCE}{stages}"


# --- stop ---------------------------------------------------------------------------------------


def held_pipeline(gates: Path, command: str = GATE) -> str:
    return pipeline(f"""\
    - name: Hold
      actions:
        - name: Gate
          provider: Command
          command: [sh, -c, '{command}']
          env: {{GATES: "{gates}"}}
    - name: Next
      actions:
        - {{name: After, provider: Wait, seconds: 0}}
""")


def test_stop_and_wait_lets_the_running_action_finish_and_starts_nothing_more(svc, tmp_path, gates):
    repo = make_repo(tmp_path / "repo", held_pipeline(gates))
    ex = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: action_status(svc, ex, "Hold", "Gate") == "InProgress")

    d = svc.stop(ex, reason="maintenance window", by="alice")
    assert d["status"] == "Stopping"
    assert stage_of(d, "Hold")["status"] == "Stopping"
    assert action_of(d, "Hold", "Gate")["status"] == "InProgress"
    with pytest.raises(Conflict, match="already stopping"):
        svc.stop(ex)  # §2.5: not allowed on an execution already Stopping (without abandon)

    (gates / ex).touch()
    d = wait_until(lambda: finished(svc, ex))
    assert d["status"] == "Stopped"
    assert action_of(d, "Hold", "Gate")["status"] == "Succeeded"  # keeps its own result
    assert stage_of(d, "Hold")["status"] == "Stopped"
    assert stage_of(d, "Next")["status"] is None
    assert action_of(d, "Next", "After")["status"] is None
    execution_events = [e["status"] for e in d["events"] if e["scope"] == "execution"]
    assert execution_events == ["InProgress", "Stopping", "Stopped"]
    stopping = next(e for e in d["events"] if e["scope"] == "execution" and e["status"] == "Stopping")
    assert (stopping["by"], stopping["reason"]) == ("alice", "maintenance window")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_stop_and_abandon_marks_the_action_abandoned_and_kills_it(svc, tmp_path, gates):
    repo = make_repo(tmp_path / "repo", held_pipeline(gates, 'echo $$ > "$GATES/pid"; exec sleep 60'))
    ex = svc.start_execution(repository=str(repo))["id"]
    pid = int(wait_until(lambda: (gates / "pid").exists() and (gates / "pid").read_text().strip()))
    assert pid_alive(pid)

    d = svc.stop(ex, abandon=True, by="alice")
    assert action_of(d, "Hold", "Gate")["status"] == "Abandoned"
    d = wait_until(lambda: finished(svc, ex), timeout=5)
    assert d["status"] == "Stopped"
    assert stage_of(d, "Hold")["status"] == "Stopped"
    assert stage_of(d, "Next")["status"] is None
    wait_until(lambda: not pid_alive(pid), timeout=5)  # killed, not left to its 60 s sleep
    # the worker's own end ("cancelled") does not overwrite the abandonment
    assert action_of(svc.describe(ex), "Hold", "Gate")["status"] == "Abandoned"
    assert action_of(d, "Hold", "Gate")["error"] == "abandoned by stop"


def test_abandon_is_allowed_on_an_execution_already_stopping(svc, tmp_path, gates):
    repo = make_repo(tmp_path / "repo", held_pipeline(gates))
    ex = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: action_status(svc, ex, "Hold", "Gate") == "InProgress")
    assert svc.stop(ex)["status"] == "Stopping"
    d = svc.stop(ex, abandon=True, reason="deploy freeze", by="carol")
    assert action_of(d, "Hold", "Gate")["status"] == "Abandoned"
    assert action_of(d, "Hold", "Gate")["error"] == "abandoned by stop: deploy freeze"
    assert wait_until(lambda: finished(svc, ex))["status"] == "Stopped"


def test_stop_of_a_finished_execution_is_a_conflict(svc, tmp_path):
    repo = make_repo(tmp_path / "repo", pipeline("    - name: Go\n      actions:\n"
                                                 "        - {name: W, provider: Wait, seconds: 0}\n"))
    ex = svc.start_execution(repository=str(repo))["id"]
    assert wait_until(lambda: finished(svc, ex))["status"] == "Succeeded"
    with pytest.raises(Conflict, match="is Succeeded and cannot be stopped"):
        svc.stop(ex)
    with pytest.raises(Conflict):
        svc.stop(ex, abandon=True)


def test_an_abandoned_action_runs_again_on_retry(svc, tmp_path, gates):
    repo = make_repo(tmp_path / "repo", held_pipeline(gates))
    ex = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: action_status(svc, ex, "Hold", "Gate") == "InProgress")
    svc.stop(ex, abandon=True)
    wait_until(lambda: finished(svc, ex))
    (gates / ex).touch()
    svc.retry(ex, stage="Hold")
    d = wait_until(lambda: finished(svc, ex))
    assert d["status"] == "Succeeded"
    assert action_of(d, "Hold", "Gate")["attempt"] == 2


# --- retry --------------------------------------------------------------------------------------


def flaky_pipeline(flag: Path, mode: str = "SUPERSEDED") -> str:
    return pipeline(f"""\
    - name: Build
      actions:
        - {{name: Good, provider: Command, command: [sh, -c, "echo ok"]}}
        - {{name: Flaky, provider: Command, command: [sh, -c, 'test -e "$FLAG"'], env: {{FLAG: "{flag}"}}}}
""", mode)


def failed_run(svc: Service, repo: Path) -> str:
    ex = svc.start_execution(repository=str(repo))["id"]
    d = wait_until(lambda: finished(svc, ex))
    assert d["status"] == "Failed"
    assert action_of(d, "Build", "Good")["status"] == "Succeeded"
    assert action_of(d, "Build", "Flaky")["status"] == "Failed"
    assert action_of(d, "Build", "Flaky")["error"] == "command exited with code 1"
    return ex


def attempts(svc: Service, ex: str, action: str) -> list[int]:
    return [t.attempt for t in svc.store.transitions(ex) if t.action == action and t.status == "InProgress"]


def test_retry_failed_actions_reruns_only_the_failed_one(svc, tmp_path):
    flag = tmp_path / "flag"
    repo = make_repo(tmp_path / "repo", flaky_pipeline(flag))
    ex = failed_run(svc, repo)
    flag.touch()
    svc.retry(ex, stage="Build", mode="FAILED_ACTIONS", by="bob")
    d = wait_until(lambda: finished(svc, ex))
    assert d["status"] == "Succeeded"
    assert attempts(svc, ex, "Good") == [1]
    assert attempts(svc, ex, "Flaky") == [1, 2]
    assert action_of(d, "Build", "Flaky")["attempt"] == 2
    assert stage_of(d, "Build")["attempt"] == 2
    retried = [e for e in d["events"] if e.get("retry")]
    assert {(e["scope"], e["retry"], e["by"]) for e in retried} == {("execution", "FAILED_ACTIONS", "bob"),
                                                                     ("stage", "FAILED_ACTIONS", "bob")}


def test_retry_all_actions_reruns_the_whole_stage(svc, tmp_path):
    flag = tmp_path / "flag"
    repo = make_repo(tmp_path / "repo", flaky_pipeline(flag))
    ex = failed_run(svc, repo)
    flag.touch()
    svc.retry(ex, mode="ALL_ACTIONS")  # the stage defaults to where the execution stopped
    d = wait_until(lambda: finished(svc, ex))
    assert d["status"] == "Succeeded"
    assert attempts(svc, ex, "Good") == [1, 2]
    assert attempts(svc, ex, "Flaky") == [1, 2]
    assert attempts(svc, ex, "Source") == [1]  # earlier stages are not re-run


def test_retry_is_refused_once_a_newer_execution_entered_the_stage(svc, tmp_path):
    flag = tmp_path / "flag"
    repo = make_repo(tmp_path / "repo", flaky_pipeline(flag))
    ex1 = failed_run(svc, repo)
    flag.touch()
    ex2 = svc.start_execution(repository=str(repo))["id"]
    assert wait_until(lambda: finished(svc, ex2))["status"] == "Succeeded"
    with pytest.raises(Conflict, match="NotLatestPipelineExecutionException"):
        svc.retry(ex1, stage="Build")
    assert status(svc, ex1) == "Failed"


def test_retry_of_a_succeeded_execution_is_a_conflict(svc, tmp_path):
    flag = tmp_path / "flag"
    flag.touch()
    repo = make_repo(tmp_path / "repo", flaky_pipeline(flag))
    ex = svc.start_execution(repository=str(repo))["id"]
    assert wait_until(lambda: finished(svc, ex))["status"] == "Succeeded"
    with pytest.raises(Conflict, match="only a Failed or Stopped execution can be retried"):
        svc.retry(ex, stage="Build")


def test_retry_of_another_stage_or_with_an_unknown_mode_is_refused(svc, tmp_path):
    repo = make_repo(tmp_path / "repo", flaky_pipeline(tmp_path / "flag"))
    ex = failed_run(svc, repo)
    with pytest.raises(Conflict, match="not where execution"):
        svc.retry(ex, stage="Source")
    with pytest.raises(UserError, match="unknown retry mode 'SOME_ACTIONS'"):
        svc.retry(ex, mode="SOME_ACTIONS")
    assert status(svc, ex) == "Failed"


# --- manual approval ----------------------------------------------------------------------------

APPROVAL = pipeline("""\
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
""")


def awaiting(svc: Service, ex: str) -> dict | None:
    d = svc.describe(ex)
    return d if d["awaitingApproval"] == ["Approval.Approve"] else None


def test_approve_continues_and_records_who_and_why(svc, tmp_path):
    repo = make_repo(tmp_path / "repo", APPROVAL)
    ex = svc.start_execution(repository=str(repo))["id"]
    d = wait_until(lambda: awaiting(svc, ex))
    approval = action_of(d, "Approval", "Approve")["approval"]
    assert approval["customData"] == f"ship {ex}?"  # variables resolved before the action starts
    assert approval["externalEntityLink"] == "http://127.0.0.1:8081/"
    assert approval["token"]

    svc.decide(ex, "Approved", comment="looks good", by="alice", token=approval["token"])
    d = wait_until(lambda: finished(svc, ex))
    assert d["status"] == "Succeeded"
    approval = action_of(d, "Approval", "Approve")["approval"]
    assert (approval["decision"], approval["by"], approval["comment"]) == ("Approved", "alice", "looks good")
    assert approval["decidedAt"]
    assert action_of(d, "Release", "Ship")["status"] == "Succeeded"
    with pytest.raises(Conflict, match="has no approval waiting"):  # ApprovalAlreadyCompletedException
        svc.decide(ex, "Approved")


def test_reject_fails_the_execution_naming_who(svc, tmp_path):
    repo = make_repo(tmp_path / "repo", APPROVAL)
    ex = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: awaiting(svc, ex))
    svc.decide(ex, "Rejected", comment="not today", by="bob")
    d = wait_until(lambda: finished(svc, ex))
    assert d["status"] == "Failed"
    assert action_of(d, "Approval", "Approve")["status"] == "Failed"
    assert action_of(d, "Approval", "Approve")["error"] == "rejected by bob: not today"
    assert d["reason"] == "stage Approval failed: Approve: rejected by bob: not today"
    assert any(e.get("error") == "rejected by bob: not today" and e.get("by") == "bob" for e in d["events"])
    assert stage_of(d, "Release")["status"] is None


def test_a_decision_must_be_approved_or_rejected(svc, tmp_path):
    repo = make_repo(tmp_path / "repo", APPROVAL)
    ex = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: awaiting(svc, ex))
    with pytest.raises(UserError, match="decision must be Approved or Rejected"):
        svc.decide(ex, "Maybe")
    svc.stop(ex)  # a waiting approval is abandoned by a plain stop
    d = wait_until(lambda: finished(svc, ex))
    assert d["status"] == "Stopped"
    assert action_of(d, "Approval", "Approve")["status"] == "Abandoned"


def test_an_approval_is_bound_to_its_execution_and_token(svc, tmp_path):
    repo = make_repo(tmp_path / "repo", APPROVAL)
    waiting = svc.start_execution(repository=str(repo))["id"]
    d = wait_until(lambda: awaiting(svc, waiting))
    token = action_of(d, "Approval", "Approve")["approval"]["token"]

    queued = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: svc.describe(queued)["waitingFor"] == "Approval")
    with pytest.raises(Conflict, match="has no approval waiting"):  # only `waiting` waits
        svc.decide(queued, "Approved", by="alice")
    with pytest.raises(Conflict, match="InvalidApprovalTokenException"):
        svc.decide(waiting, "Approved", by="alice", token="00000000-0000-0000-0000-000000000000")
    with pytest.raises(Conflict, match="InvalidApprovalTokenException"):
        svc.decide(waiting, "Approved", by="alice", token=token.upper() + "x")

    newest = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: status(svc, queued) == "Superseded")
    with pytest.raises(Conflict, match=r"\(Superseded\) has no approval waiting"):
        svc.decide(queued, "Approved", by="alice")

    svc.decide(waiting, "Approved", by="alice", token=token)
    assert wait_until(lambda: finished(svc, waiting))["status"] == "Succeeded"
    d = wait_until(lambda: awaiting(svc, newest))
    assert action_of(d, "Approval", "Approve")["approval"]["token"] != token  # a new token per approval
    svc.decide(newest, "Rejected", by="alice")
    assert wait_until(lambda: finished(svc, newest))["status"] == "Failed"


def test_an_approval_times_out(tmp_path):
    clock = FakeClock()
    svc = Service(tmp_path / "home", clock=clock)
    svc.start(polling=False)
    try:
        repo = make_repo(tmp_path / "repo", APPROVAL)
        ex = svc.start_execution(repository=str(repo))["id"]
        d = wait_until(lambda: awaiting(svc, ex))
        approve = action_of(d, "Approval", "Approve")
        assert approve["approval"]["expires"] == approve["startedAt"] + 60  # timeoutInMinutes: 1

        clock.advance(59)
        svc.scheduler.tick()
        assert awaiting(svc, ex)
        clock.advance(2)
        svc.scheduler.tick()
        d = wait_until(lambda: finished(svc, ex))
        assert d["status"] == "Failed"
        assert action_of(d, "Approval", "Approve")["status"] == "Failed"
        assert action_of(d, "Approval", "Approve")["error"] == "approval timed out"
        assert stage_of(d, "Release")["status"] is None
        with pytest.raises(Conflict):
            svc.decide(ex, "Approved")
    finally:
        svc.shutdown()


# --- variables that cannot be resolved at runtime -----------------------------------------------


def test_a_reference_its_producer_did_not_output_fails_the_consumer(svc, tmp_path):
    ran = tmp_path / "consumer-ran"
    # Without outputVariables the producer's variables are only known when it runs, so the
    # reference validates; at runtime B was never written.
    repo = make_repo(tmp_path / "repo", pipeline(f"""\
    - name: Build
      actions:
        - name: Producer
          provider: Command
          command: [sh, -c, 'echo A=1 >> "$CONVEYOR_OUTPUT_ENV"']
          namespace: P
        - name: Consumer
          provider: Command
          runOrder: 2
          command: [sh, -c, 'touch {ran}; echo #{{P.A}} #{{P.B}}']
"""))
    ex = svc.start_execution(repository=str(repo))["id"]
    d = wait_until(lambda: finished(svc, ex))
    assert d["status"] == "Failed"
    assert action_of(d, "Build", "Producer")["status"] == "Succeeded"
    assert action_of(d, "Build", "Producer")["variables"] == {"A": "1"}
    consumer = action_of(d, "Build", "Consumer")
    assert consumer["status"] == "Failed"
    assert consumer["error"] == UNRESOLVED + "Consumer (unresolved: #{P.B})"
    assert not ran.exists()
    text, _ = svc.log_text(ex, "Build", "Consumer", 1)
    assert text == f"[conveyor] {UNRESOLVED}Consumer (unresolved: #{{P.B}})\n"


def test_an_unresolvable_reference_in_an_approval_fails_it(svc, tmp_path):
    repo = make_repo(tmp_path / "repo", pipeline("""\
    - name: Build
      actions:
        - {name: Producer, provider: Command, command: [sh, -c, "true"], namespace: P}
    - name: Approval
      actions:
        - {name: Approve, provider: Manual, customData: "version #{P.VERSION}"}
"""))
    ex = svc.start_execution(repository=str(repo))["id"]
    d = wait_until(lambda: finished(svc, ex))
    assert d["status"] == "Failed"
    assert action_of(d, "Approval", "Approve")["error"] == UNRESOLVED + "Approve (unresolved: #{P.VERSION})"
    assert d["awaitingApproval"] == []
