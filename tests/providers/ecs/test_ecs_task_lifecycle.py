"""Failing tasks, pass by pass on a fake clock: a crash loop backs off (1, 2, 4, 8 … s), the
circuit breaker fails the deployment at its threshold and rolls back, tasks that never start or
fail their checks are stopped with ECS's reasons, and a restarted daemon adopts what runs."""

from __future__ import annotations

from dataclasses import replace

from ecs_fakes import PASS, FakeRuntime, Harness, spec

from conveyor.deploy.rolling import restart_delay
from conveyor.lb.model import TargetHealth
from conveyor.providers.local.ecs import reasons
from conveyor.providers.local.ecs.controller import ServiceController
from conveyor.providers.local.ecs.runtime import PodState
from conveyor.providers.local.ecs.store import COMPLETED, FAILED, IN_PROGRESS, PENDING, RUNNING, STOPPED


def _completed(h: Harness, dep_id: str):
    return lambda: h.deployment(dep_id).rollout_state == COMPLETED and all(t.deployment_id == dep_id
                                                                           for t in h.live())


def test_a_crash_loop_waits_longer_after_every_failure(tmp_path):
    h = Harness.make(tmp_path, runtime=FakeRuntime(crashing={"app:bad"}))
    h.deploy(spec(desired=1, lb=False), image="app:bad")
    starts: list[float] = []
    failures: list[float] = []
    seen: set[str] = set()
    while len(failures) < 5:
        h.step()
        for t in h.tasks(live_only=False):
            if t.id not in seen:
                seen.add(t.id)
                starts.append(t.created_at)
            if t.failed and t.stopping_at not in failures:
                failures.append(t.stopping_at)
    # the n-th failure holds the next start for restart_delay(n); the next pass after it starts one
    for n, (failed_at, next_start) in enumerate(zip(failures, starts[1:], strict=False), start=1):
        assert restart_delay(n) <= next_start - failed_at < restart_delay(n) + 2 * PASS, n
    backoff = h.services.state.backoff("staging", "orders")
    assert backoff is not None and backoff.failures == 5
    stopped = [t for t in h.tasks(live_only=False) if t.last_status == STOPPED]
    assert {(t.stopped_reason, t.stop_code) for t in stopped} == {
        (reasons.essential_container_exited("api", 1), reasons.STOP_CODE_TASK_FAILED)}


def test_a_healthy_task_ends_the_back_off(tmp_path):
    h = Harness.make(tmp_path, runtime=FakeRuntime(crashing={"app:bad"}))
    h.deploy(spec(desired=1, lb=False), image="app:bad")
    h.run_until(lambda: (h.services.state.backoff("staging", "orders") or 0) and
                h.services.state.backoff("staging", "orders").failures >= 3)
    h.runtime.crashing.clear()  # the next start works
    h.run_until(lambda: any(t.healthy_at for t in h.live()))
    assert h.services.state.backoff("staging", "orders") is None


def test_the_circuit_breaker_fails_the_deployment_and_rolls_back(tmp_path):
    h = Harness.make(tmp_path, runtime=FakeRuntime(crashing={"app:bad"}))
    service = spec(desired=2, breaker=True, rollback=True)
    v1 = h.deploy(service)
    h.run_until(_completed(h, v1))
    v2 = h.deploy(service, image="app:bad")
    h.run_until(lambda: h.deployment(v2).rollout_state == FAILED)

    threshold = service.circuit_breaker.threshold(2)
    failed = h.deployment(v2)
    assert (threshold, failed.failed_tasks) == (3, 3)
    why = reasons.circuit_breaker_tripped(3, 3, reasons.essential_container_exited("api", 1))
    assert failed.reason == why
    rollback = failed.timings["rolledBackBy"]
    assert h.deployment(rollback).taskdef == "orders:1"
    assert h.deployment(rollback).origin == {"rollback": True, "of": v2, "to": v1}
    events = h.events()
    at = events.index(reasons.deployment_failed("orders", v2, why))
    assert events[at + 1] == reasons.circuit_breaker_rolling_back("orders", v1)

    h.run_until(_completed(h, rollback))
    assert sorted(t.taskdef for t in h.live()) == ["orders:1", "orders:1"]
    assert all(t.last_status == STOPPED for t in h.tasks(live_only=False) if t.deployment_id == v2)
    assert h.events()[-1] == reasons.steady_state("orders")


def test_a_tripped_breaker_without_an_earlier_completed_deployment_only_says_so(tmp_path):
    h = Harness.make(tmp_path, runtime=FakeRuntime(crashing={"app:bad"}))
    dep = h.deploy(spec(desired=1, lb=False, breaker=True, rollback=True), image="app:bad")
    h.run_until(lambda: h.deployment(dep).rollout_state == FAILED)
    assert h.events()[-1] == reasons.circuit_breaker_nothing_to_roll_back("orders")
    h.run(40)  # a FAILED deployment launches no more tasks
    assert not h.live()
    assert h.deployment(dep).failed_tasks == 3


def test_a_task_that_does_not_start_is_stopped_and_counted(tmp_path):
    h = Harness.make(tmp_path, runtime=FakeRuntime(unpullable={"app:nope"}))
    dep = h.deploy(spec(desired=1, lb=False), image="app:nope")
    h.step()
    [task] = h.tasks(live_only=False)
    reason = "CannotPullContainerError: app:nope: manifest unknown"
    assert (task.last_status, task.stop_code, task.stopped_reason, task.failed) == (
        STOPPED, reasons.STOP_CODE_FAILED_TO_START, reason, 1)
    assert h.events()[-1] == reasons.failed_to_start("orders", task.id, reason)
    assert h.deployment(dep).failed_tasks == 1
    assert h.services.state.holding_starts("staging", "orders", h.clock())


def test_failing_container_health_checks_stop_the_task(tmp_path):
    h = Harness.make(tmp_path, runtime=FakeRuntime(default_check=(False, "curl: (7) refused")))
    h.deploy(spec(desired=1, lb=False), health_check=True)
    h.run_until(lambda: any(t.failed for t in h.tasks(live_only=False)))
    [task] = [t for t in h.tasks(live_only=False) if t.failed]
    assert task.stopped_reason == reasons.CONTAINER_HEALTH_CHECKS_FAILED
    assert reasons.stopped_failed_task("orders", task.id, reasons.CONTAINER_HEALTH_CHECKS_FAILED) in h.events()


def test_passing_container_health_checks_make_the_task_healthy_without_the_settle_time(tmp_path):
    h = Harness.make(tmp_path)
    dep = h.deploy(spec(desired=1, lb=False), health_check=True)
    passes = h.run_until(_completed(h, dep))
    assert passes < 10
    assert h.tasks()[0].health == "HEALTHY"


def test_failing_load_balancer_checks_stop_the_task_after_their_window(tmp_path):
    h = Harness.make(tmp_path)
    h.deploy(spec(desired=1))
    h.run(2)
    [task] = h.tasks()
    h.balancer().stuck[task.id] = TargetHealth(task.id, "127.0.0.1:40000", "unhealthy",
                                               "Target.ResponseCodeMismatch",
                                               "Health checks failed with these codes: [503]", 100, 0)
    h.step()
    task = h.services.store.task(task.id)
    reason = reasons.elb_health_checks_failed("staging-orders", "Health checks failed with these codes: [503]")
    assert (task.stopped_reason, task.failed, task.stop_code) == (reason, 1, reasons.STOP_CODE_TASK_FAILED)
    assert reasons.stopped_failed_task("orders", task.id, reason) in h.events()


def test_a_restarted_daemon_adopts_a_started_pod_and_stops_an_unstarted_one(tmp_path):
    h = Harness.make(tmp_path)
    h.deploy(spec(desired=2, lb=False))
    h.services.reconciler.reconcile()  # two PENDING rows, their start workers queued …
    _, run_first, args, kwargs = h.executor.queue[0]
    run_first(*args, **kwargs)          # … the first pod starts, then the daemon dies
    h.executor.drop_all()
    [running] = [t for t in h.tasks() if t.last_status == RUNNING]
    [pending] = [t for t in h.tasks() if t.last_status == PENDING]
    h.services.store.close()

    again = Harness.make(tmp_path, runtime=h.runtime, clock=h.clock)
    pod = h.runtime.pods[running.id]
    h.runtime.pods[pending.id] = replace(pod, task_id=pending.id)  # its pod came up after all
    again.step()
    tasks = {t.id: t for t in again.tasks(live_only=False)}
    assert tasks[pending.id].last_status == RUNNING and tasks[running.id].last_status == RUNNING
    assert again.services.store.transitions(pending.id)[-1]["reason"] == reasons.HISTORY_ADOPTED
    assert h.runtime.started == [running.id]  # nothing started twice

    lost = Harness.make(tmp_path / "other", clock=h.clock)
    lost.deploy(spec(desired=1, lb=False))
    lost.services.reconciler.reconcile()
    lost.executor.drop_all()
    lost.services.store.close()
    restarted = Harness.make(tmp_path / "other", runtime=lost.runtime, clock=h.clock)
    restarted.step()
    stopped = [t for t in restarted.tasks(live_only=False) if t.last_status == STOPPED]
    assert [t.stopped_reason for t in stopped] == [reasons.PROVISIONING_INTERRUPTED]


def test_a_pod_no_task_knows_is_removed(tmp_path):
    h = Harness.make(tmp_path)
    dep = h.deploy(spec(desired=1, lb=False))
    h.run_until(_completed(h, dep))
    h.runtime.pods["ghost"] = PodState("ghost", "staging", "orders", {})
    h.step()
    assert "ghost" not in h.runtime.pods
    assert h.deployment(dep).rollout_state == COMPLETED


def test_the_controller_takes_any_task_runtime_and_a_dependency_check_goes_through_it(tmp_path):
    h = Harness.make(tmp_path)
    assert isinstance(h.services, ServiceController)
    h.deploy(spec(desired=1, lb=False), health_check=True)
    h.services.reconciler.reconcile()
    [task] = h.tasks()
    h.runtime.checks[task.id] = (False, "not yet")
    assert h.services.lifecycle._dependency_healthy(task.id, "api") is False
    h.runtime.checks[task.id] = (True, "ok")
    assert h.services.lifecycle._dependency_healthy(task.id, "api") is True
    assert h.deployment(task.deployment_id).rollout_state == IN_PROGRESS
