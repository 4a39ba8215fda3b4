"""The verify run's orchestration with a fake daemon, a fake load and a fake clock: where the
load goes, when the deployment starts and how its end is awaited, what the phases are, and that
the load is stopped whatever happens. Usage errors of a plan, in words."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.errors import Conflict, DaemonUnreachable, UserError
from conveyor.loadgen import Sample
from conveyor.verify import VerifyPlan, resolve_target, run_verify
from conveyor.verify.run import POLL_SECONDS, UNREACHABLE_GIVE_UP, Clock

SERVICE = {"environment": "staging", "serviceName": "orders", "url": "http://127.0.0.1:8081/",
           "loadBalancer": {"url": "http://127.0.0.1:8081/", "targetGroup": "tg", "targets": [],
                            "healthCheckPath": "/health"}}


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds

    def clock(self) -> Clock:
        return Clock(now=self.now, sleep=self.sleep)


class FakeLoad:
    """Answers every slot from started_at to the moment it is stopped (or its duration) with 200 v1."""

    made: list[FakeLoad] = []

    def __init__(self, url: str, *, clock: FakeClock, **kw: Any) -> None:
        self.url, self.kw, self.clock = url, kw, clock
        self.started_at = 0.0
        self.stopped_at: float | None = None
        FakeLoad.made.append(self)

    def start(self) -> None:
        self.started_at = self.clock.now()

    def stop(self) -> None:
        self.stopped_at = self.clock.now()

    def wait(self) -> None:
        self.clock.sleep(self.kw["duration"])
        self.stopped_at = self.clock.now()

    def samples(self) -> list[Sample]:
        rate, end = self.kw["rate"], self.stopped_at or self.clock.now()
        n = int((end - self.started_at) * rate)
        return [Sample(self.started_at + i / rate, self.started_at + i / rate + 0.002, 200, None, "v1", False)
                for i in range(n)]


class FakeDaemon:
    def __init__(self, clock: FakeClock, *, polls_until_done: int = 3, outcome: str = "Succeeded",
                 refuse: Exception | None = None) -> None:
        self.clock, self.polls_until_done, self.outcome, self.refuse = clock, polls_until_done, outcome, refuse
        self.calls: list[tuple] = []
        self.polls = 0

    def service(self, environment: str, service: str) -> dict[str, Any]:
        self.calls.append(("service", environment, service))
        return SERVICE

    def deploy(self, environment: str, service: str, image: str | None, who: str) -> dict[str, Any]:
        self.calls.append(("deploy", environment, service, image, who, self.clock.now()))
        if self.refuse:
            raise self.refuse
        return {"id": "d-1", "done": False, "taskDefinition": "orders:2"}

    def rollback(self, environment: str, service: str, who: str) -> dict[str, Any]:
        self.calls.append(("rollback", environment, service, who, self.clock.now()))
        return {"id": "d-9", "done": False, "taskDefinition": "orders:1"}

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        self.polls += 1
        done = self.polls >= self.polls_until_done
        return {"id": deployment_id, "done": done, "outcome": self.outcome if done else "InProgress",
                "reason": "" if self.outcome == "Succeeded" else "tasks failed to start",
                "taskDefinition": "orders:2"}


def run(plan: VerifyPlan, daemon: FakeDaemon, clock: FakeClock):
    return run_verify(plan, daemon, load_factory=lambda url, **kw: FakeLoad(url, clock=clock, **kw),
                      clock=clock.clock())


def test_during_deploy_warms_up_deploys_waits_for_done_then_keeps_the_load():
    clock = FakeClock()
    daemon = FakeDaemon(clock, polls_until_done=4)
    plan = VerifyPlan("staging", "orders", rate=50, during="deploy", before=2, after=3, image="reg/orders:v2",
                      who="ana")
    r = run(plan, daemon, clock)
    load = FakeLoad.made[-1]
    assert load.url == "http://127.0.0.1:8081/health"  # the health-check path by default
    assert load.kw["rate"] == 50 and load.kw["post_fraction"] == 0.0
    assert daemon.calls[1] == ("deploy", "staging", "orders", "reg/orders:v2", "ana", 102.0)
    assert daemon.polls == 4
    assert [(p.name, p.start_s, p.end_s) for p in r.phases] == [
        ("before", 0.0, 2.0), ("during", 2.0, 2.0 + 4 * POLL_SECONDS), ("after", 3.0, 6.0)]
    assert load.stopped_at == 106.0
    assert r.action is not None and (r.action.deployment_id, r.action.outcome) == ("d-1", "Succeeded")
    assert r.passed and r.requests == 300


def test_during_rollback_posts_the_rollback():
    clock = FakeClock()
    daemon = FakeDaemon(clock, polls_until_done=1)
    r = run(VerifyPlan("staging", "orders", rate=10, during="rollback", before=1, after=1), daemon, clock)
    assert daemon.calls[1][0] == "rollback" and r.action is not None and r.action.kind == "rollback"
    assert r.passed


def test_a_failed_deployment_fails_the_run_with_its_reason():
    clock = FakeClock()
    r = run(VerifyPlan("staging", "orders", rate=10, during="deploy", before=1, after=1),
            FakeDaemon(clock, outcome="Failed"), clock)
    assert not r.passed and r.reasons == ("the deploy d-1 ended Failed: tasks failed to start",)


def test_a_deployment_not_done_in_time_is_reported_in_progress_not_raised():
    clock = FakeClock()
    plan = VerifyPlan("staging", "orders", rate=10, during="deploy", before=1, after=1, deploy_timeout=2)
    r = run(plan, FakeDaemon(clock, polls_until_done=10_000), clock)
    assert r.action is not None and r.action.outcome == "InProgress" and not r.passed


class VanishingDaemon(FakeDaemon):
    """Answers the first poll, then is unreachable for good."""

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        if self.polls >= 1:
            raise DaemonUnreachable("cannot reach the Conveyor daemon")
        return super().deployment(deployment_id)


def test_a_daemon_that_stops_answering_ends_the_wait_with_an_unknown_outcome():
    clock = FakeClock()
    daemon = VanishingDaemon(clock, polls_until_done=10_000)
    r = run(VerifyPlan("staging", "orders", rate=10, during="deploy", before=1, after=1), daemon, clock)
    assert r.action is not None and r.action.outcome == "Unknown" and "stopped answering" in r.action.reason
    assert not r.passed
    assert r.action.seconds == pytest.approx(POLL_SECONDS + UNREACHABLE_GIVE_UP, abs=POLL_SECONDS)


def test_a_refused_deployment_stops_the_load_and_propagates():
    clock = FakeClock()
    daemon = FakeDaemon(clock, refuse=Conflict("a deployment is already in progress"))
    with pytest.raises(Conflict):
        run(VerifyPlan("staging", "orders", rate=10, during="deploy", before=1), daemon, clock)
    assert FakeLoad.made[-1].stopped_at == 101.0


def test_duration_alone_is_one_bounded_phase():
    clock = FakeClock()
    r = run(VerifyPlan("staging", "orders", rate=20, duration=4), FakeDaemon(clock), clock)
    assert FakeLoad.made[-1].kw["duration"] == 4
    assert [p.name for p in r.phases] == ["load"] and r.action is None and r.requests == 80 and r.passed


def test_targets_get_post_and_mixed():
    plan = VerifyPlan("staging", "orders", path="/version")
    assert resolve_target(plan, SERVICE).get_url == "http://127.0.0.1:8081/version"
    t = resolve_target(VerifyPlan("staging", "orders", method="POST", path="/orders"), SERVICE)
    assert (t.get_url, t.post_path, t.post_fraction) == ("http://127.0.0.1:8081/orders", "/orders", 1.0)
    t = resolve_target(VerifyPlan("staging", "orders", post_fraction=0.5, post_path="/orders"), SERVICE)
    assert (t.get_url, t.post_path, t.post_fraction) == ("http://127.0.0.1:8081/health", "/orders", 0.5)
    no_hc = {**SERVICE, "loadBalancer": {"url": "http://127.0.0.1:8081/"}}
    assert resolve_target(VerifyPlan("staging", "orders"), no_hc).get_path == "/"


def test_a_service_without_a_listener_is_a_user_error():
    with pytest.raises(UserError, match="has no HTTP load balancer listener"):
        resolve_target(VerifyPlan("staging", "worker"), {"url": None})


@pytest.mark.parametrize(("kw", "message"), [
    ({"rate": 0}, "--rate must be a number > 0"),
    ({"duration": -1}, "--duration must be"),
    ({"during": "deploy", "duration": 5}, "--duration is for a load alone"),
    ({"image": "x:1"}, "--image goes with --during deploy"),
    ({"method": "POST"}, "--method POST needs --path"),
    ({"post_fraction": 0.5}, "--post-fraction needs --post-path"),
    ({"post_fraction": 1.5, "post_path": "/orders"}, "--post-fraction must be between 0 and 1"),
    ({"method": "POST", "path": "/orders", "post_fraction": 0.5, "post_path": "/orders"},
     "--method POST already sends only POSTs"),
    ({"path": "orders"}, "--path must be an absolute path"),
    ({"post_fraction": 0.5, "post_path": "/a b"}, "--post-path must be an absolute path"),
    ({"path": "/x\r\nHost: evil"}, "--path must be an absolute path"),
    ({"path": "/caf\u00e9"}, "--path must be an absolute path"),
    ({"before": -1, "during": "deploy"}, "--before and --after"),
    ({"method": "POST", "path": "/orders", "body": b"{item: 1}"}, "--body is not JSON"),
])
def test_plan_problems(kw, message):
    problems = VerifyPlan("staging", "orders", **kw).problems()
    assert any(message in p for p in problems), problems


def test_a_good_plan_has_no_problems():
    assert VerifyPlan("staging", "orders", during="deploy", image="x:1", post_fraction=0.5,
                      post_path="/orders").problems() == []
