"""Rolling-update arithmetic and the circuit breaker threshold, as tables (aws-semantics §4.3, §4.4)."""

import pytest

from conveyor.config.ecs_deployment import bounds, circuit_breaker_threshold
from conveyor.deploy.rolling import Counts, restart_delay, step


@pytest.mark.parametrize("desired,minimum,maximum,min_healthy,max_total", [
    (4, 50, 200, 2, 8),     # the guide's example: start 4 new and stop 2 old at once
    (2, 75, 200, 2, 4),     # ceil(1.5) = 2: cannot stop first, must start first
    (3, 100, 125, 3, 3),    # floor(3.75) = 3: cannot start extra
    (3, 50, 125, 2, 3),
    (1, 100, 200, 1, 2),
    (10, 90, 110, 9, 11),
    (0, 100, 200, 0, 0),
    (5, 0, 100, 0, 5),
    (6, 33, 150, 2, 9),     # ceil(1.98) = 2
])
def test_bounds(desired, minimum, maximum, min_healthy, max_total):
    b = bounds(desired, minimum, maximum)
    assert (b.min_healthy, b.max_total) == (min_healthy, max_total)


@pytest.mark.parametrize("desired,minimum,maximum,state,expected", [
    # state: (new_active, new_healthy, old_active, old_healthy, stopping) -> (start, stop)
    (4, 50, 200, (0, 0, 4, 4, 0), (4, 2)),
    (2, 100, 200, (0, 0, 2, 2, 0), (2, 0)),          # the default: surge first
    (2, 100, 200, (2, 0, 2, 2, 0), (0, 0)),          # wait for the new tasks to be healthy
    (2, 100, 200, (2, 1, 2, 2, 0), (0, 1)),          # one new healthy: one old may go
    (2, 100, 200, (2, 2, 2, 2, 0), (0, 2)),
    (2, 100, 200, (2, 2, 0, 0, 2), (0, 0)),          # done; old ones draining
    (3, 50, 125, (0, 0, 3, 3, 0), (0, 1)),           # no room to surge: stop first
    (3, 50, 125, (0, 0, 2, 2, 1), (0, 0)),           # the stopped one still counts until gone
    (3, 50, 125, (0, 0, 2, 2, 0), (1, 0)),
    (2, 75, 200, (0, 0, 2, 2, 0), (2, 0)),
    (2, 100, 200, (0, 0, 2, 0, 0), (2, 2)),          # unhealthy old tasks serve nothing: stop them
    (2, 100, 200, (1, 1, 0, 0, 0), (1, 0)),          # a crashed task is replaced
    (1, 100, 200, (3, 3, 0, 0, 0), (0, 2)),          # scale-in: the surplus goes
    (1, 100, 200, (3, 1, 0, 0, 0), (0, 2)),          # scale-in: unhealthy surplus first
    (0, 100, 200, (2, 2, 0, 0, 0), (0, 2)),          # scaled to zero
])
def test_step(desired, minimum, maximum, state, expected):
    new_active, new_healthy, old_active, old_healthy, stopping = state
    s = step(Counts(desired, new_active, new_healthy, old_active, old_healthy, stopping),
             bounds(desired, minimum, maximum))
    assert (s.start, s.stop) == expected
    assert s.reason == ""


def test_min_100_max_100_is_stuck_and_says_so():
    s = step(Counts(2, 0, 0, 2, 2), bounds(2, 100, 100))
    assert (s.start, s.stop) == (0, 0)
    assert "unable to start or stop tasks" in s.reason


def test_not_stuck_while_new_tasks_settle():
    assert step(Counts(2, 2, 0, 2, 2), bounds(2, 100, 200)).reason == ""


@pytest.mark.parametrize("desired,expected", [
    (1, 3), (2, 3), (5, 3), (6, 3), (7, 4), (10, 5), (25, 13), (399, 200), (400, 200), (500, 200),
])
def test_circuit_breaker_bounded_percent(desired, expected):
    assert circuit_breaker_threshold(desired) == expected


@pytest.mark.parametrize("kind,value,desired,expected", [
    ("COUNT", 2, 10, 2), ("COUNT", 7, 1, 7), ("UNBOUNDED_PERCENT", 50, 1, 1),
    ("UNBOUNDED_PERCENT", 50, 1000, 500), ("BOUNDED_PERCENT", 20, 10, 3), ("BOUNDED_PERCENT", 100, 10, 10),
])
def test_circuit_breaker_threshold_types(kind, value, desired, expected):
    assert circuit_breaker_threshold(desired, kind, value) == expected


def test_restart_backoff_grows_and_is_capped():
    delays = [restart_delay(n) for n in range(10)]
    assert delays[0] == 0 and delays[1] == 1
    assert all(a <= b for a, b in zip(delays, delays[1:], strict=False))
    assert max(delays) == 30
