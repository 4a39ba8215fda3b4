"""Zero-downtime benchmark: a bounded constant-rate HTTP load (conveyor.loadgen) on a listener
while something happens to the service behind it, counting failed requests and the longest gap
between successful answers.

    python3 bench/zero_downtime.py selftest                  # 20,000 requests at 1,000/s on a local server, 3 runs
    python3 bench/zero_downtime.py selftest --rate 2000 --requests 40000 --repeat 1
    python3 bench/zero_downtime.py ratecheck                 # the highest rate the generator + server sustain
    python3 bench/zero_downtime.py ratecheck --url http://127.0.0.1:8080/version   # ... against any listener

Scenarios are functions `scenario_<name>(args) -> dict` registered in SCENARIOS; the load part is
measure_during(), which runs a load while a callable (a deploy, a rollback) runs and summarises
both. Without --url, a stdlib threaded HTTP server (`serve`, in its own process so that it does
not share the generator's interpreter lock) answers 200 with an X-App-Version header.

Each run writes bench/results/zero_downtime-<scenario>-<YYYY-MM-DD>.json (every run, their
medians, the targets and the machine); docs/benchmarks.md summarises them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

# bench/engine.py's machine record (bench/ is on sys.path when run as a script)
from engine import machine

from conveyor.loadgen import (
    CLEAN_ACHIEVED_FRACTION,
    CLEAN_MAX_LAG_MS,
    GENERATOR_BEHIND,
    LoadGenerator,
    LoadResult,
    fell_behind,
    is_clean,
    rate_probes,
    verdict,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
VERSION_HEADER = "X-App-Version"
TARGET_MIN_REQUESTS = 20_000      # the issue: 0 failed requests of >= 20,000 ...
TARGET_LONGEST_GAP_MS = 100.0     # ... and no gap between successful answers of 100 ms or more
MAX_LOAD_SECONDS = 3600.0         # measure_during's bound: its load is stopped long before this
POST_FRACTION = 0.5               # the deploy scenarios' mix: half the requests POST an order ...
POST_PATH = "/orders"             # ... to the example's write route (201), the other half GET the URL
SERVER_START_SECONDS = 10.0


# -- the load part, reused by every scenario

def measure_during(url: str, action: Callable[[], Any], *, rate: float, min_requests: int,
                   settle_before: float = 1.0, settle_after: float = 1.0,
                   version_header: str | None = VERSION_HEADER, final_version: str | None = None,
                   **load_kw: Any) -> dict:
    """Start a load on `url`, wait `settle_before` seconds, run `action()` (in this thread; the load
    runs in its own), keep the load for `settle_after` seconds more and until `min_requests` were
    sent, then stop it. Returns the load's summary (LoadResult.to_json()), the action's return
    value and its start and end in seconds from the load's start; with `final_version`, also when
    every answer began carrying it (version_settled_s, from the action's start: rollback latency).
    If the action raises, the load is stopped and the exception propagates.

        out = measure_during(url, lambda: deploy("v2"), rate=1000, min_requests=20_000)
        assert out["load"]["failed"] == 0
    """
    gen = LoadGenerator(url, rate=rate, duration=MAX_LOAD_SECONDS, version_header=version_header, **load_kw)
    gen.start()
    try:
        time.sleep(settle_before)
        a0 = time.monotonic()
        value = action()
        a1 = time.monotonic()
        time.sleep(settle_after)
        while gen.completed < min_requests:
            time.sleep(0.05)
    finally:
        result = gen.stop()
    out = {"load": result.to_json(), "passed": _passed(result, min_requests), "verdict": verdict(result),
           "action": {"result": value, "start_s": round(a0 - result.started_at, 3),
                      "end_s": round(a1 - result.started_at, 3), "seconds": round(a1 - a0, 3)}}
    if final_version is not None:
        settled = gen.first_time_all(final_version, after=a0)
        out["version_settled_s"] = None if settled is None else round(settled - a0, 3)
    return out


def _passed(result: LoadResult, min_requests: int) -> dict:
    """The verdicts on one load; `rate_kept`: the claim is only worth the rate actually sent."""
    return {"requests": result.total >= min_requests, "no_failed_requests": result.failed() == 0,
            "longest_gap": result.longest_gap_ms < TARGET_LONGEST_GAP_MS,
            "rate_kept": not fell_behind(result)}


def rate_targets(runs: list[dict]) -> dict:
    """The verdict on the instrument: a run whose generator fell behind its rate (a request
    started more than CLEAN_MAX_LAG_MS late, or under CLEAN_ACHIEVED_FRACTION of the rate sent)
    is reported as GENERATOR_BEHIND, not counted clean, whatever its failed count."""
    behind = [i + 1 for i, r in enumerate(runs) if r["verdict"] == GENERATOR_BEHIND]
    return {f"generator kept its rate (runs '{GENERATOR_BEHIND}': {behind or 'none'})": _check(len(behind), "==", 0),
            "clean runs (0 failed, rate kept)": _check(sum(r["verdict"] == "clean" for r in runs), "==", len(runs))}


# -- a local server to aim at

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # headers and body are two writes: without it, 40 ms delayed-ACK stalls
    version = "v1"

    def do_GET(self) -> None:
        self._answer(200)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer(201)

    def _answer(self, status: int) -> None:
        body = b'{"status": "ok"}\n'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header(VERSION_HEADER, self.version)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # listen() backlog; socketserver's 5 drops SYNs under load (1 s retransmits)


def serve(port: int, version: str, http10: bool) -> None:
    """Serve until killed; print the port once listening."""
    handler = type("Handler", (_Handler,), {"version": version,
                                            "protocol_version": "HTTP/1.0" if http10 else "HTTP/1.1"})
    server = _Server(("127.0.0.1", port), handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


class LocalServer:
    """`serve` in a child process: with LocalServer(...) as server: server.url"""

    def __init__(self, version: str = "v1", http10: bool = False) -> None:
        argv = [sys.executable, str(Path(__file__).resolve()), "serve", "--version", version]
        self.proc = subprocess.Popen(argv + (["--http10"] if http10 else []), stdout=subprocess.PIPE, text=True)
        ready = threading.Timer(SERVER_START_SECONDS, self.proc.kill)
        ready.start()
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        ready.cancel()
        if not line.strip().isdigit():
            self.close()
            raise RuntimeError("the local test server did not start")
        self.url = f"http://127.0.0.1:{int(line)}/version"

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- scenarios

def scenario_selftest(args: argparse.Namespace) -> dict:
    """The generator alone against the local server (or --url), nothing happening behind it."""
    runs = []
    with _target(args) as (url, server):
        for i in range(args.repeat):
            cpu0 = server.cpu_seconds() if server else None
            out = measure_during(url, lambda: None, rate=args.rate, min_requests=args.requests,
                                 settle_before=0.0, settle_after=0.0, keepalive_fraction=args.keepalive_fraction,
                                 post_fraction=args.post_fraction, post_path=POST_PATH)
            out["load"]["max_requests"] = args.requests
            if server and cpu0 is not None:
                out["server_cpu_seconds"] = round(server.cpu_seconds() - cpu0, 3)
            runs.append(out)
            _progress(f"selftest run {i + 1}/{args.repeat}", out["load"])
    keys = ("total", "failed", "longest_gap_ms", "achieved_rate", "max_lag_ms", "late_starts", "cpu_seconds",
            "cpu_percent_of_one_core")
    med = {k: statistics.median(r["load"][k] for r in runs) for k in keys}
    med["latency_ms"] = {k: statistics.median(r["load"]["latency_ms"][k] for r in runs) for k in ("p50", "p99", "max")}
    return {"config": {"url": url, "rate": args.rate, "requests": args.requests, "repeat": args.repeat,
                       "keepalive_fraction": args.keepalive_fraction, "post_fraction": args.post_fraction,
                       "post_path": POST_PATH, "local_server": server is not None},
            "median": med, "runs": runs,
            "targets": {"failed_requests (max over runs)": _check(max(r["load"]["failed"] for r in runs), "==", 0),
                        "longest_gap_ms (max over runs)":
                            _check(max(r["load"]["longest_gap_ms"] for r in runs), "<", TARGET_LONGEST_GAP_MS),
                        "requests per run (min)": _check(min(r["load"]["total"] for r in runs), ">=", args.requests),
                        "achieved rate, % of the target (min over runs)":
                            _check(min(round(100 * r["load"]["achieved_rate"] / args.rate, 1) for r in runs), ">=",
                                   100 * CLEAN_ACHIEVED_FRACTION),
                        "max_lag_ms, a request's start after its slot (max over runs)":
                            _check(max(r["load"]["max_lag_ms"] for r in runs), "<=", CLEAN_MAX_LAG_MS)}}


def scenario_ratecheck(args: argparse.Namespace) -> dict:
    """The highest rate the generator and the server behind --url (or the local one) sustain.

    Rates start, start*1.5, ... each for --probe-seconds, up to the first one that is not clean
    (a failed request, a request started > 50 ms late, or < 95 % of the rate sent)."""
    runs = []
    with _target(args) as (url, _server):
        for i in range(args.repeat):
            probes = rate_probes(url, start=args.start_rate, limit=args.limit, probe_seconds=args.probe_seconds,
                                 keepalive_fraction=args.keepalive_fraction)
            best = max((p.rate for p in probes if is_clean(p)), default=0.0)
            runs.append({"max_sustainable_rate": best,
                         "probes": [{**p.to_json(), "clean": is_clean(p)} for p in probes]})
            tried = ", ".join(f"{p.rate:.0f}" + ("" if is_clean(p) else " (not clean)") for p in probes)
            print(f"ratecheck run {i + 1}/{args.repeat}: max sustainable {best:.0f} req/s; tried {tried}", flush=True)
    return {"config": {"url": url, "start": args.start_rate, "limit": args.limit, "step_factor": 1.5,
                       "probe_seconds": args.probe_seconds, "keepalive_fraction": args.keepalive_fraction,
                       "repeat": args.repeat},
            "median": {"max_sustainable_rate": statistics.median(r["max_sustainable_rate"] for r in runs)},
            "runs": runs}


# -- deploy scenarios: a real daemon, real pods, real HAProxy (needs `conveyor setup`)

EXAMPLE = ROOT / "examples" / "orders-service"
IMAGE = "localhost/conveyor-bench/orders"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_images(versions: tuple[str, ...] = ("v1", "v2")) -> dict[str, str]:
    """The example app, once per version (APP_VERSION baked in: the X-App-Version header)."""
    from conveyor.images import BASE_IMAGE

    base = f"{IMAGE}:base"
    subprocess.run(["podman", "build", "--quiet", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}", "-t", base,
                    "-f", str(EXAMPLE / "Containerfile"), str(EXAMPLE)], check=True, capture_output=True)
    out = {}
    for v in versions:
        subprocess.run(["podman", "build", "--quiet", "-t", f"{IMAGE}:{v}", "-f", "-", str(EXAMPLE)],
                       input=f"FROM {base}\nENV APP_VERSION={v}\n".encode(), check=True, capture_output=True)
        out[v] = f"{IMAGE}:{v}"
    return out


class Stack:
    """A Conveyor daemon with its own data directory, and one staging service behind HAProxy."""

    def __init__(self, desired: int = 2, circuit_breaker: bool = True):
        import tempfile
        import textwrap

        self.dir = Path(tempfile.mkdtemp(prefix="conveyor-bench-"))
        self.port = _free_port()
        self.env = {**os.environ, "CONVEYOR_HOME": str(self.dir / "home"), "CONVEYOR_PORT": str(_free_port()),
                    "CONVEYOR_REGISTRY_PORT": str(_free_port())}
        taskdef = {"family": "orders", "networkMode": "awsvpc", "containerDefinitions": [{
            "name": "api", "image": "<IMAGE1_NAME>", "essential": True, "stopTimeout": 5, "memory": 256,
            "portMappings": [{"containerPort": 8080}], "environment": [{"name": "PORT", "value": "8080"}]}]}
        (self.dir / "taskdef.json").write_text(json.dumps(taskdef))
        (self.dir / "conveyor.yml").write_text(textwrap.dedent(f"""\
            name: bench
            pipeline:
              stages:
                - {{name: Source, actions: [{{name: Source, provider: Git, outputArtifacts: [src]}}]}}
                - {{name: Deploy, actions: [{{name: Deploy, provider: ECS, environment: staging, service: orders,
                                              inputArtifacts: [src]}}]}}
            environments:
              staging:
                services:
                  orders:
                    taskDefinition: taskdef.json
                    desiredCount: {desired}
                    loadBalancer: {{port: {self.port}, container: api, containerPort: 8080,
                                    deregistrationDelaySeconds: 2,
                                    healthCheck: {{path: /health, intervalSeconds: 1, healthyThresholdCount: 2}}}}
                    deployment: {{controller: ECS, circuitBreaker: {{enable: {str(circuit_breaker).lower()},
                                                                     rollback: true}}}}
            """))
        self.url = f"http://127.0.0.1:{self.port}/health"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "conveyor.cli.main", *args], env=self.env, capture_output=True,
                              text=True, timeout=600)
        if check and done.returncode != 0:
            raise RuntimeError(f"conveyor {' '.join(args)}: {done.stdout}{done.stderr}")
        return done

    def deploy(self, image: str, check: bool = True) -> dict:
        t0 = time.monotonic()
        done = self.cli("deploy", "staging", "orders", "--image", image, "--file", str(self.dir / "conveyor.yml"),
                        "--timeout", "5", check=check)
        status = json.loads(self.cli("deploy", "status", "staging", "orders", "--json").stdout)
        return {"seconds": round(time.monotonic() - t0, 2), "exit": done.returncode,
                "deployment": status["deployment"], "stderr": done.stderr.strip()[-300:]}

    def __enter__(self) -> Self:
        self.cli("up")
        return self

    def __exit__(self, *exc: object) -> None:
        self.cli("down", "--all", check=False)


def _deploy_runs(args: argparse.Namespace, crash: bool) -> dict:
    images = build_images()
    runs = []
    with Stack() as stack:
        stack.deploy(images["v1"])
        current = "v1"
        for i in range(args.repeat):
            target = "crash" if crash else ("v2" if current == "v1" else "v1")
            image = _crash_image() if crash else images[target]
            out = measure_during(stack.url, lambda image=image: stack.deploy(image, check=not crash),
                                 rate=args.rate, min_requests=args.requests,
                                 keepalive_fraction=args.keepalive_fraction, post_fraction=args.post_fraction,
                                 post_path=POST_PATH, final_version=None if crash else target)
            out["from"], out["to"] = current, target
            if not crash:
                current = target
            runs.append(out)
            _progress(f"{'crash' if crash else 'rolling'} run {i + 1}/{args.repeat} ({out['from']} -> {out['to']}, "
                      f"deploy {out['action']['result']['seconds']} s)", out["load"])
    return _summary(args, runs, extra_targets={} if not crash else {
        "old version kept serving (answers not from v1, max over runs)":
            _check(max(sum(n for v, n in r["load"]["versions"].items() if v != "v1") for r in runs), "==", 0),
        "deploy reported failed (every run)": _check(int(all(r["action"]["result"]["exit"] == 1 for r in runs)),
                                                     "==", 1)})


def _crash_image() -> str:
    from conveyor.images import BUSYBOX_IMAGE

    return BUSYBOX_IMAGE  # no python3 inside: the app's container exits at once


def scenario_rolling(args: argparse.Namespace) -> dict:
    """A rolling deploy (2 tasks, min 100 %, max 200 %) under load, v1 <-> v2, --repeat times."""
    return _deploy_runs(args, crash=False)


def scenario_crash(args: argparse.Namespace) -> dict:
    """A release whose tasks exit at start: the circuit breaker trips and rolls back; v1 keeps serving."""
    return _deploy_runs(args, crash=True)


def scenario_naive(args: argparse.Namespace) -> dict:
    """The baseline: one container on the listener's port, stopped, then the new one started (an SSH deploy)."""
    images = build_images()
    port = _free_port()
    url = f"http://127.0.0.1:{port}/health"
    name = f"conveyor-bench-naive-{port}"

    def start(image: str) -> None:
        subprocess.run(["podman", "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8080", image],
                       check=True, capture_output=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                import urllib.request

                urllib.request.urlopen(url, timeout=1).read()
                return
            except OSError:
                time.sleep(0.05)

    def redeploy(image: str) -> dict:
        t0 = time.monotonic()
        subprocess.run(["podman", "rm", "-f", "-t", "5", name], check=True, capture_output=True)
        start(image)
        return {"seconds": round(time.monotonic() - t0, 2)}

    runs = []
    start(images["v1"])
    current = "v1"
    try:
        for i in range(args.repeat):
            target = "v2" if current == "v1" else "v1"
            out = measure_during(url, lambda target=target: redeploy(images[target]), rate=args.rate,
                                 min_requests=args.requests, keepalive_fraction=args.keepalive_fraction,
                                 post_fraction=args.post_fraction, post_path=POST_PATH, final_version=target)
            out["from"], out["to"], current = current, target, target
            runs.append(out)
            _progress(f"naive run {i + 1}/{args.repeat}", out["load"])
    finally:
        subprocess.run(["podman", "rm", "-f", name], capture_output=True)
    return _summary(args, runs, expect_failures=True)


def _summary(args: argparse.Namespace, runs: list[dict], extra_targets: dict | None = None,
             expect_failures: bool = False) -> dict:
    keys = ("total", "failed", "longest_gap_ms", "achieved_rate", "max_lag_ms")
    med = {k: statistics.median(r["load"][k] for r in runs) for k in keys}
    med["deploy_seconds"] = statistics.median(r["action"]["seconds"] for r in runs)
    settled = [r["version_settled_s"] for r in runs if r.get("version_settled_s") is not None]
    if settled:
        med["all_answers_new_version_after_s"] = statistics.median(settled)
    out = {"config": {"rate": args.rate, "requests": args.requests, "repeat": args.repeat,
                      "keepalive_fraction": args.keepalive_fraction, "post_fraction": args.post_fraction,
                      "post_path": POST_PATH},
           "median": med, "runs": runs, "verdicts": [r["verdict"] for r in runs]}
    if not expect_failures:
        out["targets"] = {
            "failed_requests (max over runs)": _check(max(r["load"]["failed"] for r in runs), "==", 0),
            "longest_gap_ms (max over runs)":
                _check(max(r["load"]["longest_gap_ms"] for r in runs), "<", TARGET_LONGEST_GAP_MS),
            "requests per run (min)": _check(min(r["load"]["total"] for r in runs), ">=", args.requests),
            "failed POSTs (max over runs)": _check(max(r["load"]["failed_by_method"]["POST"] for r in runs), "==", 0),
            **rate_targets(runs), **(extra_targets or {})}
    return out


SCENARIOS: dict[str, Callable[[argparse.Namespace], dict]] = {
    "selftest": scenario_selftest,
    "ratecheck": scenario_ratecheck,
    "rolling": scenario_rolling,
    "crash": scenario_crash,
    "naive": scenario_naive,
}


@contextmanager
def _target(args: argparse.Namespace) -> Iterator[tuple[str, LocalServer | None]]:
    """--url if given, else a LocalServer for the time of the block."""
    if args.url:
        yield args.url, None
        return
    with LocalServer(http10=args.http10) as server:
        yield server.url, server


def _progress(label: str, load: dict) -> None:
    behind = " [generator behind: not clean]" if load["max_lag_ms"] > CLEAN_MAX_LAG_MS or (
        load["achieved_rate"] < CLEAN_ACHIEVED_FRACTION * load["rate"]) else ""
    methods = load.get("methods") or {}
    print(f"{label}{behind}: {load['total']} requests ({methods.get('POST', 0)} POST) at "
          f"{load['achieved_rate']:.0f}/s, {load['failed']} failed, "
          f"longest gap {load['longest_gap_ms']:.1f} ms, max lag {load['max_lag_ms']:.1f} ms, "
          f"p99 {load['latency_ms'].get('p99', 0):.1f} ms, generator CPU {load['cpu_percent_of_one_core']}% "
          f"of a core", flush=True)


def _check(value: float, op: str, target: float) -> dict:
    ok = {"==": value == target, "<": value < target, "<=": value <= target, ">=": value >= target}[op]
    return {"value": value, "target": f"{op} {target:g}", "pass": ok}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="scenario", required=True)
    serve_p = sub.add_parser("serve", help="run the local test server alone (prints its port)")
    serve_p.add_argument("--port", type=int, default=0)
    serve_p.add_argument("--version", default="v1")
    serve_p.add_argument("--http10", action="store_true")
    for name, fn in SCENARIOS.items():
        p = sub.add_parser(name, help=(fn.__doc__ or "").split("\n")[0])
        p.add_argument("--url", help="load this listener instead of starting the local test server")
        p.add_argument("--http10", action="store_true", help="the local server answers HTTP/1.0, one request "
                       "per connection (as the orders-service example)")
        p.add_argument("--repeat", type=int, default=3, help="runs; results carry their medians (default 3)")
        p.add_argument("--keepalive-fraction", type=float, default=0.5)
        p.add_argument("--output", type=Path, help="default bench/results/zero_downtime-<scenario>-<date>.json")
        if name in ("selftest", "rolling", "crash", "naive"):
            p.add_argument("--rate", type=float, default=1000.0, help="requests/s (default 1000)")
            p.add_argument("--requests", type=int, default=TARGET_MIN_REQUESTS, help="per run (default 20000)")
            p.add_argument("--post-fraction", type=float, default=POST_FRACTION,
                           help=f"share of the requests that POST to {POST_PATH} (default {POST_FRACTION})")
        if name == "ratecheck":
            p.add_argument("--start-rate", type=float, default=200.0)
            p.add_argument("--limit", type=float, default=5000.0)
            p.add_argument("--probe-seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    if args.scenario == "serve":
        serve(args.port, args.version, args.http10)
        return 0

    began, now = time.time(), datetime.datetime.now(datetime.UTC)
    results = {"benchmark": f"zero_downtime-{args.scenario}", "date": now.isoformat(timespec="seconds"),
               "command": " ".join(["python3", "bench/zero_downtime.py", *(sys.argv[1:] if argv is None else argv)]),
               "machine": machine(), **SCENARIOS[args.scenario](args)}
    results["elapsed_seconds"] = round(time.time() - began, 1)
    output = args.output or RESULTS_DIR / f"zero_downtime-{args.scenario}-{now.date().isoformat()}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    for name, check in results.get("targets", {}).items():
        print(f"{'PASS' if check['pass'] else 'FAIL'}  {name}: {check['value']} (target {check['target']})")
    print(f"wrote {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
