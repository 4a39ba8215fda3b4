"""`conveyor deploy`, `deploy status` and `rollback` against a real HTTP API served in-process
over the in-memory backend: one renderer for every kind of deployment, exact output."""

from __future__ import annotations

import dataclasses
import json
import textwrap

import pytest

from conveyor.backend.fake import FakeBackend
from conveyor.backend.types import LifecycleEvent
from conveyor.cli.main import main
from conveyor.hostcheck import allowed_hosts
from conveyor.release.service import ReleaseService
from conveyor.release.store import ReleaseStore
from conveyor.server.api import Api
from conveyor.server.asgi import create_app
from conveyor.server.serve import ApiServer

TASKDEF = {"family": "orders", "containerDefinitions": [
    {"name": "api", "image": "<IMAGE1_NAME>", "portMappings": [{"containerPort": 8080}]}]}


@pytest.fixture
def fake():
    return FakeBackend(clock=lambda: 1_000_000.0)


@pytest.fixture
def cli(tmp_path, monkeypatch, fake):
    releases = ReleaseService({"local": fake.backend}, ReleaseStore(tmp_path / "releases.db"), poll_seconds=0.001)
    app = create_app(Api(None, releases, "tok"), allowed_hosts("127.0.0.1"))  # type: ignore[arg-type]
    server = ApiServer(app, "127.0.0.1", 0)
    server.start()
    home = tmp_path / "home"
    home.mkdir()
    (home / "token").write_text("tok\n")
    (home / "daemon.json").write_text(json.dumps({"host": "127.0.0.1", "port": server.address[1]}))
    monkeypatch.setenv("CONVEYOR_HOME", str(home))
    monkeypatch.setenv("USER", "ana")
    project = tmp_path / "project"
    project.mkdir()
    (project / "taskdef.json").write_text(json.dumps(TASKDEF))
    (project / "conveyor.yml").write_text(textwrap.dedent("""\
        name: orders
        pipeline:
          stages:
            - name: Source
              actions: [{name: Source, provider: Git, outputArtifacts: [src]}]
            - name: Deploy
              actions: [{name: Deploy, provider: ECS, environment: staging, service: orders, inputArtifacts: [src]}]
        environments:
          staging:
            services:
              orders:
                taskDefinition: taskdef.json
                loadBalancer: {port: 8081, container: api, containerPort: 8080}
          production:
            services:
              orders:
                taskDefinition: taskdef.json
                loadBalancer: {port: 8080, testPort: 9080, container: api, containerPort: 8080}
                deployment: {controller: CODE_DEPLOY}
        """))

    def run(*args: str) -> int:
        return main(list(args))

    run.project = project  # type: ignore[attr-defined]
    yield run
    server.stop()


def test_deploy_waits_for_success_whatever_the_controller(cli, fake, capsys):
    fake.ecs.auto_complete = fake.codedeploy.auto_complete = True
    conf = str(cli.project / "conveyor.yml")
    assert cli("deploy", "staging", "orders", "--image", "registry/orders:v1", "--file", conf) == 0
    assert cli("deploy", "production", "orders", "--image", "registry/orders:v1", "--file", conf) == 0
    out = capsys.readouterr().out.splitlines()
    rolling_id = next(c for c in fake.ecs.deployments)
    bg_id = next(c for c in fake.codedeploy.deployments)
    assert out == [
        f"deployment {rolling_id}: staging/orders → orders:1",
        f"✓ staging/orders runs orders:1 — deployment {rolling_id} succeeded in 0.0s — http://127.0.0.1:8081/",
        f"deployment {bg_id}: production/orders → orders:1",
        f"✓ production/orders runs orders:1 — deployment {bg_id} succeeded in 0.0s — http://127.0.0.1:8080/",
    ]


def test_a_failed_deployment_exits_1_with_its_reason(cli, fake, capsys):
    fake.ecs.auto_fail = "ECS deployment circuit breaker: 3 task(s) failed (threshold 3)"
    assert cli("deploy", "staging", "orders", "--image", "registry/orders:v1",
               "--file", str(cli.project / "conveyor.yml")) == 1
    dep = next(iter(fake.ecs.deployments))
    assert capsys.readouterr().err.splitlines() == [
        f"✗ deployment {dep} failed: ECS deployment circuit breaker: 3 task(s) failed (threshold 3)"]


def test_deploy_status_shows_a_rolling_deployment(cli, fake, capsys):
    assert cli("deploy", "staging", "orders", "--image", "registry/orders:v1", "--no-wait",
               "--file", str(cli.project / "conveyor.yml")) == 0
    capsys.readouterr()
    assert cli("deploy", "status", "staging", "orders") == 0
    dep = next(iter(fake.ecs.deployments))
    assert capsys.readouterr().out.splitlines() == [
        "staging/orders (ECS, local)  production http://127.0.0.1:8081/",
        f"deployment {dep}  PRIMARY  rollout IN_PROGRESS  orders:1",
        "waiting for: fake: waiting for complete() or fail()",
    ]


def test_deploy_status_shows_a_blue_green_deployment(cli, fake, capsys):
    assert cli("deploy", "production", "orders", "--image", "registry/orders:v1", "--no-wait",
               "--file", str(cli.project / "conveyor.yml")) == 0
    capsys.readouterr()
    dep = next(iter(fake.codedeploy.deployments))
    fake.codedeploy.advance(dep, "AllowTraffic", waiting="10% of production on green; next step in 3 s", traffic=10)
    fake.codedeploy.deployments[dep] = dataclasses.replace(fake.codedeploy.deployments[dep], lifecycle_events=(
        LifecycleEvent("BeforeInstall", "Skipped", 1_000_000.0, 1_000_000.0),
        LifecycleEvent("AfterAllowTestTraffic", "Succeeded", 1_000_000.0, 1_000_002.5, hook="SmokeTest", attempts=1)))
    assert cli("deploy", "status", "production", "orders") == 0
    assert capsys.readouterr().out.splitlines() == [
        "production/orders (CODE_DEPLOY, local)  production http://127.0.0.1:8080/  test http://127.0.0.1:9080/",
        f"deployment {dep}  InProgress  phase AllowTraffic  orders:1  by user  production on green: 10%",
        "waiting for: AllowTraffic: 10% of production on green; next step in 3 s",
        "lifecycle:",
        "  BeforeInstall          Skipped    ",
        "  AfterAllowTestTraffic  Succeeded   2.5s  hook SmokeTest (attempt 1)",
    ]


def test_rollback_and_stop_answer_in_words(cli, fake, capsys):
    assert cli("deploy", "production", "orders", "--image", "registry/orders:v1", "--no-wait",
               "--file", str(cli.project / "conveyor.yml")) == 0
    capsys.readouterr()
    dep = next(iter(fake.codedeploy.deployments))
    assert cli("deploy", "stop", "production", "orders", "--reason", "wrong build") == 0
    assert capsys.readouterr().out.splitlines() == [f"deployment {dep}: Stopped Start — MANUAL_STOP: stopped by ana"]
    assert fake.calls[-1] == ("stop", "production", "orders", "ana")
