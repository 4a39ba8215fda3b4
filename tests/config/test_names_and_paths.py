"""Issue 16, items 3 and 4, at config time: each hole as it was found, now a clear error (or, where
CodeBuild accepts the file, a warning) at file:line:col with its key path."""

from __future__ import annotations

import pytest

from conveyor.config.buildspec import check_buildspec_text
from conveyor.config.pipeline import load_pipeline_text
from conveyor.errors import ConfigError
from conveyor.names import (
    check_commit,
    check_container_env_name,
    check_git_ref,
    check_pipeline_env_name,
    check_shell_env_name,
)
from conveyor.paths import PathEscape, path_problem, resolve_inside

ATTACK_NAME = "A;touch /tmp/x;B"


@pytest.mark.parametrize("name", [ATTACK_NAME, "", "9A", "A-B", "A B", "A\nB", "A=B", "$(id)", "`id`", "é"])
def test_shell_names_outside_posix_are_refused(name):
    assert check_shell_env_name(name) is not None


@pytest.mark.parametrize("name", ["A", "_", "IMAGE_TAG", "a1", "_9"])
def test_shell_names(name):
    assert check_shell_env_name(name) is None


def test_pipeline_names_follow_codepipelines_pattern():
    assert check_pipeline_env_name("9_ok") is None  # [A-Za-z0-9_]+ allows a leading digit
    assert check_pipeline_env_name("A-B") is not None
    assert check_pipeline_env_name("A" * 129) == "is 129 characters long; CodePipeline allows at most 128"


@pytest.mark.parametrize("name,problem", [
    ("A\nB", "holds a newline, which would start another variable in the env-file"),
    ("A=B", "holds '=', which ends a variable name"),
    ("A\0", "holds a NUL byte"),
    ("#A", "starts with '#', which podman's env-file reads as a comment"),
    ("A B", "holds whitespace, which podman refuses in a variable name"),
    ("", "is empty"),
])
def test_container_names(name, problem):
    assert check_container_env_name(name) == problem


def test_container_names_allow_what_ecs_allows():
    assert check_container_env_name("my.setting-1") is None


@pytest.mark.parametrize("ref", ["--upload-pack=touch /tmp/x", "-b", "a..b", "a b", "a~1", "a^", "a:b", "a?",
                                 "a*", "a[", "a\\b", "/a", "a/", "a.", "a/.b", "a.lock", "a@{1}", "@", "a//b",
                                 "a\x7f", "HEAD", ""])
def test_git_refs_that_check_ref_format_refuses(ref):
    assert check_git_ref(ref) is not None


@pytest.mark.parametrize("ref", ["main", "release/1.2", "feature/x_y-z", "v1.0"])
def test_git_refs(ref):
    assert check_git_ref(ref) is None


@pytest.mark.parametrize("commit,ok", [("3f2c", True), ("a" * 40, True), ("b" * 64, True), ("abc", False),
                                       ("a" * 41, False), ("--output=/tmp/x", False), ("HEAD", False),
                                       ("3f2c^", False)])
def test_commits(commit, ok):
    assert (check_commit(commit) is None) is ok


def test_path_problems():
    assert path_problem("dist/app") is None
    assert path_problem("/etc") == "is an absolute path; expected a path relative to its directory"
    assert path_problem("a/../../b") == "goes up out of its directory with '..'"
    assert path_problem("/root/.m2", allow_absolute=True) is None


def test_resolve_inside_follows_symlinks_then_checks(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    (root / "out").symlink_to(tmp_path)
    with pytest.raises(PathEscape, match="leads outside"):
        resolve_inside(root, "out/x")
    with pytest.raises(PathEscape):
        resolve_inside(root, "../src2")
    assert resolve_inside(root, "a/../b") == root.resolve() / "b"


# --- buildspec ---------------------------------------------------------------------------------

def test_a_buildspec_variable_name_that_would_run_code_is_an_error_at_its_position():
    found = [str(d) for d in check_buildspec_text(f"""\
version: 0.2
env:
  variables:
    "{ATTACK_NAME}": x
  parameter-store:
    "B C": /p
phases:
  build:
    commands: [echo]
""")]
    assert found == [
        f"buildspec.yml:4:5 env.variables.{ATTACK_NAME}: environment variable '{ATTACK_NAME}' is not a valid name: "
        "use letters, digits and _, not starting with a digit (CodeBuild exports it into the build shell)",
        "buildspec.yml:6:5 env.parameter-store.B C: environment variable 'B C' is not a valid name: use letters, "
        "digits and _, not starting with a digit (CodeBuild exports it into the build shell)",
    ]


def test_paths_that_leave_the_source_warn_at_their_position():
    found = [str(d) for d in check_buildspec_text("""\
version: 0.2
phases:
  build:
    commands: [echo]
reports:
  unit:
    files: ['**/*.xml']
    base-directory: ../..
artifacts:
  files: ['../../etc/passwd']
cache:
  paths: ['/root/.m2/**/*', '../up/**/*']
  key: 'a/../../b'
""")]
    assert [f.split(": warning: ")[0] for f in found] == [
        "buildspec.yml:8:5 reports.unit.base-directory",
        "buildspec.yml:10:11 artifacts.files[0]",
        "buildspec.yml:13:3 cache.key: 'a/../../b' holds '/': a cache key names one file of the cache",
    ]
    assert found[0].endswith("warning: '../..' goes up out of its directory with '..': CodeBuild reads it in the "
                             "build container, but Conveyor reads only under the build directory, on the host, so "
                             "nothing is read there; write the files under the source directory")


def test_a_hash_files_glob_may_hold_a_slash_in_the_cache_key():
    found = [str(d) for d in check_buildspec_text("""\
version: 0.2
phases:
  build:
    commands: [echo]
cache:
  paths: ['deps/**/*']
  key: deps-$(codebuild-hash-files app/lock.txt)
""")]
    assert found == []


# --- conveyor.yml ------------------------------------------------------------------------------

PIPELINE = """\
name: demo
pipeline:
  stages:
    - name: Source
      actions:
        - name: Source
          provider: Git
          outputArtifacts: [src]
    - name: Build
      actions:
        - name: Build
          provider: CodeBuild
          inputArtifacts: [src]
          projectName: {project}
          buildspec: {buildspec}
          environmentVariables:
            {var}: x
    - name: Deploy
      actions:
        - name: Deploy
          provider: ECS
          environment: staging
          service: web
          inputArtifacts: [src]
          file: {file}
"""


def errors(**values: str) -> list[str]:
    text = PIPELINE.format(**{"project": "web", "buildspec": "buildspec.yml", "var": "STAGE",
                              "file": "imagedefinitions.json", **values})
    try:
        load_pipeline_text(text, "conveyor.yml")
    except ConfigError as exc:
        return [str(d) for d in exc.diagnostics if d.severity == "error"]
    return []


def test_a_project_name_with_dot_dot_is_an_error():
    """It used to become <home>/cache/../x, mounted read-write into the build."""
    assert errors(project="'../../x'") == [
        "conveyor.yml:14:11 pipeline.stages[1].actions[0].projectName: '../../x' is not a valid CodeBuild project "
        "name: 2-255 letters, digits, '-' and '_', starting with a letter or digit"]


def test_file_references_are_relative_inside_the_artifact():
    assert errors(buildspec="../b.yml", file="/etc/passwd") == [
        "conveyor.yml:15:11 pipeline.stages[1].actions[0].buildspec: '../b.yml' goes up out of its directory with '..'",
        "conveyor.yml:25:11 pipeline.stages[2].actions[0].file: '/etc/passwd' is an absolute path; expected a path "
        "relative to its directory"]


def test_override_names_are_checked():
    assert errors(var="'A;touch /tmp/x;B'") == [
        "conveyor.yml:16:11 pipeline.stages[1].actions[0].environmentVariables: environment variable "
        "'A;touch /tmp/x;B' is not a valid name: use letters, digits and _, not starting with a digit (CodeBuild "
        "exports it into the build shell)"]


def test_a_secondary_artifact_identifier_names_no_directory_outside():
    """It becomes <artifacts>/secondary/<identifier> on the host."""
    found = [str(d) for d in check_buildspec_text("""\
version: 0.2
phases:
  build:
    commands: [echo]
artifacts:
  files: ['a']
  secondary-artifacts:
    ../../up:
      files: ['b']
""")]
    assert found == ["buildspec.yml:8:5 artifacts.secondary-artifacts.../../up: secondary artifact identifier "
                     "'../../up' is not valid: use letters, digits, '-' and '_' (it must match a CodePipeline output "
                     "artifact name)"]
