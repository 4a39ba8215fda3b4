"""Inbound webhooks through the real daemon on its own webhook listener (127.0.0.1), a real git
repository and the real CLI: a signed GitHub push starts the branch pipeline, a signed tag push
only the tag-triggered one, a tampered delivery nothing (401, counted), a redelivery nothing."""

from __future__ import annotations

import json
import textwrap

import httpx
import pytest
from e2e_support import free_port, git, pipeline_repo, wait_until

SECRET = "e2e-webhook-secret"
STAGES = """\
  stages:
    - name: Source
      actions:
        - {name: Source, provider: Git, outputArtifacts: [src]}
    - name: Settle
      actions:
        - {name: Pause, provider: Wait, seconds: 0, inputArtifacts: [src]}
"""
BRANCHES = textwrap.dedent("""\
    name: on-main
    pipeline:
      executionMode: PARALLEL
      pollIntervalSeconds: 0
      triggers:
        - branches: [main]
    """) + STAGES
TAGS = BRANCHES.replace("name: on-main", "name: on-tags").replace("- branches: [main]", "- tags: [\"v*\"]")


def signed(data: bytes) -> str:
    import hashlib
    import hmac

    return "sha256=" + hmac.new(SECRET.encode(), data, hashlib.sha256).hexdigest()


def push_payload(ref: str, before: str, after: str) -> bytes:
    """GitHub's push event, its repository a GitHub URL that matches the local one by owner/name."""
    return json.dumps({"ref": ref, "before": before, "after": after, "created": False, "deleted": False,
                       "repository": {"full_name": "acme/app", "name": "app",
                                      "clone_url": "https://github.com/acme/app.git",
                                      "ssh_url": "git@github.com:acme/app.git"},
                       "pusher": {"name": "octocat"}}).encode()


def test_signed_github_pushes_start_their_pipelines_and_a_tampered_one_nothing(tmp_path, conveyor):
    port = free_port()
    conveyor("up", "--webhooks-listen", f"127.0.0.1:{port}")
    conveyor("secret", "set", "webhooks/github", input=SECRET)
    repo = pipeline_repo(tmp_path / "acme" / "app", BRANCHES)
    (repo / "release.yml").write_text(TAGS)
    git("add", "-A", cwd=repo)
    git("commit", "--quiet", "-m", "release pipeline", cwd=repo)
    conveyor("run", cwd=repo)  # registers on-main (and its execution)
    conveyor("run", "--config", "release.yml", cwd=repo)  # registers on-tags
    wait_until(lambda: all(r["status"] == "Succeeded" for r in conveyor.json("history")), 60,
               what="the registering executions")
    before = git("rev-parse", "HEAD", cwd=repo)
    (repo / "app.txt").write_text("v1\n")
    git("add", "-A", cwd=repo)
    git("commit", "--quiet", "-m", "change", cwd=repo)
    after = git("rev-parse", "HEAD", cwd=repo)
    url = f"http://127.0.0.1:{port}/hooks/github"

    def deliver(data: bytes, delivery: str, signature: str | None = None) -> httpx.Response:
        return httpx.post(url, content=data, timeout=60, headers={
            "X-GitHub-Event": "push", "X-GitHub-Delivery": delivery, "Content-Type": "application/json",
            "X-Hub-Signature-256": signature or signed(data)})

    branch = deliver(push_payload("refs/heads/main", before, after), "d-1")
    assert branch.status_code == 202
    assert [s["pipeline"] for s in branch.json()["started"]] == ["on-main"]
    git("tag", "-a", "-m", "release", "v1.0", cwd=repo)
    tag_object = git("rev-parse", "refs/tags/v1.0", cwd=repo)
    tagged = deliver(push_payload("refs/tags/v1.0", "0" * 40, tag_object), "d-2")
    assert (tagged.status_code, [s["pipeline"] for s in tagged.json()["started"]]) == (202, ["on-tags"])
    assert deliver(push_payload("refs/tags/v1.0", "0" * 40, tag_object), "d-2").json()["duplicate"] is True

    git("tag", "v1.1", cwd=repo)
    data = push_payload("refs/tags/v1.1", "0" * 40, after)
    tampered = deliver(data.replace(b"v1.1", b"v9.9"), "d-3", signature=signed(data))
    assert tampered.status_code == 401

    history = conveyor.json("history")
    webhook_runs = [r for r in history if r["trigger"]["type"] == "Webhook"]
    assert sorted((r["pipeline"], r["commit"]) for r in webhook_runs) == [("on-main", after), ("on-tags", after)]
    assert next(r for r in webhook_runs if r["pipeline"] == "on-tags")["trigger"]["tag"] == "v1.0"
    token = (conveyor.home / "token").read_text().strip()
    endpoint = json.loads((conveyor.home / "daemon.json").read_text())
    assert endpoint["webhooks"] == {"host": "127.0.0.1", "port": port}
    stats = httpx.get(f"http://{endpoint['host']}:{endpoint['port']}/api/v1/webhooks",
                      headers={"Authorization": f"Bearer {token}"}).json()
    assert stats["hosts"]["github"] == {"secret": True, "accepted": 2, "duplicates": 1,
                                        "refused": {"bad-signature": 1}}


def test_on_the_api_listener_a_ping_needs_the_secret_and_no_token(daemon_args_conveyor):
    conveyor = daemon_args_conveyor
    endpoint = json.loads((conveyor.home / "daemon.json").read_text())
    url = f"http://{endpoint['host']}:{endpoint['port']}/hooks/github"
    assert endpoint["webhooks"] == {"host": endpoint["host"], "port": endpoint["port"]}
    data = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    headers = {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "p-1", "X-Hub-Signature-256": signed(data)}
    assert httpx.post(url, content=data, headers=headers).status_code == 401  # no secret yet
    conveyor("secret", "set", "webhooks/github", input=SECRET)
    answer = httpx.post(url, content=data, headers=headers)
    assert (answer.status_code, answer.json()) == (200, {"ping": True, "host": "github"})
    log = (conveyor.home / "daemon.log").read_text()
    assert log.count("no secret is configured") == 1 and "conveyor secret set webhooks/github" in log


@pytest.fixture
def daemon_args_conveyor(conveyor):
    conveyor("up", "--webhooks")
    return conveyor
