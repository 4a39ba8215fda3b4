"""Alarms evaluated on the stored metrics, with their states and transitions persisted.

    monitor = AlarmMonitor(store)
    watched = [WatchedAlarm("production/orders/orders-5xx", spec, "tg:production-orders-2",
                            since=deployment_started_at)]
    statuses = monitor.evaluate_all(watched, now=time.time())
    statuses["production/orders/orders-5xx"].state      # 'OK' | 'ALARM' | 'INSUFFICIENT_DATA'
    monitor.history("production/orders/orders-5xx")     # transitions, newest first

Call evaluate_all right after a sample (Sampler's `on_sample` hook): the period that ended at
the last whole second is then complete in the store. Each call evaluates every watched alarm
(conveyor.metrics.evaluate), records a transition when the state changes (with its reason and
datapoints) and returns the statuses. A WatchedAlarm's `since` scopes it to one deployment:
when it changes, the alarm starts over as a new CloudWatch alarm does (from INSUFFICIENT_DATA),
so an ALARM of the previous deployment never carries over to the next one.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from conveyor.metrics.evaluate import (
    Evaluation,
    evaluate,
    evaluation_range,
    has_traffic,
)
from conveyor.metrics.store import AlarmTransition, MetricStore
from conveyor.metrics.vocabulary import INSUFFICIENT_DATA, AlarmSpec

TRAFFIC_METRIC = "RequestCount"


@dataclass(frozen=True)
class WatchedAlarm:
    key: str  # "<environment>/<service>/<alarm name>"
    alarm: AlarmSpec
    scope_key: str  # "tg:production-orders-2" or "listener:production:8080"
    since: float | None = None


@dataclass(frozen=True)
class AlarmStatus:
    """An alarm as of its latest evaluation. `since` is when it entered `state`; `datapoints`
    are its latest N periods (oldest first, None = missing); `traffic` says whether its scope
    received requests in them (the traffic-aware gate)."""

    key: str
    state: str
    reason: str
    since: float
    evaluated_at: float | None = None
    scope_key: str = ""
    metric: str = ""
    datapoints: list[tuple[int, float | None]] = field(default_factory=list)
    breaching: int = 0
    traffic: bool = False
    window: tuple[int, int] = (0, 0)

    def to_json(self) -> dict:
        return {"key": self.key, "state": self.state, "reason": self.reason, "since": self.since,
                "evaluatedAt": self.evaluated_at, "scope": self.scope_key, "metric": self.metric,
                "datapoints": [[ts, value] for ts, value in self.datapoints],
                "breaching": self.breaching, "traffic": self.traffic, "window": list(self.window)}


class AlarmMonitor:
    def __init__(self, store: MetricStore, clock: Callable[[], float] = time.time):
        self.store = store
        self.clock = clock
        self._latest: dict[str, AlarmStatus] = {}
        self._lock = threading.Lock()

    def evaluate_all(self, watched: list[WatchedAlarm], now: float | None = None
                     ) -> dict[str, AlarmStatus]:
        now = self.clock() if now is None else now
        statuses = {w.key: self._evaluate(w, now) for w in watched}
        with self._lock:
            self._latest.update(statuses)
        return statuses

    def status(self, key: str) -> AlarmStatus | None:
        """The latest evaluation of an alarm, or its persisted state (no datapoints) after a
        restart; None for an alarm never evaluated."""
        with self._lock:
            latest = self._latest.get(key)
        if latest is not None:
            return latest
        stored = self.store.alarm_state(key)
        if stored is None:
            return None
        return AlarmStatus(key, stored.state, stored.reason, stored.since,
                           scope_key=stored.data.get("scope", ""), metric=stored.data.get("metric", ""))

    def history(self, key: str, limit: int = 20) -> list[AlarmTransition]:
        return self.store.alarm_history(key, limit)

    def _evaluate(self, w: WatchedAlarm, now: float) -> AlarmStatus:
        spec = w.alarm
        start, end = evaluation_range(spec, now)
        samples = self.store.series(w.scope_key, spec.metric, start, end)
        stored = self.store.alarm_state(w.key)
        if stored is not None and stored.data.get("since") != w.since:
            stored = None  # the state of an earlier watch of this alarm: start afresh
        previous = INSUFFICIENT_DATA if stored is None else stored.state
        result = evaluate(spec, samples, now, since=w.since, previous=previous,
                          subject=_subject(w.scope_key))
        if stored is None or result.state != stored.state:
            stored = self.store.set_alarm_state(w.key, result.state, result.reason,
                                                _data(w, result), now)
        traffic = self._traffic(w, result)
        return AlarmStatus(w.key, result.state, result.reason, stored.since, now, w.scope_key,
                           spec.metric, result.datapoints, result.breaching, traffic, result.window)

    def _traffic(self, w: WatchedAlarm, result: Evaluation) -> bool:
        start, end = result.window
        if w.since is not None:
            start = max(start, math.ceil(w.since))  # evaluate() keeps samples with ts >= since
        return has_traffic(self.store.series(w.scope_key, TRAFFIC_METRIC, start, end), start, end)


def _data(w: WatchedAlarm, result: Evaluation) -> dict:
    return {"since": w.since, "scope": w.scope_key, "metric": w.alarm.metric,
            "alarm": w.alarm.name, "datapoints": [[p, v] for p, v in result.range_datapoints],
            "window": list(result.window), "breaching": result.breaching}


def _subject(scope_key: str) -> str:
    """'tg:production-orders-2' → 'target group production-orders-2'."""
    kind, _, rest = scope_key.partition(":")
    if kind == "tg":
        return f"target group {rest}"
    if kind == "listener":
        environment, _, port = rest.partition(":")
        return f"the {environment} listener on port {port}"
    return scope_key
