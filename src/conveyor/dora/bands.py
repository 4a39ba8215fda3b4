"""The DORA performance bands, from the 2021 Accelerate State of DevOps report (DORA, Google
Cloud), the last report that gives every metric four bands:

    metric                 elite               high                 medium                low
    deployment frequency   on demand           once per week to     once per month to     fewer than once
                           (several a day)     once per month       once per six months   per six months
    lead time for changes  under one hour      one day to one week  one month to six      more than six months
                                                                    months
    time to restore        under one hour      under one day        one day to one week   more than six months
    change failure rate    0-15%               16-30%               16-30%                16-30%

The table has gaps (a lead time between one hour and one day, between one week and one month)
and overlaps (16-30% is every band but elite). Conveyor reads it as contiguous cut-offs: a value
in a gap goes to the lower band next to it, a change failure rate of 16-30% is high (the best band
the published range belongs to) and above 30% low (outside every published range). "On demand"
is read as at least one deployment a day on average.

    >>> frequency_band(1.0), frequency_band(1 / 7), frequency_band(1 / 60), frequency_band(0.0)
    ('elite', 'high', 'medium', 'low')
    >>> lead_time_band(3599.0), lead_time_band(3600.0), lead_time_band(8 * 86400.0)
    ('elite', 'high', 'medium')
    >>> failure_rate_band(0.15), failure_rate_band(0.2), failure_rate_band(0.31)
    ('elite', 'high', 'low')
    >>> overall(["elite", "medium", None, "high"])
    'medium'
"""

from __future__ import annotations

from collections.abc import Iterable

SOURCE = "DORA, 2021 Accelerate State of DevOps report (Conveyor's contiguous reading, docs/dora.md)"
BANDS = ("elite", "high", "medium", "low")

HOUR = 3600.0
DAY = 24 * HOUR
WEEK = 7 * DAY
MONTH = 30 * DAY
SIX_MONTHS = 182.5 * DAY


def frequency_band(per_day: float) -> str:
    if per_day >= 1.0:
        return "elite"
    if per_day >= DAY / MONTH:       # at least once a month (the high band's slowest)
        return "high"
    if per_day >= DAY / SIX_MONTHS:  # at least once every six months
        return "medium"
    return "low"


def lead_time_band(median_seconds: float | None) -> str | None:
    if median_seconds is None:
        return None
    if median_seconds < HOUR:
        return "elite"
    if median_seconds <= WEEK:
        return "high"
    if median_seconds <= SIX_MONTHS:
        return "medium"
    return "low"


def restore_band(median_seconds: float | None) -> str | None:
    if median_seconds is None:
        return None
    if median_seconds < HOUR:
        return "elite"
    if median_seconds < DAY:
        return "high"
    if median_seconds <= WEEK:
        return "medium"
    return "low"


def failure_rate_band(rate: float | None) -> str | None:
    if rate is None:
        return None
    if rate <= 0.15:
        return "elite"
    if rate <= 0.30:
        return "high"
    return "low"


def overall(bands: Iterable[str | None]) -> str | None:
    """The lowest band among the metrics that have one (a team is as fast as its slowest key)."""
    known = [b for b in bands if b is not None]
    return max(known, key=BANDS.index) if known else None
