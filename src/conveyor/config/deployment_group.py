"""Validation of a CODE_DEPLOY service's `deployment:` block: its deployment group (aws-semantics
§5.5), traffic config (§5.6) or ECS-native strategy (§4.7), alarms (§8, in conveyor.config.alarms),
lifecycle hook stand-ins (§5.4) and probe traffic. conveyor.config.codedeploy_group builds the group from
the same keys; docs/conveyor.reference.yml documents them.

    check_code_deploy(chk, ("environments", "production", "services", "orders", "deployment"))

Durations are minutes as in AWS, or a string with a unit ("30s"); in a `target: aws` environment
they must be whole minutes, as AWS takes them.
"""

from __future__ import annotations

import math
import re
import shlex
from typing import Any
from urllib.parse import urlsplit

from conveyor.config import codedeploy_configs as configs
from conveyor.config.alarms import check_group_alarms
from conveyor.config.codedeploy_configs import PREDEFINED, RESERVED_PREFIX, format_duration, parse_duration
from conveyor.config.codedeploy_group import AUTO_ROLLBACK_KEYS, HOOK_CONTAINER_KEYS, HOOK_KEYS, PROBE_KEYS
from conveyor.config.codedeploy_model import (
    CONTINUE_DEPLOYMENT,
    DEFAULT_HOOK_TIMEOUT,
    KEEP_ALIVE,
    ROLLBACK_EVENTS,
    STOP_DEPLOYMENT,
    TERMINATE,
)
from conveyor.documents.checker import Checker, did_you_mean, type_name
from conveyor.documents.located import KeyPath

DEPLOYMENT_READY_OPTIONS = (CONTINUE_DEPLOYMENT, STOP_DEPLOYMENT)
TERMINATE_BLUE_OPTIONS = (TERMINATE, KEEP_ALIVE)
CUSTOM_CONFIG_KEYS = ("type", "name", "canaryPercentage", "canaryInterval", "linearPercentage", "linearInterval")
CONFIG_TYPE_KEYS = {configs.ALL_AT_ONCE: (), configs.CANARY: ("canaryPercentage", "canaryInterval"),
                    configs.LINEAR: ("linearPercentage", "linearInterval")}
CANARY_CONFIGURATION_KEYS = ("canaryPercent", "canaryBakeTimeInMinutes")
LINEAR_CONFIGURATION_KEYS = ("stepPercent", "stepBakeTimeInMinutes")

CONFIG_NAME_LIMIT = 100                  # deploymentConfigName
TERMINATION_WAIT_MINUTES = (0, 2880)     # terminationWaitTimeInMinutes (48 h)
READY_WAIT_MINUTES = (0, 7200)           # waitTimeInMinutes, ECS maximum (120 h)
PERCENT_RANGE = (0.1, 100.0)             # custom configs; ECS canaryPercent too
HOOK_TIMEOUT_SECONDS = (1, DEFAULT_HOOK_TIMEOUT)   # CodeDeploy: 1 hour per lifecycle event
MAX_PROBE_RATE = 1000.0                  # requests per second
FUNCTION_NAME = r"[A-Za-z0-9_-]+"        # Lambda function name
FUNCTION_NAME_LIMIT = 64
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_code_deploy(chk: Checker, dp: KeyPath) -> None:
    """Every CODE_DEPLOY key of the `deployment:` mapping at `dp` (environments.E.services.S.deployment)."""
    env_path, sp = dp[:-3], dp[:-1]
    env = chk.at(env_path)
    aws = isinstance(env, dict) and env.get("target") == "aws"
    dep = chk.at(dp)
    appspec = chk.get(dp, "appspec", str, what="a path to the AppSpec file")
    if appspec is not None and (not appspec.strip() or appspec.startswith("/")):
        chk.error(dp + ("appspec",), f"expected a path relative to the repository root, got '{appspec}'")
    bake = _traffic(chk, dp, aws)
    option = chk.get(dp, "deploymentReadyOption", str)
    if option is not None:
        chk.one_of(dp + ("deploymentReadyOption",), option, DEPLOYMENT_READY_OPTIONS, "deploymentReadyOption")
    wait = _minutes(chk, dp, "waitTimeMinutes", READY_WAIT_MINUTES, aws)
    if "waitTimeMinutes" in dep and option in (None, CONTINUE_DEPLOYMENT):
        chk.warning(dp + ("waitTimeMinutes",), "waitTimeMinutes only applies with deploymentReadyOption: "
                                               "STOP_DEPLOYMENT (how long green waits for `conveyor deploy continue`); "
                                               "it is ignored here")
    elif option == STOP_DEPLOYMENT and ("waitTimeMinutes" not in dep or wait == 0):
        chk.warning(dp + ("deploymentReadyOption",), "STOP_DEPLOYMENT with waitTimeMinutes 0 (the default) stops the "
                                                     "deployment as soon as green is ready; set waitTimeMinutes to the "
                                                     "time you need to look at green before `conveyor deploy continue`")
    blue = chk.get(dp, "terminateBlue", str)
    if blue is not None:
        chk.one_of(dp + ("terminateBlue",), blue, TERMINATE_BLUE_OPTIONS, "terminateBlue")
    _minutes(chk, dp, "terminationWaitMinutes", TERMINATION_WAIT_MINUTES, aws)
    if "terminationWaitMinutes" in dep:
        if bake:
            chk.error(dp + ("terminationWaitMinutes",), "give bakeTimeInMinutes or terminationWaitMinutes, not both: "
                                                        "with a strategy, the bake time is how long blue stays up "
                                                        "after the shift")
        elif blue == KEEP_ALIVE:
            chk.warning(dp + ("terminationWaitMinutes",), "terminationWaitMinutes is ignored with terminateBlue: "
                                                          "KEEP_ALIVE (blue is never terminated)")
    _auto_rollback(chk, dp)
    defined = env.get("alarms") if isinstance(env, dict) else None
    check_group_alarms(chk, dp, set(defined) if isinstance(defined, dict) else set(), aws=aws, env_path=env_path)
    for key in ("alarmsEnabled", "ignorePollAlarmFailure", "requireTraffic"):
        chk.get(dp, key, bool)
    _hooks(chk, dp)
    _probe(chk, dp)
    _needs_listeners(chk, dp, sp)


# --- traffic: config or strategy ----------------------------------------------------------------


def _traffic(chk: Checker, dp: KeyPath, aws: bool) -> bool:
    """config / strategy; True when an ECS-native bake time is given."""
    dep = chk.at(dp)
    strategy = chk.get(dp, "strategy", str)
    if "config" in dep and "strategy" in dep:
        chk.error(dp + ("strategy",), "give config (a CodeDeploy deployment config) or strategy (ECS-native), not both")
    elif "config" in dep:
        _config(chk, dp, dep["config"], aws)
    if strategy is not None:
        if strategy == "ROLLING":
            chk.error(dp + ("strategy",), "strategy ROLLING is the ECS controller's rolling update: use controller: "
                                          "ECS, or BLUE_GREEN, CANARY or LINEAR here")
            strategy = None
        elif not chk.one_of(dp + ("strategy",), strategy, configs.STRATEGIES, "strategy"):
            strategy = None
    for key, owner, keys in (("canaryConfiguration", "CANARY", CANARY_CONFIGURATION_KEYS),
                             ("linearConfiguration", "LINEAR", LINEAR_CONFIGURATION_KEYS)):
        if key not in dep:
            continue
        if "strategy" in dep and strategy != owner:
            if strategy is not None:
                chk.error(dp + (key,), f"{key} applies to strategy {owner} only (this service uses {strategy})")
        elif "strategy" not in dep:
            chk.error(dp + (key,), f"{key} applies to strategy: {owner} (ECS-native); with config, use a custom "
                                   "config mapping")
        elif chk.get(dp, key, dict) is not None:
            _ecs_configuration(chk, dp + (key,), keys, aws)
    if "bakeTimeInMinutes" in dep:
        if "strategy" not in dep:
            chk.error(dp + ("bakeTimeInMinutes",), "bakeTimeInMinutes belongs to an ECS-native strategy; with config "
                                                   "(CodeDeploy), blue stays up for terminationWaitMinutes")
            return False
        return _minutes(chk, dp, "bakeTimeInMinutes", configs.BAKE_MINUTES_RANGE, aws) is not None
    if strategy == "BLUE_GREEN":
        chk.error(dp, "missing required key 'bakeTimeInMinutes': strategy BLUE_GREEN needs it (how long blue and "
                      "green both run after production traffic moved)")
    return False


def _config(chk: Checker, dp: KeyPath, value: Any, aws: bool) -> None:
    cp = dp + ("config",)
    if isinstance(value, str):
        if value not in PREDEFINED:
            hint = did_you_mean(value, PREDEFINED) or f"; expected one of {', '.join(PREDEFINED)}"
            chk.error(cp, f"unknown deployment config '{value}'{hint}, or a custom config mapping "
                          "{type: TimeBasedCanary | TimeBasedLinear | AllAtOnce, ...}")
        return
    if not chk.is_type(cp, value, (str, dict), "a deployment config name or a custom config mapping"):
        return
    chk.keys(cp, CUSTOM_CONFIG_KEYS)
    name = chk.get(cp, "name", str)
    if name is not None:
        if name.startswith(RESERVED_PREFIX):
            chk.error(cp + ("name",), f"a custom config name cannot start with '{RESERVED_PREFIX}' (reserved for "
                                      "CodeDeploy's own configs)")
        elif not 1 <= len(name) <= CONFIG_NAME_LIMIT:
            chk.error(cp + ("name",), f"expected 1-{CONFIG_NAME_LIMIT} characters, got {len(name)}")
    kind = chk.get(cp, "type", str, required=True)
    if kind is None or not chk.one_of(cp + ("type",), kind, configs.CONFIG_TYPES, "config type"):
        return
    for other, keys in CONFIG_TYPE_KEYS.items():
        for key in keys:
            if other != kind and key in value:
                chk.error(cp + (key,), f"'{key}' applies to type {other} (this config is {kind})")
    for key in CONFIG_TYPE_KEYS[kind]:
        if key not in value:
            chk.error(cp, f"missing required key '{key}' (type {kind})")
        elif key.endswith("Percentage"):
            _percent(chk, cp, key, PERCENT_RANGE)
        else:
            _minutes(chk, cp, key, (0, None), aws)


def _ecs_configuration(chk: Checker, path: KeyPath, keys: tuple[str, ...], aws: bool) -> None:
    chk.keys(path, keys)
    percent_key, bake_key = keys
    _percent(chk, path, percent_key,
             configs.CANARY_PERCENT_RANGE if percent_key == "canaryPercent" else configs.STEP_PERCENT_RANGE)
    _minutes(chk, path, bake_key, configs.BAKE_MINUTES_RANGE, aws)


def _percent(chk: Checker, path: KeyPath, key: str, bounds: tuple[float, float]) -> float | None:
    value = chk.get(path, key, (int, float), what="a percentage (a number)")
    if value is None:
        return None
    lo, hi = bounds
    if not (math.isfinite(value) and lo <= value <= hi):
        chk.error(path + (key,), f"{key} must be between {lo:g} and {hi:g}, got {value}")
        return None
    if abs(value * 10 - round(value * 10)) > 1e-6:
        chk.error(path + (key,), f"{key} must be a multiple of 0.1 (at most one decimal), got {value}")
        return None
    return float(value)


def _minutes(chk: Checker, path: KeyPath, key: str, bounds: tuple[float, float | None], aws: bool) -> float | None:
    """A duration key in minutes (or with a unit); its value in seconds, or None."""
    mapping = chk.at(path)
    if not isinstance(mapping, dict) or key not in mapping:
        return None
    raw = mapping[key]
    try:
        seconds = parse_duration(raw)
    except ValueError as exc:
        chk.error(path + (key,), str(exc))
        return None
    lo, hi = bounds
    if seconds < lo * 60 or (hi is not None and seconds > hi * 60):
        bound = f"between {lo:g} and {hi:g} minutes" if hi is not None else f"at least {lo:g} minutes"
        chk.error(path + (key,), f"{key} must be {bound}, got {_shown(raw)}")
        return None
    if aws and seconds % 60:
        chk.error(path + (key,), f"AWS takes whole minutes for {key}, got {_shown(raw)} ({format_duration(seconds)}); "
                                 "seconds are for local environments")
        return None
    return seconds


def _shown(raw: Any) -> str:
    return f"'{raw}'" if isinstance(raw, str) else str(raw)


# --- rollback, hooks, probe ---------------------------------------------------------------------


def _auto_rollback(chk: Checker, dp: KeyPath) -> None:
    value = (chk.at(dp) or {}).get("autoRollback")
    path = dp + ("autoRollback",)
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, list):
        _events(chk, path, value)
    elif isinstance(value, dict):
        chk.keys(path, AUTO_ROLLBACK_KEYS)
        enabled = chk.get(path, "enabled", bool)
        events = chk.get(path, "events", list)
        if events is not None:
            _events(chk, path + ("events",), events)
            if enabled is False:
                chk.warning(path + ("events",), "events have no effect while autoRollback is off (enabled: false)")
    else:
        chk.error(path, f"expected true, false, a list of events ({', '.join(ROLLBACK_EVENTS)}) or "
                        f"{{enabled, events}}, got {type_name(value)}")


def _events(chk: Checker, path: KeyPath, events: list) -> None:
    seen = set()
    for i, event in enumerate(events):
        if not chk.is_type(path + (i,), event, str, "a rollback event"):
            continue
        if chk.one_of(path + (i,), event, ROLLBACK_EVENTS, "rollback event") and event in seen:
            chk.error(path + (i,), f"rollback event '{event}' is listed twice")
        seen.add(event)


def _hooks(chk: Checker, dp: KeyPath) -> None:
    hooks = chk.get(dp, "hooks", dict, what="a mapping of function name -> {command | container | url}")
    for name, body in (hooks or {}).items():
        hp = dp + ("hooks", name)
        chk.name(hp, name, FUNCTION_NAME, FUNCTION_NAME_LIMIT, "hook function name")
        if not chk.is_type(hp, body, dict, "a hook: a mapping with command, container or url"):
            continue
        chk.keys(hp, HOOK_KEYS)
        given = [k for k in ("command", "container", "url") if k in body]
        if not given:
            chk.error(hp, "expected one of command (an argv list), container ({image, command}) or url (http or "
                          "https): what runs in place of the Lambda function")
        elif len(given) > 1:
            chk.error(hp + (given[1],), f"give only one of command, container or url (this hook has "
                                        f"{' and '.join(given)})")
        if "command" in body:
            _argv(chk, hp + ("command",), body["command"])
        if chk.get(hp, "container", dict) is not None:
            cp = hp + ("container",)
            chk.keys(cp, HOOK_CONTAINER_KEYS)
            image = chk.get(cp, "image", str, required=True, what="an image reference")
            if image is not None and not image.strip():
                chk.error(cp + ("image",), "expected an image reference, got an empty string")
            if "command" in body["container"]:
                _argv(chk, cp + ("command",), body["container"]["command"])
        url = chk.get(hp, "url", str, what="an http:// or https:// URL")
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                chk.error(hp + ("url",), f"expected an http:// or https:// URL, got '{url}'")
        _hook_timeout(chk, hp)
        env = chk.get(hp, "env", dict)
        for key, value in (env or {}).items():
            if not ENV_NAME.fullmatch(str(key)):
                chk.error(hp + ("env", key), f"invalid variable name '{key}': expected letters, digits and _, not "
                                             "starting with a digit")
            elif isinstance(value, bool) or not isinstance(value, (str, int, float)):
                chk.error(hp + ("env", key), f"expected a string, got {type_name(value)} (quote it: \"{value}\")")


def _argv(chk: Checker, path: KeyPath, value: Any) -> None:
    if isinstance(value, str):
        try:
            example = "[" + ", ".join(shlex.split(value)) + "]"
        except ValueError:
            example = "[program, arg, ...]"
        chk.error(path, f"expected an argv list, got a string: hooks run the program directly, without a shell, so "
                        f"write the program and each argument as list items, e.g. {example}")
        return
    if not chk.is_type(path, value, list, "an argv list, e.g. [./smoke-test.sh, --fast]"):
        return
    if not value:
        chk.error(path, "expected an argv list with at least the program, got an empty list")
    for i, arg in enumerate(value):
        if isinstance(arg, bool) or not isinstance(arg, (str, int, float)):
            chk.error(path + (i,), f"expected a string argument, got {type_name(arg)}")


def _hook_timeout(chk: Checker, hp: KeyPath) -> None:
    mapping = chk.at(hp)
    if "timeoutSeconds" not in mapping:
        return
    raw = mapping["timeoutSeconds"]
    try:
        seconds = parse_duration(raw, "s")
    except ValueError as exc:
        chk.error(hp + ("timeoutSeconds",), str(exc))
        return
    lo, hi = HOOK_TIMEOUT_SECONDS
    if not lo <= seconds <= hi:
        chk.error(hp + ("timeoutSeconds",), f"timeoutSeconds must be between {lo} and {hi:g} seconds (CodeDeploy gives "
                                            f"a hook at most 1 hour), got {_shown(raw)}")


def _probe(chk: Checker, dp: KeyPath) -> None:
    value = chk.get(dp, "probe", (bool, dict), what="true, false or {path, ratePerSecond}")
    if not isinstance(value, dict):
        return
    pp = dp + ("probe",)
    chk.keys(pp, PROBE_KEYS)
    path = chk.get(pp, "path", str)
    if path is not None and not path.startswith("/"):
        chk.error(pp + ("path",), f"expected a path starting with /, got '{path}'")
    rate = chk.get(pp, "ratePerSecond", (int, float), what="a number")
    if rate is not None and not (0 < rate <= MAX_PROBE_RATE):
        chk.error(pp + ("ratePerSecond",), f"ratePerSecond must be more than 0 and at most {MAX_PROBE_RATE:g}, "
                                           f"got {rate}")


def _needs_listeners(chk: Checker, dp: KeyPath, sp: KeyPath) -> None:
    """CodeDeploy for ECS shifts traffic between two target groups behind a listener (§5.1); the
    test listener is optional there, but locally hooks and the probe reach green through it."""
    lb = chk.at(sp + ("loadBalancer",))
    if lb is None:
        chk.error(sp, "a CODE_DEPLOY service needs a loadBalancer: blue/green moves traffic between two target "
                      "groups behind its listener")
        return
    if not isinstance(lb, dict) or lb.get("testPort") is not None:
        return
    dep = chk.at(dp)
    if dep.get("probe"):
        chk.error(dp + ("probe",), "a probe needs loadBalancer.testPort: it sends its requests to green through the "
                                   "test listener")
    if dep.get("hooks"):
        chk.error(dp + ("hooks",), "hooks need loadBalancer.testPort: a hook reaches green through the test listener "
                                   "(the test URL it receives)")
