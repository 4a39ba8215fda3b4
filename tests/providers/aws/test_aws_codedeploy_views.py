"""GetDeployment + GetDeploymentTarget → CodeDeployDeployment: the phase from the lifecycle
events, the traffic from the Green task set, both task sets, the waiting texts and the history."""

from __future__ import annotations

import pytest
from aws_codedeploy_fixtures import info, now, target

from conveyor.backend.types import HistoryEntry, LifecycleEvent
from conveyor.providers.aws.codedeploy_views import (
    creator_of,
    deployment_view,
    lifecycle_events,
    phase_of,
    task_definition_of,
    traffic_of,
)


def ev(name: str, status: str) -> LifecycleEvent:
    return LifecycleEvent(name, status)


DONE = [ev(n, "Succeeded") for n in ("BeforeInstall", "Install", "AfterInstall", "AllowTestTraffic",
                                      "AfterAllowTestTraffic", "BeforeAllowTraffic", "AllowTraffic",
                                      "AfterAllowTraffic")]


@pytest.mark.parametrize("status,events,termination,expected", [
    ("Created", [], False, "Start"),
    ("InProgress", [], False, "Start"),
    ("InProgress", [ev("BeforeInstall", "Pending"), ev("Install", "Pending")], False, "Start"),
    ("InProgress", [ev("BeforeInstall", "Succeeded"), ev("Install", "InProgress")], False, "Install"),
    # between two events: the next one
    ("InProgress", [ev("BeforeInstall", "Succeeded"), ev("Install", "Pending")], False, "Install"),
    ("InProgress", [ev("AllowTestTraffic", "Skipped"), ev("AfterAllowTestTraffic", "InProgress")], False,
     "AfterAllowTestTraffic"),
    ("Ready", DONE[:5] + [ev("BeforeAllowTraffic", "Pending")], False, "ReadyWait"),
    ("InProgress", DONE, True, "TerminationWait"),
    ("InProgress", DONE, False, "AfterAllowTraffic"),
    ("Succeeded", DONE, True, "End"),
    ("Failed", DONE[:2] + [ev("AfterInstall", "Failed")], False, "AfterInstall"),
    ("Stopped", DONE[:6] + [ev("AllowTraffic", "Pending")], False, "BeforeAllowTraffic"),
    ("Stopped", [ev("BeforeInstall", "Pending")], False, "Start"),
])
def test_the_phase_is_the_event_in_progress_or_what_the_status_says(status, events, termination, expected):
    assert phase_of(status, events, termination) == expected


def test_lifecycle_events_come_in_lifecycle_order_with_their_hook_and_diagnostics():
    raw = target(done=2, failed="AfterInstall", messages={"AfterInstall": "smoke test: 3 of 10 requests failed"})
    raw["lifecycleEvents"].reverse()
    events = lifecycle_events(raw, {"AfterInstall": "smoke", "Install": "not-a-hook-event"})
    assert [e.name for e in events][:3] == ["BeforeInstall", "Install", "AfterInstall"]
    after = events[2]
    assert (after.status, after.hook, after.message) == ("Failed", "smoke", "smoke test: 3 of 10 requests failed")
    assert events[1].hook is None  # Install takes no hook
    assert (events[0].start_time, events[0].end_time) == (now(10), now(20))


def test_traffic_is_the_green_task_sets_weight():
    assert traffic_of("InProgress", target(green=10.0)) == 10
    assert traffic_of("InProgress", target(green=33.3)) == 33
    assert traffic_of("InProgress", None) == 0
    assert traffic_of("Succeeded", None) == 100  # blue and green gone from the target: all on green


def test_the_task_sets_are_blue_original_and_green_replacement():
    d = deployment_view(info(), target(done=6, running="AllowTraffic", green=10.0, green_running=1),
                        environment="production", actions=[], now=now(120))
    original, replacement = d.task_sets["original"], d.task_sets["replacement"]
    assert (original.id, original.task_definition, original.target_group) == ("ecs-svc/1111", "orders:6",
                                                                               "orders-prod-1")
    assert (replacement.id, replacement.task_definition, replacement.target_group) == ("ecs-svc/2222", "orders:7",
                                                                                       "orders-prod-2")
    assert (replacement.desired, replacement.running, replacement.pending, replacement.steady) == (2, 1, 1, False)
    assert (d.original_task_set, d.replacement_task_set) == ("ecs-svc/1111", "ecs-svc/2222")
    assert (d.original_target_group, d.replacement_target_group) == ("orders-prod-1", "orders-prod-2")
    assert d.traffic == 10


@pytest.mark.parametrize("deployment,ecs_target,expected", [
    (info(status="Created"), None, "CodeDeploy is starting it"),
    (info(status="Queued"), None, "queued behind another deployment of the group"),
    (info(), target(done=1, running="Install", green_running=0),
     "replacement task set 0/2 tasks running in (target-group orders-prod-2)"),
    (info(hooks={"AfterAllowTestTraffic": "arn:aws:lambda:eu-west-1:123456789012:function:smoke"}),
     target(done=4, running="AfterAllowTestTraffic"),
     "AfterAllowTestTraffic hook arn:aws:lambda:eu-west-1:123456789012:function:smoke (Lambda) running; CodeDeploy "
     "waits up to an hour for it to report through PutLifecycleEventHookExecutionStatus"),
    (info(), target(done=3, running="AllowTestTraffic"), "test listener → (target-group orders-prod-2)"),
    (info(config="CodeDeployDefault.ECSLinear10PercentEvery1Minutes"), target(done=6, running="AllowTraffic", green=30),
     "30% of production on green (CodeDeployDefault.ECSLinear10PercentEvery1Minutes)"),
    # the ready wait started when AfterAllowTestTraffic ended (t=60): 10 minutes from then
    (info(status="Ready", ready_wait=10), target(done=5, status="Ready"),
     "manual reroute (`conveyor deploy continue`); stops in 540 s"),
    (info(status="Ready"), target(done=5, status="Ready"), "manual reroute (`conveyor deploy continue`)"),
    # the termination wait started when AfterAllowTraffic ended (t=90): 5 minutes from then
    (info(termination_started=True), target(done=8, green=100.0),
     "termination wait: blue (target-group orders-prod-1) stays warm for 270 s more; `conveyor rollback` returns "
     "traffic to it at once"),
    (info(status="Succeeded", completed=400), target(done=8, green=100.0), ""),
])
def test_what_a_deployment_waits_for_in_words(deployment, ecs_target, expected):
    assert deployment_view(deployment, ecs_target, environment="production", actions=[],
                           now=now(120)).waiting == expected


def test_status_messages_are_the_last_word_when_nothing_else_applies():
    deployment = {**info(), "deploymentStatusMessages": ["first", "Waiting for the deployment to start"]}
    assert deployment_view(deployment, None, environment="production", actions=[],
                           now=now(120)).waiting == "Waiting for the deployment to start"


def test_the_history_has_what_aws_reports_and_peoples_actions_in_time_order():
    deployment = info(status="Stopped", completed=200, error=("ALARM_ACTIVE", "orders-5xx"),
                      rollback={"rollbackDeploymentId": "d-RRRRRRRR1"},
                      hooks={"AfterAllowTestTraffic": "smoke"})
    action = HistoryEntry(now(45), "action", "stop with rollback by ana: p99", "ana")
    d = deployment_view(deployment, target(done=2, failed="AfterInstall"), environment="production",
                        actions=[action], now=now(300))
    assert [h.message for h in d.history] == [
        "Deployment d-AAAAAAAA1 created by CodePipeline for orders:7 (hooks: AfterAllowTestTraffic=smoke).",
        "BeforeInstall: Succeeded.",
        "Install: Succeeded.",
        "AfterInstall: Failed.",
        "stop with rollback by ana: p99",
        "Deployment d-AAAAAAAA1 stopped: ALARM_ACTIVE: orders-5xx; rollback deployment d-RRRRRRRR1."]
    assert d.to_json()["actions"] == [{"at": now(45), "kind": "action", "who": "ana",
                                       "message": "stop with rollback by ana: p99"}]
    assert d.timings == {"BeforeInstall": 10.0, "Install": 10.0, "AfterInstall": 5.0}
    assert (d.created_at, d.completed_at, d.reason) == (now(0), now(200), "ALARM_ACTIVE: orders-5xx")


def test_the_creator_is_conveyors_caller_and_codedeploys_rollbacks_have_no_appspec_of_their_own():
    assert creator_of(info()) == "CodePipeline"
    assert creator_of(info(description="made in the console")) == "user"
    rollback = info(creator="codeDeployRollback", description="")
    assert creator_of(rollback) == "codeDeployRollback"
    assert not deployment_view(rollback, None, environment="production", actions=[], now=now()).has_appspec
    assert deployment_view(info(), None, environment="production", actions=[], now=now()).has_appspec


def test_the_task_definition_comes_from_the_appspec_else_from_the_description():
    assert task_definition_of(info(task_definition="orders:9")) == "orders:9"
    assert task_definition_of(info(task_definition="orders:9", content=False)) == "orders:9"
    assert task_definition_of(info(task_definition="orders:9", content=False, description="console")) == ""
