"""The opt-ins at run time: a host Command needs its definition's allowHostCommands, and a
CodeBuild build gets the container engine's socket only with privilegedMode on the action."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from conveyor.actions import codebuild
from conveyor.actions.base import ActionContext, ActionFailed
from conveyor.actions.codebuild import UNPRIVILEGED_HINT, CodeBuildAction
from conveyor.actions.command import CommandAction
from conveyor.build.runner import BuildResult, PhaseRecord
from conveyor.config.model import ActionDef
from conveyor.providers.local.containers import DOCKER_SOCKET, ApiService, ContainerEngine


def context(tmp_path: Path, provider: str, configuration: dict, definition, lines: list[str]) -> ActionContext:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "buildspec.yml").write_text("version: 0.2\nphases:\n  build:\n    commands:\n"
                                       "      - docker build -t app .\n")
    action = ActionDef("Act", provider, "Build", 1, configuration, ("src",))
    return ActionContext(execution_id="ex-1", pipeline="p", stage="Build", action=action, attempt=1,
                         configuration=configuration, inputs={"src": src}, run_dir=tmp_path / "run",
                         log=lines.append, cancel=threading.Event(), timeout=60, home=tmp_path / "home",
                         definition=definition)


@pytest.mark.parametrize("allowed", [False, True])
def test_a_host_command_runs_only_when_its_definition_allows_it(tmp_path, allowed):
    marker = tmp_path / "ran"
    lines: list[str] = []
    ctx = context(tmp_path, "Command", {"command": ["touch", str(marker)]},
                  SimpleNamespace(allow_host_commands=allowed), lines)
    if allowed:
        assert CommandAction().run(ctx).summary == "exit 0"
    else:
        with pytest.raises(ActionFailed, match="would run on the host as the daemon's user, and the pipeline's "
                                               "definition does not allow that"):
            CommandAction().run(ctx)
    assert marker.exists() is allowed


class Builds:
    """run_build's stand-in: keeps each BuildRequest and answers with `status`."""

    def __init__(self, status: str = "SUCCEEDED"):
        self.requests: list = []
        self.status = status

    def __call__(self, spec, req, on_line):
        self.requests.append(req)
        phase = PhaseRecord("BUILD", self.status, 0.0, 0.0, context="exit 1" if self.status != "SUCCEEDED" else "")
        return BuildResult("b:1", self.status, [phase], {}, {}, 0.0)


@pytest.fixture
def builds(monkeypatch):
    made = Builds()
    monkeypatch.setattr(codebuild, "run_build", made)
    monkeypatch.setattr(codebuild, "registry_env", lambda home: {})
    return made


def runner(tmp_path: Path) -> CodeBuildAction:
    action = CodeBuildAction(ContainerEngine("podman"))
    action._api_service = lambda home: ApiService(str(tmp_path / "podman.sock"))  # type: ignore[method-assign]
    return action


def test_a_build_gets_no_engine_socket_without_privileged_mode(tmp_path, builds):
    lines: list[str] = []
    runner(tmp_path).run(context(tmp_path, "CodeBuild", {"privilegedMode": False}, None, lines))
    [req] = builds.requests
    assert [m for m in req.extra_mounts if m.container == DOCKER_SOCKET] == []
    assert "DOCKER_HOST" not in req.extra_env


def test_privileged_mode_mounts_the_engine_socket(tmp_path, builds):
    runner(tmp_path).run(context(tmp_path, "CodeBuild", {"privilegedMode": True}, None, []))
    [req] = builds.requests
    assert [(m.host, m.container) for m in req.extra_mounts] == [(str(tmp_path / "podman.sock"), DOCKER_SOCKET)]
    assert req.extra_env["DOCKER_HOST"] == f"unix://{DOCKER_SOCKET}"


def test_an_unprivileged_build_that_calls_docker_says_how_to_opt_in(tmp_path, builds):
    builds.status = "FAILED"
    lines: list[str] = []
    with pytest.raises(ActionFailed):
        runner(tmp_path).run(context(tmp_path, "CodeBuild", {}, None, lines))
    assert UNPRIVILEGED_HINT in lines
