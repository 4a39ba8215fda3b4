"""The trust boundary: what runs is conveyor.yml on a protected branch (main unless registered
otherwise), never the pushed commit's; a push that cannot start becomes a Failed execution.

Real git repositories, the real service and scheduler (polling off: pushes are reported with
on_push, as the git hook does, or found by poll(), as the poller does)."""

from __future__ import annotations

import sqlite3

import pytest
from engine_support import git, make_repo, wait_until

from conveyor.engine.service import Service
from conveyor.errors import UserError
from conveyor.providers.local.git import ZERO
from conveyor.store.db import Store

# main's definition: every branch triggers it; the build prints the commit's file; then approval.
MAIN = """\
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
"""

# What a pusher would like to run instead: no approval, and a host command of their own.
NO_APPROVAL = """\
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
        - {name: Show, provider: Command, command: [sh, -c, "echo pwned > $PWNED"], inputArtifacts: [src]}
"""


def commit_on(repo, branch: str, files: dict[str, str], message: str = "change", new: bool = False) -> str:
    git(repo, "checkout", "-q", *(["-b"] if new else []), branch)
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def push(svc: Service, repo, branch: str, before: str = ZERO) -> list[dict]:
    after = git(repo, "rev-parse", f"refs/heads/{branch}").strip()
    return svc.on_push(str(repo), f"refs/heads/{branch}", before, after)


def action_status(svc: Service, ex_id: str, stage: str, action: str):
    ex = svc.describe(ex_id)
    return next(a for s in ex["stages"] if s["name"] == stage for a in s["actions"] if a["name"] == action)["status"]


@pytest.fixture
def repo(tmp_path):
    r = make_repo(tmp_path / "repo", MAIN)
    commit_on(r, "main", {"file.txt": "from main\n"})
    return r


def test_a_branch_without_the_approval_still_waits_for_it_and_runs_its_own_source(svc, repo, tmp_path):
    svc.start_execution(repository=str(repo))  # registers the pipeline (protected: main)
    sha = commit_on(repo, "feature", {"conveyor.yml": NO_APPROVAL, "file.txt": "from feature\n"}, new=True)
    [ex] = push(svc, repo, "feature")

    assert ex["pipeline"] == "guarded"
    assert ex["commit"] == sha  # the pushed commit's source is built ...
    main_head = git(repo, "rev-parse", "main").strip()
    assert ex["trigger"]["definition"] == {"branch": "main", "commit": main_head}  # ... by main's definition
    assert ex["trigger"]["note"] == (f"conveyor.yml differs on branch feature: ignored until merged into main "
                                     f"(the definition on main at {main_head[:7]} runs)")
    assert [s["name"] for s in ex["stages"]] == ["Source", "Build", "Approval"]
    wait_until(lambda: svc.describe(ex["id"])["awaitingApproval"] == ["Approval.Approve"])
    text, _ = svc.log_text(ex["id"], "Build", "Show", 1)
    assert "from feature" in text and "pwned" not in text


def test_a_branch_cannot_widen_its_own_trigger_filters(svc, tmp_path):
    only_main = MAIN.replace('branches: ["**"]', "branches: [main]")
    repo = make_repo(tmp_path / "repo", only_main)
    svc.start_execution(repository=str(repo))
    commit_on(repo, "feature", {"conveyor.yml": MAIN}, new=True)  # the branch's own filter takes every branch
    assert push(svc, repo, "feature") == []


def test_a_change_to_conveyor_yml_takes_effect_once_on_main(svc, repo):
    first = svc.start_execution(repository=str(repo))
    assert [s["name"] for s in first["stages"]] == ["Source", "Build", "Approval"]
    before = git(repo, "rev-parse", "main").strip()
    commit_on(repo, "main", {"conveyor.yml": NO_APPROVAL.replace("$PWNED", "/dev/null")})
    [ex] = push(svc, repo, "main", before)
    assert [s["name"] for s in ex["stages"]] == ["Source", "Build"]
    assert "note" not in ex["trigger"]
    wait_until(lambda: svc.describe(ex["id"])["status"] == "Succeeded")


def test_a_branch_cannot_opt_in_to_host_commands(svc, tmp_path):
    """main runs its Command in a container only; a branch adding a host command is not run."""
    in_container = MAIN.replace("allowHostCommands: true\n", "").replace(
        "{name: Show, provider: Command, command: [cat, file.txt], inputArtifacts: [src]}",
        "{name: Show, provider: Wait, seconds: 0, inputArtifacts: [src]}")
    repo = make_repo(tmp_path / "repo", in_container)
    svc.start_execution(repository=str(repo))
    commit_on(repo, "feature", {"conveyor.yml": NO_APPROVAL}, new=True)
    [ex] = push(svc, repo, "feature")
    assert [(a["name"], a["provider"]) for s in ex["stages"] for a in s["actions"]] == [
        ("Source", "Git"), ("Show", "Wait"), ("Approve", "Manual")]
    assert "note" in ex["trigger"]


def test_protected_branches_from_conveyor_yml_on_main_run_their_own_definition(svc, tmp_path):
    repo = make_repo(tmp_path / "repo", "protectedBranches: [main, release]\n" + MAIN)
    svc.start_execution(repository=str(repo))
    assert svc.store.pipelines()[0]["protected_branches"] == ["main", "release"]
    release = "protectedBranches: [main, release]\n" + NO_APPROVAL.replace("$PWNED", "/dev/null")
    commit_on(repo, "release", {"conveyor.yml": release}, new=True)
    [ex] = push(svc, repo, "release")
    assert [s["name"] for s in ex["stages"]] == ["Source", "Build"]  # a protected branch is trusted
    assert ex["trigger"]["definition"]["branch"] == "release" and "note" not in ex["trigger"]


def test_a_branch_cannot_change_the_protected_branches(svc, repo):
    svc.start_execution(repository=str(repo))
    commit_on(repo, "feature", {"conveyor.yml": "protectedBranches: [feature]\n" + NO_APPROVAL}, new=True)
    [ex] = push(svc, repo, "feature")
    assert svc.store.pipelines()[0]["protected_branches"] == ["main"]
    assert [s["name"] for s in ex["stages"]][-1] == "Approval"


def test_protected_branches_named_at_registration(svc, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "trunk")
    (repo / "conveyor.yml").write_text(MAIN.replace("{name: Source, provider: Git,",
                                                    "{name: Source, provider: Git, branch: trunk,"))
    (repo / "file.txt").write_text("trunk\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first")
    with pytest.raises(UserError, match="protected branch 'main'"):
        svc.start_execution(repository=str(repo))  # main does not exist: nothing to read the definition from
    ex = svc.start_execution(repository=str(repo), protected_branches=["trunk"])
    assert ex["trigger"]["definition"]["branch"] == "trunk"
    assert svc.store.pipelines()[0]["protected_branches"] == ["trunk"]
    with pytest.raises(UserError, match="registered with protected branches trunk"):
        svc.start_execution(repository=str(repo), protected_branches=["main"])
    with pytest.raises(UserError, match="invalid protected branch"):
        svc.start_execution(repository=str(repo), protected_branches=["--upload-pack=x"])


# -- no push lost


def test_a_push_whose_definition_is_invalid_becomes_a_failed_execution(svc, repo):
    svc.start_execution(repository=str(repo))
    before = git(repo, "rev-parse", "main").strip()
    sha = commit_on(repo, "main", {"conveyor.yml": MAIN.replace("provider: Manual", "provider: Manuel")})
    [ex] = push(svc, repo, "main", before)
    assert ex["status"] == "Failed" and ex["pipeline"] == "guarded" and ex["commit"] == sha
    assert ex["reason"].startswith("the pipeline definition is invalid:\n")
    assert ex["reason"].endswith(f"conveyor.yml@{sha[:7]}:17:27 pipeline.stages[2].actions[0].provider: unknown "
                                 "provider 'Manuel' (did you mean 'Manual'?)")
    assert svc.history()[0]["id"] == ex["id"]  # recorded, and the push is seen: not run twice
    assert push(svc, repo, "main", before) == []


def test_a_push_to_a_branch_while_mains_definition_is_broken_fails_with_the_reason(svc, repo):
    svc.start_execution(repository=str(repo))
    commit_on(repo, "main", {"conveyor.yml": "name: guarded\npipeline: [\n"})
    sha = commit_on(repo, "feature", {"file.txt": "x\n"}, new=True)
    [ex] = push(svc, repo, "feature")
    assert ex["status"] == "Failed" and ex["commit"] == sha
    assert ex["reason"].startswith("the pipeline definition is invalid:\nconveyor.yml@")


def test_a_push_without_a_definition_on_main_becomes_a_failed_execution(svc, tmp_path):
    repo = tmp_path / "bare-start"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README").write_text("no pipeline yet\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first")
    [ex] = push(svc, repo, "main")
    assert ex["status"] == "Failed" and ex["pipeline"] == "bare-start"
    assert ex["reason"].startswith("the pipeline definition cannot be read:\nconveyor.yml not found in ")


def test_a_push_whose_execution_cannot_start_becomes_a_failed_execution(svc, repo):
    svc.start_execution(repository=str(repo))
    before = git(repo, "rev-parse", "main").strip()
    needs_value = MAIN.replace("pipeline:\n", "pipeline:\n  variables:\n    - name: target\n", 1)
    commit_on(repo, "main", {"conveyor.yml": needs_value})
    [ex] = push(svc, repo, "main", before)
    assert ex["status"] == "Failed"
    assert ex["reason"] == ("the execution could not start: pipeline variable 'target' has no defaultValue and "
                            "needs a value")


def test_an_unexpected_error_reading_the_definition_is_recorded_not_dropped(svc, repo, monkeypatch):
    svc.start_execution(repository=str(repo))
    sha = commit_on(repo, "feature", {"file.txt": "x\n"}, new=True)

    def broken(*args, **kwargs):
        raise OSError("disk on fire")

    monkeypatch.setattr(svc.definitions, "governing", broken)
    [ex] = push(svc, repo, "feature")
    assert ex["status"] == "Failed" and ex["commit"] == sha
    assert ex["reason"] == "the pipeline definition cannot be read:\ndisk on fire"


def test_the_poller_records_a_broken_push_as_failed_too(svc, repo):
    svc.start_execution(repository=str(repo))
    sha = commit_on(repo, "main", {"conveyor.yml": "name: guarded\n  bad: indentation\n"})
    [ex] = svc.poll(str(repo))
    assert ex["status"] == "Failed" and ex["commit"] == sha
    assert ex["trigger"]["type"] == "PollForSourceChanges"
    assert ex["reason"].startswith("the pipeline definition is invalid:\n")
    assert svc.poll(str(repo)) == []  # seen once, recorded once


def test_a_fetch_that_fails_leaves_the_push_unseen_for_a_retry(svc, repo, monkeypatch):
    svc.start_execution(repository=str(repo))
    sha = commit_on(repo, "main", {"file.txt": "next\n"})

    def broken(repository):
        raise UserError("cannot fetch")

    monkeypatch.setattr(svc.scheduler.mirrors, "fetch", broken)
    with pytest.raises(UserError):
        svc.on_push(str(repo), "refs/heads/main", ZERO, sha)
    monkeypatch.undo()
    assert len(svc.poll(str(repo))) == 1


# -- the store


def test_a_store_of_schema_1_keeps_its_pipelines_and_trusts_main(tmp_path):
    path = tmp_path / "conveyor.db"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '1');
        CREATE TABLE pipelines (name TEXT PRIMARY KEY, repository TEXT NOT NULL, config_path TEXT NOT NULL,
                                poll_interval REAL NOT NULL DEFAULT 15, registered_at REAL NOT NULL);
        INSERT INTO pipelines VALUES ('old', '/srv/old.git', 'conveyor.yml', 15, 1.0);
    """)
    db.commit()
    db.close()
    store = Store(path)
    try:
        [reg] = store.pipelines()
        assert (reg["name"], reg["repository"], reg["protected_branches"]) == ("old", "/srv/old.git", ["main"])
        assert store._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "2"
        store.register_pipeline("old", "/srv/old.git", "conveyor.yml", 15)  # None keeps them
        assert store.pipelines()[0]["protected_branches"] == ["main"]
        store.register_pipeline("old", "/srv/old.git", "conveyor.yml", 15, ["trunk"])
        assert store.pipelines()[0]["protected_branches"] == ["trunk"]
    finally:
        store.close()
    again = Store(path)  # opening a migrated store again changes nothing
    try:
        assert again.pipelines()[0]["protected_branches"] == ["trunk"]
    finally:
        again.close()
