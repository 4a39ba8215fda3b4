"""Content-addressed artifacts, and the Git source exporting a commit's tree with CodePipeline's
source variables (aws-semantics §2.7, §2.9)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from engine_support import wait_until

from conveyor.engine.artifacts import ArtifactStore, tree_digest


def make_tree(root: Path, files: dict[str, str], executable: tuple[str, ...] = ()) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        path.chmod(0o755 if rel in executable else 0o644)
    return root


FILES = {"app/main.py": "print('hi')\n", "README.md": "# app\n", "bin/run": "#!/bin/sh\n"}


@pytest.fixture
def store(tmp_path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "artifacts")


def test_the_same_tree_gives_the_same_digest(tmp_path):
    a = make_tree(tmp_path / "a", FILES)
    b = make_tree(tmp_path / "b", dict(reversed(list(FILES.items()))))  # written in another order
    assert tree_digest(a) == tree_digest(b)
    os.utime(b / "README.md", (0, 0))  # times are not content
    assert tree_digest(a) == tree_digest(b)


@pytest.mark.parametrize("change", ["content", "name", "mode", "new file", "empty dir", "symlink", "move"])
def test_any_change_gives_another_digest(tmp_path, change):
    a = make_tree(tmp_path / "a", FILES)
    b = make_tree(tmp_path / "b", FILES)
    if change == "content":
        (b / "README.md").write_text("# app!\n")
    elif change == "name":
        (b / "README.md").rename(b / "README.txt")
    elif change == "mode":
        (b / "bin/run").chmod(0o755)
    elif change == "new file":
        (b / "extra").write_text("")
    elif change == "empty dir":
        (b / "empty").mkdir()
    elif change == "symlink":
        (a / "link").symlink_to("README.md")
        (b / "link").symlink_to("app/main.py")
    elif change == "move":
        (b / "app/main.py").rename(b / "main.py")
    assert tree_digest(a) != tree_digest(b)


def test_put_moves_the_tree_under_its_digest_read_only(store, tmp_path):
    src = make_tree(store.staging(), FILES, executable=("bin/run",))
    expected = "sha256-" + tree_digest(src)
    digest = store.put(src)
    assert digest == expected
    assert not src.exists()
    final = store.path(digest)
    assert store.exists(digest)
    assert final == store.root / digest
    assert (final / "app/main.py").read_text() == "print('hi')\n"
    for path in final.rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) & 0o222 == 0, path  # (root could still write)
    assert stat.S_IMODE((final / "bin/run").stat().st_mode) & 0o111  # the executable bit is kept
    assert "sha256-" + tree_digest(final) == digest  # freezing does not change the digest


def test_put_is_idempotent(store):
    first = store.put(make_tree(store.staging(), FILES))
    before = {p: p.stat().st_ino for p in store.path(first).rglob("*")}
    again = make_tree(store.staging(), FILES)
    assert store.put(again) == first
    assert not again.exists()  # the duplicate is dropped, the stored tree untouched
    assert {p: p.stat().st_ino for p in store.path(first).rglob("*")} == before
    assert sorted(p.name for p in store.root.iterdir() if not p.name.startswith(".")) == [first]


def test_different_trees_are_stored_side_by_side(store):
    one = store.put(make_tree(store.staging(), {"a": "1"}))
    two = store.put(make_tree(store.staging(), {"a": "2"}))
    assert one != two
    assert (store.path(one) / "a").read_text() == "1"
    assert (store.path(two) / "a").read_text() == "2"


def test_staging_directories_are_fresh_and_inside_the_store(store):
    a, b = store.staging(), store.staging()
    assert a != b and a.is_dir() and not any(a.iterdir())
    assert store.root in a.parents


# --- the Git source -----------------------------------------------------------------------------

AUTHOR = {"GIT_AUTHOR_NAME": "Grace Hopper", "GIT_AUTHOR_EMAIL": "grace@example.com",
          "GIT_AUTHOR_DATE": "2024-05-06T07:08:09+02:00", "GIT_COMMITTER_NAME": "Ci Bot",
          "GIT_COMMITTER_EMAIL": "ci@example.com", "GIT_COMMITTER_DATE": "2024-05-07T10:00:00+00:00",
          "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env={**os.environ, **AUTHOR}).stdout

PIPELINE = """\
name: source
allowHostCommands: true
pipeline:
  stages:
    - name: Source
      actions:
        - {name: Checkout, provider: Git, branch: main, outputArtifacts: [src], namespace: Src}
    - name: Check
      actions:
        - {name: Look, provider: Command, command: [ls, -a], inputArtifacts: [src]}
"""


def test_the_git_source_exports_the_committed_tree_and_its_variables(svc, tmp_path):
    repo = tmp_path / "orders"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "conveyor.yml").write_text(PIPELINE)
    (repo / "tracked.txt").write_text("committed\n")
    (repo / "tool.sh").write_text("#!/bin/sh\n")
    (repo / "tool.sh").chmod(0o755)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Add the service\n\nWith a body.")
    sha = git(repo, "rev-parse", "HEAD").strip()
    # the working tree differs from the commit: none of this may reach the artifact
    (repo / "tracked.txt").write_text("edited, not committed\n")
    (repo / "untracked.txt").write_text("never added\n")
    (repo / "staged.txt").write_text("added, not committed\n")
    git(repo, "add", "staged.txt")

    ex = svc.start_execution(repository=str(repo))["id"]
    d = wait_until(lambda: (d := svc.describe(ex))["status"] not in ("InProgress", "Stopping") and d)
    assert d["status"] == "Succeeded", d["reason"]
    assert d["revisions"]["Checkout"]["commit"] == sha
    checkout = d["stages"][0]["actions"][0]

    tree = svc.scheduler.artifacts.path(checkout["artifacts"]["src"])
    assert sorted(p.name for p in tree.iterdir()) == ["conveyor.yml", "tool.sh", "tracked.txt"]  # no .git
    assert (tree / "tracked.txt").read_text() == "committed\n"
    assert os.access(tree / "tool.sh", os.X_OK)
    assert checkout["variables"] == {
        "CommitId": sha,
        "BranchName": "main",
        "CommitMessage": "Add the service\n\nWith a body.",
        "AuthorName": "Grace Hopper",
        "AuthorDate": "2024-05-06T07:08:09+02:00",
        "CommitterDate": "2024-05-07T10:00:00+00:00",
        "RepositoryName": "orders",
    }
    assert checkout["summary"] == f"main@{sha[:7]}"

    # the consumer sees the same tree as its workspace
    listing, _ = svc.log_text(ex, "Check", "Look", 1)
    assert "untracked.txt" not in listing and "tracked.txt" in listing


def test_the_same_commit_gives_the_same_artifact(svc, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "conveyor.yml").write_text(PIPELINE)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "one")

    def run() -> str:
        ex = svc.start_execution(repository=str(repo))["id"]
        d = wait_until(lambda: (d := svc.describe(ex))["status"] == "Succeeded" and d)
        return d["stages"][0]["actions"][0]["artifacts"]["src"]

    first = run()
    assert run() == first
    shutil.copy(repo / "conveyor.yml", repo / "copy.yml")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "two")
    assert run() != first
