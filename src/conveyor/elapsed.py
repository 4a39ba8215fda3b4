"""Elapsed time since a stored wall-clock instant, that a step of the wall clock cannot change.

Timeouts and waits (an action's timeoutInMinutes, a canary's interval, a termination wait) start
at instants stored as wall-clock time, because only the wall clock survives a daemon restart.
Measured as `time.time() - started`, an NTP step or a manual `date -s` moves them: forward 30 min
and a build with a 20-min timeout fails at once (bench/chaos.py faults, clock-jump); back 1 h and
a 3-s canary waits an hour. So the wall-clock difference is taken once, the first time an instant
is looked at (it may span a restart: nothing else does), and from then on the time is counted
on the monotonic clock, which steps do not move.

    >>> wall, mono = [1000.0], [50.0]
    >>> elapsed = Elapsed(clock=lambda: wall[0], monotonic=lambda: mono[0])
    >>> elapsed.since(990.0)                     # first look: 10 s by the wall clock
    10.0
    >>> wall[0] += 3600; mono[0] += 2            # the wall clock jumps 1 h; 2 s really pass
    >>> elapsed.since(990.0)
    12.0

With a fake clock and no monotonic one (tests), the fake clock is both.
"""

from __future__ import annotations

import time
from collections.abc import Callable

MAX_REMEMBERED = 10_000  # instants looked at; the oldest are forgotten beyond this


class Elapsed:
    def __init__(self, clock: Callable[[], float] = time.time, monotonic: Callable[[], float] | None = None) -> None:
        self.clock = clock
        # A fake wall clock (tests) drives everything; the real one is paired with time.monotonic.
        self.monotonic = monotonic if monotonic is not None else (time.monotonic if clock is time.time else clock)
        self._anchors: dict[float, tuple[float, float]] = {}  # instant -> (monotonic then, elapsed then)

    def since(self, instant: float) -> float:
        """Seconds since `instant` (a wall-clock time, e.g. a stored started_at)."""
        anchor = self._anchors.get(instant)
        if anchor is None:
            if len(self._anchors) >= MAX_REMEMBERED:
                del self._anchors[next(iter(self._anchors))]
            anchor = self._anchors[instant] = (self.monotonic(), self.clock() - instant)
        return anchor[1] + (self.monotonic() - anchor[0])
