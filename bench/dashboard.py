"""Dashboard benchmark: how fast the dashboard paints and follows events with a store the size of a
busy team's, and what open dashboards cost the daemon.

    python3 bench/dashboard.py              # ~4 min on 2 cores
    python3 bench/dashboard.py --quick      # ~1 min: 20 pipelines x 5 executions, fewer samples

Setup: --pipelines pipelines (100), each run --executions times (10: 1,000 executions in all)
through the real engine Service (Git source, two Wait actions), then the real daemon
(`python -m conveyor.server.daemon`) started on that data dir, and Debian's headless Chromium
driven by Playwright, logged in through the login form.

What it measures (medians over --runs samples, p95 where there are enough):
  * first paint: first-contentful-paint of /ui/pipelines in a fresh page, and the time until its
    table holds a row for every pipeline (navigation start -> last row in the DOM);
  * event to screen: with the events page open, start an execution through the API; the time from
    the event's own timestamp (`at`, written when the engine committed it) to the moment its row is
    in the page's DOM (a MutationObserver in the page stamps it; browser and daemon share a clock);
  * daemon CPU with 10 dashboards open (each a page holding the event stream): idle, and while one
    execution a second runs, against the same with no dashboard open.

Results go to bench/results/dashboard.json with the machine they ran on.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

RESULTS = ROOT / "bench" / "results" / "dashboard.json"
CHROMIUM = os.environ.get("CONVEYOR_CHROMIUM", "/usr/bin/chromium")
GIT_ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}
PIPELINE = """\
name: {name}
pipeline:
  executionMode: PARALLEL
  stages:
    - name: Source
      actions:
        - {{name: Source, provider: Git, outputArtifacts: [src]}}
    - name: Build
      actions:
        - {{name: Build, provider: Wait, seconds: 0}}
    - name: Release
      actions:
        - {{name: Release, provider: Wait, seconds: 0}}
"""

# Stamps, in the page, when each text first appears in the DOM (epoch milliseconds).
OBSERVER = """
() => {
  window.__seen = [];
  new MutationObserver((records) => {
    const now = performance.timeOrigin + performance.now();
    for (const r of records) {
      for (const n of r.addedNodes) window.__seen.push([now, n.textContent || ""]);
      if (r.type === "characterData") window.__seen.push([now, r.target.textContent || ""]);
    }
  }).observe(document.body, {childList: true, subtree: true, characterData: true});
}
"""


def seed(home: Path, work: Path, pipelines: int, per: int) -> dict:
    """`pipelines` registered pipelines with `per` finished executions each, through the real engine."""
    from conveyor.engine.service import Service

    svc = Service(home)
    svc.start(polling=False)
    started = time.perf_counter()
    ids: list[str] = []
    repos = []
    for i in range(pipelines):
        repo = work / f"repo-{i:03d}"
        repo.mkdir(parents=True)
        (repo / "conveyor.yml").write_text(PIPELINE.format(name=f"bench-{i:03d}"))
        for argv in (["init", "-q", "-b", "main"], ["add", "conveyor.yml"],
                     ["-c", "commit.gpgsign=false", "commit", "-q", "-m", "bench"]):
            subprocess.run(["git", *argv], cwd=repo, env={**os.environ, **GIT_ENV}, check=True)
        repos.append(repo)
    for _ in range(per):
        for repo in repos:
            ids.append(svc.start_execution(repository=str(repo))["id"])
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        done = sum(1 for ex in ids if svc.describe(ex)["status"] in ("Succeeded", "Failed"))
        if done == len(ids):
            break
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    failed = sum(1 for ex in ids if svc.describe(ex)["status"] != "Succeeded")
    svc.shutdown()
    return {"pipelines": pipelines, "executions": len(ids), "failed": failed, "seconds": round(seconds, 1),
            "repos": [str(r) for r in repos]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    def __init__(self, home: Path):
        self.home, self.port = home, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(home / "bench-daemon.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "conveyor.server.daemon", "--home", str(home), "--port", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/api/v1/health", timeout=1).read()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the daemon did not start; see {home / 'bench-daemon.log'}") from None
                time.sleep(0.1)
        self.token = (home / "token").read_text().strip()

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method,
                                     headers={"Authorization": f"Bearer {self.token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as res:
            return json.loads(res.read())

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def login(context, url: str, token: str):
    page = context.new_page()
    page.goto(f"{url}/login")
    page.get_by_label("Token").fill(token)
    page.get_by_label("Your name").fill("bench")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/ui/**")
    return page


def first_paint(context, url: str, pipelines: int, runs: int) -> dict:
    fcp, full = [], []
    for _ in range(runs):
        page = context.new_page()
        page.goto(f"{url}/ui/pipelines")
        page.wait_for_function("(n) => document.querySelectorAll('main table tbody tr').length >= n",
                               arg=pipelines, polling="raf", timeout=60_000)
        full.append(page.evaluate("performance.now()"))
        fcp.append(page.evaluate(
            "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"))
        page.close()
    return {"first_contentful_paint_ms": spread([v for v in fcp if v is not None]),
            "all_rows_ms": spread(full), "rows": pipelines, "samples": runs}


def event_to_screen(context, daemon: Daemon, repo: str, samples: int) -> dict:
    page = context.new_page()
    page.goto(f"{daemon.url}/ui/events")
    page.wait_for_selector("main table", timeout=60_000)
    page.evaluate(OBSERVER)
    latencies = []
    for _ in range(samples):
        ex = daemon.call("POST", "/api/v1/executions", {"repository": repo})["id"]
        deadline = time.monotonic() + 30
        event = None
        while event is None and time.monotonic() < deadline:
            answer = daemon.call("GET", "/api/v1/events?type=pipeline-execution-started&tail=20")
            event = next((e for e in answer["events"] if e["subject"].get("execution_id") == ex), None)
            time.sleep(0.05)
        assert event is not None, f"no pipeline-execution-started event for {ex}"
        needle = event.get("summary") or ex
        page.wait_for_function("(needle) => window.__seen.some(([, t]) => t.includes(needle))", arg=needle,
                               polling="raf", timeout=30_000)
        seen = page.evaluate("(needle) => window.__seen.find(([, t]) => t.includes(needle))[0]", needle)
        latencies.append(seen - event["at"] * 1000)
        wait_done(daemon, ex)
    page.close()
    return {"latency_ms": spread(latencies), "samples": samples, "page": "/ui/events"}


def wait_done(daemon: Daemon, ex: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if daemon.call("GET", f"/api/v1/executions/{ex}")["status"] in ("Succeeded", "Failed", "Stopped"):
            return
        time.sleep(0.1)


def cpu(browser, daemon: Daemon, repo: str, dashboards: int, seconds: float, busy: bool) -> dict:
    contexts, pages = [], []
    for _ in range(dashboards):
        ctx = browser.new_context()
        page = login(ctx, daemon.url, daemon.token)
        page.goto(f"{daemon.url}/ui/pipelines")
        page.wait_for_selector("main table tbody tr", timeout=60_000)
        contexts.append(ctx)
        pages.append(page)
    time.sleep(2)
    c0, t0 = daemon.cpu_seconds(), time.monotonic()
    started = 0
    while time.monotonic() - t0 < seconds:
        if busy:
            daemon.call("POST", "/api/v1/executions", {"repository": repo})
            started += 1
            time.sleep(max(0.0, t0 + started - time.monotonic()))
        else:
            time.sleep(0.5)
    used, wall = daemon.cpu_seconds() - c0, time.monotonic() - t0
    for ctx in contexts:
        ctx.close()
    return {"dashboards": dashboards, "busy": busy, "executions_started": started, "seconds": round(wall, 1),
            "cpu_percent": round(used / wall * 100, 2)}


def spread(values: list[float]) -> dict:
    if not values:
        return {}
    ordered = sorted(values)
    out = {"median": round(statistics.median(ordered), 1), "min": round(ordered[0], 1),
           "max": round(ordered[-1], 1)}
    if len(ordered) >= 10:
        out["p95"] = round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1)
    return out


def machine() -> dict:
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
            "chromium": subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--pipelines", type=int, default=None)
    ap.add_argument("--executions", type=int, default=None, help="per pipeline")
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--cpu-seconds", type=float, default=None)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    pipelines = args.pipelines or (20 if args.quick else 100)
    per = args.executions or (5 if args.quick else 10)
    runs = args.runs or (3 if args.quick else 7)
    cpu_seconds = args.cpu_seconds or (10 if args.quick else 30)

    from playwright.sync_api import sync_playwright

    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir(mode=0o700)
        os.environ["CONVEYOR_HOME"] = str(home)
        print(f"seeding {pipelines} pipelines x {per} executions ...", flush=True)
        store = seed(home, Path(tmp) / "repos", pipelines, per)
        repo = store.pop("repos")[0]
        daemon = Daemon(home)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                login(context, daemon.url, daemon.token).close()
                print("first paint ...", flush=True)
                paint = first_paint(context, daemon.url, pipelines, runs)
                print("event to screen ...", flush=True)
                latency = event_to_screen(context, daemon, repo, max(10, runs * 3))
                context.close()
                print("daemon CPU ...", flush=True)
                cpu_runs = [cpu(browser, daemon, repo, n, cpu_seconds, busy)
                            for busy in (False, True) for n in (0, 10)]
                browser.close()
        finally:
            daemon.stop()
    result = {"benchmark": "dashboard", "date": datetime.date.today().isoformat(),
              "command": " ".join(["python3", "bench/dashboard.py", *(argv if argv is not None else sys.argv[1:])]),
              "machine": machine(), "store": store, "first_paint": paint, "event_to_screen": latency,
              "daemon_cpu": cpu_runs, "elapsed_seconds": round(time.perf_counter() - began, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
