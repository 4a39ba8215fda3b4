"""DORA metrics benchmark: how long GET /api/v1/dora's computation (conveyor.dora.history) takes on
a history of N production deployments, each made by its own pipeline execution whose Git source
recorded a commit time, over 90 days (one in ten fails and is rolled back).

    python3 bench/dora.py                 # 1,000 and 10,000 deployments, 5 runs each (~1 min)
    python3 bench/dora.py --sizes 1000    # one size

It reads everything each call (the whole events.db of deployment events, two conveyor.db queries
per execution): the time grows with the history, not the window. Results go to
bench/results/dora-<date>.json with the machine they ran on.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from conveyor.dora.history import DoraHistory  # noqa: E402
from conveyor.events.stream import EventLog  # noqa: E402
from conveyor.events.types import Event, Subject  # noqa: E402
from conveyor.store.db import ExecutionRow, Store, Transition  # noqa: E402

DAY = 86400.0
DEFINITION = {"name": "orders", "environments": {"production": {}},
              "pipeline": {"stages": [{"name": "Source", "actions": [{"name": "Source", "provider": "Git"}]}]}}


def history(home: Path, n: int, now: float) -> tuple[Store, EventLog]:
    store = Store(home / "conveyor.db")
    log = EventLog(home / "events.db")
    store.register_pipeline("orders", "/repo", "conveyor.yml", 15)
    rows: list[tuple[int, Event]] = []
    step = 90 * DAY / n
    with store.transaction():
        for i in range(n):
            at = now - 90 * DAY + i * step
            eid = f"e{i}"
            store.create_execution(ExecutionRow(eid, 0, "orders", at - 120, {}, {}, {}, DEFINITION),
                                   Transition(eid, "execution", "InProgress", at=at - 120))
            committed = datetime.datetime.fromtimestamp(at - 3600, datetime.timezone.utc).isoformat()
            store.append(Transition(eid, "action", "Succeeded", stage="Source", action="Source", attempt=1,
                                    detail={"variables": {"CommitterDate": committed}}, at=at - 100))
            s = Subject(pipeline="orders", execution_id=eid, environment="production", service="orders",
                        deployment_id=f"d{i}")
            rows.append((len(rows) + 1, Event("deployment-started", at, s)))
            if i % 10 == 9:
                rows.append((len(rows) + 1, Event("deployment-failed", at + 30, s)))
                rows.append((len(rows) + 1, Event("deployment-rolled-back", at + 60, s)))
            else:
                rows.append((len(rows) + 1, Event("deployment-succeeded", at + 60, s)))
    for start in range(0, len(rows), 5000):
        log.take("bench", rows[start:start + 5000])
    return store, log


def measure(n: int, runs: int) -> dict:
    now = time.time()
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-dora-") as tmp:
        store, log = history(Path(tmp), n, now)
        dora = DoraHistory(store, log, clock=lambda: now)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            report = dora.report(days=90)
            times.append(time.perf_counter() - t0)
        s = report["summary"]
        assert s["deployments"]["finished"] == n, s["deployments"]
        assert s["changeFailureRate"]["failures"] == n // 10
        store.close()
        log.close()
    return {"deployments": n, "runs": runs, "median_ms": round(statistics.median(times) * 1000, 1),
            "max_ms": round(max(times) * 1000, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    out = {"when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "system": platform.platform()},
           "results": [measure(n, args.runs) for n in args.sizes]}
    print(json.dumps(out, indent=2))
    path = ROOT / "bench" / "results" / f"dora-{datetime.date.today().isoformat()}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
