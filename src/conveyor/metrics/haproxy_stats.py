"""HAProxy `show stat` rows → per-second datapoints in ALB's metric names (pure).

    before = Snapshot.of(rows_at_t0, at=t0)
    after = Snapshot.of(rows_at_t1, at=t1)
    datapoints("production", before, after, topology, now=t1)   # [] when `after` is a new baseline

What HAProxy 2.6 counts (seen on a real one; tests/metrics/test_metrics_sampler.py):
- FRONTEND rows (`listener_<port>`): req_tot, hrsp_1xx…hrsp_5xx, hrsp_other. No econ, no rtime.
- BACKEND rows (one per target group): req_tot, hrsp_*, econ, rtime, cli_abrt, srv_abrt…
  The backend counts every request routed to it, including those HAProxy answered itself
  because no target was available (a 503 that also counts as an `econ`).
- server rows (one per target): req_tot, hrsp_*, econ, rtime: only what that target did.

So, per target group (scope `tg:<name>`):
- RequestCount = the backend's req_tot: every request routed to the target group. ALB leaves out
  requests for which it could not pick a target; Conveyor counts them, so that "green answered
  nothing" never looks like "green got no traffic". They show as HTTPCode_ELB_5XX_Count.
- HTTPCode_Target_2XX/3XX/4XX/5XX_Count, TargetConnectionErrorCount = the sums over the target
  group's servers (responses the targets produced, connections to targets that failed).
- HTTPCode_ELB_5XX_Count = backend 5xx − targets' 5xx (what HAProxy generated: 503 no healthy
  target…). ALB publishes it per load balancer only; Conveyor also has it per target group.
- TargetResponseTime = the backend's rtime in seconds, in seconds when targets answered. It is
  HAProxy's running average over the last 1024 responses, not the exact average of that second,
  and HAProxy's stats have no percentile: an alarm on p99 cannot be evaluated (Average is).
- HealthyHostCount / UnHealthyHostCount: the servers by ALB state (initial and draining targets
  are neither), published every second.

Per listener (scope `listener:<environment>:<port>`), from the FRONTEND row: RequestCount,
HTTPCode_Target_2XX/3XX/4XX_Count (every such response sent to clients, whoever produced it),
HTTPCode_ELB_5XX_Count = frontend 5xx − the targets' 5xx of the target groups it forwards to
(floor 0; when two listeners share a target group, both subtract all of its 5xx, so ELB 5xx
may be under-counted) and HTTPCode_Target_5XX_Count = frontend 5xx − that.

Counted metrics get datapoints only in a second with activity (a request or a response), zeros
included. Counters are cumulative since the HAProxy worker started: a reload or restart resets
them. A counter that went down, or a changed set of frontends/backends (Conveyor reloads only
when they change), makes the new snapshot a baseline: no counted datapoints for that second.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conveyor.lb import health
from conveyor.lb.state import LBState
from conveyor.metrics.store import Datapoint, listener_scope, tg_scope

COUNTERS = ("req_tot", "hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other",
            "econ")
RESPONSES = ("hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other")
TARGET_CODES = {"HTTPCode_Target_2XX_Count": "hrsp_2xx", "HTTPCode_Target_3XX_Count": "hrsp_3xx",
                "HTTPCode_Target_4XX_Count": "hrsp_4xx", "HTTPCode_Target_5XX_Count": "hrsp_5xx"}
FRONTEND_PREFIX = "listener_"

Counters = dict[str, int]


@dataclass
class Server:
    counters: Counters
    status: str
    check_status: str


@dataclass
class Snapshot:
    """One `show stat` of one load balancer, at `at` (wall clock)."""

    at: float
    frontends: dict[str, Counters] = field(default_factory=dict)
    backends: dict[str, tuple[Counters, int]] = field(default_factory=dict)  # (counters, rtime ms)
    servers: dict[str, dict[str, Server]] = field(default_factory=dict)  # backend → name → server

    @classmethod
    def of(cls, rows: list[dict], at: float) -> Snapshot:
        snap = cls(at)
        for row in rows:
            px, sv = row.get("pxname", ""), row.get("svname", "")
            counters = {name: _int(row.get(name)) for name in COUNTERS}
            if sv == "FRONTEND":
                snap.frontends[px] = counters
            elif sv == "BACKEND":
                snap.backends[px] = (counters, _int(row.get("rtime")))
            else:
                snap.servers.setdefault(px, {})[sv] = Server(
                    counters, row.get("status", ""), row.get("check_status", "").lstrip("* ").strip())
        return snap


def is_baseline(before: Snapshot | None, after: Snapshot) -> bool:
    """True when `after` cannot be compared with `before`: none yet, another worker (a counter
    went down), or another configuration (frontends or backends came or went)."""
    if before is None:
        return True
    if set(before.frontends) != set(after.frontends) or set(before.backends) != set(after.backends):
        return True
    pairs = [(before.frontends[n], after.frontends[n]) for n in after.frontends]
    pairs += [(before.backends[n][0], after.backends[n][0]) for n in after.backends]
    return any(new[c] < old[c] for old, new in pairs for c in COUNTERS)


def datapoints(environment: str, before: Snapshot | None, after: Snapshot, topology: LBState,
               now: float) -> list[Datapoint]:
    """The datapoints of the second before `after`: host counts always, counted metrics only
    when `after` is not a baseline and something happened."""
    ts = int(after.at) - 1
    points = [Datapoint(ts, tg_scope(tg), metric, float(value))
              for tg in after.backends
              for metric, value in host_counts(after.servers.get(tg, {}), tg, topology, now).items()]
    if before is None or is_baseline(before, after):
        return points
    target_5xx: dict[str, int] = {}
    for tg, (counters, rtime) in after.backends.items():
        backend = _delta(before.backends[tg][0], counters)
        servers = _server_deltas(before.servers.get(tg, {}), after.servers.get(tg, {}))
        target_5xx[tg] = servers["hrsp_5xx"]
        if not _active(backend) and not _active(servers):
            continue
        scope = tg_scope(tg)
        values: dict[str, float] = {"RequestCount": backend["req_tot"]}
        values.update({metric: servers[field_] for metric, field_ in TARGET_CODES.items()})
        values["HTTPCode_ELB_5XX_Count"] = max(0, backend["hrsp_5xx"] - servers["hrsp_5xx"])
        values["TargetConnectionErrorCount"] = servers["econ"]
        if sum(servers[c] for c in RESPONSES):
            values["TargetResponseTime"] = rtime / 1000.0
        points += [Datapoint(ts, scope, metric, float(v)) for metric, v in values.items()]
    routes = forwards(topology)
    for name, counters in after.frontends.items():
        port = _port(name)
        delta = _delta(before.frontends[name], counters)
        if port is None or not _active(delta):
            continue
        produced = sum(target_5xx.get(tg, 0) for tg in routes.get(port, ()))
        elb = max(0, delta["hrsp_5xx"] - produced)
        values = {"RequestCount": delta["req_tot"],
                  "HTTPCode_Target_2XX_Count": delta["hrsp_2xx"],
                  "HTTPCode_Target_3XX_Count": delta["hrsp_3xx"],
                  "HTTPCode_Target_4XX_Count": delta["hrsp_4xx"],
                  "HTTPCode_Target_5XX_Count": delta["hrsp_5xx"] - elb,
                  "HTTPCode_ELB_5XX_Count": elb}
        scope = listener_scope(environment, port)
        points += [Datapoint(ts, scope, metric, float(v)) for metric, v in values.items()]
    return points


def host_counts(servers: dict[str, Server], target_group: str, topology: LBState,
                now: float) -> dict[str, int]:
    """HealthyHostCount / UnHealthyHostCount of a target group from its server rows. A DOWN
    target still within its initial checks (as conveyor.lb.health judges it) is neither."""
    tg = topology.target_group(target_group)
    records = topology.targets.get(target_group, {})
    healthy = unhealthy = 0
    for name, server in servers.items():
        status, record = server.status, records.get(name)
        if status.startswith(("MAINT", "DRAIN", "NOLB")) or (record and record.deregistered_at):
            continue
        if status.startswith("UP") or status == "no check":
            healthy += 1
            continue
        if server.check_status in ("", "INI"):
            continue
        if tg is not None and record is not None:
            hc = tg.health_check
            passed = server.check_status in health.PASSED_CHECKS
            threshold = hc.healthy_threshold if passed else hc.unhealthy_threshold
            if now - record.registered_at < threshold * (hc.interval + hc.timeout) + health.CHECK_SLACK:
                continue
        unhealthy += 1
    return {"HealthyHostCount": healthy, "UnHealthyHostCount": unhealthy}


def forwards(topology: LBState) -> dict[int, set[str]]:
    """Listener port → the target groups it forwards to."""
    return {lst.port: set(topology.weights.get(lst.port) or {lst.target_group: 1})
            for lst in topology.listeners}


def _server_deltas(before: dict[str, Server], after: dict[str, Server]) -> Counters:
    """Summed per-server deltas. A server that is new (or was deleted and added again: its
    counters went down) counts from zero; one that was removed contributes nothing."""
    total = dict.fromkeys(COUNTERS, 0)
    for name, server in after.items():
        old = before.get(name)
        if old is not None and any(server.counters[c] < old.counters[c] for c in COUNTERS):
            old = None  # deleted and added again: counts from zero, as a new one
        for c in COUNTERS:
            total[c] += server.counters[c] - (0 if old is None else old.counters[c])
    return total


def _delta(before: Counters, after: Counters) -> Counters:
    return {c: after[c] - before[c] for c in COUNTERS}


def _active(delta: Counters) -> bool:
    return delta["req_tot"] > 0 or delta["econ"] > 0 or any(delta[c] for c in RESPONSES)


def _port(frontend: str) -> int | None:
    if not frontend.startswith(FRONTEND_PREFIX):
        return None
    try:
        return int(frontend[len(FRONTEND_PREFIX):])
    except ValueError:
        return None


def _int(value) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0
