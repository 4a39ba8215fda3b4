"""ECS's deploymentConfiguration as conveyor.yml states it (aws-semantics §4.3, §4.4): the
defaults of minimumHealthyPercent and maximumPercent, the task counts they allow, and the
deployment circuit breaker's threshold. Pure; conveyor.deploy.rolling steps a rolling update
within these bounds.

    >>> bounds(4, 50, 200)
    Bounds(min_healthy=2, max_total=8)
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
