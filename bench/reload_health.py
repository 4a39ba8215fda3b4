"""Reproducer for what bench/scale.py found at startup: while an environment's HAProxy is
reloaded more often than its health-check interval, a newly registered target never becomes
healthy.

    python3 bench/reload_health.py                      # reload every none/3/1.5/1.0/0.9/0.8/0.6 s, 3 trials each
    python3 bench/reload_health.py --every 0.8,1.2 --trials 5

Each trial: HAProxy driven through conveyor.lb.LoadBalancer exactly as the daemon drives it
(one target group, health check /health every 1 s, timeout 0.5 s, 2 passes to healthy), one
always-healthy local HTTP server registered as a target, then a new listener and target group
added every --every seconds (each one an `apply`, i.e. a seamless reload, as when a service is
added to an environment) until the target is healthy or --seconds pass. The daemon reloads once
per new service (ServiceController._apply_load_balancer, Deployments.register_service): when 50
services are declared in a few seconds, the reloads come faster than the checks. Writes
bench/results/reload_health-<YYYY-MM-DD>.json. Needs HAProxy; listeners on --base-port and up.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from engine import machine
from zero_downtime import RESULTS_DIR, ROOT

from conveyor.lb.haproxy import LoadBalancer
from conveyor.lb.model import HealthCheck, Listener, TargetGroup

CHECK = HealthCheck(path="/health", interval=1, timeout=0.5, healthy_threshold=2)


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def trial(target_port: int, base_port: int, every: float | None, seconds: float) -> dict:
    directory = Path(tempfile.mkdtemp(prefix="conveyor-bench-reload-"))
    lb = LoadBalancer(directory, "reload-health")
    listeners, groups = [Listener(base_port, "tg0")], [TargetGroup("tg0", CHECK)]
    lb.apply(listeners, groups)
    try:
        t0 = time.monotonic()
        lb.register("tg0", "t1", "127.0.0.1", target_port)
        reloads, last, healthy_at, states = 0, t0, None, []
        while time.monotonic() - t0 < seconds:
            state = lb.targets("tg0")[0].state
            if not states or states[-1][1] != state:
                states.append((round(time.monotonic() - t0, 2), state))
            if state == "healthy":
                healthy_at = time.monotonic() - t0
                break
            if every and time.monotonic() - last >= every:
                reloads += 1
                listeners.append(Listener(base_port + reloads, f"tg{reloads}"))
                groups.append(TargetGroup(f"tg{reloads}", CHECK))
                lb.apply(listeners, groups)
                last = time.monotonic()
            time.sleep(0.05)
        return {"healthy_after_s": None if healthy_at is None else round(healthy_at, 2), "reloads": reloads,
                "states": states}
    finally:
        lb.stop()
        shutil.rmtree(directory, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", default="none,3,1.5,1.0,0.9,0.8,0.6",
                        help="reload intervals in seconds, comma separated; none = no reload")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=12.0, help="give up on a trial after this long")
    parser.add_argument("--base-port", type=int, default=21900)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    now = datetime.datetime.now(datetime.UTC)
    rows = []
    for text in args.every.split(","):
        every = None if text.strip() == "none" else float(text)
        trials = [trial(server.server_address[1], args.base_port, every, args.seconds) for _ in range(args.trials)]
        healthy = [t["healthy_after_s"] for t in trials if t["healthy_after_s"] is not None]
        rows.append({"reload_every_s": every, "trials": trials, "healthy_trials": len(healthy),
                     "healthy_after_s_median": statistics.median(healthy) if healthy else None})
        print(f"reload every {text.strip():>4} s: healthy in {len(healthy)}/{len(trials)} trials"
              + (f", after {statistics.median(healthy):.2f} s (median)" if healthy else
                 f" (none within {args.seconds:g} s, {trials[0]['reloads']} reloads)"), flush=True)
    server.shutdown()
    results = {"benchmark": "reload_health", "date": now.isoformat(timespec="seconds"),
               "command": " ".join(["python3", "bench/reload_health.py", *(sys.argv[1:] if argv is None else argv)]),
               "machine": machine(), "health_check": vars(CHECK) if hasattr(CHECK, "__dict__") else str(CHECK),
               "rows": rows}
    output = args.output or RESULTS_DIR / f"reload_health-{now.date().isoformat()}.json"
    output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"wrote {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
