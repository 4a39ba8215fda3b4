"""The chaos suite's instrument: one constant-rate load (conveyor.loadgen, half POSTs) in a process
of its own at nice -5, so that the driver's polling, its `conveyor up` commands and a machine
busy with restarts do not starve it (in the driver's own process it fell ~1 s behind at once).

    with ChaosLoad("http://127.0.0.1:8080/version", rate=100) as load:
        ...                                   # kill things
    result, samples = load.result, load.samples   # LoadResult.to_json(), [WallSample, ...]
    window(samples, t0, t1)                   # failed requests and the longest gap between t0 and t1

Sample times are converted to wall-clock time (time.time()) in the load's process, so they line
up with kill times and the daemon's timestamps.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Self

from zero_downtime import MAX_LOAD_SECONDS, POST_FRACTION, POST_PATH, VERSION_HEADER

from conveyor.loadgen import LoadGenerator, fell_behind, verdict


@dataclass(frozen=True, slots=True)
class WallSample:
    start: float                  # time.time() of the request's start
    end: float                    # ... and of its answer (or failure)
    status: int | None
    error: str | None
    version: str | None
    post: bool

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class ChaosLoad:
    def __init__(self, url: str, rate: float, post_fraction: float = POST_FRACTION) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_run, args=(child, url, rate, post_fraction), daemon=True)
        self.proc.start()
        if not self.conn.poll(30) or self.conn.recv() != "started":
            self.proc.kill()
            raise RuntimeError("the load process did not start")
        self.result: dict[str, Any] = {}
        self.samples: list[WallSample] = []
        self.verdict = ""
        self.behind = False

    def stop(self) -> dict[str, Any]:
        if self.result:
            return self.result
        self.conn.send("stop")
        if not self.conn.poll(120):
            self.proc.kill()
            raise RuntimeError("the load process did not answer")
        self.result, rows, self.verdict, self.behind = self.conn.recv()
        self.samples = [WallSample(*row) for row in rows]
        self.proc.join(10)
        return self.result

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop()
        finally:
            if self.proc.is_alive():
                self.proc.kill()


def _run(conn: Any, url: str, rate: float, post_fraction: float) -> None:
    import time

    try:
        os.setpriority(os.PRIO_PROCESS, 0, -5)
    except OSError:
        pass
    gen = LoadGenerator(url, rate=rate, duration=MAX_LOAD_SECONDS, version_header=VERSION_HEADER,
                        keepalive_fraction=0.5, post_fraction=post_fraction, post_path=POST_PATH)
    offset = time.time() - time.monotonic()
    gen.start()
    conn.send("started")
    conn.recv()
    result = gen.stop()
    rows = [(s.t_start + offset, s.t_end + offset, s.status, s.error, s.version, s.post) for s in gen.samples()]
    conn.send((result.to_json(), rows, verdict(result), fell_behind(result)))


def window(samples: list[WallSample], t0: float, t1: float) -> dict[str, Any]:
    """What the load saw between wall times t0 and t1 (by answer time): requests, failed (with
    their statuses/errors), the longest gap between 2xx answers, the versions that answered."""
    inside = [s for s in samples if t0 <= s.end <= t1]
    failed = [s for s in inside if not s.ok]
    oks = [s.end for s in inside if s.ok]
    gap = max((b - a for a, b in zip(oks, oks[1:], strict=False)), default=0.0)
    versions: dict[str, int] = {}
    for s in inside:
        if s.ok:
            versions[s.version or ""] = versions.get(s.version or "", 0) + 1
    kinds: dict[str, int] = {}
    for s in failed:
        key = f"{'POST' if s.post else 'GET'} {s.status or s.error}"
        kinds[key] = kinds.get(key, 0) + 1
    return {"requests": len(inside), "failed": len(failed), "failed_kinds": kinds,
            "longest_gap_ms": round(gap * 1000, 1), "versions": versions}


def first_ok_after(samples: list[WallSample], t: float) -> float | None:
    """Wall time of the first 2xx answer to a request started at or after t."""
    return next((s.end for s in samples if s.ok and s.start >= t), None)
