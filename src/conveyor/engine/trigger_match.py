"""Which triggers of a (governing) definition a git event passes: a branch push, a tag push or a
pull-request event (aws-semantics §2.8). Each kind of event is matched only by triggers of its
kind; once a definition has any trigger, a Git source's own branch no longer starts it by itself
(CodePipeline: triggers replace the default change detection).

    push_matches(definition, own, "main", changed)           # the branch push filters
    tag_matches(definition, own, "v1.2.0")                   # the tag filters
    pull_request_matches(definition, own, "OPEN", "main", changed)
"""

from __future__ import annotations

from collections.abc import Collection

from conveyor.config.model import Patterns, PipelineDef, TriggerDef
from conveyor.globs import Criteria, TriggerFilter, any_accepts, matches_any_path


def _criteria(patterns: Patterns | None) -> Criteria | None:
    return Criteria(*patterns) if patterns else None


def _of_kind(definition: PipelineDef, sources: Collection[str], kind: str) -> list[TriggerDef]:
    return [t for t in definition.triggers if t.source in sources and t.kind == kind]


def push_matches(definition: PipelineDef, sources: dict, branch: str, changed: list[str] | None) -> bool:
    """A push to `branch`; `sources` are the definition's Git sources of the pushed repository
    (name -> ActionDef). Without triggers, a source watching that branch (detectChanges) decides."""
    if not sources:
        return False
    if definition.triggers:
        triggers = _of_kind(definition, sources, "push")
        filters = [TriggerFilter(_criteria(t.branches), _criteria(t.paths)) for t in triggers]
        return bool(filters) and any_accepts(filters, branch, changed)
    return any(s.configuration.get("branch", "main") == branch and s.configuration.get("detectChanges", True)
               for s in sources.values())


def tag_matches(definition: PipelineDef, sources: dict, tag: str) -> bool:
    """A tag push starts only pipelines with a tag trigger that matches it (none by default)."""
    return any(Criteria(*t.tags).matches(tag) for t in _of_kind(definition, sources, "tag") if t.tags is not None)


def pull_request_matches(definition: PipelineDef, sources: dict, event: str, target: str,
                         changed: list[str] | None) -> bool:
    """A pull-request event into `target`: the event is listed, the target branch and (when the
    changed files are known) at least one changed path pass the trigger's criteria."""
    for t in _of_kind(definition, sources, "pullRequest"):
        pr = t.pull_request
        assert pr is not None
        if event not in pr.events:
            continue
        branches, paths = _criteria(pr.branches), _criteria(pr.paths)
        if branches is not None and not branches.matches(target):
            continue
        if paths is not None and changed is not None and not matches_any_path(paths, changed):
            continue
        return True
    return False
