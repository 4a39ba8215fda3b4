"""Targets through the runtime API on a real HAProxy: health, no traffic before a passed check,
draining with requests in flight, removal, weights within and across target groups."""

from __future__ import annotations

import threading
import time

import pytest
from lb_support import FAST_CHECK, free_port, get, needs_haproxy, spread, wait_for

from conveyor.lb import HealthCheck, InvalidLoadBalancer, Listener, TargetGroup, UnknownTargetGroup

pytestmark = needs_haproxy


def states(lb, tg):
    return {t.target_id: t.state for t in lb.targets(tg)}


@pytest.fixture
def web(lb):
    """A listener on a free port forwarding to target group 'web'."""
    port = free_port()
    lb.apply([Listener(port, "web")], [TargetGroup("web", FAST_CHECK, deregistration_delay=5.0)])
    return port


def test_a_registered_target_turns_healthy_and_serves(lb, web, apps):
    app = apps("app-1")
    lb.register("web", "task-1", "127.0.0.1", app.port)
    first = lb.targets("web")[0]
    assert (first.state, first.reason) == ("initial", "Elb.InitialHealthChecking")
    assert first.address == f"127.0.0.1:{app.port}" and first.weight == 100

    assert wait_for(lambda: states(lb, "web") == {"task-1": "healthy"}, timeout=5)
    assert get(web) == (200, "app-1")


def test_a_target_failing_its_health_check_is_unhealthy_and_gets_nothing(lb, web, apps):
    good, bad = apps("good"), apps("bad", health=503)
    lb.register("web", "good", "127.0.0.1", good.port)
    lb.register("web", "bad", "127.0.0.1", bad.port)
    assert wait_for(lambda: states(lb, "web") == {"good": "healthy", "bad": "unhealthy"})
    target = next(t for t in lb.targets("web") if t.target_id == "bad")
    assert target.reason == "Target.ResponseCodeMismatch"
    assert target.description == "Health checks failed with these codes: [503]"

    assert spread(web, 50) == {"good": 50}
    assert bad.requests == 0


def test_a_target_whose_app_is_not_listening_yet_never_gets_a_request(lb, web, apps):
    """HAProxy 2.6 makes a server leaving maintenance UP at once; register() must not."""
    serving = apps("serving")
    lb.register("web", "serving", "127.0.0.1", serving.port)
    assert wait_for(lambda: states(lb, "web") == {"serving": "healthy"})

    late_port = free_port()
    lb.register("web", "late", "127.0.0.1", late_port)
    assert spread(web, 100) == {"serving": 100}
    late = next(r for r in lb.stats() if r["pxname"] == "web" and r["svname"] == "late")
    assert (late["lbtot"], late["econ"], late["wretr"]) == ("0", "0", "0")  # never tried
    refused = next(t for t in lb.targets("web") if t.target_id == "late")
    assert refused.state in ("initial", "unhealthy")
    assert wait_for(lambda: states(lb, "web")["late"] == "unhealthy", timeout=3)
    assert next(t for t in lb.targets("web") if t.target_id == "late").description == \
        "Health checks failed: connection refused"

    app = apps("late", port=late_port)  # now it starts listening
    assert wait_for(lambda: states(lb, "web")["late"] == "healthy")
    assert spread(web, 20) == {"serving": 10, "late": 10}
    assert app.requests == 10


def test_a_target_starting_while_requests_flow_gets_none_before_its_check(lb, web, apps):
    serving = apps("serving")
    lb.register("web", "serving", "127.0.0.1", serving.port)
    assert wait_for(lambda: states(lb, "web") == {"serving": "healthy"})
    sick = apps("sick", health=503)  # listening, but not ready: every request would count
    stop = threading.Event()
    seen = []

    def traffic():
        while not stop.is_set():
            seen.append(get(web))

    thread = threading.Thread(target=traffic)
    thread.start()
    try:
        for i in range(10):  # register and remove repeatedly under traffic
            lb.register("web", f"sick-{i}", "127.0.0.1", sick.port)
            time.sleep(0.05)
            lb.remove("web", f"sick-{i}")
    finally:
        stop.set()
        thread.join()
    assert sick.requests == 0
    assert seen and all(answer == (200, "serving") for answer in seen)


def test_deregister_lets_in_flight_requests_finish_and_sends_new_ones_elsewhere(lb, web, apps):
    # A 10-minute delay: drained() turning True within the test can only be the early end.
    lb.apply([Listener(web, "web")], [TargetGroup("web", FAST_CHECK, deregistration_delay=600.0)])
    old, new = apps("old"), apps("new")
    lb.register("web", "old", "127.0.0.1", old.port)
    assert wait_for(lambda: states(lb, "web") == {"old": "healthy"})
    slow: list[tuple[int, str]] = []
    threads = [threading.Thread(target=lambda: slow.append(get(web, "/slow?s=1.5")))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    assert wait_for(lambda: old.in_flight == 3)
    lb.register("web", "new", "127.0.0.1", new.port)
    assert wait_for(lambda: states(lb, "web")["new"] == "healthy")

    lb.deregister("web", "old")
    lb.deregister("web", "old")  # idempotent
    draining = next(t for t in lb.targets("web") if t.target_id == "old")
    assert (draining.state, draining.reason) == ("draining", "Target.DeregistrationInProgress")
    assert draining.in_flight == 3
    assert spread(web, 10) == {"new": 10}
    assert not lb.drained("web", "old")

    assert wait_for(lambda: lb.drained("web", "old"), timeout=60)  # ends once nothing is in flight
    assert old.in_flight == 0
    for thread in threads:
        thread.join()
    assert slow == [(200, "old")] * 3

    lb.remove("web", "old")
    lb.remove("web", "old")  # idempotent
    assert states(lb, "web") == {"new": "healthy"}
    assert spread(web, 5) == {"new": 5}


def test_drained_waits_at_least_the_minimum_or_the_whole_delay(lb, apps):
    port = free_port()
    lb.apply([Listener(port, "quick")], [TargetGroup("quick", FAST_CHECK, 0.2)])
    app = apps("a")
    lb.register("quick", "t", "127.0.0.1", app.port)
    assert not lb.drained("quick", "t")  # not deregistered
    lb.deregister("quick", "t")
    assert not lb.drained("quick", "t")
    assert wait_for(lambda: lb.drained("quick", "t"), timeout=1)
    assert lb.drained("quick", "never-registered")
    lb.deregister("quick", "never-registered")  # nothing to do


def test_weights_within_a_group_split_traffic(lb, web, apps):
    big, small = apps("big"), apps("small")
    lb.register("web", "big", "127.0.0.1", big.port, weight=90)
    lb.register("web", "small", "127.0.0.1", small.port, weight=10)
    assert wait_for(lambda: set(states(lb, "web").values()) == {"healthy"})
    seen = spread(web, 200)
    assert seen == {"big": 180, "small": 20}  # round robin: exact
    lb.set_weight("web", "small", 0)
    assert spread(web, 20) == {"big": 20}
    assert {t.target_id: t.weight for t in lb.targets("web")} == {"big": 90, "small": 0}


def test_set_weights_shifts_traffic_between_groups_without_a_reload(lb, apps):
    port = free_port()
    lb.apply([Listener(port, "blue")], [TargetGroup("blue", FAST_CHECK),
                                        TargetGroup("green", FAST_CHECK)])
    blue, green = apps("blue"), apps("green")
    lb.register("blue", "b", "127.0.0.1", blue.port)
    lb.register("green", "g", "127.0.0.1", green.port)
    assert wait_for(lambda: states(lb, "blue") == {"b": "healthy"})
    # ALB: the green group is attached to no listener yet
    assert wait_for(lambda: lb.targets("green")[0].reason == "Target.NotInUse")
    master, worker = lb.pid, lb.api.info()["Pid"]

    lb.set_weights(port, {"blue": 90, "green": 10})
    seen = spread(port, 400)
    assert seen["blue"] + seen["green"] == 400
    assert 20 <= seen["green"] <= 65  # 40 expected; binomial, p(outside) < 1e-5
    assert states(lb, "green") == {"g": "healthy"}

    lb.set_weights(port, {"blue": 0, "green": 999})
    assert spread(port, 50) == {"green": 50}
    lb.set_weights(port, {"green": 1})
    assert spread(port, 10) == {"green": 10}
    assert wait_for(lambda: lb.targets("blue")[0].state == "unused")
    assert (lb.pid, lb.api.info()["Pid"]) == (master, worker)  # no reload, no restart

    with pytest.raises(InvalidLoadBalancer, match="all weights are 0"):
        lb.set_weights(port, {"blue": 0, "green": 0})
    with pytest.raises(InvalidLoadBalancer, match="unknown target group 'red'"):
        lb.set_weights(port, {"red": 1})
    with pytest.raises(InvalidLoadBalancer, match="not 0-999"):
        lb.set_weights(port, {"blue": 1000})
    with pytest.raises(InvalidLoadBalancer, match="no listener on port 1"):
        lb.set_weights(1, {"blue": 1})


def test_a_group_without_targets_answers_503(lb, web):
    assert get(web)[0] == 503
    assert lb.targets("web") == []


def test_unknown_groups_and_bad_targets_are_refused(lb, web):
    with pytest.raises(UnknownTargetGroup, match="unknown target group 'nope'"):
        lb.register("nope", "t", "127.0.0.1", 1234)
    with pytest.raises(UnknownTargetGroup):
        lb.targets("nope")
    with pytest.raises(InvalidLoadBalancer, match="target id 'a b'"):
        lb.register("web", "a b", "127.0.0.1", 1234)
    with pytest.raises(InvalidLoadBalancer, match="weight 300 is not 0-256"):
        lb.register("web", "t", "127.0.0.1", 1234, weight=300)
    lb.register("web", "t", "127.0.0.1", 1234)
    lb.register("web", "t", "127.0.0.1", 1234)  # idempotent
    with pytest.raises(InvalidLoadBalancer, match="registered in 'web' at 127.0.0.1:1234"):
        lb.register("web", "t", "127.0.0.1", 1235)
    assert [t.target_id for t in lb.targets("web")] == ["t"]
    lb.remove("web", "t")
    lb.remove("gone", "t")  # unknown group: nothing to remove
    assert lb.targets("web") == []


def test_reloads_faster_than_the_checks_never_make_a_rising_target_unhealthy(lb, apps):
    """Each seamless reload restarts the checks of a target that is not UP yet. While they pass,
    it is in its initial checks (ALB's `initial`), not `unhealthy` — which ECS would replace —
    however long a run of reloads (services added one after another) keeps it from rising."""
    check = HealthCheck(path="/health", interval=1.0, timeout=0.5, healthy_threshold=2)
    listeners, groups = [Listener(free_port(), "web")], [TargetGroup("web", check)]
    lb.apply(listeners, groups)
    app = apps("app-1")
    lb.register("web", "task-1", "127.0.0.1", app.port)
    seen: set[tuple[str, str | None]] = set()
    for n in range(8):  # one reload every 0.6 s: faster than one interval plus a check
        listeners.append(Listener(free_port(), f"extra-{n}"))
        groups.append(TargetGroup(f"extra-{n}", check))
        lb.apply(list(listeners), list(groups))
        deadline = time.monotonic() + 0.6
        while time.monotonic() < deadline:
            seen |= {(t.state, t.reason) for t in lb.targets("web")}
            time.sleep(0.05)
    assert {state for state, _ in seen} <= {"initial", "healthy"}, seen
    assert wait_for(lambda: states(lb, "web") == {"task-1": "healthy"}, timeout=10)
    assert lb._load().targets["web"]["task-1"].healthy_at is not None
