"""Event stream benchmark: how fast events go through the outbox, the relay and the stream, and
that executions give exactly the events they should.

    python3 bench/events.py              # ~3 min on 2 cores
    python3 bench/events.py --quick      # ~30 s: fewer events, 100 executions, one run

What it measures:
  * throughput (median of --runs runs, each on a fresh data dir):
      - outbox writes: engine Store.append of a transition with its event, one commit each, against
        the same appends without an event (what the outbox costs a transition);
      - relay: one pump of an outbox already holding N events into events.db;
      - end to end: a writer appending transitions with their events (one commit each, and in
        scheduler-pass-sized transactions of 50) while the relay thread runs, until the stream
        holds the last one: events/s from the first append to the last event in the stream.
  * exactness: --executions executions of a 4-stage pipeline (Git source, Wait 0, a Manual
    approval, Wait 0) through the real engine Service with the relay running, every tenth
    rejected, the others approved: the stream must hold exactly the expected events per execution
    (20 for an approved one, 16 for a rejected one), in the expected order, each once.
  * delivery latency to a local receiver: bench/events_delivery.py's measurement (see DELIVERY below).

Results go to bench/results/events.json with the machine they ran on.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from conveyor.events.stream import EventLog, Relay  # noqa: E402
from conveyor.events.types import Event, Subject  # noqa: E402
from conveyor.store.db import ExecutionRow, Store, Transition  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "events.json"
GIT_ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}
BATCH = 50  # transitions per transaction in the batched writer (a busy scheduler pass)


def _event(i: int) -> Event:
    return Event("action-execution-started", time.time(), Subject("bench", "e1", stage="Build", action=f"A{i}"),
                 {"execution": {"id": "e1", "number": 1}, "provider": "Wait", "attempt": 1},
                 f"bench #1: action Build.A{i} started")


def _store(home: Path) -> Store:
    store = Store(home / "conveyor.db")
    store.create_execution(ExecutionRow("e1", 0, "bench", time.time(), {}, {}, {}, {}),
                           Transition("e1", "execution", "InProgress"))
    return store


def _transition(i: int) -> Transition:
    return Transition("e1", "action", "InProgress", stage="Build", action=f"A{i}", attempt=1)


def _timed(fn: Callable[[], None]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def outbox_writes(n: int) -> dict:
    """Appends per second, one commit each, with and without the transition's event."""
    out = {}
    for label, with_event in (("without_event", False), ("with_event", True)):
        with tempfile.TemporaryDirectory() as tmp:
            store = _store(Path(tmp))
            events = [[_event(i)] if with_event else [] for i in range(n)]
            seconds = _timed(lambda s=store, e=events: [s.append(_transition(i), e[i]) for i in range(n)])
            store.close()
        out[label] = n / seconds
    out["outbox_cost_us_per_transition"] = (1 / out["with_event"] - 1 / out["without_event"]) * 1e6
    return out


def relay_pump(n: int) -> dict:
    """One pump of an outbox already holding n events."""
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        store = _store(home)
        with store.transaction():
            for i in range(n):
                store.append(_transition(i), [_event(i)])
        log = EventLog(home / "events.db")
        relay = Relay(log, {"pipeline": home / "conveyor.db"})
        moved: list[int] = []
        seconds = _timed(lambda: moved.append(relay.pump()))
        assert moved == [n] and log.last_seq() == n
        relay.stop()
        log.close()
        store.close()
    return {"events_per_second": n / seconds}


def end_to_end(n: int, batch: int) -> dict:
    """Writer appends (one commit each, or `batch` per transaction) while the relay thread runs;
    from the first append until the stream holds the n-th event."""
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        store = _store(home)
        log = EventLog(home / "events.db")
        relay = Relay(log, {"pipeline": home / "conveyor.db"})
        relay.start()
        started = time.perf_counter()
        for first in range(0, n, batch):
            if batch == 1:
                store.append(_transition(first), [_event(first)])
                relay.wake()
                continue
            with store.transaction():
                for i in range(first, min(n, first + batch)):
                    store.append(_transition(i), [_event(i)])
            relay.wake()
        written = time.perf_counter() - started
        while log.last_seq() < n:
            log.wait(log.last_seq(), 1.0)
        seconds = time.perf_counter() - started
        relay.stop()
        assert [e.id for e in log.read(n - 1, 10)] == [f"pipeline-{n}"]
        log.close()
        store.close()
    return {"events_per_second": n / seconds, "writer_events_per_second": n / written,
            "relay_lag_after_last_write_ms": (seconds - written) * 1000}


def median_of(runs: int, fn: Callable[[], dict]) -> dict:
    results = [fn() for _ in range(runs)]
    return {k: round(statistics.median(r[k] for r in results), 1) for k in results[0]} | {"runs": runs}


# -- exactness: executions through the real engine ---------------------------------------------

PIPELINE = """\
name: bench-events
pipeline:
  executionMode: PARALLEL
  stages:
    - name: Source
      actions:
        - {name: Source, provider: Git, outputArtifacts: [src]}
    - name: Build
      actions:
        - {name: Build, provider: Wait, seconds: 0}
    - name: Approval
      actions:
        - {name: Approve, provider: Manual, customData: "ship?"}
    - name: Release
      actions:
        - {name: Release, provider: Wait, seconds: 0}
"""


def _stage() -> list[str]:
    """A stage of one action that succeeds."""
    return ["stage-execution-started", "action-execution-started", "action-execution-succeeded",
            "stage-execution-succeeded"]


APPROVED = (["pipeline-execution-started"] + _stage() + _stage()
            + ["stage-execution-started", "action-execution-started", "manual-approval-needed",
               "manual-approval-succeeded", "action-execution-succeeded", "stage-execution-succeeded"]
            + _stage() + ["pipeline-execution-succeeded"])
REJECTED = (["pipeline-execution-started"] + _stage() + _stage()
            + ["stage-execution-started", "action-execution-started", "manual-approval-needed",
               "manual-approval-failed", "action-execution-failed", "stage-execution-failed",
               "pipeline-execution-failed"])


def executions(count: int) -> dict:
    from conveyor.engine.service import Service

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        repo = Path(tmp) / "repo"
        repo.mkdir()
        (repo / "conveyor.yml").write_text(PIPELINE)
        for argv in (["init", "-q", "-b", "main"], ["add", "conveyor.yml"],
                     ["-c", "commit.gpgsign=false", "commit", "-q", "-m", "bench"]):
            subprocess.run(["git", *argv], cwd=repo, env={**os.environ, **GIT_ENV}, check=True)
        svc = Service(home)
        svc.start(polling=False)
        log = EventLog(home / "events.db")
        relay = Relay(log, {"pipeline": home / "conveyor.db"})
        relay.start()
        started = time.perf_counter()
        ids = [svc.start_execution(repository=str(repo))["id"] for _ in range(count)]
        rejected = set(ids[::10])
        pending = list(ids)
        deadline = time.monotonic() + 1800
        while pending and time.monotonic() < deadline:
            waiting = []
            for ex in pending:
                if svc.describe(ex)["awaitingApproval"]:
                    svc.decide(ex, "Rejected" if ex in rejected else "Approved", by="bench")
                else:
                    waiting.append(ex)
            pending = waiting
            if pending:
                time.sleep(0.05)
        expected = len(rejected) * len(REJECTED) + (count - len(rejected)) * len(APPROVED)
        while time.monotonic() < deadline:
            done = sum(1 for ex in ids if svc.describe(ex)["status"] in ("Succeeded", "Failed"))
            if done == count and log.last_seq() >= expected:
                break
            time.sleep(0.1)
        seconds = time.perf_counter() - started
        relay.pump()
        events = log.read(0, 10 * expected)
        relay.stop()
        svc.shutdown()
        log.close()
    per_execution: dict[str, list[str]] = {}
    for e in events:
        per_execution.setdefault(e.subject.execution_id or "", []).append(e.type)
    wrong = [ex for ex in ids if per_execution.get(ex) != (REJECTED if ex in rejected else APPROVED)]
    ids_unique = len({e.id for e in events}) == len(events)
    result = {"executions": count, "approved": count - len(rejected), "rejected": len(rejected),
              "expected_events": expected, "events": len(events), "executions_with_wrong_sequence": len(wrong),
              "event_ids_unique": ids_unique, "exact": len(events) == expected and not wrong and ids_unique,
              "seconds": round(seconds, 1)}
    assert result["exact"], result
    return result


# -- DELIVERY: latency from the outbox to a local receiver (p50/p99) ----------------------------
# bench/events_delivery.py measures it (relay, events.db, the notifier, the signed webhook target,
# conveyor.notify.receiver); its p50_ms/p99_ms are the engine's path (the relay woken).

def delivery_latency(args: argparse.Namespace) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from events_delivery import delivery_latency as measure

    return measure(args)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=20_000, help="events per throughput run")
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.runs, args.events, args.executions = 1, 2000, 100
    n = args.events
    t0 = time.perf_counter()
    results: dict = {"benchmark": "events", "date": datetime.date.today().isoformat(),
                     "command": " ".join(["python3", "bench/events.py", *sys.argv[1:]]),
                     "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                 "system": platform.platform()},
                     "config": {"runs": args.runs, "events": n, "executions": args.executions, "batch": BATCH}}
    results["outbox_writes_per_second"] = median_of(args.runs, lambda: outbox_writes(n // 4))
    print("outbox writes:", json.dumps(results["outbox_writes_per_second"]), flush=True)
    results["relay_pump"] = median_of(args.runs, lambda: relay_pump(n))
    print("relay pump:", json.dumps(results["relay_pump"]), flush=True)
    results["end_to_end_one_commit_each"] = median_of(args.runs, lambda: end_to_end(n // 4, 1))
    print("end to end, one commit each:", json.dumps(results["end_to_end_one_commit_each"]), flush=True)
    results[f"end_to_end_{BATCH}_per_transaction"] = median_of(args.runs, lambda: end_to_end(n, BATCH))
    print(f"end to end, {BATCH} per transaction:", json.dumps(results[f"end_to_end_{BATCH}_per_transaction"]),
          flush=True)
    results["executions"] = executions(args.executions)
    print("executions:", json.dumps(results["executions"]), flush=True)
    results["delivery_latency"] = delivery_latency(args)
    results["elapsed_seconds"] = round(time.perf_counter() - t0, 1)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
