"""Stage-level extras of a CodePipeline definition — blockers, onFailure/onSuccess/beforeEntry
(§2.14-2.16, checked for shape and the documented combinations) — and pipeline variables (§2.7).

    variables = check_variables(chk)          # {name: key path}
    check_stage_extras(chk, ("pipeline", "stages", 2), stage, first=False, mode="QUEUED")
"""

from __future__ import annotations

import re

from conveyor.config.codepipeline_rules import (
    CONDITION_RESULTS,
    CONDITION_RULE_PROVIDERS,
    LIMITS,
    ON_FAILURE_RESULTS,
    RETRY_MODES,
    VARIABLE_CHARSET,
    VARIABLE_RE,
)
from conveyor.documents.checker import Checker
from conveyor.documents.located import KeyPath

P: KeyPath = ("pipeline",)
RULE_KEYS = ("name", "ruleTypeId", "configuration", "commands", "inputArtifacts", "roleArn", "region",
             "timeoutInMinutes")


def check_variables(chk: Checker) -> dict[str, KeyPath]:
    variables = chk.get(P, "variables", list)
    declared: dict[str, KeyPath] = {}
    if variables is None:
        return declared
    if len(variables) > LIMITS["variables"]:
        chk.error(P + ("variables",), f"at most {LIMITS['variables']} variables, got {len(variables)}")
    for i, var in enumerate(variables):
        path = P + ("variables", i)
        if not chk.is_type(path, var, dict):
            continue
        chk.keys(path, ("name", "defaultValue", "description"))
        name = chk.get(path, "name", str, required=True)
        if name is not None:
            limit = LIMITS["variable_name"]
            if not (1 <= len(name) <= limit and re.fullmatch(VARIABLE_RE, name)):
                chk.error(path + ("name",), f"invalid variable name '{name}': expected 1-{limit} characters of "
                                            f"{VARIABLE_CHARSET}")
            elif name in declared:
                chk.error(path + ("name",), f"duplicate variable name '{name}'")
            else:
                declared[name] = path
        default = chk.get(path, "defaultValue", str)
        if default is not None and not 1 <= len(default) <= LIMITS["variable_value"]:
            chk.error(path + ("defaultValue",), f"defaultValue must be 1 to {LIMITS['variable_value']} characters, "
                                                f"got {len(default)}")
        description = chk.get(path, "description", str)
        if description is not None and len(description) > LIMITS["variable_description"]:
            chk.error(path + ("description",), f"description is {len(description)} characters long; the limit is "
                                               f"{LIMITS['variable_description']}")
    return declared


def check_stage_extras(chk: Checker, path: KeyPath, stage: dict, first: bool, mode: str | None) -> None:
    blockers = chk.get(path, "blockers", list)
    for b, blocker in enumerate(blockers or []):
        bpath = path + ("blockers", b)
        if chk.is_type(bpath, blocker, dict):
            chk.keys(bpath, ("name", "type"))
            chk.get(bpath, "name", str, required=True)
            kind = chk.get(bpath, "type", str, required=True)
            if kind is not None:
                chk.one_of(bpath + ("type",), kind, ("Schedule",), "blocker type")
    if chk.get(path, "onFailure", dict) is not None:
        _on_failure(chk, path + ("onFailure",), first, mode)
    for key in ("onSuccess", "beforeEntry"):
        if chk.get(path, key, dict) is not None:
            chk.keys(path + (key,), ("conditions",))
            _conditions(chk, path + (key,), key, required=True)


def _on_failure(chk: Checker, path: KeyPath, first: bool, mode: str | None) -> None:
    chk.keys(path, ("result", "retryConfiguration", "conditions"))
    result = chk.get(path, "result", str)
    if result is not None and chk.one_of(path + ("result",), result, ON_FAILURE_RESULTS, "onFailure result"):
        if result == "ROLLBACK" and first:
            chk.error(path + ("result",), "the first (source) stage cannot be rolled back")
        if result == "ROLLBACK" and mode == "PARALLEL":
            chk.error(path + ("result",), "rollback is not available in PARALLEL execution mode")
        if result == "RETRY" and "conditions" in chk.at(path):
            chk.error(path + ("conditions",), "automatic retry (result RETRY) cannot be combined with conditions")
    retry = chk.get(path, "retryConfiguration", dict)
    if retry is not None:
        rpath = path + ("retryConfiguration",)
        if result != "RETRY":
            chk.error(rpath, "retryConfiguration needs result RETRY")
        chk.keys(rpath, ("retryMode",))
        mode_value = chk.get(rpath, "retryMode", str)
        if mode_value is not None:
            chk.one_of(rpath + ("retryMode",), mode_value, RETRY_MODES, "retryMode")
    _conditions(chk, path, "onFailure", required=False)


def _conditions(chk: Checker, path: KeyPath, kind: str, required: bool) -> None:
    conditions = chk.get(path, "conditions", list, required=required)
    if conditions is None:
        return
    if len(conditions) != 1:
        chk.error(path + ("conditions",), f"{kind} takes exactly one condition, got {len(conditions)}")
    for c, condition in enumerate(conditions):
        cpath = path + ("conditions", c)
        if not chk.is_type(cpath, condition, dict):
            continue
        chk.keys(cpath, ("result", "rules"))
        result = chk.get(cpath, "result", str)
        if result is not None:
            chk.one_of(cpath + ("result",), result, CONDITION_RESULTS[kind], f"{kind} result")
        rules = chk.get(cpath, "rules", list, required=True)
        if rules is not None and not 1 <= len(rules) <= 5:
            chk.error(cpath + ("rules",), f"a condition takes 1 to 5 rules, got {len(rules)}")
        for r, rule in enumerate(rules or []):
            _rule(chk, cpath + ("rules", r), rule)


def _rule(chk: Checker, path: KeyPath, rule: object) -> None:
    if not chk.is_type(path, rule, dict):
        return
    chk.keys(path, RULE_KEYS)
    chk.get(path, "name", str, required=True)
    type_id = chk.get(path, "ruleTypeId", dict, required=True)
    if type_id is None:
        return
    tpath = path + ("ruleTypeId",)
    chk.keys(tpath, ("category", "owner", "provider", "version"))
    category = chk.get(tpath, "category", str, required=True)
    if category is not None:
        chk.one_of(tpath + ("category",), category, ("Rule",), "rule category")
    owner = chk.get(tpath, "owner", str)
    if owner is not None:
        chk.one_of(tpath + ("owner",), owner, ("AWS",), "rule owner")
    provider = chk.get(tpath, "provider", str, required=True)
    if provider is not None:
        chk.one_of(tpath + ("provider",), provider, CONDITION_RULE_PROVIDERS, "rule provider")
    config = chk.get(path, "configuration", dict)
    for key, value in (config or {}).items():
        chk.is_type(path + ("configuration", key), value, str)
