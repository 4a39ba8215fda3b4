"""When to try a failed delivery again: exponential back-off with full jitter (a uniformly random
wait between 0 and base * 2^(n-1), capped), so that many deliveries failing at once against one
receiver do not come back in lock step; and when to give up (after `max_attempts`, or once the
delivery is older than `max_age`), which dead-letters it.

    >>> policy = RetryPolicy(base=2.0, cap=300.0)
    >>> policy.ceiling(1), policy.ceiling(4), policy.ceiling(20)
    (2.0, 16.0, 300.0)
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    base: float = 2.0            # seconds: the ceiling after the first failure
    cap: float = 300.0           # the longest wait between two attempts
    max_attempts: int = 10
    max_age: float = 24 * 3600.0  # seconds since the delivery was created

    def ceiling(self, failures: int) -> float:
        """The longest wait after the `failures`-th failure in a row."""
        return min(self.cap, self.base * 2.0 ** max(0, failures - 1))

    def delay(self, failures: int, rng: random.Random) -> float:
        return rng.uniform(0.0, self.ceiling(failures))

    def gives_up(self, failures: int, age: float) -> bool:
        return failures >= self.max_attempts or age >= self.max_age


DEFAULT_POLICY = RetryPolicy()
