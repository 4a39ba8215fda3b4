"""When ECS replaces a task for its load balancer health (elb_failed), on a fake clock: the
initial-check window runs from the target's registration, not the task's start, and a target
whose checks pass is rising, never failed — however long reloads keep restarting its count."""

from __future__ import annotations

from conveyor.deploy.spec import ServiceSpec
from conveyor.lb.model import TargetHealth
from conveyor.providers.local.ecs.store import RUNNING, Task
from conveyor.providers.local.ecs.task_health import elb_failed

SPEC = ServiceSpec.from_config("staging", "orders", {"loadBalancer": {
    "port": 8081, "container": "api", "containerPort": 8080,
    "healthCheck": {"intervalSeconds": 1, "timeoutSeconds": 0.5, "unhealthyThresholdCount": 2}}})
#: interval × (unhealthy threshold + 1) + timeout + 1 s
WINDOW = 1 * 3 + 0.5 + 1.0
TASK = Task(id="t1", environment="staging", service="orders", deployment_id="d1", taskdef="orders:1",
            last_status=RUNNING, running_at=100.0)


def target(state: str, *, registered_at: float | None, passing: bool = False,
           reason: str | None = "Elb.InitialHealthChecking") -> TargetHealth:
    return TargetHealth("t1", "127.0.0.1:40000", state, reason, None, 100, 0, registered_at=registered_at,
                        passing=passing)


def test_the_initial_window_runs_from_registration():
    late = target("initial", registered_at=103.0)  # registered a pass (3 s) after RUNNING
    assert not elb_failed(TASK, late, SPEC, now=100.0 + WINDOW + 1)
    assert elb_failed(TASK, late, SPEC, now=103.0 + WINDOW + 0.1)


def test_a_target_whose_checks_pass_is_rising_not_failed():
    rising = target("initial", registered_at=100.0, passing=True)
    assert not elb_failed(TASK, rising, SPEC, now=100.0 + 10 * WINDOW)


def test_an_unhealthy_target_fails_at_once():
    failing = target("unhealthy", registered_at=100.0, reason="Target.ResponseCodeMismatch")
    assert elb_failed(TASK, failing, SPEC, now=100.5)


def test_without_a_registration_time_the_task_start_counts():
    unknown = target("initial", registered_at=None)
    assert not elb_failed(TASK, unknown, SPEC, now=100.0 + WINDOW - 0.1)
    assert elb_failed(TASK, unknown, SPEC, now=100.0 + WINDOW + 0.1)
