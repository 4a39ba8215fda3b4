"""Engine benchmark: executions of a 6-stage pipeline of no-op actions (a Git source, then five
`Wait seconds: 0` stages), measured through the in-process Service and the real daemon.

    python3 bench/engine.py                     # 1,000 executions x 3 runs per scenario, 60 s idle
    python3 bench/engine.py --quick             # 100 executions, 10 s idle
    python3 bench/engine.py --executions 300

What it measures (the issue's targets in TARGETS):
  * stage transitions/s, as a burst: all executions are created first with the scheduler stopped
    (the *start* phase: a git fetch, four git reads and two parses of conveyor.yml per execution,
    timed on its own), then the scheduler starts and runs them all to the end (the *run* phase).
    Rows of the `transitions` table written in the run phase, divided by its length. PARALLEL and
    QUEUED, `--runs` times each, each run in a fresh process and data dir.
  * the same PARALLEL pipeline with executions *arriving* one after another while the scheduler
    runs (as a caller looping over `conveyor run`): bounded by the start rate, so it is reported
    for its overhead, not its throughput.
  * engine overhead per stage: stage InProgress->Succeeded minus the action's own
    InProgress->Succeeded, from the rows; in each scenario above and for executions run one at
    a time on a quiet engine (the overhead a user sees).
  * peak memory: ru_maxrss of each run's process, and tracemalloc's peak in a separate run
    (tracemalloc slows Python down, so it is kept out of the timed runs).
  * daemon idle CPU: `python -m conveyor.server.daemon` on the data dir of the last PARALLEL run
    (pipeline registered, polling on at the default interval), utime+stime from /proc over the
    idle window, with and without the git children the poller runs.

Results go to bench/results/engine.json; docs/benchmarks.md summarises them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "engine.json"
STAGES = 6
TARGETS = {"stage_transitions_per_second": 200.0, "overhead_per_stage_ms": 100.0, "idle_cpu_percent": 2.0}
TERMINAL = ("Succeeded", "Failed", "Stopped", "Superseded", "Cancelled")
GIT_ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}
IDLE_SETTLE_SECONDS = 5.0  # after the daemon answers: imports, recover() and the first poll are start-up
RUN_TIMEOUT_SECONDS = 1800.0


def pipeline_yaml(mode: str) -> str:
    # No pollIntervalSeconds: the daemon polls at its default interval.
    text = (f"name: bench\npipeline:\n  executionMode: {mode}\n  stages:\n"
            "    - name: Source\n      actions:\n        - name: Source\n          provider: Git\n"
            "          repository: .\n          branch: main\n          outputArtifacts: [src]\n")
    for i in range(1, STAGES):
        text += (f"    - name: Stage{i}\n      actions:\n        - name: Noop{i}\n          provider: Wait\n"
                 "          seconds: 0\n")
    return text


def make_repo(path: Path, mode: str) -> Path:
    path.mkdir(parents=True)
    (path / "conveyor.yml").write_text(pipeline_yaml(mode))
    for argv in (["init", "-q", "-b", "main"], ["add", "conveyor.yml"],
                 ["-c", "commit.gpgsign=false", "commit", "-q", "-m", "bench pipeline"]):
        subprocess.run(["git", *argv], cwd=path, env={**os.environ, **GIT_ENV}, check=True)
    return path


# -- statistics over the transitions table

def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def spread(values: list[float], scale: float = 1000.0) -> dict:
    """Median, p95 and max of seconds, in milliseconds."""
    if not values:
        return {"n": 0}
    return {"n": len(values), "median": round(statistics.median(values) * scale, 2),
            "p95": round(percentile(values, 95) * scale, 2), "max": round(max(values) * scale, 2)}


def stage_timings(db: Path, since: float = 0.0) -> dict:
    """Per stage run: wall time, time in its actions, overhead (the difference), and the gap from
    the previous stage's end to this stage's start."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = con.execute("SELECT execution_id, scope, stage, action, status, at FROM transitions "
                       "WHERE scope != 'execution' ORDER BY seq").fetchall()
    con.close()
    stages: dict[tuple[str, str], dict] = {}
    for eid, scope, stage, action, status, at in rows:
        run = stages.setdefault((eid, stage), {"actions": {}})
        if scope == "stage":
            run["start" if status == "InProgress" else "end"] = at
        else:
            run["actions"].setdefault(action, {})["start" if status == "InProgress" else "end"] = at
    wall, in_actions, overhead, gaps, noop_wall, by_stage = [], [], [], [], [], {}
    before, after = [], []  # overhead split: stage start -> first action start, last action end -> stage end
    ends: dict[tuple[str, str], float] = {}
    for (eid, stage), run in stages.items():
        acts = [a for a in run["actions"].values() if "start" in a and "end" in a]
        if "start" not in run or "end" not in run or not acts or run["start"] < since:
            continue
        action_span = max(a["end"] for a in acts) - min(a["start"] for a in acts)
        wall.append(run["end"] - run["start"])
        in_actions.append(action_span)
        overhead.append(wall[-1] - action_span)
        before.append(min(a["start"] for a in acts) - run["start"])
        after.append(run["end"] - max(a["end"] for a in acts))
        by_stage.setdefault(stage, []).append(overhead[-1])
        if stage != "Source":  # a Wait 0 stage: its whole wall time is engine time
            noop_wall.append(wall[-1])
        ends[(eid, stage)] = run["end"]
    for (eid, stage), run in stages.items():
        if stage.startswith("Stage") and "start" in run and run["start"] >= since:
            prev = "Source" if stage == "Stage1" else f"Stage{int(stage[5:]) - 1}"
            if (eid, prev) in ends:
                gaps.append(run["start"] - ends[(eid, prev)])
    return {"overhead_ms": spread(overhead), "stage_wall_ms": spread(wall), "action_ms": spread(in_actions),
            "gap_between_stages_ms": spread(gaps), "noop_stage_wall_ms": spread(noop_wall),
            "overhead_before_action_ms": spread(before), "overhead_after_action_ms": spread(after),
            "overhead_by_stage_ms": {s: spread(v) for s, v in sorted(by_stage.items())}}


def count_rows(db: Path, since: float) -> dict:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    counts = dict(con.execute("SELECT scope, COUNT(*) FROM transitions WHERE at >= ? GROUP BY scope", (since,)))
    last = con.execute("SELECT MAX(at) FROM transitions").fetchone()[0]
    con.close()
    return {"by_scope": counts, "last_at": last}


def ended(con: sqlite3.Connection) -> int:
    marks = ",".join("?" * len(TERMINAL))
    return con.execute(f"SELECT COUNT(*) FROM transitions WHERE scope = 'execution' AND status IN ({marks})",
                       TERMINAL).fetchone()[0]


# -- workers: one measurement per process, so ru_maxrss belongs to it alone

def worker_throughput(home: Path, mode: str, executions: int, trace: bool, arrivals: bool = False) -> dict:
    """Burst (default): create every execution with the scheduler stopped, then start it and time the
    run. Arrivals: the scheduler runs while executions are started one after another, as a caller
    looping over `conveyor run` would; the run then cannot go faster than the starts."""
    from conveyor.engine.service import Service

    if trace:
        tracemalloc.start()
    repo = make_repo(home.parent / "repo", mode)
    svc = Service(home)
    ticks = {"calls": 0, "seconds": 0.0}
    tick = svc.scheduler.tick

    def timed_tick() -> None:  # instrumentation only: how much of the run the scheduler loop is busy
        t0 = time.perf_counter()
        try:
            tick()
        finally:
            ticks["calls"] += 1
            ticks["seconds"] += time.perf_counter() - t0
    svc.scheduler.tick = timed_tick

    if arrivals:
        svc.start(polling=False)
    run_from, r0 = time.time(), time.perf_counter()
    ids = [svc.start_execution(repository=str(repo))["id"] for _ in range(executions)]
    start_seconds, starts_done = time.perf_counter() - r0, time.time()
    recover_seconds = 0.0
    if not arrivals:
        run_from, r0 = time.time(), time.perf_counter()
        svc.start(polling=False)
        recover_seconds = time.perf_counter() - r0
    con = sqlite3.connect(f"file:{home / 'conveyor.db'}?mode=ro", uri=True)
    peak_threads = threading.active_count()
    while ended(con) < executions:
        if time.perf_counter() - r0 > RUN_TIMEOUT_SECONDS:
            break
        peak_threads = max(peak_threads, threading.active_count())
        time.sleep(0.05)
    con.close()
    statuses: dict[str, int] = {}
    for eid in ids:
        status = svc.describe(eid)["status"]
        statuses[status] = statuses.get(status, 0) + 1
    traced = tracemalloc.get_traced_memory()[1] if trace else None
    svc.shutdown()
    db = home / "conveyor.db"
    rows = count_rows(db, run_from)
    run_seconds = rows["last_at"] - run_from
    stage_rows = rows["by_scope"].get("stage", 0)
    all_rows = sum(rows["by_scope"].values())
    return {
        "mode": mode, "arrivals": arrivals, "executions": executions, "statuses": statuses,
        "start_seconds": round(start_seconds, 3),
        "start_ms_per_execution": round(start_seconds / executions * 1000, 2),
        "run_seconds": round(run_seconds, 3), "recover_seconds": round(recover_seconds, 3),
        "drain_seconds_after_last_start": round(rows["last_at"] - starts_done, 3) if arrivals else None,
        "stage_transitions": stage_rows, "all_transitions": all_rows, "rows_by_scope": rows["by_scope"],
        "stage_transitions_per_second": round(stage_rows / run_seconds, 1),
        "all_transitions_per_second": round(all_rows / run_seconds, 1),
        "executions_per_second": round(executions / run_seconds, 2),
        "scheduler_ticks": ticks["calls"], "scheduler_busy_seconds": round(ticks["seconds"], 3),
        "scheduler_busy_fraction": round(ticks["seconds"] / run_seconds, 3),
        "peak_threads": peak_threads,
        **stage_timings(db, run_from),
        "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "tracemalloc_peak_mb": round(traced / 2**20, 1) if traced is not None else None,
    }


def worker_single(home: Path, executions: int) -> dict:
    """Executions run one at a time: the per-stage overhead a user sees on a quiet daemon."""
    from conveyor.engine.service import Service

    repo = make_repo(home.parent / "repo", "PARALLEL")
    svc = Service(home)
    svc.start(polling=False)
    statuses = []
    for _ in range(executions):
        eid = svc.start_execution(repository=str(repo))["id"]
        deadline = time.monotonic() + 60
        while svc.describe(eid)["status"] not in TERMINAL and time.monotonic() < deadline:
            time.sleep(0.01)
        statuses.append(svc.describe(eid)["status"])
    svc.shutdown()
    con = sqlite3.connect(f"file:{home / 'conveyor.db'}?mode=ro", uri=True)
    spans = con.execute("SELECT MAX(at) - MIN(at) FROM transitions WHERE scope = 'execution' "
                        "GROUP BY execution_id").fetchall()
    con.close()
    return {"executions": executions, "succeeded": statuses.count("Succeeded"),
            "execution_wall_ms": spread([s[0] for s in spans]), **stage_timings(home / "conveyor.db")}


# -- the daemon at idle

def cpu_ticks(pid: int) -> tuple[int, int]:
    """(utime+stime of the process, cutime+cstime of its reaped children) in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def daemon_idle(home: Path, seconds: float) -> dict:
    port = free_port()
    log = open(home / "bench-daemon.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "conveyor.server.daemon", "--home", str(home), "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the daemon did not start; see {home / 'bench-daemon.log'}") from None
                time.sleep(0.1)
        time.sleep(IDLE_SETTLE_SECONDS)
        hz = os.sysconf("SC_CLK_TCK")
        own0, kids0 = cpu_ticks(proc.pid)
        t0 = time.monotonic()
        time.sleep(seconds)
        own1, kids1 = cpu_ticks(proc.pid)
        wall = time.monotonic() - t0
        rss_kb = next(int(line.split()[1]) for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                      if line.startswith("VmRSS:"))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        log.close()
    own, kids = (own1 - own0) / hz, (kids1 - kids0) / hz
    return {"seconds": round(wall, 1), "cpu_seconds_daemon": round(own, 3), "cpu_seconds_git_children": round(kids, 3),
            "cpu_percent_daemon": round(own / wall * 100, 3),
            "cpu_percent_with_children": round((own + kids) / wall * 100, 3),
            "rss_mb": round(rss_kb / 1024, 1), "exit_code_after_sigterm": code,
            "poll_interval_seconds": 15, "settle_seconds": IDLE_SETTLE_SECONDS}


# -- orchestration

def run_worker(kind: str, home: Path, **options) -> dict:
    argv = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--home", str(home)]
    for key, value in options.items():
        if value is True:
            argv.append(f"--{key}")
        elif value not in (None, False):
            argv += [f"--{key}", str(value)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS + 600)
    if done.returncode != 0:
        raise RuntimeError(f"worker {kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


MEDIAN_KEYS = ("start_ms_per_execution", "run_seconds", "stage_transitions_per_second", "all_transitions_per_second",
               "executions_per_second", "scheduler_busy_fraction", "ru_maxrss_mb")


def medians(runs: list[dict]) -> dict:
    out = {k: statistics.median(r[k] for r in runs) for k in MEDIAN_KEYS}
    for k in ("overhead_ms", "stage_wall_ms", "action_ms", "gap_between_stages_ms", "noop_stage_wall_ms"):
        out[k] = {s: statistics.median(r[k][s] for r in runs) for s in ("median", "p95")}
    return out


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "")
    mem_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal")))

    def out(*argv: str) -> str:
        return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True).stdout.strip()
    commit = out("git", "rev-parse", "--short", "HEAD")
    dirty = bool(out("git", "status", "--porcelain", "src"))
    git_version = out("git", "--version")
    return {"nproc": len(os.sched_getaffinity(0)), "cpu_model": model, "memory_gb": round(mem_kb / 2**20, 1),
            "kernel": platform.release(), "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "git": git_version, "conveyor_commit": commit + ("+dirty-src" if dirty else "")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=None, help="executions per run (default 1000)")
    parser.add_argument("--quick", action="store_true", help="100 executions and a 10 s idle window")
    parser.add_argument("--runs", type=int, default=3, help="runs per execution mode (default 3)")
    parser.add_argument("--idle-seconds", type=float, default=None, help="daemon idle window (default 60, quick 10)")
    parser.add_argument("--single", type=int, default=20, help="executions run one at a time (default 20)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="PARALLEL", help=argparse.SUPPRESS)
    parser.add_argument("--tracemalloc", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--arrivals", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    executions = args.executions or (100 if args.quick else 1000)
    if args.worker == "throughput":
        print(json.dumps(worker_throughput(args.home, args.mode, executions, args.tracemalloc, args.arrivals)))
        return 0
    if args.worker == "single":
        print(json.dumps(worker_single(args.home, args.single)))
        return 0
    idle_seconds = args.idle_seconds or (10.0 if args.quick else 60.0)

    began = time.time()
    scratch = Path(tempfile.mkdtemp(prefix="conveyor-bench-"))
    now = datetime.datetime.now(datetime.timezone.utc)
    results: dict = {"benchmark": "engine", "date": now.isoformat(timespec="seconds"),
                     "command": " ".join(["python3", "bench/engine.py", *(argv if argv is not None else sys.argv[1:])]),
                     "machine": machine(),
                     "config": {"executions": executions, "stages": STAGES, "runs": args.runs,
                                "single_executions": args.single, "idle_seconds": idle_seconds}}
    try:
        for key, mode, arrivals in (("parallel", "PARALLEL", False), ("queued", "QUEUED", False),
                                    ("parallel_arrivals", "PARALLEL", True)):
            runs = []
            for i in range(args.runs):
                home = scratch / f"{key}-{i}" / "home"
                runs.append(run_worker("throughput", home, mode=mode, executions=executions, arrivals=arrivals))
                r = runs[-1]
                print(f"{key} run {i + 1}/{args.runs}: start {r['start_seconds']:.1f}s, run {r['run_seconds']:.1f}s, "
                      f"{r['stage_transitions_per_second']:.0f} stage transitions/s, overhead median/p95 "
                      f"{r['overhead_ms']['median']:.1f}/{r['overhead_ms']['p95']:.1f} ms, {r['statuses']}", flush=True)
            results[key] = {"median": medians(runs), "runs": runs}
        mem = run_worker("throughput", scratch / "memory" / "home", mode="PARALLEL", executions=executions,
                         tracemalloc=True)
        results["memory"] = {"mode": "PARALLEL", "executions": executions,
                             "tracemalloc_peak_mb": mem["tracemalloc_peak_mb"], "ru_maxrss_mb": mem["ru_maxrss_mb"],
                             "ru_maxrss_mb_untraced_median": results["parallel"]["median"]["ru_maxrss_mb"],
                             "run_seconds_with_tracemalloc": mem["run_seconds"]}
        print(f"memory: tracemalloc peak {mem['tracemalloc_peak_mb']} MB, ru_maxrss {mem['ru_maxrss_mb']} MB",
              flush=True)
        results["single_execution"] = run_worker("single", scratch / "single" / "home", single=args.single)
        print(f"single: overhead median {results['single_execution']['overhead_ms']['median']} ms", flush=True)
        results["daemon_idle"] = daemon_idle(scratch / f"parallel-{args.runs - 1}" / "home", idle_seconds)
        print(f"idle: {results['daemon_idle']['cpu_percent_daemon']}% daemon, "
              f"{results['daemon_idle']['cpu_percent_with_children']}% with git children", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    p, q, a = results["parallel"]["median"], results["queued"]["median"], results["parallel_arrivals"]["median"]
    single, idle = results["single_execution"], results["daemon_idle"]
    results["targets"] = {
        "stage_transitions_per_second (PARALLEL, median of runs)": _check(p["stage_transitions_per_second"], ">=", 200),
        "stage_transitions_per_second (QUEUED, median of runs)": _check(q["stage_transitions_per_second"], ">=", 200),
        "overhead_per_stage_ms (one execution at a time, median)": _check(single["overhead_ms"]["median"], "<", 100),
        f"overhead_per_stage_ms ({executions} PARALLEL, median)": _check(p["overhead_ms"]["median"], "<", 100),
        f"overhead_per_stage_ms ({executions} PARALLEL, p95)": _check(p["overhead_ms"]["p95"], "<", 100),
        f"overhead_per_stage_ms ({executions} PARALLEL arriving at the start rate, p95)":
            _check(a["overhead_ms"]["p95"], "<", 100),
        "daemon_idle_cpu_percent (daemon + git children)": _check(idle["cpu_percent_with_children"], "<", 2),
    }
    results["elapsed_seconds"] = round(time.time() - began, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    for name, verdict in results["targets"].items():
        print(f"{'PASS' if verdict['pass'] else 'FAIL'}  {name}: {verdict['value']} (target {verdict['target']})")
    print(f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    return 0


def _check(value: float, op: str, target: float) -> dict:
    return {"value": value, "target": f"{op} {target:g}", "pass": value >= target if op == ">=" else value < target}


if __name__ == "__main__":
    sys.exit(main())
