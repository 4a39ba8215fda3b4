"""The Api without a transport (Api.handle): how a route's outcome maps to a status, that the
schema is checked before the route runs, and that a log is served only when the execution has it."""

from __future__ import annotations

import logging

import pytest

from conveyor.backend.fake import FakeBackend
from conveyor.errors import ConveyorError, NotFound
from conveyor.release.service import ReleaseService
from conveyor.release.store import ReleaseStore
from conveyor.server.api import Api

TOKEN = "t"


class Logs:
    """A service stand-in with one execution that has one log stream."""

    def __init__(self):
        self.read: list[tuple] = []

    def log_streams(self, execution_id):
        if execution_id != "ex1":
            raise NotFound(f"no execution {execution_id}")
        return [{"stage": "Build", "action": "Compile", "attempt": 1, "size": 5}]

    def log_text(self, execution_id, stage, action, attempt, offset=0):
        self.read.append((execution_id, stage, action, attempt, offset))
        return "hello", 5

    def set_secret(self, name, value, by=""):
        raise ConveyorError("the secret store is locked", hint="try again")

    def list_secrets(self):
        raise RuntimeError("boom")

    def start_execution(self, **kwargs):
        self.read.append(("start", kwargs))
        return {"id": "ex2"}


@pytest.fixture
def api():
    return Api(Logs(), ReleaseService({"local": FakeBackend().backend}, ReleaseStore(":memory:")), TOKEN)  # type: ignore[arg-type]


def call(api, method, path, body=None, query=None):
    return api.handle(method, path, query or {}, body or {}, f"Bearer {TOKEN}")


def test_a_log_the_execution_has_is_served_from_an_offset(api):
    status, body = call(api, "GET", "/api/v1/executions/ex1/logs/Build/Compile/1", query={"offset": "2"})
    assert (status, body) == (200, {"text": "hello", "offset": 5})
    assert api.service.read == [("ex1", "Build", "Compile", 1, 2)]


@pytest.mark.parametrize("path", [
    "/api/v1/executions/ex1/logs/..%2F..%2F..%2Fetc/passwd/1",
    "/api/v1/executions/ex1/logs/Build/..%2FCompile/1",
    "/api/v1/executions/ex1/logs/Build/Compile/2",
    "/api/v1/executions/ex2/logs/Build/Compile/1",
])
def test_a_log_it_does_not_have_is_404_and_no_file_is_opened(api, path):
    status, body = call(api, "GET", path)
    assert (status, body["error"]["type"]) == (404, "NotFound")
    assert api.service.read == []


def test_a_named_failure_is_422_and_a_bug_is_500_with_the_traceback_in_the_log(api, caplog):
    status, body = call(api, "POST", "/api/v1/secrets", {"name": "a", "value": "b"})
    assert (status, body["error"]) == (422, {"type": "Failed", "message": "the secret store is locked",
                                             "hint": "try again"})
    with caplog.at_level(logging.ERROR, logger="conveyor.api"):
        status, body = call(api, "GET", "/api/v1/secrets")
    assert (status, body["error"]["type"]) == (500, "InternalError")
    assert "RuntimeError: boom" in caplog.text


def test_the_body_is_checked_against_the_schema_before_the_route_runs(api):
    status, body = call(api, "POST", "/api/v1/executions", {"repository": ".", "variables": ["A=1"]})
    assert status == 400
    assert body["error"]["message"] == "invalid request: body.variables: expected object or null, got array"
    status, body = call(api, "POST", "/api/v1/executions", {"repository": ".", "variables": {"A": {"x": 1}}})
    assert "body.variables.A: expected string or number or boolean, got object" in body["error"]["message"]
    assert api.service.read == []
    status, body = call(api, "POST", "/api/v1/executions", {"repository": ".", "variables": {"A": 1, "B": True}})
    assert status == 200
    assert api.service.read[0][1]["variables"] == {"A": "1", "B": "True"}


def test_unknown_path_wrong_method_and_no_token(api):
    assert call(api, "GET", "/api/v1/nope")[0] == 404
    status, body = call(api, "PATCH", "/api/v1/secrets")
    assert (status, body["error"]["hint"]) == (405, "allowed: GET, POST")
    assert api.handle("GET", "/api/v1/secrets", {}, {}, None)[0] == 401
    assert api.handle("GET", "/api/v1/health", {}, {}, None)[0] == 200


class Leaky(Logs):
    def set_secret(self, name, value, by=""):
        raise ConveyorError(f"could not store {value}", hint=f"the value was {value}")


def test_an_error_answer_is_masked_like_any_other():
    """An exception's message may quote a secret: every body the app sends goes through the masker."""
    from starlette.testclient import TestClient

    from conveyor.hostcheck import allowed_hosts
    from conveyor.secrets.masking import default_masker
    from conveyor.server.asgi import create_app

    value = "hunter2-correct-horse"
    default_masker().add(value)
    api = Api(Leaky(), ReleaseService({"local": FakeBackend().backend}, ReleaseStore(":memory:")), TOKEN)  # type: ignore[arg-type]
    client = TestClient(create_app(api, allowed_hosts("127.0.0.1")), base_url="http://127.0.0.1")
    answer = client.post("/api/v1/secrets", json={"name": "db", "value": value},
                         headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 422
    assert value not in answer.text
    assert answer.json()["error"]["message"] == "could not store ***"
