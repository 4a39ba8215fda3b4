"""Hostile input against Conveyor's loaders: time and peak memory of `conveyor validate --kind K`
on every input of tests/hostile/hostile_cases.py (plus the inputs as large as the limits allow),
and how many ended in a clean rejection — exit 2, a `file:line:col` message (the file alone for
a directory or a dangling symlink), no traceback, within the timeout.

    python3 bench/hostile_input.py                       # writes bench/results/hostile_input-<date>.json
    python3 bench/hostile_input.py --runs 1 --quick      # one run, a sample of the cases
    python3 bench/hostile_input.py --src /work/main/src --timeout 30 --output before.json   # another checkout

Each input runs in its own process (`--runs` times, default 3): wall time, and peak RSS from
wait4's rusage of that process. Medians are reported per input, with the worst input by each. A
baseline (a small valid conveyor.yml) gives the cost of starting Python and the CLI, so the
numbers above it are what the input itself cost. The daemon parses conveyor.yml from a pushed
commit in-process (config.pipeline.load_pipeline_text); `daemon_path` measures that call on every
input of the conveyor kind: median time of the runs, and tracemalloc's peak in one more run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from engine import machine

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT / "tests" / "hostile"))

from hostile_cases import Case, build_cases, cli_kind  # noqa: E402

PATH_CASES = {"directory", "symlink-loop"}
BASELINE = ("name: baseline\npipeline:\n  stages:\n    - name: Source\n      actions:\n        - name: Source\n"
            "          provider: Git\n          repository: .\n          branch: main\n"
            "          outputArtifacts: [src]\n")


#: Address-space cap of every measured process (--memory-limit-mib): an input that would take the
#: machine's memory (the alias bomb before the limits: ~100 MB/s) ends in MemoryError instead.
MEMORY_LIMIT = [2048 * 2**20]


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT[0], MEMORY_LIMIT[0]))


def run_once(path: Path, kind: str, src: Path, timeout: float) -> dict:
    """One `conveyor validate` process: exit code, seconds, peak RSS (MiB), the output's first line."""
    argv = [sys.executable, "-c", "import sys; from conveyor.cli.main import main; sys.exit(main(sys.argv[1:]))",
            "validate", "--kind", kind, str(path)]
    env = {**os.environ, "PYTHONPATH": str(src)}
    with tempfile.TemporaryFile() as out:
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=path.parent.parent,
                                preexec_fn=_cap_memory)
        killed = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > timeout:
                proc.send_signal(signal.SIGKILL)
                killed = True
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        seconds = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    return {"exit": None if killed else proc.returncode, "killed": killed, "seconds": seconds,
            "peak_rss_mib": usage.ru_maxrss / 1024, "output": text}


def clean(case: Case, result: dict) -> bool:
    text = result["output"]
    if result["killed"] or result["exit"] != 2 or "Traceback" in text:
        return False
    pattern = rf"^{re.escape(str(case.path))}:" + ("" if case.name in PATH_CASES else r"\d+:\d+[ :]")
    return re.search(pattern, text, re.MULTILINE) is not None


def daemon_worker(path: Path, runs: int) -> None:
    """In a process of its own (PYTHONPATH = the measured tree): load_pipeline_text on the file's
    text `runs` times; prints one JSON line."""
    from conveyor.config.pipeline import load_pipeline_text
    from conveyor.errors import UserError

    text = path.read_bytes().decode("utf-8", "replace")

    def once() -> str:
        try:
            load_pipeline_text(text, "conveyor.yml@0000000")
            return "accepted"
        except UserError as exc:
            return "ConfigError" if hasattr(exc, "diagnostics") else type(exc).__name__
        except Exception as exc:  # noqa: BLE001 — this is what the bench is looking for
            return f"CRASH {type(exc).__name__}: {exc}"[:200]

    times = []
    for _ in range(runs):  # timed without tracemalloc, which slows allocation-heavy code several times over
        start = time.monotonic()
        outcome = once()
        times.append(time.monotonic() - start)
    tracemalloc.start()
    once()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(json.dumps({"outcome": outcome, "median_s": round(statistics.median(times), 4),
                      "peak_traced_mib": round(peak, 2)}))


def daemon_path(cases: list[Case], src: Path, runs: int, timeout: float) -> list[dict]:
    """What the engine does with a pushed conveyor.yml (config.pipeline.load_pipeline_text), on
    each conveyor-kind input that is a regular file of at most 64 MiB (the engine reads a blob
    from git, never a device or a FIFO)."""
    rows = []
    env = {**os.environ, "PYTHONPATH": str(src)}
    for case in cases:
        if case.kind != "conveyor" or not case.path.is_file() or case.path.stat().st_size > 64 * 2**20:
            continue
        try:
            done = subprocess.run([sys.executable, __file__, "--daemon-worker", str(case.path), "--runs", str(runs)],
                                  env=env, capture_output=True, text=True, timeout=timeout * (runs + 1),
                                  preexec_fn=_cap_memory)
            row = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {
                "outcome": f"CRASH exit {done.returncode}: {done.stderr.strip()[-200:]}"}
        except subprocess.TimeoutExpired:
            row = {"outcome": f"KILLED after {timeout * (runs + 1):g} s"}
        rows.append({"case": case.name, **row})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="processes per input (default 3); medians are reported")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a run is killed (default 60)")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the conveyor source tree to measure")
    parser.add_argument("--quick", action="store_true", help="one kind per case")
    parser.add_argument("--output", type=Path, help="default bench/results/hostile_input-<date>.json")
    parser.add_argument("--memory-limit-mib", type=int, default=2048,
                        help="address-space cap of each measured process (default 2048)")
    parser.add_argument("--daemon-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    MEMORY_LIMIT[0] = args.memory_limit_mib * 2**20
    if args.daemon_worker:
        daemon_worker(args.daemon_worker, args.runs)
        return 0

    date = datetime.date.today().isoformat()
    with tempfile.TemporaryDirectory() as tmp:
        cases = build_cases(Path(tmp), at_cap=True)
        if args.quick:
            seen: set[str] = set()
            cases = [c for c in cases if not (c.name in seen or seen.add(c.name))]  # type: ignore[func-returns-value]
        base = Path(tmp) / "baseline" / "conveyor.yml"
        base.parent.mkdir()
        base.write_text(BASELINE)
        baseline = [run_once(base, "conveyor", args.src, args.timeout) for _ in range(args.runs)]
        rows = []
        for n, case in enumerate(cases, 1):
            results = [run_once(case.path, cli_kind(case.kind), args.src, args.timeout) for _ in range(args.runs)]
            ok = all(clean(case, r) for r in results)
            first = next((line for line in results[0]["output"].splitlines() if line.strip()), "")
            rows.append({"case": case.name, "kind": case.kind, "clean": ok,
                         "exit": [r["exit"] for r in results], "killed": any(r["killed"] for r in results),
                         "median_s": round(statistics.median(r["seconds"] for r in results), 3),
                         "max_s": round(max(r["seconds"] for r in results), 3),
                         "median_peak_rss_mib": round(statistics.median(r["peak_rss_mib"] for r in results), 1),
                         "message": first.replace(tmp, "")[:300],
                         "traceback": any("Traceback" in r["output"] for r in results)})
            print(f"[{n}/{len(cases)}] {case.name}/{case.kind}: {'clean' if ok else 'NOT CLEAN'} "
                  f"{rows[-1]['median_s']}s {rows[-1]['median_peak_rss_mib']} MiB", file=sys.stderr)
        daemon = daemon_path(cases, args.src, args.runs, args.timeout)

    measured = [r for r in daemon if "median_s" in r]
    base_s = statistics.median(r["seconds"] for r in baseline)
    base_rss = statistics.median(r["peak_rss_mib"] for r in baseline)
    slowest = max(rows, key=lambda r: r["median_s"])
    biggest = max(rows, key=lambda r: r["median_peak_rss_mib"])
    limits_of = subprocess.run([sys.executable, "-c", "import dataclasses, json; from conveyor.documents.limits "
                                "import DEFAULT; print(json.dumps(dataclasses.asdict(DEFAULT)))"],
                               env={**os.environ, "PYTHONPATH": str(args.src)}, capture_output=True, text=True)
    limits = json.loads(limits_of.stdout) if limits_of.returncode == 0 else None
    result = {
        "benchmark": "hostile_input", "date": date, "machine": machine(), "src": str(args.src),
        "runs_per_input": args.runs, "timeout_s": args.timeout,
        "memory_limit_mib": args.memory_limit_mib, "limits": limits,
        "inputs_tried": len(rows), "kinds_of_input": len({r["case"] for r in rows}),
        "clean_rejections": sum(r["clean"] for r in rows),
        "tracebacks": sum(r["traceback"] for r in rows), "killed": sum(r["killed"] for r in rows),
        "not_clean": [f"{r['case']}/{r['kind']}: {r['message'][:160]}" for r in rows if not r["clean"]],
        "baseline": {"median_s": round(base_s, 3), "median_peak_rss_mib": round(base_rss, 1)},
        "worst_time": {"case": f"{slowest['case']}/{slowest['kind']}", "median_s": slowest["median_s"],
                       "over_baseline_s": round(slowest["median_s"] - base_s, 3)},
        "worst_memory": {"case": f"{biggest['case']}/{biggest['kind']}",
                         "median_peak_rss_mib": biggest["median_peak_rss_mib"],
                         "over_baseline_mib": round(biggest["median_peak_rss_mib"] - base_rss, 1)},
        "daemon_path": {"worst_time": max(measured, key=lambda r: r["median_s"], default=None),
                        "worst_memory": max(measured, key=lambda r: r["peak_traced_mib"], default=None),
                        "crashes_or_killed": [r for r in daemon if r["outcome"].startswith(("CRASH", "KILLED"))],
                        "rows": daemon},
        "rows": rows,
    }
    out = args.output or RESULTS / f"hostile_input-{date}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("inputs_tried", "kinds_of_input", "clean_rejections", "tracebacks",
                                             "killed", "baseline", "worst_time", "worst_memory")}, indent=2))
    print(f"daemon path worst: {result['daemon_path']['worst_time']} / {result['daemon_path']['worst_memory']}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
