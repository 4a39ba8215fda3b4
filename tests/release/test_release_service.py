"""The release service over the in-memory backend: which backend and controller it picks, how it
prepares revisions, idempotent creation across a crash, waiting, status and people's actions."""

from __future__ import annotations

import threading

import pytest

from conveyor.backend.errors import BackendUnavailable, DeploymentLimitExceeded
from conveyor.backend.fake import FakeBackend
from conveyor.config.imagedefs import ImageDefinition
from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import NotFound, UserError
from conveyor.release.service import DeployRequest, ReleaseService
from conveyor.release.store import ReleaseRecord, ReleaseStore

TASKDEF = {"family": "orders", "containerDefinitions": [
    {"name": "api", "image": "<IMAGE1_NAME>", "essential": True, "portMappings": [{"containerPort": 8080}]},
    {"name": "sidecar", "image": "<IMAGE2_NAME>", "essential": False}]}
LB = {"port": 8081, "container": "api", "containerPort": 8080}


def rolling(target: str = "local") -> ServiceSpec:
    return ServiceSpec.from_config("staging", "orders", {"desiredCount": 2, "loadBalancer": LB}, target=target)


def blue_green() -> ServiceSpec:
    return ServiceSpec.from_config("production", "orders", {
        "desiredCount": 2, "loadBalancer": {**LB, "port": 8080, "testPort": 9080},
        "deployment": {"controller": "CODE_DEPLOY"}})


@pytest.fixture
def fake():
    return FakeBackend()


@pytest.fixture
def releases(fake):
    return ReleaseService({"local": fake.backend}, ReleaseStore(":memory:"), poll_seconds=0.001)


def images(api: str = "registry/orders:v1", sidecar: str = "registry/proxy:1") -> tuple[ImageDefinition, ...]:
    return (ImageDefinition("api", api), ImageDefinition("sidecar", sidecar))


def test_a_rolling_service_gets_an_ecs_deployment_of_the_prepared_revision(releases, fake):
    r = releases.deploy(DeployRequest("staging", "orders", rolling(), taskdef=TASKDEF, images=images()))
    assert fake.calls == [("register_task_definition", "orders", 1),
                          ("update_service", "staging", "orders", "orders:1")]
    body = fake.ecs.taskdefs["orders"][0]
    assert [c["image"] for c in body["containerDefinitions"]] == ["registry/orders:v1", "registry/proxy:1"]
    assert (r.deployment.kind, r.outcome, r.done) == ("ecs", "InProgress", False)
    assert r.to_json()["waitingFor"] == "fake: waiting for complete() or fail()"
    fake.ecs.complete(r.id)
    done = releases.get(r.id)
    assert (done.outcome, done.done, done.waiting_for) == ("Succeeded", True, "")


def test_placeholders_the_images_leave_open_keep_the_running_image(releases, fake):
    first = releases.deploy(DeployRequest("staging", "orders", rolling(), taskdef=TASKDEF, images=images()))
    fake.ecs.complete(first.id)
    releases.deploy(DeployRequest("staging", "orders", rolling(), taskdef=TASKDEF,
                                  images=(ImageDefinition("api", "registry/orders:v2"),)))
    body = fake.ecs.taskdefs["orders"][1]
    assert [c["image"] for c in body["containerDefinitions"]] == ["registry/orders:v2", "registry/proxy:1"]


def test_without_a_spec_the_last_declaration_is_deployed(releases, fake):
    releases.deploy(DeployRequest("staging", "orders", rolling(), taskdef=TASKDEF, images=images()))
    r = releases.deploy(DeployRequest("staging", "orders", images=(ImageDefinition("", "registry/orders:v3"),)))
    assert r.deployment.task_definition == "orders:2"
    assert fake.ecs.taskdefs["orders"][1]["containerDefinitions"][0]["image"] == "registry/orders:v3"


def test_deploying_an_unknown_service_without_a_spec_says_how_to_declare_it(releases):
    with pytest.raises(NotFound, match="no service 'orders' in environment 'staging'"):
        releases.deploy(DeployRequest("staging", "orders", images=images()))


def test_a_blue_green_service_gets_a_codedeploy_deployment(releases, fake):
    r = releases.deploy(DeployRequest("production", "orders", blue_green(), taskdef=TASKDEF, images=images(),
                                      appspec="version: 0.0\n"))
    assert fake.calls[-1] == ("create_deployment", "production", "orders", "orders:1")
    assert (r.deployment.kind, r.deployment.status, r.waiting_for) == ("codedeploy", "Created", "Start")
    fake.codedeploy.advance(r.id, "AllowTraffic", waiting="10% of production on green", traffic=10)
    assert releases.get(r.id).waiting_for == "AllowTraffic: 10% of production on green"
    with pytest.raises(DeploymentLimitExceeded):
        releases.deploy(DeployRequest("production", "orders", blue_green(), taskdef=TASKDEF, images=images()))


def test_the_same_key_deploys_once(releases, fake):
    request = DeployRequest("production", "orders", blue_green(), taskdef=TASKDEF, images=images(),
                            key="ex-1/Deploy/Deploy/1")
    first = releases.deploy(request)
    again = releases.deploy(request)
    assert again.id == first.id
    assert [c for c in fake.calls if c[0] == "create_deployment"] == [
        ("create_deployment", "production", "orders", "orders:1")]


def test_a_crash_between_the_backend_call_and_the_record_is_adopted_on_the_rerun(releases, fake):
    """The first run recorded its key and the backend created the deployment, then the daemon
    died before the key's record said so: the re-run finds it through the client token."""
    key = "ex-1/Deploy/Deploy/1"
    releases.store.intend(key, "production", "orders")
    created = fake.codedeploy.create_deployment(blue_green(), task_definition="orders:1", appspec=None,
                                                appspec_source="appspec.yaml", client_token=key, creator="CodePipeline",
                                                origin={}, workdir=None)
    fake.ecs.register_task_definition("production", _prepared_body())
    r = releases.deploy(DeployRequest("production", "orders", blue_green(), taskdef=TASKDEF, images=images(), key=key))
    assert r.id == created.id
    assert len([c for c in fake.calls if c[0] == "create_deployment"]) == 1
    assert releases.store.request(key).release_id == created.id


def _prepared_body() -> dict:
    body = {**TASKDEF, "containerDefinitions": [dict(c) for c in TASKDEF["containerDefinitions"]]}
    body["containerDefinitions"][0]["image"] = "registry/orders:v1"
    body["containerDefinitions"][1]["image"] = "registry/proxy:1"
    return body


def test_an_environment_on_a_target_without_a_backend_is_refused_before_anything_is_made(releases, fake):
    with pytest.raises(BackendUnavailable, match="target 'aws' has no backend in this daemon"):
        releases.deploy(DeployRequest("staging", "orders", rolling(target="aws"), taskdef=TASKDEF, images=images()))
    assert fake.calls == []


def test_each_environment_goes_to_the_backend_of_its_target():
    local, other = FakeBackend("local"), FakeBackend("aws")
    releases = ReleaseService({"local": local.backend, "aws": other.backend}, ReleaseStore(":memory:"))
    releases.deploy(DeployRequest("staging", "orders", rolling(), taskdef=TASKDEF, images=images()))
    r = releases.deploy(DeployRequest("prod", "orders", ServiceSpec.from_config(
        "prod", "orders", {"loadBalancer": LB}, target="aws"), taskdef=TASKDEF, images=images()))
    assert [c[1] for c in local.calls if c[0] == "update_service"] == ["staging"]
    assert [c[1] for c in other.calls if c[0] == "update_service"] == ["prod"]
    assert releases.describe("prod", "orders").summary.target == "aws"
    assert releases.get(r.id).deployment.environment == "prod"
    assert {s.environment for s in releases.services()} == {"staging", "prod"}


def test_wait_reports_progress_and_people_and_returns_the_outcome(releases, fake):
    r = releases.deploy(DeployRequest("production", "orders", blue_green(), taskdef=TASKDEF, images=images()))
    fake.codedeploy.advance(r.id, "ReadyWait", waiting="manual reroute")
    heard: list[str] = []

    def progress(text: str) -> None:
        heard.append(text)
        if text.startswith("ReadyWait"):
            releases.continue_deployment("production", "orders", who="ana", reason="checked")
        elif text.startswith("continue"):
            fake.codedeploy.succeed(r.id)

    done = releases.wait(r.id, cancel=threading.Event(), timeout=60, progress=progress)
    assert done.outcome == "Succeeded"
    assert heard == ["ReadyWait: manual reroute", f"continue (ReadyWait) by ana: checked (deployment {r.id})"]


def test_wait_gives_up_at_its_deadline_or_when_cancelled(releases):
    r = releases.deploy(DeployRequest("staging", "orders", rolling(), taskdef=TASKDEF, images=images()))
    with pytest.raises(TimeoutError):
        releases.wait(r.id, cancel=threading.Event(), timeout=0)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(InterruptedError):
        releases.wait(r.id, cancel=cancel, timeout=60)


def test_a_deployment_replaced_before_it_completed_is_done_as_stopped(releases, fake):
    first = releases.deploy(DeployRequest("staging", "orders", rolling(), taskdef=TASKDEF, images=images()))
    releases.deploy(DeployRequest("staging", "orders", rolling(), taskdef=TASKDEF, images=images("registry/o:v2")))
    old = releases.get(first.id)
    assert (old.outcome, old.deployment.reason) == ("Stopped", "a newer deployment replaced it")


def test_status_has_one_shape_for_both_controllers(releases, fake):
    releases.deploy(DeployRequest("staging", "orders", rolling(), taskdef=TASKDEF, images=images()))
    releases.deploy(DeployRequest("production", "orders", blue_green(), taskdef=TASKDEF, images=images()))
    rolling_status = releases.status("staging", "orders")
    bg_status = releases.status("production", "orders")
    common = {"environment", "service", "controller", "target", "productionUrl", "testUrl", "deployment",
              "waitingFor", "alarms", "events", "rollbacks", "recent", "desiredCount"}
    assert common <= set(rolling_status) and common <= set(bg_status)
    assert (rolling_status["controller"], bg_status["controller"]) == ("ECS", "CODE_DEPLOY")
    assert bg_status["testUrl"] == "http://127.0.0.1:9080/"
    for status in (rolling_status, bg_status):
        assert {"id", "kind", "status", "outcome", "done", "taskDefinition", "reason", "waitingFor"} <= set(
            status["deployment"])


def test_blue_green_verbs_on_a_rolling_service_say_what_applies(releases):
    releases.deploy(DeployRequest("staging", "orders", rolling(), taskdef=TASKDEF, images=images()))
    with pytest.raises(UserError, match="applies to blue/green services"):
        releases.continue_deployment("staging", "orders", who="ana")


def test_rollback_goes_to_the_controller_of_the_service(releases, fake):
    first = releases.deploy(DeployRequest("staging", "orders", rolling(), taskdef=TASKDEF, images=images()))
    fake.ecs.complete(first.id)
    second = releases.deploy(DeployRequest("staging", "orders", rolling(), taskdef=TASKDEF,
                                           images=images("registry/o:v2")))
    fake.ecs.complete(second.id)
    back = releases.rollback("staging", "orders", who="ana", reason="p99")
    assert back.deployment.task_definition == "orders:1"
    bg = releases.deploy(DeployRequest("production", "orders", blue_green(), taskdef=TASKDEF, images=images()))
    stopped = releases.rollback("production", "orders", who="ana")
    assert (stopped.id, stopped.deployment.status) == (bg.id, "Stopped")
    assert releases.store.release(back.id) == ReleaseRecord(back.id, "staging", "orders", "ECS", "local")


def test_hook_status_reaches_the_backend_that_runs_the_deployment(releases, fake):
    r = releases.deploy(DeployRequest("production", "orders", blue_green(), taskdef=TASKDEF, images=images()))
    assert releases.put_hook_status(r.id, "exec-1", "Succeeded") == {"lifecycleEventHookExecutionId": "exec-1"}
    assert fake.codedeploy.hook_statuses == [(r.id, "exec-1", "Succeeded")]
    with pytest.raises(NotFound):
        releases.put_hook_status("d-UNKNOWN00", "exec-1", "Succeeded")


def test_the_store_keeps_peoples_actions_on_a_deployment():
    store = ReleaseStore(":memory:", clock=lambda: 5.0)
    store.record_action("d-1", "ana", "continue (READY_WAIT)", "checked staging")
    store.record_action("d-2", "bo", "stop", "")
    assert store.actions("d-1") == [{"at": 5.0, "who": "ana", "action": "continue (READY_WAIT)",
                                     "reason": "checked staging"}]
