"""Stage-level extras of a CodePipeline definition — blockers, onFailure/onSuccess/beforeEntry
(§2.14-2.16, checked for shape and the documented combinations) — and pipeline variables (§2.7).

    variables = check_variables(chk)          # {name: key path}
    check_stage_extras(chk, ("pipeline", "stages", 2), stage, first=False, mode="QUEUED")
"""

from __future__ import annotations

import re

from conveyor.config.codepipeline_compute import check_commands
from conveyor.config.codepipeline_rules import (
    ARTIFACT_CHARSET,
    ARTIFACT_RE,
    BLOCKER_NAME_LENGTH,
    CONDITION_RESULTS,
    CONDITION_RULE_PROVIDERS,
    LIMITS,
    NAME_CHARSET,
    NAME_RE,
    ON_FAILURE_RESULTS,
    PROVIDER_CHARSET,
    PROVIDER_RE,
    RETRY_MODES,
    ROLE_ARN_RE,
    ROLE_ARN_SHAPE,
    RULE_CONFIG_ENTRIES,
    RULE_CONFIG_VALUE_LENGTH,
    RULE_SPECS,
    SKIP_RULE_PROVIDERS,
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
            name = chk.get(bpath, "name", str, required=True)
            if name is not None and not 1 <= len(name) <= BLOCKER_NAME_LENGTH:
                chk.error(bpath + ("name",), f"a blocker name is 1 to {BLOCKER_NAME_LENGTH} characters (API "
                                             f"BlockerName), got {len(name)}")
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
            provider = _rule(chk, cpath + ("rules", r), rule)
            if result == "SKIP" and kind == "beforeEntry" and provider is not None \
                    and provider not in SKIP_RULE_PROVIDERS:
                chk.error(cpath + ("rules", r, "ruleTypeId", "provider"),
                          f"a beforeEntry condition with result SKIP takes only {' and '.join(SKIP_RULE_PROVIDERS)} "
                          f"rules, not {provider} (doc stage-conditions)")


def _rule(chk: Checker, path: KeyPath, rule: object) -> str | None:
    """One RuleDeclaration (botocore codepipeline RuleDeclaration and the rule-reference pages);
    returns its provider when it is a known one."""
    if not chk.is_type(path, rule, dict):
        return None
    assert isinstance(rule, dict)
    chk.keys(path, RULE_KEYS)
    name = chk.get(path, "name", str, required=True)
    if name is not None and not (1 <= len(name) <= LIMITS["name"] and re.fullmatch(NAME_RE, name)):
        chk.error(path + ("name",), f"invalid rule name '{name}': expected 1-{LIMITS['name']} characters of "
                                    f"{NAME_CHARSET}")
    _rule_fields(chk, path)
    type_id = chk.get(path, "ruleTypeId", dict, required=True)
    provider = None
    if type_id is not None:
        provider = _rule_type(chk, path + ("ruleTypeId",))
    config = chk.get(path, "configuration", dict)
    if config is not None and len(config) > RULE_CONFIG_ENTRIES:
        chk.error(path + ("configuration",), f"a rule takes at most {RULE_CONFIG_ENTRIES} configuration entries, "
                                             f"got {len(config)}")
    for key, value in (config or {}).items():
        kpath = path + ("configuration", key)
        if not 1 <= len(key) <= LIMITS["config_key"]:
            chk.error(kpath, f"configuration key '{key}' must be 1 to {LIMITS['config_key']} characters")
        if chk.is_type(kpath, value, str) and not 1 <= len(value) <= RULE_CONFIG_VALUE_LENGTH:
            chk.error(kpath, f"rule configuration values are 1 to {RULE_CONFIG_VALUE_LENGTH} characters, got "
                             f"{len(value)}")
    spec = RULE_SPECS.get(provider or "")
    if spec is None:
        return provider
    given = config or {}
    missing = [k for k in spec.required if k not in given]
    if missing:
        where = path + ("configuration",) if config is not None else path
        chk.error(where, f"{spec.provider} rule is missing required configuration {', '.join(missing)}")
    for key, choices in spec.enums:
        value = given.get(key)
        if isinstance(value, str):
            chk.one_of(path + ("configuration", key), value, choices, f"{key} value")
    is_commands = provider == "Commands"
    check_commands(chk, path, required=is_commands, what="Commands rule")
    if not is_commands and "commands" in rule:
        chk.warning(path + ("commands",), f"only the Commands rule runs 'commands'; a {provider} rule does not "
                                          "use them")
    return provider


def _rule_type(chk: Checker, tpath: KeyPath) -> str | None:
    chk.keys(tpath, ("category", "owner", "provider", "version"))
    category = chk.get(tpath, "category", str, required=True)
    if category is not None:
        chk.one_of(tpath + ("category",), category, ("Rule",), "rule category")
    owner = chk.get(tpath, "owner", str)
    if owner is not None:
        chk.one_of(tpath + ("owner",), owner, ("AWS",), "rule owner")
    version = chk.get(tpath, "version", str)
    if version is not None and not (1 <= len(version) <= LIMITS["version"] and re.fullmatch(PROVIDER_RE, version)):
        chk.error(tpath + ("version",), f"invalid version '{version}': expected 1-{LIMITS['version']} characters "
                                        f"of {PROVIDER_CHARSET}")
    provider = chk.get(tpath, "provider", str, required=True)
    if provider is not None and chk.one_of(tpath + ("provider",), provider, CONDITION_RULE_PROVIDERS,
                                           "rule provider"):
        return provider
    return None


def _rule_fields(chk: Checker, path: KeyPath) -> None:
    """inputArtifacts, roleArn, region and timeoutInMinutes of a rule, with the API's bounds."""
    for i, item in enumerate(chk.get(path, "inputArtifacts", list) or []):
        ipath = path + ("inputArtifacts", i)
        if chk.is_type(ipath, item, dict):
            chk.keys(ipath, ("name",))
            name = chk.get(ipath, "name", str, required=True)
            if name is not None and not (1 <= len(name) <= 100 and re.fullmatch(ARTIFACT_RE, name)):
                chk.error(ipath + ("name",), f"invalid artifact name '{name}': expected 1-100 characters of "
                                             f"{ARTIFACT_CHARSET}")
    role = chk.get(path, "roleArn", str)
    if role is not None and not (re.fullmatch(ROLE_ARN_RE, role) and len(role) <= LIMITS["role_arn"]):
        chk.error(path + ("roleArn",), f"invalid roleArn '{role}': expected {ROLE_ARN_SHAPE}")
    region = chk.get(path, "region", str)
    lo, hi = LIMITS["region"]
    if region is not None and not lo <= len(region) <= hi:
        chk.error(path + ("region",), f"invalid region '{region}': expected {lo}-{hi} characters")
    timeout = chk.get(path, "timeoutInMinutes", int)
    lo, hi = LIMITS["timeout_minutes"]
    if timeout is not None and not lo <= timeout <= hi:
        chk.error(path + ("timeoutInMinutes",), f"timeoutInMinutes must be from {lo} to {hi}, got {timeout}")
