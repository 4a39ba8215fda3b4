"""Elapsed: time since a stored wall-clock instant, counted on the monotonic clock once seen."""

from __future__ import annotations

import time

from conveyor.elapsed import MAX_REMEMBERED, Elapsed


class Clocks:
    def __init__(self) -> None:
        self.wall, self.mono = 1_000_000.0, 500.0

    def tick(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


def test_a_wall_clock_step_forward_or_back_does_not_move_elapsed_time():
    c = Clocks()
    elapsed = Elapsed(clock=lambda: c.wall, monotonic=lambda: c.mono)
    started = c.wall - 30                       # stored 30 s ago (before a restart, say)
    assert elapsed.since(started) == 30
    c.wall += 1800                              # NTP steps the clock 30 min forward
    c.tick(5)
    assert elapsed.since(started) == 35
    c.wall -= 7200                              # ... and 2 h back
    c.tick(5)
    assert elapsed.since(started) == 40


def test_each_instant_is_anchored_when_first_looked_at():
    c = Clocks()
    elapsed = Elapsed(clock=lambda: c.wall, monotonic=lambda: c.mono)
    a = c.wall
    c.tick(10)
    c.wall += 3600                              # a step before b is first looked at counts for b
    b = c.wall - 5
    assert elapsed.since(a) == 3610 and elapsed.since(b) == 5
    c.tick(1)
    assert elapsed.since(a) == 3611 and elapsed.since(b) == 6


def test_a_fake_wall_clock_alone_drives_it_and_old_instants_are_forgotten():
    now = [100.0]
    elapsed = Elapsed(clock=lambda: now[0])
    assert elapsed.monotonic() == 100.0         # tests with a fake clock: it is both clocks
    assert elapsed.since(40.0) == 60
    now[0] += 3600
    assert elapsed.since(40.0) == 3660
    for i in range(MAX_REMEMBERED + 1):
        elapsed.since(float(-i))
    assert len(elapsed._anchors) == MAX_REMEMBERED and 40.0 not in elapsed._anchors


def test_the_real_clock_is_paired_with_the_monotonic_clock():
    assert Elapsed().monotonic is time.monotonic
