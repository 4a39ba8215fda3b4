"""The verify report on constructed samples: phases, failures by cause, the longest gap between
successes, percentiles, which versions answered when, and the rate-kept verdict."""

from __future__ import annotations

import pytest

from conveyor.loadgen import Sample
from conveyor.verify.report import (
    ActionOutcome,
    Phase,
    build_report,
    latency_summary,
    schedule_of,
)

RATE = 10.0  # one slot every 0.1 s


def ok(i: int, version: str = "v1", latency: float = 0.01, post: bool = False, lag: float = 0.0) -> Sample:
    """Request i, started on its slot (plus `lag`), answered 2xx after `latency`."""
    t = i / RATE + lag
    return Sample(t, t + latency, 201 if post else 200, None, version, keepalive=False, post=post)


def failed(i: int, status: int | None = None, error: str | None = None, post: bool = False,
           latency: float = 0.01) -> Sample:
    t = i / RATE
    return Sample(t, t + latency, status, error, None, keepalive=False, post=post)


PHASES = [Phase("before", 0.0, 1.0), Phase("during", 1.0, 2.0), Phase("after", 2.0, 3.0)]
DEPLOYED = ActionOutcome("deploy", "d-1", "Succeeded", "", 0.9, "orders:2")


def report(samples, *, end=3.0, action=DEPLOYED, phases=PHASES):
    return build_report(samples, started_at=0.0, end=end, rate=RATE, phases=phases, action=action)


def test_a_clean_deploy_passes_and_requests_fall_in_the_phase_they_started_in():
    samples = [ok(i, "v1" if i < 15 else "v2") for i in range(30)]
    r = report(samples)
    assert r.passed and r.reasons == ()
    assert (r.requests, r.ok, r.failures.total) == (30, 30, 0)
    assert [(p.name, p.requests) for p in r.phases] == [("before", 10), ("during", 10), ("after", 10)]
    assert r.phases[1].versions == {"v1": 5, "v2": 5}
    assert r.phases[0].versions == {"v1": 10} and r.phases[2].versions == {"v2": 10}
    assert r.to_json()["passed"] is True and r.to_json()["action"]["outcome"] == "Succeeded"


def test_failures_are_counted_by_status_by_error_and_by_method():
    samples = [ok(i) for i in range(30)]
    samples[12] = failed(12, status=503)
    samples[13] = failed(13, status=503, post=True)
    samples[14] = failed(14, error="ConnectionRefused")
    samples[15] = failed(15, error="Timeout", post=True, latency=5.0)
    samples[16] = failed(16, error="StaleConnection", post=True)
    r = report(samples)
    assert not r.passed and r.reasons == ("5 requests failed",)
    f = r.failures
    assert (f.total, f.by_status, f.by_error) == (5, {"503": 2}, {"ConnectionRefused": 1, "Timeout": 1,
                                                                   "StaleConnection": 1})
    assert f.by_method == {"GET": 2, "POST": 3}
    assert r.phases[1].failures.total == 5 and r.phases[0].failures.total == 0


def test_longest_gap_is_between_successes_and_says_when_and_in_which_phase():
    samples = [ok(i) for i in range(30) if not 12 <= i <= 16]   # no answer for slots 12..16
    r = report(samples)
    # last success before: slot 11 answered at 1.11; next: slot 17 at 1.71
    assert r.longest_gap.ms == pytest.approx(600.0)
    assert r.longest_gap.ended_at_s == pytest.approx(1.71)
    assert r.longest_gap.phase == "during"


def test_a_service_that_stops_answering_shows_one_gap_to_the_end_of_the_load():
    samples = [ok(i) for i in range(10)] + [failed(i, error="ConnectionRefused") for i in range(10, 30)]
    r = report(samples, end=3.0)
    assert r.longest_gap.ms == pytest.approx((3.0 - 0.91) * 1000)
    assert r.longest_gap.phase == "during"  # its middle (about 1.95 s) is in the deployment


def test_no_success_at_all_is_a_gap_as_long_as_the_load():
    r = report([failed(i, status=502) for i in range(30)], end=3.0)
    assert r.longest_gap.ms == pytest.approx(3000.0) and r.ok == 0
    assert r.versions == ()


def test_latency_percentiles_per_phase():
    samples = ([ok(i, latency=0.010) for i in range(10)] + [ok(i, latency=0.050) for i in range(10, 20)]
               + [ok(i, latency=0.020) for i in range(20, 30)])
    r = report(samples)
    assert [p.latency_ms["p50"] for p in r.phases] == pytest.approx([10.0, 50.0, 20.0])
    assert r.latency_ms["max"] == pytest.approx(50.0)
    assert latency_summary([]) == {}
    assert latency_summary([0.001] * 99 + [1.0])["p99"] == pytest.approx(10.99)  # 1 % of the way from 1 to 1000


def test_versions_answering_over_time_first_and_last_answer_each():
    # v1 alone, then both (a rolling deploy: old and new tasks behind the balancer), then v2 alone
    versions = ["v1"] * 10 + ["v1", "v2"] * 5 + ["v2"] * 10
    r = report([ok(i, v) for i, v in enumerate(versions)])
    spans = {v.version: (v.first_s, v.last_s, v.count) for v in r.versions}
    assert [v.version for v in r.versions] == ["v1", "v2"]
    assert spans["v1"] == pytest.approx((0.01, 1.81, 15))
    assert spans["v2"] == pytest.approx((1.11, 2.91, 15))


def test_a_missing_version_header_is_its_own_version():
    r = report([ok(i, "") for i in range(30)])
    assert [(v.version, v.count) for v in r.versions] == [("", 30)]


def test_rate_kept_when_every_request_starts_on_its_slot():
    s = schedule_of([ok(i, lag=0.004) for i in range(30)], started_at=0.0, rate=RATE)
    assert s.kept and s.late_starts == 0 and s.achieved_rate == pytest.approx(30 / 3.004, rel=1e-6)


def test_rate_not_kept_when_requests_start_late_and_the_run_does_not_pass_even_with_nothing_failed():
    samples = [ok(i, lag=0.2 if i >= 20 else 0.0) for i in range(30)]   # the generator stalled 200 ms
    r = report(samples)
    assert r.failures.total == 0
    assert not r.schedule.kept and r.schedule.late_starts == 10 and r.schedule.max_lag_ms == pytest.approx(200.0)
    assert not r.passed
    assert len(r.reasons) == 1 and r.reasons[0].startswith("the generator did not keep its rate")
    assert r.to_json()["schedule"]["kept"] is False


def test_rate_not_kept_when_fewer_requests_were_sent_than_the_rate_asks():
    # 30 requests started on time-ish, but spread over 6 s instead of 3: each a little later
    samples = [Sample(i * 0.2, i * 0.2 + 0.01, 200, None, "v1", False) for i in range(30)]
    s = schedule_of(samples, started_at=0.0, rate=RATE)
    assert not s.kept and s.achieved_rate == pytest.approx(30 / 5.9, rel=1e-6)


def test_a_failed_or_unfinished_deployment_does_not_pass():
    samples = [ok(i) for i in range(30)]
    r = report(samples, action=ActionOutcome("deploy", "d-2", "Failed", "circuit breaker tripped", 2.0))
    assert not r.passed and r.reasons == ("the deploy d-2 ended Failed: circuit breaker tripped",)
    r = report(samples, action=ActionOutcome("rollback", "d-3", "InProgress", "not done after 60 s", 60.0))
    assert not r.passed and "InProgress" in r.reasons[0]


def test_a_load_alone_has_one_phase_and_no_action():
    r = report([ok(i) for i in range(30)], action=None, phases=[Phase("load", 0.0, 3.0)])
    assert r.passed and [p.name for p in r.phases] == ["load"] and r.to_json()["action"] is None


def test_no_request_at_all_does_not_pass():
    r = report([], action=None, phases=[Phase("load", 0.0, 3.0)])
    assert not r.passed and "no request was sent" in r.reasons


def test_methods_are_counted():
    samples = [ok(i, post=i % 2 == 0) for i in range(30)]
    r = report(samples)
    assert r.methods == {"GET": 15, "POST": 15} and r.passed
