"""How long the daemon's control loops take per pass: the reconcilers record each pass and
`GET /api/v1/daemon` shows the distribution (bench/scale.py reads it). Kept in memory only: a
restarted daemon starts counting again.

    >>> timer = PassTimer()
    >>> for seconds in (0.001, 0.002, 0.003, 0.010):
    ...     timer.record(seconds)
    >>> s = timer.summary()
    >>> s["passes"], s["p50"], s["max"]
    (4, 0.002, 0.01)
"""

from __future__ import annotations

import threading
from collections import deque

#: Passes kept for the percentiles (the busy loops pass 4 times a second: about 8 minutes).
KEPT = 2048


class PassTimer:
    def __init__(self, kept: int = KEPT):
        self._times: deque[float] = deque(maxlen=kept)
        self._count = 0
        self._lock = threading.Lock()

    def record(self, seconds: float) -> None:
        with self._lock:
            self._times.append(seconds)
            self._count += 1

    def summary(self) -> dict:
        """Passes so far and the p50/p95/max of the kept ones, in seconds."""
        with self._lock:
            times = sorted(self._times)
            count = self._count
        if not times:
            return {"passes": count, "p50": None, "p95": None, "max": None, "last": None}
        return {"passes": count, "p50": _quantile(times, 0.50), "p95": _quantile(times, 0.95), "max": times[-1],
                "last": self._times[-1] if self._times else None}


def _quantile(ordered: list[float], q: float) -> float:
    """The nearest-rank quantile of an ordered, non-empty list."""
    rank = max(1, -(-len(ordered) * q // 1))
    return ordered[int(rank) - 1]
