"""Target health in ALB's terms, derived from what HAProxy reports (pure; the clock is passed in).

    >>> tg = TargetGroup("web")
    >>> row = {"srv_name": "t1", "srv_op_state": "2", "srv_admin_state": "0", "srv_uweight": "100"}
    >>> rec = TargetRecord("t1", "127.0.0.1", 8001, 100, registered_at=0.0)
    >>> target_health(tg, row, {"scur": "1"}, rec, attached=True, now=10.0).state
    'healthy'

HAProxy has no "initial" state: a target registered through `LoadBalancer.register` is forced
DOWN until `healthy_threshold` checks pass. While it is DOWN, it is reported `initial` for as long
as ALB would still be running its initial checks (threshold × (interval + timeout) since
registration), `unhealthy` afterwards, with the reason taken from HAProxy's last check.
"""

from __future__ import annotations

from conveyor.lb.model import (
    DRAINING,
    HEALTHY,
    INITIAL,
    UNAVAILABLE,
    UNHEALTHY,
    UNUSED,
    TargetGroup,
    TargetHealth,
)
from conveyor.lb.state import TargetRecord

# HAProxy `show servers state` srv_op_state and srv_admin_state bits (management.txt §9.3).
OP_STOPPED, OP_STARTING, OP_RUNNING, OP_STOPPING = 0, 1, 2, 3
ADMIN_MAINT = 0x01 | 0x02 | 0x04 | 0x20  # forced, inherited, from config, resolution
ADMIN_DRAIN = 0x08 | 0x10  # forced, inherited

#: Added to the initial-check window: HAProxy's first check comes one interval after enabling.
CHECK_SLACK = 0.25
PASSED_CHECKS = ("L4OK", "L6OK", "L7OK", "L7OKC")
TIMEOUT_CHECKS = ("L4TOUT", "L6TOUT", "L7TOUT")

# ALB reason codes and their descriptions (DescribeTargetHealth).
REGISTRATION_IN_PROGRESS = ("Elb.RegistrationInProgress", "Target registration is in progress")
INITIAL_HEALTH_CHECKING = ("Elb.InitialHealthChecking", "Initial health checks in progress")
DEREGISTRATION_IN_PROGRESS = ("Target.DeregistrationInProgress",
                              "Target deregistration is in progress")
NOT_IN_USE = ("Target.NotInUse",
              "Target group is not configured to receive traffic from the load balancer")
RESPONSE_CODE_MISMATCH = "Target.ResponseCodeMismatch"
TIMEOUT = ("Target.Timeout", "Request timed out")
FAILED_HEALTH_CHECKS = "Target.FailedHealthChecks"
INTERNAL_ERROR = ("Elb.InternalError", "The load balancer (HAProxy) is not running")


def target_health(tg: TargetGroup, row: dict[str, str], stat: dict[str, str] | None,
                  record: TargetRecord | None, *, attached: bool, now: float) -> TargetHealth:
    """One target from its `show servers state` row, its `show stat` row and its record."""
    stat = stat or {}
    admin = _int(row.get("srv_admin_state"))
    op = _int(row.get("srv_op_state"))
    address = record.address if record else f"{row.get('srv_addr')}:{row.get('srv_port')}"
    weight = _int(row.get("srv_uweight"))
    in_flight = _int(stat.get("scur")) + _int(stat.get("qcur"))

    check = stat.get("check_status", "").lstrip("* ").strip()

    def health(state: str, reason: tuple[str, str] | None) -> TargetHealth:
        code, text = reason if reason else (None, None)
        return TargetHealth(row.get("srv_name", ""), address, state, code, text, weight, in_flight,
                            registered_at=record.registered_at if record else None,
                            passing=check in PASSED_CHECKS)

    if (record and record.deregistered_at is not None) or admin & ADMIN_DRAIN:
        return health(DRAINING, DEREGISTRATION_IN_PROGRESS)
    if admin & ADMIN_MAINT:
        return health(INITIAL, REGISTRATION_IN_PROGRESS)
    if not attached:
        return health(UNUSED, NOT_IN_USE)
    if op in (OP_RUNNING, OP_STARTING):
        return health(HEALTHY, None)
    if check in ("", "INI"):
        return health(INITIAL, INITIAL_HEALTH_CHECKING)
    hc = tg.health_check
    passed = check in PASSED_CHECKS
    if passed and record is not None and record.healthy_at is None:
        # Still rising to its first UP: its initial checks are passing. (A reload restarts the
        # count, so the time since registration alone would call it unhealthy too early.)
        return health(INITIAL, INITIAL_HEALTH_CHECKING)
    threshold = hc.healthy_threshold if passed else hc.unhealthy_threshold
    window = threshold * (hc.interval + hc.timeout) + CHECK_SLACK
    since = now - record.registered_at if record else float("inf")
    if since < window:
        return health(INITIAL, INITIAL_HEALTH_CHECKING)
    return health(UNHEALTHY, failure_reason(check, stat, hc.path))


def failure_reason(check: str, stat: dict[str, str], path: str) -> tuple[str, str]:
    """ALB's reason for an unhealthy target, from HAProxy's last check status.

    >>> failure_reason("L7STS", {"check_code": "503"}, "/health")
    ('Target.ResponseCodeMismatch', 'Health checks failed with these codes: [503]')
    >>> failure_reason("L4CON", {"last_chk": "Connection refused"}, "/")
    ('Target.FailedHealthChecks', 'Health checks failed: connection refused')
    """
    if check == "L7STS":
        return RESPONSE_CODE_MISMATCH, (f"Health checks failed with these codes: "
                                        f"[{stat.get('check_code') or '?'}]")
    if check in TIMEOUT_CHECKS:
        return TIMEOUT
    if check in PASSED_CHECKS:
        return FAILED_HEALTH_CHECKS, (f"Health checks on {path} are passing again "
                                      f"({stat.get('check_health', '?')} of the healthy "
                                      f"threshold {stat.get('check_rise', '?')})")
    detail = stat.get("last_chk") or stat.get("check_desc") or check
    return FAILED_HEALTH_CHECKS, f"Health checks failed: {detail[:1].lower()}{detail[1:]}"


def unavailable(record: TargetRecord) -> TargetHealth:
    """A registered target while HAProxy is not running (ALB state `unavailable`)."""
    if record.deregistered_at is not None:
        state, (code, text) = DRAINING, DEREGISTRATION_IN_PROGRESS
    else:
        state, (code, text) = UNAVAILABLE, INTERNAL_ERROR
    return TargetHealth(record.target_id, record.address, state, code, text, record.weight, 0)


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0
