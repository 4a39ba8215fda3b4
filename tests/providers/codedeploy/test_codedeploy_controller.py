"""The deploy controller with its collaborators, over a fake task-set API, a fake load balancer
and a fake clock: each scenario drives deployments pass by pass (`run_pass`, as the loop does)
and moves the clock by hand, so the timing rules are checked without waiting.

given a service on orders:1 → deploy orders:2 (canary, alarm, ready wait, hooks, …) → expect
what the scenario says."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from codedeploy_fakes import FakeClock, FakeLoadBalancer, FakeTaskSets, InlineExecutor

from conveyor.backend.errors import DeploymentLimitExceeded, DeploymentNotReady
from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import UserError
from conveyor.metrics.store import Datapoint
from conveyor.providers.local.codedeploy import reasons
from conveyor.providers.local.codedeploy.controller import DeployController
from conveyor.providers.local.codedeploy.hooks import HookResult
from conveyor.providers.local.codedeploy.revision import default_appspec
from conveyor.providers.local.codedeploy.steps import PHASES

BLUE, GREEN = "production-orders-1", "production-orders-2"
PROD, TEST = 8080, 9080
CANARY = "CodeDeployDefault.ECSCanary10Percent5Minutes"
GREEN_5XX = {"name": "green-5xx", "metric": "HTTPCode_Target_5XX_Count", "scope": "green", "statistic": "Sum",
             "period": "1s", "evaluationPeriods": 1, "threshold": 1,
             "comparisonOperator": "GreaterThanOrEqualToThreshold", "treatMissingData": "notBreaching"}


def service(**deployment) -> ServiceSpec:
    return ServiceSpec.from_config("production", "orders", {
        "desiredCount": 2,
        "loadBalancer": {"port": PROD, "testPort": TEST, "container": "api", "containerPort": 8081},
        "deployment": {"controller": "CODE_DEPLOY", "terminationWaitMinutes": 0, **deployment}})


@dataclass
class Rig:
    controller: DeployController
    clock: FakeClock
    task_sets: FakeTaskSets
    lb: FakeLoadBalancer
    answers: list[HookResult] = field(default_factory=list)
    calls: list = field(default_factory=list)

    def deploy(self, spec: ServiceSpec, revision: str = "orders:2", appspec: str | None = None, **kwargs):
        return self.controller.create(spec, task_definition=revision, appspec_text=appspec, **kwargs)

    def get(self, dep_id: str):
        return self.controller.store.get(dep_id)

    def run(self, dep_id: str, until, *, step: float = 1.0, passes: int = 100) -> list[str]:
        """Passes (the clock `step` s apart) until `until(deployment)`; returns the phases seen."""
        seen = [self.get(dep_id).phase]
        for _ in range(passes):
            self.controller.run_pass()
            d = self.get(dep_id)
            if d.phase != seen[-1]:
                seen.append(d.phase)
            if until(d):
                return seen
            self.clock.advance(step)
        raise AssertionError(f"{dep_id} never got there: {self.get(dep_id)}")


@pytest.fixture
def rig(tmp_path):
    clock = FakeClock()
    task_sets = FakeTaskSets()
    lb = FakeLoadBalancer(task_sets)
    answers: list[HookResult] = []
    calls: list = []

    def invoke(hook, ctx, **_):
        calls.append(ctx)
        return answers.pop(0)

    controller = DeployController(tmp_path, task_sets, load_balancer=lambda environment: lb,
                                  load_balancers=lambda: {"production": lb}, clock=clock, sample=False,
                                  invoke=invoke, hook_executor=InlineExecutor())
    yield Rig(controller, clock, task_sets, lb, answers, calls)
    controller.shutdown()


def on_v1(rig: Rig, spec: ServiceSpec):
    rig.task_sets.declare_service(spec, task_definition="orders:1")
    return rig.task_sets.running("production", "orders", "orders:1", BLUE)


def history(rig: Rig, dep_id: str) -> list[str]:
    return [h["message"] for h in rig.controller.store.history(dep_id)]


def events(rig: Rig, dep_id: str) -> dict[str, str]:
    return {e["name"]: e["status"] for e in rig.controller.store.events(dep_id)}


def test_a_canary_walks_every_phase_holds_10_percent_for_its_interval_and_ends_on_green(rig):
    spec = service(config=CANARY)
    blue = on_v1(rig, spec)
    d = rig.deploy(spec)
    seen = rig.run(d.id, lambda d: d.phase == "AllowTraffic" and d.traffic == 10)
    assert seen == list(PHASES[:PHASES.index("AllowTraffic") + 1])
    assert rig.lb.share(TEST, GREEN) == 1.0 and rig.lb.share(PROD, GREEN) == pytest.approx(0.1)
    rig.clock.advance(299)
    rig.controller.run_pass()
    assert rig.get(d.id).traffic == 10
    assert rig.get(d.id).waiting == reasons.waiting_next_step(10, 1)
    seen = rig.run(d.id, lambda d: d.status == "Succeeded")
    assert seen == ["AllowTraffic", "AfterAllowTraffic", "TerminationWait", "Terminate", "End"]
    done = rig.get(d.id)
    assert done.timings["allProductionTraffic"] - done.timings["firstProductionTraffic"] == 300
    assert rig.lb.share(PROD, GREEN) == 1.0
    assert [w for port, w in rig.lb.calls if port == PROD] == [
        {BLUE: 1, GREEN: 0}, {BLUE: 900, GREEN: 100}, {BLUE: 0, GREEN: 1}]
    assert rig.task_sets.task_set(blue.id).status == "INACTIVE"
    assert rig.task_sets.task_set(done.replacement_task_set).status == "PRIMARY"
    assert events(rig, d.id) == {"BeforeInstall": "Skipped", "Install": "Succeeded", "AfterInstall": "Skipped",
                                 "AllowTestTraffic": "Succeeded", "AfterAllowTestTraffic": "Skipped",
                                 "BeforeAllowTraffic": "Skipped", "AllowTraffic": "Succeeded",
                                 "AfterAllowTraffic": "Skipped"}
    moves = [(t["from_status"], t["to_status"]) for t in rig.controller.store.transitions(d.id, kind="deployment")]
    assert moves == [(None, "Created"), ("Created", "InProgress"), ("InProgress", "Succeeded")]
    lines = history(rig, d.id)
    assert reasons.shifted(10, GREEN, BLUE) in lines and reasons.shifted(100, GREEN, BLUE) in lines
    assert lines[-1] == reasons.succeeded(d.id, "orders:2", GREEN, done.timings["total"])
    assert reasons.service_event("orders", d.id, lines[-1]) in rig.task_sets.events


def test_an_alarm_in_alarm_stops_the_canary_and_reroutes_both_listeners_to_blue(rig):
    spec = service(config=CANARY, alarms=[GREEN_5XX], requireTraffic=False)
    blue = on_v1(rig, spec)
    d = rig.deploy(spec)
    rig.run(d.id, lambda d: d.traffic == 10)
    rig.controller.alarms.metrics.put([Datapoint(int(rig.clock.now), f"tg:{GREEN}", "HTTPCode_Target_5XX_Count", 5)])
    rig.clock.advance(1)
    rig.controller.run_pass()
    stopped = rig.get(d.id)
    assert (stopped.status, stopped.error_code, stopped.phase) == ("Stopped", "ALARM_ACTIVE", "AllowTraffic")
    assert stopped.error_message.startswith(reasons.alarm_in_alarm("green-5xx", ""))
    assert rig.lb.share(PROD, BLUE) == 1.0 and rig.lb.share(TEST, BLUE) == 1.0
    rollback_id = stopped.rollback_info["rollbackDeploymentId"]
    assert stopped.rollback_info["rollbackMessage"] == reasons.rollback_message(stopped.error_message)
    assert history(rig, d.id)[-2:] == [
        reasons.ended(d.id, "Stopped", "ALARM_ACTIVE", stopped.error_message),
        reasons.rerouted(rollback_id, BLUE, stopped.rollback_info["trafficRestoredSeconds"])]
    rig.run(rollback_id, lambda rb: rb.status == "Succeeded")
    rb = rig.get(rollback_id)
    assert (rb.creator, rb.phase) == ("codeDeployRollback", "End")
    assert rig.task_sets.task_set(stopped.replacement_task_set).status == "INACTIVE"
    assert rig.task_sets.task_set(blue.id).status == "PRIMARY"


def test_the_ready_wait_stops_the_deployment_when_nobody_continues_it_in_time(rig):
    spec = service(deploymentReadyOption="STOP_DEPLOYMENT", waitTimeMinutes="30s")
    on_v1(rig, spec)
    d = rig.deploy(spec)
    rig.run(d.id, lambda d: d.status == "Ready")  # a second after the ready wait began
    assert rig.get(d.id).waiting == reasons.waiting_ready(29)
    rig.clock.advance(28)
    rig.controller.run_pass()
    assert (rig.get(d.id).status, rig.get(d.id).waiting) == ("Ready", reasons.waiting_ready(1))
    rig.clock.advance(1)
    rig.controller.run_pass()
    stopped = rig.get(d.id)
    assert (stopped.status, stopped.error_code, stopped.error_message) == (
        "Stopped", "TIMEOUT", reasons.ready_wait_timeout(30))
    assert rig.lb.share(TEST, BLUE) == 1.0 and rig.lb.share(PROD, BLUE) == 1.0  # production never moved
    moves = [t["to_status"] for t in rig.controller.store.transitions(d.id, kind="deployment")]
    assert moves == ["Created", "InProgress", "Ready", "Stopped"]


def test_continue_ends_the_ready_wait_and_a_wrong_wait_type_is_refused(rig):
    spec = service(deploymentReadyOption="STOP_DEPLOYMENT", waitTimeMinutes=60)
    on_v1(rig, spec)
    d = rig.deploy(spec)
    rig.run(d.id, lambda d: d.status == "Ready")
    with pytest.raises(DeploymentNotReady) as refused:
        rig.controller.continue_deployment("production", "orders", who="ana", wait_type="TERMINATION_WAIT")
    assert str(refused.value) == reasons.not_waiting(d.id, "ReadyWait", "TERMINATION_WAIT")
    continued = rig.controller.continue_deployment("production", "orders", who="ana", reason="looks good")
    assert (continued.status, continued.phase) == ("InProgress", "BeforeAllowTraffic")
    assert reasons.action_line("continue (READY_WAIT)", "ana", "looks good") in history(rig, d.id)


def smoke_appspec(spec: ServiceSpec) -> str:
    return default_appspec(spec) + "Hooks:\n  - AfterAllowTestTraffic: smoke\n"


def test_a_hook_in_progress_is_invoked_again_after_its_callback_delay_with_its_details(rig):
    spec = service(hooks={"smoke": {"command": ["./smoke.sh"]}})
    on_v1(rig, spec)
    rig.answers[:] = [HookResult("InProgress", "warming up", callback_delay=30, details={"checked": 1}),
                      HookResult("Succeeded", "all good")]
    d = rig.deploy(spec, appspec=smoke_appspec(spec))
    rig.run(d.id, lambda d: d.phase == "AfterAllowTestTraffic" and rig.calls)
    invoked_at = rig.clock.now
    rig.clock.advance(1)
    rig.controller.run_pass()
    assert rig.get(d.id).waiting == reasons.waiting_hook_poll("AfterAllowTestTraffic", "smoke", 29)
    rig.clock.advance(28)
    rig.controller.run_pass()
    assert len(rig.calls) == 1
    rig.run(d.id, lambda d: d.phase == "ReadyWait")
    first, second = rig.calls
    assert (second.attempt, second.details, second.execution_id) == (2, {"checked": 1}, first.execution_id)
    assert rig.clock.now - invoked_at >= 30
    hook = rig.controller.store.lifecycle_event(d.id, "AfterAllowTestTraffic")
    assert (hook["status"], hook["attempts"], hook["message"]) == ("Succeeded", 2, "all good")
    assert first.test_url == f"http://127.0.0.1:{TEST}/"
    lines = history(rig, d.id)
    assert reasons.invoking("AfterAllowTestTraffic", "smoke", "command") in lines
    assert reasons.hook_answered("AfterAllowTestTraffic", "smoke", "InProgress", "warming up") in lines


def test_a_pending_hook_waits_for_its_callback_and_a_second_report_is_refused(rig):
    spec = service(hooks={"smoke": {"url": "http://127.0.0.1:1/hook"}})
    on_v1(rig, spec)
    rig.answers[:] = [HookResult("Pending", "accepted")]
    d = rig.deploy(spec, appspec=smoke_appspec(spec))
    rig.run(d.id, lambda d: d.waiting == reasons.waiting_hook_callback("AfterAllowTestTraffic", "smoke"))
    execution = rig.calls[0].execution_id
    with pytest.raises(UserError, match="is not Succeeded or Failed"):
        rig.controller.put_hook_status(d.id, execution, "InProgress")
    assert rig.controller.put_hook_status(d.id, execution, "Succeeded") == {"lifecycleEventHookExecutionId": execution}
    with pytest.raises(UserError) as refused:
        rig.controller.put_hook_status(d.id, execution, "Failed")
    assert str(refused.value) == reasons.event_already_completed("AfterAllowTestTraffic", "Succeeded")
    rig.run(d.id, lambda d: d.status == "Succeeded")


def test_a_hook_that_does_not_report_in_time_fails_the_deployment_and_traffic_goes_back(rig):
    spec = service(hooks={"smoke": {"url": "http://127.0.0.1:1/hook", "timeoutSeconds": 60}})
    on_v1(rig, spec)
    rig.answers[:] = [HookResult("Pending", "accepted")]
    d = rig.deploy(spec, appspec=smoke_appspec(spec))
    rig.run(d.id, lambda d: d.done, step=10)
    failed = rig.get(d.id)
    assert (failed.status, failed.error_code, failed.error_message) == (
        "Failed", "HOOK_EXECUTION_FAILURE", reasons.hook_timeout("AfterAllowTestTraffic", "smoke", 60))
    assert events(rig, d.id)["AfterAllowTestTraffic"] == "Failed"
    assert rig.lb.share(TEST, BLUE) == 1.0


def test_a_failed_hook_fails_the_deployment_with_its_message(rig):
    spec = service(hooks={"smoke": {"command": ["./smoke.sh"]}})
    on_v1(rig, spec)
    rig.answers[:] = [HookResult("Failed", "exited with code 3")]
    d = rig.deploy(spec, appspec=smoke_appspec(spec))
    rig.run(d.id, lambda d: d.done)
    assert rig.get(d.id).error_message == reasons.hook_failed("AfterAllowTestTraffic", "smoke", "exited with code 3")


def test_install_waits_for_healthy_tasks_and_fails_on_failing_ones(rig):
    rig.task_sets.healthy_on_create = False
    spec = service()
    on_v1(rig, spec)
    d = rig.deploy(spec)
    rig.run(d.id, lambda d: d.waiting == reasons.waiting_replacement(0, 2, GREEN))
    rig.task_sets.last_failure = "exit code 1"
    rig.task_sets.fail_tasks(rig.get(d.id).replacement_task_set, 3)
    rig.run(d.id, lambda d: d.done)
    assert (rig.get(d.id).error_code, rig.get(d.id).error_message) == (
        "ECS_UPDATE_ERROR", reasons.tasks_failed(3, "exit code 1"))


def test_install_times_out_when_the_replacement_never_gets_healthy(rig):
    rig.task_sets.healthy_on_create = False
    spec = service()
    on_v1(rig, spec)
    d = rig.deploy(spec)
    rig.run(d.id, lambda d: d.done, step=60)
    assert (rig.get(d.id).error_code, rig.get(d.id).error_message) == (
        "TIMEOUT", reasons.install_timeout(600, 0, 2))


def test_stop_without_rollback_leaves_the_traffic_where_it_is(rig):
    spec = service(config=CANARY)
    on_v1(rig, spec)
    d = rig.deploy(spec)
    rig.run(d.id, lambda d: d.traffic == 10)
    stopped = rig.controller.stop("production", "orders", who="ana", reason="wrong build", rollback=False)
    assert (stopped.status, stopped.error_code, stopped.error_message) == (
        "Stopped", "MANUAL_STOP", reasons.stopped_by("ana", "wrong build"))
    assert rig.lb.share(PROD, GREEN) == pytest.approx(0.1) and not stopped.rollback_info
    lines = history(rig, d.id)
    assert reasons.action_line("stop without rollback", "ana", "wrong build") in lines
    assert lines[-1] == reasons.NO_ROLLBACK


def test_a_second_deployment_is_refused_unless_it_has_the_first_ones_client_token(rig):
    spec = service()
    on_v1(rig, spec)
    d = rig.deploy(spec, client_token="t-1")
    assert rig.deploy(spec, client_token="t-1").id == d.id
    with pytest.raises(DeploymentLimitExceeded) as refused:
        rig.deploy(spec, "orders:3")
    assert str(refused.value) == reasons.deployment_limit_exceeded(d.id, "production", "orders", "Start")
    assert refused.value.hint == reasons.HINT_DEPLOYMENT_LIMIT


def test_rollback_after_blue_is_gone_redeploys_the_previous_revision(rig):
    spec = service()
    on_v1(rig, spec)
    for revision in ("orders:2", "orders:3"):
        d = rig.deploy(spec, revision)
        rig.run(d.id, lambda d: d.status == "Succeeded")
    redeploy = rig.controller.rollback("production", "orders", who="ana", reason="bad")
    assert (redeploy.taskdef, redeploy.creator, redeploy.origin) == (
        "orders:2", "codeDeployRollback", {"rollbackOf": d.id, "by": "ana"})
    assert reasons.action_line(reasons.action_redeploy("orders:2"), "ana", "bad") in history(rig, redeploy.id)
    rig.run(redeploy.id, lambda d: d.status == "Succeeded")


def test_rollback_to_a_task_set_kept_alive_reroutes_at_once(rig):
    spec = service(terminateBlue="KEEP_ALIVE")
    blue = on_v1(rig, spec)
    d = rig.deploy(spec)
    rig.run(d.id, lambda d: d.status == "Succeeded")
    assert rig.task_sets.task_set(blue.id).status == "ACTIVE" and rig.lb.share(PROD, GREEN) == 1.0
    rb = rig.controller.rollback("production", "orders", who="ana", reason="p99")
    assert rig.lb.share(PROD, BLUE) == 1.0 and rig.lb.share(TEST, BLUE) == 1.0
    assert rig.task_sets.task_set(blue.id).status == "PRIMARY"
    assert (rb.phase, rb.rollback_info["rollbackMessage"]) == ("RollbackCleanup", reasons.back_to_kept(blue.id))
    rig.run(rb.id, lambda rb: rb.status == "Succeeded")
    assert rig.task_sets.task_set(rig.get(d.id).replacement_task_set).status == "INACTIVE"


def test_rollback_before_a_replacement_exists_is_refused(rig):
    spec = service()
    on_v1(rig, spec)
    d = rig.deploy(spec)
    with pytest.raises(UserError) as refused:
        rig.controller.rollback("production", "orders", who="ana")
    assert str(refused.value) == reasons.nothing_to_roll_back(d.id, "Start")


def test_a_deployment_whose_service_is_gone_fails_with_an_internal_error(rig):
    spec = service()
    on_v1(rig, spec)
    d = rig.deploy(spec)
    rig.controller.run_pass()
    del rig.task_sets.specs[("production", "orders")]
    rig.controller.run_pass()
    failed = rig.get(d.id)
    assert (failed.status, failed.error_code, failed.error_message) == (
        "Failed", "INTERNAL_ERROR", reasons.service_gone("production", "orders"))


def test_a_restarted_controller_resumes_the_deployment_where_it_was(rig, tmp_path):
    spec = service(config=CANARY)
    on_v1(rig, spec)
    d = rig.deploy(spec)
    rig.run(d.id, lambda d: d.traffic == 10)
    rig.controller.shutdown()
    rig.controller = DeployController(tmp_path, rig.task_sets, load_balancer=lambda environment: rig.lb,
                                      load_balancers=lambda: {"production": rig.lb}, clock=rig.clock, sample=False)
    rig.clock.advance(300)
    rig.run(d.id, lambda d: d.status == "Succeeded")
    assert rig.lb.share(PROD, GREEN) == 1.0
