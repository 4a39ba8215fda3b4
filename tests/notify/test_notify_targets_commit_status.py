"""The commitStatus target against a local stand-in for the GitHub and GitLab status APIs (the
receiver without a secret records each request): URL, headers, body, state per event, what is not
applicable, and how API errors are classified."""

from __future__ import annotations

import http.server
import threading

import pytest
from target_fixtures import COMMIT, SECRETS, clock, message, pipeline_event, secrets_from

from conveyor.config.notification_targets import TargetDef
from conveyor.events.types import Event, Subject
from conveyor.notify.receiver import Receiver
from conveyor.notify.target import DeliveryError
from conveyor.notify.targets import build_target

GITHUB_TOKEN, GITLAB_TOKEN = SECRETS["github/token"], SECRETS["gitlab/token"]


def status_target(provider: str, api: str, **extra):
    spec = {"provider": provider, "api": api.rstrip("/"),
            "repository": "acme/orders" if provider == "github" else "acme/web/orders",
            "token": f"{provider}/token", "context": None, "timeoutSeconds": 5}
    spec.update(extra)
    return build_target(TargetDef("commitStatus", spec), secrets_from(SECRETS), allow_host_commands=False)


@pytest.mark.parametrize("event_type, state", [("pipeline-execution-started", "pending"),
                                               ("pipeline-execution-resumed", "pending"),
                                               ("pipeline-execution-succeeded", "success"),
                                               ("pipeline-execution-failed", "failure"),
                                               ("pipeline-execution-canceled", "error"),
                                               ("pipeline-execution-superseded", "error")])
def test_github_status(event_type, state):
    with Receiver(clock=clock, status=201) as api:
        msg = message(pipeline_event(event_type, "orders #12 " + "y" * 200),
                      links={"dashboard": "http://127.0.0.1:8080/executions/1a2b"})
        receipt = status_target("github", api.url).send(msg)
        assert receipt == f"github: {state} on 4f2a9c0 as conveyor/orders (HTTP 201)"
        (req,) = api.deliveries()
    assert req.path == f"/repos/acme/orders/statuses/{COMMIT}"
    assert req.header("Authorization") == f"Bearer {GITHUB_TOKEN}"
    assert req.header("Accept") == "application/vnd.github+json"
    assert req.header("X-GitHub-Api-Version") == "2022-11-28"
    body = req.json()
    assert body["state"] == state and body["context"] == "conveyor/orders"
    assert body["target_url"] == "http://127.0.0.1:8080/executions/1a2b"
    assert len(body["description"]) == 140 and body["description"].startswith("orders #12 yyy")


@pytest.mark.parametrize("event_type, state", [("pipeline-execution-started", "running"),
                                               ("pipeline-execution-succeeded", "success"),
                                               ("pipeline-execution-failed", "failed"),
                                               ("pipeline-execution-canceled", "canceled")])
def test_gitlab_status(event_type, state):
    with Receiver(clock=clock, status=201) as api:
        receipt = status_target("gitlab", api.url + "api/v4", context="ci/conveyor").send(
            message(pipeline_event(event_type), links={}))
        assert receipt == f"gitlab: {state} on 4f2a9c0 as ci/conveyor (HTTP 201)"
        (req,) = api.deliveries()
    assert req.path == f"/api/v4/projects/acme%2Fweb%2Forders/statuses/{COMMIT}"
    assert req.header("PRIVATE-TOKEN") == GITLAB_TOKEN and req.header("Authorization") == ""
    assert req.json() == {"state": state, "name": "ci/conveyor", "ref": "main",
                          "description": "orders #12: stage Deploy failed"}


def test_other_events_and_executions_without_a_commit_are_not_applicable():
    with Receiver(clock=clock, status=201) as api:
        target = status_target("github", api.url)
        stage = pipeline_event("stage-execution-failed")
        assert target.send(message(stage)) == "not applicable: stage-execution-failed sets no commit status"
        deploy = Event("deployment-succeeded", 1.0, Subject(environment="production", service="web"), {}, "ok")
        assert target.send(message(deploy)).startswith("not applicable")
        no_git = pipeline_event(revision={"repository": "s3://bucket/src.zip"})
        assert target.send(message(no_git)) == "not applicable: the execution has no git commit"
        assert api.requests == []


class _Api(http.server.BaseHTTPRequestHandler):
    answer: tuple[int, dict[str, str], str] = (401, {}, '{"message": "Bad credentials"}')

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        status, headers, body = self.answer
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("answer, retry, said", [
    ((401, {}, '{"message": "Bad credentials"}'), False, "HTTP 401: Bad credentials"),
    ((404, {}, '{"message": "Not Found"}'), False, "HTTP 404: Not Found"),
    ((422, {}, '{"message": "Validation Failed"}'), False, "HTTP 422: Validation Failed"),
    ((403, {"X-RateLimit-Remaining": "0"}, '{"message": "API rate limit exceeded"}'), True, "HTTP 403"),
    ((403, {}, '{"message": "Resource not accessible by integration"}'), False, "HTTP 403"),
    ((429, {}, "{}"), True, "HTTP 429"),
    ((502, {}, "<html>bad gateway</html>"), True, "HTTP 502"),
])
def test_api_errors(answer, retry, said):
    _Api.answer = answer
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        with pytest.raises(DeliveryError) as err:
            status_target("github", f"http://127.0.0.1:{server.server_address[1]}").send(message())
    finally:
        server.shutdown()
        server.server_close()
    assert err.value.retry is retry and said in str(err.value)
    assert str(err.value).startswith("github status failure on 4f2a9c0: ")
    assert GITHUB_TOKEN not in str(err.value)
