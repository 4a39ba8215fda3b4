"""What a deployment's alarm statuses decide: the alarm stop (ALARM_ACTIVE) and the
traffic-aware gate, over hand-made statuses."""

from __future__ import annotations

from conveyor.config.codedeploy_model import DeploymentGroup, ProbeSpec
from conveyor.metrics.monitor import AlarmStatus
from conveyor.metrics.vocabulary import AlarmSpec
from conveyor.providers.local.codedeploy import reasons
from conveyor.providers.local.codedeploy.gates import alarm_stop, traffic_gate
from conveyor.providers.local.codedeploy.steps import Fail

P99 = AlarmSpec("p99", "TargetResponseTime", scope="green", period=10, evaluation_periods=3, datapoints_to_alarm=2)
PROD = AlarmSpec("prod-5xx", "HTTPCode_Target_5XX_Count", scope="production")
GROUP = DeploymentGroup(alarms=(PROD, P99))


def state(value: str, points=((0, 1.0), (10, 1.0), (20, 1.0)), breaching: int = 0) -> AlarmStatus:
    return AlarmStatus("production/orders/p99", value, f"{value} because", 0.0, datapoints=list(points),
                       breaching=breaching)


def test_the_first_alarm_in_alarm_stops_the_deployment():
    statuses = {"prod-5xx": state("OK"), "p99": state("ALARM")}
    assert alarm_stop(GROUP, lambda alarm: statuses[alarm.name]) == Fail(
        "ALARM_ACTIVE", reasons.alarm_in_alarm("p99", "ALARM because"), status="Stopped", alarms=("p99",))


def test_no_stop_without_an_alarm_in_alarm_or_with_alarms_disabled():
    assert alarm_stop(GROUP, lambda alarm: state("OK")) is None
    assert alarm_stop(GROUP, lambda alarm: None) is None  # not evaluated for this deployment yet
    disabled = DeploymentGroup(alarms=GROUP.alarms, alarms_enabled=False)
    assert alarm_stop(disabled, lambda alarm: state("ALARM")) is None


def test_green_passes_the_gate_after_a_whole_clean_window_of_traffic():
    assert traffic_gate(GROUP, "orders-2", lambda alarm: state("OK")) is None


def test_the_gate_waits_for_traffic_in_every_period():
    sparse = state("OK", points=((0, None), (10, 1.0), (20, 1.0)))
    assert traffic_gate(GROUP, "orders-2", lambda alarm: sparse) == reasons.gate_no_traffic(
        "orders-2", 2, 3, 10, "p99", "OK", 30, probing=False)
    assert traffic_gate(GROUP, "orders-2", lambda alarm: None) == reasons.gate_no_traffic(
        "orders-2", 0, 3, 10, "p99", "INSUFFICIENT_DATA", 30, probing=False)
    probed = DeploymentGroup(alarms=GROUP.alarms, probe=ProbeSpec())
    assert traffic_gate(probed, "orders-2", lambda alarm: None).endswith("waiting for 30 s of traffic")


def test_the_gate_waits_for_a_window_without_breaching_datapoints():
    assert traffic_gate(GROUP, "orders-2", lambda alarm: state("OK", breaching=1)) == reasons.gate_breaching(
        "p99", 1, 3, 2)


def test_the_gate_is_open_when_not_required_or_before_a_replacement_exists():
    assert traffic_gate(DeploymentGroup(alarms=GROUP.alarms, require_traffic=False), "orders-2",
                        lambda alarm: None) is None
    assert traffic_gate(GROUP, None, lambda alarm: None) is None
    assert traffic_gate(DeploymentGroup(alarms=(PROD,)), "orders-2", lambda alarm: None) is None  # no green alarm
