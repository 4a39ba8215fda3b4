"""Blue/green task sets on a fake clock: the task-set API CodeDeploy uses creates, scales and
promotes them; the scheduler keeps each at its size, drains one scaled to 0 and retires it."""

from __future__ import annotations

import inspect

from ecs_fakes import Harness, spec, taskdef_body

from conveyor.providers.local.ecs import reasons
from conveyor.providers.local.ecs.store import ACTIVE, COMPLETED, INACTIVE, PRIMARY, STOPPED
from conveyor.providers.local.ecs.task_set_api import TaskSetApi
from conveyor.providers.local.ecs.task_sets import TaskSets


def _protocol_methods(protocol: type) -> list[str]:
    return sorted(n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_"))


def test_task_sets_implement_the_task_set_api_exactly():
    for name in _protocol_methods(TaskSetApi):
        assert inspect.signature(getattr(TaskSets, name)) == inspect.signature(getattr(TaskSetApi, name)), name


def _declare(h: Harness, desired: int = 2) -> str:
    service = spec(desired=desired, controller="CODE_DEPLOY")
    name = h.services.deployments.register_taskdef(taskdef_body())
    h.services.task_sets.declare_service(service, task_definition=name)
    return name


def test_a_task_set_is_kept_at_its_size_and_retired_once_scaled_to_zero(tmp_path):
    h = Harness.make(tmp_path)
    name = _declare(h)
    listeners, groups = h.balancer().applied[-1]
    assert [g.name for g in groups] == ["staging-orders-1", "staging-orders-2"]
    assert [(li.port, li.target_group) for li in listeners] == [(18080, "staging-orders-1"),
                                                                (18081, "staging-orders-1")]

    api = h.services.task_sets
    blue = api.create_task_set("staging", "orders", name, "staging-orders-1", 100, {}, primary=True)
    h.run_until(lambda: api.task_set_status(blue.id).healthy == 2)
    h.step()
    assert h.deployment(blue.id).rollout_state == COMPLETED
    assert h.events()[-2:] == [reasons.task_set_steady("orders", blue.id), reasons.steady_state("orders")]

    green = api.create_task_set("staging", "orders", name, "staging-orders-2", 50, {})
    assert h.events()[-1] == reasons.task_set_created("orders", green.id, name, "staging-orders-2", 50)
    h.run_until(lambda: api.task_set_status(green.id).healthy == 1)
    assert set(h.balancer().groups["staging-orders-2"]) == {t.id for t in h.live() if t.deployment_id == green.id}

    api.update_service_primary_task_set(green.id)
    assert (h.deployment(green.id).status, h.deployment(blue.id).status) == (PRIMARY, ACTIVE)
    api.update_task_set(blue.id, scale=0)
    assert h.events()[-1] == reasons.task_set_scaled("orders", blue.id, 0)
    h.run_until(lambda: h.deployment(blue.id).status == INACTIVE)
    assert h.events()[-2:] == [reasons.task_set_inactive("orders", blue.id), reasons.steady_state("orders")]
    stopped = [t for t in h.tasks(live_only=False) if t.deployment_id == blue.id]
    assert {(t.last_status, t.stopped_reason) for t in stopped} == {
        (STOPPED, reasons.scaling_by_task_set(blue.id, 0))}
    assert [r.id for r in api.task_sets("staging", "orders")] == [green.id]


def test_a_task_set_waits_out_the_back_off_and_its_failures_count_for_codedeploy(tmp_path):
    h = Harness.make(tmp_path)
    h.runtime.crashing.add("app:1")
    name = _declare(h, desired=1)
    api = h.services.task_sets
    ts = api.create_task_set("staging", "orders", name, "staging-orders-1", 100, {}, primary=True)
    h.run_until(lambda: api.task_set_status(ts.id).failed_tasks >= 2)
    assert api.last_task_failure(ts.id) == reasons.essential_container_exited("api", 1)
    assert h.deployment(ts.id).rollout_state not in (COMPLETED, "FAILED")  # CodeDeploy judges, not the breaker
    assert h.services.state.holding_starts("staging", "orders", h.clock())
