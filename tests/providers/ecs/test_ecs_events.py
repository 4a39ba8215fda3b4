"""The stream events of the local ECS: the pure mapping from a rolling deployment's moves to
events, the store writing them in the transaction of the move (none when it is refused), the
unhealthy episode (one service-unhealthy until the service is steady again), and the sequences
whole rollouts leave in services.db's outbox, pass by pass on a fake clock."""

from __future__ import annotations

import dataclasses

import pytest
from ecs_fakes import FakeRuntime, Harness, spec, taskdef_body

from conveyor.events.outbox import read_outbox
from conveyor.events.types import Event
from conveyor.providers.local.ecs import reasons
from conveyor.providers.local.ecs.events import rollout_events, started
from conveyor.providers.local.ecs.rows import Deployment, Task
from conveyor.providers.local.ecs.states import InvalidTransition
from conveyor.providers.local.ecs.store import COMPLETED, FAILED, INACTIVE, PENDING, STOPPED, EcsStore

DEP = Deployment(id="ecs-svc/2", seq=2, environment="staging", service="orders", taskdef="orders:2",
                 status="PRIMARY", rollout_state="IN_PROGRESS", failed_tasks=3,
                 origin={"pipeline": "orders", "execution": "ex-1", "stage": "Deploy", "action": "Deploy"})


def types(events: list[Event]) -> list[str]:
    return [e.type for e in events]


def outbox(store: EcsStore) -> list[Event]:
    return [e for _, e in read_outbox(store._db, 0)]


def _completed(h: Harness, dep_id: str):
    return lambda: h.deployment(dep_id).rollout_state == COMPLETED and all(t.deployment_id == dep_id
                                                                           for t in h.live())


# -- the mapping ----------------------------------------------------------------------------------
def test_a_pipelines_rolling_deployment_starts_with_its_pipeline_and_execution():
    (event,) = started(DEP, now=3.0)
    assert (event.type, event.at, event.detail) == ("deployment-started", 3.0, {"kind": "rolling",
                                                                                "taskdef": "orders:2"})
    assert (event.subject.pipeline, event.subject.execution_id, event.subject.deployment_id) == (
        "orders", "ex-1", "ecs-svc/2")
    assert event.summary == reasons.event_started(reasons.event_deployment("staging", "orders", "ecs-svc/2"),
                                                  "orders:2", None)


def test_completing_is_success_or_for_a_rollback_rolled_back():
    assert types(rollout_events(DEP, COMPLETED, "", now=1.0)) == ["deployment-succeeded"]
    rollback = dataclasses.replace(DEP, origin={"rollback": True, "of": "ecs-svc/1", "to": "ecs-svc/0", "by": "ana"})
    (back,) = rollout_events(rollback, COMPLETED, "", now=1.0)
    assert (back.type, back.detail["rolledBack"], back.detail["who"]) == ("deployment-rolled-back", "ecs-svc/1", "ana")
    assert started(rollback, now=1.0)[0].detail["rollback"] is True


def test_failing_is_the_circuit_breaker_then_the_failure_with_its_reason():
    why = reasons.circuit_breaker_tripped(3, 3, "exited")
    breaker, failed = rollout_events(DEP, FAILED, why, now=1.0)
    assert (breaker.type, failed.type) == ("service-circuit-breaker", "deployment-failed")
    assert failed.detail["reason"] == why and breaker.detail["failedTasks"] == 3


def test_a_task_set_says_nothing_its_deployment_is_codedeploys():
    task_set = dataclasses.replace(DEP, scale=100, target_group="staging-orders-2")
    assert started(task_set, now=1.0) == [] and rollout_events(task_set, COMPLETED, "", now=1.0) == []


# -- the store ------------------------------------------------------------------------------------
def test_each_event_commits_with_its_move_and_a_refused_move_leaves_none(tmp_path):
    store = EcsStore(tmp_path / "services.db", clock=lambda: 9.0)
    store.put_service("staging", "orders", {}, "orders:1", 1)
    dep = store.create_deployment("staging", "orders", "orders:1", {"execution": "ex-1"})
    store.transition_deployment(dep.id, rollout_state=COMPLETED)
    with pytest.raises(InvalidTransition):
        store.transition_deployment(dep.id, rollout_state=FAILED, reason="late")
    assert [(e.type, e.at, e.subject.execution_id) for e in outbox(store)] == [
        ("deployment-started", 9.0, "ex-1"), ("deployment-succeeded", 9.0, "ex-1")]
    assert store.deployment(dep.id).rollout_state == COMPLETED
    store.close()


def test_on_events_is_called_after_a_commit_that_wrote_events_only(tmp_path):
    store = EcsStore(tmp_path / "services.db")
    woken: list[int] = []
    store.outbox.on_events = lambda: woken.append(len(outbox(store)))  # sees the committed rows
    store.put_service("staging", "orders", {}, "orders:1", 1)
    assert woken == []  # no event in that transaction
    dep = store.create_deployment("staging", "orders", "orders:1", {})
    store.transition_deployment(dep.id, rollout_state=COMPLETED)
    with pytest.raises(InvalidTransition):
        store.transition_deployment(dep.id, rollout_state=FAILED, reason="late")
    assert woken == [1, 2]  # once per commit that wrote events, after it; not for the refused move
    store.close()


def test_an_unhealthy_episode_is_said_once_and_ends_at_the_next_steady_state(tmp_path):
    store = EcsStore(tmp_path / "services.db")
    store.put_service("staging", "orders", {}, "orders:1", 1)

    def fail(task_id: str) -> None:
        store.add_task(Task(id=task_id, environment="staging", service="orders", deployment_id="ecs-svc/1",
                            taskdef="orders:1", last_status=PENDING, created_at=1.0))
        store.transition_task(task_id, STOPPED, stop_code=reasons.STOP_CODE_FAILED_TO_START,
                              stopped_reason="CannotPullContainerError", failed=1)

    fail("t1")
    fail("t2")
    assert types(outbox(store)) == ["service-unhealthy"]
    (unhealthy,) = outbox(store)
    assert (unhealthy.detail["task"], unhealthy.detail["stoppedReason"], unhealthy.detail["stopCode"]) == (
        "t1", "CannotPullContainerError", reasons.STOP_CODE_FAILED_TO_START)
    assert store.reached_steady_state("staging", "orders", reasons.steady_state("orders"))
    assert not store.reached_steady_state("staging", "orders", reasons.steady_state("orders"))  # a repeat
    fail("t3")
    assert types(outbox(store)) == ["service-unhealthy", "service-steady-state", "service-unhealthy"]
    store.close()


def test_a_refused_task_move_starts_no_episode(tmp_path):
    store = EcsStore(tmp_path / "services.db")
    store.put_service("staging", "orders", {}, "orders:1", 1)
    store.add_task(Task(id="t1", environment="staging", service="orders", deployment_id="ecs-svc/1",
                        taskdef="orders:1", last_status=PENDING, created_at=1.0))
    store.transition_task("t1", STOPPED, stopped_reason="gone")
    with pytest.raises(InvalidTransition):
        store.transition_task("t1", "RUNNING", failed=1)
    assert outbox(store) == [] and store.service("staging", "orders").unhealthy_since is None
    store.close()


# -- whole rollouts -----------------------------------------------------------------------------------
def test_a_rolling_deployment_says_started_succeeded_and_steady(tmp_path):
    h = Harness.make(tmp_path)
    v1 = h.deploy(spec(desired=2))
    h.run_until(_completed(h, v1))
    v2 = h.deploy(spec(desired=2), image="app:2")
    h.run_until(_completed(h, v2))
    h.run(10)  # steady: nothing more
    events = outbox(h.services.store)
    assert [(e.type, e.subject.deployment_id) for e in events] == [
        ("deployment-started", v1), ("deployment-succeeded", v1), ("service-steady-state", None),
        ("deployment-started", v2), ("deployment-succeeded", v2), ("service-steady-state", None)]


def test_a_tripped_circuit_breaker_says_unhealthy_once_then_breaker_failed_and_the_rollback(tmp_path):
    h = Harness.make(tmp_path, runtime=FakeRuntime(crashing={"app:bad"}))
    service = spec(desired=2, breaker=True, rollback=True)
    v1 = h.deploy(service)
    h.run_until(_completed(h, v1))
    v2 = h.deploy(service, image="app:bad")
    h.run_until(lambda: h.deployment(v2).rollout_state == FAILED)
    rollback = h.deployment(v2).timings["rolledBackBy"]
    h.run_until(_completed(h, rollback))
    h.step()
    events = outbox(h.services.store)[3:]
    assert [(e.type, e.subject.deployment_id) for e in events] == [
        ("deployment-started", v2), ("service-unhealthy", v2), ("service-circuit-breaker", v2),
        ("deployment-failed", v2), ("deployment-started", rollback), ("deployment-rolled-back", rollback),
        ("service-steady-state", None)]
    assert events[-2].detail["rolledBack"] == v2


def test_a_manual_rollback_names_who_and_what_it_rolled_back(tmp_path):
    h = Harness.make(tmp_path)
    v1 = h.deploy(spec(desired=1))
    h.run_until(_completed(h, v1))
    v2 = h.deploy(spec(desired=1), image="app:2")
    h.run_until(_completed(h, v2))
    back = h.services.deployments.roll_back_to_previous("staging", "orders", who="ana", reason="p99 up")
    h.run_until(_completed(h, back.id))
    done = [e for e in outbox(h.services.store) if e.type == "deployment-rolled-back"]
    assert [(e.subject.deployment_id, e.detail["rolledBack"], e.detail["who"], e.detail["reason"])
            for e in done] == [(back.id, v2, "ana", "p99 up")]


def test_a_started_deployment_names_its_images_and_who_deployed_it(tmp_path):
    store = EcsStore(tmp_path / "services.db")
    store.put_service("staging", "orders", {}, "orders:1", 1)
    name, _ = store.register_taskdef("orders", {"family": "orders", "containerDefinitions": [
        {"name": "api", "image": "127.0.0.1:5000/orders@sha256:ab"}, {"name": "log", "essential": False}]})
    store.create_deployment("staging", "orders", name, {"by": "ana", "via": "conveyor deploy"})
    (event,) = outbox(store)
    assert (event.detail["images"], event.detail["who"]) == ({"api": "127.0.0.1:5000/orders@sha256:ab"}, "ana")
    store.close()


def test_a_blue_green_service_announces_steady_only_with_one_task_set_left(tmp_path):
    h = Harness.make(tmp_path)
    service = spec(desired=2, controller="CODE_DEPLOY")
    name = h.services.deployments.register_taskdef(taskdef_body())
    h.services.task_sets.declare_service(service, task_definition=name)
    api = h.services.task_sets
    blue = api.create_task_set("staging", "orders", name, "staging-orders-1", 100, {}, primary=True)
    h.run_until(lambda: api.task_set_status(blue.id).healthy == 2)
    h.step()
    green = api.create_task_set("staging", "orders", name, "staging-orders-2", 100, {})
    h.run_until(lambda: api.task_set_status(green.id).healthy == 2)
    h.step()
    assert h.events()[-1] == reasons.steady_state("orders")  # the service event says it between steps...
    assert types(outbox(h.services.store)) == ["service-steady-state"]  # ...the stream does not
    api.update_service_primary_task_set(green.id)
    api.update_task_set(blue.id, scale=0)
    h.run_until(lambda: h.deployment(blue.id).status == INACTIVE)
    h.step()
    assert types(outbox(h.services.store)) == ["service-steady-state", "service-steady-state"]
