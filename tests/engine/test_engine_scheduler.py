"""The scheduler's own safety net: a pass that fails half-way is rolled back as a whole, and the
loop starts again from the rows, so memory never runs ahead of what is stored."""

from __future__ import annotations

import logging
import sqlite3

from engine_support import make_repo, wait_until

PIPELINE = """\
name: sturdy
allowHostCommands: true
pipeline:
  stages:
    - name: Source
      actions:
        - {name: Source, provider: Git, outputArtifacts: [src]}
    - name: Two
      actions:
        - {name: Pause, provider: Wait, seconds: 0}
    - name: Three
      actions:
        - {name: Pause, provider: Wait, seconds: 0}
"""


def test_a_failed_pass_is_rolled_back_and_the_execution_still_ends_once(svc, tmp_path, caplog):
    scheduler = svc.scheduler
    real_enter = scheduler._enter
    calls = {"n": 0}

    def flaky_enter(view, stage):
        if stage == "Two" and calls["n"] == 0:
            calls["n"] += 1
            real_enter(view, stage)  # written inside the pass's transaction…
            raise RuntimeError("injected failure after a write")  # …which must then be undone
        real_enter(view, stage)

    scheduler._enter = flaky_enter
    repo = make_repo(tmp_path / "repo", PIPELINE)
    with caplog.at_level(logging.ERROR, logger="conveyor.engine"):
        ex = svc.start_execution(repository=str(repo))["id"]
        done = wait_until(lambda: (d := svc.describe(ex))["status"] == "Succeeded" and d)
    assert calls["n"] == 1
    assert "injected failure after a write" in caplog.text
    rows = sqlite3.connect(tmp_path / "home" / "conveyor.db").execute(
        "SELECT stage, status, COUNT(*) FROM transitions WHERE scope = 'stage' GROUP BY stage, status").fetchall()
    assert sorted(rows) == [(s, st, 1) for s in ("Source", "Three", "Two") for st in ("InProgress", "Succeeded")]
    assert [s["status"] for s in done["stages"]] == ["Succeeded"] * 3
