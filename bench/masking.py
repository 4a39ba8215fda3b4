"""Secret masking speed: how long masking takes as logs and the number of secrets grow.

    python3 bench/masking.py            # ~1 min on 2 cores
    python3 bench/masking.py --quick    # one run, fewer secrets

Measures, per number of secrets (each masked in all its forms: raw, base64 and its cores, hex,
URL and JSON encodings): the forms count, the time to build the matcher, MB/s masking a log of
whole lines (the scheduler's path for ordinary output), and MB/s through MaskedLines when the same
log comes as 64 KiB parts of lines (the path for over-long lines). Medians of --runs runs.
Results go to bench/results/masking-<date>.json with the machine they ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from conveyor.secrets.masking import Masker  # noqa: E402
from conveyor.secrets.stream import MaskedLines  # noqa: E402

PART = 64 * 1024


def secret(i: int) -> str:
    return f"secret-{i:05d}-{i * 7919 % 10007:05d}"


def make_log(secrets: int, lines: int) -> str:
    line = "2026-03-01 12:00:00 step 4: using {} for upload and nothing else of note\n"
    return "".join(line.format(secret(i % secrets) if i % 3 == 0 else "no-secret") for i in range(lines))


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def one_run(secrets: int, log: str) -> tuple[Masker, float, float, float]:
    masker = Masker()
    for i in range(secrets):
        masker.add(secret(i))
    build = timed(lambda: masker.mask("warm up"))  # the matcher is compiled at first use
    assert "secret-" not in masker.mask(log)
    whole = timed(lambda: [masker.mask(line) for line in log.split("\n")])
    written: list[str] = []
    sink = MaskedLines(written.append, masker)

    def stream() -> None:
        for start in range(0, len(log), PART):
            sink.part(log[start:start + PART])
        sink.close()

    parts = timed(stream)
    assert "secret-" not in "".join(written)
    return masker, build, whole, parts


def measure(secrets: int, lines: int, runs: int) -> dict:
    log = make_log(secrets, lines)
    size_mb = len(log.encode()) / 1e6
    results = [one_run(secrets, log) for _ in range(runs)]
    masker = results[0][0]
    build, whole, parts = (statistics.median(r[k] for r in results) for k in (1, 2, 3))
    return {"secrets": secrets, "forms": len(masker), "longest_form": masker.longest, "log_mb": round(size_mb, 2),
            "build_s": round(build, 3), "lines_mb_per_s": round(size_mb / whole, 1),
            "parts_mb_per_s": round(size_mb / parts, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lines", type=int, default=30_000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    counts = [10, 200] if args.quick else [10, 200, 2000]
    runs = 1 if args.quick else args.runs
    rows = [measure(n, args.lines, runs) for n in counts]
    for row in rows:
        print(json.dumps(row))
    result = {"benchmark": "masking", "date": date.today().isoformat(), "runs": runs,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
              "results": rows}
    output = args.output or Path(__file__).parent / "results" / f"masking-{date.today().isoformat()}.json"
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
