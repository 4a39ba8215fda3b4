"""Tag pushes and pull-request events: only triggers of their kind start a pipeline, the commit
built is the tag's or the pull request head's, and the definition is always the protected
branch's. Real git repositories and the real service (polling off)."""

from __future__ import annotations

from engine_support import git, make_repo

from conveyor.engine.service import Service
from conveyor.providers.local.git import ZERO

DEFINITION = """\
name: tagged
pipeline:
  executionMode: PARALLEL
  pollIntervalSeconds: 0
  triggers:
    - tags: {{includes: ["v*"], excludes: ["v0.*"]}}
    - pullRequest: {{events: [open, updated], branches: [main], paths: ["src/**"]}}
{extra}  stages:
    - name: Source
      actions:
        - {{name: Source, provider: Git, outputArtifacts: [src]}}
    - name: Hold
      actions:
        - {{name: Approve, provider: Manual}}
"""
MAIN = DEFINITION.format(extra="")
WIDE = DEFINITION.replace('includes: ["v*"], excludes: ["v0.*"]', 'includes: ["**"]').format(
    extra="    - branches: ['**']\n")


def commit(repo, files: dict[str, str], branch: str = "main", new: bool = False) -> str:
    git(repo, "checkout", "-q", *(["-b"] if new else []), branch)
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "change")
    return git(repo, "rev-parse", "HEAD").strip()


def tag(svc: Service, repo, name: str, annotated: bool = False, source: str = "GitPush") -> list[dict]:
    git(repo, "tag", *(["-a", "-m", "release"] if annotated else []), name)
    return svc.on_push(str(repo), f"refs/tags/{name}", ZERO, git(repo, "rev-parse", f"refs/tags/{name}").strip(),
                       source=source)


def registered(svc: Service, tmp_path):
    repo = make_repo(tmp_path / "repo", MAIN)
    svc.start_execution(repository=str(repo))  # registers it (protected: main)
    return repo


def test_a_tag_push_starts_the_tag_triggered_pipeline_at_the_tagged_commit(svc, tmp_path):
    repo = registered(svc, tmp_path)
    sha = commit(repo, {"a.txt": "1"})
    assert svc.on_push(str(repo), "refs/heads/main", ZERO, sha) == []  # only tag and PR triggers: no branch push
    [ex] = tag(svc, repo, "v1.0.0", annotated=True)
    assert ex["commit"] == sha  # the annotated tag peeled to its commit
    assert ex["trigger"]["tag"] == "v1.0.0" and ex["trigger"]["ref"] == "refs/tags/v1.0.0"
    assert ex["trigger"]["definition"]["branch"] == "main"
    assert tag(svc, repo, "v0.9") == []  # excluded
    assert tag(svc, repo, "nightly") == []  # not included


def test_a_tagged_commit_cannot_widen_the_tag_filter(svc, tmp_path):
    repo = registered(svc, tmp_path)
    commit(repo, {"conveyor.yml": WIDE}, branch="feature", new=True)
    assert tag(svc, repo, "anything") == []  # its own conveyor.yml takes every tag; main's does not
    [ex] = tag(svc, repo, "v2")
    assert "ignored until merged into main" in ex["trigger"]["note"]


def test_the_poller_catches_up_new_tags_but_not_the_ones_there_at_registration(svc, tmp_path):
    repo = make_repo(tmp_path / "repo", MAIN)
    git(repo, "tag", "v1.0")  # before the pipeline exists
    svc.start_execution(repository=str(repo))
    assert svc.poll(str(repo)) == []
    commit(repo, {"b.txt": "2"})
    git(repo, "tag", "v1.1")
    [ex] = svc.poll(str(repo))
    assert ex["trigger"]["type"] == "PollForSourceChanges" and ex["trigger"]["tag"] == "v1.1"
    assert svc.poll(str(repo)) == []


def test_a_tag_the_hook_reported_is_not_started_again_by_the_poller(svc, tmp_path):
    repo = registered(svc, tmp_path)
    svc.poll(str(repo))  # tags recorded
    [ex] = tag(svc, repo, "v3.0", annotated=True)  # the hook reports the annotated tag's own id
    assert svc.poll(str(repo)) == []


def test_a_pull_request_starts_at_its_head_with_mains_definition(svc, tmp_path):
    repo = registered(svc, tmp_path)
    head = commit(repo, {"src/app.py": "x = 1\n", "conveyor.yml": WIDE}, branch="feature", new=True)
    git(repo, "update-ref", "refs/pull/7/head", head)  # as GitHub keeps it
    git(repo, "checkout", "-q", "main")
    base = git(repo, "rev-parse", "main").strip()

    def pr(event: str, target: str = "main", rev: str = head) -> list[dict]:
        return svc.on_pull_request(str(repo), number=7, event=event, source_branch="feature", target_branch=target,
                                   head=rev, base=base, head_ref="refs/pull/7/head")

    [ex] = pr("OPEN")
    assert ex["commit"] == head
    assert {k: ex["trigger"][k] for k in ("type", "number", "event", "sourceBranch", "targetBranch")} == {
        "type": "PullRequest", "number": 7, "event": "OPEN", "sourceBranch": "feature", "targetBranch": "main"}
    assert ex["trigger"]["definition"]["branch"] == "main"  # the pull request's own conveyor.yml is ignored
    assert pr("CLOSED") == []  # not listed in events
    assert pr("OPEN", target="release") == []  # another target branch
    assert len(pr("UPDATED", rev="0" * 12)) == 1  # an unknown head id: the pull request's ref is used


def test_a_pull_request_changing_no_watched_path_starts_nothing(svc, tmp_path):
    repo = registered(svc, tmp_path)
    base = git(repo, "rev-parse", "main").strip()
    head = commit(repo, {"docs/readme.md": "hi"}, branch="docs", new=True)
    assert svc.on_pull_request(str(repo), number=8, event="OPEN", source_branch="docs", target_branch="main",
                               head=head, base=base) == []


def test_a_webhook_push_naming_a_commit_the_repository_lacks_starts_nothing(svc, tmp_path):
    repo = registered(svc, tmp_path)
    assert svc.on_push(str(repo), "refs/tags/v9", ZERO, "1" * 40, source="Webhook") == []
    assert svc.on_pull_request(str(repo), number=1, event="OPEN", source_branch="x", target_branch="main",
                               head="2" * 40) == []
