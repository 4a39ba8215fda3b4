"""Traffic routing over a fake load balancer, and which target group the replacement gets."""

from __future__ import annotations

from codedeploy_fakes import FakeLoadBalancer, FakeTaskSets

from conveyor.errors import ConveyorError
from conveyor.providers.local.codedeploy.routing import TrafficRouter
from conveyor.providers.local.codedeploy.task_set_pair import kept_alive, plan_replacement, primary_target_group
from conveyor.providers.local.ecs.task_set_api import TaskSetRecord


class Ticks:
    """A monotonic clock that moves 0.002 s each time it is read."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.002
        return self.now


def test_a_reroute_puts_every_listener_back_on_blue_and_says_how_long_it_took():
    task_sets = FakeTaskSets()
    lb = FakeLoadBalancer(task_sets)
    router = TrafficRouter(lambda environment: lb, monotonic=Ticks())
    router.point("production", 8080, blue="orders-1", green="orders-2", percent=25)
    assert lb.weights[8080] == {"orders-1": 750, "orders-2": 250}
    took = router.reroute("production", (8080, 9080, None), to="orders-1", away_from="orders-2")
    assert lb.weights == {8080: {"orders-1": 1, "orders-2": 0}, 9080: {"orders-1": 1, "orders-2": 0}}
    assert round(took, 3) == 0.002


def test_a_target_group_is_healthy_with_a_healthy_target_and_never_when_the_balancer_fails():
    task_sets = FakeTaskSets()
    task_sets.running("production", "orders", "orders:1", "orders-1")
    lb = FakeLoadBalancer(task_sets)
    router = TrafficRouter(lambda environment: lb)
    assert router.healthy("production", "orders-1") and not router.healthy("production", "orders-2")
    assert not router.healthy("production", None)

    def broken(environment):
        raise ConveyorError("HAProxy is not running")

    assert not TrafficRouter(broken).healthy("production", "orders-1")


def record(ident: str, status: str, target_group: str | None, scale: int | None = 100) -> TaskSetRecord:
    return TaskSetRecord(ident, "production", "orders", status, f"orders:{ident[-1]}", target_group, scale)


def test_the_replacement_takes_the_group_the_primary_does_not_use():
    plan = plan_replacement([record("ts-2", "PRIMARY", "orders-2")], ["orders-1", "orders-2"])
    assert (plan.original_tg, plan.replacement_tg, plan.retire, plan.adopt_original) == (
        "orders-2", "orders-1", (), False)


def test_a_first_deployment_has_no_original_and_takes_the_first_group():
    plan = plan_replacement([], ["orders-1", "orders-2"])
    assert (plan.original, plan.original_tg, plan.replacement_tg) == (None, None, "orders-1")


def test_what_runs_in_the_replacements_group_is_retired_and_a_rolling_primary_adopted():
    rolling = record("ts-1", "PRIMARY", "orders", scale=None)
    leftover = record("ts-3", "ACTIVE", "orders-2")
    plan = plan_replacement([rolling, leftover], ["orders-1", "orders-2"])
    assert (plan.original_tg, plan.replacement_tg, plan.retire, plan.adopt_original) == (
        "orders-1", "orders-2", (leftover,), True)


def test_a_task_set_kept_alive_is_found_next_to_the_primary():
    primary, kept = record("ts-2", "PRIMARY", "orders-2"), record("ts-1", "ACTIVE", "orders-1")
    assert kept_alive([primary, kept]) == (primary, kept)
    assert kept_alive([primary, record("ts-1", "ACTIVE", "orders-1", scale=0)]) == (primary, None)
    assert primary_target_group([kept, primary]) == "orders-2"
