"""The lifecycle's pure rules: what each phase decides from what the lifecycle observed."""

from __future__ import annotations

import pytest

from conveyor.backend.types import TaskSet
from conveyor.config.codedeploy_group import deployment_group
from conveyor.config.codedeploy_model import DeploymentGroup
from conveyor.deploy.traffic import traffic_plan
from conveyor.providers.local.codedeploy import reasons
from conveyor.providers.local.codedeploy.steps import (
    INSTALL_TIMEOUT,
    RUN,
    Fail,
    Move,
    Shift,
    Skip,
    Wait,
    hook_event_step,
    install_step,
    ready_wait_step,
    termination_wait_step,
    traffic_step,
)

CANARY = traffic_plan(deployment_group({"config": "CodeDeployDefault.ECSCanary10Percent5Minutes"}).config)
LINEAR = traffic_plan(deployment_group({"config": {"type": "TimeBasedLinear", "linearPercentage": 50,
                                                   "linearInterval": "1m"}}).config)


def status(healthy: int, desired: int = 2, failed: int = 0) -> TaskSet:
    return TaskSet("ecs-svc/2", "ACTIVE", "orders:2", "orders-2", 100, desired=desired, pending=desired - healthy,
                   running=healthy, healthy=healthy, failed_tasks=failed)


def never() -> str:
    raise AssertionError("not asked")


@pytest.mark.parametrize("task_set,waited,expected", [
    (status(0), 10, Wait(reasons.waiting_replacement(0, 2, "orders-2"))),
    (status(1), 10, Wait(reasons.waiting_replacement(1, 2, "orders-2"))),
    (status(2), 10, Move(note=reasons.replacement_healthy("ecs-svc/2", "orders:2", "orders-2", 2))),
    (status(0), INSTALL_TIMEOUT + 1, Fail("TIMEOUT", reasons.install_timeout(INSTALL_TIMEOUT, 0, 2))),
    (status(0, failed=3), 10, Fail("ECS_UPDATE_ERROR", reasons.tasks_failed(3, "OOM"))),
    (status(0, desired=5, failed=4), 10, Wait(reasons.waiting_replacement(0, 5, "orders-2"))),  # limit: desired
])
def test_install_waits_for_a_steady_replacement_and_fails_on_failures_or_time(task_set, waited, expected):
    assert install_step(task_set, target_group="orders-2", waited=waited, last_failure=lambda: "OOM") == expected


STOP = DeploymentGroup(ready_action="STOP_DEPLOYMENT", ready_wait=120.0)


@pytest.mark.parametrize("group,continued,waited,expected", [
    (DeploymentGroup(), False, 0, Move()),
    (STOP, True, 5, Move()),
    (STOP, False, 5, Wait(reasons.waiting_ready(115))),
    (STOP, False, 120, Fail("TIMEOUT", reasons.ready_wait_timeout(120), status="Stopped", rollback=True)),
])
def test_the_ready_wait_continues_waits_or_times_out(group, continued, waited, expected):
    assert ready_wait_step(group, continued=continued, waited=waited) == expected


def test_a_canary_shifts_once_waits_its_interval_and_then_moves_the_rest():
    first = traffic_step(CANARY, step=-1, traffic=0, waited=0, promote=False, gate=never, gate_first=False)
    assert first == Shift(0, 10.0)
    assert traffic_step(CANARY, step=0, traffic=10, waited=120, promote=False, gate=never, gate_first=False) == Wait(
        reasons.waiting_next_step(10, 180))
    assert traffic_step(CANARY, step=0, traffic=10, waited=300, promote=False, gate=lambda: None,
                        gate_first=False) == Shift(1, 100.0)
    assert traffic_step(CANARY, step=1, traffic=100, waited=0, promote=False, gate=never, gate_first=False) == Move()


def test_a_linear_plan_steps_through_each_percentage():
    steps = [traffic_step(LINEAR, step=s, traffic=0, waited=60, promote=False, gate=lambda: None, gate_first=False)
             for s in range(-1, len(LINEAR))]
    assert steps == [Shift(0, 50.0), Shift(1, 100.0), Move()]


def test_the_traffic_gate_holds_a_step_and_promote_skips_the_rest():
    held = traffic_step(CANARY, step=0, traffic=10, waited=300, promote=False, gate=lambda: "no traffic yet",
                        gate_first=False)
    assert held == Wait("no traffic yet")
    assert traffic_step(CANARY, step=-1, traffic=0, waited=0, promote=False, gate=lambda: "no traffic yet",
                        gate_first=True) == Wait(reasons.waiting_before_production("no traffic yet"))
    assert traffic_step(CANARY, step=-1, traffic=0, waited=0, promote=True, gate=never, gate_first=True) == Shift(
        1, 100.0)
    assert traffic_step(CANARY, step=0, traffic=10, waited=1, promote=True, gate=never, gate_first=False) == Shift(
        1, 100.0)


TERMINATE = DeploymentGroup(termination_wait=60.0)


@pytest.mark.parametrize("group,has_original,waited,requested,gate,expected", [
    (TERMINATE, False, 0, False, never, Move()),
    (DeploymentGroup(termination_action="KEEP_ALIVE"), True, 0, False, never, Move()),
    (TERMINATE, True, 20, False, never, Wait(reasons.waiting_termination("orders-1", 40))),
    (TERMINATE, True, 20, True, never, Move()),
    (TERMINATE, True, 60, False, lambda: "green unjudged", Wait("green unjudged")),
    (TERMINATE, True, 60, False, lambda: None, Move()),
])
def test_the_termination_wait_keeps_blue_warm_until_its_time_or_a_continue(group, has_original, waited, requested,
                                                                           gate, expected):
    assert termination_wait_step(group, has_original=has_original, waited=waited, requested=requested,
                                 original_tg="orders-1", gate=gate) == expected


@pytest.mark.parametrize("event,function,status,expected", [
    ("AfterInstall", None, None, Skip(reasons.WHY_NO_HOOK)),
    ("AfterInstall", "smoke", None, RUN),
    ("AfterInstall", "smoke", "InProgress", RUN),
    ("AfterInstall", "smoke", "Succeeded", Move()),
    ("AfterInstall", "smoke", "Failed", Fail("HOOK_EXECUTION_FAILURE", reasons.hook_failed("AfterInstall", "smoke",
                                                                                         "exit 3"), rollback=True)),
    ("BeforeInstall", "smoke", "Failed", Fail("HOOK_EXECUTION_FAILURE", reasons.hook_failed("BeforeInstall", "smoke",
                                                                                          "exit 3"), rollback=False)),
])
def test_a_hook_event_is_skipped_run_passed_or_failed(event, function, status, expected):
    assert hook_event_step(event, function, status, "exit 3") == expected
