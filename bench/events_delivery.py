"""Notification delivery latency: from an event committed to a store's outbox to a local webhook
receiver having it, through the whole real path (outbox -> relay -> events.db -> notifier's
dispatcher -> delivery row -> worker thread -> webhook target, HMAC-signed -> receiver on
127.0.0.1, signature verified).

    python3 bench/events_delivery.py            # ~1 min on 2 cores
    python3 bench/events_delivery.py --quick    # one run, fewer events

Scenarios (each on a fresh data dir; p50/p99/max per run, then the median of --runs runs):
  * sequential, woken: one event at a time, the next once the receiver has the last; the writer
    wakes the relay after its commit, as the daemon's scheduler does after each transition;
  * sequential, tick: the same without the wake: the relay finds it on its own 100 ms tick
    (what an outbox nobody wakes the relay for waits);
  * rate: events written at --rate per second (woken), so deliveries overlap and queue behind
    the per-target concurrency limit.
Latency is measured with time.perf_counter in this one process: the writer stamps the event's
detail at commit, the receiver notes the arrival of the (verified, accepted) request.

Results go to bench/results/events_delivery-<date>.json with the machine they ran on.
bench/events.py calls `delivery_latency(args)` for its own results file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from conveyor.config.notification_targets import TargetDef  # noqa: E402
from conveyor.events.outbox import OUTBOX_SCHEMA, write_events  # noqa: E402
from conveyor.events.stream import EventLog, Relay  # noqa: E402
from conveyor.events.types import Event, Subject  # noqa: E402
from conveyor.notify.notifier import Notifier  # noqa: E402
from conveyor.notify.receiver import Received, Receiver  # noqa: E402
from conveyor.notify.rules import RuleBook  # noqa: E402
from conveyor.notify.store import DeliveryStore  # noqa: E402
from conveyor.notify.targets import build_target  # noqa: E402

SECRET = "whsec-bench-0123456789abcdef"
PATIENCE = 30.0  # seconds to wait for one event before the run is declared broken


class TimedReceiver(Receiver):
    """The local receiver, noting when each accepted delivery arrived (perf_counter)."""

    def __init__(self) -> None:
        super().__init__(SECRET)
        self.arrived: dict[int, float] = {}   # the event's bench number -> arrival
        self.changed = threading.Condition()

    def _record(self, received: Received, accepted: bool) -> None:
        now = time.perf_counter()
        super()._record(received, accepted)
        if accepted and not received.duplicate:
            n = int(received.json()["detail"]["n"])
            with self.changed:
                self.arrived[n] = now
                self.changed.notify_all()

    def wait(self, n: int) -> None:
        deadline = time.monotonic() + PATIENCE
        with self.changed:
            while n not in self.arrived:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"event {n} never reached the receiver")
                self.changed.wait(0.5)


def one_run(events: int, *, wake: bool, rate: float | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-delivery-") as tmp:
        home = Path(tmp)
        outbox = sqlite3.connect(str(home / "conveyor.db"), isolation_level=None, check_same_thread=False)
        outbox.execute("PRAGMA journal_mode=WAL")
        outbox.executescript(OUTBOX_SCHEMA)
        log = EventLog(home / "events.db")
        relay = Relay(log, {"pipeline": home / "conveyor.db"})
        rx = TimedReceiver().start()
        definition = {"name": "bench", "notifications": [
            {"name": "all", "events": ["*"], "targets": [{"webhook": {"url": rx.url, "secret": "hooks/bench"}}]}]}
        secrets = {"hooks/bench": SECRET}.__getitem__

        def build(target: TargetDef, allow_host: bool):
            return build_target(target, secrets, allow_host_commands=allow_host)

        notifier = Notifier(DeliveryStore(home / "notifications.db"), log,
                            RuleBook(lambda: [("bench", definition)], lambda name: definition), build,
                            rng=random.Random(1))
        relay.start()
        notifier.start()
        committed: dict[int, float] = {}
        try:
            interval = 1.0 / rate if rate else 0.0
            started = time.perf_counter()
            for n in range(events):
                if rate:
                    delay = started + n * interval - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                outbox.execute("BEGIN IMMEDIATE")
                write_events(outbox, [Event("action-execution-succeeded", time.time(),
                                            Subject("bench", "e1", stage="Build", action=f"A{n}"), {"n": n},
                                            f"bench #1: action Build.A{n} succeeded")])
                outbox.execute("COMMIT")
                committed[n] = time.perf_counter()
                if wake:
                    relay.wake()
                if not rate:
                    rx.wait(n)
            for n in range(events):
                rx.wait(n)
        finally:
            notifier.stop()
            relay.stop()
            rx.stop()
            log.close()
            outbox.close()
        counts = dict(rx.accepted)
    latencies = sorted((rx.arrived[n] - committed[n]) * 1000 for n in range(events))
    assert len(counts) == events and set(counts.values()) == {1}, "each delivery exactly once"
    return {"events": events, "p50_ms": round(percentile(latencies, 50), 2),
            "p99_ms": round(percentile(latencies, 99), 2), "max_ms": round(latencies[-1], 2)}


def percentile(sorted_values: list[float], p: float) -> float:
    k = (len(sorted_values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def median_of(runs: list[dict]) -> dict:
    keys = ("p50_ms", "p99_ms", "max_ms")
    return {"events": runs[0]["events"], **{k: round(statistics.median(r[k] for r in runs), 2) for k in keys},
            "runs": runs}


def measure(runs: int, events: int, rate: float) -> dict:
    scenarios = {"sequential_woken": dict(wake=True, rate=None), "sequential_tick": dict(wake=False, rate=None),
                 f"rate_{rate:g}_per_s_woken": dict(wake=True, rate=rate)}
    out = {}
    for name, kw in scenarios.items():
        out[name] = median_of([one_run(events, **kw) for _ in range(runs)])
        print(name, json.dumps({k: v for k, v in out[name].items() if k != "runs"}), flush=True)
    return out


def delivery_latency(args: argparse.Namespace) -> dict:
    """For bench/events.py: the scenarios with its --runs and --quick; p50_ms/p99_ms at the top are
    the `sequential_woken` scenario's (the engine's path: the scheduler wakes the relay)."""
    quick = getattr(args, "quick", False)
    scenarios = measure(1 if quick else getattr(args, "runs", 3), 100 if quick else 300, 100.0)
    woken = scenarios["sequential_woken"]
    return {"p50_ms": woken["p50_ms"], "p99_ms": woken["p99_ms"], "scenarios": scenarios}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=300, help="events per run")
    parser.add_argument("--rate", type=float, default=100.0, help="events per second in the rate scenario")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    runs, events = (1, 100) if args.quick else (args.runs, args.events)
    results = {"benchmark": "events_delivery", "date": date.today().isoformat(),
               "command": " ".join(["python3", "bench/events_delivery.py", *sys.argv[1:]]),
               "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
               "config": {"runs": runs, "events": events, "rate": args.rate},
               "results": measure(runs, events, args.rate)}
    output = args.output or ROOT / "bench" / "results" / f"events_delivery-{date.today().isoformat()}.json"
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
