"""What connects CodePipeline actions: artifacts (§2.1: an input is an output of an action that runs
earlier; output names are unique), namespaces and `#{namespace.variable}` references (§2.7),
action regions against the artifact stores, and V2 triggers (§2.8).

    check_flow(chk, actions, variables)      # actions: the ActionInfo of every action, in order
"""

from __future__ import annotations

from conveyor.config.codepipeline_actions import ActionInfo
from conveyor.config.codepipeline_rules import (
    CODEPIPELINE_VARIABLES,
    GIT_PATTERN_LENGTH,
    LIMITS,
    PR_EVENTS_COUNT,
    RESERVED_NAMESPACES,
    VARIABLE_REF,
)
from conveyor.documents.checker import Checker, did_you_mean
from conveyor.documents.located import KeyPath

P: KeyPath = ("pipeline",)


def check_flow(chk: Checker, actions: list[ActionInfo], variables: dict[str, KeyPath]) -> None:
    producers = _outputs(chk, actions)
    _inputs(chk, actions, producers)
    namespaces = _namespaces(chk, actions)
    _references(chk, actions, namespaces, variables)


def _outputs(chk: Checker, actions: list[ActionInfo]) -> dict[str, ActionInfo]:
    producers: dict[str, ActionInfo] = {}
    for action in actions:
        for name, path in action.outputs:
            if name in producers:
                chk.error(path, f"output artifact '{name}' is already produced by {producers[name].label}; "
                                f"output artifact names must be unique in the pipeline")
            else:
                producers[name] = action
    return producers


def _inputs(chk: Checker, actions: list[ActionInfo], producers: dict[str, ActionInfo]) -> None:
    for action in actions:
        for name, path in action.inputs:
            producer = producers.get(name)
            if producer is None:
                chk.error(path, f"input artifact '{name}' is not produced by any action"
                                f"{did_you_mean(name, producers)}")
            elif producer is action:
                chk.error(path, f"input artifact '{name}' is produced by this same action")
            elif not producer.runs_before(action):
                chk.error(path, f"input artifact '{name}' is produced by {producer.label}, which does not run "
                                f"before this action")


def _namespaces(chk: Checker, actions: list[ActionInfo]) -> dict[str, ActionInfo]:
    artifacts = {name for a in actions for name, _ in a.outputs + a.inputs}
    owners: dict[str, ActionInfo] = {}
    for action in actions:
        ns = action.namespace
        if ns is None:
            continue
        path = action.path + ("namespace",)
        if ns in RESERVED_NAMESPACES:
            chk.error(path, f"namespace '{ns}' is reserved by CodePipeline; choose another name")
        elif ns in owners:
            chk.error(path, f"namespace '{ns}' is already used by {owners[ns].label}")
        elif ns in artifacts:
            chk.error(path, f"namespace '{ns}' has the name of an artifact; namespaces and artifact names must "
                            f"differ")
        else:
            owners[ns] = action
    return owners


def _references(chk: Checker, actions: list[ActionInfo], namespaces: dict[str, ActionInfo],
                variables: dict[str, KeyPath]) -> None:
    for action in actions:
        for key, value in action.configuration.items():
            for m in VARIABLE_REF.finditer(value):
                problem = _resolve(action, m.group(1), m.group(2), namespaces, variables)
                if problem is not None:
                    severity, message = problem
                    where = action.path + ("configuration", key)
                    (chk.error if severity == "error" else chk.warning)(where, f"{m.group(0)}: {message}")


def _resolve(action: ActionInfo, ns: str, var: str, namespaces: dict[str, ActionInfo],
             variables: dict[str, KeyPath]) -> tuple[str, str] | None:
    if ns == "codepipeline":
        if var in CODEPIPELINE_VARIABLES:
            return None
        return "error", (f"the codepipeline namespace has only {', '.join(CODEPIPELINE_VARIABLES)}"
                         f"{did_you_mean(var, CODEPIPELINE_VARIABLES)}")
    if ns == "variables":
        if action.category == "Source":
            return "error", "pipeline variables cannot be used in Source actions"
        if var in variables:
            return None
        declared = f"; declared: {', '.join(variables)}" if variables else "; the pipeline declares no variables"
        return "error", f"no pipeline variable named '{var}'{did_you_mean(var, variables)}{declared}"
    producer = namespaces.get(ns)
    if producer is None:
        return "error", f"no action has namespace '{ns}'{did_you_mean(ns, namespaces)}"
    if producer is action:
        return "error", "an action cannot use its own namespace"
    if not producer.runs_before(action):
        return "error", (f"namespace '{ns}' belongs to {producer.label}, which does not run before this action")
    known = producer.spec.output_variables if producer.spec is not None else None
    if known is not None and var not in known:
        outputs = ", ".join(known) if known else "no variables"
        return "warning", (f"{producer.provider} does not output '{var}'{did_you_mean(var, known)}; it outputs "
                           f"{outputs}")
    return None


def check_regions(chk: Checker, actions: list[ActionInfo], pipeline: dict) -> None:
    stores = pipeline.get("artifactStores")
    if isinstance(stores, dict):
        for action in actions:
            if action.region is not None and action.region not in stores:
                chk.error(action.path + ("region",), f"region '{action.region}' has no artifact store; "
                                                     f"artifactStores has {', '.join(stores) or 'none'}")
        return
    if "artifactStore" not in pipeline:
        return
    first: str | None = None
    for action in actions:
        if action.region is None:
            continue
        if first is None:
            first = action.region
        elif action.region != first:
            chk.error(action.path + ("region",), f"actions run in more than one region ({first}, {action.region}); "
                                                 f"a cross-region pipeline needs artifactStores, one per region")
            return


# -- triggers (§2.8) ------------------------------------------------------------------------------

GIT_KEYS = ("sourceActionName", "push", "pullRequest")
FILTER_KEYS = {"push": ("tags", "branches", "filePaths"), "pullRequest": ("events", "branches", "filePaths")}
PR_EVENTS = ("OPEN", "UPDATED", "CLOSED")


def check_triggers(chk: Checker, actions: list[ActionInfo]) -> None:
    triggers = chk.get(P, "triggers", list)
    if triggers is None:
        return
    if len(triggers) > LIMITS["triggers"]:
        chk.error(P + ("triggers",), f"at most {LIMITS['triggers']} triggers, got {len(triggers)}")
    sources = {a.name: a for a in actions if a.stage == 0 and a.category == "Source"}
    seen: dict[str, int] = {}
    for t, trigger in enumerate(triggers):
        path = P + ("triggers", t)
        if not chk.is_type(path, trigger, dict):
            continue
        chk.keys(path, ("providerType", "gitConfiguration"))
        kind = chk.get(path, "providerType", str, required=True)
        if kind is not None:
            chk.one_of(path + ("providerType",), kind, ("CodeStarSourceConnection",), "providerType")
        git = chk.get(path, "gitConfiguration", dict, required=True)
        if git is None:
            continue
        gpath = path + ("gitConfiguration",)
        chk.keys(gpath, GIT_KEYS)
        name = chk.get(gpath, "sourceActionName", str, required=True)
        if name is not None:
            _trigger_source(chk, gpath + ("sourceActionName",), name, sources)
            if name in seen:
                chk.error(gpath + ("sourceActionName",), f"source action '{name}' already has a trigger "
                                                         f"(pipeline.triggers[{seen[name]}]); one per source action")
            seen.setdefault(name, t)
        for kind in ("push", "pullRequest"):
            _filters(chk, gpath, kind)


def _trigger_source(chk: Checker, path: KeyPath, name: str, sources: dict[str, ActionInfo]) -> None:
    source = sources.get(name)
    if source is None:
        chk.error(path, f"no source action named '{name}' in the first stage{did_you_mean(name, sources)}")
    elif source.provider != "CodeStarSourceConnection":
        chk.error(path, f"triggers work only with CodeStarSourceConnection sources; '{name}' is a "
                        f"{source.provider} source")


def _filters(chk: Checker, gpath: KeyPath, kind: str) -> None:
    filters = chk.get(gpath, kind, list)
    if filters is None:
        return
    if not 1 <= len(filters) <= LIMITS["trigger_filters"]:
        chk.error(gpath + (kind,), f"{kind} takes 1 to {LIMITS['trigger_filters']} filters, got {len(filters)}")
    for f, flt in enumerate(filters):
        fpath = gpath + (kind, f)
        if not chk.is_type(fpath, flt, dict):
            continue
        chk.keys(fpath, FILTER_KEYS[kind])
        for key in ("tags", "branches", "filePaths"):
            if key in flt and chk.get(fpath, key, dict) is not None:
                _criteria(chk, fpath + (key,))
        events = chk.get(fpath, "events", list)
        lo, hi = PR_EVENTS_COUNT
        if events is not None and not lo <= len(events) <= hi:
            chk.error(fpath + ("events",), f"events takes {lo} to {hi} event types (API GitPullRequestEventTypeList), "
                                           f"got {len(events)}")
        for e, event in enumerate(events or []):
            if chk.is_type(fpath + ("events", e), event, str):
                chk.one_of(fpath + ("events", e), event, PR_EVENTS, "pull request event")


_SHAPES = {"branches": "GitBranchNamePattern", "tags": "GitTagNamePattern", "filePaths": "GitFilePathPattern"}


def _criteria(chk: Checker, path: KeyPath) -> None:
    chk.keys(path, ("includes", "excludes"))
    for key in ("includes", "excludes"):
        patterns = chk.get(path, key, list)
        if patterns is None:
            continue
        if not 1 <= len(patterns) <= LIMITS["criteria_patterns"]:
            chk.error(path + (key,), f"{key} takes 1 to {LIMITS['criteria_patterns']} patterns, got {len(patterns)}")
        for i, pattern in enumerate(patterns):
            if chk.is_type(path + (key, i), pattern, str) and not 1 <= len(pattern) <= GIT_PATTERN_LENGTH:
                chk.error(path + (key, i), f"a pattern is 1 to {GIT_PATTERN_LENGTH} characters (API "
                                           f"{_SHAPES.get(str(path[-1]), 'pattern')}), got {len(pattern)}")
