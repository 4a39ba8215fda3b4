"""Glob benchmark: time and memory to compile an artifact glob with n `**/` segments and match one
path with it, before (regex translation, the union of every way to drop the `**/` segments:
tests/glob_reference.py) and after (conveyor.glob_engine's automaton), as n grows. Also a
trigger glob `*a*a…*a*b` (k stars) against `a` × 40, which makes a backtracking regex try
O(40**k) splits.

    python3 bench/globs.py             # 5 runs of each point (~1 min)
    python3 bench/globs.py --quick     # 3 runs, smaller n

Results go to bench/results/globs.json (medians, seconds and peak bytes from tracemalloc).
The "before" side stops growing n once one point takes longer than --limit seconds.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Callable

from engine import machine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from glob_reference import old_compile_artifact_glob, old_compile_glob  # noqa: E402

from conveyor.glob_engine import parse  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "globs.json"


def measure(work: Callable[[], object], runs: int) -> dict[str, float]:
    seconds, peaks = [], []
    for _ in range(runs):
        tracemalloc.start()
        t0 = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - t0)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return {"seconds": statistics.median(seconds), "peak_bytes": statistics.median(peaks)}


def artifact_point(n: int, before: bool, runs: int) -> dict[str, float]:
    pattern = "**/" * n + "*.jar"
    path = "a/" * (n + 2) + "x.jar"

    def old() -> object:
        return old_compile_artifact_glob(pattern).fullmatch(path)

    def new() -> object:
        return parse(pattern, zero_dirs=True).fullmatch(path)

    return measure(old if before else new, runs)


def star_point(k: int, before: bool, runs: int) -> dict[str, float]:
    pattern = "*a" * k + "*b"
    value = "a" * 40

    def old() -> object:
        return old_compile_glob(pattern).fullmatch(value)

    def new() -> object:
        return parse(pattern).fullmatch(value)

    return measure(old if before else new, runs)


def series(point: Callable[[int, bool, int], dict[str, float]], sizes: list[int], runs: int,
           limit: float) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {"before": [], "after": []}
    for side in ("before", "after"):
        for n in sizes:
            result = {"n": n, **point(n, side == "before", runs)}
            out[side].append(result)
            print(f"  {side:6} n={n:3} {result['seconds'] * 1000:10.3f} ms  {result['peak_bytes'] / 1024:10.1f} KiB",
                  flush=True)
            if side == "before" and result["seconds"] > limit:
                break
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--limit", type=float, default=2.0, help="stop the before side past this many seconds")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    runs = 3 if args.quick else args.runs
    re.purge()
    t0 = time.perf_counter()
    print("artifact glob with n '**/' segments")
    artifact = series(artifact_point, [1, 2, 4, 8, 10, 12, 14, 16, 18, 20, 32, 64] if not args.quick
                      else [1, 2, 4, 8, 10, 12, 32], runs, args.limit)
    print("trigger glob '*a' * k + '*b' against 'a' * 40")
    stars = series(star_point, [1, 2, 3, 4, 5, 6] if not args.quick else [1, 2, 3, 4], runs, args.limit)
    record = {
        "benchmark": "globs",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python3 bench/globs.py" + (" --quick" if args.quick else ""),
        "machine": machine(),
        "runs": runs,
        "artifact_double_star": artifact,
        "trigger_stars": stars,
        "elapsed_seconds": round(time.perf_counter() - t0, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
