"""Git, the way the engine needs it: a bare mirror per watched repository in the data dir, so
that local paths and URLs are read the same way, and nothing is done in the user's checkout.

    mirrors = GitMirrors(home / "git")
    mirror = mirrors.fetch("/srv/git/orders.git")       # clone --mirror once, then fetch
    mirror.heads()                                      # {"refs/heads/main": "3f2c…"}
    mirror.show(commit, "conveyor.yml")                 # file content at a commit
    mirror.export(commit, dest)                         # the tree at a commit, as files
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from conveyor.errors import ConveyorError, UserError
from conveyor.names import check_commit, check_git_ref
from conveyor.providers.local.process import Command, CommandFailed, run

GIT_TIMEOUT = 120.0
#: Transports git may use for a watched repository: never `ext::` (runs a command) or `fd::`.
ALLOWED_PROTOCOLS = "file:git:http:https:ssh"
ZERO = "0" * 40
# What the Git source exposes (aws-semantics §2.7, CodeCommit's output variables).
LOG_FORMAT = "%H%x00%an%x00%aI%x00%cI%x00%B"


def git(*args: str, git_dir: str | None = None, cwd: str | None = None) -> Command:
    argv = ["git"]
    if git_dir:
        argv += ["--git-dir", git_dir]
    return Command(argv + list(args), cwd=cwd, timeout=GIT_TIMEOUT,
                   env={"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_ALLOW_PROTOCOL": ALLOWED_PROTOCOLS})


def _checked_commit(commit: str) -> str:
    """A commit id before it reaches a git argv (never an option: `--output=…`)."""
    problem = check_commit(commit)
    if problem:
        raise UserError(problem, hint="pass the full or abbreviated SHA of a commit")
    return commit


def _checked_ref(branch: str) -> str:
    problem = check_git_ref(branch)
    if problem:
        raise UserError(problem, hint="name a branch as `git check-ref-format --branch` accepts it")
    return branch


def normalize(repository: str) -> str:
    """An absolute path for local repositories (so the hook and the CLI agree), a URL as is.
    A value starting with '-' (an option such as --upload-pack=…) is refused."""
    if repository.startswith("-") or "\0" in repository or "\n" in repository:
        raise UserError(f"{repository!r} is not a git repository path or URL",
                        hint="give a path or a URL (https://, ssh://, git@host:repo)")
    if "://" in repository or repository.startswith("git@"):
        return repository
    return str(Path(repository).expanduser().resolve())


@dataclass(frozen=True)
class CommitInfo:
    commit: str
    author: str
    author_date: str
    committer_date: str
    message: str


class Mirror:
    def __init__(self, repository: str, path: Path):
        self.repository = repository
        self.path = path

    def _run(self, *args: str) -> str:
        return run(git(*args, git_dir=str(self.path))).stdout

    def heads(self) -> dict[str, str]:
        out = self._run("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads")
        pairs = (line.split(" ", 1) for line in out.splitlines() if line)
        return {ref: sha for ref, sha in pairs}

    def tags(self) -> dict[str, str]:
        """Every tag and its object id, as a push reports it (an annotated tag's own id, not its
        commit's: see commit() to peel it)."""
        out = self._run("for-each-ref", "--format=%(refname) %(objectname)", "refs/tags")
        pairs = (line.split(" ", 1) for line in out.splitlines() if line)
        return {ref: sha for ref, sha in pairs}

    def commit(self, rev: str) -> str | None:
        """The full id of the commit `rev` (a commit or tag id, or a full ref name such as
        refs/pull/7/head) names in the mirror; None when the mirror has no such commit."""
        if rev.startswith("refs/"):
            if check_git_ref(rev) is not None:
                return None
        elif check_commit(rev) is not None:
            return None
        done = run(git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}",
                       git_dir=str(self.path)), check=False)
        return (done.stdout.strip() or None) if done.returncode == 0 else None

    def merge_base(self, a: str, b: str) -> str | None:
        """Where a pull request's head left its base: its changed files are those since then."""
        if check_commit(a) or check_commit(b):
            return None
        done = run(git("merge-base", "--end-of-options", a, b, git_dir=str(self.path)), check=False)
        return (done.stdout.strip() or None) if done.returncode == 0 else None

    def resolve(self, branch: str) -> str:
        _checked_ref(branch)
        try:
            return self._run("rev-parse", "--verify", "--quiet", "--end-of-options",
                             f"refs/heads/{branch}^{{commit}}").strip()
        except CommandFailed:
            known = ", ".join(h.removeprefix("refs/heads/") for h in self.heads()) or "none"
            raise UserError(f"branch '{branch}' not found in {self.repository} (branches: {known})",
                            hint="push the branch first, or set `branch:` on the Git source") from None

    def has(self, commit: str) -> bool:
        if not (self.path / "HEAD").exists() or check_commit(commit) is not None:
            return False
        return run(git("cat-file", "-e", "--end-of-options", f"{commit}^{{commit}}", git_dir=str(self.path)),
                   check=False).returncode == 0

    def show(self, commit: str, path: str) -> str | None:
        _checked_commit(commit)
        if "\0" in path or "\n" in path:
            return None
        done = run(git("show", "--end-of-options", f"{commit}:{path}", git_dir=str(self.path)), check=False)
        return done.stdout if done.returncode == 0 else None

    def info(self, commit: str) -> CommitInfo:
        out = self._run("show", "-s", f"--format={LOG_FORMAT}", "--end-of-options", _checked_commit(commit))
        sha, author, adate, cdate, message = out.split("\0", 4)
        return CommitInfo(sha, author, adate, cdate, message.strip())

    def changed_paths(self, before: str, after: str) -> list[str] | None:
        """Files changed by a push; None when unknown (a new branch, or history rewritten away)."""
        if not before or before == ZERO or check_commit(before) or check_commit(after):
            return None
        done = run(git("diff", "--name-only", "--no-renames", "--end-of-options", before, after,
                       git_dir=str(self.path)), check=False)
        if done.returncode != 0:
            return None
        return [line for line in done.stdout.splitlines() if line]

    def export(self, commit: str, dest: Path) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="conveyor-git-") as tmp:
            tar_path = os.path.join(tmp, "tree.tar")
            self._run("archive", "--format=tar", "-o", tar_path, "--end-of-options", _checked_commit(commit))
            with tarfile.open(tar_path) as tar:
                tar.extractall(dest, filter="tar")


class GitMirrors:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, repository: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(repository, threading.Lock())

    def path(self, repository: str) -> Path:
        name = Path(repository.rstrip("/")).name.removesuffix(".git") or "repo"
        digest = hashlib.sha256(repository.encode()).hexdigest()[:12]
        return self.root / f"{name}-{digest}.git"

    def mirror(self, repository: str) -> Mirror:
        """The mirror as it is, without fetching (it may not exist yet: see Mirror.has)."""
        repository = normalize(repository)
        return Mirror(repository, self.path(repository))

    def fetch(self, repository: str) -> Mirror:
        repository = normalize(repository)
        path = self.path(repository)
        with self._lock(repository):
            try:
                if not (path / "HEAD").exists():
                    tmp = path.with_suffix(".tmp")
                    run(git("clone", "--mirror", "--quiet", "--", repository, str(tmp)))
                    os.replace(tmp, path)
                else:
                    run(git("fetch", "--prune", "--quiet", "origin", git_dir=str(path)))
            except CommandFailed as exc:
                raise ConveyorError(f"cannot read git repository {repository}: {exc}",
                                    hint="check the path or URL of the Git source") from None
        return Mirror(repository, path)
