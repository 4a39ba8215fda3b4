"""`#{namespace.name}` resolution (aws-semantics §2.7): the pure resolver, the namespaces an
execution exposes, and a real run where one action's output variable reaches a later action."""

from __future__ import annotations

import pytest
from engine_support import git, wait_until

from conveyor.config.pipeline import load_pipeline_text
from conveyor.engine.variables import UnresolvedVariables, resolve
from conveyor.engine.view import ExecutionView
from conveyor.store.db import ExecutionRow, Transition

MESSAGE = "An action in this pipeline failed because one or more variables could not be resolved: Action name="
NAMESPACES = {
    "Src": {"CommitId": "abc123", "BranchName": "main"},
    "Build": {"VERSION": "1.2.3"},
    "codepipeline": {"PipelineExecutionId": "e-1"},
    "variables": {"region": "eu-west-1"},
}


# --- resolve() ----------------------------------------------------------------------------------


def test_nested_dicts_and_lists_are_resolved():
    value = {"env": {"SHA": "#{Src.CommitId}", "LIST": ["#{Build.VERSION}", {"deep": "#{variables.region}"}]},
             "command": ["deploy", "--id", "#{codepipeline.PipelineExecutionId}"]}
    assert resolve(value, NAMESPACES, "Deploy") == {
        "env": {"SHA": "abc123", "LIST": ["1.2.3", {"deep": "eu-west-1"}]},
        "command": ["deploy", "--id", "e-1"],
    }


def test_several_references_in_one_string():
    assert resolve("#{Src.BranchName}@#{Src.CommitId} v#{Build.VERSION}#{Build.VERSION}", NAMESPACES) == \
        "main@abc123 v1.2.31.2.3"


def test_values_without_a_reference_are_returned_untouched():
    data = {"a": "plain", "b": 3, "c": True, "d": None, "e": 1.5, "f": "# {not.a.ref}", "g": "#not", "h": "}{"}
    out = resolve(data, {})
    assert out == data
    for key, value in data.items():
        assert out[key] is value  # the very same objects: nothing was rebuilt
    s = "no reference"
    assert resolve(s, {}) is s


def test_resolution_does_not_modify_its_input():
    value = {"env": {"SHA": "#{Src.CommitId}"}}
    resolve(value, NAMESPACES)
    assert value == {"env": {"SHA": "#{Src.CommitId}"}}


def test_resolved_values_are_not_resolved_again():
    assert resolve("#{X.a}", {"X": {"a": "#{X.b}", "b": "no"}}) == "#{X.b}"


def test_an_unresolvable_reference_raises_with_codepipelines_message():
    with pytest.raises(UnresolvedVariables) as info:
        resolve({"env": {"A": "#{Src.Nope}"}}, NAMESPACES, "Deploy")
    assert str(info.value).startswith(MESSAGE + "Deploy")
    assert str(info.value) == MESSAGE + "Deploy (unresolved: #{Src.Nope})"
    assert info.value.missing == ["Src.Nope"]


def test_every_unresolvable_reference_is_reported_once_and_sorted():
    value = ["#{Zed.a} #{Src.CommitId}", {"k": "#{Alpha.b}"}, "#{Zed.a}", "#{nodot}"]
    with pytest.raises(UnresolvedVariables) as info:
        resolve(value, NAMESPACES, "X")
    assert info.value.missing == ["Alpha.b", "Zed.a", "nodot"]
    assert str(info.value) == MESSAGE + "X (unresolved: #{Alpha.b}, #{Zed.a}, #{nodot})"


def test_names_and_namespaces_are_case_sensitive():
    with pytest.raises(UnresolvedVariables):
        resolve("#{src.CommitId}", NAMESPACES)
    with pytest.raises(UnresolvedVariables):
        resolve("#{Src.commitid}", NAMESPACES)


def test_non_string_variable_values_are_rendered_as_strings():
    assert resolve("n=#{N.v}", {"N": {"v": 3}}) == "n=3"


# --- ExecutionView.variables() -------------------------------------------------------------------

DEFINITION = """\
name: vars
allowHostCommands: true
pipeline:
  variables:
    - {name: region, defaultValue: eu-west-1}
  stages:
    - name: Source
      actions:
        - {name: Source, provider: Git, outputArtifacts: [src], namespace: Src}
    - name: Build
      actions:
        - {name: Package, provider: Command, command: [make], namespace: Build}
        - {name: Lint, provider: Command, command: [lint]}
        - {name: Broken, provider: Command, command: [x], namespace: Broken}
"""


def view_of(transitions: list[tuple], variables: dict | None = None) -> ExecutionView:
    definition = load_pipeline_text(DEFINITION)
    row = ExecutionRow("exec-1", 1, "vars", 0.0, {}, {}, variables or {"region": "eu-west-1"}, definition.raw)
    rows = [Transition("exec-1", "execution", "InProgress", at=1.0)]
    for i, (stage, action, status, detail) in enumerate(transitions):
        rows.append(Transition("exec-1", "action", status, stage, action, 1, detail, at=2.0 + i))
    return ExecutionView.build(row, rows)


def test_an_execution_exposes_its_id_pipeline_variables_and_succeeded_namespaces():
    view = view_of([
        ("Source", "Source", "InProgress", {}),
        ("Source", "Source", "Succeeded", {"variables": {"CommitId": "abc"}}),
        ("Build", "Package", "InProgress", {}),
        ("Build", "Package", "Succeeded", {"variables": {"VERSION": "2.0"}}),
        ("Build", "Lint", "InProgress", {}),
        ("Build", "Lint", "Succeeded", {"variables": {"HIDDEN": "x"}}),  # no namespace: not referable
        ("Build", "Broken", "InProgress", {}),
        ("Build", "Broken", "Failed", {"error": "boom"}),  # failed: its namespace does not exist
    ])
    assert view.variables() == {
        "codepipeline": {"PipelineExecutionId": "exec-1"},
        "variables": {"region": "eu-west-1"},
        "Src": {"CommitId": "abc"},
        "Build": {"VERSION": "2.0"},
    }


def test_a_running_action_exposes_no_namespace_yet():
    view = view_of([("Source", "Source", "InProgress", {})], variables={"region": "x"})
    assert view.variables() == {"codepipeline": {"PipelineExecutionId": "exec-1"}, "variables": {"region": "x"}}


# --- a real run ---------------------------------------------------------------------------------


RUN = """\
name: vars
allowHostCommands: true
pipeline:
  variables:
    - {name: greeting, defaultValue: hello}
  stages:
    - name: Source
      actions:
        - {name: Source, provider: Git, outputArtifacts: [src], namespace: Src}
    - name: Build
      actions:
        - name: Version
          provider: Command
          command:
            - sh
            - -c
            - 'echo "VERSION=1.2.3-$(cat VERSION)" >> "$CONVEYOR_OUTPUT_ENV"; echo EXTRA=no >> "$CONVEYOR_OUTPUT_ENV"'
          inputArtifacts: [src]
          outputVariables: [VERSION]
          namespace: Build
    - name: Use
      actions:
        - name: Report
          provider: Command
          command:
            - sh
            - -c
            - 'echo "version=#{Build.VERSION} id=$EXEC commit=$SHA msg=#{variables.greeting}" | tee report.txt'
          env: {EXEC: "#{codepipeline.PipelineExecutionId}", SHA: "#{Src.CommitId}"}
          outputArtifacts: [report]
          outputFiles: [report.txt]
"""


def test_an_output_variable_reaches_a_later_action(svc, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "conveyor.yml").write_text(RUN)
    (repo / "VERSION").write_text("rc1")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial commit")
    sha = git(repo, "rev-parse", "HEAD").strip()

    ex = svc.start_execution(repository=str(repo), variables={"greeting": "hi"})["id"]
    d = wait_until(lambda: (d := svc.describe(ex))["status"] not in ("InProgress", "Stopping") and d)
    assert d["status"] == "Succeeded", d["reason"]
    version = next(a for s in d["stages"] for a in s["actions"] if a["name"] == "Version")
    assert version["variables"] == {"VERSION": "1.2.3-rc1"}  # only the listed outputVariables

    expected = f"version=1.2.3-rc1 id={ex} commit={sha} msg=hi"
    text, _ = svc.log_text(ex, "Use", "Report", 1)
    assert expected in text.splitlines()
    report = next(a for s in d["stages"] for a in s["actions"] if a["name"] == "Report")
    artifact = svc.scheduler.artifacts.path(report["artifacts"]["report"])
    assert sorted(p.name for p in artifact.iterdir()) == ["report.txt"]
    assert (artifact / "report.txt").read_text() == expected + "\n"
