"""Execution modes with real executions on a real git repository (aws-semantics §2.4), and the
order of stages and runOrders inside one execution (§2.1).

The stage under test holds each execution until the test opens that execution's gate (a file
named after the execution id), so which execution is where is decided by the test, not by timing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_support import GATE, make_repo, wait_until

from conveyor.engine.service import Service
from conveyor.errors import Conflict

STAGE_END = {"Succeeded", "Failed", "Stopped", "Cancelled"}


@pytest.fixture
def gates(tmp_path) -> Path:
    path = tmp_path / "gates"
    path.mkdir()
    return path


def gated_pipeline(mode: str, gates: Path) -> str:
    return f"""\
name: modes
allowHostCommands: true
pipeline:
  executionMode: {mode}
  stages:
    - name: Source
      actions:
        - {{name: Source, provider: Git, outputArtifacts: [src]}}
    - name: Hold
      actions:
        - name: Gate
          provider: Command
          command: [sh, -c, '{GATE}']
          env: {{GATES: "{gates}"}}
    - name: Final
      actions:
        - {{name: Done, provider: Wait, seconds: 0}}
"""


def release(gates: Path, execution_id: str) -> None:
    (gates / execution_id).touch()


def status(svc: Service, execution_id: str) -> str:
    return svc.describe(execution_id)["status"]


def stage_status(svc: Service, execution_id: str, stage: str) -> str | None:
    return next(s["status"] for s in svc.describe(execution_id)["stages"] if s["name"] == stage)


def waiting_for(svc: Service, execution_id: str, stage: str) -> bool:
    d = svc.describe(execution_id)
    return d["status"] == "InProgress" and d["waitingFor"] == stage


def stage_rows(svc: Service, ids: list[str]):
    """Every stage transition of these executions, in the order they were appended."""
    rows = [t for i in ids for t in svc.store.transitions(i) if t.scope == "stage"]
    return sorted(rows, key=lambda t: t.seq)


def max_occupancy(svc: Service, ids: list[str]) -> dict[str, int]:
    """Per stage, the largest number of executions inside it at once (entered, not yet ended)."""
    inside: dict[str, set[str]] = {}
    peak: dict[str, int] = {}
    for t in stage_rows(svc, ids):
        occupants = inside.setdefault(t.stage, set())
        if t.status == "InProgress":
            occupants.add(t.execution_id)
        elif t.status in STAGE_END:
            occupants.discard(t.execution_id)
        peak[t.stage] = max(peak.get(t.stage, 0), len(occupants))
    return peak


def entry_order(svc: Service, ids: list[str], stage: str) -> list[str]:
    return [t.execution_id for t in stage_rows(svc, ids) if t.stage == stage and t.status == "InProgress"]


def first_seq(svc: Service, execution_id: str, stage: str, status: str) -> int:
    return next(t.seq for t in svc.store.transitions(execution_id)
                if t.scope == "stage" and t.stage == stage and t.status == status)


# --- SUPERSEDED ---------------------------------------------------------------------------------


def test_superseded_newest_waiting_execution_replaces_the_older_one(svc, tmp_path, gates):
    repo = make_repo(tmp_path / "repo", gated_pipeline("SUPERSEDED", gates))
    ex1 = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: stage_status(svc, ex1, "Hold") == "InProgress")

    ex2 = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: waiting_for(svc, ex2, "Hold"))
    ex3 = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: status(svc, ex2) == "Superseded")
    wait_until(lambda: waiting_for(svc, ex3, "Hold"))

    d2 = svc.describe(ex2)
    assert d2["reason"] == f"superseded by execution {ex3} while waiting for stage Hold"
    assert stage_status(svc, ex2, "Hold") is None  # superseded between stages, never inside one
    assert stage_status(svc, ex1, "Hold") == "InProgress"  # ex1 still holds the stage

    release(gates, ex1)
    wait_until(lambda: status(svc, ex1) == "Succeeded")
    wait_until(lambda: stage_status(svc, ex3, "Hold") == "InProgress")
    release(gates, ex3)
    wait_until(lambda: status(svc, ex3) == "Succeeded")

    assert status(svc, ex2) == "Superseded"
    assert first_seq(svc, ex3, "Hold", "InProgress") > first_seq(svc, ex1, "Hold", "Succeeded")
    assert entry_order(svc, [ex1, ex2, ex3], "Hold") == [ex1, ex3]
    assert max_occupancy(svc, [ex1, ex2, ex3]) == {"Source": 1, "Hold": 1, "Final": 1}


def test_superseded_execution_is_final(svc, tmp_path, gates):
    repo = make_repo(tmp_path / "repo", gated_pipeline("SUPERSEDED", gates))
    ex1 = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: stage_status(svc, ex1, "Hold") == "InProgress")
    ex2 = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: waiting_for(svc, ex2, "Hold"))
    ex3 = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: status(svc, ex2) == "Superseded")

    with pytest.raises(Conflict):
        svc.retry(ex2)
    with pytest.raises(Conflict):
        svc.stop(ex2)
    release(gates, ex1)
    release(gates, ex3)
    wait_until(lambda: status(svc, ex3) == "Succeeded")


# --- QUEUED -------------------------------------------------------------------------------------


def test_queued_executions_all_succeed_one_per_stage_in_start_order(svc, tmp_path, gates):
    repo = make_repo(tmp_path / "repo", gated_pipeline("QUEUED", gates))
    ex1 = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: stage_status(svc, ex1, "Hold") == "InProgress")
    ex2 = svc.start_execution(repository=str(repo))["id"]
    ex3 = svc.start_execution(repository=str(repo))["id"]
    # both wait in front of the locked stage; nobody is superseded
    wait_until(lambda: waiting_for(svc, ex2, "Hold") and waiting_for(svc, ex3, "Hold"))

    for ex in (ex3, ex2, ex1):  # opening the gates in reverse order changes nothing
        release(gates, ex)
    wait_until(lambda: all(status(svc, ex) == "Succeeded" for ex in (ex1, ex2, ex3)))

    ids = [ex1, ex2, ex3]
    for stage in ("Source", "Hold", "Final"):
        assert entry_order(svc, ids, stage) == ids, stage
    assert max_occupancy(svc, ids) == {"Source": 1, "Hold": 1, "Final": 1}
    # each enters Hold only after the one before it has left it
    assert first_seq(svc, ex2, "Hold", "InProgress") > first_seq(svc, ex1, "Hold", "Succeeded")
    assert first_seq(svc, ex3, "Hold", "InProgress") > first_seq(svc, ex2, "Hold", "Succeeded")


# --- PARALLEL -----------------------------------------------------------------------------------


def test_parallel_executions_are_inside_the_same_stage_at_once(svc, tmp_path, gates):
    repo = make_repo(tmp_path / "repo", gated_pipeline("PARALLEL", gates))
    ex1 = svc.start_execution(repository=str(repo))["id"]
    ex2 = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: stage_status(svc, ex1, "Hold") == "InProgress" and
               stage_status(svc, ex2, "Hold") == "InProgress")
    assert svc.describe(ex1)["executionMode"] == "PARALLEL"

    release(gates, ex2)  # the later one may finish first: nothing waits for anything
    wait_until(lambda: status(svc, ex2) == "Succeeded")
    assert stage_status(svc, ex1, "Hold") == "InProgress"
    release(gates, ex1)
    wait_until(lambda: status(svc, ex1) == "Succeeded")
    assert max_occupancy(svc, [ex1, ex2])["Hold"] == 2


# --- order inside one execution -----------------------------------------------------------------

ORDERED = """\
name: order
allowHostCommands: true
pipeline:
  stages:
    - name: Source
      actions:
        - {name: Source, provider: Git, outputArtifacts: [src]}
    - name: Build
      actions:
        - {name: Late, provider: Wait, seconds: 0, runOrder: 20}
        - {name: A, provider: Wait, seconds: 0.3, runOrder: 5}
        - {name: B, provider: Wait, seconds: 0.3, runOrder: 5}
    - name: Deploy
      actions:
        - {name: Ship, provider: Wait, seconds: 0}
"""


def test_stages_run_in_order_and_same_run_order_runs_in_parallel(svc, tmp_path):
    repo = make_repo(tmp_path / "repo", ORDERED)
    ex = svc.start_execution(repository=str(repo))["id"]
    wait_until(lambda: status(svc, ex) == "Succeeded")
    rows = svc.store.transitions(ex)

    def seq(scope, status, stage, action=None):
        return next(t.seq for t in rows if (t.scope, t.status, t.stage, t.action) == (scope, status, stage, action))

    def at(status, action):
        return next(t.at for t in rows if t.scope == "action" and t.status == status and t.action == action)

    assert seq("stage", "InProgress", "Build") > seq("stage", "Succeeded", "Source")
    assert seq("stage", "InProgress", "Deploy") > seq("stage", "Succeeded", "Build")
    # A and B (runOrder 5) overlap in time
    assert at("InProgress", "A") < at("Succeeded", "B") and at("InProgress", "B") < at("Succeeded", "A")
    # the higher runOrder starts only after both lower ones ended, whatever the file order
    late = seq("action", "InProgress", "Build", "Late")
    assert late > seq("action", "Succeeded", "Build", "A")
    assert late > seq("action", "Succeeded", "Build", "B")
    assert [s["status"] for s in svc.describe(ex)["stages"]] == ["Succeeded"] * 3
