"""The trust boundary through the real daemon and a real `git push` (the post-receive hook runs
`conveyor run --from-hook`): a branch runs main's conveyor.yml, so it cannot drop the approval;
a push whose definition is invalid is a Failed execution, not a dropped push."""

from __future__ import annotations

import textwrap

from e2e_support import action, git, wait_until
from test_e2e_push_trigger import make_origin

MAIN = textwrap.dedent("""\
    name: guarded
    allowHostCommands: true
    pipeline:
      executionMode: PARALLEL
      pollIntervalSeconds: 0
      triggers:
        - branches: ["**"]
      stages:
        - name: Source
          actions:
            - {name: Source, provider: Git, outputArtifacts: [src]}
        - name: Build
          actions:
            - {name: Show, provider: Command, command: [cat, file.txt], inputArtifacts: [src]}
        - name: Approval
          actions:
            - {name: Approve, provider: Manual}
    """)
BRANCH = MAIN[:MAIN.index("    - name: Approval")]  # what the branch would like: no approval


def commit_push(work, branch: str, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (work / name).write_text(text)
    git("add", "-A", cwd=work)
    git("commit", "--quiet", "-m", message, cwd=work)
    git("push", "--quiet", "origin", branch, cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


def test_a_pushed_branch_runs_mains_definition_and_a_broken_push_is_recorded(tmp_path, daemon):
    assert "Manual" not in BRANCH
    origin, work = make_origin(tmp_path, daemon.home)
    commit_push(work, "main", {"conveyor.yml": MAIN, "file.txt": "main\n"}, "first")
    first = wait_until(lambda: daemon.json("history"), 60, what="the first execution")[0]
    wait_until(lambda: daemon.execution(first["id"])["awaitingApproval"], 60, what="main's approval")

    git("checkout", "--quiet", "-b", "feature", cwd=work)
    sha = commit_push(work, "feature", {"conveyor.yml": BRANCH, "file.txt": "feature\n"}, "no approval here")
    ex = wait_until(lambda: next((e for e in daemon.json("history") if e["commit"] == sha), None), 60,
                    what="the branch's execution")
    ex = wait_until(lambda: (e := daemon.execution(ex["id"]))["awaitingApproval"] and e, 60,
                    what="the branch's execution to wait for approval")
    assert ex["awaitingApproval"] == ["Approval.Approve"]
    assert action(ex, "Build", "Show")["status"] == "Succeeded"
    assert "feature" in daemon("logs", ex["id"]).stdout  # the branch's source, built by main's definition
    shown = daemon("status", ex["id"]).stdout
    assert "conveyor.yml differs on branch feature: ignored until merged into main" in shown
    daemon("approve", ex["id"], "--comment", "reviewed")
    wait_until(lambda: daemon.execution(ex["id"])["status"] == "Succeeded", 60, what="the approved execution")

    git("checkout", "--quiet", "main", cwd=work)
    broken = commit_push(work, "main", {"conveyor.yml": MAIN.replace("provider: Manual", "provider: Manuel")},
                         "typo")
    failed = wait_until(lambda: next((e for e in daemon.json("history") if e["commit"] == broken), None), 60,
                        what="the broken push's execution")
    assert failed["status"] == "Failed" and failed["trigger"]["type"] == "GitPush"
    assert "unknown provider 'Manuel' (did you mean 'Manual'?)" in failed["reason"]
