"""`pipeline.triggers` in conveyor.yml: which pushes, tag pushes and pull-request events start the
pipeline (CodePipeline V2 triggers, aws-semantics §2.8, in conveyor.yml's shorter form).

    triggers:
      - branches: [main, "release/**"]          # a branch push, AND the changed paths
        paths: {excludes: ["docs/**"]}
      - tags: ["v*"]                            # a tag push (refs/tags/...), tags only
      - pullRequest:                            # a pull request into main
          events: [open, updated]               # OPEN | UPDATED | CLOSED, either case; default all
          branches: [main]                      # the pull request's target branch
          paths: ["src/**"]

One trigger is one filter: a branch-push filter (branches and paths), a tag-push filter (tags) or
a pull-request filter (pullRequest:). As in CodePipeline, a push filter takes tags or branches,
never both, and tags with no file paths. Every problem is reported at once, at its line and key.
"""

from __future__ import annotations

from typing import Any

from conveyor.documents.checker import Checker
from conveyor.documents.located import KeyPath

TRIGGER_KEYS = ("source", "branches", "paths", "tags", "pullRequest")
PULL_REQUEST_KEYS = ("events", "branches", "paths")
PULL_REQUEST_EVENTS = ("OPEN", "UPDATED", "CLOSED")
MAX_PATTERNS = 8  # per includes or excludes list (GitBranchFilterCriteria and friends)


def check_triggers(chk: Checker, sources: list[str]) -> None:
    """Check `pipeline.triggers`; `sources` are the names of the pipeline's Git source actions."""
    P: KeyPath = ("pipeline", "triggers")
    for i, trig in enumerate(chk.get(("pipeline",), "triggers", list) or []):
        tp = P + (i,)
        if not chk.is_type(tp, trig, dict):
            continue
        chk.keys(tp, TRIGGER_KEYS)
        source = chk.get(tp, "source", str)
        if source is not None:
            chk.one_of(tp + ("source",), source, sources, "source action")
        elif len(sources) != 1:
            chk.error(tp, f"name the Git source action this trigger watches with 'source' "
                          f"(sources: {', '.join(sources)})")
        if "pullRequest" in trig:
            for key in ("branches", "paths", "tags"):
                if key in trig:
                    chk.error(tp + (key,), f"a pull-request trigger filters under pullRequest: (move '{key}' "
                                           "there), or make this a separate push trigger")
            _check_pull_request(chk, tp)
            continue
        if "tags" in trig:
            for key in ("branches", "paths"):
                if key in trig:
                    chk.error(tp + (key,), f"a trigger with tags fires on tag pushes only and takes no '{key}' "
                                           "(as CodePipeline's push filter); put branch filters in another trigger")
        for key in ("branches", "paths", "tags"):
            _check_criteria(chk, tp, key)


def _check_pull_request(chk: Checker, tp: KeyPath) -> None:
    if chk.get(tp, "pullRequest", dict) is None:
        return
    pp = tp + ("pullRequest",)
    chk.keys(pp, PULL_REQUEST_KEYS)
    events = chk.get(pp, "events", list)
    if events is not None:
        if not 1 <= len(events) <= len(PULL_REQUEST_EVENTS):
            chk.error(pp + ("events",), f"events takes 1 to {len(PULL_REQUEST_EVENTS)} of "
                                        f"{', '.join(e.lower() for e in PULL_REQUEST_EVENTS)}, got {len(events)}")
        seen: set[str] = set()
        for j, event in enumerate(events):
            if not chk.is_type(pp + ("events", j), event, str, "an event name"):
                continue
            if event.upper() not in PULL_REQUEST_EVENTS:
                chk.error(pp + ("events", j), f"unknown pull request event '{event}'; expected one of "
                                              f"{', '.join(e.lower() for e in PULL_REQUEST_EVENTS)}")
            elif event.upper() in seen:
                chk.error(pp + ("events", j), f"event '{event}' is listed twice")
            seen.add(event.upper())
    for key in ("branches", "paths"):
        _check_criteria(chk, pp, key)


def _check_criteria(chk: Checker, where: KeyPath, key: str) -> None:
    """A list of globs (= includes) or {includes, excludes}, each at most 8 patterns that compile."""
    from conveyor.globs import compile_glob

    crit = chk.get(where, key, (list, dict))
    if crit is None:
        return
    if isinstance(crit, dict):
        chk.keys(where + (key,), ("includes", "excludes"))
        groups = [(where + (key, k), crit[k]) for k in ("includes", "excludes") if k in crit]
    else:
        groups = [(where + (key,), crit)]
    for gp, patterns in groups:
        if not chk.is_type(gp, patterns, list):
            continue
        if len(patterns) > MAX_PATTERNS:
            chk.error(gp, f"at most {MAX_PATTERNS} patterns, got {len(patterns)}")
        for j, pat in enumerate(patterns):
            if not chk.is_type(gp + (j,), pat, str, "a glob pattern"):
                continue
            try:
                compile_glob(pat)
            except ValueError as exc:
                chk.error(gp + (j,), str(exc))


def pull_request_events(value: Any) -> tuple[str, ...]:
    """The events of a validated pullRequest: block, upper case; all three when not given."""
    events = value.get("events") if isinstance(value, dict) else None
    if not events:
        return PULL_REQUEST_EVENTS
    return tuple(dict.fromkeys(str(e).upper() for e in events))
