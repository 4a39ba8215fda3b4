"""conveyor.yml validation: every problem at once, each as one line
`conveyor.yml:LINE:COL key.path: message` (CodePipeline's structural rules, aws-semantics §2.1,
§2.2, §2.7). The expected messages are the catalog: a change to one is a change to the product."""

from __future__ import annotations

import pytest

from conveyor.config.pipeline import check_file, load_pipeline, load_pipeline_text
from conveyor.errors import ConfigError

#: Appended after the stages (so line numbers do not move): the cases below run Command actions on
#: the host, which conveyor.yml must allow (tests/config/test_trust.py covers the refusal).
HOST = "allowHostCommands: true\n"


def diagnostics(text: str) -> list[str]:
    """Every diagnostic (errors and warnings) for `text`, as the user sees them."""
    if "Command" in text and text.startswith("name:") and "allowHostCommands" not in text:
        text += HOST
    try:
        pipeline = load_pipeline_text(text, "conveyor.yml")
    except ConfigError as exc:
        return [str(d) for d in exc.diagnostics]
    return [str(w) for w in pipeline.warnings]


# Lines 1-9; stages added below start on line 10.
SOURCE = """\
name: demo
pipeline:
  stages:
    - name: Source
      actions:
        - name: Source
          provider: Git
          outputArtifacts: [src]
          namespace: Src
"""

VALID = SOURCE + """\
    - name: Build
      actions:
        - name: Compile
          provider: Command
          command: [make]
          inputArtifacts: [src]
""" + HOST


def test_a_valid_pipeline_has_no_diagnostics():
    assert diagnostics(VALID) == []
    pipeline = load_pipeline_text(VALID)
    assert [s.name for s in pipeline.stages] == ["Source", "Build"]
    assert pipeline.execution_mode == "SUPERSEDED"


CASES = {
    "unknown provider with did-you-mean": (SOURCE + """\
    - name: Build
      actions:
        - name: Compile
          provider: Codebuild
          inputArtifacts: [src]
""", [
        ("conveyor.yml:13:11 pipeline.stages[1].actions[0].provider: unknown provider 'Codebuild' "
         "(did you mean 'CodeBuild'?)"),
    ]),
    "input artifact not produced": (SOURCE + """\
    - name: Build
      actions:
        - name: Compile
          provider: Command
          command: [make]
          inputArtifacts: [source]
""", [
        ("conveyor.yml:15:28 pipeline.stages[1].actions[0].inputArtifacts[0]: input artifact 'source' is not "
         "produced by any action (known: src)"),
    ]),
    "input artifact produced later in the stage": (SOURCE + """\
    - name: Build
      actions:
        - name: Test
          provider: Command
          command: [make, test]
          inputArtifacts: [bin]
        - name: Compile
          provider: Command
          command: [make]
          inputArtifacts: [src]
          outputArtifacts: [bin]
""", [
        ("conveyor.yml:15:28 pipeline.stages[1].actions[0].inputArtifacts[0]: input artifact 'bin' is produced by "
         "action 'Compile', which does not run before this one"),
    ]),
    "input artifact produced with the same runOrder": (SOURCE + """\
    - name: Build
      actions:
        - {name: Compile, provider: Command, command: [make], outputArtifacts: [bin], runOrder: 2}
        - {name: Test, provider: Command, command: [make], inputArtifacts: [bin], runOrder: 2}
""", [
        ("conveyor.yml:13:77 pipeline.stages[1].actions[1].inputArtifacts[0]: input artifact 'bin' is produced by "
         "action 'Compile', which does not run before this one"),
    ]),
    "input artifact produced in a later stage": (SOURCE + """\
    - name: Test
      actions:
        - {name: Test, provider: Command, command: [make], inputArtifacts: [bin]}
    - name: Build
      actions:
        - {name: Compile, provider: Command, command: [make], outputArtifacts: [bin]}
""", [
        ("conveyor.yml:12:77 pipeline.stages[1].actions[0].inputArtifacts[0]: input artifact 'bin' is produced by "
         "action 'Compile', which does not run before this one"),
    ]),
    "duplicate stage, action, output artifact and namespace": (SOURCE + """\
    - name: Build
      actions:
        - {name: Compile, provider: Command, command: [make], outputArtifacts: [src], namespace: Src}
        - {name: Compile, provider: Wait}
    - name: Build
      actions:
        - {name: W, provider: Wait}
""", [
        ("conveyor.yml:12:81 pipeline.stages[1].actions[0].outputArtifacts[0]: output artifact 'src' is already "
         "produced by action 'Source'; names must be unique"),
        ("conveyor.yml:12:87 pipeline.stages[1].actions[0].namespace: namespace 'Src' is already used by action "
         "'Source'"),
        ("conveyor.yml:13:12 pipeline.stages[1].actions[1].name: duplicate action name 'Compile' in stage "
         "(also actions[0])"),
        "conveyor.yml:14:7 pipeline.stages[2].name: duplicate stage name 'Build' (also stages[1])",
    ]),
    "namespace clashing with an artifact or reserved": (SOURCE + """\
    - name: Build
      actions:
        - {name: A, provider: Command, command: [make], namespace: src}
        - {name: B, provider: Command, command: [make], namespace: variables}
        - {name: C, provider: Command, command: [make], namespace: codepipeline}
""", [
        ("conveyor.yml:12:57 pipeline.stages[1].actions[0].namespace: namespace 'src' clashes with an artifact of "
         "the same name"),
        "conveyor.yml:13:57 pipeline.stages[1].actions[1].namespace: namespace 'variables' is reserved",
        "conveyor.yml:14:57 pipeline.stages[1].actions[2].namespace: namespace 'codepipeline' is reserved",
    ]),
    "runOrder outside 1-999": (SOURCE + """\
    - name: Build
      actions:
        - {name: A, provider: Wait, runOrder: 0}
        - {name: B, provider: Wait, runOrder: 1000}
        - {name: C, provider: Wait, runOrder: 999}
        - {name: D, provider: Wait, runOrder: 1}
        - {name: E, provider: Wait, runOrder: "1"}
""", [
        "conveyor.yml:12:37 pipeline.stages[1].actions[0].runOrder: runOrder must be between 1 and 999, got 0",
        "conveyor.yml:13:37 pipeline.stages[1].actions[1].runOrder: runOrder must be between 1 and 999, got 1000",
        "conveyor.yml:16:37 pipeline.stages[1].actions[4].runOrder: expected an integer, got a string",
    ]),
    "first stage not a source stage": ("""\
name: demo
pipeline:
  stages:
    - name: Build
      actions:
        - {name: W, provider: Wait}
    - name: Source
      actions:
        - {name: Source, provider: Git, outputArtifacts: [src]}
""", [
        ("conveyor.yml:6:21 pipeline.stages[0].actions[0].provider: the first stage may hold only source actions "
         "(Git), got 'Wait'"),
        ("conveyor.yml:9:26 pipeline.stages[1].actions[0].provider: source actions (Git) belong in the first "
         "stage only"),
    ]),
    "source action in a later stage": (SOURCE + """\
    - name: Build
      actions:
        - {name: A, provider: Wait}
        - {name: Other, provider: Git, outputArtifacts: [o]}
""", [
        ("conveyor.yml:13:25 pipeline.stages[1].actions[1].provider: source actions (Git) belong in the first "
         "stage only"),
    ]),
    "too few stages": ("""\
name: demo
pipeline:
  stages:
    - name: Source
      actions:
        - {name: Source, provider: Git, outputArtifacts: [src]}
""", [
        "conveyor.yml:3:3 pipeline.stages: a pipeline needs at least 2 stages (a Source stage and one more), got 1",
    ]),
    "unknown namespaces, variables and references to actions that do not run earlier": (SOURCE.replace(
        "  stages:", "  variables:\n    - {name: region, defaultValue: eu}\n  stages:") + """\
    - name: Build
      actions:
        - name: Compile
          provider: Command
          command: [make, "#{Nope.X}", "#{Src.Sha}", "#{variables.regoin}", "#{codepipeline.Foo}", "#{broken}"]
          env: {A: "#{Pkg.VERSION}", B: "#{Late.V}", C: "#{variables.region}"}
        - name: Pkg
          provider: Command
          runOrder: 2
          command: [make, "#{Pkg2.VERSION}"]
          outputVariables: [VERSION]
          namespace: Pkg
        - name: Pkg2
          provider: Command
          runOrder: 2
          command: [make]
          namespace: Pkg2
        - name: Use
          provider: Command
          runOrder: 3
          command: [make, "#{Pkg.VERSION}", "#{Pkg.OTHER}", "#{Pkg2.ANY}"]
    - name: Late
      actions:
        - {name: L, provider: Command, command: [x], namespace: Late}
""", [
        ("conveyor.yml:16:27 pipeline.stages[1].actions[0].command[1]: unknown namespace 'Nope' in '#{Nope.X}' "
         "(known: Late, Pkg, Pkg2, Src)"),
        ("conveyor.yml:16:40 pipeline.stages[1].actions[0].command[2]: Git action 'Source' has no output variable "
         "'Sha' (known: AuthorDate, AuthorName, BranchName, CommitId, CommitMessage, CommitterDate, RepositoryName)"),
        ("conveyor.yml:16:54 pipeline.stages[1].actions[0].command[3]: unknown pipeline variable 'regoin' in "
         "'#{variables.regoin}' (known: region)"),
        ("conveyor.yml:16:77 pipeline.stages[1].actions[0].command[4]: unknown variable '#{codepipeline.Foo}' "
         "(codepipeline has: PipelineExecutionId)"),
        ("conveyor.yml:16:100 pipeline.stages[1].actions[0].command[5]: invalid variable reference '#{broken}': "
         "expected #{namespace.name}"),
        ("conveyor.yml:17:17 pipeline.stages[1].actions[0].env.A: '#{Pkg.VERSION}' comes from action 'Pkg', "
         "which does not run before this one"),
        ("conveyor.yml:17:38 pipeline.stages[1].actions[0].env.B: '#{Late.V}' comes from action 'L', which does "
         "not run before this one"),
        ("conveyor.yml:21:27 pipeline.stages[1].actions[1].command[1]: '#{Pkg2.VERSION}' comes from action "
         "'Pkg2', which does not run before this one"),
        ("conveyor.yml:32:45 pipeline.stages[1].actions[3].command[2]: action 'Pkg' does not list 'OTHER' in "
         "outputVariables (known: VERSION)"),
    ]),
    "pipeline variables in a source action": (SOURCE.replace(
        "  stages:", "  variables:\n    - {name: br, defaultValue: main}\n  stages:").replace(
        "          provider: Git\n", "          provider: Git\n          branch: \"#{variables.br}\"\n") + """\
    - name: Build
      actions:
        - {name: W, provider: Wait}
""", [
        ("conveyor.yml:10:11 pipeline.stages[0].actions[0].branch: pipeline variables cannot be used in source "
         "actions"),
    ]),
    "Command without command or script": (SOURCE + """\
    - name: Build
      actions:
        - {name: A, provider: Command}
        - {name: B, provider: Command, command: [x], script: y.sh}
        - {name: C, provider: Command, command: []}
""", [
        ("conveyor.yml:12:11 pipeline.stages[1].actions[0]: a Command action needs exactly one of 'command' "
         "(an argv list) or 'script'"),
        ("conveyor.yml:13:11 pipeline.stages[1].actions[1]: a Command action needs exactly one of 'command' "
         "(an argv list) or 'script'"),
        ("conveyor.yml:14:40 pipeline.stages[1].actions[2].command: expected a non-empty argv list, e.g. "
         "[python3, -m, unittest]"),
    ]),
    "artifact counts per provider": (SOURCE.replace("outputArtifacts: [src]", "outputArtifacts: [src, more]") + """\
    - name: Build
      actions:
        - {name: A, provider: Command, command: [x], outputArtifacts: [a, b]}
        - {name: M, provider: Manual, inputArtifacts: [src]}
        - {name: W, provider: Wait, outputArtifacts: [w]}
        - {name: C, provider: CodeBuild}
        - {name: I, provider: Command, command: [x], inputArtifacts: [src, more, a, b, w, src]}
""", [
        ("conveyor.yml:8:11 pipeline.stages[0].actions[0].outputArtifacts: Git takes exactly 1 output "
         "artifact(s), got 2"),
        ("conveyor.yml:12:54 pipeline.stages[1].actions[0].outputArtifacts: Command takes 0 to 1 output "
         "artifact(s), got 2"),
        ("conveyor.yml:13:39 pipeline.stages[1].actions[1].inputArtifacts: Manual takes exactly 0 input "
         "artifact(s), got 1"),
        ("conveyor.yml:14:37 pipeline.stages[1].actions[2].outputArtifacts: Wait takes exactly 0 output "
         "artifact(s), got 1"),
        ("conveyor.yml:15:11 pipeline.stages[1].actions[3].inputArtifacts: CodeBuild takes 1 to 5 input "
         "artifact(s), got 0"),
        ("conveyor.yml:16:54 pipeline.stages[1].actions[4].inputArtifacts: Command takes 0 to 5 input "
         "artifact(s), got 6"),
        ("conveyor.yml:16:82 pipeline.stages[1].actions[4].inputArtifacts[2]: input artifact 'a' is produced by "
         "action 'A', which does not run before this one"),
        ("conveyor.yml:16:85 pipeline.stages[1].actions[4].inputArtifacts[3]: input artifact 'b' is produced by "
         "action 'A', which does not run before this one"),
        ("conveyor.yml:16:88 pipeline.stages[1].actions[4].inputArtifacts[4]: input artifact 'w' is produced by "
         "action 'W', which does not run before this one"),
    ]),
    "executionMode in the wrong case": (SOURCE.replace("  stages:", "  executionMode: Queued\n  stages:") + """\
    - name: Build
      actions:
        - {name: A, provider: Wait}
""", [
        "conveyor.yml:3:3 pipeline.executionMode: unknown executionMode 'Queued' (did you mean 'QUEUED'?)",
    ]),
    "executionMode unknown": (SOURCE.replace("  stages:", "  executionMode: FIFO\n  stages:") + """\
    - name: Build
      actions:
        - {name: A, provider: Wait}
""", [
        ("conveyor.yml:3:3 pipeline.executionMode: unknown executionMode 'FIFO'; expected one of SUPERSEDED, "
         "QUEUED, PARALLEL"),
    ]),
    "unknown keys with did-you-mean": ("""\
name: demo
pipelines: {}
pipeline:
  executionmode: QUEUED
  stages:
    - name: Source
      action: []
      actions:
        - name: Source
          provider: Git
          outputArtifacts: [src]
          brnach: main
          configuration: {repo: .}
    - name: Build
      actions:
        - {name: A, provider: Wait, second: 3}
""", [
        "conveyor.yml:2:1 pipelines: unknown key 'pipelines' (did you mean 'pipeline'?)",
        "conveyor.yml:4:3 pipeline.executionmode: unknown key 'executionmode' (did you mean 'executionMode'?)",
        "conveyor.yml:7:7 pipeline.stages[0].action: unknown key 'action' (did you mean 'actions'?)",
        ("conveyor.yml:12:11 pipeline.stages[0].actions[0].brnach: unknown action key 'brnach' "
         "(did you mean 'branch'?)"),
        "conveyor.yml:13:27 pipeline.stages[0].actions[0].configuration.repo: unknown Git setting 'repo'",
        ("conveyor.yml:16:37 pipeline.stages[1].actions[0].second: unknown action key 'second' "
         "(did you mean 'seconds'?)"),
    ]),
    "a setting both on the action and under configuration": (SOURCE + """\
    - name: Build
      actions:
        - name: W
          provider: Wait
          seconds: 1
          configuration: {seconds: 2}
""", [
        ("conveyor.yml:14:11 pipeline.stages[1].actions[0].seconds: 'seconds' is set both on the action and "
         "under configuration; keep one"),
    ]),
    "timeoutInMinutes out of range": (SOURCE + """\
    - name: Build
      actions:
        - {name: W, provider: Wait, timeoutInMinutes: 0}
        - {name: M, provider: Manual, timeoutInMinutes: 86401}
""", [
        ("conveyor.yml:12:37 pipeline.stages[1].actions[0].timeoutInMinutes: timeoutInMinutes must be between 1 "
         "and 86400, got 0"),
        ("conveyor.yml:13:39 pipeline.stages[1].actions[1].timeoutInMinutes: timeoutInMinutes must be between 1 "
         "and 86400, got 86401"),
    ]),
    "invalid names": (SOURCE + """\
    - name: "Build stage"
      actions:
        - {name: "a/b", provider: Command, command: [x], outputArtifacts: ["out.zip"]}
""", [
        ("conveyor.yml:10:7 pipeline.stages[1].name: invalid stage name 'Build stage': expected 1-100 characters "
         r"matching [A-Za-z0-9.@\-_]+"),
        ("conveyor.yml:12:12 pipeline.stages[1].actions[0].name: invalid action name 'a/b': expected 1-100 "
         r"characters matching [A-Za-z0-9.@\-_]+"),
        ("conveyor.yml:12:76 pipeline.stages[1].actions[0].outputArtifacts[0]: invalid artifact name 'out.zip': "
         r"expected 1-100 characters matching [a-zA-Z0-9_\-]+"),
    ]),
}


@pytest.mark.parametrize("text,expected", CASES.values(), ids=CASES.keys())
def test_diagnostics(text, expected):
    assert diagnostics(text) == expected


def test_every_error_is_reported_at_once():
    text = """\
name: demo
pipeline:
  executionMode: SERIAL
  stages:
    - name: Source
      actions:
        - {name: Source, provider: Git, outputArtifacts: [src]}
    - name: Build
      actions:
        - {name: Compile, provider: Codebuild, inputArtifacts: [src]}
        - {name: Test, provider: Command, inputArtifacts: [nothing]}
        - {name: Wait, provider: Wait, runOrder: 0}
""" + HOST
    with pytest.raises(ConfigError) as info:
        load_pipeline_text(text)
    err = info.value
    assert err.error_count == 5
    assert [str(d) for d in err.diagnostics] == [
        ("conveyor.yml:3:3 pipeline.executionMode: unknown executionMode 'SERIAL'; expected one of SUPERSEDED, "
         "QUEUED, PARALLEL"),
        ("conveyor.yml:10:27 pipeline.stages[1].actions[0].provider: unknown provider 'Codebuild' "
         "(did you mean 'CodeBuild'?)"),
        ("conveyor.yml:11:11 pipeline.stages[1].actions[1]: a Command action needs exactly one of 'command' "
         "(an argv list) or 'script'"),
        ("conveyor.yml:11:60 pipeline.stages[1].actions[1].inputArtifacts[0]: input artifact 'nothing' is not "
         "produced by any action (known: src)"),
        "conveyor.yml:12:40 pipeline.stages[1].actions[2].runOrder: runOrder must be between 1 and 999, got 0",
    ]
    assert str(err) == "\n".join(str(d) for d in err.diagnostics)  # in file order, one per line


def test_warnings_alone_do_not_fail_the_file():
    text = SOURCE + """\
    - name: Build
      actions:
        - {name: D, provider: CodeDeployToECS, environment: production, service: orders, inputArtifacts: [src]}
environments:
  production:
    services:
      orders:
        loadBalancer: {port: 18080, testPort: 19080, container: api, containerPort: 8080}
        deployment: {controller: CODE_DEPLOY, waitTimeMinutes: 5}
"""
    pipeline = load_pipeline_text(text)
    assert [str(w) for w in pipeline.warnings] == [
        ("conveyor.yml:18:47 environments.production.services.orders.deployment.waitTimeMinutes: warning: "
         "waitTimeMinutes only applies with deploymentReadyOption: STOP_DEPLOYMENT (how long green waits for "
         "`conveyor deploy continue`); it is ignored here"),
    ]


# --- files that are not a pipeline at all: exactly one one-line error, no traceback -------------

BROKEN = {
    "empty file": ("", "conveyor.yml:1:1: the file is empty; expected a YAML mapping"),
    "only comments": ("# nothing here\n", "conveyor.yml:1:1: the file is empty; expected a YAML mapping"),
    "list at the top level": ("- name: demo\n- pipeline: {}\n",
                              ("conveyor.yml:1:1: expected a mapping at the top level (name:, pipeline:, ...), "
                               "got a list")),
    "string at the top level": ("just words\n",
                                ("conveyor.yml:1:1: expected a mapping at the top level (name:, pipeline:, ...), "
                                 "got a string")),
    "duplicate top-level key": ("name: a\npipeline: {}\nname: b\n",
                                "conveyor.yml:3:1 name: duplicate key 'name' (first defined on line 1)"),
    "duplicate nested key": (SOURCE + "    - name: B\n      actions:\n        - name: A\n          provider: Wait\n"
                             "          provider: Command\n",
                             ("conveyor.yml:14:11 pipeline.stages[1].actions[0].provider: duplicate key 'provider' "
                              "(first defined on line 13)")),
    "unclosed flow list": ("name: [\n",
                           "conveyor.yml:2:1: malformed YAML: expected the node content, but found '<stream end>'"),
    "mapping value in a scalar": ("name: a: b\n", ("conveyor.yml:1:8: malformed YAML: mapping values are not "
                                  "allowed here")),
    "tab indentation": ("name: x\n\tpipeline: {}\n",
                        "conveyor.yml:2:1: malformed YAML: found character '\\t' that cannot start any token"),
    "bad indentation": ("name: x\npipeline:\n  stages:\n  - name: a\n   actions: []\n",
                        "conveyor.yml:5:4: malformed YAML: expected <block end>, but found '<block mapping start>'"),
}


@pytest.mark.parametrize("text,expected", BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_file_gives_one_line_with_its_position(text, expected, tmp_path):
    with pytest.raises(ConfigError) as info:
        load_pipeline_text(text)
    err = info.value
    assert [str(d) for d in err.diagnostics] == [expected]
    assert str(err) == expected and "\n" not in str(err)
    assert "Traceback" not in str(err) and "yaml." not in str(err)
    assert err.__cause__ is None
    assert err.__context__ is None or err.__suppress_context__

    path = tmp_path / "conveyor.yml"
    path.write_text(text)
    assert [str(d) for d in check_file(path, "conveyor.yml")] == [expected]


def test_files_are_named_as_given_and_missing_files_say_so(tmp_path):
    path = tmp_path / "conveyor.yml"
    path.write_text(VALID.replace("provider: Command", "provider: Comand"))
    assert [str(d) for d in check_file(path, "ci/conveyor.yml")] == [
        ("ci/conveyor.yml:13:11 pipeline.stages[1].actions[0].provider: unknown provider 'Comand' "
         "(did you mean 'Command'?)"),
    ]
    with pytest.raises(ConfigError) as info:
        load_pipeline(tmp_path / "nope.yml", "nope.yml")
    assert str(info.value) == "nope.yml: file not found"
