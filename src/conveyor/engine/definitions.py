"""Which conveyor.yml decides what runs: the trust boundary between pushers and the pipeline.

Anyone who can push a branch controls that branch's files, so a branch must not be able to
redefine the pipeline that builds it (drop the approval, add a host command, ask for the
engine's socket, widen its own trigger filters). As with a CodePipeline that only changes through
a self-update from its main branch, the definition is read from a *protected* branch:

- a commit on a protected branch runs its own conveyor.yml (the branch is trusted);
- any other commit runs the conveyor.yml at the head of the first protected branch (the
  definition branch) when the execution starts, building the pushed commit's source. If the
  commit's own conveyor.yml differs, the execution says so in its trigger (`note`).

Protect those branches on your git server: Conveyor trusts whoever can push to them.

    gov = definitions.governing(mirror, ("main",), "conveyor.yml", "feature/x", sha)
    gov.definition, gov.branch, gov.commit, gov.note
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from conveyor.config.model import PipelineDef
from conveyor.config.pipeline import load_pipeline_text
from conveyor.errors import UserError
from conveyor.providers.local.git import Mirror

CACHE_SIZE = 64


@dataclass(frozen=True)
class Governing:
    """The definition an execution runs, and the protected branch and commit it was read from."""

    definition: PipelineDef
    branch: str
    commit: str
    note: str | None = None

    def trigger_fields(self) -> dict:
        fields: dict = {"definition": {"branch": self.branch, "commit": self.commit}}
        if self.note:
            fields["note"] = self.note
        return fields


class Definitions:
    """Reads and validates conveyor.yml at a commit, once per commit (commits never change)."""

    def __init__(self, cache_size: int = CACHE_SIZE):
        self._cache: dict[tuple[str, str, str], PipelineDef] = {}
        self._size = cache_size

    def at(self, mirror: Mirror, commit: str, config_path: str) -> PipelineDef:
        key = (mirror.repository, commit, config_path)
        if key not in self._cache:
            if len(self._cache) >= self._size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = self._read(mirror, commit, config_path)
        return self._cache[key]

    @staticmethod
    def _read(mirror: Mirror, commit: str, config_path: str) -> PipelineDef:
        text = mirror.show(commit, config_path)
        if text is None:
            raise UserError(f"{config_path} not found in {mirror.repository} at {commit[:7]}",
                            hint="commit a conveyor.yml (`conveyor init` writes a starter one)")
        return load_pipeline_text(text, f"{config_path}@{commit[:7]}")

    def head(self, mirror: Mirror, protected: Sequence[str]) -> str:
        """The commit at the head of the definition branch (the first protected branch)."""
        home = protected[0]
        try:
            return mirror.resolve(home)
        except UserError as exc:
            raise UserError(f"the pipeline's definition is read from its protected branch '{home}', and {exc}",
                            hint=f"push {home}, or register the pipeline with `conveyor run --protected-branch "
                                 "BRANCH` (or `protectedBranches:` in conveyor.yml on that branch)") from None

    def governing(self, mirror: Mirror, protected: Sequence[str], config_path: str, branch: str | None,
                  commit: str | None) -> Governing:
        """The definition that decides what runs for `commit` pushed to (or asked of) `branch`."""
        if branch is not None and branch in protected and commit is not None:
            return Governing(self.at(mirror, commit, config_path), branch, commit)
        home = protected[0]
        head = self.head(mirror, protected)
        definition = self.at(mirror, head, config_path)
        note = None
        if commit is not None and commit != head and mirror.show(commit, config_path) != mirror.show(head, config_path):
            where = f"branch {branch}" if branch else f"commit {commit[:7]}"
            note = (f"{config_path} differs on {where}: ignored until merged into {home} (the definition "
                    f"on {home} at {head[:7]} runs)")
        return Governing(definition, home, head, note)
