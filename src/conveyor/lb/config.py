"""haproxy.cfg, the listeners' weight maps and the haproxy commands, built as data (pure).

HAProxy runs with its working directory set to the load balancer's directory and every path in
the configuration relative to it, so socket paths stay short and directories may be long:

    >>> status_expect("200-299")
    'rstatus ^(2[0-9][0-9])$'
    >>> map_entries({"blue": 90, "green": 10})
    [('0:8999', 'blue'), ('9000:9999', 'green')]
    >>> "bind 127.0.0.1:8080" in render_config([Listener(8080, "web")], [TargetGroup("web")], [])
    True

Choices made for "zero failed requests" (each is a named line below):
- `option http-server-close`: one connection to a target per request, so no idle pooled
  connection to a target that is stopping can ever be reused; costs one loopback connect.
- `option redispatch 1` + `retries 3` + `retry-on conn-failure empty-response response-timeout`:
  a target that refuses or drops a request is retried on another target; the layer-7 retries
  are disabled for non-idempotent methods (RFC 9110 §9.2.2), only connection failures are
  retried for POST/PATCH.
- `noreuseport`: a second HAProxy (a stale one from a deleted directory, another environment)
  cannot silently share a listener port and take part of its traffic: it fails to start.
  Reloads do not need SO_REUSEPORT: the master hands the listening sockets to the new worker.
- `option idle-close-on-response`: on a seamless reload, idle keep-alive client connections
  of the old process are not closed under the client (which would race its next request); the
  next response carries `Connection: close` instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from conveyor.lb.model import HealthCheck, Listener, TargetGroup, parse_matcher
from conveyor.providers.local.process import Command

HAPROXY_BINARY = "haproxy"
CONFIG_FILE = "haproxy.cfg"
ADMIN_SOCKET = "admin.sock"
MASTER_SOCKET = "master.sock"
PID_FILE = "haproxy.pid"
SERVER_STATE_FILE = "server-state"
LOG_FILE = "haproxy.log"

#: rand(WEIGHT_BUCKETS) picks the target group: weights are exact to 1/10,000.
WEIGHT_BUCKETS = 10_000
#: Timeouts (seconds). ALB's idle timeout is 60 s; a loopback connect either works at once or
#: is refused, so 1 s only matters for a target that black-holes packets.
CONNECT_TIMEOUT = 1.0
CLIENT_TIMEOUT = 60.0
SERVER_TIMEOUT = 60.0
HTTP_REQUEST_TIMEOUT = 10.0
KEEP_ALIVE_TIMEOUT = 60.0
#: How long an old process may finish its requests after a reload (beyond the longest
#: deregistration delay) before HAProxy kills it.
HARD_STOP_MARGIN = 30.0
MIN_HARD_STOP = 60.0
RETRIES = 3
MAX_THREADS = 4
#: What ALB's health checker sends (it identifies itself this way).
HEALTH_CHECK_USER_AGENT = "ELB-HealthChecker/2.0"
IDEMPOTENT_METHODS = "GET HEAD OPTIONS PUT DELETE TRACE"


@dataclass(frozen=True)
class ServerLine:
    """A registered target written into the configuration (so it survives a reload)."""

    target_group: str
    target_id: str
    host: str
    port: int
    weight: int
    draining: bool = False  # starts at weight 0 (no new requests) until drained at run time


def frontend_name(port: int) -> str:
    return f"listener_{port}"


def map_file(port: int) -> str:
    return f"listener-{port}.map"


def ms(seconds: float) -> str:
    """An HAProxy duration: '2s', '1500ms'."""
    millis = max(1, round(seconds * 1000))
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"


def code_regex(codes: list[int]) -> str:
    """A compact regex alternation for 3-digit status codes.

    >>> code_regex([200, 202, 301])
    '20[02]|301'
    >>> code_regex(list(range(200, 300)) + list(range(400, 405)))
    '2[0-9][0-9]|40[0-4]'
    """
    wanted = set(codes)
    parts: list[str] = []
    for hundred in sorted({c // 100 for c in wanted}):
        if all(hundred * 100 + i in wanted for i in range(100)):
            parts.append(f"{hundred}[0-9][0-9]")
            continue
        for ten in range(hundred * 10, hundred * 10 + 10):
            digits = [c % 10 for c in sorted(wanted) if c // 10 == ten]
            if len(digits) == 10:
                parts.append(f"{ten}[0-9]")
            elif len(digits) == 1:
                parts.append(f"{ten}{digits[0]}")
            elif digits:
                parts.append(f"{ten}[{_digit_class(digits)}]")
    return "|".join(parts)


def _digit_class(digits: list[int]) -> str:
    """'0-4' for 0,1,2,3,4; '02' for 0,2; '0-24' for 0,1,2,4."""
    runs: list[list[int]] = []
    for d in digits:
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    return "".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else "".join(map(str, r)) for r in runs)


def status_expect(matcher: str) -> str:
    """The `http-check expect` argument for an ALB matcher."""
    codes = parse_matcher(matcher)
    if len(codes) == 1:
        return f"status {codes[0]}"
    return f"rstatus ^({code_regex(codes)})$"


def server_args(hc: HealthCheck, weight: int) -> list[str]:
    """Server keywords shared by config lines and `add server` (a dynamic server takes nothing
    from `default-server`, so everything is spelled out)."""
    args = ["weight", str(weight), "check", "inter", ms(hc.interval),
            "fall", str(hc.unhealthy_threshold), "rise", str(hc.healthy_threshold)]
    if hc.port is not None:
        args += ["port", str(hc.port)]
    return args


def map_entries(weights: dict[str, int]) -> list[tuple[str, str]]:
    """`rand(WEIGHT_BUCKETS)` ranges per target group, proportional to w_i / Σw (ALB)."""
    total = sum(weights.values())
    entries, start, cumulative = [], 0, 0
    for name, weight in weights.items():
        if weight <= 0:
            continue
        cumulative += weight
        end = WEIGHT_BUCKETS * cumulative // total
        if end > start:
            entries.append((f"{start}:{end - 1}", name))
        start = end
    return entries


def render_map(weights: dict[str, int] | None) -> str:
    """A listener's map file; empty means 'the listener's default target group'."""
    lines = ["# rand bucket range -> target group; rewritten by Conveyor"]
    lines += [f"{key} {value}" for key, value in map_entries(weights or {})]
    return "\n".join(lines) + "\n"


def hard_stop_after(target_groups: list[TargetGroup]) -> float:
    longest = max((tg.deregistration_delay for tg in target_groups), default=0.0)
    return max(MIN_HARD_STOP, longest + HARD_STOP_MARGIN)


def render_config(listeners: list[Listener], target_groups: list[TargetGroup],
                  servers: list[ServerLine], *, name: str = "", threads: int = 2) -> str:
    lines = [
        f"# Load balancer {name!r}, generated by Conveyor: rewritten on every apply().",
        "global",
        f"    stats socket unix@{ADMIN_SOCKET} mode 600 level admin expose-fd listeners",
        f"    pidfile {PID_FILE}",
        f"    server-state-file {SERVER_STATE_FILE}",
        f"    hard-stop-after {ms(hard_stop_after(target_groups))}",
        f"    nbthread {max(1, min(MAX_THREADS, threads))}",
        "    noreuseport",
        "    log stdout format raw local0",
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option httplog",
        "    option dontlog-normal",
        "    option http-server-close",
        "    option idle-close-on-response",
        "    option redispatch 1",
        f"    retries {RETRIES}",
        "    retry-on conn-failure empty-response response-timeout",
        f"    timeout connect {ms(CONNECT_TIMEOUT)}",
        f"    timeout client {ms(CLIENT_TIMEOUT)}",
        f"    timeout server {ms(SERVER_TIMEOUT)}",
        f"    timeout http-request {ms(HTTP_REQUEST_TIMEOUT)}",
        f"    timeout http-keep-alive {ms(KEEP_ALIVE_TIMEOUT)}",
        "    load-server-state-from-file global",
    ]
    for listener in listeners:
        lines += [
            "",
            f"frontend {frontend_name(listener.port)}",
            f"    bind {listener.bind}:{listener.port}",
            "    option forwardfor",
            "    http-request set-header X-Forwarded-Proto http",
            f"    http-request set-header X-Forwarded-Port {listener.port}",
            f"    http-request disable-l7-retry unless {{ method {IDEMPOTENT_METHODS} }}",
            (f"    http-request set-var(txn.forward) rand({WEIGHT_BUCKETS}),"
             f"map_int({map_file(listener.port)})"),
            "    use_backend %[var(txn.forward)] if { var(txn.forward) -m found }",
            f"    default_backend {listener.target_group}",
        ]
    by_group: dict[str, list[ServerLine]] = {}
    for server in servers:
        by_group.setdefault(server.target_group, []).append(server)
    for tg in target_groups:
        hc = tg.health_check
        lines += [
            "",
            f"backend {tg.name}",
            "    balance roundrobin",
            "    option httpchk",
            (f"    http-check send meth GET uri {hc.path} ver HTTP/1.1 hdr Host localhost "
             f"hdr User-Agent {HEALTH_CHECK_USER_AGENT}"),
            f"    http-check expect {status_expect(hc.matcher)}",
            f"    timeout check {ms(hc.timeout)}",
        ]
        for server in by_group.get(tg.name, []):
            args = server_args(hc, 0 if server.draining else server.weight)
            lines.append(f"    server {server.target_id} {server.host}:{server.port} "
                         + " ".join(args))
    return "\n".join(lines) + "\n"


def check_command(config: str = CONFIG_FILE, *, cwd: str) -> Command:
    """`haproxy -c`: validate a configuration before it replaces the running one."""
    return Command([HAPROXY_BINARY, "-c", "-f", config], cwd=cwd, timeout=30)


def start_command(*, cwd: str) -> Command:
    """The master-worker process: the master keeps the listening sockets across reloads
    (SIGUSR2) and answers `show proc` on its own socket."""
    return Command([HAPROXY_BINARY, "-W", "-S", f"unix@{MASTER_SOCKET},mode,600",
                    "-f", CONFIG_FILE], cwd=cwd)
