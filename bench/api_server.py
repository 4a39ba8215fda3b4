"""The daemon's API before and after its move to Starlette + uvicorn: request latency and
throughput of a typical read (GET /api/v1/executions?limit=20, the SQLite history) and a
state-changing route (POST /api/v1/secrets, which encrypts and writes the secret store).

    python3 bench/api_server.py                # writes bench/results/api_server-<date>.json
    python3 bench/api_server.py --quick        # fewer requests, one run

Each server runs in its own process over the real engine Service and release service (the
in-memory backend) on a fresh data directory: the old one is the http.server API of
--old-ref (its `src/` extracted with git archive), the new one this tree's. The client is
another process: `latency` sends requests one after another, a new connection each (as the CLI
does), and takes the median and 95th percentile; `throughput` runs --clients threads for
--seconds, each request on a new connection, and counts answers per second. Both servers
close the connection after each answer for the old one (HTTP/1.0), so the new one is measured
the same way. Every answer must be 200: a run with another status fails.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from engine import machine

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
OLD_REF = "8b01a1f"  # the last commit with the http.server API
TOKEN = "bench-token"

SERVER = r"""
import sys, threading
from pathlib import Path
from conveyor.backend.fake import FakeBackend
from conveyor.engine.service import Service
from conveyor.release.service import ReleaseService
from conveyor.release.store import ReleaseStore
from conveyor.server.api import Api
home = Path(sys.argv[1])
api = Api(Service(home), ReleaseService({"local": FakeBackend().backend}, ReleaseStore(home / "releases.db")), "%s")
try:
    from conveyor.server.asgi import create_app
    from conveyor.hostcheck import allowed_hosts
    from conveyor.server.serve import ApiServer
    server = ApiServer(create_app(api, allowed_hosts("127.0.0.1")), "127.0.0.1", 0)
    print(server.address[1], flush=True)
    server.serve_forever()
except ImportError:
    from conveyor.server.api import make_server
    server = make_server(api, "127.0.0.1", 0)
    print(server.server_address[1], flush=True)
    server.serve_forever()
""" % TOKEN


def start(src: Path, home: Path) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(home)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(src)}, text=True)
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, port


def call(port: int, method: str, path: str, body: bytes | None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {TOKEN}", "Connection": "close"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status


ROUTES = {
    "read": ("GET", "/api/v1/executions?limit=20", None),
    "write": ("POST", "/api/v1/secrets", json.dumps({"name": "bench", "value": "v" * 64, "by": "bench"}).encode()),
}


def latency(port: int, route: str, requests: int) -> dict:
    method, path, body = ROUTES[route]
    times = []
    for _ in range(requests):
        t0 = time.perf_counter()
        status = call(port, method, path, body)
        times.append(time.perf_counter() - t0)
        if status != 200:
            raise SystemExit(f"{route}: HTTP {status}")
    times.sort()
    return {"median_ms": round(statistics.median(times) * 1000, 3),
            "p95_ms": round(times[int(len(times) * 0.95) - 1] * 1000, 3), "requests": requests}


def throughput(port: int, route: str, clients: int, seconds: float) -> dict:
    method, path, body = ROUTES[route]
    counts = [0] * clients
    errors: list[str] = []
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        while time.monotonic() < stop:
            try:
                status = call(port, method, path, body)
            except (OSError, http.client.HTTPException) as exc:
                errors.append(repr(exc))
                continue
            if status != 200:
                errors.append(f"HTTP {status}")
            counts[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    return {"requests_per_s": round(sum(counts) / elapsed, 1), "requests": sum(counts), "errors": len(errors),
            "first_errors": errors[:3]}


def measure(src: Path, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-api-") as tmp:
        proc, port = start(src, Path(tmp))
        try:
            for _ in range(50):  # warm up: imports, SQLite pages, the secret store's key
                call(port, *ROUTES["read"])
                call(port, *ROUTES["write"])
            out: dict = {}
            for route in ROUTES:
                out[route] = {"latency": latency(port, route, args.requests),
                              "throughput": throughput(port, route, args.clients, args.seconds)}
            return out
        finally:
            proc.terminate()
            proc.wait(10)


def old_tree(ref: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "--", "src"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old-ref", default=OLD_REF)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=500, help="sequential requests per route and run")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=Path, help="default bench/results/api_server-<date>.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.requests, args.seconds = 1, 100, 2.0
    socket.setdefaulttimeout(30)
    runs: dict[str, list[dict]] = {"old": [], "new": []}
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-old-") as tmp:
        trees = {"old": old_tree(args.old_ref, Path(tmp)), "new": ROOT / "src"}
        for i in range(args.runs):
            for kind in ("old", "new") if i % 2 == 0 else ("new", "old"):  # alternate: no order bias
                runs[kind].append(measure(trees[kind], args))
                print(f"run {i + 1} {kind}: {json.dumps(runs[kind][-1])}", flush=True)
    summary: dict = {}
    for kind, rows in runs.items():
        summary[kind] = {route: {
            "latency_median_ms": statistics.median(r[route]["latency"]["median_ms"] for r in rows),
            "latency_p95_ms": statistics.median(r[route]["latency"]["p95_ms"] for r in rows),
            "requests_per_s": statistics.median(r[route]["throughput"]["requests_per_s"] for r in rows),
            "errors": sum(r[route]["throughput"]["errors"] for r in rows)} for route in ROUTES}
    result = {"benchmark": "api_server", "date": datetime.date.today().isoformat(), "machine": machine(),
              "old_ref": args.old_ref, "routes": {k: f"{m} {p}" for k, (m, p, _) in ROUTES.items()},
              "settings": {"runs": args.runs, "requests": args.requests, "clients": args.clients,
                           "seconds": args.seconds}, "summary": summary, "runs": runs}
    out = args.output or RESULTS / f"api_server-{result['date']}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'server':<6} {'route':<6} {'median ms':>10} {'p95 ms':>8} {'req/s':>8} {'errors':>6}")
    for kind, routes in summary.items():
        for route, s in routes.items():
            print(f"{kind:<6} {route:<6} {s['latency_median_ms']:>10} {s['latency_p95_ms']:>8} "
                  f"{s['requests_per_s']:>8} {s['errors']:>6}")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
