"""What a load measured: one Sample per request, the running tally the generator keeps as
requests finish, and the LoadResult it adds up to (counts, latency percentiles, the longest gap
between 2xx answers, how late requests started). Pure arithmetic over samples and a clock's
readings; nothing here sends a request.

    >>> a = Sample(0.0, 0.010, 200, None, "v1", keepalive=False)
    >>> b = Sample(0.1, 0.125, 200, None, "v2", keepalive=True)
    >>> first_time_all([a, b], "v2", after=0.0), first_time_all([a, b], "v1", after=0.0)
    (0.125, None)
"""

from __future__ import annotations

import copy
import statistics
from dataclasses import dataclass, field

LATE_START_MS = 10.0              # a request starting later than this after its slot is a late start


@dataclass(slots=True)
class Sample:
    """One request. Times are time.monotonic(); status None means no HTTP answer (see error)."""

    t_start: float
    t_end: float
    status: int | None
    error: str | None             # "ConnectionRefused", "ConnectionReset", "Timeout", "RemoteDisconnected", ...
    version: str | None           # the version header's value, None if absent or not asked for
    keepalive: bool               # sent on a reused keep-alive connection
    post: bool = False            # a POST (a write), else a GET

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class LoadResult:
    url: str
    rate: float                   # target requests/s
    duration: float               # seconds from the first slot to the last answer
    total: int                    # requests sent
    ok: int                       # 2xx
    non_2xx: int
    errors: int                   # no HTTP answer: refused, reset, timeout, truncated
    status_counts: dict[str, int]
    error_counts: dict[str, int]
    longest_gap_ms: float         # between consecutive 2xx answers (by arrival), first to last
    latency_ms: dict[str, float]  # p50, p90, p99, max over answered requests
    achieved_rate: float          # requests sent per second of the sending window
    max_lag_ms: float             # worst start time after a request's slot
    versions: dict[str, int]      # 2xx answers per version header value ("" when absent)
    late_starts: int = 0          # requests started more than LATE_START_MS after their slot
    keepalive_requests: int = 0   # sent on a reused connection
    connections_opened: int = 0
    stale_retries: int = 0        # re-sent on a new connection after a reused one was found closed
    longest_gap_at: float | None = None  # seconds from start to the 2xx answer that ended the longest gap
    max_lag_at: float | None = None  # seconds from start to the request that started latest
    started_at: float = 0.0       # time.monotonic() of the first slot
    cpu_seconds: float = 0.0      # CPU time of the generator's thread
    post_requests: int = 0        # POSTs among `total`
    post_failed: int = 0          # POSTs among the failed

    def failed(self) -> int:
        return self.non_2xx + self.errors

    def to_json(self) -> dict:
        out = {
            "url": self.url, "rate": self.rate, "duration": round(self.duration, 3), "total": self.total,
            "ok": self.ok, "non_2xx": self.non_2xx, "errors": self.errors, "failed": self.failed(),
            "status_counts": dict(self.status_counts), "error_counts": dict(self.error_counts),
            "longest_gap_ms": round(self.longest_gap_ms, 2),
            "longest_gap_at": None if self.longest_gap_at is None else round(self.longest_gap_at, 3),
            "latency_ms": {k: round(v, 2) for k, v in self.latency_ms.items()},
            "achieved_rate": round(self.achieved_rate, 1), "max_lag_ms": round(self.max_lag_ms, 2),
            "max_lag_at": None if self.max_lag_at is None else round(self.max_lag_at, 3),
            "late_starts": self.late_starts, "versions": dict(self.versions),
            "keepalive_requests": self.keepalive_requests, "connections_opened": self.connections_opened,
            "stale_retries": self.stale_retries, "cpu_seconds": round(self.cpu_seconds, 3),
            "methods": {"GET": self.total - self.post_requests, "POST": self.post_requests},
            "failed_by_method": {"GET": self.failed() - self.post_failed, "POST": self.post_failed},
        }
        out["cpu_percent_of_one_core"] = round(100 * self.cpu_seconds / self.duration, 1) if self.duration else None
        return out


@dataclass
class Tally:
    """Counts kept as requests finish (they finish in t_end order: one thread, one clock)."""

    status_counts: dict[str, int] = field(default_factory=dict)
    error_counts: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    non_2xx: int = 0
    errors: int = 0
    keepalive: int = 0
    last_ok: float | None = None
    longest_gap: float = 0.0
    longest_gap_end: float | None = None
    max_lag: float = 0.0
    max_lag_at: float | None = None
    late: int = 0
    last_start: float | None = None
    posts: int = 0
    post_failed: int = 0

    def add(self, s: Sample) -> None:
        self.keepalive += s.keepalive
        self.posts += s.post
        self.post_failed += s.post and not s.ok
        if s.status is None:
            self.errors += 1
            key = s.error or "Unknown"
            self.error_counts[key] = self.error_counts.get(key, 0) + 1
            return
        self.latencies.append(s.t_end - s.t_start)
        code = str(s.status)
        self.status_counts[code] = self.status_counts.get(code, 0) + 1
        if not s.ok:
            self.non_2xx += 1
            return
        self.ok += 1
        v = s.version or ""
        self.versions[v] = self.versions.get(v, 0) + 1
        if self.last_ok is not None and s.t_end - self.last_ok > self.longest_gap:
            self.longest_gap, self.longest_gap_end = s.t_end - self.last_ok, s.t_end
        self.last_ok = s.t_end

    def started(self, start: float, due: float) -> None:
        """A request started at `start` for its slot at `due`: how late it was."""
        lag = start - due
        self.last_start = start
        if lag > self.max_lag:
            self.max_lag, self.max_lag_at = lag, start
        if lag * 1000 > LATE_START_MS:
            self.late += 1

    def snapshot(self) -> Tally:
        """A copy to add up while requests go on finishing."""
        t = copy.copy(self)
        t.latencies = sorted(self.latencies)
        t.status_counts, t.error_counts, t.versions = dict(t.status_counts), dict(t.error_counts), dict(t.versions)
        return t

    def result(self, *, url: str, rate: float, started_at: float, end: float, connections_opened: int,
               stale_retries: int, cpu_seconds: float) -> LoadResult:
        """The LoadResult of a snapshot() (its latencies sorted), the load having started at
        `started_at` and ended (or been looked at) at `end`."""
        total = self.ok + self.non_2xx + self.errors
        window = (self.last_start - started_at + 1 / rate) if self.last_start is not None else 0.0
        return LoadResult(
            url=url, rate=rate, duration=max(0.0, end - started_at), total=total, ok=self.ok,
            non_2xx=self.non_2xx, errors=self.errors, status_counts=self.status_counts, error_counts=self.error_counts,
            longest_gap_ms=self.longest_gap * 1000, latency_ms=_latency_summary(self.latencies),
            achieved_rate=total / window if window > 0 else 0.0, max_lag_ms=self.max_lag * 1000,
            versions=self.versions, late_starts=self.late, keepalive_requests=self.keepalive,
            connections_opened=connections_opened, stale_retries=stale_retries,
            longest_gap_at=None if self.longest_gap_end is None else self.longest_gap_end - started_at,
            max_lag_at=None if self.max_lag_at is None else self.max_lag_at - started_at,
            started_at=started_at, cpu_seconds=cpu_seconds, post_requests=self.posts, post_failed=self.post_failed)


def first_time_all(samples: list[Sample], version: str, after: float) -> float | None:
    """When the final run of 2xx answers carrying `version` began: the arrival time (t_end) of the
    first 2xx answer at or after `after` from which every later 2xx answer carries `version`.
    None if no 2xx answer arrived after `after`, or the last one carries another version.
    Samples are taken in arrival order (as LoadGenerator.samples() returns them).
    """
    oks = [s for s in samples if s.ok and s.t_end >= after]
    if not oks or oks[-1].version != version:
        return None
    k = len(oks) - 1
    while k > 0 and oks[k - 1].version == version:
        k -= 1
    return oks[k].t_end


def _latency_summary(ordered: list[float]) -> dict[str, float]:
    if not ordered:
        return {}
    if len(ordered) == 1:
        return {k: ordered[0] * 1000 for k in ("p50", "p90", "p99", "max")}
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": cuts[49] * 1000, "p90": cuts[89] * 1000, "p99": cuts[98] * 1000, "max": ordered[-1] * 1000}
