"""`show stat` rows → datapoints (pure): deltas, servers that come and go, what counts as a
reset, activity, the listener's ELB 5xx split and the host counts by ALB state."""

from __future__ import annotations

import pytest

from conveyor.lb import HealthCheck, Listener, TargetGroup
from conveyor.lb.state import LBState, TargetRecord
from conveyor.metrics.haproxy_stats import (
    Snapshot,
    datapoints,
    forwards,
    host_counts,
    is_baseline,
)

T = 1_700_000_000.0
TOPOLOGY = LBState(listeners=[Listener(8080, "blue"), Listener(9090, "green")],
                   target_groups=[TargetGroup("blue"), TargetGroup("green")])


def row(px, sv, **values):
    base = {"pxname": px, "svname": sv, "status": values.pop("status", "UP"),
            "check_status": values.pop("check_status", "L7OK")}
    return base | {k: str(v) for k, v in values.items()}


def rows(fe=(0, 0), blue=(0, 0, 0), green=(0, 0, 0), servers=None):
    """fe = (req, 5xx) of both listeners; blue/green = backend (req, 5xx, econ)."""
    out = [row("listener_8080", "FRONTEND", req_tot=fe[0], hrsp_5xx=fe[1]),
           row("listener_9090", "FRONTEND", req_tot=0)]
    for name, (req, e5, econ) in (("blue", blue), ("green", green)):
        out.append(row(name, "BACKEND", req_tot=req, hrsp_5xx=e5, econ=econ, rtime=12))
    for (px, sv), values in (servers or {}).items():
        out.append(row(px, sv, **values))
    return out


def points(before, after, topology=TOPOLOGY, environment="production"):
    prev = Snapshot.of(before, T) if before is not None else None
    got = datapoints(environment, prev, Snapshot.of(after, T + 1), topology, T + 1)
    return {(p.scope, p.metric): p.value for p in got if "HostCount" not in p.metric}


def test_server_deltas_count_new_servers_from_zero_and_forget_removed_ones():
    before = rows(blue=(10, 0, 0), servers={("blue", "t1"): {"req_tot": 10, "hrsp_2xx": 10},
                                            ("blue", "t2"): {"req_tot": 50, "hrsp_2xx": 50}})
    after = rows(blue=(16, 0, 0), servers={("blue", "t1"): {"req_tot": 13, "hrsp_2xx": 13},
                                           ("blue", "t3"): {"req_tot": 3, "hrsp_2xx": 3}})
    got = points(before, after)
    assert got[("tg:blue", "RequestCount")] == 6
    assert got[("tg:blue", "HTTPCode_Target_2XX_Count")] == 6  # t1 +3, t3 new +3, t2 gone
    assert got[("tg:blue", "TargetResponseTime")] == 0.012
    # t1 deleted and added again between samples: its counters went down, it counts from zero
    again = rows(blue=(18, 0, 0), servers={("blue", "t1"): {"req_tot": 2, "hrsp_2xx": 2},
                                           ("blue", "t3"): {"req_tot": 3, "hrsp_2xx": 3}})
    assert points(after, again)[("tg:blue", "HTTPCode_Target_2XX_Count")] == 2


def test_connection_errors_are_the_targets_and_haproxy_503s_are_elb_errors():
    before = rows(green=(0, 0, 0), servers={("green", "t1"): {}})
    after = rows(green=(9, 9, 6), servers={("green", "t1"): {"req_tot": 3, "econ": 3, "hrsp_5xx": 3}})
    got = points(before, after)
    assert got[("tg:green", "TargetConnectionErrorCount")] == 3
    assert got[("tg:green", "HTTPCode_Target_5XX_Count")] == 3
    assert got[("tg:green", "HTTPCode_ELB_5XX_Count")] == 6
    assert got[("tg:green", "RequestCount")] == 9


def test_a_response_without_a_new_request_still_counts():
    """A slow request is counted when it starts and answered a second later: that second has
    activity (RequestCount 0) so its 5xx is not lost."""
    before = rows(blue=(5, 0, 0), servers={("blue", "t1"): {"req_tot": 5, "hrsp_2xx": 4}})
    after = rows(blue=(5, 1, 0), servers={("blue", "t1"): {"req_tot": 5, "hrsp_2xx": 4, "hrsp_5xx": 1}})
    got = points(before, after)
    assert (got[("tg:blue", "RequestCount")], got[("tg:blue", "HTTPCode_Target_5XX_Count")]) == (0, 1)
    assert points(after, after) == {}  # nothing happened: no counted datapoint at all


def test_the_listener_elb_5xx_is_what_its_target_groups_did_not_produce():
    topology = LBState(listeners=[Listener(8080, "blue"), Listener(9090, "green")],
                       target_groups=[TargetGroup("blue"), TargetGroup("green")],
                       weights={8080: {"blue": 90, "green": 10}})
    assert forwards(topology) == {8080: {"blue", "green"}, 9090: {"green"}}
    before = rows(servers={("green", "t1"): {}})
    after = rows(fe=(20, 7), green=(5, 7, 0), servers={("green", "t1"): {"req_tot": 3, "hrsp_5xx": 3}})
    got = points(before, after, topology)
    assert got[("listener:production:8080", "HTTPCode_ELB_5XX_Count")] == 4
    assert got[("listener:production:8080", "HTTPCode_Target_5XX_Count")] == 3
    assert got[("listener:production:8080", "RequestCount")] == 20
    assert ("listener:production:9090", "RequestCount") not in got  # no activity there


@pytest.mark.parametrize("change", [
    lambda r: r[0].update(req_tot="0"),                    # a frontend counter went down
    lambda r: r[2].update(hrsp_5xx="0"),                   # a backend counter went down
    lambda r: r.append(row("orders-3", "BACKEND")),         # a new target group: a reload
    lambda r: r.pop(1),                                     # a listener gone: a reload
])
def test_what_makes_a_new_baseline(change):
    before = rows(fe=(5, 1), blue=(5, 1, 0))
    after = rows(fe=(5, 1), blue=(5, 1, 0))
    assert not is_baseline(Snapshot.of(before, T), Snapshot.of(after, T + 1))
    change(after)
    assert is_baseline(Snapshot.of(before, T), Snapshot.of(after, T + 1))
    assert is_baseline(None, Snapshot.of(before, T))


def test_server_counters_going_down_are_not_a_reset():
    before = rows(blue=(5, 0, 0), servers={("blue", "t1"): {"req_tot": 5}})
    after = rows(blue=(6, 0, 0), servers={("blue", "t1"): {"req_tot": 1}})
    assert not is_baseline(Snapshot.of(before, T), Snapshot.of(after, T + 1))


HC = HealthCheck(interval=1.0, timeout=0.5, healthy_threshold=3, unhealthy_threshold=2)


@pytest.mark.parametrize("status, check, registered_ago, deregistered, expected", [
    ("UP", "L7OK", 100, False, "healthy"),
    ("UP 1/2", "L7STS", 100, False, "healthy"),      # going down, not yet
    ("no check", "", 100, False, "healthy"),
    ("DOWN", "INI", 100, False, None),               # never checked yet: initial
    ("DOWN", "L4CON", 2.0, False, None),             # within 2 × 1.5 s + slack: initial
    ("DOWN", "L4CON", 4.0, False, "unhealthy"),
    ("DOWN 1/3", "L7OK", 4.0, False, None),          # passing: 3 × 1.5 s + slack
    ("DOWN 2/3", "L7OK", 5.0, False, "unhealthy"),   # passing again after failing
    ("DRAIN", "L7OK", 100, True, None),
    ("UP", "L7OK", 100, True, None),                 # deregistered, not yet drained in HAProxy
    ("MAINT", "L7OK", 100, False, None),
])
def test_host_counts_by_alb_state(status, check, registered_ago, deregistered, expected):
    now = T
    record = TargetRecord("t1", "127.0.0.1", 8001, 100, now - registered_ago,
                          now - 1 if deregistered else None)
    topology = LBState(target_groups=[TargetGroup("web", HC)], targets={"web": {"t1": record}})
    snap = Snapshot.of([row("web", "t1", status=status, check_status=check)], now)
    counts = host_counts(snap.servers["web"], "web", topology, now)
    assert counts == {"HealthyHostCount": int(expected == "healthy"),
                      "UnHealthyHostCount": int(expected == "unhealthy")}


def test_host_counts_are_published_even_for_a_baseline():
    snap = rows(servers={("blue", "t1"): {}, ("blue", "t2"): {"status": "DOWN", "check_status": "L4CON"}})
    got = datapoints("production", None, Snapshot.of(snap, T + 1), TOPOLOGY, T + 1)
    assert {(p.ts, p.scope, p.metric, p.value) for p in got} == {
        (int(T), "tg:blue", "HealthyHostCount", 1.0), (int(T), "tg:blue", "UnHealthyHostCount", 1.0),
        (int(T), "tg:green", "HealthyHostCount", 0.0), (int(T), "tg:green", "UnHealthyHostCount", 0.0)}
