"""conveyor.config.buildspec rule by rule: the model CodeBuild would see (literal variable values, the
unquoted-float gotcha, defaults), and the exact text and position of every message. Real files, and
`conveyor validate --kind buildspec`, are in test_buildspec_corpus.py."""

from __future__ import annotations

import textwrap

import pytest

from conveyor.config.buildspec import check_buildspec_file, check_buildspec_text, load_buildspec, load_buildspec_text
from conveyor.config.buildspec_model import OnFailure, SecretRef, scalar_text
from conveyor.errors import ConfigError


def messages(text: str) -> list[str]:
    return [str(d) for d in check_buildspec_text(textwrap.dedent(text))]


FULL = """\
version: 0.2
run-as: codebuild-user
env:
  shell: bash
  variables:
    PORT: 8080
    DEBUG: true
    EMPTY:
    PYTHON: 3.10
    GREETING: "hello $USER"
  parameter-store:
    TOKEN: /my-app/token
  secrets-manager:
    DB_PASSWORD: prod/db:password
    WHOLE: prod/api
  exported-variables: [IMAGE_URI]
  git-credential-helper: yes
phases:
  build:
    on-failure: RETRY-2-timed out
    commands: [make]
    finally: [make clean]
  install:
    run-as: root
    runtime-versions:
      python: 3.10
      nodejs: 18
  post_build:
    on-failure: CONTINUE
    commands: [echo done]
artifacts:
  files: [imagedefinitions.json]
  discard-paths: yes
  secondary-artifacts:
    logs:
      files: ['logs/**/*']
      base-directory: build
reports:
  unit:
    files: ['reports/*.xml']
    file-format: CoberturaXml
  integ:
    files: ['integ/*.xml']
cache:
  key: npm-$(codebuild-hash-files package-lock.json)
  fallback-keys: [npm-]
  paths: ['/root/.npm/**/*']
"""


def test_the_model_holds_what_codebuild_would_use():
    spec = load_buildspec_text(FULL)
    assert spec.version == "0.2" and spec.run_as == "codebuild-user" and not spec.separate_shells
    assert spec.env.shell == "bash" and spec.env.git_credential_helper is True
    # Variables are literal strings: numbers and booleans as CodeBuild prints them, nothing expanded.
    assert spec.env.variables == {"PORT": "8080", "DEBUG": "true", "EMPTY": "", "PYTHON": "3.1",
                                  "GREETING": "hello $USER"}
    assert spec.env.parameter_store == {"TOKEN": "/my-app/token"}
    assert spec.env.secret("DB_PASSWORD") == SecretRef("prod/db", "password", "AWSCURRENT", None)
    assert spec.env.secret("WHOLE") == SecretRef("prod/api", None, "AWSCURRENT", None)
    assert spec.env.exported_variables == ("IMAGE_URI",)
    # Phases in CodeBuild's order, whatever the order in the file.
    assert list(spec.phases) == ["install", "build", "post_build"]
    install, build, post = spec.phases.values()
    assert install.runtime_versions == {"python": "3.1", "nodejs": "18"} and install.run_as == "root"
    assert build.commands == ("make",) and build.finally_ == ("make clean",)
    assert build.on_failure == OnFailure("RETRY", 2, "timed out")
    assert post.on_failure == OnFailure("CONTINUE") and install.on_failure is None
    assert spec.artifacts.files == ("imagedefinitions.json",) and spec.artifacts.discard_paths is True
    assert spec.secondary_artifacts["logs"].base_directory == "build"
    assert spec.reports["unit"].file_format == "COBERTURAXML"
    assert spec.reports["integ"].file_format == "JUNITXML"
    assert spec.cache.fallback_keys == ("npm-",) and spec.cache.action is None
    assert spec.source_file == "buildspec.yml"


def test_warnings_ride_along_on_the_model():
    assert [str(w) for w in load_buildspec_text(FULL).warnings] == [
        "buildspec.yml:9:5 env.variables.PYTHON: warning: unquoted 3.10 is read as the YAML number 3.1, so CodeBuild "
        "sees '3.1'; quote it (\"3.10\") to keep it as written",
        "buildspec.yml:23:3 phases.install: warning: 'install' is written after 'build' but runs before it: "
        "phases always run in the order install, pre_build, build, post_build",
        "buildspec.yml:26:7 phases.install.runtime-versions.python: warning: unquoted 3.10 is read as the YAML number "
        "3.1, so CodeBuild sees '3.1'; quote it (\"3.10\") to keep it as written",
    ]


@pytest.mark.parametrize("value, seen", [(3.10, "3.1"), (6.0, "6"), (18, "18"), (True, "true"), (None, ""),
                                         (1e-05, "1e-05"), ("3.10", "3.10")])
def test_scalar_text_is_what_codebuild_sees(value, seen):
    assert scalar_text(value) == seen


def test_quoted_values_stay_as_written():
    spec = load_buildspec_text('version: 0.2\nenv:\n  variables:\n    V: "3.10"\nphases:\n  build:\n'
                               '    commands: [echo]\n')
    assert spec.env.variables == {"V": "3.10"} and spec.warnings == ()


# --- version ----------------------------------------------------------------------------------------


def test_version_is_required_and_must_be_0_2_or_0_1():
    assert messages("phases:\n  build:\n    commands: [make]\n") == [
        "buildspec.yml:1:1: missing required key 'version' (start the file with version: 0.2)"]
    assert messages("version: 0.3\nphases:\n  build:\n    commands: [make]\n") == [
        "buildspec.yml:1:1 version: unsupported version '0.3': expected 0.2 (or the legacy 0.1)"]


def test_version_0_1_is_accepted_with_its_own_shell_per_command():
    spec = load_buildspec_text("version: 0.1\nenvironment_variables:\n  plaintext:\n    GOOS: linux\n"
                               "phases:\n  build:\n    commands: [cd src, make]\n")
    assert spec.separate_shells is True and spec.env.variables == {"GOOS": "linux"}
    assert [str(w) for w in spec.warnings] == [
        "buildspec.yml:1:1 version: warning: version 0.1 runs each command in its own shell, so cd, export and "
        "variables do not carry over to the next command; 0.2 uses one shell"]


def test_a_0_1_section_in_a_0_2_file_is_ignored_with_a_warning():
    assert messages("version: 0.2\nenvironment_variables:\n  plaintext: {A: b}\nphases:\n  build:\n"
                    "    commands: [make]\n") == [
        "buildspec.yml:2:1 environment_variables: warning: 'environment_variables' is the buildspec 0.1 spelling; "
        "version 0.2 reads 'env' (with 'variables' instead of 'plaintext'), so CodeBuild ignores this section"]


# --- keys at the wrong place ------------------------------------------------------------------------


def test_unknown_keys_warn_with_did_you_mean():
    assert messages("""\
        version: 0.2
        phases:
          prebuild:
            commands: [make]
          install:
            Commands:
              - npm ci
              - npm test
        artifact:
          files: [a]
        """) == [
        "buildspec.yml:3:3 phases.prebuild: warning: unknown phase 'prebuild' (did you mean 'pre_build'?); CodeBuild "
        "ignores it, so its commands never run",
        "buildspec.yml:6:5 phases.install.Commands: warning: unknown key 'Commands' (did you mean 'commands'?); "
        "CodeBuild ignores it, so the 2 command(s) under it never run",
        "buildspec.yml:9:1 artifact: warning: unknown top-level key 'artifact' (did you mean 'artifacts'?); "
        "CodeBuild ignores it",
    ]


def test_artifacts_indented_under_a_phase_is_an_error():
    assert messages("""\
        version: 0.2
        phases:
          post_build:
            commands:
              - printf '{}' > imageDetail.json
            artifacts:
              files:
                - imageDetail.json
        """) == [
        "buildspec.yml:6:5 phases.post_build.artifacts: 'artifacts' is a top-level key, but it is indented under "
        "phases.post_build, where CodeBuild ignores it (so the build uploads no artifacts); move it to the start of "
        "the line"]


def test_phases_at_the_wrong_level_are_errors():
    assert messages("version: 0.2\nbuild:\n  commands: [make]\n") == [
        "buildspec.yml:1:1: missing required key 'phases'; build is at the top level (line 2): indent it under "
        "'phases:'",
        "buildspec.yml:2:1 build: 'build' is a phase, but it sits at the top level; indent it under 'phases:' (as "
        "written, its commands never run)",
    ]
    assert messages("""\
        version: 0.1
        phases:
        environment_variables:
          plaintext:
            A: b
          build:
            commands: [make]
        """) == [
        "buildspec.yml:1:1 version: warning: version 0.1 runs each command in its own shell, so cd, export and "
        "variables do not carry over to the next command; 0.2 uses one shell",
        "buildspec.yml:2:1 phases: expected a mapping of phases (install, pre_build, build, post_build), got nothing "
        "(null); build is under 'environment_variables' (line 6): indent it under 'phases:'",
        "buildspec.yml:6:3 environment_variables.build: 'build' is a phase, but it sits under environment_variables; "
        "indent it under 'phases:' (as written, its commands never run)",
    ]


# --- commands ---------------------------------------------------------------------------------------


def test_a_command_that_yaml_reads_as_a_mapping_is_a_yaml_file_error():
    assert messages("""\
        version: 0.2
        phases:
          build:
            commands:
              - make
              - echo "Hello: world"
              - - nested
              -
        """) == [
        "buildspec.yml:6:9 phases.build.commands[1]: YAML_FILE_ERROR: expected a string command, got a mapping "
        "(quote a command that contains ': ', e.g. - 'echo \"Hello: world\"')",
        "buildspec.yml:7:9 phases.build.commands[2]: YAML_FILE_ERROR: expected a string command, got a list",
        "buildspec.yml:8:8 phases.build.commands[3]: warning: empty command (a '-' with nothing after it); nothing "
        "runs for it",
    ]


def test_single_quotes_in_the_suggested_command_are_doubled():
    assert messages("version: 0.2\nphases:\n  build:\n    commands:\n      - sed -i 's/a: b/c/' f\n") == [
        "buildspec.yml:5:9 phases.build.commands[0]: YAML_FILE_ERROR: expected a string command, got a mapping "
        "(quote a command that contains ': ', e.g. - 'sed -i ''s/a: b/c/'' f')"]


def test_commands_as_one_string_run_as_one_command_with_a_warning():
    spec = load_buildspec_text("version: 0.2\nphases:\n  build:\n    commands: |\n      make \\\n        all\n")
    assert spec.phases["build"].commands == ("make \\\n  all\n",)
    assert [str(w) for w in spec.warnings] == [
        "buildspec.yml:4:5 phases.build.commands: warning: expected a list of commands, got a single string; it is "
        "read as a one-item list, but the buildspec reference requires a list (put it after '- ')"]


def test_commands_are_required_outside_install_and_runtime_versions_only_inside():
    assert messages("""\
        version: 0.2
        phases:
          install:
            runtime-versions: {}
          pre_build:
            on-failure: ABORT
          build:
            runtime-versions:
              java: corretto17
            commands: [make]
          post_build:
            finally: [rm -rf tmp]
        """) == [
        "buildspec.yml:4:5 phases.install.runtime-versions: runtime-versions must list at least one runtime "
        "(e.g. python: \"3.12\"), or be left out",
        "buildspec.yml:5:3 phases.pre_build: missing required key 'commands' (required in the pre_build phase)",
        "buildspec.yml:8:5 phases.build.runtime-versions: runtime-versions is only allowed in the install phase",
        "buildspec.yml:11:3 phases.post_build: warning: the post_build phase has 'finally' but no 'commands', which "
        "the buildspec reference requires; only the finally commands run",
    ]


def test_a_phase_written_as_a_list_says_where_the_commands_go():
    assert messages("version: 0.2\nphases:\n  build:\n    - make\n") == [
        "buildspec.yml:3:3 phases.build: expected a mapping (commands:, finally:, on-failure:, ...), got a list; put "
        "the commands under 'commands:'"]


# --- on-failure -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, parsed", [
    ("ABORT", OnFailure("ABORT")),
    ("CONTINUE", OnFailure("CONTINUE")),
    ("RETRY", OnFailure("RETRY", 3, ".*")),
    ("RETRY-5", OnFailure("RETRY", 5, ".*")),
    ("RETRY-0", OnFailure("RETRY", 0, ".*")),
    ("RETRY-Connection reset", OnFailure("RETRY", 3, "Connection reset")),
    ("RETRY-10-exit status [0-9]+", OnFailure("RETRY", 10, "exit status [0-9]+")),
])
def test_every_on_failure_form(text, parsed):
    assert OnFailure.parse(text) == parsed


@pytest.mark.parametrize("value, message", [
    ("abort", "invalid on-failure 'abort' (did you mean 'ABORT'?)"),
    ("retry-3", "invalid on-failure 'retry-3' (did you mean 'RETRY-3'?)"),
    ("SKIP", "invalid on-failure 'SKIP': expected ABORT, CONTINUE, RETRY, RETRY-<count>, RETRY-<regex> or "
             "RETRY-<count>-<regex>"),
    ("RETRY-101", "invalid on-failure 'RETRY-101': retry count 101 is out of range: expected 0-100"),
    ("RETRY-2-(", "invalid on-failure 'RETRY-2-(': the regex '(' does not compile: missing ), unterminated "
                  "subpattern at position 0"),
    ("RETRY-", "invalid on-failure 'RETRY-': the regex after 'RETRY-' is empty"),
])
def test_bad_on_failure_values(value, message):
    assert messages(f"version: 0.2\nphases:\n  build:\n    on-failure: '{value}'\n    commands: [make]\n") == [
        f"buildspec.yml:4:5 phases.build.on-failure: {message}"]


# --- env --------------------------------------------------------------------------------------------


def test_env_rules():
    assert messages("""\
        version: 0.2
        env:
          shell: /bin/bash
          variables:
            CODEBUILD_CACHE_BUCKET: my-cache
            PATH: "$PATH:/opt/tools/bin"
          parameter-store:
            TOKEN: ""
          secrets-manager:
            A: ":key"
            B: "db:password:AWSPREVIOUS:v-123"
            C: "a:b:c:d:e"
            D: "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf:password::"
          exported-variables:
            - AWS_REGION_COPY
            - 1BAD
            - B
            - IMAGE
            - IMAGE
        phases:
          build:
            commands: [make]
        """) == [
        "buildspec.yml:3:3 env.shell: warning: unknown shell '/bin/bash' (did you mean 'bash'?): CodeBuild supports "
        "bash and /bin/sh on Linux, powershell.exe and cmd.exe on Windows",
        "buildspec.yml:5:5 env.variables.CODEBUILD_CACHE_BUCKET: warning: names starting with CODEBUILD_ are reserved "
        "for CodeBuild's own variables; rename it (e.g. CACHE_BUCKET)",
        "buildspec.yml:6:5 env.variables.PATH: warning: is set literally to '$PATH:/opt/tools/bin': CodeBuild does "
        "not expand variables in env values; extend it in a command instead (export PATH=\"$PATH:/opt/tools/bin\")",
        "buildspec.yml:8:5 env.parameter-store.TOKEN: empty parameter name: expected the name of an SSM parameter "
        "(e.g. /my-app/token)",
        "buildspec.yml:10:5 env.secrets-manager.A: invalid Secrets Manager reference ':key': the secret-id before "
        "the first ':' is empty",
        "buildspec.yml:11:5 env.secrets-manager.B: invalid Secrets Manager reference 'db:password:AWSPREVIOUS:v-123': "
        "version-stage and version-id are mutually exclusive; give one of them",
        "buildspec.yml:12:5 env.secrets-manager.C: invalid Secrets Manager reference 'a:b:c:d:e': too many ':' "
        "separators (4): expected at most secret-id:json-key:version-stage:version-id",
        "buildspec.yml:15:7 env.exported-variables[0]: 'AWS_REGION_COPY' cannot be exported: CodeBuild does not "
        "export names starting with AWS_",
        "buildspec.yml:16:7 env.exported-variables[1]: invalid variable name '1BAD': expected letters, digits and _, "
        "not starting with a digit",
        "buildspec.yml:17:7 env.exported-variables[2]: warning: 'B' comes from secrets-manager, and CodeBuild does "
        "not export secrets; the pipeline will not see it",
        "buildspec.yml:19:7 env.exported-variables[4]: warning: 'IMAGE' is listed twice",
    ]


@pytest.mark.parametrize("text, ref", [
    ("prod/db", SecretRef("prod/db", None, "AWSCURRENT", None)),
    ("prod/db:password", SecretRef("prod/db", "password", "AWSCURRENT", None)),
    ("prod/db::AWSPREVIOUS", SecretRef("prod/db", None, "AWSPREVIOUS", None)),
    ("prod/db:password::0123-abcd", SecretRef("prod/db", "password", None, "0123-abcd")),
    ("arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf:password",
     SecretRef("arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf", "password", "AWSCURRENT", None)),
])
def test_secrets_manager_references(text, ref):
    assert SecretRef.parse(text) == ref


# --- artifacts, reports, cache ----------------------------------------------------------------------


def test_artifact_shapes():
    head = "version: 0.2\nphases:\n  build:\n    commands: [make]\nartifacts:\n  type: zip\n  discard-paths: maybe\n"
    assert messages(head + "  secondary-artifacts:\n    logs:\n      files: logs/*\n") == [
        "buildspec.yml:5:1 artifacts: missing required key 'files' (CodeBuild requires it even when only "
        "secondary-artifacts are used)",
        "buildspec.yml:10:7 artifacts.secondary-artifacts.logs.files: warning: expected a list of paths, got a single "
        "string; it is read as a one-item list, but the buildspec reference requires a list (put it after '- ')",
    ]
    assert messages(head + "  files: ['**/*']\n") == [
        "buildspec.yml:6:3 artifacts.type: warning: 'type' is a buildspec 0.1 key; version 0.2 ignores it (the "
        "artifact type comes from the project)",
        "buildspec.yml:7:3 artifacts.discard-paths: expected yes or no, got a string 'maybe'",
    ]


def test_report_groups():
    reports = "".join(f"  g{i}:\n    files: [r{i}.xml]\n" for i in range(5))
    assert messages(f"version: 0.2\nphases:\n  build:\n    commands: [make]\nreports:\n{reports}"
                    f"  g5:\n    files: [x]\n    file-format: JUNIT\n  g6:\n    base-directory: out\n") == [
        "buildspec.yml:5:1 reports: at most 5 report groups per project, got 7",
        "buildspec.yml:18:5 reports.g5.file-format: unknown file-format 'JUNIT' (did you mean 'JUNITXML'?)",
        "buildspec.yml:19:3 reports.g6: missing required key 'files'",
    ]


def test_cache_shapes():
    keys = "".join(f"    - k{i}-\n" for i in range(6))
    assert messages(f"version: 0.2\nphases:\n  build:\n    commands: [make]\ncache:\n  action: load\n"
                    f"  fallback-keys:\n{keys}") == [
        "buildspec.yml:5:1 cache: missing required key 'paths'",
        "buildspec.yml:6:3 cache.action: unknown cache action 'load'; expected restore or save (omit it to do both)",
        "buildspec.yml:7:3 cache.fallback-keys: at most 5 fallback keys, got 6",
        "buildspec.yml:7:3 cache.fallback-keys: warning: fallback-keys are ignored without a cache 'key'",
    ]


# --- batch ------------------------------------------------------------------------------------------


def test_batch_builds():
    spec_text = """\
        version: 0.2
        batch:
          fast-fail: true
          build-graph:
            - identifier: unit
              env:
                privileged-mode: true
                variables: {LEVEL: 1}
            - identifier: integ
              depend-on: [unit, lint]
              env:
                NAME: integ
            - identifier: unit
        phases:
          build:
            commands: [make]
        """
    assert messages(spec_text) == [
        "buildspec.yml:10:25 batch.build-graph[1].depend-on[1]: depends on unknown identifier 'lint' (known: unit)",
        "buildspec.yml:12:9 batch.build-graph[1].env.NAME: warning: unknown key 'NAME' in a batch env; CodeBuild "
        "ignores it (environment variables go under env.variables)",
        "buildspec.yml:13:7 batch.build-graph[2].identifier: duplicate identifier 'unit' (first used on line 5)",
    ]
    batch = load_buildspec_text("version: 0.2\nbatch:\n  fast-fail: true\n  build-graph:\n"
                                "    - {identifier: unit, env: {privileged-mode: true, variables: {LEVEL: 1}}}\n"
                                "    - {identifier: integ, buildspec: integ.yml, depend-on: [unit]}\n").batch
    assert batch.kind == "build-graph" and batch.fast_fail is True
    unit, integ = batch.builds
    assert unit.env == {"privileged-mode": True, "variables": {"LEVEL": "1"}} and unit.buildspec is None
    assert integ.depend_on == ("unit",) and integ.buildspec == "integ.yml"


# --- the API ----------------------------------------------------------------------------------------


def test_load_buildspec_raises_with_every_error_and_keeps_warnings(tmp_path):
    path = tmp_path / "buildspec.yml"
    path.write_text("version: 0.2\nphases:\n  build:\n    on-failure: skip\n    commands:\n      - a: b\n"
                    "  extra: {}\n")
    with pytest.raises(ConfigError) as err:
        load_buildspec(path, display="buildspec.yml")
    assert str(err.value).splitlines() == [
        "buildspec.yml:4:5 phases.build.on-failure: invalid on-failure 'skip': expected ABORT, CONTINUE, RETRY, "
        "RETRY-<count>, RETRY-<regex> or RETRY-<count>-<regex>",
        "buildspec.yml:6:9 phases.build.commands[0]: YAML_FILE_ERROR: expected a string command, got a mapping "
        "(quote a command that contains ': ', e.g. - 'a: b')",
        "buildspec.yml:7:3 phases.extra: warning: unknown phase 'extra'; CodeBuild ignores it, so its commands never "
        "run",
    ]
    assert err.value.error_count == 2


def test_check_buildspec_file_never_raises(tmp_path):
    assert [str(d) for d in check_buildspec_file(tmp_path / "nope.yml", "nope.yml")] == ["nope.yml: file not found"]
    (tmp_path / "bad.yml").write_text("version: 0.2\nphases: [\n")
    assert [str(d) for d in check_buildspec_file(tmp_path / "bad.yml", "bad.yml")] == [
        "bad.yml:3:1: malformed YAML: expected the node content, but found '<stream end>'"]
    (tmp_path / "list.yml").write_text("- version: 0.2\n")
    assert [str(d) for d in check_buildspec_file(tmp_path / "list.yml", "list.yml")] == [
        "list.yml:1:1: expected a mapping at the top level (version:, phases:, ...), got a list"]
