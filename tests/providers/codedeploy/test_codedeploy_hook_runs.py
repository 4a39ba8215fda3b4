"""Hook runs on their own: attempts, the callBackDelay, callbacks, the timeout, a crashing
runner, a cancelled worker; over a real deployment store, a fake clock and an executor that runs
each attempt at once."""

from __future__ import annotations

import threading
from concurrent.futures import Future

import pytest
from codedeploy_fakes import FakeClock, FakeTaskSets, InlineExecutor

from conveyor.config.codedeploy_model import HookSpec
from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import NotFound, UserError
from conveyor.providers.local.codedeploy import reasons
from conveyor.providers.local.codedeploy.hook_runs import HookRuns
from conveyor.providers.local.codedeploy.hooks import HookResult
from conveyor.providers.local.codedeploy.journal import Journal
from conveyor.providers.local.codedeploy.steps import Fail, Wait
from conveyor.providers.local.codedeploy.store import DeploymentStore

EVENT = "AfterInstall"
SMOKE = HookSpec("smoke", command=("./smoke.sh",), timeout=600)
SPEC = ServiceSpec.from_config("production", "orders", {
    "loadBalancer": {"port": 8080, "testPort": 9080, "container": "api", "containerPort": 8081},
    "deployment": {"controller": "CODE_DEPLOY"}})


class Rig:
    def __init__(self, tmp_path, answers, executor=None):
        self.clock = FakeClock()
        self.store = DeploymentStore(tmp_path / "codedeploy.db", clock=self.clock)
        self.task_sets = FakeTaskSets()
        self.answers = list(answers)
        self.calls = []
        self.woken = 0
        self.runs = HookRuns(self.store, Journal(self.store, self.task_sets), lock=threading.RLock(), clock=self.clock,
                             wake=self._wake, invoke=self._invoke, executor=executor or InlineExecutor())
        self.d = self.store.create("production", "orders", taskdef="orders:2", appspec="", group={}, creator="user")

    def _wake(self):
        self.woken += 1

    def _invoke(self, hook, ctx, **kwargs):
        self.calls.append((ctx, kwargs))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def step(self, hook: HookSpec = SMOKE):
        return self.runs.step(self.d, hook, SPEC, EVENT, hook.name, self.store.lifecycle_event(self.d.id, EVENT))

    def event(self) -> dict:
        return self.store.lifecycle_event(self.d.id, EVENT)


def test_an_in_progress_answer_is_asked_again_after_its_callback_delay(tmp_path):
    rig = Rig(tmp_path, [HookResult("InProgress", "warming", callback_delay=30, details={"n": 1}),
                         HookResult("Succeeded", "ok")])
    assert rig.step() is None  # attempt 1 ran
    assert (rig.event()["status"], rig.event()["attempts"], rig.event()["next_attempt_at"]) == ("InProgress", 1, 1030)
    rig.clock.advance(10)
    assert rig.step() == Wait(reasons.waiting_hook_poll(EVENT, "smoke", 20))
    rig.clock.advance(20)
    assert rig.step() is None  # attempt 2 ran
    first, second = rig.calls
    assert (first[0].attempt, second[0].attempt, second[0].details) == (1, 2, {"n": 1})
    assert second[1]["timeout"] == 600 - 30  # what is left of the hook's timeout
    assert (rig.event()["status"], rig.event()["message"]) == ("Succeeded", "ok")
    assert [h["message"] for h in rig.store.history(rig.d.id)] == [
        reasons.invoking(EVENT, "smoke", "command"), reasons.hook_answered(EVENT, "smoke", "InProgress", "warming"),
        reasons.hook_answered(EVENT, "smoke", "Succeeded", "ok")]


def test_a_pending_answer_waits_for_the_callback(tmp_path):
    rig = Rig(tmp_path, [HookResult("Pending", "accepted")])
    rig.step()
    assert rig.step() == Wait(reasons.waiting_hook_callback(EVENT, "smoke"))
    execution = rig.event()["execution_id"]
    with pytest.raises(NotFound) as unknown:
        rig.runs.put_status(rig.d.id, "nope", "Succeeded")
    assert str(unknown.value) == reasons.no_hook_execution("nope", rig.d.id)
    rig.runs.put_status(rig.d.id, execution, "Failed")
    assert (rig.event()["status"], rig.event()["message"]) == ("Failed", reasons.reported("Failed"))
    with pytest.raises(UserError):
        rig.runs.put_status(rig.d.id, execution, "Succeeded")


def test_a_hook_that_does_not_report_within_its_timeout_fails(tmp_path):
    rig = Rig(tmp_path, [HookResult("Pending", "accepted")])
    rig.step()
    rig.clock.advance(601)
    assert rig.step() == Fail("HOOK_EXECUTION_FAILURE", reasons.hook_timeout(EVENT, "smoke", 600))


def test_a_crashing_runner_is_a_failed_hook(tmp_path):
    rig = Rig(tmp_path, [RuntimeError("boom")])
    rig.step()
    assert (rig.event()["status"], rig.event()["message"]) == ("Failed", reasons.hook_internal_error("boom"))


class HeldExecutor(InlineExecutor):
    """Keeps what is submitted until `release()`: a worker still running."""

    def __init__(self):
        self.held = []

    def submit(self, fn, /, *args, **kwargs):
        self.held.append((fn, args, kwargs))
        return Future()

    def release(self):
        for fn, args, kwargs in self.held:
            fn(*args, **kwargs)


def test_a_running_attempt_is_waited_for_and_a_stopped_one_records_nothing(tmp_path):
    executor = HeldExecutor()
    rig = Rig(tmp_path, [HookResult("Succeeded", "late")], executor=executor)
    rig.step()
    assert rig.step() == Wait(reasons.waiting_hook_running(EVENT, "smoke", 1))
    rig.runs.stop(rig.d.id)  # the deployment ended: the worker's answer comes too late
    executor.release()
    assert rig.event()["status"] == "InProgress" and len(rig.calls) == 1
    assert rig.calls[0][1]["cancel"].is_set()
