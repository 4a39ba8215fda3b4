"""CloudWatch alarm evaluation over 1-second samples (pure: data and a clock value in, a verdict
out). aws-semantics §8; the missing-data rules reproduce the tables of CloudWatch's "How alarm
state is evaluated when data is missing" (AlarmThatSendsEmail / alarms-and-missing-data, both
tables row by row in tests/metrics) and the knowledge-center note on an alarm firing after a
single breaching datapoint ("cloudwatch-alarm-single-data-point") for the `missing` rule.

    >>> from conveyor.metrics.vocabulary import AlarmSpec
    >>> spec = AlarmSpec("5xx", "HTTPCode_Target_5XX_Count", period=10, threshold=5)
    >>> evaluate(spec, [(1000, 3.0), (1004, 4.0)], now=1010.2).state
    'ALARM'

How it works, as CloudWatch does:
- Samples are aggregated into periods aligned to multiples of `period` since the epoch; the
  statistic is taken over the samples of each period. A period with no sample is *missing*.
  Only complete periods count (one that ends after `now` is not looked at yet).
- The *evaluation range* is the latest N + EXTRA_PERIODS complete periods (CloudWatch retrieves
  "a higher number of datapoints than Evaluation Periods": 5 for N = 3 in its tables).
- When the range holds at least N real datapoints, the latest N are judged and treatMissingData
  plays no part. Otherwise the N - k missing ones are filled per treatMissingData (breaching /
  notBreaching), and every real datapoint of the range is part of the judgement.
- ALARM when at least M (datapointsToAlarm) of the N judged datapoints breach, else OK.
- `missing` (the default): no datapoint at all → INSUFFICIENT_DATA. With some: ≥ M breaching →
  ALARM; a non-breaching one present → OK; only breaching ones (fewer than M) → ALARM when the
  oldest of them is at least M periods old (nothing good came after it), else INSUFFICIENT_DATA.
- `ignore`: like `missing`, except that where `missing` needs the missing datapoints to decide
  (INSUFFICIENT_DATA, or the "oldest breaching" rule) the previous state is kept.

Conveyor differences, on purpose:
- `since`: samples before it do not exist (a deployment judges its green target group only on
  what green did since the deployment started, not on what the same target group did when it
  was green or blue in an earlier deployment). Periods before `since` are missing periods, so
  an alarm with treatMissingData=breaching is in ALARM from a deployment's first second until
  enough datapoints arrive (CloudWatch does the same for a metric with no data).
- Counted metrics (RequestCount, HTTPCode_*) get a datapoint in every second that had a request,
  0 included, so "missing" always means "no traffic" and the INSUFFICIENT_DATA reason says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from conveyor.metrics.vocabulary import ALARM, COMPARISONS, INSUFFICIENT_DATA, MISSING_DATA, OK, STATISTICS, AlarmSpec

#: CloudWatch evaluates a range wider than EvaluationPeriods ("retrieves the 5 most recent data
#: points" for N = 3 in the documented tables; the exact width depends on the period).
EXTRA_PERIODS = 2
#: Metrics published every sample whether or not there is traffic (gauges).
GAUGES = ("HealthyHostCount", "UnHealthyHostCount")

_WORDS = {
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "GreaterThanThreshold": "greater than",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}

Point = tuple[int, float | None]
#: A period that has a datapoint.
RealPoint = tuple[int, float]


@dataclass(frozen=True)
class Evaluation:
    """A verdict. `datapoints` are the latest N periods (the evaluation window [start, end)),
    oldest first: (period start, value or None when missing); `range_datapoints` the whole
    evaluation range (N + EXTRA_PERIODS periods). `breaching` counts the breaching datapoints
    among the N judged (filled ones included)."""

    state: str
    reason: str
    datapoints: list[Point] = field(default_factory=list)
    breaching: int = 0
    window: tuple[int, int] = (0, 0)
    range_datapoints: list[Point] = field(default_factory=list)


def evaluation_range(alarm: AlarmSpec, now: float) -> tuple[int, int]:
    """[start, end) of the periods an evaluation at `now` looks at (complete ones only)."""
    end = _period_floor(now, alarm.period)
    return end - (alarm.evaluation_periods + EXTRA_PERIODS) * alarm.period, end


def aggregate(statistic: str, values: list[float]) -> float:
    """A CloudWatch statistic over one period's samples (at least one).

    >>> aggregate("Average", [1.0, 2.0, 6.0]), aggregate("SampleCount", [5.0, 0.0])
    (3.0, 2.0)
    """
    if statistic == "Sum":
        return float(sum(values))
    if statistic == "Average":
        return float(sum(values)) / len(values)
    if statistic == "Minimum":
        return float(min(values))
    if statistic == "Maximum":
        return float(max(values))
    if statistic == "SampleCount":
        return float(len(values))
    raise ValueError(f"unknown statistic {statistic!r} (one of {', '.join(STATISTICS)})")


def breaches(comparison: str, value: float, threshold: float) -> bool:
    """Whether one datapoint breaches.

    >>> breaches("GreaterThanOrEqualToThreshold", 5.0, 5.0), breaches("LessThanThreshold", 5.0, 5.0)
    (True, False)
    """
    if comparison == "GreaterThanOrEqualToThreshold":
        return value >= threshold
    if comparison == "GreaterThanThreshold":
        return value > threshold
    if comparison == "LessThanThreshold":
        return value < threshold
    if comparison == "LessThanOrEqualToThreshold":
        return value <= threshold
    raise ValueError(f"unknown comparison operator {comparison!r} (one of {', '.join(COMPARISONS)})")


def periods(alarm: AlarmSpec, samples: list[tuple[int, float]], now: float, *,
            since: float | None = None) -> list[Point]:
    """The evaluation range as (period start, statistic or None), oldest first."""
    start, end = evaluation_range(alarm, now)
    buckets: dict[int, list[float]] = {}
    for ts, value in samples:
        if start <= ts < end and (since is None or ts >= since):
            buckets.setdefault(ts - (ts - start) % alarm.period, []).append(value)
    return [(p, aggregate(alarm.statistic, buckets[p]) if p in buckets else None)
            for p in range(start, end, alarm.period)]


def has_traffic(samples_requestcount: list[tuple[int, float]], window_start: float,
                window_end: float) -> bool:
    """True if some second in [window_start, window_end) had at least one request.

    >>> has_traffic([(10, 0.0), (12, 3.0)], 10, 12), has_traffic([(12, 3.0)], 10, 13)
    (False, True)
    """
    return any(window_start <= ts < window_end and value > 0 for ts, value in samples_requestcount)


def evaluate(alarm: AlarmSpec, samples: list[tuple[int, float]], now: float, *,
             since: float | None = None, previous: str = INSUFFICIENT_DATA,
             subject: str | None = None) -> Evaluation:
    """The alarm's state at `now` from its metric's 1-second samples [(ts, value)]. `previous`
    is the current state (kept by treatMissingData=ignore); `subject` names what the metric is
    about in reasons ("target group production-orders-2")."""
    _check(alarm)
    n, m = alarm.evaluation_periods, alarm.datapoints_to_alarm
    points = periods(alarm, samples, now, since=since)
    _, end = evaluation_range(alarm, now)
    window = (end - n * alarm.period, end)
    real: list[RealPoint] = [(p, v) for p, v in points if v is not None]
    verdict = _Verdict(alarm, points, window, subject, since)

    if len(real) >= n:
        judged = real[-n:]
        bad = sum(_bad(alarm, v) for _, v in judged)
        return verdict.threshold(judged, bad, filled=0)
    treatment = alarm.treat_missing_data
    if treatment in ("breaching", "notBreaching"):
        bad = sum(_bad(alarm, v) for _, v in real) + (n - len(real) if treatment == "breaching" else 0)
        return verdict.threshold(real, bad, filled=n - len(real))
    # missing / ignore
    if not real:
        if treatment == "ignore":
            return verdict.kept(previous, "no datapoints")
        return verdict.no_data()
    bad = sum(_bad(alarm, v) for _, v in real)
    if bad >= m or bad < len(real):  # enough breaching ones, or a real good one: decided
        return verdict.threshold(real, bad, filled=0)
    oldest = real[0][0]
    age = (end - oldest) // alarm.period  # the newest period is 1 period old
    if treatment == "ignore":
        return verdict.kept(previous, f"only {bad} breaching datapoint{_s(bad)}")
    if age >= m:
        return verdict.lasting(real, age)
    return verdict.too_recent(real)


# --- reasons ---------------------------------------------------------------------------------

class _Verdict:
    """Builds Evaluations with CloudWatch-like reasons."""

    def __init__(self, alarm: AlarmSpec, points: list[Point], window: tuple[int, int],
                 subject: str | None, since: float | None):
        self.alarm, self.points, self.window = alarm, points, window
        self.subject, self.since = subject, since

    def _make(self, state: str, reason: str, bad: int) -> Evaluation:
        window = [(p, v) for p, v in self.points if p >= self.window[0]]
        return Evaluation(state, reason, window, bad, self.window, list(self.points))

    def threshold(self, judged: list[RealPoint], bad: int, *, filled: int) -> Evaluation:
        a = self.alarm
        n = len(judged) + filled
        words = _WORDS[a.comparison]
        listed = _listing(judged)
        extra = (f" (+{filled} missing datapoint{_s(filled)} treated as "
                 f"{'breaching' if a.treat_missing_data == 'breaching' else 'not breaching'})"
                 if filled else "")
        if bad >= a.datapoints_to_alarm:
            head = (f"{bad} out of the last {n} datapoints" if n > 1 else "1 datapoint")
            verb = "were" if n > 1 else "was"
            need = a.datapoints_to_alarm
            return self._make(ALARM, (
                f"Threshold Crossed: {head} {listed}{extra} {verb} {words} the threshold "
                f"({_num(a.threshold)}) (minimum {need} datapoint{_s(need)} for OK -> ALARM "
                f"transition)."), bad)
        good = n - bad
        head = (f"{good} out of the last {n} datapoints" if n > 1 else "1 datapoint")
        verb = "were" if good > 1 or n > 1 else "was"
        need = len(judged) + filled - a.datapoints_to_alarm + 1
        return self._make(OK, (
            f"Threshold Crossed: {head} {listed}{extra} {verb} not {words} the threshold "
            f"({_num(a.threshold)}) (minimum {need} datapoint{_s(need)} for ALARM -> OK "
            f"transition)."), bad)

    def lasting(self, real: list[RealPoint], age: int) -> Evaluation:
        a = self.alarm
        n = len(real)
        return self._make(ALARM, (
            f"Threshold Crossed: {n} datapoint{_s(n)} {_listing(real)} {'were' if n > 1 else 'was'} "
            f"{_WORDS[a.comparison]} the threshold ({_num(a.threshold)}), the oldest {age} periods "
            f"ago with only breaching or missing datapoints since (treatMissingData=missing: "
            f"that counts as the minimum {a.datapoints_to_alarm} datapoints for OK -> ALARM "
            f"transition)."), n)

    def too_recent(self, real: list[RealPoint]) -> Evaluation:
        a = self.alarm
        return self._make(INSUFFICIENT_DATA, (
            f"Insufficient Data: only {len(real)} datapoint{_s(len(real))} {_listing(real)} in "
            f"the last {len(self.points)} periods of {a.period} s, breaching but fewer than the "
            f"{a.datapoints_to_alarm} needed and too recent to count as lasting "
            f"(treatMissingData=missing){self._traffic_note()}."), len(real))

    def no_data(self) -> Evaluation:
        return self._make(INSUFFICIENT_DATA, f"Insufficient Data: {self._silence()}.", 0)

    def kept(self, previous: str, what: str) -> Evaluation:
        return self._make(previous, (
            f"{previous} kept (treatMissingData=ignore): {what} in the last "
            f"{len(self.points)} periods of {self.alarm.period} s{self._traffic_note()}."), 0)

    def _silence(self) -> str:
        a = self.alarm
        start = self.points[0][0] if self.points else self.window[0]
        span = f"between {_when(start)} and {_when(self.window[1])}"
        if self.since is not None and self.since > start:
            span = f"since {_when(self.since)} (the deployment's start) and {_when(self.window[1])}"
        who = self.subject or ("the watched target group" if a.scope in ("green", "blue")
                               else "the watched listener")
        if a.metric in GAUGES:
            return f"no {a.metric} samples {span}: is the load balancer of {who} running?"
        return f"{who} received no requests {span} (no {a.metric} datapoints)"

    def _traffic_note(self) -> str:
        return "" if self.alarm.metric in GAUGES else (
            f"; {self.subject or 'the watched target group'} received requests in "
            f"{sum(v is not None for _, v in self.points)} of them")


def _check(alarm: AlarmSpec) -> None:
    if not isinstance(alarm.period, int) or alarm.period < 1:
        raise ValueError(f"alarm {alarm.name!r}: period must be a whole number of seconds ≥ 1")
    if not 1 <= alarm.datapoints_to_alarm <= alarm.evaluation_periods:
        raise ValueError(f"alarm {alarm.name!r}: datapoints_to_alarm must be between 1 and "
                         f"evaluation_periods ({alarm.evaluation_periods})")
    if alarm.statistic not in STATISTICS:
        aggregate(alarm.statistic, [0.0])
    if alarm.comparison not in COMPARISONS:
        breaches(alarm.comparison, 0.0, 0.0)
    if alarm.treat_missing_data not in MISSING_DATA:
        raise ValueError(f"alarm {alarm.name!r}: unknown treatMissingData "
                         f"{alarm.treat_missing_data!r} (one of {', '.join(MISSING_DATA)})")


def _bad(alarm: AlarmSpec, value: float | None) -> bool:
    return value is not None and breaches(alarm.comparison, value, alarm.threshold)


def _period_floor(now: float, period: int) -> int:
    return math.floor(now / period) * period


def _listing(points: Sequence[Point]) -> str:
    """CloudWatch lists the newest datapoint first: [7.0 (22/11/26 10:00:03), ...]."""
    return "[" + ", ".join(f"{_num(v)} ({_when(p)})" for p, v in reversed(points)
                           if v is not None) + "]"


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%d/%m/%y %H:%M:%S")


def _num(value: float | None) -> str:
    return repr(float(value)) if value is not None else "missing"


def _s(count: int) -> str:
    return "" if count == 1 else "s"
