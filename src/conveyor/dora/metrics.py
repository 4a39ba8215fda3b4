"""The four DORA metrics of a set of changes (conveyor.dora.fold) over a window [start, end):
counts, the metrics, a daily series for trends and the performance bands. Pure; docs/dora.md
defines each number.

A change belongs to the window by when it finished (its first outcome); a successful deployment
by when it succeeded. The window is half-open: a deployment that finished exactly at `start` is
in, one at `end` is not. Day slots are the window cut into 24 h pieces from `start`.

    >>> median([3.0, 1.0, 2.0, 10.0]), p90([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    (2.5, 9.0)
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from conveyor.dora import bands
from conveyor.dora.fold import CAUSES, Change

DAY = 86400.0


def median(values: Sequence[float]) -> float | None:
    """The middle value; for an even count, the mean of the two middle ones."""
    return float(statistics.median(values)) if values else None


def p90(values: Sequence[float]) -> float | None:
    """The 90th percentile by nearest rank: the smallest value with at least 90% of the values at
    or below it (of 10 values, the 9th smallest)."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[max(1, math.ceil(0.9 * len(ordered))) - 1])


def compute(changes: Iterable[Change], *, start: float, end: float) -> dict[str, Any]:
    """The metrics of `changes` over [start, end): the JSON object GET /api/v1/dora answers per
    group (docs/dora.md)."""
    days = max(1, round((end - start) / DAY))
    all_changes = list(changes)
    finished = [c for c in all_changes if c.finished_at is not None and start <= c.finished_at < end]
    succeeded = [c for c in all_changes if c.succeeded_at is not None and start <= c.succeeded_at < end]
    failures = [c for c in finished if c.failure is not None]
    leads = [t for c in succeeded if (t := c.lead_time) is not None]
    restores = [t for c in failures if (t := c.time_to_restore) is not None]
    per_day = len(succeeded) / days
    rate = len(failures) / len(finished) if finished else None
    lead_median, restore_median = median(leads), median(restores)
    metric_bands: dict[str, str | None] = {
        "deploymentFrequency": bands.frequency_band(per_day) if finished or succeeded else None,
        "leadTime": bands.lead_time_band(lead_median),
        "changeFailureRate": bands.failure_rate_band(rate),
        "timeToRestore": bands.restore_band(restore_median),
    }
    return {
        "deployments": {"succeeded": len(succeeded), "finished": len(finished), "failed": len(failures)},
        "deploymentFrequency": {"perDay": per_day, "perWeek": per_day * 7},
        "leadTime": {"medianSeconds": lead_median, "p90Seconds": p90(leads), "count": len(leads),
                     "unknown": len(succeeded) - len(leads)},
        "changeFailureRate": {"rate": rate, "failures": len(failures), "deployments": len(finished),
                              "causes": {cause: sum(1 for c in failures if c.failure == cause) for cause in CAUSES}},
        "timeToRestore": {"medianSeconds": restore_median, "restored": len(restores),
                          "unrestored": len(failures) - len(restores),
                          "open": [{"deployment": c.id, "environment": c.environment, "service": c.service,
                                    "since": c.failed_at} for c in failures if c.restored_at is None]},
        "band": {**metric_bands, "overall": bands.overall(metric_bands.values()), "source": bands.SOURCE},
        "daily": _daily(all_changes, start, days),
    }


def _daily(changes: list[Change], start: float, days: int) -> list[dict[str, Any]]:
    out = []
    for i in range(days):
        lo, hi = start + i * DAY, start + (i + 1) * DAY
        ok = [c for c in changes if c.succeeded_at is not None and lo <= c.succeeded_at < hi]
        done = [c for c in changes if c.finished_at is not None and lo <= c.finished_at < hi]
        failed = [c for c in done if c.failure is not None]
        out.append({
            "start": lo,
            "date": datetime.fromtimestamp(lo, timezone.utc).strftime("%Y-%m-%d"),
            "deployments": len(ok),
            "finished": len(done),
            "failures": len(failed),
            "leadTimeSeconds": median([t for c in ok if (t := c.lead_time) is not None]),
            "restoreSeconds": median([t for c in failed if (t := c.time_to_restore) is not None]),
        })
    return out
