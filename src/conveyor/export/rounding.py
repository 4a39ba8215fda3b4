"""What AWS takes where conveyor.yml may say less: whole minutes for CodeDeploy and ECS
durations, whole seconds and ALB's ranges for health checks, CloudWatch's periods. Values are
rounded *up* (a wait is never shortened, a check never made stricter); the caller notes each
change. Pure.

    >>> whole_minutes(3), whole_minutes(90), whole_minutes(300)
    (1, 2, 5)
    >>> alarm_period(1), alarm_period(60), alarm_period(61)
    (60, 60, 120)
    >>> alb_health_check(2, 1)
    (5, 2)
"""

from __future__ import annotations

import math

#: ALB target group health check ranges (aws-semantics §7.1): interval 5-300 s, timeout 2-120 s
#: and less than the interval.
ALB_INTERVAL = (5, 300)
ALB_TIMEOUT = (2, 120)
#: ALB publishes its metrics to CloudWatch once a minute (aws-semantics §8): CloudWatch takes 10,
#: 20 and 30 s periods only for high-resolution metrics, so an ALB alarm's period is a multiple of 60.
ALB_METRIC_RESOLUTION = 60
#: CloudWatch: period x evaluationPeriods at most one day under an hour's period, else a week.
MAX_WINDOW_SHORT_PERIOD = 86400
MAX_WINDOW = 604800
_EPSILON = 1e-9


def whole_minutes(seconds: float, minimum: int = 0) -> int:
    """Seconds as the whole minutes CodeDeploy and ECS take, rounded up."""
    return max(minimum, math.ceil(seconds / 60 - _EPSILON))


def whole_seconds(seconds: float) -> int:
    return math.ceil(seconds - _EPSILON)


def alarm_period(seconds: float) -> int:
    """A CloudWatch period for an ALB metric: a multiple of 60 s, at least the one asked for."""
    return max(1, math.ceil(seconds / ALB_METRIC_RESOLUTION - _EPSILON)) * ALB_METRIC_RESOLUTION


def max_evaluation_periods(period: int) -> int:
    """The most evaluation periods CloudWatch allows with this period.

    >>> max_evaluation_periods(60), max_evaluation_periods(3600)
    (1440, 168)
    """
    return (MAX_WINDOW_SHORT_PERIOD if period < 3600 else MAX_WINDOW) // period


def alb_health_check(interval: float, timeout: float) -> tuple[int, int]:
    """(interval, timeout) in ALB's ranges: whole seconds, rounded up into range, and the
    interval raised above the timeout when rounding made them meet."""
    lo, hi = ALB_TIMEOUT
    t = min(hi, max(lo, whole_seconds(timeout)))
    lo, hi = ALB_INTERVAL
    i = min(hi, max(lo, whole_seconds(interval), t + 1))
    return i, t
