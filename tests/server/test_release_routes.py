"""The API's services and deployments routes over the in-memory backend: the API reads no store
and decides nothing itself; every answer is the release service's, as JSON."""

from __future__ import annotations

import pytest

from conveyor.backend.fake import FakeBackend
from conveyor.release.service import ReleaseService
from conveyor.release.store import ReleaseStore
from conveyor.server.api import Api

TOKEN = "test-token"
TASKDEF = {"family": "orders", "containerDefinitions": [
    {"name": "api", "image": "<IMAGE1_NAME>", "portMappings": [{"containerPort": 8080}]}]}
SERVICE = {"desiredCount": 1, "loadBalancer": {"port": 8080, "testPort": 9080, "container": "api",
                                                "containerPort": 8080},
           "deployment": {"controller": "CODE_DEPLOY"}}


@pytest.fixture
def fake():
    return FakeBackend()


@pytest.fixture
def api(fake):
    return Api(None, ReleaseService({"local": fake.backend}, ReleaseStore(":memory:")), TOKEN)  # type: ignore[arg-type]


def call(api: Api, method: str, path: str, body: dict | None = None, query: dict | None = None):
    return api.handle(method, path, query or {}, body or {}, f"Bearer {TOKEN}")


def deploy(api: Api, body: dict | None = None):
    return call(api, "POST", "/api/v1/services/production/orders/deployments", {
        "service": SERVICE, "taskdef": TASKDEF, "images": [{"name": "api", "imageUri": "registry/orders:v1"}],
        "by": "ana", **(body or {})})


def test_a_deploy_answers_with_the_deployment_and_what_it_waits_for(api, fake):
    status, d = deploy(api)
    assert status == 200
    assert (d["kind"], d["status"], d["outcome"], d["done"], d["taskDefinition"], d["waitingFor"]) == (
        "codedeploy", "Created", "InProgress", False, "orders:1", "Start")
    assert d["origin"] == {"by": "ana", "via": "conveyor deploy"}
    fake.codedeploy.succeed(d["id"])
    status, again = call(api, "GET", f"/api/v1/deployments/{d['id']}")
    assert (status, again["outcome"], again["done"]) == (200, "Succeeded", True)


def test_a_rolling_deployment_id_with_a_slash_is_found(api, fake):
    status, d = deploy(api, {"service": {**SERVICE, "deployment": {"controller": "ECS"}}})
    assert d["id"].startswith("ecs-svc/")
    status, again = call(api, "GET", "/api/v1/deployments/" + d["id"].replace("/", "%2F"))
    assert (status, again["id"], again["kind"]) == (200, d["id"], "ecs")


def test_status_verbs_and_their_refusals_map_to_http(api, fake):
    _, d = deploy(api)
    status, s = call(api, "GET", "/api/v1/services/production/orders/deployment")
    assert (status, s["controller"], s["deployment"]["id"]) == (200, "CODE_DEPLOY", d["id"])
    status, err = call(api, "POST", "/api/v1/services/production/orders/deployment/continue", {"by": "ana"})
    assert (status, err["error"]["type"]) == (400, "BadRequest")
    assert "not waiting" in err["error"]["message"]
    status, err = deploy(api)
    assert status == 400 and "already in progress" in err["error"]["message"]
    status, err = call(api, "GET", "/api/v1/services/staging/nothing")
    assert status == 404


def test_every_route_needs_the_token(api):
    status, err = api.handle("GET", "/api/v1/services", {}, {}, "Bearer wrong")
    assert (status, err["error"]["type"]) == (401, "Unauthorized")


def test_a_target_without_a_backend_is_a_clear_bad_request(api, fake):
    status, err = deploy(api, {"target": "aws"})
    assert status == 400 and "target 'aws' has no backend" in err["error"]["message"]
    assert fake.calls == []
