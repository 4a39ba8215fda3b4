"""Alarm evaluation as tables (pure): periods, statistics, operators, M out of N, missing data
(CloudWatch's documented tables, row by row), `since`, incomplete periods, reasons."""

from __future__ import annotations

from dataclasses import replace

import pytest

from conveyor.metrics.evaluate import (
    EXTRA_PERIODS,
    aggregate,
    evaluate,
    evaluation_range,
    has_traffic,
    periods,
)
from conveyor.metrics.vocabulary import ALARM, INSUFFICIENT_DATA, OK, AlarmSpec

T0 = 1_699_999_980  # a multiple of 60: 14/11/23 22:13:00 UTC
SPEC = AlarmSpec("orders-5xx", "HTTPCode_Target_5XX_Count", period=1, evaluation_periods=3,
                 datapoints_to_alarm=3, threshold=5.0)


def from_pattern(pattern: str, period: int = 1, end: int = T0) -> list[tuple[int, float]]:
    """CloudWatch's notation, oldest first: 0 = not breaching, X = breaching, - = missing."""
    marks = pattern.split()
    samples = []
    for i, mark in enumerate(marks):
        start = end - (len(marks) - i) * period
        if mark != "-":
            samples.append((start, 0.0 if mark == "0" else 9.0))
    return samples


def state(pattern: str, treat: str, m: int = 3, previous: str = INSUFFICIENT_DATA) -> str:
    spec = replace(SPEC, datapoints_to_alarm=m, treat_missing_data=treat)
    return evaluate(spec, from_pattern(pattern), now=T0 + 0.5, previous=previous).state


RETAIN = "retain"
# AlarmThatSendsEmail, "How alarm state is evaluated when data is missing": N = 3, the 5 most
# recent datapoints; columns missing, ignore, breaching, notBreaching.
THREE_OF_THREE = [
    ("0 - X - X", OK, OK, OK, OK),
    ("0 - - - -", OK, OK, OK, OK),
    ("- - - - -", INSUFFICIENT_DATA, RETAIN, ALARM, OK),
    ("0 X X - X", ALARM, ALARM, ALARM, ALARM),
    ("- - - - X", INSUFFICIENT_DATA, RETAIN, ALARM, OK),
    ("X - - - -", ALARM, RETAIN, ALARM, OK),
]
TWO_OF_THREE = [
    ("0 - X - X", ALARM, ALARM, ALARM, ALARM),
    ("0 0 X 0 X", ALARM, ALARM, ALARM, ALARM),
    ("0 - X - -", OK, OK, ALARM, OK),
    ("- - - - 0", OK, OK, ALARM, OK),
    ("- - - - X", INSUFFICIENT_DATA, RETAIN, ALARM, OK),
]


@pytest.mark.parametrize("m, row", [(3, r) for r in THREE_OF_THREE] + [(2, r) for r in TWO_OF_THREE],
                         ids=lambda v: str(v))
def test_cloudwatch_missing_data_tables(m, row):
    pattern, *expected = row
    for treat, want in zip(("missing", "ignore", "breaching", "notBreaching"), expected, strict=True):
        for previous in (OK, ALARM):
            got = state(pattern, treat, m, previous)
            assert got == (previous if want == RETAIN else want), (pattern, treat, previous)


def test_the_evaluation_range_is_n_plus_two_complete_periods():
    assert EXTRA_PERIODS == 2
    assert evaluation_range(SPEC, T0 + 0.5) == (T0 - 5, T0)
    spec = replace(SPEC, period=60, evaluation_periods=1)
    assert evaluation_range(spec, T0 + 59.9) == (T0 - 180, T0)
    assert evaluation_range(spec, T0 + 60) == (T0 - 120, T0 + 60)


def test_periods_are_aligned_to_the_epoch_and_aggregated():
    spec = replace(SPEC, period=10, evaluation_periods=1)
    samples = [(T0 - 30, 1.0), (T0 - 21, 2.0), (T0 - 20, 4.0), (T0 - 11, 8.0), (T0 - 1, 16.0),
               (T0 + 1, 1000.0)]  # the last one is in the current, incomplete period
    assert periods(spec, samples, now=T0 + 9.99) == [(T0 - 30, 3.0), (T0 - 20, 12.0), (T0 - 10, 16.0)]


@pytest.mark.parametrize("statistic, expected", [
    ("Sum", 12.0), ("Average", 3.0), ("Minimum", 0.0), ("Maximum", 7.0), ("SampleCount", 4.0)])
def test_each_statistic_over_a_period(statistic, expected):
    values = [0.0, 7.0, 4.0, 1.0]
    assert aggregate(statistic, values) == expected
    spec = replace(SPEC, period=10, evaluation_periods=1, datapoints_to_alarm=1, statistic=statistic,
                   threshold=expected)
    samples = [(T0 - 10 + i * 2, v) for i, v in enumerate(values)]
    result = evaluate(spec, samples, now=T0)
    assert result.datapoints[-1] == (T0 - 10, expected)
    assert result.state == ALARM  # value >= threshold
    assert evaluate(replace(spec, threshold=expected + 0.5), samples, now=T0).state == OK


@pytest.mark.parametrize("comparison, below, equal, above", [
    ("GreaterThanOrEqualToThreshold", OK, ALARM, ALARM),
    ("GreaterThanThreshold", OK, OK, ALARM),
    ("LessThanThreshold", ALARM, OK, OK),
    ("LessThanOrEqualToThreshold", ALARM, ALARM, OK),
])
def test_each_comparison_operator(comparison, below, equal, above):
    spec = replace(SPEC, evaluation_periods=1, datapoints_to_alarm=1, comparison=comparison)
    got = [evaluate(spec, [(T0 - 1, v)], now=T0).state for v in (4.0, 5.0, 6.0)]
    assert got == [below, equal, above]


def test_m_out_of_n_need_not_be_consecutive():
    spec = replace(SPEC, evaluation_periods=5, datapoints_to_alarm=2)
    samples = from_pattern("X 0 0 X 0")
    result = evaluate(spec, samples, now=T0)
    assert (result.state, result.breaching) == (ALARM, 2)
    assert evaluate(spec, from_pattern("0 0 0 X 0"), now=T0).state == OK
    # only the latest N count: the breaching datapoint 6 periods ago is out of the window
    assert evaluate(spec, from_pattern("X 0 0 0 X 0"), now=T0).state == OK


def test_only_the_latest_n_real_datapoints_are_judged_when_there_are_enough():
    # 4 real datapoints in the range of 5: the oldest (breaching) one is not judged
    spec = replace(SPEC, datapoints_to_alarm=1)
    assert evaluate(spec, from_pattern("X 0 - 0 0"), now=T0).state == OK


def test_a_period_that_has_not_ended_is_not_evaluated():
    spec = replace(SPEC, evaluation_periods=1, datapoints_to_alarm=1, period=10,
                   treat_missing_data="notBreaching")
    samples = [(T0 - 10, 0.0), (T0, 50.0), (T0 + 9, 50.0)]  # the breach is in [T0, T0 + 10)
    assert evaluate(spec, samples, now=T0 + 9.9).state == OK
    assert evaluate(spec, samples, now=T0 + 10).state == ALARM


def test_samples_before_since_do_not_exist():
    spec = replace(SPEC, evaluation_periods=1, datapoints_to_alarm=1)
    old_breach = [(T0 - 3, 9.0), (T0 - 2, 9.0)]  # this target group's previous life
    assert evaluate(spec, old_breach, now=T0).state == ALARM
    result = evaluate(spec, old_breach, now=T0, since=T0 - 1, subject="target group prod-orders-2")
    assert result.state == INSUFFICIENT_DATA
    assert "since 14/11/23 22:12:59 (the deployment's start)" in result.reason
    # a sample in the deployment's first second counts; one of the second before does not
    assert evaluate(spec, [(T0 - 1, 9.0)], now=T0, since=T0 - 1).state == ALARM
    assert evaluate(spec, [(T0 - 2, 9.0)], now=T0, since=T0 - 1.5).state == INSUFFICIENT_DATA


def test_since_in_the_middle_of_a_period_keeps_only_the_later_samples():
    spec = replace(SPEC, period=10, evaluation_periods=1, datapoints_to_alarm=1)
    samples = [(T0 - 10, 4.0), (T0 - 5, 2.0), (T0 - 2, 2.0)]
    assert evaluate(spec, samples, now=T0).datapoints[-1] == (T0 - 10, 8.0)
    result = evaluate(spec, samples, now=T0, since=T0 - 5)
    assert (result.datapoints[-1], result.state) == ((T0 - 10, 4.0), OK)


def test_the_alarm_reason_reads_like_cloudwatch():
    spec = replace(SPEC, datapoints_to_alarm=2)
    samples = [(T0 - 3, 7.0), (T0 - 2, 1.0), (T0 - 1, 5.0)]
    result = evaluate(spec, samples, now=T0 + 0.3)
    assert result.state == ALARM
    assert result.reason == (
        "Threshold Crossed: 2 out of the last 3 datapoints [5.0 (14/11/23 22:12:59), "
        "1.0 (14/11/23 22:12:58), 7.0 (14/11/23 22:12:57)] were greater than or equal to the "
        "threshold (5.0) (minimum 2 datapoints for OK -> ALARM transition).")
    assert result.datapoints == [(T0 - 3, 7.0), (T0 - 2, 1.0), (T0 - 1, 5.0)]
    assert result.window == (T0 - 3, T0)
    assert result.range_datapoints == [(T0 - 5, None), (T0 - 4, None)] + result.datapoints


def test_the_ok_reason_and_a_single_datapoint():
    spec = replace(SPEC, evaluation_periods=1, datapoints_to_alarm=1, comparison="GreaterThanThreshold")
    result = evaluate(spec, [(T0 - 1, 2.0)], now=T0)
    assert result.reason == ("Threshold Crossed: 1 datapoint [2.0 (14/11/23 22:12:59)] was not "
                             "greater than the threshold (5.0) (minimum 1 datapoint for ALARM -> "
                             "OK transition).")
    breach = evaluate(spec, [(T0 - 1, 6.0)], now=T0)
    assert breach.reason == ("Threshold Crossed: 1 datapoint [6.0 (14/11/23 22:12:59)] was greater "
                             "than the threshold (5.0) (minimum 1 datapoint for OK -> ALARM "
                             "transition).")


def test_filled_datapoints_are_said_in_the_reason():
    spec = replace(SPEC, treat_missing_data="breaching")
    result = evaluate(spec, from_pattern("- - - - X"), now=T0)
    assert (result.state, result.breaching) == (ALARM, 3)
    assert "(+2 missing datapoints treated as breaching)" in result.reason


def test_insufficient_data_says_the_target_group_had_no_requests():
    result = evaluate(SPEC, [], now=T0, subject="target group production-orders-2")
    assert result.state == INSUFFICIENT_DATA
    assert result.reason == (
        "Insufficient Data: target group production-orders-2 received no requests between "
        "14/11/23 22:12:55 and 14/11/23 22:13:00 (no HTTPCode_Target_5XX_Count datapoints).")
    hosts = replace(SPEC, metric="HealthyHostCount", comparison="LessThanThreshold")
    assert "is the load balancer of the watched target group running?" in evaluate(hosts, [], now=T0).reason
    recent = evaluate(SPEC, from_pattern("- - - - X"), now=T0)
    assert recent.reason.startswith("Insufficient Data: only 1 datapoint [9.0 (14/11/23 22:12:59)]")


def test_ignore_keeps_the_previous_state_and_says_so():
    spec = replace(SPEC, treat_missing_data="ignore")
    result = evaluate(spec, [], now=T0, previous=ALARM)
    assert result.state == ALARM
    assert result.reason.startswith("ALARM kept (treatMissingData=ignore): no datapoints")


def test_has_traffic():
    samples = [(T0 - 5, 0.0), (T0 - 3, 2.0)]
    assert has_traffic(samples, T0 - 3, T0)
    assert not has_traffic(samples, T0 - 2, T0)
    assert not has_traffic(samples, T0 - 5, T0 - 3)  # a zero is no traffic; the end is excluded
    assert not has_traffic([], T0 - 10, T0)


@pytest.mark.parametrize("change, message", [
    ({"period": 0}, "period must be a whole number"),
    ({"datapoints_to_alarm": 4}, "datapoints_to_alarm must be between 1 and evaluation_periods (3)"),
    ({"statistic": "p99"}, "unknown statistic 'p99'"),
    ({"comparison": "Equal"}, "unknown comparison operator 'Equal'"),
    ({"treat_missing_data": "zero"}, "unknown treatMissingData 'zero'"),
])
def test_an_invalid_alarm_is_refused(change, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        evaluate(replace(SPEC, **change), [], now=T0)


def test_missing_a_lone_breach_counts_once_it_is_m_periods_old():
    """Knowledge center "cloudwatch-alarm-single-data-point": with only breaching datapoints
    and missing ones, ALARM once the oldest breaching one is at least M periods old."""
    assert state("- - X - -", "missing") == ALARM
    assert state("- - - X -", "missing") == INSUFFICIENT_DATA
    assert state("- X - X -", "missing") == ALARM
    assert state("- - - X X", "missing") == INSUFFICIENT_DATA
    assert state("- - - X X", "missing", m=2) == ALARM  # 2 real breaching datapoints: M reached
    spec = replace(SPEC, treat_missing_data="missing")
    result = evaluate(spec, from_pattern("X - - - -"), now=T0)
    assert result.reason == (
        "Threshold Crossed: 1 datapoint [9.0 (14/11/23 22:12:55)] was greater than or equal to "
        "the threshold (5.0), the oldest 5 periods ago with only breaching or missing datapoints "
        "since (treatMissingData=missing: that counts as the minimum 3 datapoints for OK -> "
        "ALARM transition).")
