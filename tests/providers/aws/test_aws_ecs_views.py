"""ECS's answers in Conveyor's types, and the deployment configuration a spec makes: pure rules
over plain dictionaries (no AWS, no moto)."""

from __future__ import annotations

import pytest
from aws_ecs_support import deployment, event, service, steady

from conveyor.deploy.spec import ServiceSpec
from conveyor.providers.aws.ecs import deployment_configuration, first_deploy
from conveyor.providers.aws.ecs_views import rollout, summary

OLD = deployment("ecs-svc/1", "orders:1", status="ACTIVE", rollout="COMPLETED", running=2, created=-600)


def spec(deployment_block: dict) -> ServiceSpec:
    return ServiceSpec.from_config("production", "orders", {"deployment": deployment_block}, target="aws")


@pytest.mark.parametrize(("block", "alarms"), [
    ({"alarms": ["orders-5xx"]}, {"alarmNames": ["orders-5xx"], "enable": True, "rollback": True}),
    ({"alarms": [{"name": "orders-5xx"}, {"name": "slow", "metric": "TargetResponseTime"}], "alarmsEnabled": False},
     {"alarmNames": ["orders-5xx", "slow"], "enable": False, "rollback": True}),
    ({"alarms": ["orders-5xx"], "autoRollback": ["DEPLOYMENT_FAILURE"]},
     {"alarmNames": ["orders-5xx"], "enable": True, "rollback": False}),
])
def test_the_alarms_ecs_watches_come_from_the_deployment_block(block, alarms):
    assert deployment_configuration(spec(block))["alarms"] == alarms


def test_without_alarms_listed_the_services_alarms_are_switched_off_by_name_or_left_out():
    had = {"alarms": {"alarmNames": ["orders-5xx"], "enable": True, "rollback": True}}
    assert deployment_configuration(spec({}), had)["alarms"] == {"alarmNames": ["orders-5xx"], "enable": False,
                                                                 "rollback": False}
    assert "alarms" not in deployment_configuration(spec({}), {"maximumPercent": 200})
    assert "alarms" not in deployment_configuration(spec({}))


def test_bounds_and_circuit_breaker_come_from_the_spec():
    c = deployment_configuration(spec({"minimumHealthyPercent": 50, "maximumPercent": 150,
                                       "circuitBreaker": {"enable": True, "rollback": False,
                                                          "threshold": {"type": "COUNT", "value": 2}}}))
    assert (c["minimumHealthyPercent"], c["maximumPercent"], c["deploymentCircuitBreaker"]) == (
        50, 150, {"enable": True, "rollback": False})


def test_only_a_service_that_never_ran_gets_the_declared_desired_count():
    assert first_deploy({"desiredCount": 0, "runningCount": 0, "pendingCount": 0})
    assert not first_deploy({"desiredCount": 0, "runningCount": 1, "pendingCount": 0})
    assert not first_deploy({"desiredCount": 3, "runningCount": 0, "pendingCount": 3})


@pytest.mark.parametrize(("primary", "old", "waiting"), [
    (deployment("ecs-svc/2", "orders:2", pending=2), [OLD],
     "0/2 new tasks running (2 pending); 2 old tasks still running"),
    (deployment("ecs-svc/2", "orders:2", running=2), [],
     "2/2 new tasks running; ECS to see the new tasks healthy and the service steady (then COMPLETED)"),
    (deployment("ecs-svc/2", "orders:2", running=1, failed=1), [OLD],
     "1/2 new tasks running; 2 old tasks still running; 1 failed task so far (the circuit breaker counts them)"),
    (deployment("ecs-svc/2", "orders:2", rollout="COMPLETED", running=2), [], "nothing: the deployment is complete"),
    (deployment("ecs-svc/2", "orders:2", rollout="FAILED", reason="ECS deployment circuit breaker: tasks failed to "
                                                                  "start."), [],
     "nothing: the deployment failed (ECS deployment circuit breaker: tasks failed to start.)"),
])
def test_what_a_rollout_waits_for_is_said_from_the_counts(primary, old, waiting):
    r = rollout("production", service([primary, *old]))
    assert r.waiting_for == waiting
    assert r.deployment is not None and r.deployment.id == "ecs-svc/2"
    assert r.old_tasks == sum(d["runningCount"] + d["pendingCount"] for d in old)


def test_only_events_since_the_deployment_started_are_its_latest_event():
    raw = service([deployment("ecs-svc/2", "orders:2", pending=2, created=100), OLD],
                  events=[event("(service orders) has started 2 tasks: (task a) (task b).", 110),
                          event("(service orders) has reached a steady state.", 50)])
    r = rollout("production", raw)
    assert [e.message for e in r.events] == ["(service orders) has started 2 tasks: (task a) (task b)."]
    assert r.waiting_for.endswith("latest event: (service orders) has started 2 tasks: (task a) (task b).")
    old_only = rollout("production", service([deployment("ecs-svc/2", "orders:2", pending=2, created=100)],
                                             events=[event("(service orders) has reached a steady state.", 50)]))
    assert "latest event" not in old_only.waiting_for


def test_a_service_with_no_deployment_waits_for_one():
    r = rollout("production", service([], controller="CODE_DEPLOY"))
    assert (r.deployment, r.waiting_for) == (None, "no deployment yet")


def test_a_summary_counts_the_completed_deployments_tasks_as_healthy_without_better_knowledge():
    raw = service([deployment("ecs-svc/2", "orders:2", running=1, pending=1), OLD])
    s = summary("production", raw, url="http://orders/")
    assert (s.running_count, s.pending_count, s.healthy_count, s.rollout_state, s.target, s.url) == (
        3, 1, 2, "IN_PROGRESS", "aws", "http://orders/")
    assert summary("production", steady(), healthy=1).healthy_count == 1
