"""The trust keys of conveyor.yml: protectedBranches, allowHostCommands and CodeBuild's
privilegedMode; without the opt-in, a host command is a config error at its file:line:col."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conveyor.config.pipeline import load_pipeline_text
from conveyor.config.trust import host_commands, valid_branch_name
from conveyor.errors import ConfigError

HEAD = """\
name: demo
pipeline:
  stages:
    - name: Source
      actions:
        - {name: Source, provider: Git, outputArtifacts: [src]}
    - name: Build
      actions:
"""


def errors(text: str) -> list[str]:
    try:
        load_pipeline_text(text, "conveyor.yml")
    except ConfigError as exc:
        return [str(d) for d in exc.diagnostics if d.severity == "error"]
    return []


def test_a_host_command_needs_the_opt_in_and_names_where_it_is():
    text = HEAD + "        - {name: Test, provider: Command, command: [make, test], inputArtifacts: [src]}\n"
    assert errors(text) == [
        "conveyor.yml:9:11 pipeline.stages[1].actions[0]: a Command action without `image` runs on the host as "
        "the daemon's user; allow it with `allowHostCommands: true` at the top level of conveyor.yml (on a "
        "protected branch), or give it an `image` to run it in a container"]
    assert errors(text + "allowHostCommands: true\n") == []
    assert load_pipeline_text(text + "allowHostCommands: true\n").allow_host_commands is True
    assert errors(text + "allowHostCommands: false\n") != []
    assert errors(text + "allowHostCommands: 'yes'\n") == errors(text) + [
        "conveyor.yml:10:1 allowHostCommands: expected true or false, got a string"]


@pytest.mark.parametrize("action", [
    "{name: Test, provider: Command, image: busybox, command: [make], inputArtifacts: [src]}",
    "{name: Test, provider: Command, configuration: {image: busybox, script: t.sh}, inputArtifacts: [src]}",
    "{name: Build, provider: CodeBuild, inputArtifacts: [src]}",
])
def test_containers_need_no_opt_in(action):
    assert errors(HEAD + f"        - {action}\n") == []


def test_a_host_hook_needs_the_opt_in_too():
    doc = {"environments": {"prod": {"services": {"web": {"deployment": {"hooks": {
        "smoke": {"command": ["./smoke.sh"]}, "boxed": {"container": {"image": "busybox"}},
        "remote": {"url": "http://127.0.0.1:9/"}}}}}}}}
    assert host_commands(doc) == [("environments", "prod", "services", "web", "deployment", "hooks", "smoke",
                                   "command")]


def test_privileged_mode_is_a_codebuild_setting_and_off_by_default():
    plain = load_pipeline_text(HEAD + "        - {name: B, provider: CodeBuild, inputArtifacts: [src]}\n")
    assert plain.stage("Build").action("B").configuration["privilegedMode"] is False
    on = load_pipeline_text(HEAD + "        - {name: B, provider: CodeBuild, inputArtifacts: [src], "
                                   "privilegedMode: true}\n")
    assert on.stage("Build").action("B").configuration["privilegedMode"] is True
    assert errors(HEAD + "        - {name: B, provider: CodeBuild, inputArtifacts: [src], privilegedMode: 1}\n") == [
        "conveyor.yml:9:65 pipeline.stages[1].actions[0].privilegedMode: expected true or false, got an integer"]
    assert errors(HEAD + "        - {name: B, provider: Command, image: x, command: [a], inputArtifacts: [src], "
                         "privilegedMode: true}\n")[0].startswith(
        "conveyor.yml:9:87 pipeline.stages[1].actions[0].privilegedMode: unknown action key 'privilegedMode'")


def test_protected_branches():
    ok = HEAD + "        - {name: W, provider: Wait}\nprotectedBranches: [main, release/1.x]\n"
    assert load_pipeline_text(ok).protected_branches == ("main", "release/1.x")
    assert load_pipeline_text(HEAD + "        - {name: W, provider: Wait}\n").protected_branches is None
    bad = HEAD + "        - {name: W, provider: Wait}\nprotectedBranches: [main, '-x', 'a..b', main, 'rel/*', 3]\n"
    assert errors(bad) == [
        "conveyor.yml:10:27 protectedBranches[1]: invalid branch name '-x': a plain branch name such as main or "
        "release/1.x (no globs, no leading '-')",
        "conveyor.yml:10:33 protectedBranches[2]: invalid branch name 'a..b': a plain branch name such as main or "
        "release/1.x (no globs, no leading '-')",
        "conveyor.yml:10:41 protectedBranches[3]: duplicate branch 'main'",
        "conveyor.yml:10:47 protectedBranches[4]: invalid branch name 'rel/*': a plain branch name such as main or "
        "release/1.x (no globs, no leading '-')",
        "conveyor.yml:10:56 protectedBranches[5]: expected a branch name, got an integer"]
    assert errors(HEAD + "        - {name: W, provider: Wait}\nprotectedBranches: []\n") == [
        "conveyor.yml:10:1 protectedBranches: expected at least one branch (the first holds the pipeline's "
        "definition), e.g. [main]"]
    assert errors(HEAD + "        - {name: W, provider: Wait}\nprotectedBranches: main\n") == [
        "conveyor.yml:10:1 protectedBranches: expected a list of branch names, got a string"]


@pytest.mark.parametrize("name,ok", [("main", True), ("release/1.x", True), ("feature/a-b_c", True),
                                     ("-main", False), ("/main", False), ("main/", False), ("a..b", False),
                                     ("a//b", False), ("x.lock", False), ("@", False), ("a@{1}", False),
                                     ("a b", False), ("", False), (".hidden", False), ("a/.b", False)])
def test_branch_names(name, ok):
    assert valid_branch_name(name) is ok


def test_validate_exits_2_with_the_location(tmp_path):
    (tmp_path / "conveyor.yml").write_text(
        HEAD + "        - {name: Test, provider: Command, command: [make], inputArtifacts: [src]}\n")
    done = subprocess.run([sys.executable, "-m", "conveyor.cli.main", "validate"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env={"CONVEYOR_HOME": str(tmp_path / "h"), "PATH": "/usr/bin:/bin",
                                                      "PYTHONPATH": _src()})
    assert done.returncode == 2, done.stderr
    assert "conveyor.yml:9:11 pipeline.stages[1].actions[0]: a Command action without `image`" in done.stderr
    assert "Traceback" not in done.stderr


def _src() -> str:
    from pathlib import Path

    import conveyor

    return str(Path(conveyor.__file__).resolve().parents[1])
