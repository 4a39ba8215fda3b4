"""The pure parts: validation, matchers, weight maps, the generated configuration, ALB target
states from HAProxy's, state.json, the runtime API parsers."""

from __future__ import annotations

import json
import re

import pytest
from lb_support import needs_haproxy

from conveyor.lb import config as cfg
from conveyor.lb import health
from conveyor.lb.errors import InvalidLoadBalancer
from conveyor.lb.haproxy import _with_topology
from conveyor.lb.model import (
    HealthCheck,
    Listener,
    TargetGroup,
    parse_matcher,
    validate_forward_weights,
    validate_target,
    validate_topology,
)
from conveyor.lb.runtime import parse_info, parse_proc, parse_servers_state, parse_stat
from conveyor.lb.state import LBState, TargetRecord, load, save
from conveyor.providers.local import process

# --- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(("listeners", "groups", "message"), [
    ([], [TargetGroup("a b")], "target group name 'a b' may only contain"),
    ([], [TargetGroup("a"), TargetGroup("a")], "target group 'a' is declared twice"),
    ([Listener(80, "a"), Listener(80, "a")], [TargetGroup("a")], "listener port 80 is declared twice"),
    ([Listener(0, "a")], [TargetGroup("a")], "listener port 0 is not 1-65535"),
    ([Listener(80, "b")], [TargetGroup("a")], "listener 80 forwards to unknown target group 'b'"),
    ([Listener(80, "a", bind="0.0.0.0 x")], [TargetGroup("a")], "bind address '0.0.0.0 x'"),
    ([], [TargetGroup("a", deregistration_delay=3601)], "deregistration_delay 3601 s is not"),
    ([], [TargetGroup("a", HealthCheck(interval=1, timeout=1))], "less than the interval 1 s"),
    ([], [TargetGroup("a", HealthCheck(healthy_threshold=11))], "healthy_threshold 11 is not 1-10"),
    ([], [TargetGroup("a", HealthCheck(path="health"))], "path 'health' must start with /"),
    ([], [TargetGroup("a", HealthCheck(path="/a b"))], "path '/a b' must start with /"),
    ([], [TargetGroup("a", HealthCheck(port=70000))], "port 70000 is not 1-65535"),
    ([], [TargetGroup("a", HealthCheck(matcher="200-199"))], "codes must be 200-499"),
    ([], [TargetGroup("a", HealthCheck(matcher="ok"))], "'ok' is not a code or a range"),
])
def test_topologies_haproxy_or_alb_would_refuse_are_refused(listeners, groups, message):
    with pytest.raises(InvalidLoadBalancer, match=re.escape(message)):
        validate_topology(listeners, groups)


def test_a_valid_topology_passes():
    validate_topology([Listener(8080, "web-blue"), Listener(9000, "web_green", bind="127.0.0.2")],
                      [TargetGroup("web-blue"), TargetGroup("web_green", HealthCheck(port=81))])


@pytest.mark.parametrize(("args", "message"), [
    (("t 1", "127.0.0.1", 80, 1), "target id 't 1'"),
    (("t", "127.0.0.1;x", 80, 1), "host '127.0.0.1;x'"),
    (("t", "127.0.0.1", 0, 1), "port 0 is not 1-65535"),
    (("t", "127.0.0.1", 80, 257), "weight 257 is not 0-256"),
])
def test_bad_targets_are_refused(args, message):
    with pytest.raises(InvalidLoadBalancer, match=re.escape(message)):
        validate_target(*args)


@pytest.mark.parametrize(("weights", "message"), [
    ({}, "0 target groups; ALB allows 1-5"),
    ({f"g{i}": 1 for i in range(6)}, "6 target groups; ALB allows 1-5"),
    ({"x": 1}, "unknown target group 'x'"),
    ({"g0": 1000}, "'g0' weight 1000 is not 0-999"),
    ({"g0": -1}, "'g0' weight -1 is not 0-999"),
    ({"g0": True}, "'g0' weight True is not 0-999"),
    ({"g0": 0, "g1": 0}, "all weights are 0"),
])
def test_forward_weights_follow_alb_rules(weights, message):
    with pytest.raises(InvalidLoadBalancer, match=re.escape(message)):
        validate_forward_weights(8080, weights, {f"g{i}" for i in range(6)})


# --- matchers and weights ----------------------------------------------------------------


@pytest.mark.parametrize(("matcher", "expect"), [
    ("200", "status 200"),
    ("200,202", "rstatus ^(20[02])$"),
    ("200-299", "rstatus ^(2[0-9][0-9])$"),
    ("200-204, 301", "rstatus ^(20[0-4]|301)$"),
    ("200-499", "rstatus ^(2[0-9][0-9]|3[0-9][0-9]|4[0-9][0-9])$"),
])
def test_matchers_become_http_check_expectations(matcher, expect):
    assert cfg.status_expect(matcher) == expect


@pytest.mark.parametrize("matcher", ["200", "200,202", "200-299", "201-215,250,299-312", "404",
                                     "200-209,211-219,290-301"])
def test_a_matcher_regex_accepts_exactly_its_codes(matcher):
    codes = set(parse_matcher(matcher))
    pattern = re.compile(f"^({cfg.code_regex(sorted(codes))})$")
    assert {c for c in range(100, 600) if pattern.match(str(c))} == codes


def test_weights_become_bucket_ranges_in_proportion():
    assert cfg.map_entries({"blue": 90, "green": 10}) == [("0:8999", "blue"), ("9000:9999", "green")]
    assert cfg.map_entries({"blue": 0, "green": 5}) == [("0:9999", "green")]
    thirds = cfg.map_entries({"a": 1, "b": 1, "c": 1})
    assert thirds == [("0:3332", "a"), ("3333:6665", "b"), ("6666:9999", "c")]
    assert cfg.render_map({"a": 999, "b": 1}).splitlines()[1:] == ["0:9989 a", "9990:9999 b"]
    assert cfg.render_map(None).splitlines()[1:] == []


def test_durations_are_haproxy_times():
    assert [cfg.ms(x) for x in (2.0, 0.25, 60, 0.0001)] == ["2s", "250ms", "60s", "1ms"]


# --- the configuration -------------------------------------------------------------------

LISTENERS = [Listener(8080, "web"), Listener(8443, "api", bind="127.0.0.2")]
GROUPS = [TargetGroup("web", HealthCheck(path="/health", port=9000, matcher="200-299",
                                         interval=5, timeout=2, healthy_threshold=3)),
          TargetGroup("api", deregistration_delay=120)]
SERVERS = [cfg.ServerLine("web", "task-1", "127.0.0.1", 43121, 100),
           cfg.ServerLine("web", "task-2", "127.0.0.1", 43122, 30, draining=True)]


def test_the_configuration_has_one_frontend_per_listener_and_one_backend_per_group():
    text = cfg.render_config(LISTENERS, GROUPS, SERVERS, name="prod", threads=8)
    assert "    stats socket unix@admin.sock mode 600 level admin expose-fd listeners\n" in text
    assert "    hard-stop-after 150s\n" in text  # longest deregistration delay + 30 s
    assert "    nbthread 4\n" in text
    assert text.count("\nfrontend ") == 2 and text.count("\nbackend ") == 2
    assert ("frontend listener_8443\n    bind 127.0.0.2:8443\n" in text
            and "    default_backend api\n" in text)
    assert ("    http-request set-var(txn.forward) rand(10000),map_int(listener-8080.map)\n"
            in text)
    assert "    http-check send meth GET uri /health ver HTTP/1.1 hdr Host localhost" in text
    assert "    http-check expect rstatus ^(2[0-9][0-9])$\n    timeout check 2s\n" in text
    assert ("    server task-1 127.0.0.1:43121 weight 100 check inter 5s fall 2 rise 3 port 9000\n"
            in text)
    # a draining target restarts with no share of new requests
    assert "    server task-2 127.0.0.1:43122 weight 0 check inter 5s" in text
    assert "    http-request disable-l7-retry unless { method GET HEAD OPTIONS PUT DELETE TRACE }" \
        in text


def test_server_arguments_are_the_same_for_config_lines_and_add_server():
    assert cfg.server_args(HealthCheck(interval=0.2, unhealthy_threshold=3), 7) == [
        "weight", "7", "check", "inter", "200ms", "fall", "3", "rise", "2"]


@needs_haproxy
def test_haproxy_accepts_the_generated_configuration(tmp_path):
    (tmp_path / "haproxy.cfg").write_text(cfg.render_config(LISTENERS, GROUPS, SERVERS))
    for listener in LISTENERS:
        (tmp_path / cfg.map_file(listener.port)).write_text(cfg.render_map({"web": 3, "api": 1}))
    result = process.run(cfg.check_command(cwd=str(tmp_path)), check=False, dry_run=False)
    assert result.ok, result.stdout + result.stderr


def test_the_start_command_is_master_worker_with_a_master_socket():
    assert str(cfg.start_command(cwd="/lb")) == (
        "haproxy -W -S unix@master.sock,mode,600 -f haproxy.cfg")


# --- target health -----------------------------------------------------------------------

TG = TargetGroup("web", HealthCheck(interval=1.0, timeout=0.5, healthy_threshold=2,
                                    unhealthy_threshold=3))
REC = TargetRecord("t1", "127.0.0.1", 8001, 100, registered_at=1000.0)
UP = {"srv_name": "t1", "srv_op_state": "2", "srv_admin_state": "0", "srv_uweight": "100"}
DOWN = {**UP, "srv_op_state": "0"}


@pytest.mark.parametrize(("row", "stat", "record", "attached", "now", "expected"), [
    (UP, {}, REC, True, 1001, ("healthy", None)),
    ({**UP, "srv_admin_state": "8"}, {}, REC, True, 1001,
     ("draining", "Target.DeregistrationInProgress")),
    (UP, {}, TargetRecord("t1", "h", 1, 1, 0.0, deregistered_at=5.0), True, 9,
     ("draining", "Target.DeregistrationInProgress")),
    ({**UP, "srv_admin_state": "1"}, {}, REC, True, 1001,
     ("initial", "Elb.RegistrationInProgress")),
    (UP, {}, REC, False, 1001, ("unused", "Target.NotInUse")),
    (DOWN, {"check_status": "INI"}, REC, True, 1500, ("initial", "Elb.InitialHealthChecking")),
    # three failures take 3 × (1 + 0.5) s (+ slack) before ALB would call it unhealthy
    (DOWN, {"check_status": "L7STS", "check_code": "503"}, REC, True, 1004.5,
     ("initial", "Elb.InitialHealthChecking")),
    (DOWN, {"check_status": "L7STS", "check_code": "503"}, REC, True, 1004.8,
     ("unhealthy", "Target.ResponseCodeMismatch")),
    (DOWN, {"check_status": "L4TOUT"}, REC, True, 2000, ("unhealthy", "Target.Timeout")),
    (DOWN, {"check_status": "L7TOUT"}, REC, True, 2000, ("unhealthy", "Target.Timeout")),
    (DOWN, {"check_status": "L4CON", "last_chk": "Connection refused"}, REC, True, 2000,
     ("unhealthy", "Target.FailedHealthChecks")),
    (DOWN, {"check_status": "L7OK"}, REC, True, 1002, ("initial", "Elb.InitialHealthChecking")),
    # passing again after it was healthy once: unhealthy until the threshold is reached…
    (DOWN, {"check_status": "L7OK", "check_health": "1", "check_rise": "2"},
     TargetRecord("t1", "127.0.0.1", 8001, 100, registered_at=1000.0, healthy_at=1010.0), True, 2000,
     ("unhealthy", "Target.FailedHealthChecks")),
    # …but a target still rising to its first UP is in its initial checks, however long a run of
    # reloads (each restarts the count) has kept it there
    (DOWN, {"check_status": "L7OK", "check_health": "1", "check_rise": "2"}, REC, True, 2000,
     ("initial", "Elb.InitialHealthChecking")),
    (DOWN, {"check_status": "L7STS"}, None, True, 0, ("unhealthy", "Target.ResponseCodeMismatch")),
])
def test_alb_states_from_haproxy_states(row, stat, record, attached, now, expected):
    target = health.target_health(TG, row, stat, record, attached=attached, now=now)
    assert (target.state, target.reason) == expected


def test_target_health_carries_address_weight_and_requests_in_flight():
    target = health.target_health(TG, {**UP, "srv_uweight": "42"}, {"scur": "3", "qcur": "1"},
                                  REC, attached=True, now=1001)
    assert (target.target_id, target.address, target.weight, target.in_flight) == (
        "t1", "127.0.0.1:8001", 42, 4)
    unknown = health.target_health(TG, {**UP, "srv_addr": "127.0.0.9", "srv_port": "7"}, None,
                                   None, attached=True, now=0)
    assert unknown.address == "127.0.0.9:7"


def test_descriptions_say_what_failed():
    def description(stat):
        return health.target_health(TG, DOWN, stat, REC, attached=True, now=5000).description
    assert description({"check_status": "L7STS", "check_code": "503"}) == \
        "Health checks failed with these codes: [503]"
    assert description({"check_status": "L4CON", "last_chk": "Connection refused"}) == \
        "Health checks failed: connection refused"
    assert description({"check_status": "L7TOUT"}) == "Request timed out"


def test_targets_of_a_stopped_haproxy_are_unavailable_or_still_draining():
    assert health.unavailable(REC).state == "unavailable"
    assert health.unavailable(REC).reason == "Elb.InternalError"
    drained = TargetRecord("t2", "h", 1, 5, 0.0, deregistered_at=1.0)
    assert (health.unavailable(drained).state, health.unavailable(drained).weight) == (
        "draining", 5)


# --- state.json --------------------------------------------------------------------------


def test_state_round_trips_through_an_atomic_file(tmp_path):
    path = tmp_path / "state.json"
    assert load(path) == LBState()
    state = LBState(LISTENERS, GROUPS, {8080: {"web": 9, "api": 1}},
                    {"web": {"t1": REC, "t2": TargetRecord("t2", "h", 2, 3, 4.0, 5.0)}})
    save(path, state)
    assert load(path) == state
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary file left
    assert json.loads(path.read_text())["weights"] == {"8080": {"api": 1, "web": 9}}


def test_attached_groups_are_those_a_listener_forwards_to():
    state = LBState([Listener(1, "a"), Listener(2, "b")],
                    [TargetGroup(n) for n in "abcd"], {2: {"c": 1, "d": 0}})
    assert state.attached() == {"a", "c", "d"}


def test_apply_keeps_weights_only_while_their_listener_and_groups_stay():
    groups = [TargetGroup("a"), TargetGroup("b")]
    old = LBState([Listener(1, "a"), Listener(2, "a")], groups, {1: {"a": 1, "b": 2}, 2: {"b": 1}},
                  {"a": {"t": REC}, "b": {}})
    same = _with_topology(old, old.listeners, groups)
    assert same.weights == old.weights and same.targets == old.targets
    moved = _with_topology(old, [Listener(1, "b"), Listener(2, "a")], groups)
    assert moved.weights == {2: {"b": 1}}  # listener 1's default changed
    fewer = _with_topology(old, [Listener(1, "a")], [TargetGroup("a")])
    assert fewer.weights == {} and fewer.targets == {"a": {"t": REC}}


# --- runtime API answers -----------------------------------------------------------------


def test_runtime_answers_are_parsed():
    state = ("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state\n"
             "3 web 1 t1 127.0.0.1 2 8\n\n")
    assert parse_servers_state(state) == [{"be_id": "3", "be_name": "web", "srv_id": "1",
                                           "srv_name": "t1", "srv_addr": "127.0.0.1",
                                           "srv_op_state": "2", "srv_admin_state": "8"}]
    stat = "# pxname,svname,scur,last_chk,\nweb,t1,2,\"Service Unavailable\",\nweb,BACKEND,2,,\n"
    assert parse_stat(stat)[0] == {"pxname": "web", "svname": "t1", "scur": "2",
                                   "last_chk": "Service Unavailable"}
    assert parse_stat("No such backend.\n") == []
    assert parse_info("Name: HAProxy\nPid: 12\nUptime: 0d 0h00m05s\n")["Uptime"] == "0d 0h00m05s"
    proc = ("#<PID>          <type>          <reloads>       <uptime>        <version>\n"
            "11992           master          1 [failed: 0]   0d00h10m13s     2.6.12\n"
            "# workers\n22706           worker          0               0d00h00m01s     2.6.12\n"
            "# old workers\n12049           worker          1               0d00h10m13s     2.6.12\n"
            "# programs\n\n")
    assert parse_proc(proc) == {"master": [11992], "workers": [22706], "old workers": [12049]}
