"""What a lifecycle hook receives and how its answer is read: pure, no I/O.

A hook gets the deployment id, its execution id, the lifecycle event and the test/production
URLs (CodeDeploy's event carries the first two, aws-semantics §5.4; the URLs are Conveyor's
convenience). It answers like an ECS-native Lambda hook (§4.7): `hookStatus` SUCCEEDED, FAILED
or IN_PROGRESS, an optional `callBackDelay` in seconds before the next poll, and `hookDetails`
handed back to the next attempt. Conveyor also accepts CodeDeploy's spelling, `status`
Succeeded / Failed / InProgress.

    >>> read_report('{"hookStatus": "IN_PROGRESS", "callBackDelay": 5, "hookDetails": {"n": 1}}')
    Report(status='InProgress', callback_delay=5.0, details={'n': 1}, has_details=True, error=None, said='IN_PROGRESS')
    >>> read_report("all good") is None
    True
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.config.codedeploy_model import DEFAULT_HOOK_TIMEOUT

# CodeDeploy's LifecycleEventStatus values that a hook invocation can end in (§5.4). "Pending"
# means the hook accepted the call and will report later through the daemon's
# PutLifecycleEventHookExecutionStatus-like API.
SUCCEEDED, FAILED, IN_PROGRESS, PENDING = "Succeeded", "Failed", "InProgress", "Pending"
STATUSES = (SUCCEEDED, FAILED, IN_PROGRESS, PENDING)
#: ECS: "callBackDelay … default 30" seconds before an IN_PROGRESS hook is invoked again (§4.7).
DEFAULT_CALLBACK_DELAY = 30.0
#: How much of a hook's output a result keeps (CodeDeploy's diagnostics.logTail is the last 4 KB).
LOG_TAIL_CHARS = 4096
#: Default per-invocation timeout: CodeDeploy gives a hook one hour (§5.4).
DEFAULT_TIMEOUT = DEFAULT_HOOK_TIMEOUT

#: The environment of command and container hooks (names → meaning). Also the HTTP payload,
#: under the keys of HTTP_PAYLOAD_KEYS.
HOOK_ENV_VARS = {
    "CONVEYOR_DEPLOYMENT_ID": "the deployment id (CodeDeploy's DeploymentId, d-XXXXXXXXX)",
    "CONVEYOR_HOOK_EXECUTION_ID": "this hook execution's id (LifecycleEventHookExecutionId)",
    "CONVEYOR_LIFECYCLE_EVENT": "the lifecycle event, e.g. AfterAllowTestTraffic",
    "CONVEYOR_ENVIRONMENT": "the environment the service runs in",
    "CONVEYOR_SERVICE": "the service being deployed",
    "CONVEYOR_TEST_URL": "the test listener's URL (green once test traffic is allowed); may be empty",
    "CONVEYOR_PRODUCTION_URL": "the production listener's URL; may be empty",
    "CONVEYOR_HOOK_ATTEMPT": "1 on the first invocation, +1 on each poll after IN_PROGRESS",
    "CONVEYOR_HOOK_DETAILS": "JSON: the hookDetails the previous attempt returned (null at first)",
}

# JSON keys of the HTTP payload, in the same order as HOOK_ENV_VARS' meanings.
HTTP_PAYLOAD_KEYS = ("DeploymentId", "LifecycleEventHookExecutionId", "LifecycleEvent", "Environment",
                     "Service", "TestUrl", "ProductionUrl", "Attempt", "hookDetails")

_STATUS_WORDS = {"succeeded": SUCCEEDED, "failed": FAILED, "inprogress": IN_PROGRESS}


@dataclass(frozen=True)
class HookContext:
    """One invocation of one hook. `details` is the hookDetails the previous attempt returned."""

    deployment_id: str
    execution_id: str
    lifecycle_event: str
    environment: str = ""
    service: str = ""
    test_url: str | None = None
    production_url: str | None = None
    workdir: Path | None = None
    attempt: int = 1
    details: Any = None


@dataclass(frozen=True)
class HookResult:
    """The outcome of one invocation. `callback_delay` (s) only means something for InProgress;
    `details` is what to pass back as HookContext.details on the next attempt; `log_tail` is the
    end of the hook's output, masked.

        >>> HookResult(FAILED, "exited with code 3").done
        True
    """

    status: str
    message: str
    callback_delay: float = 0.0
    details: Any = None
    log_tail: str = ""

    @property
    def done(self) -> bool:
        """Succeeded or Failed: no need to invoke the hook again."""
        return self.status in (SUCCEEDED, FAILED)

    def to_json(self) -> dict:
        return {"status": self.status, "message": self.message, "callbackDelay": self.callback_delay,
                "details": self.details, "logTail": self.log_tail}

    @classmethod
    def from_json(cls, data: dict) -> HookResult:
        return cls(data["status"], data.get("message", ""), float(data.get("callbackDelay", 0.0)),
                   data.get("details"), data.get("logTail", ""))


@dataclass(frozen=True)
class Report:
    """What a hook said about itself. `error` is set (and status is Failed) when it said
    something invalid; `said` is the status word as the hook spelt it."""

    status: str
    callback_delay: float = 0.0
    details: Any = None
    has_details: bool = False
    error: str | None = None
    said: str = ""


def hook_env(ctx: HookContext) -> dict[str, str]:
    """The CONVEYOR_* variables of HOOK_ENV_VARS for this invocation.

    >>> hook_env(HookContext("d-1", "x", "AfterInstall"))["CONVEYOR_HOOK_DETAILS"]
    'null'
    """
    return {
        "CONVEYOR_DEPLOYMENT_ID": ctx.deployment_id,
        "CONVEYOR_HOOK_EXECUTION_ID": ctx.execution_id,
        "CONVEYOR_LIFECYCLE_EVENT": ctx.lifecycle_event,
        "CONVEYOR_ENVIRONMENT": ctx.environment,
        "CONVEYOR_SERVICE": ctx.service,
        "CONVEYOR_TEST_URL": ctx.test_url or "",
        "CONVEYOR_PRODUCTION_URL": ctx.production_url or "",
        "CONVEYOR_HOOK_ATTEMPT": str(ctx.attempt),
        "CONVEYOR_HOOK_DETAILS": json.dumps(ctx.details, separators=(",", ":")),
    }


def hook_payload(ctx: HookContext) -> dict:
    """The JSON body POSTed to an HTTP hook (CodeDeploy's Lambda event keys, plus Conveyor's)."""
    values = (ctx.deployment_id, ctx.execution_id, ctx.lifecycle_event, ctx.environment, ctx.service,
              ctx.test_url or "", ctx.production_url or "", ctx.attempt, ctx.details)
    return dict(zip(HTTP_PAYLOAD_KEYS, values, strict=True))


def read_report(text: str) -> Report | None:
    """The hook's report if `text` is a JSON object with `hookStatus` (or `status`), else None.

    >>> read_report('{"hookStatus": "maybe"}').error
    "invalid hookStatus 'maybe' (expected SUCCEEDED, FAILED or IN_PROGRESS)"
    """
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # a hook's output is not ours to trust: deep nesting, huge ints
        return None
    if not isinstance(data, dict):
        return None
    return report_from(data)


def report_from(data: dict) -> Report | None:
    """As read_report, from an already parsed object. ECS fails the hook on a missing or invalid
    hookStatus (§4.7); an object with neither key is not a report at all (None)."""
    key = "hookStatus" if "hookStatus" in data else "status" if "status" in data else None
    if key is None:
        return None
    said = data[key]
    word = said.strip().lower().replace("_", "") if isinstance(said, str) else None
    has_details = "hookDetails" in data
    details = data.get("hookDetails")
    if word not in _STATUS_WORDS:
        expected = "SUCCEEDED, FAILED or IN_PROGRESS" if key == "hookStatus" else "Succeeded, Failed or InProgress"
        return Report(FAILED, details=details, has_details=has_details,
                      error=f"invalid {key} {_short(said)} (expected {expected})", said=str(said))
    status = _STATUS_WORDS[word]
    delay = data.get("callBackDelay", DEFAULT_CALLBACK_DELAY)
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay < float("inf"):
        return Report(FAILED, details=details, has_details=has_details,
                      error=f"invalid callBackDelay {_short(delay)} (expected a number of seconds ≥ 0)", said=said)
    return Report(status, float(delay) if status == IN_PROGRESS else 0.0, details, has_details, said=said)


def result_from_report(report: Report, ctx: HookContext, *, note: str = "", log_tail: str = "") -> HookResult:
    """The HookResult for a hook's report. Without hookDetails, the previous details carry over
    (the state between polls is not lost because one poll had nothing new to say)."""
    details = report.details if report.has_details else ctx.details
    suffix = f" ({note})" if note else ""
    if report.error:
        return HookResult(FAILED, report.error + suffix, 0.0, details, log_tail)
    message = f"reported {report.said}{suffix}"
    if report.status == IN_PROGRESS:
        message += f"; polling again in {report.callback_delay:g} s"
    return HookResult(report.status, message, report.callback_delay, details, log_tail)


def last_line(text: str) -> str:
    """The last non-blank line of `text` ('' if none)."""
    for line in reversed(text.splitlines()):
        if line.strip():
            return line
    return ""


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value) if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
