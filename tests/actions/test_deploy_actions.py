"""The ECS and CodeDeployToECS actions over the in-memory backend: what they deploy, how they
report, and that a re-run with the same idempotency key (a crash while the action ran) adopts
the deployment the first run made instead of making another."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from conveyor.actions.base import ActionContext, ActionFailed
from conveyor.actions.codedeploy_ecs import CodeDeployToEcsAction
from conveyor.actions.ecs_deploy import EcsDeployAction
from conveyor.backend.fake import FakeBackend
from conveyor.config.model import ActionDef
from conveyor.release.service import ReleaseService
from conveyor.release.store import ReleaseStore

TASKDEF = {"family": "orders", "containerDefinitions": [
    {"name": "api", "image": "<IMAGE1_NAME>", "essential": True, "portMappings": [{"containerPort": 8080}]}]}
ENVIRONMENTS = {
    "staging": {"services": {"orders": {"taskDefinition": "taskdef.json", "desiredCount": 2,
                                        "loadBalancer": {"port": 8081, "container": "api", "containerPort": 8080}}}},
    "production": {"services": {"orders": {
        "taskDefinition": "taskdef.json", "desiredCount": 2,
        "loadBalancer": {"port": 8080, "testPort": 9080, "container": "api", "containerPort": 8080},
        "deployment": {"controller": "CODE_DEPLOY"}}}},
}


class Mirrors:
    """What the ECS action reads the task definition from: the repository at the commit."""

    def mirror(self, repository: str):
        return SimpleNamespace(show=lambda commit, path: json.dumps(TASKDEF) if path == "taskdef.json" else None)


def context(tmp_path: Path, releases: ReleaseService, provider: str, configuration: dict, *, key: str,
            lines: list[str]) -> ActionContext:
    build = tmp_path / "build"
    build.mkdir(exist_ok=True)
    (build / "imagedefinitions.json").write_text(json.dumps([{"name": "api", "imageUri": "registry/orders:v1"}]))
    (build / "imageDetail.json").write_text(json.dumps({"ImageURI": "registry/orders@sha256:" + "a" * 64}))
    (build / "taskdef.json").write_text(json.dumps(TASKDEF).replace("<IMAGE1_NAME>", "<IMAGE1_NAME>"))
    (build / "appspec.yaml").write_text(
        "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n"
        "        TaskDefinition: <TASK_DEFINITION>\n        LoadBalancerInfo:\n"
        "          ContainerName: api\n          ContainerPort: 8080\n")
    action = ActionDef("Deploy", provider, "Deploy", 1, configuration, ("build",))
    return ActionContext(
        execution_id="ex-1", pipeline="orders", stage="Deploy", action=action, attempt=1,
        configuration=configuration, inputs={"build": build}, run_dir=tmp_path / "run", log=lines.append,
        cancel=threading.Event(), timeout=60, revision={"repository": "/srv/orders.git", "commit": "c0ffee" * 6},
        mirrors=Mirrors(), releases=releases, definition=SimpleNamespace(environments=ENVIRONMENTS),
        idempotency_key=key)


@pytest.fixture
def fake():
    return FakeBackend(auto_complete=True)


@pytest.fixture
def releases(fake):
    return ReleaseService({"local": fake.backend}, ReleaseStore(":memory:"), poll_seconds=0.001)


def test_the_ecs_action_deploys_the_commits_task_definition_with_the_built_image(tmp_path, fake, releases):
    lines: list[str] = []
    result = EcsDeployAction().run(context(tmp_path, releases, "ECS", {"environment": "staging", "service": "orders"},
                                           key="ex-1/Deploy/Deploy/1", lines=lines))
    assert fake.ecs.taskdefs["orders"][0]["containerDefinitions"][0]["image"] == "registry/orders:v1"
    assert result.summary == "staging/orders → orders:1 (http://127.0.0.1:8081/)"
    assert result.details["deploymentId"].startswith("ecs-svc/")
    assert lines[0].startswith("deployment ecs-svc/") and lines[0].endswith("service orders in staging → orders:1")


def test_a_rerun_with_the_same_key_adopts_the_deployment(tmp_path, fake, releases):
    conf = {"environment": "production", "service": "orders", "image1ArtifactName": "build",
            "image1ContainerName": "IMAGE1_NAME"}
    first = CodeDeployToEcsAction().run(context(tmp_path, releases, "CodeDeployToECS", conf,
                                                key="ex-1/Deploy/Deploy/1", lines=[]))
    again = CodeDeployToEcsAction().run(context(tmp_path, releases, "CodeDeployToECS", conf,
                                                key="ex-1/Deploy/Deploy/1", lines=[]))
    assert again.details["deploymentId"] == first.details["deploymentId"]
    assert [c[0] for c in fake.calls].count("create_deployment") == 1
    retried = CodeDeployToEcsAction().run(context(tmp_path, releases, "CodeDeployToECS", conf,
                                                  key="ex-1/Deploy/Deploy/2", lines=[]))
    assert retried.details["deploymentId"] != first.details["deploymentId"]


def test_a_failed_deployment_fails_the_action_with_its_reason(tmp_path, fake, releases):
    fake.ecs.auto_fail = "ECS deployment circuit breaker: 3 task(s) failed"
    ctx = context(tmp_path, releases, "ECS", {"environment": "staging", "service": "orders"}, key="k", lines=[])
    with pytest.raises(ActionFailed, match="failed: ECS deployment circuit breaker: 3 task") as info:
        EcsDeployAction().run(ctx)
    assert info.value.details["deploymentId"].startswith("ecs-svc/")


def test_the_ecs_action_refuses_a_blue_green_service(tmp_path, releases):
    with pytest.raises(ActionFailed, match="use the CodeDeployToECS action"):
        EcsDeployAction().run(context(tmp_path, releases, "ECS", {"environment": "production", "service": "orders"},
                                      key="k", lines=[]))


# --- issue 16: file references stay inside their artifact ---------------------------------------

def test_the_ecs_file_cannot_be_a_symlink_out_of_the_artifact(tmp_path, releases):
    secret = tmp_path / "host.json"
    secret.write_text(json.dumps([{"name": "api", "imageUri": "stolen"}]))
    ctx = context(tmp_path, releases, "ECS", {"environment": "staging", "service": "orders", "file": "defs.json"},
                  key="k", lines=[])
    (tmp_path / "build" / "defs.json").symlink_to(secret)
    with pytest.raises(ActionFailed, match="file 'defs.json' leads outside"):
        EcsDeployAction().run(ctx)
    ctx = context(tmp_path, releases, "ECS", {"environment": "staging", "service": "orders",
                                              "file": "../host.json"}, key="k", lines=[])
    with pytest.raises(ActionFailed, match="leads outside"):
        EcsDeployAction().run(ctx)


@pytest.mark.parametrize("key,value", [("taskDefinitionTemplatePath", "../../etc/passwd"),
                                       ("appSpecTemplatePath", "/etc/passwd")])
def test_codedeploy_templates_stay_inside_their_artifact(tmp_path, releases, key, value):
    conf = {"environment": "production", "service": "orders", "image1ArtifactName": "build",
            "image1ContainerName": "IMAGE1_NAME", key: value}
    with pytest.raises(ActionFailed, match="leads outside"):
        CodeDeployToEcsAction().run(context(tmp_path, releases, "CodeDeployToECS", conf, key="k", lines=[]))


def test_image_detail_cannot_be_a_symlink_out_of_the_artifact(tmp_path, releases):
    conf = {"environment": "production", "service": "orders", "image1ArtifactName": "build",
            "image1ContainerName": "IMAGE1_NAME"}
    ctx = context(tmp_path, releases, "CodeDeployToECS", conf, key="k", lines=[])
    secret = tmp_path / "host.json"
    secret.write_text(json.dumps({"ImageURI": "stolen"}))
    (tmp_path / "build" / "imageDetail.json").unlink()
    (tmp_path / "build" / "imageDetail.json").symlink_to(secret)
    with pytest.raises(ActionFailed) as err:
        CodeDeployToEcsAction().run(ctx)
    assert "stolen" not in str(err.value) and "symbolic link to outside its artifact" in str(err.value.__cause__.hint)
