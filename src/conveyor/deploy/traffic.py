"""Traffic plans: how production traffic moves from blue to green under a deployment config
(aws-semantics §5.6 for CodeDeploy, §4.7 for the ECS-native strategies, which run on the same
engine). Pure: no I/O.

    >>> steps = traffic_plan(PREDEFINED["CodeDeployDefault.ECSCanary10Percent5Minutes"])
    >>> describe_plan(steps), plan_duration(steps)
    ('10% → wait 5m → 100%', 300.0)
    >>> describe_plan(traffic_plan(custom_config({"type": "TimeBasedLinear", "linearPercentage": 30,
    ...                                           "linearInterval": "20s"})))
    '30% → wait 20s → 60% → wait 20s → 90% → wait 20s → 100%'
"""

from __future__ import annotations

from conveyor.config.codedeploy_configs import (  # noqa: F401
    ALL_AT_ONCE,
    CANARY,
    CONFIG_TYPES,
    LINEAR,
    PREDEFINED,
    custom_config,
    format_duration,
    number_text,
)
from conveyor.config.codedeploy_model import DeploymentConfig, TrafficStep


def traffic_plan(config: DeploymentConfig) -> list[TrafficStep]:
    """The production traffic shifts of `config`: the percentage on green after each shift and the
    wait that follows it. No wait follows the shift to 100 % (what comes after it is the termination
    wait or the bake time, not part of the plan).

    >>> traffic_plan(PREDEFINED["CodeDeployDefault.ECSAllAtOnce"])
    [TrafficStep(percent=100.0, wait=0.0)]
    """
    if config.type == ALL_AT_ONCE:
        return [TrafficStep(100.0)]
    p = float(config.percentage)
    if not 0 < p <= 100:
        raise ValueError(f"{config.name}: percentage must be more than 0 and at most 100, got {config.percentage}")
    if config.interval < 0:
        raise ValueError(f"{config.name}: interval cannot be negative, got {config.interval}")
    if p >= 100:
        return [TrafficStep(100.0)]
    if config.type == CANARY:
        return [TrafficStep(p, float(config.interval)), TrafficStep(100.0)]
    if config.type != LINEAR:
        raise ValueError(f"{config.name}: unknown type '{config.type}'; expected one of {', '.join(CONFIG_TYPES)}")
    # Linear: p, 2p, ... computed from the step number (not summed) so that 0.1-steps do not drift.
    steps, k = [], 1
    while (percent := round(k * p, 6)) < 100:
        steps.append(TrafficStep(percent, float(config.interval)))
        k += 1
    return steps + [TrafficStep(100.0)]


def describe_plan(steps: list[TrafficStep]) -> str:
    """'10% → wait 5m → 100%'"""
    out: list[str] = []
    for step in steps:
        out.append(f"{number_text(step.percent)}%")
        if step.wait:
            out.append(f"wait {format_duration(step.wait)}")
    return " → ".join(out) if out else "no traffic shift"


def plan_duration(steps: list[TrafficStep]) -> float:
    """Seconds the plan takes when nothing stops it: the sum of its waits."""
    return float(sum(step.wait for step in steps))
