"""Rolling updates, pass by pass on a fake clock (aws-semantics §4.3): the scheduler starts and
stops tasks within minimumHealthyPercent/maximumPercent, drains old tasks, completes the
deployment and says "steady state" once per arrival."""

from __future__ import annotations

from ecs_fakes import Harness, spec

from conveyor.deploy.rolling import STUCK
from conveyor.deploy.spec import NO_HEALTH_CHECK_SETTLE_SECONDS
from conveyor.providers.local.ecs import reasons
from conveyor.providers.local.ecs.store import (
    COMPLETED,
    DEACTIVATING,
    IN_PROGRESS,
    INACTIVE,
    PRIMARY,
    RUNNING,
    STOPPED,
    STOPPING,
)


def _completed(h: Harness, dep_id: str):
    return lambda: h.deployment(dep_id).rollout_state == COMPLETED and all(t.deployment_id == dep_id
                                                                           for t in h.live())


def test_a_first_deployment_without_load_balancer_is_healthy_after_the_settle_time(tmp_path):
    h = Harness.make(tmp_path)
    dep = h.deploy(spec(desired=2, lb=False))
    h.step()
    assert [t.last_status for t in h.tasks()] == [RUNNING, RUNNING]
    started = h.clock()
    passes = h.run_until(_completed(h, dep))
    # healthy NO_HEALTH_CHECK_SETTLE_SECONDS after RUNNING (ECS: no checks at all), not sooner
    assert h.clock() - started >= NO_HEALTH_CHECK_SETTLE_SECONDS
    assert passes * 0.25 <= NO_HEALTH_CHECK_SETTLE_SECONDS + 0.5
    task_ids = [t.id for t in h.tasks()]
    assert h.events() == [
        reasons.deployment_started("orders", dep, "orders:1"),
        reasons.started_task("orders", task_ids[0]),
        reasons.started_task("orders", task_ids[1]),
        reasons.deployment_completed("orders", dep),
        reasons.steady_state("orders"),
    ]
    assert h.deployment(dep).timings.keys() >= {"firstTaskStarted", "firstTaskHealthy", "completed"}
    h.run(20)  # steady: nothing more to say
    assert h.events()[-1] == reasons.steady_state("orders")
    assert len(h.events()) == 5


def test_a_rolling_update_steps_within_its_bounds_and_drains_the_old_tasks(tmp_path):
    h = Harness.make(tmp_path)
    v1 = h.deploy(spec(desired=4, minimum=50, maximum=150))
    h.run_until(_completed(h, v1))
    old_ids = {t.id for t in h.tasks()}
    h.history.clear()
    events_before = len(h.events())

    v2 = h.deploy(spec(desired=4, minimum=50, maximum=150), image="app:2")
    passes = h.run_until(_completed(h, v2))

    assert h.deployment(v1).status == INACTIVE
    assert h.deployment(v2).status == PRIMARY and h.deployment(v2).rollout_state == COMPLETED
    for tasks in h.history:  # every pass kept ≥ 50% healthy and ≤ 150% of 4 tasks
        live = [t for t in tasks if t.last_status != STOPPED]
        assert sum(1 for t in live if t.last_status == RUNNING and t.healthy_at) >= 2
        assert len(live) <= 6
    assert passes < 100
    stopped = [t for t in h.tasks(live_only=False) if t.id in old_ids]
    assert all(t.last_status == STOPPED for t in stopped)
    assert {(t.stopped_reason, t.stop_code, t.failed) for t in stopped} == {
        (reasons.scaling_by_deployment(v1), reasons.STOP_CODE_SCHEDULER, 0)}
    assert sorted(h.runtime.stopped) == sorted(old_ids)
    new = h.events()[events_before:]
    assert sorted(e for e in new if "draining" in e) == sorted(reasons.draining("orders", i) for i in old_ids)
    assert new[-2:] == [reasons.deployment_completed("orders", v2), reasons.steady_state("orders")]
    assert sum(1 for e in new if e == reasons.steady_state("orders")) == 1


def test_the_order_a_deployment_moves_through_its_tasks(tmp_path):
    """maximumPercent 100: an old task must go before a new one starts; minimumHealthyPercent 50:
    at most one of two at a time."""
    h = Harness.make(tmp_path)
    v1 = h.deploy(spec(desired=2, minimum=50, maximum=100))
    h.run_until(_completed(h, v1))
    h.deploy(spec(desired=2, minimum=50, maximum=100), image="app:2")
    h.step()
    statuses = sorted((t.taskdef, t.last_status) for t in h.tasks())
    assert statuses[0][0] == "orders:1" and statuses[1][0] == "orders:1"
    assert {s for _, s in statuses} <= {RUNNING, DEACTIVATING, STOPPING}
    assert sum(1 for _, s in statuses if s == RUNNING) == 1  # one old task stops; none new yet


def test_a_deployment_no_bound_lets_move_says_so(tmp_path):
    h = Harness.make(tmp_path)
    v1 = h.deploy(spec(desired=2, minimum=100, maximum=100))
    h.run_until(_completed(h, v1))
    v2 = h.deploy(spec(desired=2, minimum=100, maximum=100), image="app:2")
    h.run(4)
    assert h.events()[-1] == reasons.cannot_move("orders", STUCK, 100, 100)
    assert h.deployment(v2).rollout_state == IN_PROGRESS
    assert all(t.deployment_id == v1 for t in h.live())


def test_scaling_in_stops_the_surplus_and_scaling_out_starts_more(tmp_path):
    h = Harness.make(tmp_path)
    v1 = h.deploy(spec(desired=3))
    h.run_until(_completed(h, v1))
    h.services.deployments.scale("staging", "orders", 1, by="ana")
    h.run_until(lambda: len(h.live()) == 1)
    stopped = [t for t in h.tasks(live_only=False) if t.last_status == STOPPED]
    assert {t.stopped_reason for t in stopped} == {reasons.DESIRED_COUNT_LOWERED}
    assert reasons.desired_count_set("orders", 1, "ana") in h.events()
    h.step()  # the pass after the last stop sees it
    assert h.events()[-1] == reasons.steady_state("orders")  # steady again: news again after a change

    h.services.deployments.scale("staging", "orders", 2)
    h.run_until(lambda: sum(1 for t in h.live() if t.healthy_at) == 2)
    h.step()
    assert h.events()[-1] == reasons.steady_state("orders")


def test_a_rollback_deploys_the_last_completed_revision(tmp_path):
    h = Harness.make(tmp_path)
    v1 = h.deploy(spec(desired=1))
    h.run_until(_completed(h, v1))
    v2 = h.deploy(spec(desired=1), image="app:2")
    h.run_until(_completed(h, v2))
    back = h.services.deployments.roll_back_to_previous("staging", "orders", who="ana", reason="p99 up")
    assert back.taskdef == "orders:1"
    assert h.events()[-1] == reasons.rollback_requested("orders", "orders:1", "ana", "p99 up", back.id)
    h.run_until(_completed(h, back.id))
    assert [t.taskdef for t in h.live()] == ["orders:1"]


def test_updating_to_what_runs_starts_nothing_and_a_client_token_returns_its_deployment(tmp_path):
    h = Harness.make(tmp_path)
    name = h.services.deployments.register_taskdef({"family": "orders", "containerDefinitions": [
        {"name": "api", "image": "app:1", "essential": True, "memory": 128,
         "portMappings": [{"containerPort": 8080}]}]})
    first = h.services.deployments.update_service(spec(), task_definition=name, client_token="tok-1")
    again = h.services.deployments.update_service(spec(), task_definition=name)
    token = h.services.deployments.update_service(spec(), task_definition="orders:9", client_token="tok-1")
    assert first.id == again.id == token.id
    assert sum(1 for e in h.events() if "started deployment" in e) == 1
