"""The sampler against a real HAProxy with real targets: requests and status codes counted per
target group and per listener, HAProxy's own 503s, host counts, counter resets, a stopped load
balancer, pruning and the sampling thread."""

from __future__ import annotations

import threading
import time

import pytest
from metrics_support import FAST_CHECK, counted, free_port, free_ports, get, needs_haproxy, wait_for

from conveyor.lb import Listener, TargetGroup
from conveyor.metrics.sampler import PRUNE_INTERVAL, Sampler
from conveyor.metrics.store import Datapoint

BLUE, GREEN = "production-orders-1", "production-orders-2"


def by_scope(points: list[Datapoint]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for p in points:
        out.setdefault(p.scope, {})[p.metric] = p.value
    return out


def sample(sampler: Sampler, lb, now: float) -> list[Datapoint]:
    """sampler.sample_once(now) once HAProxy has counted every request the test has sent."""
    assert wait_for(lambda: counted(lb))
    return sampler.sample_once(now)


def healthy(lb, tg: str, count: int = 1) -> bool:
    return [t.state for t in lb.targets(tg)].count("healthy") == count


@pytest.fixture
def service(lb, apps):
    """Blue answers 200 behind the production listener, green answers 500 behind the test one."""
    prod, test = free_ports(2)
    lb.apply([Listener(prod, BLUE), Listener(test, GREEN)],
             [TargetGroup(BLUE, FAST_CHECK), TargetGroup(GREEN, FAST_CHECK)])
    lb.register(BLUE, "task-1", "127.0.0.1", apps(200).port)
    lb.register(GREEN, "task-2", "127.0.0.1", apps(500).port)
    assert wait_for(lambda: healthy(lb, BLUE) and healthy(lb, GREEN))
    return prod, test


def second() -> float:
    """A `now` in the current second (the sampler labels datapoints int(now) - 1)."""
    return float(int(time.time()))


def later(previous: float) -> float:
    """The real time, but at least in the second after `previous` (host counts judge initial
    checks against the real registration time)."""
    return max(time.time(), float(int(previous) + 1))


@needs_haproxy
def test_requests_and_status_codes_per_target_group_and_listener(lb, service, store):
    prod, test = service
    sampler = Sampler(store, lambda: {"production": lb})
    t = second()
    first = by_scope(sample(sampler, lb, t))
    # the first sample is a baseline: only the host counts, which are always published
    assert first == {f"tg:{BLUE}": {"HealthyHostCount": 1.0, "UnHealthyHostCount": 0.0},
                     f"tg:{GREEN}": {"HealthyHostCount": 1.0, "UnHealthyHostCount": 0.0}}

    assert [get(prod) for _ in range(7)] == [200] * 7
    assert [get(test) for _ in range(4)] == [500] * 4
    points = sample(sampler, lb, t + 1)
    assert {p.ts for p in points} == {int(t)}
    seen = by_scope(points)
    blue, green = seen[f"tg:{BLUE}"], seen[f"tg:{GREEN}"]
    assert blue.pop("TargetResponseTime") >= 0 and green.pop("TargetResponseTime") >= 0
    assert blue == {"RequestCount": 7, "HTTPCode_Target_2XX_Count": 7, "HTTPCode_Target_3XX_Count": 0,
                    "HTTPCode_Target_4XX_Count": 0, "HTTPCode_Target_5XX_Count": 0,
                    "HTTPCode_ELB_5XX_Count": 0, "TargetConnectionErrorCount": 0,
                    "HealthyHostCount": 1, "UnHealthyHostCount": 0}
    assert green == {"RequestCount": 4, "HTTPCode_Target_2XX_Count": 0, "HTTPCode_Target_3XX_Count": 0,
                     "HTTPCode_Target_4XX_Count": 0, "HTTPCode_Target_5XX_Count": 4,
                     "HTTPCode_ELB_5XX_Count": 0, "TargetConnectionErrorCount": 0,
                     "HealthyHostCount": 1, "UnHealthyHostCount": 0}
    assert seen[f"listener:production:{prod}"] == {
        "RequestCount": 7, "HTTPCode_Target_2XX_Count": 7, "HTTPCode_Target_3XX_Count": 0,
        "HTTPCode_Target_4XX_Count": 0, "HTTPCode_Target_5XX_Count": 0, "HTTPCode_ELB_5XX_Count": 0}
    assert seen[f"listener:production:{test}"] == {
        "RequestCount": 4, "HTTPCode_Target_2XX_Count": 0, "HTTPCode_Target_3XX_Count": 0,
        "HTTPCode_Target_4XX_Count": 0, "HTTPCode_Target_5XX_Count": 4, "HTTPCode_ELB_5XX_Count": 0}
    assert store.series(f"tg:{GREEN}", "HTTPCode_Target_5XX_Count", t - 5, t + 5) == [(int(t), 4.0)]

    # a quiet second: host counts only (no datapoint means no traffic)
    assert by_scope(sample(sampler, lb, t + 2)) == first
    # a second sample within the same second is skipped
    assert sample(sampler, lb, t + 2.5) == []
    get(prod)
    again = by_scope(sample(sampler, lb, t + 3))
    assert again[f"tg:{BLUE}"]["RequestCount"] == 1 and f"listener:production:{test}" not in again


@needs_haproxy
def test_haproxy_503s_are_elb_errors_and_unhealthy_targets_are_counted(lb, service, store, apps):
    prod, _ = service
    broken = apps(200)
    lb.register(GREEN, "task-3", "127.0.0.1", broken.port)
    assert wait_for(lambda: healthy(lb, GREEN, 2))
    sampler = Sampler(store, lambda: {"production": lb})
    t = second()
    sample(sampler, lb, t)
    lb.set_weights(prod, {BLUE: 0, GREEN: 1})   # production traffic to green
    lb.deregister(GREEN, "task-2")               # draining: neither healthy nor unhealthy
    broken.status = 503
    broken.stop()                                # task-3 stops answering: checks fail
    assert wait_for(lambda: [t.state for t in lb.targets(GREEN)] == ["draining", "unhealthy"],
                    timeout=5)
    statuses = [get(prod) for _ in range(5)]
    assert statuses == [503] * 5                 # no healthy target: HAProxy answers itself
    seen = by_scope(sample(sampler, lb, later(t)))
    green = seen[f"tg:{GREEN}"]
    assert (green["RequestCount"], green["HTTPCode_ELB_5XX_Count"], green["HTTPCode_Target_5XX_Count"]) \
        == (5, 5, 0)
    assert "TargetResponseTime" not in green     # no target answered
    assert (green["HealthyHostCount"], green["UnHealthyHostCount"]) == (0, 1)
    assert seen[f"listener:production:{prod}"]["HTTPCode_ELB_5XX_Count"] == 5
    assert seen[f"listener:production:{prod}"]["HTTPCode_Target_5XX_Count"] == 0


@needs_haproxy
def test_a_target_within_its_initial_checks_is_neither_healthy_nor_unhealthy(lb, service, store):
    sampler = Sampler(store, lambda: {"production": lb})
    lb.register(GREEN, "task-late", "127.0.0.1", free_port())  # nothing listens there
    counts = by_scope(sampler.sample_once(second()))[f"tg:{GREEN}"]
    assert counts == {"HealthyHostCount": 1, "UnHealthyHostCount": 0}
    # initial checks: unhealthy_threshold (2) × (interval + timeout) + slack ≈ 1.35 s
    def unhealthy() -> float:
        sampler.sample_once(time.time())
        return store.latest(f"tg:{GREEN}")["UnHealthyHostCount"][1]

    assert wait_for(lambda: unhealthy() == 1, timeout=5, step=0.3)
    assert store.latest(f"tg:{GREEN}")["HealthyHostCount"][1] == 1


@needs_haproxy
def test_a_restarted_haproxy_is_a_new_baseline(lb, service, store):
    prod, _ = service
    sampler = Sampler(store, lambda: {"production": lb})
    t = second()
    sample(sampler, lb, t)
    for _ in range(6):
        get(prod)
    assert by_scope(sample(sampler, lb, t + 1))[f"tg:{BLUE}"]["RequestCount"] == 6

    lb.stop()
    assert sample(sampler, lb, t + 2) == []            # not running: skipped
    assert lb.ensure_running()
    assert wait_for(lambda: healthy(lb, BLUE))
    get(prod)
    get(prod)                                           # counters now 2 < 6 … and no baseline
    baseline = by_scope(sample(sampler, lb, t + 3))
    assert "RequestCount" not in baseline[f"tg:{BLUE}"]
    for _ in range(3):
        get(prod)
    assert by_scope(sample(sampler, lb, t + 4))[f"tg:{BLUE}"]["RequestCount"] == 3


@needs_haproxy
def test_counters_going_down_make_a_baseline_without_a_restart_seen(lb, service, store):
    """The sampler never saw HAProxy down (a restart between two samples): counters went down."""
    prod, _ = service
    sampler = Sampler(store, lambda: {"production": lb})
    t = second()
    for _ in range(5):
        get(prod)
    sample(sampler, lb, t)
    lb.stop()
    lb.ensure_running()
    assert wait_for(lambda: healthy(lb, BLUE))
    get(prod)
    points = by_scope(sample(sampler, lb, t + 1))
    assert set(points[f"tg:{BLUE}"]) == {"HealthyHostCount", "UnHealthyHostCount"}
    assert not any(scope.startswith("listener:") for scope in points)
    get(prod)
    assert by_scope(sample(sampler, lb, t + 2))[f"tg:{BLUE}"]["RequestCount"] == 1


@needs_haproxy
def test_a_reload_with_a_new_target_group_is_a_new_baseline(lb, service, store):
    prod, test = service
    sampler = Sampler(store, lambda: {"production": lb})
    t = second()
    sample(sampler, lb, t)
    get(prod)
    lb.apply([Listener(prod, BLUE), Listener(test, GREEN)],
             [TargetGroup(BLUE, FAST_CHECK), TargetGroup(GREEN, FAST_CHECK), TargetGroup("extra")])
    points = by_scope(sample(sampler, lb, t + 1))
    assert "RequestCount" not in points[f"tg:{BLUE}"] and "tg:extra" in points


def test_load_balancers_that_fail_are_skipped_and_pruning_runs_once_a_minute(store):
    class Broken:
        directory = "/nonexistent"

        def stats(self):
            raise OSError("boom")

    sampler = Sampler(store, lambda: {"staging": Broken()}, retention=100)
    t = 1_700_000_000.0
    store.put([Datapoint(int(t) - 500, "tg:old", "RequestCount", 1.0)])
    assert sampler.sample_once(t) == []
    assert store.series("tg:old", "RequestCount", 0, t) == []          # pruned on the first sample
    store.put([Datapoint(int(t) - 200, "tg:old", "RequestCount", 1.0)])
    sampler.sample_once(t + PRUNE_INTERVAL - 1)
    assert store.series("tg:old", "RequestCount", 0, t) != []          # not again within a minute
    sampler.sample_once(t + PRUNE_INTERVAL)
    assert store.series("tg:old", "RequestCount", 0, t) == []


def test_the_thread_samples_after_each_second_and_stops(store):
    calls: list[float] = []
    sampled = threading.Event()

    def hook(now: float) -> None:
        calls.append(now)
        sampled.set()

    sampler = Sampler(store, dict, on_sample=hook)
    sampler.start()
    try:
        assert sampled.wait(3)
    finally:
        sampler.stop()
    assert calls and 0 <= calls[0] % 1 < 0.8   # just after a whole second
    count = len(calls)
    time.sleep(0.05)
    assert len(calls) == count


@needs_haproxy
def test_a_wall_clock_stepping_back_makes_a_new_baseline_instead_of_a_blind_spell(lb, service, store):
    """bench/chaos.py's clock-jump: after the clock went back 1.5 h, no datapoint was stored
    until it passed the last sample again, so the traffic gate (which needs green's requests)
    held a release at 0 % for as long as the step."""
    prod, _ = service
    sampler = Sampler(store, lambda: {"production": lb})
    t = second()
    sample(sampler, lb, t)
    get(prod)
    assert by_scope(sample(sampler, lb, t + 1))[f"tg:{BLUE}"]["RequestCount"] == 1
    assert sample(sampler, lb, t + 1.5) == []               # the same second again: nothing new
    back = t - 3600
    baseline = by_scope(sample(sampler, lb, back))           # an hour back: a new baseline ...
    assert "RequestCount" not in baseline[f"tg:{BLUE}"]
    get(prod)
    get(prod)
    assert by_scope(sample(sampler, lb, back + 1))[f"tg:{BLUE}"]["RequestCount"] == 2   # ... counting again
