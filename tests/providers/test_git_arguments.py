"""Issue 16: git option injection through an unvalidated commit, ref or repository. Real git, real
repositories in tmp_path."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conveyor.errors import UserError
from conveyor.providers.local.git import GitMirrors, normalize

ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
       "GIT_COMMITTER_EMAIL": "t@example.com", "PATH": "/usr/bin:/bin"}


@pytest.fixture
def mirror(tmp_path: Path):
    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "one"]):
        subprocess.run(["git", *args], cwd=repo, check=True, env=ENV)
    (repo / "conveyor.yml").write_text("name: x\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True, env=ENV)
    subprocess.run(["git", "commit", "-q", "-m", "two"], cwd=repo, check=True, env=ENV)
    return GitMirrors(tmp_path / "mirrors").fetch(str(repo))


def test_a_commit_that_is_an_option_is_refused_and_writes_nothing(mirror, tmp_path):
    target = tmp_path / "written"
    with pytest.raises(UserError, match="is not a commit id"):
        mirror.show(f"--output={target}", "conveyor.yml")
    with pytest.raises(UserError, match="is not a commit id"):
        mirror.info(f"--output={target}")
    with pytest.raises(UserError, match="is not a commit id"):
        mirror.export(f"--output={target}", tmp_path / "tree")
    assert not target.exists()
    assert mirror.has(f"--output={target}") is False
    assert mirror.changed_paths("--output=x", "a" * 40) is None


def test_a_branch_that_is_an_option_is_refused(mirror):
    with pytest.raises(UserError, match="is not a valid git ref: it starts with '-'"):
        mirror.resolve("--upload-pack=touch /tmp/x")


def test_a_repository_that_is_an_option_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(UserError, match="is not a git repository path or URL"):
        GitMirrors(tmp_path / "m").fetch(f"--upload-pack=touch {marker}")
    assert not marker.exists()
    with pytest.raises(UserError):
        normalize("-u")


def test_good_values_still_work(mirror):
    head = mirror.resolve("main")
    assert len(head) == 40
    assert mirror.show(head, "conveyor.yml") == "name: x\n"
    assert mirror.show(head[:7], "conveyor.yml") == "name: x\n"
    assert mirror.info(head).message == "two"
    assert mirror.changed_paths(head, head) == []
