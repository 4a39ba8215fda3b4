"""The arithmetic of an ECS rolling update (aws-semantics §4.3). Pure: the reconciler counts
tasks, these functions say what it may do next.

    >>> step(Counts(desired=4, new_active=0, new_healthy=0, old_active=4, old_healthy=4),
    ...      bounds(4, 50, 200))
    Step(start=4, stop=2, reason='')
"""

from __future__ import annotations

from dataclasses import dataclass

from conveyor.config.ecs_deployment import Bounds, bounds  # noqa: F401 (the arithmetic's input)

#: ECS's event when neither bound lets it move (service-event-messages).
STUCK = ("unable to start or stop tasks: minimumHealthyPercent {min}% and maximumPercent {max}% "
         "allow no task to be started or stopped")


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
    >>> step(Counts(desired=2, new_active=0, new_healthy=0, old_active=2, old_healthy=2),
    ...      bounds(2, 100, 100)).reason != ''
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


def restart_delay(consecutive_failures: int, *, base: float = 1.0, cap: float = 30.0) -> float:
    """Back-off before starting a task again after `consecutive_failures` failed ones in a row
    (a crash loop must not spin): 0, 1, 2, 4, 8 … seconds, at most `cap`.

    >>> [restart_delay(n) for n in range(7)]
    [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    >>> restart_delay(5000)  # a crash loop of hours: still the cap, not an OverflowError
    30.0
    """
    if consecutive_failures <= 0:
        return 0.0
    # Doubling in floats, with the exponent bounded: 2.0 ** 1024 (and a float times 2 ** 1024)
    # overflows, and long before that the cap has taken over.
    return min(cap, base * 2.0 ** min(consecutive_failures - 1, 1023))
