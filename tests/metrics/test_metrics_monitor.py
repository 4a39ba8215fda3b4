"""The alarm monitor: evaluations on the stored series, transitions persisted with reasons and
history, deployments judged from their own start, the traffic flag, statuses after a restart."""

from __future__ import annotations

from dataclasses import replace

from conveyor.metrics.monitor import AlarmMonitor, WatchedAlarm
from conveyor.metrics.store import Datapoint, MetricStore
from conveyor.metrics.vocabulary import ALARM, INSUFFICIENT_DATA, OK, AlarmSpec

T0 = 1_700_000_000
KEY = "production/orders/orders-5xx"
GREEN = "tg:production-orders-2"
SPEC = AlarmSpec("orders-5xx", "HTTPCode_Target_5XX_Count", period=1, evaluation_periods=2,
                 datapoints_to_alarm=2, threshold=5.0)


def traffic(store: MetricStore, ts: int, requests: float, errors: float, scope: str = GREEN) -> None:
    store.put([Datapoint(ts, scope, "RequestCount", requests),
               Datapoint(ts, scope, "HTTPCode_Target_5XX_Count", errors)])


def test_transitions_are_persisted_with_reasons_and_history(store):
    monitor = AlarmMonitor(store)
    watched = [WatchedAlarm(KEY, SPEC, GREEN, since=T0)]

    first = monitor.evaluate_all(watched, now=T0 + 1.1)[KEY]
    assert (first.state, first.since, first.traffic) == (INSUFFICIENT_DATA, T0 + 1.1, False)
    assert "target group production-orders-2 received no requests" in first.reason

    traffic(store, T0 + 1, 10, 6)
    traffic(store, T0 + 2, 10, 9)
    alarm = monitor.evaluate_all(watched, now=T0 + 3.1)[KEY]
    assert (alarm.state, alarm.since, alarm.breaching, alarm.traffic) == (ALARM, T0 + 3.1, 2, True)
    assert alarm.reason.startswith("Threshold Crossed: 2 out of the last 2 datapoints [9.0")
    assert alarm.datapoints == [(T0 + 1, 6.0), (T0 + 2, 9.0)]  # the latest N = 2 periods
    assert alarm.window == (T0 + 1, T0 + 3)

    traffic(store, T0 + 3, 10, 7)
    still = monitor.evaluate_all(watched, now=T0 + 4.1)[KEY]
    assert (still.state, still.since) == (ALARM, T0 + 3.1)     # no transition: same since

    traffic(store, T0 + 4, 10, 0)
    ok = monitor.evaluate_all(watched, now=T0 + 5.1)[KEY]
    assert (ok.state, ok.since) == (OK, T0 + 5.1)

    history = monitor.history(KEY)
    assert [(h.old_state, h.state, h.at) for h in history] == [
        (ALARM, OK, T0 + 5.1), (INSUFFICIENT_DATA, ALARM, T0 + 3.1), (None, INSUFFICIENT_DATA, T0 + 1.1)]
    assert history[1].reason == alarm.reason
    assert history[1].data["datapoints"][-1] == [T0 + 2, 9.0]
    assert history[1].data["since"] == T0
    assert monitor.status(KEY).state == OK
    assert monitor.status("production/orders/unknown") is None


def test_a_new_deployment_starts_over(store):
    """The same target group was green in the previous deployment and in ALARM: the next one is
    judged only on its own datapoints, and an ALARM is not carried over even with `ignore`."""
    spec = replace(SPEC, treat_missing_data="ignore", evaluation_periods=1, datapoints_to_alarm=1)
    monitor = AlarmMonitor(store)
    traffic(store, T0, 10, 10)
    old = monitor.evaluate_all([WatchedAlarm(KEY, spec, GREEN, since=T0)], now=T0 + 1.5)[KEY]
    assert old.state == ALARM
    # with the same deployment, `ignore` keeps ALARM through silence
    kept = monitor.evaluate_all([WatchedAlarm(KEY, spec, GREEN, since=T0)], now=T0 + 10)[KEY]
    assert kept.state == ALARM and "ALARM kept (treatMissingData=ignore)" in kept.reason

    new = monitor.evaluate_all([WatchedAlarm(KEY, spec, GREEN, since=T0 + 20)], now=T0 + 21)[KEY]
    assert (new.state, new.since) == (INSUFFICIENT_DATA, T0 + 21)
    assert [h.state for h in monitor.history(KEY)] == [INSUFFICIENT_DATA, ALARM]
    traffic(store, T0 + 21, 5, 0)
    assert monitor.evaluate_all([WatchedAlarm(KEY, spec, GREEN, since=T0 + 20)], now=T0 + 22)[KEY].state == OK


def test_the_traffic_flag_looks_at_requests_since_the_deployment_in_the_last_n_periods(store):
    monitor = AlarmMonitor(store)
    spec = replace(SPEC, metric="TargetResponseTime", statistic="Average", threshold=1.0)
    store.put([Datapoint(T0 + 1, GREEN, "RequestCount", 3.0)])
    watched = WatchedAlarm("production/orders/latency", spec, GREEN, since=T0 + 1.5)
    assert not monitor.evaluate_all([watched], now=T0 + 3)["production/orders/latency"].traffic
    watched = replace(watched, since=T0 + 1)
    assert monitor.evaluate_all([watched], now=T0 + 3)["production/orders/latency"].traffic
    assert not monitor.evaluate_all([watched], now=T0 + 4)["production/orders/latency"].traffic


def test_statuses_survive_a_restart(store, tmp_path):
    spec = replace(SPEC, treat_missing_data="ignore", evaluation_periods=1, datapoints_to_alarm=1)
    traffic(store, T0, 10, 10)
    AlarmMonitor(store).evaluate_all([WatchedAlarm(KEY, spec, GREEN, since=T0)], now=T0 + 1.5)
    store.close()

    reopened = MetricStore(tmp_path / "metrics.db")
    monitor = AlarmMonitor(reopened)
    status = monitor.status(KEY)
    assert (status.state, status.since, status.scope_key, status.metric, status.datapoints) == (
        ALARM, T0 + 1.5, GREEN, "HTTPCode_Target_5XX_Count", [])
    # the persisted state is the `previous` that `ignore` keeps
    kept = monitor.evaluate_all([WatchedAlarm(KEY, spec, GREEN, since=T0)], now=T0 + 30)[KEY]
    assert (kept.state, kept.since) == (ALARM, T0 + 1.5)
    assert kept.to_json()["state"] == ALARM
    assert len(monitor.history(KEY)) == 1


def test_a_listener_alarm_names_the_listener(store):
    monitor = AlarmMonitor(store)
    spec = replace(SPEC, metric="HTTPCode_ELB_5XX_Count", scope="production")
    status = monitor.evaluate_all([WatchedAlarm("production/orders/elb", spec,
                                                "listener:production:8080")], now=T0)
    assert "the production listener on port 8080 received no requests" in \
        status["production/orders/elb"].reason
