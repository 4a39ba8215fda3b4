"""`conveyor verify` as users run it, repeated: a daemon with its own data directory, the
orders-service example as a staging service (2 tasks behind HAProxy, as bench/zero_downtime.py
sets it up), then per run `conveyor verify --during deploy` (v1 -> v2, half the requests POST
/orders) and `conveyor verify --during rollback` (back to v1, all POSTs), each report kept as the command
printed it (--json).

    python3 bench/verify.py                        # 3 runs of each at 200 req/s
    python3 bench/verify.py --rate 500 --repeat 1

Writes bench/results/verify-<YYYY-MM-DD>.json (every report, the exit codes, a summary, the
machine); docs/benchmarks.md quotes it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
from pathlib import Path

# bench/ is on sys.path when run as a script
from engine import machine
from zero_downtime import Stack, build_images

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"


def verify(stack: Stack, rate: float, *args: str) -> dict:
    done = stack.cli("verify", "staging", "orders", "--rate", f"{rate:g}", "--json", *args, check=False)
    report = json.loads(done.stdout)
    report["exit"] = done.returncode
    return report


def summary(reports: list[dict]) -> dict:
    during = [r["phases"][1]["latencyMs"].get("p99", 0.0) for r in reports]
    return {"runs": len(reports), "passed": sum(r["exit"] == 0 for r in reports),
            "requests_min": min(r["requests"] for r in reports),
            "failed_max": max(r["failed"]["total"] for r in reports),
            "longest_gap_ms_max": max(r["longestGap"]["ms"] for r in reports),
            "max_lag_ms_max": max(r["schedule"]["maxLagMs"] for r in reports),
            "rate_kept_all": all(r["schedule"]["kept"] for r in reports),
            "action_seconds_median": statistics.median(r["action"]["seconds"] for r in reports),
            "p99_ms_during_median": statistics.median(during)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s (default 200)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (default 3)")
    parser.add_argument("--output", type=Path, help="default bench/results/verify-<date>.json")
    args = parser.parse_args(argv)
    began, now = time.time(), datetime.datetime.now(datetime.UTC)
    images = build_images()
    deploys, rollbacks = [], []
    with Stack() as stack:
        stack.deploy(images["v1"])
        for i in range(args.repeat):   # v1 -> v2 by a deploy, v2 -> v1 by the rollback
            deploys.append(verify(stack, args.rate, "--during", "deploy", "--image", images["v2"],
                                  "--post-fraction", "0.5", "--post-path", "/orders"))
            rollbacks.append(verify(stack, args.rate, "--during", "rollback", "--method", "POST", "--path", "/orders"))
            for kind, r in (("deploy", deploys[-1]), ("rollback", rollbacks[-1])):
                print(f"run {i + 1}/{args.repeat} {kind}: exit {r['exit']}, {r['requests']} requests, "
                      f"{r['failed']['total']} failed, longest gap {r['longestGap']['ms']} ms, "
                      f"rate kept {r['schedule']['kept']}, {kind} {r['action']['seconds']} s", flush=True)
    results = {"benchmark": "verify", "date": now.isoformat(timespec="seconds"),
               "command": " ".join(["python3", "bench/verify.py", *(sys.argv[1:] if argv is None else argv)]),
               "machine": machine(), "config": {"rate": args.rate, "repeat": args.repeat},
               "summary": {"deploy (half POST)": summary(deploys), "rollback (all POST)": summary(rollbacks)},
               "deploys": deploys, "rollbacks": rollbacks, "elapsed_seconds": round(time.time() - began, 1)}
    output = args.output or RESULTS_DIR / f"verify-{now.date().isoformat()}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    for name, s in results["summary"].items():
        print(f"{name}: {s}")
    print(f"wrote {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    return 0 if all(r["exit"] == 0 for r in deploys + rollbacks) else 1


if __name__ == "__main__":
    sys.exit(main())
