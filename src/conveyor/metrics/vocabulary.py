"""CloudWatch's vocabulary as Conveyor uses it (aws-semantics §8): alarm states, statistics,
comparison operators, treatMissingData, the ALB metric names the local sampler records, and an
alarm's definition. Pure data, imported by conveyor.yml's validation (conveyor.config) and by the
alarm evaluation (conveyor.metrics.evaluate)."""

from __future__ import annotations

from dataclasses import dataclass

#: CloudWatch alarm vocabulary (aws-semantics §8).
OK, ALARM, INSUFFICIENT_DATA = "OK", "ALARM", "INSUFFICIENT_DATA"
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
COMPARISONS = ("GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold",
               "LessThanOrEqualToThreshold")
MISSING_DATA = ("missing", "notBreaching", "breaching", "ignore")
#: The metrics the sampler records (ALB's names, AWS/ApplicationELB), per target group unless
#: noted. Count metrics get a datapoint only in a second with at least one request (as on ALB:
#: "published only when there is traffic"), but then 0 is published too, unlike ALB; so "no
#: datapoint" always means "no traffic".
METRICS = ("RequestCount", "HTTPCode_Target_2XX_Count", "HTTPCode_Target_3XX_Count", "HTTPCode_Target_4XX_Count",
           "HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count", "TargetConnectionErrorCount",
           "TargetResponseTime", "HealthyHostCount", "UnHealthyHostCount")
#: What an alarm watches: the target group of the replacement (green) task set, of the original
#: (blue) one, or a listener of the service.
SCOPES = ("green", "blue", "production", "test")


@dataclass(frozen=True)
class AlarmSpec:
    name: str
    metric: str  # one of METRICS
    scope: str = "green"  # one of SCOPES
    statistic: str = "Sum"
    period: int = 60  # seconds; locally any whole number ≥ 1
    evaluation_periods: int = 1
    datapoints_to_alarm: int = 1  # M of N; defaults to evaluation_periods
    threshold: float = 0.0
    comparison: str = "GreaterThanOrEqualToThreshold"
    treat_missing_data: str = "missing"
