"""What a /metrics scrape costs with a store that has been used for a while: 100 pipelines and
1,000 executions of a 6-stage pipeline (each stage one action; one in ten failed and retried,
so its stage and action run twice), 50 blue/green and 50 rolling deployments, 20 target groups
with an hour of per-second datapoints, 40 alarms. Times the whole scrape (collect + render) and
each family, medians of --runs, and checks the answer parses with prometheus_client.

    python3 bench/prometheus.py            # ~20 s
    python3 bench/prometheus.py --quick    # 3 runs

Results go to bench/results/prometheus-DATE.json with the machine they ran on.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from conveyor.metrics.store import Datapoint, MetricStore  # noqa: E402
from conveyor.providers.local.codedeploy.store import SCHEMA as CD_SCHEMA  # noqa: E402
from conveyor.providers.local.ecs.rows import SCHEMA as ECS_SCHEMA  # noqa: E402
from conveyor.server import prometheus  # noqa: E402
from conveyor.store.db import SCHEMA as ENGINE_SCHEMA  # noqa: E402
from conveyor.store.db import SCHEMA_VERSION  # noqa: E402

STAGES = ("Source", "Build", "Test", "Staging", "Approval", "Production")
NOW = 1_800_000_000


def populate(home: Path, pipelines: int, executions: int) -> None:
    db = sqlite3.connect(home / "conveyor.db")
    db.executescript(ENGINE_SCHEMA)
    db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    db.executemany("INSERT INTO pipelines (name, repository, config_path, registered_at) VALUES (?, ?, ?, 0)",
                   [(f"p{i}", f"/srv/p{i}.git", "conveyor.yml") for i in range(pipelines)])
    rows, transitions = [], []
    for n in range(executions):
        ex, t = f"ex-{n}", NOW - 86400 + n * 60.0
        rows.append((ex, n + 1, f"p{n % pipelines}", t, "{}", "{}", "{}", "{}"))
        transitions.append((ex, "execution", None, None, 0, "InProgress", t))
        for stage in STAGES:
            runs = 2 if n % 10 == 0 and stage == "Test" else 1
            for attempt in range(1, runs + 1):
                transitions.append((ex, "stage", stage, None, 0, "InProgress", t))
                transitions.append((ex, "action", stage, stage, attempt, "InProgress", t))
                t += 3.0
                outcome = "Failed" if attempt < runs else "Succeeded"
                transitions.append((ex, "action", stage, stage, attempt, outcome, t))
                transitions.append((ex, "stage", stage, None, 0, outcome, t))
        transitions.append((ex, "execution", None, None, 0, "Succeeded", t))
    db.executemany("INSERT INTO executions VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.executemany("INSERT INTO transitions (execution_id, scope, stage, action, attempt, status, at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)", transitions)
    db.commit()
    db.close()
    with sqlite3.connect(home / "codedeploy.db") as cd:
        cd.executescript(CD_SCHEMA)
        cd.executemany("INSERT INTO cd_deployments (id, seq, environment, service, taskdef, appspec, status, phase, "
                       "creator, original_tg, replacement_tg, traffic, created_at, updated_at) VALUES "
                       "(?, ?, 'production', ?, 't:1', 'x', 'Succeeded', 'Done', 'u', ?, ?, 100, 0, 0)",
                       [(f"d-{i}", i, f"s{i % 10}", f"tg-{i % 10}-1", f"tg-{i % 10}-2") for i in range(50)])
    with sqlite3.connect(home / "services.db") as ecs:
        ecs.executescript(ECS_SCHEMA)
        ecs.executemany("INSERT INTO deployments (id, seq, environment, service, taskdef, status, rollout_state, "
                        "created_at, updated_at) VALUES (?, ?, 'staging', ?, 't:1', 'PRIMARY', 'COMPLETED', 0, 0)",
                        [(f"e-{i}", i, f"s{i % 10}") for i in range(50)])
    store = MetricStore(home / "metrics.db")
    for tg in range(20):
        store.put([Datapoint(NOW - s, f"tg:tg-{tg}", metric, 1.0) for s in range(3600)
                   for metric in ("RequestCount", "HTTPCode_Target_2XX_Count", "TargetResponseTime",
                                  "HealthyHostCount")])
    for a in range(40):
        store.set_alarm_state(f"production/s{a % 10}/alarm{a}", "OK", "fine", {}, NOW)
    store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipelines", type=int, default=100)
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    runs = 3 if args.quick else args.runs
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        populate(home, args.pipelines, args.executions)
        src = prometheus.Sources(home, clock=lambda: NOW)
        scrapes, parts = [], {}
        text = ""
        for _ in range(runs):
            t0 = time.perf_counter()
            text = prometheus.render(prometheus.collect(src))
            scrapes.append(time.perf_counter() - t0)
        for name in ("_pipelines", "_deployments", "_metrics_store"):
            fn = getattr(prometheus, name)
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                fn(src)
                times.append(time.perf_counter() - t0)
            parts[name.lstrip("_")] = round(statistics.median(times) * 1000, 2)
        from prometheus_client.parser import text_string_to_metric_families

        samples = sum(len(f.samples) for f in text_string_to_metric_families(text))
    result = {"script": "bench/prometheus.py", "date": datetime.date.today().isoformat(),
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
              "store": {"pipelines": args.pipelines, "executions": args.executions,
                        "transitions_per_execution": "26 (30 for one in ten)", "target_groups": 20,
                        "datapoints": 20 * 4 * 3600, "alarms": 40, "deployments": 100},
              "runs": runs, "scrape_ms": {"median": round(statistics.median(scrapes) * 1000, 2),
                                          "max": round(max(scrapes) * 1000, 2)},
              "by_part_median_ms": parts, "answer": {"bytes": len(text.encode()), "samples": samples}}
    out = args.output or ROOT / "bench" / "results" / f"prometheus-{result['date']}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
