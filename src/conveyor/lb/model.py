"""The load balancer as data: target groups with their health checks, listeners, target health.

Pure: no I/O. Mirrors ELBv2 (aws-semantics.md §7) with local defaults that make deploys fast:

    >>> tg = TargetGroup("orders-blue", HealthCheck(path="/health", matcher="200-299"))
    >>> Listener(8080, "orders-blue").bind
    '127.0.0.1'
    >>> validate_topology([Listener(8080, "orders-blue")], [tg])  # or raises InvalidLoadBalancer
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from conveyor.lb.errors import InvalidLoadBalancer

#: Local defaults (ALB's in brackets, aws-semantics.md §7.1/7.2): checks every 2 s [30 s],
#: 1 s timeout [5 s], 2 passes [5] or 2 failures [2] to change state, 5 s draining [300 s].
DEFAULT_HEALTH_CHECK_INTERVAL = 2.0
DEFAULT_HEALTH_CHECK_TIMEOUT = 1.0
DEFAULT_HEALTHY_THRESHOLD = 2
DEFAULT_UNHEALTHY_THRESHOLD = 2
DEFAULT_MATCHER = "200"
DEFAULT_DEREGISTRATION_DELAY = 5.0
#: ALB: up to 5 target groups in one forward action, each weighted 0–999.
MAX_FORWARD_TARGET_GROUPS = 5
MAX_FORWARD_WEIGHT = 999
#: HAProxy's per-server weight range (`set server … weight`).
MAX_TARGET_WEIGHT = 256
DEFAULT_TARGET_WEIGHT = 100
#: ALB: deregistration_delay.timeout_seconds 0–3600; thresholds 2–10 (1 allowed locally).
MAX_DEREGISTRATION_DELAY = 3600.0
MAX_THRESHOLD = 10
#: ALB: HealthCheckPath ≤ 1024 characters; Matcher.HttpCode codes 200–499.
MAX_HEALTH_CHECK_PATH = 1024
MATCHER_CODES = range(200, 500)

#: ALB target health states (DescribeTargetHealth TargetHealth.State).
INITIAL, HEALTHY, UNHEALTHY, DRAINING, UNUSED, UNAVAILABLE = (
    "initial", "healthy", "unhealthy", "draining", "unused", "unavailable")

NAME = re.compile(r"[A-Za-z0-9_-]+")
TARGET_ID = re.compile(r"[A-Za-z0-9_.:-]+")
_HOST = re.compile(r"[A-Za-z0-9_.:-]+")


@dataclass(frozen=True)
class HealthCheck:
    """ALB target-group health check. `port=None` checks the traffic port."""

    path: str = "/"
    port: int | None = None
    interval: float = DEFAULT_HEALTH_CHECK_INTERVAL
    timeout: float = DEFAULT_HEALTH_CHECK_TIMEOUT
    healthy_threshold: int = DEFAULT_HEALTHY_THRESHOLD
    unhealthy_threshold: int = DEFAULT_UNHEALTHY_THRESHOLD
    matcher: str = DEFAULT_MATCHER  # "200", "200,202", "200-299"


@dataclass(frozen=True)
class TargetGroup:
    name: str  # [A-Za-z0-9_-]+ ; the HAProxy backend name
    health_check: HealthCheck = field(default_factory=HealthCheck)
    deregistration_delay: float = DEFAULT_DEREGISTRATION_DELAY


@dataclass(frozen=True)
class Listener:
    """A port forwarding to `target_group` (or, after `LoadBalancer.set_weights`, to up to five
    target groups by weight, like an ALB ForwardConfig)."""

    port: int
    target_group: str
    bind: str = "127.0.0.1"


@dataclass
class TargetHealth:
    target_id: str  # the server name, e.g. a task id
    address: str  # "127.0.0.1:43121"
    state: str  # initial | healthy | unhealthy | draining | unused | unavailable
    reason: str | None  # ALB reason code, e.g. Target.ResponseCodeMismatch
    description: str | None  # e.g. "Health checks failed with these codes: [503]"
    weight: int
    in_flight: int  # current sessions on the server (scur + qcur)
    #: Beyond ALB's view, for the scheduler's judgement: when the target was registered, and
    #: whether its last health check passed (an `initial` target that is rising, not failing).
    registered_at: float | None = None
    passing: bool = False


def parse_matcher(matcher: str) -> list[int]:
    """The status codes an ALB `Matcher.HttpCode` accepts, sorted.

    >>> parse_matcher("200,202")
    [200, 202]
    >>> len(parse_matcher("200-299"))
    100
    """
    codes: set[int] = set()
    for part in matcher.replace(" ", "").split(","):
        lo, sep, hi = part.partition("-")
        if not (lo.isdigit() and (not sep or hi.isdigit())):
            raise InvalidLoadBalancer(f"health check matcher '{matcher}': '{part}' is not a code "
                                      f"or a range", hint='use "200", "200,202" or "200-299"')
        first, last = int(lo), int(hi if sep else lo)
        if first > last or first not in MATCHER_CODES or last not in MATCHER_CODES:
            raise InvalidLoadBalancer(f"health check matcher '{matcher}': codes must be "
                                      f"{MATCHER_CODES.start}-{MATCHER_CODES.stop - 1} (ALB)")
        codes.update(range(first, last + 1))
    return sorted(codes)


def validate_health_check(tg: str, hc: HealthCheck) -> None:
    where = f"target group '{tg}' health check"
    if not hc.path.startswith("/") or len(hc.path) > MAX_HEALTH_CHECK_PATH or any(
            c.isspace() or c in "\"'\\#" for c in hc.path):
        raise InvalidLoadBalancer(f"{where}: path '{hc.path}' must start with / and have no "
                                  f"spaces or quotes (≤ {MAX_HEALTH_CHECK_PATH} characters)")
    if hc.port is not None and not 1 <= hc.port <= 65535:
        raise InvalidLoadBalancer(f"{where}: port {hc.port} is not 1-65535 (None = traffic port)")
    if not 0 < hc.timeout < hc.interval:
        raise InvalidLoadBalancer(f"{where}: timeout {hc.timeout:g} s must be positive and less "
                                  f"than the interval {hc.interval:g} s (as on ALB)")
    for label, value in (("healthy_threshold", hc.healthy_threshold),
                         ("unhealthy_threshold", hc.unhealthy_threshold)):
        if not 1 <= value <= MAX_THRESHOLD:
            raise InvalidLoadBalancer(f"{where}: {label} {value} is not 1-{MAX_THRESHOLD}")
    parse_matcher(hc.matcher)


def validate_topology(listeners: list[Listener], target_groups: list[TargetGroup]) -> None:
    """Raise InvalidLoadBalancer for the first thing HAProxy (or ALB) would refuse."""
    names: set[str] = set()
    for tg in target_groups:
        if not NAME.fullmatch(tg.name):
            raise InvalidLoadBalancer(f"target group name '{tg.name}' may only contain letters, "
                                      f"digits, '-' and '_'")
        if tg.name in names:
            raise InvalidLoadBalancer(f"target group '{tg.name}' is declared twice")
        names.add(tg.name)
        if not 0 <= tg.deregistration_delay <= MAX_DEREGISTRATION_DELAY:
            raise InvalidLoadBalancer(f"target group '{tg.name}': deregistration_delay "
                                      f"{tg.deregistration_delay:g} s is not 0-3600 s")
        validate_health_check(tg.name, tg.health_check)
    ports: set[int] = set()
    for listener in listeners:
        if not 1 <= listener.port <= 65535:
            raise InvalidLoadBalancer(f"listener port {listener.port} is not 1-65535")
        if listener.port in ports:
            raise InvalidLoadBalancer(f"listener port {listener.port} is declared twice")
        ports.add(listener.port)
        if listener.target_group not in names:
            known = ", ".join(sorted(names)) or "none"
            raise InvalidLoadBalancer(f"listener {listener.port} forwards to unknown target "
                                      f"group '{listener.target_group}'",
                                      hint=f"declare it; known: {known}")
        if not _HOST.fullmatch(listener.bind):
            raise InvalidLoadBalancer(f"listener {listener.port}: bind address "
                                      f"'{listener.bind}' is not an IP address")


def validate_target(target_id: str, host: str, port: int, weight: int) -> None:
    if not TARGET_ID.fullmatch(target_id):
        raise InvalidLoadBalancer(f"target id '{target_id}' may only contain letters, digits, "
                                  f"'-', '_', '.' and ':'")
    if not _HOST.fullmatch(host):
        raise InvalidLoadBalancer(f"target '{target_id}': host '{host}' is not an address")
    if not 1 <= port <= 65535:
        raise InvalidLoadBalancer(f"target '{target_id}': port {port} is not 1-65535")
    validate_target_weight(target_id, weight)


def validate_target_weight(target_id: str, weight: int) -> None:
    if not 0 <= weight <= MAX_TARGET_WEIGHT:
        raise InvalidLoadBalancer(f"target '{target_id}': weight {weight} is not "
                                  f"0-{MAX_TARGET_WEIGHT}")


def validate_forward_weights(port: int, weights: dict[str, int], known: set[str]) -> None:
    """ALB ForwardConfig rules: 1–5 target groups, weights 0–999, not all zero."""
    where = f"listener {port} forward weights"
    if not 1 <= len(weights) <= MAX_FORWARD_TARGET_GROUPS:
        raise InvalidLoadBalancer(f"{where}: {len(weights)} target groups; ALB allows "
                                  f"1-{MAX_FORWARD_TARGET_GROUPS}")
    for name, weight in weights.items():
        if name not in known:
            raise InvalidLoadBalancer(f"{where}: unknown target group '{name}'",
                                      hint=f"known: {', '.join(sorted(known)) or 'none'}")
        if isinstance(weight, bool) or not isinstance(weight, int) or not (
                0 <= weight <= MAX_FORWARD_WEIGHT):
            raise InvalidLoadBalancer(f"{where}: '{name}' weight {weight!r} is not "
                                      f"0-{MAX_FORWARD_WEIGHT}")
    if not any(weights.values()):
        raise InvalidLoadBalancer(f"{where}: all weights are 0; at least one target group "
                                  f"must receive traffic (ALB rejects this too)")
