"""The metric store: datapoints round-trip, latest values, retention, alarm states and their
capped history, and sharing between threads."""

from __future__ import annotations

import sqlite3
import threading

from conveyor.metrics.store import (
    DEFAULT_RETENTION,
    HISTORY_KEPT,
    Datapoint,
    MetricStore,
    listener_scope,
    tg_scope,
)

T0 = 1_700_000_000


def test_datapoints_round_trip(tmp_path):
    store = MetricStore(tmp_path / "metrics.db")
    green, blue = tg_scope("production-orders-2"), tg_scope("production-orders-1")
    store.put([Datapoint(T0 + i, green, "RequestCount", float(i)) for i in range(5)]
              + [Datapoint(T0, blue, "RequestCount", 99.0),
                 Datapoint(T0 + 2, green, "HTTPCode_Target_5XX_Count", 1.0)])
    assert store.series(green, "RequestCount", T0 + 1, T0 + 4) == [(T0 + 1, 1.0), (T0 + 2, 2.0),
                                                                  (T0 + 3, 3.0)]
    assert store.series(blue, "RequestCount", 0, T0 + 10) == [(T0, 99.0)]
    assert store.series(green, "TargetResponseTime", 0, T0 + 10) == []
    assert store.latest(green) == {"RequestCount": (T0 + 4, 4.0),
                                   "HTTPCode_Target_5XX_Count": (T0 + 2, 1.0)}
    assert store.latest("tg:unknown") == {}
    assert store.scopes() == [blue, green]
    assert store.scopes("tg:production-orders-2") == [green]

    store.put([Datapoint(T0, blue, "RequestCount", 7.0)])  # the same second again: replaced
    assert store.series(blue, "RequestCount", 0, T0 + 10) == [(T0, 7.0)]
    store.close()
    reopened = MetricStore(tmp_path / "metrics.db")
    assert reopened.series(green, "RequestCount", T0 + 4, T0 + 5) == [(T0 + 4, 4.0)]
    reopened.put([Datapoint(T0 + 5, green, "RequestCount", 5.0)])
    assert reopened.latest(green)["RequestCount"] == (T0 + 5, 5.0)


def test_scope_names():
    assert tg_scope("production-orders-2") == "tg:production-orders-2"
    assert listener_scope("production", 8080) == "listener:production:8080"


def test_prune_keeps_the_retention_window(tmp_path):
    store = MetricStore(tmp_path / "metrics.db")
    assert DEFAULT_RETENTION == 24 * 3600
    scope = tg_scope("web")
    store.put([Datapoint(T0 + i * 3600, scope, "HealthyHostCount", 1.0) for i in range(30)])
    now = T0 + 29 * 3600 + 1
    assert store.prune(now) == 6  # T0 … T0 + 5 h are more than 24 h old
    assert store.series(scope, "HealthyHostCount", 0, now)[0] == (T0 + 6 * 3600, 1.0)
    assert store.prune(now, retention_seconds=3601) == 22
    assert store.series(scope, "HealthyHostCount", 0, now) == [(T0 + 28 * 3600, 1.0),
                                                               (T0 + 29 * 3600, 1.0)]
    assert store.prune(now) == 0


def test_alarm_state_and_history(tmp_path):
    store = MetricStore(tmp_path / "metrics.db")
    key = "production/orders/orders-5xx"
    assert store.alarm_state(key) is None
    assert store.alarm_history(key) == []
    store.set_alarm_state(key, "INSUFFICIENT_DATA", "no requests", {"since": 10.0}, at=100.0)
    state = store.set_alarm_state(key, "ALARM", "Threshold Crossed", {"since": 10.0, "n": [1, 2]}, at=105.5)
    assert (state.state, state.since, state.data) == ("ALARM", 105.5, {"since": 10.0, "n": [1, 2]})
    again = store.alarm_state(key)
    assert (again.key, again.state, again.reason, again.since, again.data) == (
        key, "ALARM", "Threshold Crossed", 105.5, {"since": 10.0, "n": [1, 2]})
    history = store.alarm_history(key)
    assert [(t.at, t.old_state, t.state, t.reason) for t in history] == [
        (105.5, "INSUFFICIENT_DATA", "ALARM", "Threshold Crossed"),
        (100.0, None, "INSUFFICIENT_DATA", "no requests")]
    assert history[0].to_json()["oldState"] == "INSUFFICIENT_DATA"
    store.set_alarm_state("production/orders/latency", "OK", "fine", {}, at=101.0)
    store.set_alarm_state("staging/orders/latency", "OK", "fine", {}, at=101.0)
    assert [s.key for s in store.alarm_states("production/")] == [
        "production/orders/latency", key]
    assert len(store.alarm_states()) == 3


def test_history_keeps_the_latest_hundred_per_alarm(tmp_path):
    store = MetricStore(tmp_path / "metrics.db")
    assert HISTORY_KEPT == 100
    for i in range(HISTORY_KEPT + 20):
        store.set_alarm_state("a", ("OK", "ALARM")[i % 2], f"transition {i}", {}, at=float(i))
    store.set_alarm_state("b", "OK", "other alarm", {}, at=0.0)
    history = store.alarm_history("a", limit=1000)
    assert len(history) == HISTORY_KEPT
    assert history[0].reason == "transition 119" and history[-1].reason == "transition 20"
    assert len(store.alarm_history("b")) == 1
    assert len(store.alarm_history("a", limit=3)) == 3


def test_threads_share_one_store(tmp_path):
    store = MetricStore(tmp_path / "metrics.db")
    errors = []

    def writer(n):
        try:
            for i in range(50):
                store.put([Datapoint(T0 + i, f"tg:w{n}", "RequestCount", float(i))])
                store.series(f"tg:w{n}", "RequestCount", 0, T0 + 100)
        except sqlite3.Error as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(len(store.series(f"tg:w{n}", "RequestCount", 0, T0 + 100)) == 50 for n in range(4))
