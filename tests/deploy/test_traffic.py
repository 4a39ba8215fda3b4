"""Traffic plans of deployment configs (conveyor.deploy.traffic, aws-semantics §5.6 and §4.7):
exact steps and waits for every predefined config, custom configs, ECS-native strategies with
their defaults, and the duration grammar used by every duration key."""

from __future__ import annotations

import math

import pytest

from conveyor.config.codedeploy_configs import (
    PREDEFINED,
    custom_config,
    ecs_strategy,
    format_duration,
    parse_duration,
)
from conveyor.config.codedeploy_model import DeploymentConfig, TrafficStep
from conveyor.deploy.traffic import describe_plan, plan_duration, traffic_plan


def linear(percents: list[float], wait: float) -> list[TrafficStep]:
    return [TrafficStep(p, wait) for p in percents] + [TrafficStep(100.0, 0.0)]


PREDEFINED_PLANS = [
    ("CodeDeployDefault.ECSAllAtOnce", [TrafficStep(100.0, 0.0)], 0.0, "100%"),
    ("CodeDeployDefault.ECSLinear10PercentEvery1Minutes", linear([10, 20, 30, 40, 50, 60, 70, 80, 90], 60.0), 540.0,
     "10% → wait 1m → 20% → wait 1m → 30% → wait 1m → 40% → wait 1m → 50% → wait 1m → 60% → wait 1m → 70% → "
     "wait 1m → 80% → wait 1m → 90% → wait 1m → 100%"),
    ("CodeDeployDefault.ECSLinear10PercentEvery3Minutes", linear([10, 20, 30, 40, 50, 60, 70, 80, 90], 180.0), 1620.0,
     "10% → wait 3m → 20% → wait 3m → 30% → wait 3m → 40% → wait 3m → 50% → wait 3m → 60% → wait 3m → 70% → "
     "wait 3m → 80% → wait 3m → 90% → wait 3m → 100%"),
    ("CodeDeployDefault.ECSCanary10Percent5Minutes", [TrafficStep(10.0, 300.0), TrafficStep(100.0, 0.0)], 300.0,
     "10% → wait 5m → 100%"),
    ("CodeDeployDefault.ECSCanary10Percent15Minutes", [TrafficStep(10.0, 900.0), TrafficStep(100.0, 0.0)], 900.0,
     "10% → wait 15m → 100%"),
]


@pytest.mark.parametrize("name, steps, duration, text", PREDEFINED_PLANS, ids=[p[0] for p in PREDEFINED_PLANS])
def test_every_predefined_config_has_its_exact_plan(name, steps, duration, text):
    plan = traffic_plan(PREDEFINED[name])
    assert plan == steps
    assert plan_duration(plan) == duration
    assert describe_plan(plan) == text


def test_the_predefined_table_is_the_five_ecs_configs():
    assert sorted(PREDEFINED) == sorted(p[0] for p in PREDEFINED_PLANS)
    assert all(name == config.name for name, config in PREDEFINED.items())


@pytest.mark.parametrize("raw, steps", [
    ({"type": "AllAtOnce"}, [TrafficStep(100.0)]),
    ({"type": "TimeBasedCanary", "canaryPercentage": 20, "canaryInterval": "30s"},
     [TrafficStep(20.0, 30.0), TrafficStep(100.0)]),
    ({"type": "TimeBasedCanary", "canaryPercentage": 2.5, "canaryInterval": 2},
     [TrafficStep(2.5, 120.0), TrafficStep(100.0)]),
    # a canary of 100 % is all at once: no wait follows the shift to 100 %
    ({"type": "TimeBasedCanary", "canaryPercentage": 100, "canaryInterval": "1m"}, [TrafficStep(100.0)]),
    ({"type": "TimeBasedLinear", "linearPercentage": 30, "linearInterval": "1.5m"},
     linear([30, 60, 90], 90.0)),
    ({"type": "TimeBasedLinear", "linearPercentage": 33.3, "linearInterval": "1s"},
     linear([33.3, 66.6, 99.9], 1.0)),
    ({"type": "TimeBasedLinear", "linearPercentage": 50, "linearInterval": "0s"},
     [TrafficStep(50.0, 0.0), TrafficStep(100.0, 0.0)]),
    ({"type": "TimeBasedLinear", "linearPercentage": 100, "linearInterval": 5}, [TrafficStep(100.0)]),
])
def test_custom_configs(raw, steps):
    assert traffic_plan(custom_config(raw)) == steps


def test_custom_config_names():
    assert custom_config({"type": "TimeBasedCanary", "canaryPercentage": 20, "canaryInterval": "30s"}).name == \
        "TimeBasedCanary(20%, 30s)"
    assert custom_config({"type": "AllAtOnce"}).name == "AllAtOnce"
    assert custom_config({"type": "TimeBasedLinear", "linearPercentage": 10, "linearInterval": 1,
                          "name": "slow"}) == DeploymentConfig("slow", "TimeBasedLinear", 10.0, 60.0)


@pytest.mark.parametrize("percent", [0.1, 0.3, 3, 7, 10, 11, 12.5, 30, 33.3, 49.9, 50, 99.9])
def test_linear_plans_rise_to_100_with_a_wait_after_each_step_but_the_last(percent):
    plan = traffic_plan(DeploymentConfig("x", "TimeBasedLinear", percent, 7.0))
    assert len(plan) == math.ceil(round(100 / percent, 6))
    assert [s.percent for s in plan[:-1]] == [round(k * percent, 6) for k in range(1, len(plan))]
    assert all(a.percent < b.percent for a, b in zip(plan, plan[1:], strict=False))
    assert plan[-1] == TrafficStep(100.0, 0.0) and all(s.wait == 7.0 for s in plan[:-1])
    # AWS's count of step bake times: 100/p - 1 when p divides 100, else floor(100/p) (CloudFormation docs)
    divides = abs(100 / percent - round(100 / percent)) < 1e-9
    assert len(plan) - 1 == (round(100 / percent) - 1 if divides else math.floor(100 / percent))


def test_linear_in_tenths_does_not_drift():
    plan = traffic_plan(DeploymentConfig("x", "TimeBasedLinear", 0.1, 0.0))
    assert len(plan) == 1000 and plan[2].percent == 0.3 and plan[998].percent == 99.9


@pytest.mark.parametrize("config, problem", [
    (DeploymentConfig("x", "TimeBasedCanary", 0, 60), "x: percentage must be more than 0 and at most 100, got 0"),
    (DeploymentConfig("x", "TimeBasedLinear", 120, 60), "x: percentage must be more than 0 and at most 100, got 120"),
    (DeploymentConfig("x", "TimeBasedLinear", 10, -1), "x: interval cannot be negative, got -1"),
    (DeploymentConfig("x", "Halfway", 50, 60), "x: unknown type 'Halfway'; expected one of AllAtOnce, TimeBasedCanary, "
                                               "TimeBasedLinear"),
])
def test_impossible_plans_are_refused(config, problem):
    with pytest.raises(ValueError) as exc:
        traffic_plan(config)
    assert str(exc.value) == problem


# --- ECS-native strategies (§4.7) ---------------------------------------------------------------

def test_ecs_strategies_use_ecs_defaults():
    assert traffic_plan(ecs_strategy("CANARY")) == [TrafficStep(5.0, 600.0), TrafficStep(100.0)]
    plan = traffic_plan(ecs_strategy("LINEAR"))
    assert plan == linear([10, 20, 30, 40, 50, 60, 70, 80, 90], 360.0)
    assert describe_plan(plan).startswith("10% → wait 6m → 20%")
    blue_green = ecs_strategy("BLUE_GREEN", bake_minutes=15)
    assert traffic_plan(blue_green) == [TrafficStep(100.0)]
    assert blue_green.bake == 900.0 and ecs_strategy("CANARY").bake is None


def test_ecs_strategies_with_their_configuration():
    canary = ecs_strategy("CANARY", "30s", canary={"canaryPercent": 12.5, "canaryBakeTimeInMinutes": "20s"})
    assert (canary.type, canary.percentage, canary.interval, canary.bake) == ("TimeBasedCanary", 12.5, 20.0, 30.0)
    assert canary.name == "ECS CANARY(12.5%, 20s)"
    step = ecs_strategy("LINEAR", linear={"stepPercent": 40, "stepBakeTimeInMinutes": 1})
    # the step bake time is not applied after 100 %
    assert traffic_plan(step) == linear([40, 80], 60.0)
    assert traffic_plan(ecs_strategy("LINEAR", linear={"stepPercent": 100})) == [TrafficStep(100.0)]
    with pytest.raises(ValueError, match="unknown strategy 'ROLLING'; expected one of BLUE_GREEN, CANARY, LINEAR"):
        ecs_strategy("ROLLING")


# --- durations ----------------------------------------------------------------------------------

@pytest.mark.parametrize("value, unit, seconds", [
    (5, "m", 300.0), (0, "m", 0.0), (1.5, "m", 90.0), ("5", "m", 300.0), ("30s", "m", 30.0), ("2m", "m", 120.0),
    ("1h", "m", 3600.0), ("1.5m", "m", 90.0), (".5m", "m", 30.0), ("1h30m", "m", 5400.0), ("1m 30s", "m", 90.0),
    (" 45s ", "m", 45.0), ("250ms", "m", 0.25), (3600, "s", 3600.0), ("2m", "s", 120.0), ("10", "s", 10.0),
    (2, "h", 7200.0),
])
def test_parse_duration(value, unit, seconds):
    assert parse_duration(value, unit) == seconds


@pytest.mark.parametrize("value, problem", [
    ("", "expected a duration: a number of minutes or a number with a unit (ms, s, m, h), e.g. 30s, 2m, 1.5m, 1h; "
         "got ''"),
    ("30 sec", "got '30 sec'"),
    ("5d", "got '5d'"),
    ("m", "got 'm'"),
    ("1.2.3m", "got '1.2.3m'"),
    (True, "got true or false"),
    (None, "got nothing (null)"),
    ([1], "got a list"),
    (float("inf"), "got inf"),
    (-1, "a duration cannot be negative, got -1"),
    ("-30s", "a duration cannot be negative, got '-30s'"),
])
def test_parse_duration_errors(value, problem):
    with pytest.raises(ValueError) as exc:
        parse_duration(value)
    assert problem in str(exc.value)


def test_a_duration_error_names_the_default_unit():
    with pytest.raises(ValueError, match="a number of seconds or a number with a unit"):
        parse_duration("soon", "s")


@pytest.mark.parametrize("seconds, text", [
    (0, "0s"), (0.25, "0.25s"), (30, "30s"), (60, "1m"), (90, "1m30s"), (300, "5m"), (3600, "1h"), (5400, "1h30m"),
    (172800, "48h"),
])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_describe_plan_of_fractions():
    assert describe_plan([TrafficStep(12.5, 0.5), TrafficStep(100.0)]) == "12.5% → wait 0.5s → 100%"
    assert describe_plan([]) == "no traffic shift"
