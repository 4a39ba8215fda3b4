"""The DORA computation on constructed histories: every expected value is derived by hand in the
comment next to it, from the times in dora_history.py (docs/dora.md's definitions)."""

from __future__ import annotations

import pytest
from dora_history import END, START, T0, D, H, History, standard

from conveyor.dora import bands
from conveyor.dora.fold import FIX_FORWARD_WINDOW, fold
from conveyor.dora.metrics import compute, median, p90


def by_id(changes):
    return {c.id: c for c in changes}


def test_an_empty_window_has_counts_of_zero_and_no_metric_or_band():
    m = compute([], start=START, end=END)
    assert m["deployments"] == {"succeeded": 0, "finished": 0, "failed": 0}
    assert m["deploymentFrequency"] == {"perDay": 0.0, "perWeek": 0.0}
    assert m["leadTime"] == {"medianSeconds": None, "p90Seconds": None, "count": 0, "unknown": 0}
    assert m["changeFailureRate"]["rate"] is None
    assert m["timeToRestore"] == {"medianSeconds": None, "restored": 0, "unrestored": 0, "open": []}
    assert {k: v for k, v in m["band"].items() if k != "source"} == {
        "deploymentFrequency": None, "leadTime": None, "changeFailureRate": None, "timeToRestore": None,
        "overall": None}
    assert [p["deployments"] for p in m["daily"]] == [0] * 7
    assert m["daily"][0]["start"] == START and m["daily"][6]["start"] == START + 6 * D


def test_the_standard_week_change_by_change():
    h, commits, triggered = standard()
    changes = by_id(fold(h.events, end=END, commit_times=commits, triggered_at=triggered))
    assert sorted(changes) == ["D1", "D2", "D3", "D4", "D5", "D6"]  # R5 is a rollback, not a change
    d1, d2, d3, d4, d5, d6 = (changes[k] for k in ("D1", "D2", "D3", "D4", "D5", "D6"))
    assert (d1.failure, d1.lead_time) == (None, 0.5 * H + 600)        # 2400 s from commit to success
    # D2: alarm at +300 (its onset), production back on blue at +360: restored in 60 s.
    assert (d2.failure, d2.failed_at, d2.restored_at, d2.time_to_restore) == ("alarm", T0 + D + 300, T0 + D + 360, 60)
    assert d2.finished_at == T0 + D + 300                            # stopped before the reroute finished
    # D3 succeeded; production turned unhealthy at T0+2d; e4 was triggered after that and D4 started
    # 1 d - 2600 s after D3's success (within 24 h): D3 was fixed forward by D4, restored at D4's success.
    assert (d3.failure, d3.fixed_by, d3.failed_at, d3.restored_at) == ("fix-forward", "D4", T0 + 2 * D,
                                                                       T0 + 2 * D + 2600)
    assert d3.time_to_restore == 2600 and d3.lead_time == 1600
    assert d4.failure is None and d4.lead_time == 1600
    # D5: failed at +600, its rollback deployment R5 put production back at +900.
    assert (d5.failure, d5.time_to_restore, d5.lead_time) == ("failed", 300, None)
    # D6: failed, nothing after it: never restored.
    assert (d6.failure, d6.failed_at, d6.restored_at, d6.time_to_restore) == ("failed", T0 + 5 * D + 100, None, None)


def test_the_standard_week_metrics():
    h, commits, triggered = standard()
    m = compute(fold(h.events, end=END, commit_times=commits, triggered_at=triggered), start=START, end=END)
    # Finished in the window: D1..D6 (6); succeeded: D1, D3, D4 (3).
    assert m["deployments"] == {"succeeded": 3, "finished": 6, "failed": 4}
    assert m["deploymentFrequency"] == {"perDay": 3 / 7, "perWeek": 3.0}
    # Lead times 2400, 1600, 1600: median 1600; p90 by nearest rank = the 3rd of 3 = 2400.
    assert m["leadTime"] == {"medianSeconds": 1600.0, "p90Seconds": 2400.0, "count": 3, "unknown": 0}
    # Failures D2 (alarm), D3 (fix-forward), D5 and D6 (failed) of 6 deployments.
    assert m["changeFailureRate"] == {"rate": 4 / 6, "failures": 4, "deployments": 6,
                                      "causes": {"alarm": 1, "failed": 2, "rolled-back": 0, "fix-forward": 1}}
    # Restores 60, 2600, 300: median 300; D6 still open.
    assert m["timeToRestore"] == {"medianSeconds": 300.0, "restored": 3, "unrestored": 1,
                                  "open": [{"deployment": "D6", "environment": "production", "service": "orders",
                                            "since": T0 + 5 * D + 100}]}
    # 3/7 a day: at least monthly -> high; 1600 s < 1 h -> elite; 67% > 30% -> low; 300 s -> elite.
    assert {k: v for k, v in m["band"].items() if k != "source"} == {
        "deploymentFrequency": "high", "leadTime": "elite", "changeFailureRate": "low", "timeToRestore": "elite",
        "overall": "low"}
    daily = [(p["deployments"], p["finished"], p["failures"], p["leadTimeSeconds"], p["restoreSeconds"])
             for p in m["daily"]]
    assert daily == [
        (1, 1, 0, 2400.0, None),     # D1
        (1, 2, 2, 1600.0, 1330.0),   # D2 (restored in 60 s) and D3 (success, later fixed forward: 2600 s)
        (1, 1, 0, 1600.0, None),     # D4
        (0, 1, 1, None, 300.0),      # D5
        (0, 0, 0, None, None),
        (0, 1, 1, None, None),       # D6, never restored
        (0, 0, 0, None, None)]
    assert m["daily"][1]["date"] == "2024-09-28"  # the slot starting 19,994 days after the epoch


def test_deployments_on_the_window_edges():
    h = History()
    h.deployed("before", START - 200, START - 1)      # succeeded 1 s before the window: out
    h.deployed("first", START - 100, START)           # succeeded exactly at the start: in
    h.deployed("last", END - 100, END - 1)            # 1 s before the end: in
    h.deployed("late", END - 50, END)                 # exactly at the end: out (and unseen: the history ends there)
    changes = by_id(fold(h.events, end=END))
    assert changes["late"].finished_at is None        # its start is before the end, its success is not
    m = compute(changes.values(), start=START, end=END)
    assert m["deployments"] == {"succeeded": 2, "finished": 2, "failed": 0}
    assert m["daily"][0]["deployments"] == 1 and m["daily"][6]["deployments"] == 1
    assert m["changeFailureRate"]["rate"] == 0.0


def test_a_rollback_followed_by_a_fix_forward_counts_one_failure_restored_by_the_rollback():
    h = History()
    h.deployed("A", T0 + H, T0 + H + 60, execution="ea")
    h.add("service-unhealthy", T0 + 2 * H, "A", pipeline=None)
    # `conveyor rollback` on the rolling service: R (origin rollback of A) completes at +3 h.
    h.add("deployment-started", T0 + 3 * H - 300, "R", pipeline=None, rollback=True, rolledBack="A")
    h.add("deployment-rolled-back", T0 + 3 * H, "R", pipeline=None, rollback=True, rolledBack="A")
    # then the fix, triggered after the failure, ships within 24 h
    h.deployed("B", T0 + 5 * H, T0 + 5 * H + 60, execution="eb")
    changes = by_id(fold(h.events, end=END, triggered_at={"ea": T0, "eb": T0 + 4 * H}))
    a, b = changes["A"], changes["B"]
    # A: rolled back after its success; the onset is the first unhealthy signal after it (T0+2h),
    # production was restored when the rollback completed (T0+3h), not at B's success.
    assert (a.failure, a.failed_at, a.restored_at, a.time_to_restore) == ("rolled-back", T0 + 2 * H, T0 + 3 * H, H)
    assert a.finished_at == T0 + H + 60 and a.fixed_by is None
    assert b.failure is None
    m = compute(changes.values(), start=START, end=END)
    assert m["changeFailureRate"]["rate"] == 0.5 and m["changeFailureRate"]["causes"]["rolled-back"] == 1


def test_a_rollback_without_a_signal_counts_from_when_the_rollback_started():
    h = History()
    h.deployed("A", T0 + H, T0 + H + 60)
    h.add("deployment-started", T0 + 3 * H - 300, "R", pipeline=None, rollback=True, rolledBack="A")
    h.add("deployment-rolled-back", T0 + 3 * H, "R", pipeline=None, rollback=True, rolledBack="A")
    a = by_id(fold(h.events, end=END))["A"]
    assert (a.failed_at, a.time_to_restore) == (T0 + 3 * H - 300, 300)


def test_a_codedeploy_rollback_deployment_is_not_a_change_and_names_its_victim():
    h = History()
    h.deployed("d-A", T0 + H, T0 + H + 60, creator="CodePipeline")
    h.add("deployment-started", T0 + 2 * H, "d-R", pipeline=None, creator="codeDeployRollback", rollbackOf="d-A")
    h.add("deployment-rolled-back", T0 + 2 * H + 30, "d-R", pipeline=None, creator="codeDeployRollback",
          rollbackOf="d-A", how="redeploy", rolledBack="d-A")
    changes = by_id(fold(h.events, end=END))
    assert list(changes) == ["d-A"]
    assert (changes["d-A"].failure, changes["d-A"].time_to_restore) == ("rolled-back", 30)


def test_a_fix_forward_needs_a_signal_before_the_next_execution_was_triggered_and_24_hours_at_most():
    def week(unhealthy_at: float, next_start: float, triggered: float):
        h = History()
        h.deployed("A", T0, T0 + 100, execution="ea")
        h.add("service-unhealthy", unhealthy_at, "A", pipeline=None)
        h.deployed("B", next_start, next_start + 100, execution="eb")
        return by_id(fold(h.events, end=END, triggered_at={"eb": triggered}))["A"]

    assert week(T0 + 200, T0 + 1000, T0 + 900).failure == "fix-forward"
    # the execution was triggered before production turned unhealthy: a routine deployment
    assert week(T0 + 950, T0 + 1000, T0 + 900).failure is None
    # more than 24 h after A's success
    late = T0 + 100 + FIX_FORWARD_WINDOW + 1
    assert week(T0 + 200, late, late - 10).failure is None
    assert week(T0 + 200, late - 1, late - 10).failure == "fix-forward"


def test_a_person_stopping_a_deployment_is_not_a_change_failure_a_running_one_not_counted():
    h = History()
    h.add("deployment-started", T0 + H, "A").add("deployment-stopped", T0 + H + 30, "A")
    h.add("deployment-started", END - 60, "B")   # still running at the end
    changes = by_id(fold(h.events, end=END))
    assert changes["A"].failure is None and changes["A"].finished_at == T0 + H + 30
    assert changes["B"].finished_at is None
    m = compute(changes.values(), start=START, end=END)
    assert m["deployments"] == {"succeeded": 0, "finished": 1, "failed": 0}
    assert m["changeFailureRate"]["rate"] == 0.0
    # nothing succeeded: 0 a day is low; no lead time nor restore; the worst band known is low
    assert (m["band"]["deploymentFrequency"], m["band"]["overall"]) == ("low", "low")


def test_a_failure_restored_after_the_end_is_still_open_at_the_end():
    h = History()
    h.add("deployment-started", END - H, "A").add("deployment-failed", END - H + 10, "A")
    h.deployed("B", END - 100, END + 50)   # succeeds after the end
    m = compute(fold(h.events, end=END), start=START, end=END)
    assert m["timeToRestore"]["unrestored"] == 1 and m["timeToRestore"]["medianSeconds"] is None


def test_a_deployment_started_before_the_window_counts_where_it_finished():
    h = History()
    h.deployed("A", START - 2 * H, START + H)
    m = compute(fold(h.events, end=END), start=START, end=END)
    assert m["deployments"]["succeeded"] == 1 and m["daily"][0]["deployments"] == 1


def test_lead_time_is_never_negative_and_unknown_commits_are_counted_apart():
    h = History()
    h.deployed("A", T0 + 10, T0 + 20, execution="ea")
    h.deployed("B", T0 + 30, T0 + 40, execution="eb")
    changes = fold(h.events, end=END, commit_times={"ea": T0 + 100})   # a committer clock ahead
    m = compute(changes, start=START, end=END)
    assert m["leadTime"] == {"medianSeconds": 0.0, "p90Seconds": 0.0, "count": 1, "unknown": 1}


@pytest.mark.parametrize("values, mid, ninety", [
    ([5.0], 5.0, 5.0),
    ([1.0, 2.0], 1.5, 2.0),
    ([float(i) for i in range(1, 11)], 5.5, 9.0),
    ([float(i) for i in range(1, 12)], 6.0, 10.0),    # ceil(9.9) = 10th of 11
])
def test_median_and_p90(values, mid, ninety):
    assert (median(values), p90(values)) == (mid, ninety)


@pytest.mark.parametrize("per_day, band", [(2.0, "elite"), (1.0, "elite"), (0.99, "high"), (1 / 30, "high"),
                                           (1 / 31, "medium"), (1 / 182.5, "medium"), (1 / 183, "low"),
                                           (0.0, "low")])
def test_frequency_bands(per_day, band):
    assert bands.frequency_band(per_day) == band


@pytest.mark.parametrize("seconds, lead, restore", [
    (3599, "elite", "elite"), (3600, "high", "high"), (86399, "high", "high"), (86400, "high", "medium"),
    (7 * 86400, "high", "medium"), (7 * 86400 + 1, "medium", "low"), (182.5 * 86400 + 1, "low", "low")])
def test_time_bands(seconds, lead, restore):
    assert (bands.lead_time_band(seconds), bands.restore_band(seconds)) == (lead, restore)


@pytest.mark.parametrize("rate, band", [(0.0, "elite"), (0.15, "elite"), (0.155, "high"), (0.30, "high"),
                                        (0.31, "low"), (1.0, "low")])
def test_failure_rate_bands(rate, band):
    assert bands.failure_rate_band(rate) == band
