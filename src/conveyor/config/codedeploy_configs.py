"""Deployment configurations as conveyor.yml and CodeDeploy name them (aws-semantics §5.6 for
CodeDeploy, §4.7 for the ECS-native strategies): the predefined ones, custom TimeBasedCanary /
TimeBasedLinear / AllAtOnce, the ECS strategies with their defaults, and durations. Pure: no I/O.
conveyor.deploy.traffic turns a config into the plan a deployment follows.

    >>> PREDEFINED["CodeDeployDefault.ECSCanary10Percent5Minutes"].interval
    300.0
    >>> custom_config({"type": "TimeBasedLinear", "linearPercentage": 30, "linearInterval": "20s"}).interval
    20.0

Durations in conveyor.yml are minutes, as in AWS, or carry a unit ("30s", "2m", "1h") so that a
local canary can last seconds: parse_duration reads every duration key.
"""

from __future__ import annotations

import math
import re
from typing import Any

from conveyor.config.codedeploy_model import DeploymentConfig

ALL_AT_ONCE, CANARY, LINEAR = "AllAtOnce", "TimeBasedCanary", "TimeBasedLinear"
CONFIG_TYPES = (ALL_AT_ONCE, CANARY, LINEAR)

DEFAULT_CONFIG_NAME = "CodeDeployDefault.ECSAllAtOnce"  # CodeDeploy's deploymentConfigName default
#: CreateDeploymentConfig: custom names may not use CodeDeploy's own prefix.
RESERVED_PREFIX = "CodeDeployDefault."

#: The predefined ECS configs (aws-semantics §5.6), intervals in seconds.
PREDEFINED: dict[str, DeploymentConfig] = {c.name: c for c in (
    DeploymentConfig(DEFAULT_CONFIG_NAME, ALL_AT_ONCE),
    DeploymentConfig("CodeDeployDefault.ECSLinear10PercentEvery1Minutes", LINEAR, 10.0, 60.0),
    DeploymentConfig("CodeDeployDefault.ECSLinear10PercentEvery3Minutes", LINEAR, 10.0, 180.0),
    DeploymentConfig("CodeDeployDefault.ECSCanary10Percent5Minutes", CANARY, 10.0, 300.0),
    DeploymentConfig("CodeDeployDefault.ECSCanary10Percent15Minutes", CANARY, 10.0, 900.0),
)}

#: ECS-native strategies (deploymentConfiguration.strategy) and their defaults (ECS API reference:
#: CanaryConfiguration, LinearConfiguration; aws-semantics §4.7).
STRATEGIES = ("BLUE_GREEN", "CANARY", "LINEAR")
DEFAULT_CANARY_PERCENT = 5.0
DEFAULT_CANARY_BAKE_MINUTES = 10.0
DEFAULT_STEP_PERCENT = 10.0
DEFAULT_STEP_BAKE_MINUTES = 6.0
CANARY_PERCENT_RANGE = (0.1, 100.0)   # multiples of 0.1
STEP_PERCENT_RANGE = (3.0, 100.0)     # multiples of 0.1
BAKE_MINUTES_RANGE = (0.0, 1440.0)    # bakeTimeInMinutes, canary/stepBakeTimeInMinutes

UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
UNIT_NAMES = {"ms": "milliseconds", "s": "seconds", "m": "minutes", "h": "hours"}
_NUMBER = r"\d+(?:\.\d+)?|\.\d+"
_PART = re.compile(rf"\s*({_NUMBER})\s*(ms|h|m|s)\s*")


def parse_duration(value: Any, default_unit: str = "m") -> float:
    """Seconds in `value`: a number of `default_unit`, or a string with units.

    >>> parse_duration(5), parse_duration("30s"), parse_duration("1.5m"), parse_duration("1h30m")
    (300.0, 30.0, 90.0, 5400.0)
    >>> parse_duration(2, default_unit="s"), parse_duration("250ms")
    (2.0, 0.25)
    """
    unit = UNITS[default_unit]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            raise ValueError(_duration_problem(value, default_unit))
        if number < 0:
            raise ValueError(f"a duration cannot be negative, got {value}")
        return number * unit
    if not isinstance(value, str):
        raise ValueError(_duration_problem(value, default_unit))
    text = value.strip()
    if re.fullmatch(_NUMBER, text):
        return float(text) * unit
    if text.startswith("-"):
        raise ValueError(f"a duration cannot be negative, got '{value}'")
    if not text:
        raise ValueError(_duration_problem(value, default_unit))
    total, at = 0.0, 0
    while at < len(value):
        match = _PART.match(value, at)
        if not match or match.end() == at:
            raise ValueError(_duration_problem(value, default_unit))
        total += float(match.group(1)) * UNITS[match.group(2)]
        at = match.end()
    return total


def _duration_problem(value: Any, default_unit: str) -> str:
    if isinstance(value, str):
        shown = f"'{value}'"
    elif isinstance(value, (bool, list, dict)) or value is None:
        shown = {bool: "true or false", list: "a list", dict: "a mapping"}.get(type(value), "nothing (null)")
    else:
        shown = repr(value)
    return (f"expected a duration: a number of {UNIT_NAMES[default_unit]} or a number with a unit "
            f"(ms, s, m, h), e.g. 30s, 2m, 1.5m, 1h; got {shown}")


def format_duration(seconds: float) -> str:
    """A short human form: 300 -> '5m', 90 -> '1m30s', 0.5 -> '0.5s', 5400 -> '1h30m'."""
    if seconds < 60:
        return f"{number_text(seconds)}s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{int(hours)}h" if hours else "", f"{int(minutes)}m" if minutes else "",
             f"{number_text(secs)}s" if secs else ""]
    return "".join(parts)


def number_text(value: float) -> str:
    """10.0 -> '10', 33.3 -> '33.3' (at most 3 decimals)."""
    return f"{round(value, 3):g}" if abs(value) < 1e15 else str(value)


# --- configs ------------------------------------------------------------------------------------


def custom_config(raw: dict) -> DeploymentConfig:
    """A custom config from conveyor.yml's `config:` mapping (already validated): trafficRoutingConfig
    with the type's own keys; intervals in minutes or with a unit."""
    kind = raw.get("type", ALL_AT_ONCE)
    if kind == CANARY:
        percent, interval = float(raw["canaryPercentage"]), parse_duration(raw["canaryInterval"])
    elif kind == LINEAR:
        percent, interval = float(raw["linearPercentage"]), parse_duration(raw["linearInterval"])
    else:
        percent, interval = 100.0, 0.0
    shown = kind if kind == ALL_AT_ONCE else f"{kind}({number_text(percent)}%, {format_duration(interval)})"
    name = raw.get("name") or shown
    return DeploymentConfig(str(name), kind, percent, interval)


def ecs_strategy(strategy: str, bake_minutes: Any = None, canary: dict | None = None,
                 linear: dict | None = None) -> DeploymentConfig:
    """An ECS-native strategy as a config of the same engine, with ECS's defaults.

    >>> ecs_strategy("CANARY")
    DeploymentConfig(name='ECS CANARY(5%, 10m)', type='TimeBasedCanary', percentage=5.0, interval=600.0, bake=None)
    >>> ecs_strategy("BLUE_GREEN", bake_minutes="30s").bake
    30.0
    """
    bake = None if bake_minutes is None else parse_duration(bake_minutes)
    if strategy == "CANARY":
        canary = canary or {}
        percent = float(canary.get("canaryPercent", DEFAULT_CANARY_PERCENT))
        interval = parse_duration(canary.get("canaryBakeTimeInMinutes", DEFAULT_CANARY_BAKE_MINUTES))
        kind = CANARY
    elif strategy == "LINEAR":
        linear = linear or {}
        percent = float(linear.get("stepPercent", DEFAULT_STEP_PERCENT))
        interval = parse_duration(linear.get("stepBakeTimeInMinutes", DEFAULT_STEP_BAKE_MINUTES))
        kind = LINEAR
    elif strategy == "BLUE_GREEN":
        return DeploymentConfig(f"ECS {strategy}", ALL_AT_ONCE, bake=bake)
    else:
        raise ValueError(f"unknown strategy '{strategy}'; expected one of {', '.join(STRATEGIES)}")
    return DeploymentConfig(f"ECS {strategy}({number_text(percent)}%, {format_duration(interval)})", kind, percent,
                            interval, bake)
