"""Every second, one `show stat` per load balancer becomes datapoints in the metric store.

    sampler = Sampler(store, lambda: {"production": prod_lb, "staging": staging_lb},
                      on_sample=lambda now: monitor.evaluate_all(provider(), now))
    sampler.start()          # a thread: samples just after each whole second
    ...
    sampler.stop()

`sample_once(now)` does one pass (tests call it directly with their own `now`). What each
metric means and how HAProxy's counters map to ALB's names: conveyor.metrics.haproxy_stats.
A load balancer that is not running is skipped (and its next sample is a new baseline). The
datapoints of a sample taken at t are about the second int(t) - 1; a second sample within the
same second is skipped. Old datapoints are pruned at most once every PRUNE_INTERVAL.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping

from conveyor.lb import LoadBalancer
from conveyor.lb import state as lb_state
from conveyor.lb.haproxy import STATE_FILE
from conveyor.metrics.haproxy_stats import Snapshot, datapoints
from conveyor.metrics.store import DEFAULT_RETENTION, Datapoint, MetricStore

log = logging.getLogger("conveyor.metrics")

#: ALB publishes its metrics per minute; Conveyor samples HAProxy every second (1-second
#: "high-resolution" datapoints), so 1-second alarm periods can be used locally.
SAMPLE_INTERVAL = 1.0
#: Sample this long after each whole second, so a sample's datapoints are about one second.
SAMPLE_OFFSET = 0.05
PRUNE_INTERVAL = 60.0


CLOCK_STEP_BACK = 2.0  # s: a sample this far behind the previous one means the wall clock stepped back


class Sampler:
    def __init__(self, store: MetricStore, load_balancers: Callable[[], Mapping[str, LoadBalancer]],
                 clock: Callable[[], float] = time.time, *, retention: float = DEFAULT_RETENTION,
                 on_sample: Callable[[float], None] | None = None):
        self.store = store
        self.load_balancers = load_balancers
        self.clock = clock
        self.retention = retention
        self.on_sample = on_sample
        self._previous: dict[str, Snapshot] = {}
        self._pruned_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample_once(self, now: float) -> list[Datapoint]:
        """Read every running load balancer's stats once and store the datapoints."""
        points: list[Datapoint] = []
        balancers = self.load_balancers()
        for environment in set(self._previous) - set(balancers):
            del self._previous[environment]
        for environment, lb in balancers.items():
            try:
                points += self._sample(environment, lb, now)
            except Exception:  # one broken load balancer must not stop the others' metrics
                log.exception("could not sample the load balancer of %s", environment)
                self._previous.pop(environment, None)
        self.store.put(points)
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_INTERVAL:
            self._pruned_at = now
            self.store.prune(now, self.retention)
        return points

    def _sample(self, environment: str, lb: LoadBalancer, now: float) -> list[Datapoint]:
        previous = self._previous.get(environment)
        if previous is not None and int(now) <= int(previous.at):
            if now > previous.at - CLOCK_STEP_BACK:
                return []  # this second is sampled already
            # The wall clock stepped back: waiting for it to pass the last sample would leave
            # every alarm (and the traffic gate that needs green's datapoints) blind for as long
            # as the step. Start again from a new baseline instead (bench/chaos.py, clock-jump).
            log.warning("the wall clock went back %.0f s: metrics of %s start again from a new baseline",
                        previous.at - now, environment)
            previous = None
        rows = lb.stats()
        if not rows:  # not running: when it is back, its counters start again from zero
            self._previous.pop(environment, None)
            return []
        snapshot = Snapshot.of(rows, now)
        topology = lb_state.load(lb.directory / STATE_FILE)
        self._previous[environment] = snapshot
        return datapoints(environment, previous, snapshot, topology, now)

    # --- the thread ------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="conveyor-metrics", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while True:
            now = self.clock()
            wait = math.floor(now / SAMPLE_INTERVAL + 1) * SAMPLE_INTERVAL + SAMPLE_OFFSET - now
            if self._stop.wait(max(0.0, wait)):
                return
            now = self.clock()
            try:
                self.sample_once(now)
            except Exception:
                log.exception("metrics sampling failed")
            if self.on_sample is not None:
                try:
                    self.on_sample(now)
                except Exception:
                    log.exception("the metrics sample hook failed")
