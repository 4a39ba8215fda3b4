"""Rate probes: how much constant-rate load a listener takes cleanly. Each probe is a short
load at a higher rate than the one before, until one is not clean (a request failed, one
started more than CLEAN_MAX_LAG_MS late, or less than CLEAN_ACHIEVED_FRACTION of the rate was
sent: the generator or the server could not keep up).

    probes = rate_probes("http://127.0.0.1:8080/", start=200, limit=5000)   # [LoadResult, ...]
    max_sustainable_rate("http://127.0.0.1:8080/")   # the highest clean probe's rate; 0.0 if none
"""

from __future__ import annotations

from conveyor.loadgen.generator import run_load
from conveyor.loadgen.results import LoadResult

CLEAN_MAX_LAG_MS = 50.0           # max_sustainable_rate: a probe is clean if no request starts later,
CLEAN_ACHIEVED_FRACTION = 0.95    # ... at least this fraction of the target rate is sent,
                                  # ... and no request fails


def is_clean(result: LoadResult) -> bool:
    """The generator kept its schedule and every request succeeded."""
    return result.failed() == 0 and not fell_behind(result)


def fell_behind(result: LoadResult) -> bool:
    """The generator did not keep its rate: a request started more than CLEAN_MAX_LAG_MS after its
    slot, or less than CLEAN_ACHIEVED_FRACTION of the rate was sent. A load like that offered the
    server less than its nominal rate, so "0 failed" says less than it seems."""
    return result.max_lag_ms > CLEAN_MAX_LAG_MS or result.achieved_rate < CLEAN_ACHIEVED_FRACTION * result.rate


GENERATOR_BEHIND = "generator behind: not clean"


def verdict(result: LoadResult) -> str:
    """One word on a load, for a benchmark's table: "N failed" if any request failed, else
    GENERATOR_BEHIND if the generator fell behind (see fell_behind), else "clean".

        >>> from conveyor.loadgen.results import Tally
        >>> verdict(Tally().result(url="u", rate=10, started_at=0, end=1, connections_opened=0, stale_retries=0,
        ...                        cpu_seconds=0))
        'generator behind: not clean'
    """
    if result.failed():
        return f"{result.failed()} failed"
    return GENERATOR_BEHIND if fell_behind(result) else "clean"


def rate_probes(url: str, *, start: float = 200, limit: float = 5000, step_factor: float = 1.5,
                probe_seconds: float = 3.0, **kw: object) -> list[LoadResult]:
    """Loads of `probe_seconds` at start, start*step_factor, ... up to `limit`, ending after the
    first one that is not clean (see is_clean)."""
    if step_factor <= 1:
        raise ValueError("step_factor must be > 1")
    probes, rate = [], float(start)
    while rate <= limit:
        probes.append(run_load(url, rate=rate, duration=probe_seconds, **kw))
        if not is_clean(probes[-1]):
            break
        rate *= step_factor
    return probes


def max_sustainable_rate(url: str, *, start: float = 200, limit: float = 5000, step_factor: float = 1.5,
                         probe_seconds: float = 3.0, **kw: object) -> float:
    """The highest probed rate (see rate_probes) that was clean; 0.0 if none was."""
    probes = rate_probes(url, start=start, limit=limit, step_factor=step_factor, probe_seconds=probe_seconds, **kw)
    return max((p.rate for p in probes if is_clean(p)), default=0.0)
