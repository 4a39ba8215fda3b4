"""Given a bare repository with Conveyor's post-receive hook → a git push → the pipeline runs
end to end through the real daemon; a push that only touches excluded paths does not."""

from __future__ import annotations

import textwrap
import time

from e2e_support import git, wait_until

from conveyor.cli.demo import hook_script

PIPELINE = textwrap.dedent("""\
    name: pushed
    allowHostCommands: true
    pipeline:
      executionMode: QUEUED
      pollIntervalSeconds: 0
      triggers:
        - branches: [main]
          paths: {excludes: ["docs/**"]}
      stages:
        - name: Source
          actions:
            - {name: Source, provider: Git, outputArtifacts: [src], namespace: SRC}
        - name: Build
          actions:
            - name: Build
              provider: Command
              command: [sh, -c, "cat hello.txt; echo built=#{SRC.CommitId}"]
              inputArtifacts: [src]
    """)


def make_origin(tmp_path, home):
    origin = tmp_path / "origin.git"
    git("init", "--quiet", "--bare", "-b", "main", str(origin), cwd=tmp_path)
    hook = origin / "hooks" / "post-receive"
    hook.write_text(hook_script(home))
    hook.chmod(0o755)
    work = tmp_path / "work"
    git("clone", "--quiet", str(origin), str(work), cwd=tmp_path)
    git("checkout", "--quiet", "-b", "main", cwd=work)
    return origin, work


def test_push_to_bare_repository_runs_the_pipeline(tmp_path, daemon):
    origin, work = make_origin(tmp_path, daemon.home)
    (work / "conveyor.yml").write_text(PIPELINE)
    (work / "hello.txt").write_text("hello from the commit\n")
    git("add", "-A", cwd=work)
    git("commit", "--quiet", "-m", "first", cwd=work)
    sha = git("rev-parse", "HEAD", cwd=work)
    git("push", "--quiet", "origin", "main", cwd=work)

    rows = wait_until(lambda: [r for r in daemon.json("history") if r["status"] == "Succeeded"], 60,
                      what="the pushed execution to succeed")
    assert len(rows) == 1
    assert rows[0]["pipeline"] == "pushed"
    assert rows[0]["commit"] == sha
    assert rows[0]["trigger"]["type"] == "GitPush"
    logs = daemon("logs", rows[0]["id"]).stdout
    assert "hello from the commit" in logs
    assert f"built={sha}" in logs

    # Only docs changed: the trigger's path filter excludes it; no new execution.
    (work / "docs").mkdir()
    (work / "docs" / "guide.md").write_text("docs\n")
    git("add", "-A", cwd=work)
    git("commit", "--quiet", "-m", "docs only", cwd=work)
    git("push", "--quiet", "origin", "main", cwd=work)
    # A code change after it does start one, for the new commit.
    (work / "hello.txt").write_text("second\n")
    git("commit", "--quiet", "-am", "code", cwd=work)
    sha2 = git("rev-parse", "HEAD", cwd=work)
    git("push", "--quiet", "origin", "main", cwd=work)
    rows = wait_until(lambda: [r for r in daemon.json("history") if r["status"] == "Succeeded"]
                      if len(daemon.json("history")) >= 2 else None, 60, what="the second execution")
    assert [r["commit"] for r in daemon.json("history")] == [sha2, sha]


def test_polling_picks_up_a_push_without_a_hook(tmp_path, daemon):
    origin = tmp_path / "plain.git"
    git("init", "--quiet", "--bare", "-b", "main", str(origin), cwd=tmp_path)
    work = tmp_path / "w"
    git("clone", "--quiet", str(origin), str(work), cwd=tmp_path)
    git("checkout", "--quiet", "-b", "main", cwd=work)
    (work / "conveyor.yml").write_text(PIPELINE.replace("pollIntervalSeconds: 0", "pollIntervalSeconds: 1"))
    (work / "hello.txt").write_text("v1\n")
    git("add", "-A", cwd=work)
    git("commit", "--quiet", "-m", "v1", cwd=work)
    git("push", "--quiet", "origin", "main", cwd=work)
    first = daemon.json("run", "--repo", str(origin))
    wait_until(lambda: daemon.execution(first["id"])["status"] == "Succeeded", 60, what="the manual run")
    (work / "hello.txt").write_text("v2\n")
    git("commit", "--quiet", "-am", "v2", cwd=work)
    sha = git("rev-parse", "HEAD", cwd=work)
    git("push", "--quiet", "origin", "main", cwd=work)
    polled = wait_until(lambda: [r for r in daemon.json("history") if r["commit"] == sha], 30,
                        what="the poller to start an execution")
    assert polled[0]["trigger"]["type"] == "PollForSourceChanges"

    # The poll interval is stored with the pipeline: after a restart the 1 s interval still holds
    # (the 15 s default would miss the deadline below).
    daemon("down")
    daemon("up")
    time.sleep(2.5)  # let the restarted poller make its first pass, so the push waits for the next
    (work / "hello.txt").write_text("v3\n")
    git("commit", "--quiet", "-am", "v3", cwd=work)
    sha3 = git("rev-parse", "HEAD", cwd=work)
    git("push", "--quiet", "origin", "main", cwd=work)
    wait_until(lambda: [r for r in daemon.json("history") if r["commit"] == sha3], 8,
               what="the poller to pick up a push after a restart")
