"""The arithmetic of an ECS rolling update and of its deployment circuit breaker (aws-semantics
§4.3, §4.4). Pure: the reconciler counts tasks, these functions say what it may do next.

    >>> bounds(4, 50, 200)
    Bounds(min_healthy=2, max_total=8)
    >>> step(Counts(desired=4, new_active=0, new_healthy=0, old_active=4, old_healthy=4),
    ...      bounds(4, 50, 200))
    Step(start=4, stop=2, reason='')
    >>> circuit_breaker_threshold(4)
    3
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: ECS's defaults for REPLICA services.
DEFAULT_MINIMUM_HEALTHY_PERCENT = 100
DEFAULT_MAXIMUM_PERCENT = 200
#: BOUNDED_PERCENT's clamp (current API reference; the 2023 guide said 10).
CIRCUIT_BREAKER_MIN = 3
CIRCUIT_BREAKER_MAX = 200
CIRCUIT_BREAKER_PERCENT = 50

#: ECS's event when neither bound lets it move (service-event-messages).
STUCK = ("unable to start or stop tasks: minimumHealthyPercent {min}% and maximumPercent {max}% "
         "allow no task to be started or stopped")


@dataclass(frozen=True)
class Bounds:
    min_healthy: int  # healthy tasks that must remain: ceil(desired × min% / 100)
    max_total: int    # tasks that may exist at once: floor(desired × max% / 100)


def bounds(desired: int, minimum_healthy_percent: int = DEFAULT_MINIMUM_HEALTHY_PERCENT,
           maximum_percent: int = DEFAULT_MAXIMUM_PERCENT) -> Bounds:
    """
    >>> bounds(2, 75, 200)
    Bounds(min_healthy=2, max_total=4)
    >>> bounds(3, 100, 125)
    Bounds(min_healthy=3, max_total=3)
    """
    return Bounds(math.ceil(desired * minimum_healthy_percent / 100 - 1e-9),
                  math.floor(desired * maximum_percent / 100 + 1e-9))


@dataclass(frozen=True)
class Counts:
    """Tasks of a service during a deployment. "new" is the PRIMARY deployment; "old" all others.
    Active tasks are starting or running and not being stopped; healthy ones passed their checks."""

    desired: int
    new_active: int
    new_healthy: int
    old_active: int
    old_healthy: int
    stopping: int = 0  # draining or stopping: still running, still counted against maximumPercent


@dataclass(frozen=True)
class Step:
    start: int       # new tasks to start now
    stop: int        # old (or surplus new) tasks to stop now, unhealthy ones first
    reason: str = ""  # set when the deployment cannot move at all


def step(counts: Counts, limits: Bounds) -> Step:
    """The next move of a rolling update: start new tasks while the total stays within
    maximumPercent, stop old ones while the healthy count stays at or above
    minimumHealthyPercent. Called again after every change, until PRIMARY has `desired`
    healthy tasks and no old task is left.

    Unhealthy old tasks serve nothing, so stopping them never lowers the healthy count.

    >>> step(Counts(desired=2, new_active=0, new_healthy=0, old_active=2, old_healthy=2), bounds(2, 75, 200))
    Step(start=2, stop=0, reason='')
    >>> step(Counts(desired=3, new_active=0, new_healthy=0, old_active=3, old_healthy=3), bounds(3, 50, 125))
    Step(start=0, stop=1, reason='')
    >>> step(Counts(desired=2, new_active=0, new_healthy=0, old_active=2, old_healthy=2), bounds(2, 100, 100)).reason != ''
    True
    """
    c, b = counts, limits
    total = c.new_active + c.old_active + c.stopping
    start = max(0, min(c.desired - c.new_active, b.max_total - total))
    surplus = max(0, c.new_active - c.desired)  # after a scale-in
    surplus_unhealthy = min(surplus, c.new_active - c.new_healthy)
    room = max(0, c.new_healthy + c.old_healthy - b.min_healthy)
    healthy_stops = min(c.old_healthy + surplus - surplus_unhealthy, room)
    stop = (c.old_active - c.old_healthy) + surplus_unhealthy + healthy_stops
    settling = c.stopping or c.new_active > c.new_healthy
    reason = STUCK if not (start or stop or settling) and c.old_active else ""
    return Step(start, stop, reason)


def circuit_breaker_threshold(desired: int, kind: str = "BOUNDED_PERCENT",
                              value: float = CIRCUIT_BREAKER_PERCENT) -> int:
    """Failed tasks that trip the breaker (aws-semantics §4.4): BOUNDED_PERCENT is
    ceil(value% × desired) clamped to [3, 200]; UNBOUNDED_PERCENT the same without the clamp
    (at least 1); COUNT the value itself.

    >>> [circuit_breaker_threshold(d) for d in (1, 6, 7, 10, 400, 1000)]
    [3, 3, 4, 5, 200, 200]
    >>> circuit_breaker_threshold(10, "COUNT", 2), circuit_breaker_threshold(1, "UNBOUNDED_PERCENT", 50)
    (2, 1)
    """
    if kind == "COUNT":
        return max(1, int(value))
    raw = math.ceil(desired * value / 100 - 1e-9)
    if kind == "UNBOUNDED_PERCENT":
        return max(1, raw)
    return min(CIRCUIT_BREAKER_MAX, max(CIRCUIT_BREAKER_MIN, raw))


def restart_delay(consecutive_failures: int, *, base: float = 1.0, cap: float = 30.0) -> float:
    """Back-off before starting a task again after `consecutive_failures` failed ones in a row
    (a crash loop must not spin): 0, 1, 2, 4, 8 … seconds, at most `cap`.

    >>> [restart_delay(n) for n in range(7)]
    [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    """
    if consecutive_failures <= 0:
        return 0.0
    return min(cap, base * 2 ** (consecutive_failures - 1))
