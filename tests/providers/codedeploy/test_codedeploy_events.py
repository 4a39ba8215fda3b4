"""The stream events of the local CodeDeploy: the pure mapping from a status move (or a recorded
fact) to events, the store writing them in the transaction of the change (none when it rolls
back), and the sequences whole deployments leave in codedeploy.db's outbox, over the fakes of
test_codedeploy_controller."""

from __future__ import annotations

import dataclasses
import sqlite3

import pytest
from test_codedeploy_controller import BLUE, CANARY, GREEN, GREEN_5XX, Rig, on_v1, rig, service  # noqa: F401

from conveyor.events.outbox import read_outbox
from conveyor.events.types import Event
from conveyor.metrics.store import Datapoint
from conveyor.providers.local.codedeploy import reasons
from conveyor.providers.local.codedeploy.events import Cause, subject, transition_events
from conveyor.providers.local.codedeploy.rows import CodeDeployment
from conveyor.providers.local.codedeploy.states import InvalidTransition
from conveyor.providers.local.codedeploy.store import DeploymentStore

ROW = CodeDeployment(id="d-ABC", seq=1, environment="production", service="orders", taskdef="orders:7", appspec="",
                     grp={"deployment": {"config": CANARY}}, status="InProgress", phase="AllowTraffic",
                     creator="CodePipeline", origin={"pipeline": "orders", "execution": "ex-1", "stage": "Deploy",
                                                     "action": "Deploy"},
                     original_tg=BLUE, replacement_tg=GREEN)


def types(events: list[Event]) -> list[str]:
    return [e.type for e in events]


def outbox(r: Rig) -> list[Event]:
    return [e for _, e in read_outbox(r.controller.store._db, 0)]


# -- the mapping ----------------------------------------------------------------------------------
def test_a_pipelines_deployment_names_the_pipeline_and_execution():
    assert subject(ROW).as_dict() == {"pipeline": "orders", "execution_id": "ex-1", "stage": "Deploy",
                                      "action": "Deploy", "environment": "production", "service": "orders",
                                      "deployment_id": "d-ABC"}
    assert subject(dataclasses.replace(ROW, origin={"by": "ana"})).pipeline is None


def test_starting_makes_deployment_started_and_continuing_a_ready_wait_makes_nothing():
    created = dataclasses.replace(ROW, status="Created", phase="Start")
    (started,) = transition_events(created, "InProgress", {}, Cause(), now=5.0)
    assert (started.type, started.at, started.summary) == (
        "deployment-started", 5.0, reasons.event_started(reasons.event_deployment("production", "orders", "d-ABC"),
                                                         "orders:7", CANARY))
    assert started.detail == {"kind": "blue/green", "taskdef": "orders:7", "creator": "CodePipeline",
                              "config": CANARY}
    assert transition_events(dataclasses.replace(ROW, status="Ready"), "InProgress", {}, Cause(), now=5.0) == []
    cleanup = dataclasses.replace(ROW, status=None, creator="codeDeployRollback")  # type: ignore[arg-type]
    assert transition_events(cleanup, "InProgress", {}, Cause(), now=5.0) == []


def test_ready_waits_for_a_person_and_says_what_to_run():
    (waiting,) = transition_events(ROW, "Ready", {}, Cause(), now=5.0)
    assert waiting.type == "deployment-waiting" and waiting.severity == "warning"
    assert waiting.detail["command"] == ["conveyor", "deploy", "continue", "production", "orders"]
    assert waiting.detail["wait"] == "READY_WAIT"


def test_an_alarm_stop_says_alarm_first_with_the_alarm_names_then_stopped():
    changes = {"error_code": "ALARM_ACTIVE", "error_message": reasons.alarm_in_alarm("orders-5xx", "3 of 3")}
    alarm, stopped = transition_events(ROW, "Stopped", changes, Cause(alarms=("orders-5xx",)), now=5.0)
    assert (alarm.type, stopped.type) == ("deployment-alarm", "deployment-stopped")
    assert alarm.detail["alarms"] == ["orders-5xx"] and alarm.detail["errorCode"] == "ALARM_ACTIVE"
    assert alarm.summary == reasons.event_alarm(reasons.event_deployment("production", "orders", "d-ABC"),
                                                ["orders-5xx"])


def test_a_stop_by_a_person_says_who_and_why_and_a_failure_its_error_code():
    (stopped,) = transition_events(ROW, "Stopped", {"error_code": "MANUAL_STOP", "error_message": "stopped by ana"},
                                   Cause(who="ana", reason="wrong build"), now=5.0)
    assert stopped.type == "deployment-stopped"
    assert (stopped.detail["who"], stopped.detail["reason"], stopped.detail["errorCode"]) == (
        "ana", "wrong build", "MANUAL_STOP")
    (failed,) = transition_events(ROW, "Failed", {"error_code": "HOOK_EXECUTION_FAILURE", "error_message": "x"},
                                  Cause(), now=5.0)
    assert (failed.type, failed.detail["errorCode"], failed.severity) == (
        "deployment-failed", "HOOK_EXECUTION_FAILURE", "error")
    assert "who" not in failed.detail


def test_succeeding_is_success_a_redeploy_of_the_previous_revision_a_rollback_and_a_cleanup_nothing():
    assert types(transition_events(ROW, "Succeeded", {}, Cause(), now=5.0)) == ["deployment-succeeded"]
    redeploy = dataclasses.replace(ROW, creator="codeDeployRollback", origin={"rollbackOf": "d-OLD", "by": "ana"})
    (back,) = transition_events(redeploy, "Succeeded", {}, Cause(), now=5.0)
    assert (back.type, back.detail["rolledBack"], back.detail["by"]) == ("deployment-rolled-back", "d-OLD", "ana")
    cleanup = dataclasses.replace(redeploy, phase="RollbackCleanup")
    assert transition_events(cleanup, "Succeeded", {}, Cause(), now=5.0) == []


# -- the store ------------------------------------------------------------------------------------
def test_the_event_is_written_with_the_move_and_not_at_all_when_the_move_is_refused(tmp_path):
    store = DeploymentStore(tmp_path / "codedeploy.db", clock=lambda: 7.0)
    d = store.create("production", "orders", taskdef="orders:7", appspec="", group={}, creator="user")
    assert read_outbox(store._db, 0) == []  # Created: nothing to tell yet
    store.transition(d.id, "InProgress")
    store.transition(d.id, "Succeeded")
    with pytest.raises(InvalidTransition):
        store.transition(d.id, "InProgress")
    assert [(e.type, e.at, e.subject.deployment_id) for _, e in read_outbox(store._db, 0)] == [
        ("deployment-started", 7.0, d.id), ("deployment-succeeded", 7.0, d.id)]
    assert [t["to_status"] for t in store.transitions(d.id)] == ["Created", "InProgress", "Succeeded"]
    store.close()


def test_a_recorded_fact_and_its_event_commit_together_or_not_at_all(tmp_path):
    store = DeploymentStore(tmp_path / "codedeploy.db")
    d = store.create("production", "orders", taskdef="orders:7", appspec="", group={}, creator="user")
    event = Event("deployment-traffic-shifted", 1.0, subject(d), {"percent": 10})
    with pytest.raises(sqlite3.OperationalError):
        store.update(d.id, outbox=[event], no_such_column=1)
    assert read_outbox(store._db, 0) == []
    with pytest.raises(ValueError):
        store.update(d.id, traffic=10, outbox=[dataclasses.replace(event, type="deployment-exploded")])
    assert (store.require(d.id).traffic, read_outbox(store._db, 0)) == (0, [])
    store.update(d.id, traffic=10, outbox=[event])
    assert store.require(d.id).traffic == 10 and types([e for _, e in read_outbox(store._db, 0)]) == [
        "deployment-traffic-shifted"]
    store.close()


def test_on_events_is_called_after_a_commit_that_wrote_events_only(tmp_path):
    store = DeploymentStore(tmp_path / "codedeploy.db")
    woken: list[int] = []
    store.outbox.on_events = lambda: woken.append(len(read_outbox(store._db, 0)))  # sees the committed rows
    d = store.create("production", "orders", taskdef="orders:7", appspec="", group={}, creator="user")
    store.update(d.id, traffic=0)
    assert woken == []  # created, and a change without an event: nothing to stream
    store.transition(d.id, "InProgress")
    with pytest.raises(InvalidTransition):
        store.transition(d.id, "Created")
    assert woken == [1]  # once, after the commit; not for the refused move
    store.close()


# -- whole deployments --------------------------------------------------------------------------------
def test_a_canary_that_succeeds_says_started_shifted_twice_and_succeeded(rig):  # noqa: F811
    spec = service(config=CANARY)
    on_v1(rig, spec)
    d = rig.deploy(spec, origin={"pipeline": "orders", "execution": "ex-9"})
    rig.run(d.id, lambda d: d.status == "Succeeded", step=10.0)
    events = outbox(rig)
    assert types(events) == ["deployment-started", "deployment-traffic-shifted", "deployment-traffic-shifted",
                             "deployment-succeeded"]
    assert [e.detail["percent"] for e in events[1:3]] == [10, 100]
    assert events[1].detail["replacementTargetGroup"] == GREEN and events[1].detail["originalTargetGroup"] == BLUE
    assert {(e.subject.pipeline, e.subject.execution_id, e.subject.deployment_id) for e in events} == {
        ("orders", "ex-9", d.id)}


def test_an_alarm_rollback_says_started_shifted_alarm_stopped_rolled_back(rig):  # noqa: F811
    spec = service(config=CANARY, alarms=[GREEN_5XX], requireTraffic=False)
    on_v1(rig, spec)
    d = rig.deploy(spec)
    rig.run(d.id, lambda d: d.traffic == 10)
    rig.controller.alarms.metrics.put([Datapoint(int(rig.clock.now), f"tg:{GREEN}", "HTTPCode_Target_5XX_Count", 5)])
    rig.clock.advance(1)
    rig.controller.run_pass()
    rollback_id = rig.get(d.id).rollback_info["rollbackDeploymentId"]
    rig.run(rollback_id, lambda rb: rb.status == "Succeeded")
    events = outbox(rig)
    assert types(events) == ["deployment-started", "deployment-traffic-shifted", "deployment-alarm",
                             "deployment-stopped", "deployment-rolled-back"]
    assert events[2].detail["alarms"] == ["green-5xx"]
    back = events[-1]
    assert (back.subject.deployment_id, back.detail["rollbackDeploymentId"], back.detail["targetGroup"]) == (
        d.id, rollback_id, BLUE)
    assert back.summary.startswith(reasons.event_rolled_back(reasons.event_deployment("production", "orders", d.id),
                                                             reasons.alarm_in_alarm("green-5xx", "")))


def test_a_ready_wait_nobody_continues_says_waiting_stopped_and_rolled_back(rig):  # noqa: F811
    spec = service(deploymentReadyOption="STOP_DEPLOYMENT", waitTimeMinutes="30s")
    on_v1(rig, spec)
    d = rig.deploy(spec)
    rig.run(d.id, lambda d: d.status == "Stopped", step=10.0)
    events = outbox(rig)
    # (production never moved; the test listener goes back to blue and green is removed: CodeDeploy's rollback)
    assert types(events) == ["deployment-started", "deployment-waiting", "deployment-stopped",
                             "deployment-rolled-back"]
    assert events[2].detail["errorCode"] == events[3].detail["errorCode"] == "TIMEOUT"


def test_a_termination_wait_says_waiting_once_with_how_to_end_it(rig):  # noqa: F811
    spec = service(terminationWaitMinutes=1)
    on_v1(rig, spec)
    d = rig.deploy(spec)
    rig.run(d.id, lambda d: d.status == "Succeeded", step=5.0)
    events = outbox(rig)
    assert types(events) == ["deployment-started", "deployment-traffic-shifted", "deployment-waiting",
                             "deployment-succeeded"]
    assert (events[2].detail["wait"], events[2].detail["seconds"]) == ("TERMINATION_WAIT", 60.0)


def test_a_stop_by_a_person_without_rollback_says_who(rig):  # noqa: F811
    spec = service(config=CANARY)
    on_v1(rig, spec)
    d = rig.deploy(spec)
    rig.run(d.id, lambda d: d.traffic == 10)
    rig.controller.stop("production", "orders", who="ana", reason="wrong build", rollback=False)
    stopped = outbox(rig)[-1]
    assert (stopped.type, stopped.detail["who"], stopped.detail["reason"]) == (
        "deployment-stopped", "ana", "wrong build")


def test_a_manual_rollback_while_blue_serves_says_stopped_then_rolled_back_by_whom(rig):  # noqa: F811
    spec = service(config=CANARY)
    on_v1(rig, spec)
    d = rig.deploy(spec)
    rig.run(d.id, lambda d: d.traffic == 10)
    rig.controller.rollback("production", "orders", who="ana", reason="p99")
    stopped, back = outbox(rig)[-2:]
    assert (stopped.type, back.type, back.detail["who"], back.subject.deployment_id) == (
        "deployment-stopped", "deployment-rolled-back", "ana", d.id)


def test_rollbacks_after_blue_is_gone_and_to_a_kept_task_set_say_rolled_back(rig):  # noqa: F811
    spec = service(terminateBlue="KEEP_ALIVE")
    on_v1(rig, spec)
    d = rig.deploy(spec)
    rig.run(d.id, lambda d: d.status == "Succeeded")
    rb = rig.controller.rollback("production", "orders", who="ana", reason="p99")
    rig.run(rb.id, lambda rb: rb.status == "Succeeded")
    back = outbox(rig)[-1]
    assert (back.type, back.detail["how"], back.detail["who"], back.subject.deployment_id) == (
        "deployment-rolled-back", "kept-alive", "ana", rb.id)


def test_a_redeploy_of_the_previous_revision_ends_rolled_back(rig):  # noqa: F811
    spec = service()
    on_v1(rig, spec)
    for revision in ("orders:2", "orders:3"):
        d = rig.deploy(spec, revision)
        rig.run(d.id, lambda d: d.status == "Succeeded")
    redeploy = rig.controller.rollback("production", "orders", who="ana", reason="bad")
    rig.run(redeploy.id, lambda d: d.status == "Succeeded")
    tail = outbox(rig)[-3:]
    assert types(tail) == ["deployment-started", "deployment-traffic-shifted", "deployment-rolled-back"]
    assert (tail[-1].detail["how"], tail[-1].detail["rolledBack"], tail[-1].detail["taskdef"]) == (
        "redeploy", d.id, "orders:2")
