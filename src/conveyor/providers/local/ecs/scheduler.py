"""What the parts of the service scheduler share while the daemon runs: one lock (a pass, an API
call and a worker's result never interleave), the wake-up of the loop, which services were
steady at the last pass (so "has reached a steady state" is said once per arrival), and each
service's crash-loop back-off. All in memory: a restarted daemon starts with none of it, as
ECS's scheduler would after a failover.

    >>> state = SchedulerState()
    >>> with state.lock:
    ...     backoff = state.record_failure("staging", "orders", now=100.0)
    ...     holding = state.holding_starts("staging", "orders", now=100.5)
    >>> backoff.next_start_at, holding     # one failure: no start before 100 s + 1 s
    (101.0, True)
    >>> state.wake()                       # the loop passes again now
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from conveyor.deploy import rolling

ServiceKey = tuple[str, str]  # (environment, service)


@dataclass
class Backoff:
    """Failed tasks of a service in a row, and when it may start one again."""

    failures: int = 0
    next_start_at: float = 0.0


class SchedulerState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._wake = threading.Event()
        self._steady: dict[ServiceKey, bool] = {}
        self._backoff: dict[ServiceKey, Backoff] = {}

    # -- the loop's wake-up
    def wake(self) -> None:
        self._wake.set()

    def sleep(self, seconds: float) -> None:
        """Until woken, or `seconds`."""
        self._wake.wait(seconds)
        self._wake.clear()

    # -- steady state
    def changed(self, environment: str, service: str) -> None:
        """The service was told to change: its next steady state is news again."""
        self._steady.pop((environment, service), None)

    def observe_steady(self, environment: str, service: str, steady: bool) -> bool:
        """Record this pass's verdict; True when the service has just become steady."""
        key = (environment, service)
        arrived = steady and not self._steady.get(key)
        self._steady[key] = steady
        return arrived

    # -- crash-loop back-off
    def record_failure(self, environment: str, service: str, now: float) -> Backoff:
        backoff = self._backoff.setdefault((environment, service), Backoff())
        backoff.failures += 1
        backoff.next_start_at = now + rolling.restart_delay(backoff.failures)
        return backoff

    def clear_failures(self, environment: str, service: str) -> None:
        """A task became healthy, or a rollback started: start at once again."""
        self._backoff.pop((environment, service), None)

    def holding_starts(self, environment: str, service: str, now: float) -> bool:
        """Whether the service's back-off forbids starting a task now."""
        backoff = self._backoff.get((environment, service))
        return backoff is not None and now < backoff.next_start_at

    def backoff(self, environment: str, service: str) -> Backoff | None:
        return self._backoff.get((environment, service))
