"""The verdict of a `conveyor verify` run, computed from what the load generator recorded (one
Sample per request) and a few clock readings (when each phase began and ended). Pure
arithmetic: nothing here sends a request or reads a clock, so every rule below is tested on
constructed samples.

    report = build_report(samples, started_at=t0, end=t3, rate=100.0,
                          phases=[Phase("before", t0, t1), Phase("during", t1, t2), Phase("after", t2, t3)],
                          action=ActionOutcome("deploy", "d-1", "Succeeded", "", 4.2))
    report.passed, report.reasons

The rules, and why:

- A request belongs to the phase in which it *started* (it was offered to the service then).
- Failed = no 2xx answer: by status code ("503") or by the error that ended it ("ConnectionRefused",
  "Timeout", "StaleConnection" ...), and by method: a failed POST is a lost write.
- The longest gap between successes counts from the load's start to the first 2xx answer and from
  the last one to the load's end too: a service that stops answering for good shows as one gap to
  the end, not as no gap at all.
- The generator kept its rate when no request started more than CLEAN_MAX_LAG_MS after its slot
  (request i's slot is started_at + i / rate) and at least CLEAN_ACHIEVED_FRACTION of the rate was
  sent. A run that fell behind offered the service less load than it claims, so it does not pass
  whatever its failed count.
- Versions: each version header value that answered 2xx, with its first and last answer (seconds
  from the start) and count, overall and per phase: "v1 until 6.1 s, both from 4.8 s, v2 from 4.8 s".
- Passed = at least one request, none failed, the rate kept, and the deployment or rollback (if
  any) Succeeded.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from conveyor.loadgen import CLEAN_ACHIEVED_FRACTION, CLEAN_MAX_LAG_MS, LATE_START_MS, Sample

SUCCEEDED = "Succeeded"


@dataclass(frozen=True)
class Phase:
    """A named span [start, end) of monotonic time; requests started in it belong to it."""

    name: str
    start: float
    end: float


@dataclass(frozen=True)
class ActionOutcome:
    """What the deployment or rollback started during the load did, as the daemon reported it."""

    kind: str                     # "deploy" | "rollback"
    deployment_id: str
    outcome: str                  # Succeeded | Failed | Stopped | InProgress (timed out waiting) ...
    reason: str = ""
    seconds: float = 0.0          # from its start to done
    task_definition: str = ""

    @property
    def succeeded(self) -> bool:
        return self.outcome == SUCCEEDED

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "deploymentId": self.deployment_id, "outcome": self.outcome,
                "reason": self.reason, "seconds": round(self.seconds, 3), "taskDefinition": self.task_definition}


@dataclass(frozen=True)
class Failures:
    """Failed requests by cause and by method."""

    total: int = 0
    by_status: dict[str, int] = field(default_factory=dict)     # "503": n
    by_error: dict[str, int] = field(default_factory=dict)      # "ConnectionRefused": n, "Timeout": n
    by_method: dict[str, int] = field(default_factory=dict)     # "GET": n, "POST": n

    def to_json(self) -> dict[str, Any]:
        return {"total": self.total, "byStatus": dict(self.by_status), "byError": dict(self.by_error),
                "byMethod": dict(self.by_method)}


@dataclass(frozen=True)
class PhaseStats:
    name: str
    start_s: float                # from the load's start
    end_s: float
    requests: int
    ok: int
    failures: Failures
    latency_ms: dict[str, float]  # p50, p99 over answered requests (any status); empty if none
    versions: dict[str, int]      # 2xx answers per version ("" when the header was absent)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "startS": round(self.start_s, 3), "endS": round(self.end_s, 3),
                "requests": self.requests, "ok": self.ok, "failed": self.failures.to_json(),
                "latencyMs": {k: round(v, 2) for k, v in self.latency_ms.items()}, "versions": dict(self.versions)}


@dataclass(frozen=True)
class VersionSpan:
    """One version's 2xx answers: first and last arrival (seconds from the load's start), count."""

    version: str
    first_s: float
    last_s: float
    count: int

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "firstS": round(self.first_s, 3), "lastS": round(self.last_s, 3),
                "count": self.count}


@dataclass(frozen=True)
class Schedule:
    """How well the generator kept its open-loop schedule."""

    rate: float                   # asked for, requests/s
    achieved_rate: float          # sent per second of the sending window
    max_lag_ms: float             # worst start after a request's slot
    late_starts: int              # started more than LATE_START_MS after their slot

    @property
    def kept(self) -> bool:
        return self.max_lag_ms <= CLEAN_MAX_LAG_MS and self.achieved_rate >= CLEAN_ACHIEVED_FRACTION * self.rate

    def to_json(self) -> dict[str, Any]:
        return {"rate": self.rate, "achievedRate": round(self.achieved_rate, 2), "maxLagMs": round(self.max_lag_ms, 2),
                "lateStarts": self.late_starts, "kept": self.kept,
                "rule": f"no start more than {CLEAN_MAX_LAG_MS:g} ms late and at least "
                        f"{CLEAN_ACHIEVED_FRACTION:.0%} of the rate sent"}


@dataclass(frozen=True)
class Gap:
    ms: float
    ended_at_s: float | None      # when the answer (or the load's end) that closed it arrived
    phase: str | None

    def to_json(self) -> dict[str, Any]:
        return {"ms": round(self.ms, 2), "endedAtS": None if self.ended_at_s is None else round(self.ended_at_s, 3),
                "phase": self.phase}


@dataclass(frozen=True)
class Report:
    requests: int
    ok: int
    failures: Failures
    longest_gap: Gap
    latency_ms: dict[str, float]
    phases: tuple[PhaseStats, ...]
    versions: tuple[VersionSpan, ...]
    schedule: Schedule
    action: ActionOutcome | None
    duration_s: float
    methods: dict[str, int]       # requests per method
    reasons: tuple[str, ...]      # why it did not pass; empty when it passed

    @property
    def passed(self) -> bool:
        return not self.reasons

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "reasons": list(self.reasons), "requests": self.requests, "ok": self.ok,
                "failed": self.failures.to_json(), "methods": dict(self.methods),
                "longestGap": self.longest_gap.to_json(),
                "latencyMs": {k: round(v, 2) for k, v in self.latency_ms.items()},
                "phases": [p.to_json() for p in self.phases], "versions": [v.to_json() for v in self.versions],
                "schedule": self.schedule.to_json(), "action": None if self.action is None else self.action.to_json(),
                "durationS": round(self.duration_s, 3)}


def build_report(samples: Sequence[Sample], *, started_at: float, end: float, rate: float,
                 phases: Sequence[Phase], action: ActionOutcome | None = None) -> Report:
    """The report of one run: `samples` as the generator kept them, the generator's first slot
    (`started_at`), when the load ended (`end`), its target `rate` and the phases."""
    ok = sorted((s for s in samples if s.ok), key=lambda s: s.t_end)
    failures = failures_of(samples)
    schedule = schedule_of(samples, started_at=started_at, rate=rate)
    gap = longest_gap(ok, started_at=started_at, end=end, phases=phases)
    reasons = verdict_reasons(len(samples), failures, schedule, action)
    return Report(
        requests=len(samples), ok=len(ok), failures=failures, longest_gap=gap,
        latency_ms=latency_summary([s.t_end - s.t_start for s in samples if s.status is not None]),
        phases=tuple(phase_stats(samples, p, started_at=started_at) for p in phases),
        versions=version_spans(ok, started_at=started_at), schedule=schedule, action=action,
        duration_s=max(0.0, end - started_at), methods=_methods(samples), reasons=reasons)


def verdict_reasons(requests: int, failures: Failures, schedule: Schedule, action: ActionOutcome | None
                    ) -> tuple[str, ...]:
    """Why a run does not pass, in words; empty when it passes."""
    out = []
    if requests == 0:
        out.append("no request was sent")
    if failures.total:
        out.append(f"{failures.total} request{'s' if failures.total != 1 else ''} failed")
    if not schedule.kept:
        out.append(f"the generator did not keep its rate ({schedule.achieved_rate:.1f}/s of {schedule.rate:g}/s, "
                   f"a start up to {schedule.max_lag_ms:.0f} ms late): the service was offered less than claimed")
    if action is not None and not action.succeeded:
        out.append(f"the {action.kind} {action.deployment_id or ''} ended {action.outcome}".replace("  ", " ")
                   + (f": {action.reason}" if action.reason else ""))
    return tuple(out)


def failures_of(samples: Sequence[Sample]) -> Failures:
    by_status: dict[str, int] = {}
    by_error: dict[str, int] = {}
    by_method: dict[str, int] = {}
    total = 0
    for s in samples:
        if s.ok:
            continue
        total += 1
        if s.status is None:
            key = s.error or "Unknown"
            by_error[key] = by_error.get(key, 0) + 1
        else:
            by_status[str(s.status)] = by_status.get(str(s.status), 0) + 1
        method = "POST" if s.post else "GET"
        by_method[method] = by_method.get(method, 0) + 1
    return Failures(total, by_status, by_error, by_method)


def schedule_of(samples: Sequence[Sample], *, started_at: float, rate: float) -> Schedule:
    """Requests start in slot order (the generator begins request i before i + 1, and a retry
    keeps its first start), so the i-th start by time is slot i, due at started_at + i / rate."""
    starts = sorted(s.t_start for s in samples)
    if not starts:
        return Schedule(rate, 0.0, 0.0, 0)
    lags = [t - (started_at + i / rate) for i, t in enumerate(starts)]
    window = starts[-1] - started_at + 1 / rate
    late = sum(1 for lag in lags if lag * 1000 > LATE_START_MS)
    return Schedule(rate, len(starts) / window, max(0.0, max(lags)) * 1000, late)


def longest_gap(ok: Sequence[Sample], *, started_at: float, end: float, phases: Sequence[Phase]) -> Gap:
    """The longest time without a 2xx answer, `ok` in arrival order; the load's start and end are
    boundaries too (see the module's rules)."""
    marks = [started_at, *(s.t_end for s in ok), max(end, ok[-1].t_end if ok else end)]
    best, at = 0.0, None
    for a, b in zip(marks, marks[1:], strict=False):
        if b - a > best:
            best, at = b - a, b
    phase = None
    if at is not None:
        phase = next((p.name for p in phases if p.start <= at - best / 2 < p.end), phases[-1].name if phases else None)
    return Gap(best * 1000, None if at is None else at - started_at, phase)


def phase_stats(samples: Sequence[Sample], phase: Phase, *, started_at: float) -> PhaseStats:
    mine = [s for s in samples if phase.start <= s.t_start < phase.end]
    versions: dict[str, int] = {}
    for s in mine:
        if s.ok:
            versions[s.version or ""] = versions.get(s.version or "", 0) + 1
    return PhaseStats(phase.name, phase.start - started_at, phase.end - started_at, len(mine),
                      sum(1 for s in mine if s.ok), failures_of(mine),
                      latency_summary([s.t_end - s.t_start for s in mine if s.status is not None]), versions)


def version_spans(ok: Sequence[Sample], *, started_at: float) -> tuple[VersionSpan, ...]:
    """Per version, its first and last 2xx answer; ordered by first answer."""
    spans: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    for s in ok:
        v = s.version or ""
        span = spans.setdefault(v, [s.t_end, s.t_end])
        span[0], span[1] = min(span[0], s.t_end), max(span[1], s.t_end)
        counts[v] = counts.get(v, 0) + 1
    return tuple(VersionSpan(v, a - started_at, b - started_at, counts[v])
                 for v, (a, b) in sorted(spans.items(), key=lambda kv: kv[1][0]))


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50 and p99 (and max) in milliseconds; {} for no answers.

        >>> latency_summary([0.001, 0.002, 0.003])
        {'p50': 2.0, 'p99': 2.98, 'max': 3.0}
    """
    ordered = sorted(seconds)
    if not ordered:
        return {}
    if len(ordered) == 1:
        return {"p50": ordered[0] * 1000, "p99": ordered[0] * 1000, "max": ordered[0] * 1000}
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": round(cuts[49] * 1000, 6), "p99": round(cuts[98] * 1000, 6), "max": ordered[-1] * 1000}


def _methods(samples: Sequence[Sample]) -> dict[str, int]:
    posts = sum(1 for s in samples if s.post)
    return {"GET": len(samples) - posts, "POST": posts}
