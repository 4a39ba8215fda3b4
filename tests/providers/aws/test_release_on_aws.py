"""The release service over the AWS backend, with ECS answering from botocore's Stubber (moto does
not move deployments): a rolling deployment that completes, one the circuit breaker fails and
rolls back, throttling while waiting, a re-run after a crash that adopts instead of deploying
twice, and a rollback. Every request is checked against the ECS model (conftest's aws_log) and,
where it matters, against the exact parameters expected."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from aws_ecs_support import (
    CLUSTER,
    at,
    aws_backend,
    deployment,
    describe_services,
    event,
    service,
    steady,
    task_definition,
    td_arn,
)
from botocore.stub import Stubber

from conveyor.config.imagedefs import ImageDefinition
from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import NotFound
from conveyor.release.service import DeployRequest, ReleaseService
from conveyor.release.store import ReleaseStore

IMAGE_V1 = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders:v1"
IMAGE_V2 = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders:v2"
TASKDEF = {"family": "orders", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256",
           "memory": "512", "containerDefinitions": [{"name": "api", "image": "<IMAGE1_NAME>", "essential": True,
                                                      "portMappings": [{"containerPort": 8080}]}]}
SETTINGS = {"region": "eu-west-1", "cluster": CLUSTER, "codeDeployApplication": "orders"}
KEY = "ex-1/Deploy/Deploy/1"
SERVICE = {"cluster": CLUSTER, "services": ["orders"]}
CIRCUIT_BREAKER_REASON = "ECS deployment circuit breaker: tasks failed to start."


def spec() -> ServiceSpec:
    return ServiceSpec.from_config("production", "orders", {"desiredCount": 2, "deployment": {
        "circuitBreaker": {"enable": True, "rollback": True}}}, target="aws", environment_settings=SETTINGS)


def request(key: str | None = None) -> DeployRequest:
    return DeployRequest("production", "orders", spec(), taskdef=TASKDEF, images=(ImageDefinition("api", IMAGE_V2),),
                         key=key)


@pytest.fixture
def ecs(stubbed: Any) -> Stubber:
    stub: Stubber = stubbed("ecs")
    return stub


@pytest.fixture
def releases(stubbed: Any, monkeypatch: pytest.MonkeyPatch) -> ReleaseService:
    return ReleaseService({"aws": aws_backend(stubbed.apis, monkeypatch)}, ReleaseStore(":memory:"),
                          poll_seconds=0.001)


def updated() -> dict[str, Any]:
    """UpdateService's answer: orders:2 is the new PRIMARY, orders:1's deployment still serves."""
    return service([deployment("ecs-svc/2", "orders:2", pending=2, created=0),
                    deployment("ecs-svc/1", "orders:1", status="ACTIVE", rollout="COMPLETED", running=2,
                               created=-600, updated=-500)])


def expect_describe_service(ecs: Stubber, answer: dict[str, Any]) -> None:
    """ReleaseService.deploy first reads the revision the service runs (describe_service)."""
    ecs.add_response("describe_services", describe_services(answer), SERVICE)
    for status in ("RUNNING", "STOPPED"):
        ecs.add_response("list_tasks", {"taskArns": []},
                         {"cluster": CLUSTER, "serviceName": "orders", "desiredStatus": status})


def expect_deploy(ecs: Stubber, *, then_look: bool = True) -> None:
    """What deploying orders:2 over a service steady on orders:1 asks ECS, in order (then_look:
    and what the release service reads after the deployment started, to say what it waits for)."""
    expect_describe_service(ecs, steady())
    ecs.add_response("describe_task_definition", task_definition("orders:1", IMAGE_V1), {"taskDefinition": "orders:1"})
    ecs.add_response("list_task_definitions", {"taskDefinitionArns": [td_arn("orders:1")]},
                     {"familyPrefix": "orders", "status": "ACTIVE", "sort": "DESC"})
    ecs.add_response("describe_task_definition", task_definition("orders:1", IMAGE_V1),
                     {"taskDefinition": td_arn("orders:1"), "include": ["TAGS"]})
    ecs.add_response("register_task_definition", task_definition("orders:2", IMAGE_V2))
    ecs.add_response("describe_services", describe_services(steady()), SERVICE)
    ecs.add_response("update_service", {"service": updated()}, {
        "cluster": CLUSTER, "service": "orders", "taskDefinition": "orders:2",
        "deploymentConfiguration": {"minimumHealthyPercent": 100, "maximumPercent": 200,
                                    "deploymentCircuitBreaker": {"enable": True, "rollback": True}}})
    if then_look:
        ecs.add_response("describe_services", describe_services(updated()), SERVICE)


def expect_polls(ecs: Stubber, *answers: dict[str, Any]) -> None:
    """wait(): each poll reads the service once — its latest deployment comes with what it waits
    for — and once more when the deployment waited for is no longer the latest."""
    for answer in answers:
        ecs.add_response("describe_services", describe_services(answer), SERVICE)
        if answer["deployments"][0]["id"] != "ecs-svc/2":
            ecs.add_response("describe_services", describe_services(answer), SERVICE)


def wait(releases: ReleaseService, release_id: str) -> tuple[Any, list[str]]:
    heard: list[str] = []
    done = releases.wait(release_id, cancel=threading.Event(), timeout=60, progress=heard.append)
    return done, heard


def test_a_rolling_deployment_is_followed_until_ecs_completes_it(releases, ecs, aws_log):
    expect_deploy(ecs)
    r = releases.deploy(request())
    assert (r.id, r.deployment.task_definition, r.outcome) == ("ecs-svc/2", "orders:2", "InProgress")
    assert r.waiting_for == "0/2 new tasks running (2 pending); 2 old tasks still running"
    halfway = service([deployment("ecs-svc/2", "orders:2", running=1, pending=1, created=0, updated=30),
                       deployment("ecs-svc/1", "orders:1", status="ACTIVE", rollout="COMPLETED", running=2,
                                  created=-600, updated=-500)],
                      events=[event("(service orders) has started 1 tasks: (task 4f1b).", 30)])
    complete = service([deployment("ecs-svc/2", "orders:2", rollout="COMPLETED", running=2, created=0, updated=90),
                        deployment("ecs-svc/1", "orders:1", status="ACTIVE", rollout="COMPLETED", created=-600)],
                       events=[event("(service orders) has reached a steady state.", 90)])
    expect_polls(ecs, halfway, complete)
    done, heard = wait(releases, r.id)
    assert (done.outcome, done.deployment.rollout_state, done.deployment.completed_at) == (
        "Succeeded", "COMPLETED", complete["deployments"][0]["updatedAt"].timestamp())
    assert heard == ["1/2 new tasks running (1 pending); 2 old tasks still running; "
                     "latest event: (service orders) has started 1 tasks: (task 4f1b)."]
    registered = [p for s, o, p in aws_log.calls if o == "RegisterTaskDefinition"]
    assert registered[0]["containerDefinitions"][0]["image"] == IMAGE_V2
    assert [t["key"] for t in registered[0]["tags"]] == ["conveyor:fingerprint"]


def test_a_deployment_the_circuit_breaker_fails_is_failed_with_its_reason(releases, ecs):
    expect_deploy(ecs)
    r = releases.deploy(request())
    failing = service([deployment("ecs-svc/2", "orders:2", failed=2, pending=1, created=0, updated=40),
                       deployment("ecs-svc/1", "orders:1", status="ACTIVE", rollout="COMPLETED", running=2,
                                  created=-600)])
    rolled_back = service([deployment("ecs-svc/3", "orders:1", pending=2, created=60,
                                      reason="ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1."),
                           deployment("ecs-svc/2", "orders:2", status="ACTIVE", rollout="FAILED", failed=3,
                                      created=0, updated=60, reason=CIRCUIT_BREAKER_REASON),
                           deployment("ecs-svc/1", "orders:1", status="ACTIVE", rollout="COMPLETED", running=2,
                                      created=-600)])
    expect_polls(ecs, failing, rolled_back)
    done, heard = wait(releases, r.id)
    assert (done.outcome, done.deployment.reason, done.deployment.failed_tasks) == (
        "Failed", CIRCUIT_BREAKER_REASON, 3)
    assert heard == ["0/2 new tasks running (1 pending); 2 old tasks still running; "
                     "2 failed tasks so far (the circuit breaker counts them)"]


def test_throttling_while_waiting_is_reported_and_waiting_carries_on(releases, ecs):
    expect_deploy(ecs)
    r = releases.deploy(request())
    # A stubbed answer skips botocore's retries (they happen when sending, which a Stubber
    # replaces): one ThrottlingException is what the standard mode's last attempt would raise.
    ecs.add_client_error("describe_services", service_error_code="ThrottlingException", service_message="Rate exceeded",
                         http_status_code=400, expected_params=SERVICE)
    expect_polls(ecs, service([deployment("ecs-svc/2", "orders:2", rollout="COMPLETED", running=2, updated=90)]))
    done, heard = wait(releases, r.id)
    assert done.outcome == "Succeeded"
    assert len(heard) == 1 and heard[0].startswith("ecs:DescribeServices is throttled or failing on AWS's side "
                                                   "(ThrottlingException: Rate exceeded)")
    assert "asking again in" in heard[0]


def test_a_rerun_after_a_crash_adopts_the_deployment_the_first_run_started(releases, ecs, stubbed, aws_log,
                                                                           monkeypatch):
    class Crash(Exception):
        pass

    def crash_point(name: str) -> None:
        if name == "release.created":
            raise Crash(name)

    monkeypatch.setattr("conveyor.release.service.crash_point", crash_point)
    expect_deploy(ecs, then_look=False)  # the crash comes first
    with pytest.raises(Crash):
        releases.deploy(request(KEY))
    assert releases.store.request(KEY).release_id is None  # the daemon died before recording the deployment
    registered = next(p for s, o, p in aws_log.calls if o == "RegisterTaskDefinition")

    restarted = ReleaseService({"aws": aws_backend(stubbed.apis, monkeypatch)}, releases.store, poll_seconds=0.001)
    monkeypatch.setattr("conveyor.release.service.crash_point", lambda name: None)
    expect_describe_service(ecs, updated())
    ecs.add_response("describe_task_definition", task_definition("orders:2", IMAGE_V2), {"taskDefinition": "orders:2"})
    ecs.add_response("list_task_definitions", {"taskDefinitionArns": [td_arn("orders:2"), td_arn("orders:1")]},
                     {"familyPrefix": "orders", "status": "ACTIVE", "sort": "DESC"})
    ecs.add_response("describe_task_definition", task_definition("orders:2", IMAGE_V2, tags=registered["tags"]),
                     {"taskDefinition": td_arn("orders:2"), "include": ["TAGS"]})
    ecs.add_response("describe_services", describe_services(updated()), SERVICE)
    ecs.add_response("describe_services", describe_services(updated()), SERVICE)
    again = restarted.deploy(request(KEY))
    assert (again.id, again.deployment.task_definition) == ("ecs-svc/2", "orders:2")
    assert restarted.store.request(KEY).release_id == "ecs-svc/2"
    assert [o for s, o, p in aws_log.calls].count("UpdateService") == 1
    assert [o for s, o, p in aws_log.calls].count("RegisterTaskDefinition") == 1


def test_rollback_deploys_the_revision_of_the_last_successful_service_deployment(releases, ecs):
    expect_deploy(ecs)
    releases.deploy(request())
    now = service([deployment("ecs-svc/2", "orders:2", rollout="COMPLETED", running=2, updated=90)])
    # (the controller comes from the declaration the deploy stored: no DescribeServices for it)
    ecs.add_response("describe_services", describe_services(now), SERVICE)
    revision = f"arn:aws:ecs:eu-west-1:123456789012:service-revision/{CLUSTER}/orders/"
    ecs.add_response("list_service_deployments", {"serviceDeployments": [
        {"serviceDeploymentArn": "arn:sd/2", "status": "SUCCESSFUL", "targetServiceRevisionArn": revision + "2",
         "finishedAt": at(90)},
        {"serviceDeploymentArn": "arn:sd/1", "status": "SUCCESSFUL", "targetServiceRevisionArn": revision + "1",
         "finishedAt": at(-500)}]},
        {"cluster": CLUSTER, "service": "orders", "status": ["SUCCESSFUL"], "maxResults": 20})
    ecs.add_response("describe_service_revisions", {"serviceRevisions": [
        {"serviceRevisionArn": revision + "2", "taskDefinition": td_arn("orders:2")},
        {"serviceRevisionArn": revision + "1", "taskDefinition": td_arn("orders:1")}], "failures": []},
        {"serviceRevisionArns": [revision + "2", revision + "1"]})
    back = service([deployment("ecs-svc/4", "orders:1", pending=2, created=120),
                    deployment("ecs-svc/2", "orders:2", status="ACTIVE", rollout="COMPLETED", running=2)])
    ecs.add_response("update_service", {"service": back},
                     {"cluster": CLUSTER, "service": "orders", "taskDefinition": "orders:1"})
    ecs.add_response("describe_services", describe_services(back), SERVICE)
    r = releases.rollback("production", "orders", who="ana", reason="p99 up")
    assert (r.id, r.deployment.task_definition) == ("ecs-svc/4", "orders:1")
    assert r.deployment.origin == {"rollback": True, "to": "orders:1", "by": "ana", "reason": "p99 up"}


def test_deploying_to_a_service_nobody_provisioned_says_to_provision_it(releases, ecs):
    missing = {"services": [], "failures": [{"arn": f"arn:aws:ecs:eu-west-1:123456789012:service/{CLUSTER}/orders",
                                             "reason": "MISSING"}]}
    ecs.add_response("describe_services", missing, SERVICE)
    ecs.add_response("list_task_definitions", {"taskDefinitionArns": []},
                     {"familyPrefix": "orders", "status": "ACTIVE", "sort": "DESC"})
    ecs.add_response("register_task_definition", task_definition("orders:1", IMAGE_V2))
    ecs.add_response("describe_services", missing, SERVICE)
    with pytest.raises(NotFound, match="no ECS service 'orders' in cluster 'orders-prod' "
                                       r"\(environment production\)") as caught:
        releases.deploy(request())
    assert "conveyor provision" in (caught.value.hint or "")
