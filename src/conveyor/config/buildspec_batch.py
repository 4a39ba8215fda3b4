"""The `batch` section of a buildspec (aws-semantics §1.2; CodeBuild's batch-build buildspec
reference): one of build-graph, build-list, build-matrix or build-fanout, plus fast-fail.

    batch = check_batch(check)      # called by conveyor.config.buildspec; None when absent or broken

Build-graph and build-list entries become BatchBuild rows (identifier, buildspec, env overrides,
depend-on); matrix and fanout settings are kept as written after their keys are checked.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from conveyor.config.buildspec_model import BATCH_KINDS, Batch, BatchBuild
from conveyor.documents.checker import did_you_mean
from conveyor.documents.located import KeyPath

if TYPE_CHECKING:
    from conveyor.config.buildspec import BuildSpecCheck

BUILD_KEYS = ("identifier", "buildspec", "debug-session", "depend-on", "env", "ignore-failure")
ENV_KEYS = ("compute-type", "fleet", "image", "privileged-mode", "type", "variables")
MATRIX_KEYS = {"static": ("ignore-failure", "env"), "dynamic": ("buildspec", "env")}
FANOUT_KEYS = ("parallelism", "ignore-failure")


def check_batch(v: BuildSpecCheck) -> Batch | None:
    B: KeyPath = ("batch",)
    batch = v.chk.get((), "batch", dict)
    if batch is None:
        return None
    v.keys(B, ("fast-fail",) + BATCH_KINDS)
    kinds = [k for k in BATCH_KINDS if k in batch]
    if not kinds:
        v.chk.error(B, f"expected one of {', '.join(BATCH_KINDS)}")
        return None
    if len(kinds) > 1:
        v.chk.error(B + (kinds[1],), f"a batch has one type; this one has both {kinds[0]} and {kinds[1]}")
    kind, config = kinds[0], {}
    builds: tuple[BatchBuild, ...] = ()
    if kind in ("build-graph", "build-list"):
        builds = _builds(v, B + (kind,), kind)
    elif v.chk.get(B, kind, dict) is not None:
        config = batch[kind]
        v.keys(B + (kind,), tuple(MATRIX_KEYS) if kind == "build-matrix" else FANOUT_KEYS)
        for part, keys in MATRIX_KEYS.items() if kind == "build-matrix" else ():
            if v.chk.get(B + (kind,), part, dict) is not None:
                v.keys(B + (kind, part), keys)
        if isinstance(v.chk.at(B + (kind, "static", "env")), dict):
            _env(v, B + (kind, "static", "env"))
    return Batch(kind, v.flag(B, "fast-fail"), builds, config)


def _builds(v: BuildSpecCheck, path: KeyPath, kind: str) -> tuple[BatchBuild, ...]:
    builds: dict[int, BatchBuild] = {}  # by entry index
    first: dict[str, int] = {}
    allowed = BUILD_KEYS if kind == "build-graph" else tuple(k for k in BUILD_KEYS if k != "depend-on")
    for i, entry in enumerate(v.chk.get(path[:-1], kind, list) or []):
        ep = path + (i,)
        if not v.chk.is_type(ep, entry, dict, "a mapping (identifier:, buildspec:, env:, ...)"):
            continue
        v.keys(ep, allowed, notes={"depend-on": "depend-on only applies to a build-graph; CodeBuild ignores it in "
                                                "a build-list"})
        ident = v.string(ep, "identifier")
        if ident is None:
            v.chk.error(ep, "missing required key 'identifier'")
            continue
        if ident in first:
            line = v.chk.doc.where(path + (first[ident], "identifier"))[0]
            v.chk.error(ep + ("identifier",), f"duplicate identifier '{ident}' (first used on line {line})")
        first.setdefault(ident, i)
        env = _env(v, ep + ("env",)) if isinstance(entry.get("env"), dict) else {}
        depend_on = v.strings(ep, "depend-on", "identifiers") if kind == "build-graph" else ()
        builds[i] = BatchBuild(ident, v.string(ep, "buildspec"), env, depend_on, v.flag(ep, "ignore-failure"),
                               v.flag(ep, "debug-session"))
        if builds[i].buildspec is None and "phases" not in v.chk.doc.data:
            v.chk.warning(ep, f"'{ident}' names no buildspec, so it runs this file, which has no phases")
    for i, build in builds.items():
        for j, dep in enumerate(build.depend_on):
            if dep not in first:
                others = [ident for ident in first if ident != build.identifier]
                hint = did_you_mean(dep, others) or f" (known: {', '.join(others) or 'none'})"
                v.chk.error(path + (i, "depend-on", j), f"depends on unknown identifier '{dep}'{hint}")
    return tuple(builds.values())


def _env(v: BuildSpecCheck, path: KeyPath) -> dict[str, Any]:
    """A batch entry's environment override; variables become strings as in the top-level env."""
    env = v.chk.at(path)
    as_variables = {key: f"unknown key '{key}' in a batch env; CodeBuild ignores it (environment variables go "
                         f"under env.variables)"
                    for key in env if key not in ENV_KEYS and re.fullmatch(r"[A-Z][A-Z0-9_]*", key)}
    v.keys(path, ENV_KEYS, notes=as_variables)
    if "compute-type" in env and "fleet" in env:
        v.chk.error(path + ("fleet",), "give compute-type or fleet, not both")
    out = {key: value for key, value in env.items() if key in ENV_KEYS and key != "variables"}
    if "privileged-mode" in env:
        out["privileged-mode"] = v.flag(path, "privileged-mode")
    if env.get("variables") is not None:
        out["variables"] = v.names(path, "variables")
    return out
