"""The /hooks/* endpoints in-process (a recording service, the real secret store and delivery
table): what is refused (401, counted, before any parsing), what is deduplicated, what reaches
the service; and the two ways of serving them (the API's listener, a listener of their own)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from webhook_examples import (
    ZERO,
    bitbucket_pull_request,
    bitbucket_push,
    body,
    github_ping,
    github_pull_request,
    github_push,
    gitlab_merge_request,
    gitlab_push,
    hub_signature,
)

from conveyor.hostcheck import allowed_hosts
from conveyor.secrets.store import SecretStore
from conveyor.server.hook_payloads import sign_generic
from conveyor.server.hooks import HookReceiver, create_hooks_app, webhook_server

SECRET = "s3cret-for-hooks"
NOW = 1_800_000_000.0
REPO = "https://github.com/Codertocat/Hello-World"


class Store:
    def __init__(self, repositories):
        self.repositories = repositories

    def pipelines(self):
        return [{"name": f"p{i}", "repository": r} for i, r in enumerate(self.repositories)]


class RecordingService:
    """What the receiver needs of conveyor.engine.service.Service, recording each call."""

    def __init__(self, home: Path, repositories=(REPO,)):
        self.secrets = SecretStore(home)
        self.store = Store(list(repositories))
        self.calls: list[tuple] = []

    def on_push(self, repository, ref, before, after, source="GitPush"):
        self.calls.append(("push", repository, ref, before, after, source))
        return [{"id": f"ex-{len(self.calls)}", "pipeline": "p0", "status": "InProgress"}]

    def on_pull_request(self, repository, **kw):
        self.calls.append(("pr", repository, kw))
        return [{"id": f"ex-{len(self.calls)}", "pipeline": "p0", "status": "InProgress"}]


class Clock:
    def __init__(self, now: float = NOW):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def service(home):
    svc = RecordingService(home)
    svc.secrets.set("webhooks/github", SECRET)
    return svc


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def receiver(service, home, clock):
    r = HookReceiver(service, home, clock=clock)
    yield r
    r.close()


@pytest.fixture
def client(receiver):
    return TestClient(create_hooks_app(receiver, allowed_hosts("127.0.0.1")), base_url="http://127.0.0.1")


def github(client, payload: dict, event: str = "push", delivery: str = "d-1", secret: str = SECRET,
           tamper: bytes = b"", signature: str | None = None):
    data = body(payload)
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "Content-Type": "application/json",
               "X-Hub-Signature-256": signature if signature is not None else hub_signature(secret, data)}
    if signature == "":
        del headers["X-Hub-Signature-256"]
    return client.post("/hooks/github", content=data + tamper, headers=headers)


def test_a_signed_github_push_reaches_the_service_as_a_webhook_push(client, service, receiver):
    answer = github(client, github_push(clone_url=REPO + ".git"))
    assert answer.status_code == 202
    assert answer.json() == {"host": "github", "started": [{"id": "ex-1", "pipeline": "p0", "status": "InProgress"}]}
    assert service.calls == [("push", REPO, "refs/heads/main", "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
                              "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "Webhook")]
    assert receiver.stats()["hosts"]["github"] == {"secret": True, "accepted": 1, "duplicates": 0, "refused": {}}


def test_forged_requests_are_refused_alike_and_counted_by_reason(client, service, receiver):
    payload = github_push()
    answers = [github(client, payload, tamper=b" "), github(client, payload, secret="wrong"),
               github(client, payload, signature=""), github(client, payload, signature="sha256=00")]
    assert [a.status_code for a in answers] == [401, 401, 401, 401]
    assert len({a.text for a in answers}) == 1  # the same body whatever the reason
    assert service.calls == []
    assert receiver.stats()["hosts"]["github"]["refused"] == {"bad-signature": 3, "missing-signature": 1}


def test_a_forged_body_is_never_parsed(client, service, receiver):
    answer = client.post("/hooks/github", content=b"{" * 10_000, headers={
        "X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert answer.status_code == 401  # not 400 "malformed JSON": the signature is checked first


def test_a_redelivery_answers_duplicate_and_starts_nothing(client, service):
    assert github(client, github_push(), delivery="abc").status_code == 202
    again = github(client, github_push(), delivery="abc")
    assert (again.status_code, again.json()) == (200, {"duplicate": True, "delivery": "abc"})
    assert len(service.calls) == 1
    assert github(client, github_push(), delivery="abd").status_code == 202
    assert len(service.calls) == 2


def test_a_delivery_that_failed_is_taken_again_when_redelivered(client, service):
    from conveyor.errors import ConveyorError

    def broken(*args, **kwargs):
        raise ConveyorError("cannot read git repository")

    service.on_push = broken
    answer = github(client, github_push(), delivery="x")
    assert (answer.status_code, answer.json()["error"]["type"]) == (422, "Failed")
    del service.on_push
    assert github(client, github_push(), delivery="x").status_code == 202


def test_without_a_secret_every_request_is_refused_and_the_log_says_how_once(home, clock, caplog):
    service = RecordingService(home)
    receiver = HookReceiver(service, home, clock=clock)
    client = TestClient(create_hooks_app(receiver, allowed_hosts("127.0.0.1")), base_url="http://127.0.0.1")
    for _ in range(2):
        assert github(client, github_push()).status_code == 401
    hints = [r.getMessage() for r in caplog.records if "no secret is configured" in r.getMessage()]
    assert len(hints) == 1 and "conveyor secret set webhooks/github" in hints[0]
    assert receiver.stats()["hosts"]["github"] == {"secret": False, "accepted": 0, "duplicates": 0,
                                                   "refused": {"no-secret": 2}}
    assert service.calls == []
    receiver.close()


def test_ping_ignored_events_and_unknown_repositories(client, service):
    assert github(client, github_ping(), event="ping").json() == {"ping": True, "host": "github"}
    labeled = github(client, github_pull_request("labeled"), event="pull_request", delivery="2")
    assert (labeled.status_code, labeled.json()["ignored"]) == (200, ["pull_request action 'labeled'"])
    other = github(client, github_push(full_name="someone/else", clone_url="https://github.com/someone/else.git"),
                   delivery="3")
    assert (other.status_code, other.json()["unmatched"]) == (200, ["someone/else"])
    assert service.calls == []


def test_a_github_pull_request_is_handed_over_with_its_ref(client, service):
    answer = github(client, github_pull_request("opened", number=7), event="pull_request")
    assert answer.status_code == 202
    [(kind, repository, kw)] = service.calls
    assert (kind, repository) == ("pr", REPO)
    assert kw == {"number": 7, "event": "OPEN", "source_branch": "changes", "target_branch": "main",
                  "head": "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
                  "base": "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", "head_ref": "refs/pull/7/head"}


def test_a_form_encoded_github_delivery(client, service):
    from urllib.parse import urlencode

    data = urlencode({"payload": json.dumps(github_push())}).encode()
    answer = client.post("/hooks/github", content=data, headers={
        "X-GitHub-Event": "push", "Content-Type": "application/x-www-form-urlencoded",
        "X-Hub-Signature-256": hub_signature(SECRET, data)})
    assert answer.status_code == 202 and len(service.calls) == 1


def test_gitlab_token_push_tag_and_merge_request(home, clock):
    service = RecordingService(home, ["/srv/git/mike/diaspora.git", "http://example.com/gitlabhq/gitlab-test.git"])
    service.secrets.set("webhooks/gitlab", SECRET)
    receiver = HookReceiver(service, home, clock=clock)
    client = TestClient(create_hooks_app(receiver, allowed_hosts("127.0.0.1")), base_url="http://127.0.0.1")

    def send(payload, event, token=SECRET, uuid="u1"):
        return client.post("/hooks/gitlab", content=body(payload), headers={
            "X-Gitlab-Event": event, "X-Gitlab-Token": token, "X-Gitlab-Event-UUID": uuid})

    assert send(gitlab_push(), "Push Hook").status_code == 202  # matched by owner/name: mike/diaspora
    assert send(gitlab_push(ref="refs/tags/v1.0.0", before=ZERO), "Tag Push Hook", uuid="u2").status_code == 202
    assert send(gitlab_merge_request(), "Merge Request Hook", uuid="u3").status_code == 202
    assert send(gitlab_push(), "Push Hook", token="guess", uuid="u4").status_code == 401
    assert [c[:3] for c in service.calls[:2]] == [("push", "/srv/git/mike/diaspora.git", "refs/heads/master"),
                                                 ("push", "/srv/git/mike/diaspora.git", "refs/tags/v1.0.0")]
    assert service.calls[2][1] == "http://example.com/gitlabhq/gitlab-test.git"
    assert service.calls[2][2]["head_ref"] == "refs/merge-requests/1/head"
    receiver.close()


def test_bitbucket_signed_push_and_pull_request(home, clock):
    service = RecordingService(home, ["https://bitbucket.org/team_name/repo_name.git"])
    service.secrets.set("webhooks/bitbucket", SECRET)
    receiver = HookReceiver(service, home, clock=clock)
    client = TestClient(create_hooks_app(receiver, allowed_hosts("127.0.0.1")), base_url="http://127.0.0.1")

    def send(payload, key, uuid, secret=SECRET):
        data = body(payload)
        return client.post("/hooks/bitbucket", content=data, headers={
            "X-Event-Key": key, "X-Request-UUID": uuid, "X-Hub-Signature": hub_signature(secret, data)})

    assert send(bitbucket_push([("branch", "master", "a" * 40, "b" * 40)]), "repo:push", "r1").status_code == 202
    assert send(bitbucket_pull_request(), "pullrequest:updated", "r2").status_code == 202
    assert send(bitbucket_push([("branch", "master", "a" * 40, "c" * 40)]), "repo:push", "r3",
                secret="nope").status_code == 401
    assert service.calls[0][1:5] == ("https://bitbucket.org/team_name/repo_name.git", "refs/heads/master", "a" * 40,
                                     "b" * 40)
    assert service.calls[1][2]["event"] == "UPDATED"
    receiver.close()


def test_generic_hook_replay_window_and_delivery_id(home, clock):
    service = RecordingService(home, ["/srv/git/app.git"])
    service.secrets.set("webhooks/generic", SECRET)
    receiver = HookReceiver(service, home, clock=clock)
    client = TestClient(create_hooks_app(receiver, allowed_hosts("127.0.0.1")), base_url="http://127.0.0.1")
    data = body({"repository": "/srv/git/app.git", "ref": "refs/heads/main", "before": ZERO, "after": "a" * 40})

    def send(stamp: int, delivery: str | None = "g1", payload: bytes = data):
        headers = {"X-Conveyor-Timestamp": str(stamp), "X-Conveyor-Signature-256": sign_generic(SECRET, stamp, payload)}
        if delivery:
            headers["X-Conveyor-Delivery"] = delivery
        return client.post("/hooks/generic", content=payload, headers=headers)

    assert send(int(NOW) - 60).status_code == 202
    clock.now += 600  # the same request, replayed ten minutes later, with a fresh delivery id
    assert send(int(NOW) - 60, delivery="g2").status_code == 401
    assert send(int(clock.now), delivery=None).status_code == 401
    assert receiver.stats()["hosts"]["generic"]["refused"] == {"missing-delivery": 1, "stale-timestamp": 1}
    assert len(service.calls) == 1
    receiver.close()


def test_a_per_repository_secret_signs_only_its_repository_and_takes_precedence(client, service):
    service.secrets.set("webhooks/github/codertocat/hello-world", "repo-secret")
    service.store.repositories.append("https://github.com/acme/app")
    assert github(client, github_push(), secret="repo-secret", delivery="1").status_code == 202
    # the host's secret no longer signs a repository that has its own
    assert github(client, github_push(), secret=SECRET, delivery="2").status_code == 401
    other = github_push(full_name="acme/app", clone_url="https://github.com/acme/app.git")
    assert github(client, other, secret="repo-secret", delivery="3").status_code == 401  # not its repository
    assert github(client, other, secret=SECRET, delivery="4").status_code == 202
    assert [c[1] for c in service.calls] == [REPO, "https://github.com/acme/app"]


def test_body_limits_apply_before_verification(client, service, receiver):
    answer = client.post("/hooks/github", content=b"x" * 10, headers={"Content-Length": str(2 << 20)})
    assert answer.status_code == 413
    assert client.get("/hooks/github").status_code == 405
    assert client.post("/hooks/gitea", content=b"{}").status_code == 404


def test_the_host_header_is_checked_on_the_webhook_listener(receiver):
    client = TestClient(create_hooks_app(receiver, allowed_hosts("127.0.0.1", ["ci.example.com"])),
                        base_url="http://evil.example")
    assert github(client, github_push()).status_code == 421
    allowed = TestClient(create_hooks_app(receiver, allowed_hosts("127.0.0.1", ["ci.example.com"])),
                         base_url="http://ci.example.com")
    assert github(allowed, github_push()).status_code == 202


def test_on_the_api_listener_the_hooks_need_no_token_and_the_api_still_does(receiver, real_api):
    from conveyor.server.asgi import create_app

    real_api.webhooks = receiver
    client = TestClient(create_app(real_api, allowed_hosts("127.0.0.1"), hooks=receiver),
                        base_url="http://127.0.0.1")
    assert github(client, github_push()).status_code == 202
    assert client.get("/api/v1/webhooks").status_code == 401
    stats = client.get("/api/v1/webhooks", headers={"Authorization": "Bearer " + real_api.token}).json()
    assert stats["enabled"] is True and stats["hosts"]["github"]["accepted"] == 1
    plain = TestClient(create_app(real_api, allowed_hosts("127.0.0.1")), base_url="http://127.0.0.1")
    assert github(plain, github_push(), delivery="x").status_code == 404  # not served without --webhooks


def test_a_listener_of_their_own_binds_loopback_and_serves_only_hooks(receiver):
    import httpx

    server = webhook_server(receiver, "127.0.0.1:0", [])
    server.start()
    try:
        host, port = server.address
        assert host == "127.0.0.1"
        url = f"http://{host}:{port}"
        assert httpx.get(f"{url}/api/v1/health").status_code == 404
        data = body(github_push())
        answer = httpx.post(f"{url}/hooks/github", content=data, headers={
            "X-GitHub-Event": "push", "X-Hub-Signature-256": hub_signature(SECRET, data)})
        assert answer.status_code == 202
    finally:
        server.stop()
    with pytest.raises(OSError):
        socket.create_connection((host, port), timeout=1).close()


def test_webhooks_listen_needs_host_and_port():
    from conveyor.errors import UserError
    from conveyor.server.hooks import parse_listen

    assert parse_listen("0.0.0.0:7879") == ("0.0.0.0", 7879)
    assert parse_listen("[::1]:7879") == ("::1", 7879)
    with pytest.raises(UserError, match="is not HOST:PORT"):
        parse_listen("7879")


def test_conveyor_up_refuses_a_network_webhook_listener_without_allow_remote():
    from types import SimpleNamespace

    from conveyor.cli.daemonctl import _webhooks
    from conveyor.errors import UserError

    assert _webhooks(SimpleNamespace(webhooks=True, webhooks_listen=None)) == ["--webhooks"]
    assert _webhooks(SimpleNamespace(webhooks=False, webhooks_listen="127.0.0.1:7879")) == [
        "--webhooks-listen", "127.0.0.1:7879"]
    with pytest.raises(UserError, match="not a loopback address"):
        _webhooks(SimpleNamespace(webhooks=False, webhooks_listen="0.0.0.0:7879", allow_remote=False))
    assert _webhooks(SimpleNamespace(webhooks=False, webhooks_listen="0.0.0.0:7879", allow_remote=True)) == [
        "--webhooks-listen", "0.0.0.0:7879"]
    assert _webhooks(SimpleNamespace()) == []
