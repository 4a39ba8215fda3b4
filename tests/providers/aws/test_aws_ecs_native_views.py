"""ECS-native strategies (aws-semantics §4.7): the deploymentConfiguration UpdateService sends, and a
service deployment read as a CodeDeployDeployment (status, cause, phase, traffic, task sets)."""

from __future__ import annotations

import pytest
from aws_codedeploy_fixtures import now, rev_arn, sd_arn, service_deployment, service_revision

from conveyor.providers.aws.ecs_native_views import (
    deployment_configuration,
    is_native,
    outcome_of,
    service_deployment_view,
)

HOOK = {"targetType": "AWS_LAMBDA", "hookTargetArn": "arn:aws:lambda:eu-west-1:123456789012:function:smoke",
        "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}
REVISIONS = {rev_arn("r6"): service_revision("r6", "orders:6"), rev_arn("r7"): service_revision("r7", "orders:7")}


def view(sd, at: float = 120.0):
    return service_deployment_view(sd, REVISIONS, environment="production", service="orders", creator="CodePipeline",
                                   actions=[], now=now(at))


def test_the_strategy_replaces_the_services_own_and_keeps_its_hooks_and_breaker():
    current = {"strategy": "ROLLING", "maximumPercent": 200, "minimumHealthyPercent": 100, "lifecycleHooks": [HOOK],
               "deploymentCircuitBreaker": {"enable": True, "rollback": True}, "bakeTimeInMinutes": 3}
    assert deployment_configuration({"strategy": "CANARY", "canaryConfiguration": {"canaryBakeTimeInMinutes": "2m"}},
                                    current) == {
        "maximumPercent": 200, "minimumHealthyPercent": 100, "lifecycleHooks": [HOOK],
        "deploymentCircuitBreaker": {"enable": True, "rollback": True}, "strategy": "CANARY",
        "canaryConfiguration": {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 2}}


def test_ecs_defaults_fill_what_conveyor_yml_leaves_out():
    assert deployment_configuration({"strategy": "LINEAR"}, {})["linearConfiguration"] == {
        "stepPercent": 10.0, "stepBakeTimeInMinutes": 6}
    assert deployment_configuration({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": "1h"}, {}) == {
        "strategy": "BLUE_GREEN", "bakeTimeInMinutes": 60}


def test_the_groups_alarms_become_the_deployments_alarms():
    block = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5, "alarms": ["orders-5xx", {"name": "orders-p99"}]}
    assert deployment_configuration(block, {})["alarms"] == {"alarmNames": ["orders-5xx", "orders-p99"],
                                                            "enable": True, "rollback": True}
    off = deployment_configuration({**block, "autoRollback": False, "alarmsEnabled": False}, {})
    assert off["alarms"] == {"alarmNames": ["orders-5xx", "orders-p99"], "enable": False, "rollback": False}


def test_only_an_ecs_service_with_a_strategy_is_native():
    assert is_native({"deploymentController": {"type": "ECS"}, "deploymentConfiguration": {"strategy": "CANARY"}})
    assert is_native({"deploymentConfiguration": {"strategy": "BLUE_GREEN"}})
    assert not is_native({"deploymentController": {"type": "ECS"}, "deploymentConfiguration": {"strategy": "ROLLING"}})
    assert not is_native({"deploymentController": {"type": "CODE_DEPLOY"}})


BREAKER = {"status": "TRIGGERED", "failureCount": 3, "threshold": 3}
ALARMS = {"status": "TRIGGERED", "alarmNames": ["orders-5xx"], "triggeredAlarmNames": ["orders-5xx"]}


@pytest.mark.parametrize("sd,expected", [
    (service_deployment(status="PENDING"), ("Created", None, None)),
    (service_deployment(status="IN_PROGRESS"), ("InProgress", None, None)),
    (service_deployment(status="ROLLBACK_IN_PROGRESS"), ("InProgress", None, None)),
    (service_deployment(status="SUCCESSFUL"), ("Succeeded", None, None)),
    (service_deployment(status="ROLLBACK_SUCCESSFUL", alarms=ALARMS),
     ("Stopped", "ALARM_ACTIVE", "alarm orders-5xx went into ALARM")),
    ({**service_deployment(status="ROLLBACK_SUCCESSFUL"), "deploymentCircuitBreaker": BREAKER},
     ("Failed", "ECS_UPDATE_ERROR", "the deployment circuit breaker tripped: 3 failed tasks (threshold 3)")),
    (service_deployment(status="ROLLBACK_SUCCESSFUL", hooks=[{"hookId": "h-1", "targetType": "AWS_LAMBDA",
                                                              "targetArn": "arn:aws:lambda:eu-west-1:123456789012:"
                                                                           "function:smoke", "status": "TIMED_OUT"}]),
     ("Failed", "HOOK_EXECUTION_FAILURE",
      "lifecycle hook arn:aws:lambda:eu-west-1:123456789012:function:smoke timed out")),
    (service_deployment(status="ROLLBACK_SUCCESSFUL", rollback={"reason": "rollback requested by user"}),
     ("Stopped", "MANUAL_STOP", "rollback requested by user")),
    (service_deployment(status="ROLLBACK_FAILED", alarms=ALARMS),
     ("Failed", "ALARM_ACTIVE", "alarm orders-5xx went into ALARM; the rollback failed")),
])
def test_a_service_deployments_status_and_cause_in_codedeploys_terms(sd, expected):
    assert outcome_of(sd) == expected


@pytest.mark.parametrize("sd,phase,traffic,waiting", [
    (service_deployment(status="PENDING"), "Start", 0, "ECS is starting the service deployment"),
    (service_deployment(stage="SCALE_UP", green_running=1), "SCALE_UP", 0, "green revision 1/2 tasks running"),
    (service_deployment(stage="PRODUCTION_TRAFFIC_SHIFT", green=10.0), "PRODUCTION_TRAFFIC_SHIFT", 10,
     "10% of production on green (CANARY)"),
    (service_deployment(stage="BAKE_TIME", green=100.0), "BAKE_TIME", 100,
     "bake time: blue stays up for 10 min after the shift; `conveyor rollback` returns traffic to it at once"),
    (service_deployment(stage="POST_TEST_TRAFFIC_SHIFT", hooks=[
        {"hookId": "h-2", "targetType": "PAUSE", "status": "AWAITING_ACTION", "expiresAt": now(600)}]),
     "POST_TEST_TRAFFIC_SHIFT", 0, "paused at POST_TEST_TRAFFIC_SHIFT (hook h-2): `conveyor deploy continue` goes "
                                   "on, `conveyor rollback` goes back; the hook times out in 480 s"),
    (service_deployment(stage="POST_TEST_TRAFFIC_SHIFT", hooks=[
        {"hookId": "h-3", "targetType": "AWS_LAMBDA", "targetArn": "arn:aws:lambda:eu-west-1:123456789012:function:"
                                                                   "smoke", "status": "IN_PROGRESS"}]),
     "POST_TEST_TRAFFIC_SHIFT", 0,
     "POST_TEST_TRAFFIC_SHIFT: lifecycle hook arn:aws:lambda:eu-west-1:123456789012:function:smoke running"),
    (service_deployment(status="STOP_REQUESTED", stage="BAKE_TIME"), "BAKE_TIME", 0, "stopping"),
    (service_deployment(status="SUCCESSFUL", stage="CLEAN_UP", green=100.0), "End", 100, ""),
])
def test_phase_traffic_and_waiting_of_a_service_deployment(sd, phase, traffic, waiting):
    d = view(sd)
    assert (d.phase, d.traffic, d.waiting) == (phase, traffic, waiting)


def test_the_source_and_target_revisions_are_the_task_sets():
    d = view(service_deployment(stage="PRODUCTION_TRAFFIC_SHIFT", green=10.0, green_running=2, finished=None))
    original, replacement = d.task_sets["original"], d.task_sets["replacement"]
    assert (original.id, original.status, original.task_definition) == ("r6", "PRIMARY", "orders:6")
    assert (replacement.id, replacement.status, replacement.task_definition) == ("r7", "ACTIVE", "orders:7")
    assert (replacement.desired, replacement.running) == (2, 2)
    assert (d.id, d.task_definition, d.creator, d.completed_at, d.has_appspec) == (sd_arn(), "orders:7", "CodePipeline",
                                                                                   None, True)
    done = view(service_deployment(status="SUCCESSFUL", stage="CLEAN_UP", green=100.0, finished=900))
    assert done.task_sets["replacement"].status == "PRIMARY" and done.completed_at == now(900)


def test_a_rollback_shows_its_reason_and_revision():
    d = view(service_deployment(status="ROLLBACK_SUCCESSFUL", stage="CLEAN_UP", finished=300, alarms=ALARMS,
                                rollback={"reason": "Alarm orders-5xx", "startedAt": now(200),
                                          "serviceRevisionArn": rev_arn("r6")}))
    assert d.rollback_info == {"rollbackMessage": "Alarm orders-5xx", "rollbackStartedAt": now(200),
                               "rollbackServiceRevisionArn": rev_arn("r6")}
    assert (d.status, d.outcome, d.reason) == ("Stopped", "Stopped", "ALARM_ACTIVE: alarm orders-5xx went into ALARM")
    assert [(e.name, e.status) for e in d.lifecycle_events] == [("CLEAN_UP", "Failed")]
