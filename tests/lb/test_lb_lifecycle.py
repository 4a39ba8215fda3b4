"""The HAProxy process: it outlives whoever started it, is adopted without a restart, is rebuilt
from state.json when it dies, and reloads seamlessly; deploy-shaped load sees no failure."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from lb_support import FAST_CHECK, Load, free_port, get, needs_haproxy, spread, wait_for

from conveyor.lb import Listener, LoadBalancer, LoadBalancerError, TargetGroup

pytestmark = needs_haproxy


def states(lb, tg):
    return {t.target_id: (t.state, t.weight) for t in lb.targets(tg)}


def healthy(lb, tg, *ids):
    return wait_for(lambda: {t.target_id for t in lb.targets(tg) if t.state == "healthy"}
                    == set(ids))


def test_haproxy_outlives_a_killed_daemon_and_is_adopted_as_it_is(tmp_path, apps):
    app = apps("app")
    directory, port = tmp_path / "lb", free_port()
    daemon = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from conveyor.lb import Listener, LoadBalancer, LoadBalancerError, TargetGroup, HealthCheck
        lb = LoadBalancer(Path({str(directory)!r}), "test")
        hc = HealthCheck(path="/health", interval=0.2, timeout=0.1)
        lb.apply([Listener({port}, "web")], [TargetGroup("web", hc)])
        lb.register("web", "t1", "127.0.0.1", {app.port}, weight=42)
        print("ready", flush=True)
        time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert daemon.stdout.readline().strip() == "ready"
        os.kill(daemon.pid, signal.SIGKILL)  # the daemon dies hard
        daemon.wait()
        lb = LoadBalancer(directory, "test")  # the restarted daemon
        try:
            assert lb.running()
            pid = lb.pid
            assert healthy(lb, "web", "t1")
            assert get(port) == (200, "app")
            assert states(lb, "web") == {"t1": ("healthy", 42)}
            lb.apply([Listener(port, "web")], [TargetGroup("web", FAST_CHECK)])  # unchanged
            assert lb.ensure_running() is False
            assert lb.pid == pid
        finally:
            lb.stop()
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()


def test_a_second_object_adopts_the_same_haproxy_and_state(lb, apps):
    port = free_port()
    lb.apply([Listener(port, "web")], [TargetGroup("web", FAST_CHECK)])
    a, b = apps("a"), apps("b")
    lb.register("web", "a", "127.0.0.1", a.port, weight=30)
    lb.register("web", "b", "127.0.0.1", b.port)
    assert healthy(lb, "web", "a", "b")
    lb.deregister("web", "b")
    pid, worker = lb.pid, lb.api.info()["Pid"]

    again = LoadBalancer(lb.directory, "test")
    assert again.running() and again.pid == pid
    assert states(again, "web") == {"a": ("healthy", 30), "b": ("draining", 100)}
    again.apply([Listener(port, "web")], [TargetGroup("web", FAST_CHECK)])
    assert (again.pid, again.api.info()["Pid"]) == (pid, worker)  # nothing restarted
    assert wait_for(lambda: again.drained("web", "b"))
    again.remove("web", "b")
    assert states(lb, "web") == {"a": ("healthy", 30)}


def test_a_killed_haproxy_is_rebuilt_with_targets_weights_and_drains(lb, apps):
    port = free_port()
    lb.apply([Listener(port, "blue")], [TargetGroup("blue", FAST_CHECK, 60.0),
                                        TargetGroup("green", FAST_CHECK)])
    one, two, green = apps("one"), apps("two"), apps("green")
    lb.register("blue", "one", "127.0.0.1", one.port, weight=50)
    lb.register("blue", "two", "127.0.0.1", two.port, weight=7)
    lb.register("green", "g", "127.0.0.1", green.port)
    lb.set_weights(port, {"blue": 1, "green": 3})
    assert healthy(lb, "blue", "one", "two") and healthy(lb, "green", "g")
    lb.deregister("blue", "two")
    before = {tg: states(lb, tg) for tg in ("blue", "green")}
    assert before == {"blue": {"one": ("healthy", 50), "two": ("draining", 7)},
                      "green": {"g": ("healthy", 100)}}

    os.kill(lb.pid, signal.SIGKILL)
    assert wait_for(lambda: not lb.running())
    # the worker follows its master within moments; meanwhile state.json is what is known
    assert wait_for(lambda: {t.state for t in lb.targets("green")} == {"unavailable"})
    assert [t.state for t in lb.targets("blue")] == ["unavailable", "draining"]
    assert lb.ensure_running() is True
    assert lb.ensure_running() is False
    assert wait_for(lambda: {tg: states(lb, tg) for tg in ("blue", "green")} == before)
    assert not lb.drained("blue", "two")  # the 60 s delay still counts from deregister()
    seen = spread(port, 200)
    assert set(seen) == {"one", "green"} and 20 <= seen["one"] <= 80  # 1:3, two drained


def test_a_killed_worker_takes_the_master_down_and_is_restarted_too(lb, apps):
    port = free_port()
    lb.apply([Listener(port, "web")], [TargetGroup("web", FAST_CHECK)])
    app = apps("app")
    lb.register("web", "t", "127.0.0.1", app.port)
    assert healthy(lb, "web", "t")
    os.kill(int(lb.api.info()["Pid"]), signal.SIGKILL)
    assert wait_for(lambda: not lb.running())
    assert lb.ensure_running()
    assert healthy(lb, "web", "t") and get(port) == (200, "app")


def test_a_new_listener_is_added_without_failing_a_request(lb, apps):
    first, second = free_port(), free_port()
    groups = [TargetGroup("web", FAST_CHECK), TargetGroup("admin", FAST_CHECK)]
    lb.apply([Listener(first, "web")], groups)
    web, admin = apps("web"), apps("admin")
    lb.register("web", "w", "127.0.0.1", web.port, weight=77)
    lb.register("admin", "a", "127.0.0.1", admin.port)
    assert healthy(lb, "web", "w")
    master, worker = lb.pid, lb.api.info()["Pid"]

    load = Load(first, total=1500).start()
    assert wait_for(lambda: load.done() > 300)
    lb.apply([Listener(first, "web"), Listener(second, "admin")], groups)
    assert wait_for(lambda: load.done() > 900)
    lb.apply([Listener(first, "web"), Listener(second, "admin")], groups)  # unchanged: no-op
    load.wait()
    assert load.failures == [] and load.ok == 1500
    assert lb.pid == master and lb.api.info()["Pid"] != worker  # reloaded, not restarted
    assert get(second) == (200, "admin")
    assert states(lb, "web") == {"w": ("healthy", 77)}  # health and weight survived


def test_a_reload_keeps_a_drain_and_its_requests_in_flight(lb, apps):
    first, second = free_port(), free_port()
    groups = [TargetGroup("web", FAST_CHECK, 30.0)]
    lb.apply([Listener(first, "web")], groups)
    old, new = apps("old"), apps("new")
    lb.register("web", "old", "127.0.0.1", old.port)
    lb.register("web", "new", "127.0.0.1", new.port)
    assert healthy(lb, "web", "old", "new")
    lb.set_weight("web", "new", 0)  # the slow requests all go to 'old'
    slow: list = []
    threads = [threading.Thread(target=lambda: slow.append(get(first, "/slow?s=3")))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    assert wait_for(lambda: old.in_flight == 2)
    lb.set_weight("web", "new", 100)
    lb.deregister("web", "old")

    lb.apply([Listener(first, "web"), Listener(second, "web")], groups)
    assert states(lb, "web") == {"old": ("draining", 100), "new": ("healthy", 100)}
    # the new worker sees no session on 'old', but the old worker still serves two
    time.sleep(0.6)
    assert old.in_flight == 2 and not lb.drained("web", "old")
    assert spread(second, 10) == {"new": 10}
    for thread in threads:
        thread.join()
    assert slow == [(200, "old")] * 2
    assert wait_for(lambda: lb.drained("web", "old"), timeout=5)


def test_replacing_targets_under_load_fails_no_request(lb, apps):
    """A rolling replacement as the service reconciler does it, under 2,000 requests
    (keep-alive and new connections)."""
    port = free_port()
    lb.apply([Listener(port, "web")], [TargetGroup("web", FAST_CHECK, 5.0)])
    v1 = [apps(f"v1-{i}") for i in range(2)]
    for i, app in enumerate(v1):
        lb.register("web", f"v1-{i}", "127.0.0.1", app.port)
    assert healthy(lb, "web", "v1-0", "v1-1")

    load = Load(port, total=2000).start()
    v2 = [apps(f"v2-{i}") for i in range(2)]
    for i in range(2):
        new, old = f"v2-{i}", f"v1-{i}"
        assert wait_for(lambda n=200 + 700 * i: load.done() > n)
        lb.register("web", new, "127.0.0.1", v2[i].port)
        assert wait_for(lambda n=new: states(lb, "web")[n] == ("healthy", 100))
        lb.deregister("web", old)
        assert wait_for(lambda o=old: lb.drained("web", o))
        lb.remove("web", old)
        v1[i].stop()  # the task is stopped only after it was drained
    load.wait()
    assert load.failures == [] and load.ok == 2000
    assert {name.split("-")[0] for name in load.answers} == {"v1", "v2"}
    assert {t.target_id for t in lb.targets("web")} == {"v2-0", "v2-1"}
    print(f"\n{load.total} requests in {load.elapsed:.2f} s: {load.rate:.0f} requests/s")


def test_a_listener_port_in_use_fails_the_start_with_haproxy_s_reason(lb):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(LoadBalancerError, match=r"cannot bind socket \(Address already in use\)"):
            lb.apply([Listener(port, "web")], [TargetGroup("web", FAST_CHECK)])
    assert not lb.running()
    assert lb.ensure_running() is False  # nothing was ever applied


def test_a_failed_reload_keeps_the_running_configuration_serving(lb, apps):
    port = free_port()
    lb.apply([Listener(port, "web")], [TargetGroup("web", FAST_CHECK)])
    app = apps("app")
    lb.register("web", "t", "127.0.0.1", app.port)
    assert healthy(lb, "web", "t")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        with pytest.raises(LoadBalancerError, match="HAProxy did not reload: .*cannot bind"):
            lb.apply([Listener(port, "web"), Listener(taken, "web")],
                     [TargetGroup("web", FAST_CHECK)])
        assert get(port) == (200, "app")
    # the port is free again: the same apply() now goes through
    lb.apply([Listener(port, "web"), Listener(taken, "web")], [TargetGroup("web", FAST_CHECK)])
    assert get(taken) == (200, "app") and states(lb, "web") == {"t": ("healthy", 100)}


def test_a_second_load_balancer_cannot_silently_share_a_listener_port(lb, tmp_path):
    port = free_port()
    lb.apply([Listener(port, "web")], [TargetGroup("web", FAST_CHECK)])
    other = LoadBalancer(tmp_path / "other", "other")
    try:
        with pytest.raises(LoadBalancerError, match="Address already in use"):
            other.apply([Listener(port, "web")], [TargetGroup("web", FAST_CHECK)])
    finally:
        other.stop()
    assert get(port)[0] == 503  # still the first one's (empty) target group


def test_an_idle_keep_alive_connection_survives_a_reload(lb, apps):
    first, second = free_port(), free_port()
    groups = [TargetGroup("web", FAST_CHECK)]
    lb.apply([Listener(first, "web")], groups)
    app = apps("app")
    lb.register("web", "t", "127.0.0.1", app.port)
    assert healthy(lb, "web", "t")
    conn = http.client.HTTPConnection("127.0.0.1", first, timeout=5)
    try:
        conn.request("GET", "/")
        assert conn.getresponse().read() == b"app"
        lb.apply([Listener(first, "web"), Listener(second, "web")], groups)
        time.sleep(0.3)  # idle across the reload: the old worker keeps the connection open
        assert lb.haproxy.old_workers()
        conn.request("GET", "/")  # a client that does not retry would fail if it were closed
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b"app")
        assert response.getheader("Connection") == "close"  # and now it moves on
    finally:
        conn.close()
    assert wait_for(lambda: not lb.haproxy.old_workers())
