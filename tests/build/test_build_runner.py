"""The CodeBuild-compatible runner, run for real in the build container: one rule per test, each
asserting the build status, the agent's log lines, the phase records, the exported variables and
the uploaded files (aws-semantics §1.3–§1.6, §1.9, §1.11). Rules tagged [inferred] in
conveyor.build.phases are marked "assumed" here."""

from __future__ import annotations

import re
import subprocess
import textwrap
import threading
import time
import uuid
from functools import cache
from pathlib import Path

import pytest
from stack_support import stack_missing

from conveyor.build.phases import (
    BUILD,
    DOWNLOAD_SOURCE,
    FAILED,
    FAULT,
    FINALIZING,
    INSTALL,
    POST_BUILD,
    PRE_BUILD,
    PROVISIONING,
    QUEUED,
    STOPPED,
    SUBMITTED,
    SUCCEEDED,
    TIMED_OUT,
    UPLOAD_ARTIFACTS,
)
from conveyor.build.runner import SOURCE_MOUNT, BuildRequest, BuildResult, run_build
from conveyor.config.buildspec import load_buildspec_text
from conveyor.images import BUILD_IMAGE
from conveyor.providers.local.containers import ContainerEngine, detect_engine, image_exists

pytestmark = pytest.mark.podman

PROJECT = "runner-test"
TIMESTAMP = r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}\.\d{6}"
AGENT_LINE = re.compile(rf"\[Container\] {TIMESTAMP} (.*)")
BEFORE_COMMANDS = [(SUBMITTED, SUCCEEDED), (QUEUED, SUCCEEDED), (PROVISIONING, SUCCEEDED),
                   (DOWNLOAD_SOURCE, SUCCEEDED)]
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@cache
def engine() -> ContainerEngine:
    return detect_engine()


@pytest.fixture(autouse=True, scope="module")
def build_image():
    if not image_exists(engine(), BUILD_IMAGE):
        stack_missing(f"{BUILD_IMAGE} is missing: run `conveyor setup`")


def build(tmp_path: Path, buildspec_text: str, files: dict[str, str] | None = None,
          **request_overrides) -> tuple[BuildResult, list[str]]:
    """Write `files` into tmp_path/src, run the buildspec there, upload to tmp_path/out."""
    src = tmp_path / "src"
    src.mkdir(parents=True)
    for rel, content in (files or {}).items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(content)
    spec = load_buildspec_text(textwrap.dedent(buildspec_text))
    options = {"project": PROJECT, "artifacts_dir": tmp_path / "out", **request_overrides}
    request = BuildRequest(source_dir=src, image=BUILD_IMAGE, engine=engine(), **options)
    lines: list[str] = []
    result = run_build(spec, request, lines.append)
    return result, lines


def log(lines: list[str]) -> list[str]:
    """The log with each agent line's timestamp checked and dropped: `[Container] Entering phase BUILD`;
    command output as it came."""
    out = []
    for line in lines:
        if line.startswith("[Container]"):
            m = AGENT_LINE.fullmatch(line)
            assert m, f"agent line without a CodeBuild timestamp: {line!r}"
            out.append(f"[Container] {m.group(1)}")
        else:
            out.append(line)
    return out


def phase_log(lines: list[str], phase: str, attempt: int = 1) -> list[str]:
    """The lines of one attempt of a phase: from `Entering phase PHASE` to the next `Entering phase`."""
    text = log(lines)
    starts = [i for i, line in enumerate(text) if line.startswith("[Container] Entering phase ")]
    mine = [i for i in starts if text[i] == f"[Container] Entering phase {phase}"]
    assert len(mine) >= attempt, f"phase {phase} attempt {attempt} never started:\n" + "\n".join(text)
    begin = mine[attempt - 1]
    end = next((i for i in starts if i > begin), len(text))
    return text[begin:end]


def phases(result: BuildResult) -> list[tuple[str, str]]:
    return [(p.phase, p.status) for p in result.phases]


def attempts(result: BuildResult, phase: str) -> list[tuple[int, str]]:
    return [(p.attempt, p.status) for p in result.phases if p.phase == phase]


def entered(lines: list[str]) -> list[str]:
    return [line.removeprefix("[Container] Entering phase ") for line in log(lines)
            if line.startswith("[Container] Entering phase ")]


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def ok_end(phase: str) -> list[str]:
    return [f"[Container] Phase complete: {phase} State: SUCCEEDED",
            "[Container] Phase context status code:  Message:"]


def failed_end(phase: str, command: str, status: int) -> list[str]:
    message = f"Error while executing command: {command}. Reason: exit status {status}"
    return [f"[Container] Command did not exit successfully {command} exit status {status}",
            f"[Container] Phase complete: {phase} State: FAILED",
            f"[Container] Phase context status code: COMMAND_EXECUTION_ERROR Message: {message}"]


ALL_SUCCEEDED = [*BEFORE_COMMANDS, (INSTALL, SUCCEEDED), (PRE_BUILD, SUCCEEDED), (BUILD, SUCCEEDED),
                 (POST_BUILD, SUCCEEDED), (UPLOAD_ARTIFACTS, SUCCEEDED), (FINALIZING, SUCCEEDED)]


# --- the shell (§1.1, §1.3, §1.5) --------------------------------------------------------------

def test_one_shell_keeps_cd_and_export_from_install_in_build(tmp_path):
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          install:
            commands:
              - mkdir -p app && cd app && export MODE=test
          build:
            commands:
              - echo "$MODE in $(pwd)"
        """)
    assert result.status == SUCCEEDED
    assert phases(result) == ALL_SUCCEEDED
    assert phase_log(lines, BUILD) == [
        "[Container] Entering phase BUILD",
        '[Container] Running command echo "$MODE in $(pwd)"',
        f"test in {SOURCE_MOUNT}/app",
        *ok_end(BUILD),
    ]


def test_version_0_1_runs_each_command_in_its_own_shell(tmp_path):
    result, lines = build(tmp_path, """
        version: 0.1
        phases:
          install:
            commands:
              - mkdir -p app && cd app && export MODE=test
          build:
            commands:
              - cd app && export MODE=build
              - echo "mode=[$MODE] in $(pwd)"
        """)
    assert result.status == SUCCEEDED
    assert phase_log(lines, BUILD) == [
        "[Container] Entering phase BUILD",
        "[Container] Running command cd app && export MODE=build",
        '[Container] Running command echo "mode=[$MODE] in $(pwd)"',
        f"mode=[] in {SOURCE_MOUNT}",
        *ok_end(BUILD),
    ]


def test_the_default_shell_is_sh_so_double_brackets_fail(tmp_path):
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          build:
            commands:
              - '[[ 1 == 1 ]]'
        """)
    assert result.status == FAILED
    assert (BUILD, FAILED) in phases(result)
    assert [line for line in phase_log(lines, BUILD) if line.startswith("[Container]")] == [
        "[Container] Entering phase BUILD",
        "[Container] Running command [[ 1 == 1 ]]",
        *failed_end(BUILD, "[[ 1 == 1 ]]", 127),
    ]
    # sh's own message is on stderr, which may land after the phase's end (test_stderr_is_logged_with_its_command)
    assert any(line.endswith("[[: not found") for line in lines)


def test_env_shell_bash_runs_double_brackets(tmp_path):
    result, lines = build(tmp_path, """
        version: 0.2
        env:
          shell: bash
        phases:
          build:
            commands:
              - '[[ 1 == 1 ]] && echo "bash ${BASH_VERSION%%.*}"'
        """)
    assert result.status == SUCCEEDED
    body = phase_log(lines, BUILD)
    assert body[0:2] == ["[Container] Entering phase BUILD",
                         '[Container] Running command [[ 1 == 1 ]] && echo "bash ${BASH_VERSION%%.*}"']
    assert re.fullmatch(r"bash \d+", body[2])
    assert body[3:] == ok_end(BUILD)


# --- commands and finally (§1.4) ----------------------------------------------------------------

def test_a_failing_command_skips_the_rest_of_its_phase(tmp_path):
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          build:
            commands:
              - echo one
              - "false"
              - echo never
        """)
    assert result.status == FAILED
    assert phase_log(lines, BUILD) == [
        "[Container] Entering phase BUILD",
        "[Container] Running command echo one",
        "one",
        "[Container] Running command false",
        *failed_end(BUILD, "false", 1),
    ]
    build_record = next(p for p in result.phases if p.phase == BUILD)
    assert (build_record.status, build_record.context) == (
        FAILED, "Error while executing command: false. Reason: exit status 1")


def test_finally_runs_after_a_failed_command(tmp_path):
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          build:
            commands:
              - "false"
              - echo never
            finally:
              - echo cleanup
        """)
    assert result.status == FAILED
    assert phase_log(lines, BUILD) == [
        "[Container] Entering phase BUILD",
        "[Container] Running command false",
        "[Container] Command did not exit successfully false exit status 1",
        "[Container] Running command echo cleanup",
        "cleanup",
        *failed_end(BUILD, "false", 1)[1:],
    ]


def test_a_failing_finally_fails_the_phase(tmp_path):
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          build:
            commands:
              - echo built
            finally:
              - sh -c 'exit 3'
        """)
    assert result.status == FAILED
    assert phase_log(lines, BUILD) == [
        "[Container] Entering phase BUILD",
        "[Container] Running command echo built",
        "built",
        "[Container] Running command sh -c 'exit 3'",
        *failed_end(BUILD, "sh -c 'exit 3'", 3),
    ]
    assert [(p.phase, p.status) for p in result.phases if p.phase in (BUILD, POST_BUILD)] == [
        (BUILD, FAILED), (POST_BUILD, SUCCEEDED)]


# --- phase transitions (§1.6) -------------------------------------------------------------------

def test_post_build_and_upload_run_after_a_failed_build_with_succeeding_0(tmp_path):
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          build:
            commands:
              - "false"
          post_build:
            commands:
              - echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING"
        artifacts:
          files: ['**/*']
        """, files={"app.txt": "app"})
    assert result.status == FAILED
    assert phases(result) == [*BEFORE_COMMANDS, (INSTALL, SUCCEEDED), (PRE_BUILD, SUCCEEDED), (BUILD, FAILED),
                              (POST_BUILD, SUCCEEDED), (UPLOAD_ARTIFACTS, SUCCEEDED), (FINALIZING, SUCCEEDED)]
    assert phase_log(lines, POST_BUILD) == [
        "[Container] Entering phase POST_BUILD",
        '[Container] Running command echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING"',
        "succeeding=0",
        *ok_end(POST_BUILD),
    ]
    assert tree(tmp_path / "out" / "primary") == ["app.txt"]  # UPLOAD_ARTIFACTS is always attempted


def test_post_build_sees_succeeding_1_after_a_good_build(tmp_path):
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          install:
            commands:
              - echo "install succeeding=$CODEBUILD_BUILD_SUCCEEDING"
          build:
            commands:
              - echo built
          post_build:
            commands:
              - echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING"
        """)
    assert result.status == SUCCEEDED
    assert phases(result) == ALL_SUCCEEDED
    assert "install succeeding=1" in phase_log(lines, INSTALL)
    assert phase_log(lines, POST_BUILD)[2] == "succeeding=1"


@pytest.mark.parametrize("failing", ["install", "pre_build"])
def test_an_install_or_pre_build_failure_skips_to_finalizing(tmp_path, failing):
    """Assumed (doc diagram, not text): no BUILD, no POST_BUILD, no UPLOAD_ARTIFACTS; the failing
    phase's own `finally` still runs."""
    body = {"install": "echo install", "pre_build": "echo pre_build"}
    body[failing] = '"false"'
    result, lines = build(tmp_path, f"""
        version: 0.2
        phases:
          install:
            commands:
              - {body["install"]}
            finally:
              - echo finally-{failing}
          pre_build:
            commands:
              - {body["pre_build"]}
            finally:
              - echo finally-{failing}
          build:
            commands:
              - echo build
          post_build:
            commands:
              - echo post_build
        artifacts:
          files: ['**/*']
        """, files={"app.txt": "app"})
    failed_phase = INSTALL if failing == "install" else PRE_BUILD
    ran = [(INSTALL, SUCCEEDED)] if failing == "pre_build" else []
    assert result.status == FAILED
    assert phases(result) == [*BEFORE_COMMANDS, *ran, (failed_phase, FAILED), (FINALIZING, SUCCEEDED)]
    assert entered(lines)[-2:] == [failed_phase, FINALIZING]
    assert f"finally-{failing}" in phase_log(lines, failed_phase)
    assert "[Container] Running command echo build" not in log(lines)
    assert "[Container] Running command echo post_build" not in log(lines)
    assert not (tmp_path / "out").exists()


# --- on-failure (§1.4) ----------------------------------------------------------------------------

def test_on_failure_continue_runs_the_next_phase_and_the_build_fails(tmp_path):
    """Assumed: the final status after a CONTINUE'd failure is FAILED."""
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          install:
            on-failure: CONTINUE
            commands:
              - "false"
          pre_build:
            commands:
              - echo "pre_build succeeding=$CODEBUILD_BUILD_SUCCEEDING"
          build:
            commands:
              - echo build
        """)
    assert result.status == FAILED
    assert phases(result) == [*BEFORE_COMMANDS, (INSTALL, FAILED), (PRE_BUILD, SUCCEEDED), (BUILD, SUCCEEDED),
                              (POST_BUILD, SUCCEEDED), (UPLOAD_ARTIFACTS, SUCCEEDED), (FINALIZING, SUCCEEDED)]
    assert phase_log(lines, PRE_BUILD) == [
        "[Container] Entering phase PRE_BUILD",
        '[Container] Running command echo "pre_build succeeding=$CODEBUILD_BUILD_SUCCEEDING"',
        "pre_build succeeding=0",
        *ok_end(PRE_BUILD),
    ]


def test_on_failure_abort_goes_straight_to_finalizing(tmp_path):
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          build:
            on-failure: ABORT
            commands:
              - "false"
          post_build:
            commands:
              - echo post_build
        artifacts:
          files: ['**/*']
        """, files={"app.txt": "app"})
    assert result.status == FAILED
    assert phases(result) == [*BEFORE_COMMANDS, (INSTALL, SUCCEEDED), (PRE_BUILD, SUCCEEDED), (BUILD, FAILED),
                              (FINALIZING, SUCCEEDED)]
    assert entered(lines)[-2:] == [BUILD, FINALIZING]
    assert "post_build" not in log(lines)
    assert not (tmp_path / "out").exists()


FLAKY = """\
n=$(( $(cat .attempts 2>/dev/null || echo 0) + 1 ))
echo "$n" > .attempts
echo "attempt $n"
[ "$n" -ge 2 ]
"""


def test_on_failure_retry_reruns_the_phase_until_it_succeeds(tmp_path):
    """Assumed: RETRY re-runs the phase inside the same build (not the whole build)."""
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          build:
            on-failure: RETRY
            commands:
              - sh flaky.sh
        """, files={"flaky.sh": FLAKY})
    assert result.status == SUCCEEDED
    assert attempts(result, BUILD) == [(1, FAILED), (2, SUCCEEDED)]
    assert [p.phase for p in result.phases][-4:] == [BUILD, POST_BUILD, UPLOAD_ARTIFACTS, FINALIZING]
    assert phase_log(lines, BUILD, attempt=1) == [
        "[Container] Entering phase BUILD",
        "[Container] Running command sh flaky.sh",
        "attempt 1",
        *failed_end(BUILD, "sh flaky.sh", 1),
    ]
    assert phase_log(lines, BUILD, attempt=2) == [
        "[Container] Entering phase BUILD",
        "[Container] Running command sh flaky.sh",
        "attempt 2",
        *ok_end(BUILD),
    ]
    assert (tmp_path / "src" / ".attempts").read_text() == "2\n"


def test_on_failure_retry_count_is_exhausted_then_the_default_edge(tmp_path):
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          build:
            on-failure: RETRY-2
            commands:
              - "false"
          post_build:
            commands:
              - echo post_build
        """)
    assert result.status == FAILED
    assert attempts(result, BUILD) == [(1, FAILED), (2, FAILED), (3, FAILED)]
    assert entered(lines).count(BUILD) == 3
    assert phases(result)[-3:] == [(POST_BUILD, SUCCEEDED), (UPLOAD_ARTIFACTS, SUCCEEDED), (FINALIZING, SUCCEEDED)]


def test_on_failure_retry_regex_that_does_not_match_does_not_retry(tmp_path):
    """Assumed: the regex is searched in the phase-context message."""
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          build:
            on-failure: RETRY-exit status 2
            commands:
              - "false"
        """)
    assert result.status == FAILED
    assert attempts(result, BUILD) == [(1, FAILED)]
    assert entered(lines).count(BUILD) == 1
    assert phases(result)[-3:] == [(POST_BUILD, SUCCEEDED), (UPLOAD_ARTIFACTS, SUCCEEDED), (FINALIZING, SUCCEEDED)]


# --- environment variables (§1.3, §1.11) -------------------------------------------------------

def test_variables_are_literal(tmp_path):
    result, lines = build(tmp_path, """
        version: 0.2
        env:
          variables:
            LITERAL: "$HOME/x"
        phases:
          build:
            commands:
              - echo "literal=$LITERAL home=$HOME"
        """)
    assert result.status == SUCCEEDED
    assert phase_log(lines, BUILD)[2] == "literal=$HOME/x home=/root"


def test_a_literal_path_is_set_as_written(tmp_path):
    result, lines = build(tmp_path, """
        version: 0.2
        env:
          variables:
            PATH: "$PATH:/x"
        phases:
          build:
            commands:
              - echo "path=$PATH"
        """)
    assert phase_log(lines, BUILD) == [
        "[Container] Entering phase BUILD",
        '[Container] Running command echo "path=$PATH"',
        "path=$PATH:/x",
        *ok_end(BUILD),
    ]
    assert result.status == SUCCEEDED


def test_overrides_win_over_buildspec_variables(tmp_path):
    result, lines = build(tmp_path, """
        version: 0.2
        env:
          variables:
            STAGE: prod
            KEEP: from-buildspec
        phases:
          build:
            commands:
              - echo "STAGE=$STAGE KEEP=$KEEP"
        """, overrides={"STAGE": "qa"})
    assert result.status == SUCCEEDED
    assert phase_log(lines, BUILD)[2] == "STAGE=qa KEEP=from-buildspec"


def test_built_in_variables(tmp_path):
    before_ms = int(time.time() * 1000)
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          build:
            commands:
              - pwd
              - env | sort | grep -E '^(CODEBUILD_|AWS_(DEFAULT_)?REGION=|HOME=)'
        """, project="web", build_number=7, region="eu-west-1", initiator="codepipeline/shop",
        source_version="main", resolved_source_version="0123abc")
    after_ms = int(time.time() * 1000)
    assert result.status == SUCCEEDED
    body = phase_log(lines, BUILD)
    assert body[2] == SOURCE_MOUNT
    env = dict(line.split("=", 1) for line in body[4:-2])
    build_id = env["CODEBUILD_BUILD_ID"]
    assert re.fullmatch(rf"web:{UUID}", build_id)
    assert build_id == result.build_id
    assert before_ms <= int(env.pop("CODEBUILD_START_TIME")) <= after_ms
    assert env == {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
        "CODEBUILD_BUILD_ARN": f"arn:aws:codebuild:eu-west-1:000000000000:build/{build_id}",
        "CODEBUILD_BUILD_ID": build_id,
        "CODEBUILD_BUILD_IMAGE": BUILD_IMAGE,
        "CODEBUILD_BUILD_NUMBER": "7",
        "CODEBUILD_BUILD_SUCCEEDING": "1",
        "CODEBUILD_INITIATOR": "codepipeline/shop",
        "CODEBUILD_LOG_PATH": build_id.partition(":")[2],
        "CODEBUILD_PROJECT_ARN": "arn:aws:codebuild:eu-west-1:000000000000:project/web",
        "CODEBUILD_RESOLVED_SOURCE_VERSION": "0123abc",
        "CODEBUILD_SOURCE_VERSION": "main",
        "CODEBUILD_SRC_DIR": SOURCE_MOUNT,
        "HOME": "/root",
    }


def test_secrets_are_resolved_through_the_request_and_reach_the_command(tmp_path):
    store = {("/app/token", "parameter-store"): "tok-123",
             ("prod/db:password", "secrets-manager"): "s3cret"}
    asked: list[tuple[str, str]] = []
    registered: list[str] = []

    def resolve(reference: str, kind: str) -> str:
        asked.append((reference, kind))
        return store[(reference, kind)]

    result, lines = build(tmp_path, """
        version: 0.2
        env:
          parameter-store:
            API_TOKEN: /app/token
          secrets-manager:
            DB_PASSWORD: prod/db:password
        phases:
          build:
            commands:
              - printf '%s:%s' "$API_TOKEN" "$DB_PASSWORD" > secrets.out
        """, resolve_secret=resolve, on_secret=registered.append)
    assert result.status == SUCCEEDED
    assert sorted(asked) == sorted(store)
    assert sorted(registered) == ["s3cret", "tok-123"]
    assert (tmp_path / "src" / "secrets.out").read_text() == "tok-123:s3cret"
    assert not [line for line in lines if "s3cret" in line or "tok-123" in line]


# --- exported variables (§1.5) -----------------------------------------------------------------

def test_exported_variables_are_read_after_post_build(tmp_path):
    result, _ = build(tmp_path, """
        version: 0.2
        env:
          exported-variables:
            - IMAGE_TAG
            - NEVER_SET
        phases:
          build:
            commands:
              - export IMAGE_TAG=from-build OTHER=not-listed
          post_build:
            commands:
              - export IMAGE_TAG="$IMAGE_TAG-final"
        """)
    assert result.status == SUCCEEDED
    assert result.exported == {"IMAGE_TAG": "from-build-final"}


# --- artifacts (§1.9) ----------------------------------------------------------------------------

def test_artifacts_base_directory_ships_its_contents(tmp_path):
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          build:
            commands:
              - mkdir -p dist/lib && echo app > dist/app.js && echo util > dist/lib/util.js
        artifacts:
          files: ['**/*']
          base-directory: dist
        """, files={"README.md": "not shipped"})
    assert result.status == SUCCEEDED
    out = tmp_path / "out" / "primary"
    assert result.artifacts == {"": out}
    assert tree(out) == ["app.js", "lib/util.js"]
    assert (out / "lib" / "util.js").read_text() == "util\n"
    assert phase_log(lines, UPLOAD_ARTIFACTS) == [
        "[Container] Entering phase UPLOAD_ARTIFACTS",
        "[Container] Expanding base directory path: dist",
        "[Container] Assembling file list",
        *ok_end(UPLOAD_ARTIFACTS),
    ]


def test_artifacts_discard_paths_flattens(tmp_path):
    result, _ = build(tmp_path, """
        version: 0.2
        phases:
          build:
            commands:
              - mkdir -p a b/c && echo x > a/x.txt && echo y > b/c/y.txt
        artifacts:
          files: ['**/*']
          discard-paths: yes
        """)
    assert result.status == SUCCEEDED
    assert tree(tmp_path / "out" / "primary") == ["x.txt", "y.txt"]


def test_artifacts_exclude_paths(tmp_path):
    """`*` stays in one path segment, `**` crosses them."""
    result, _ = build(tmp_path, """
        version: 0.2
        phases:
          build:
            commands:
              - echo built
        artifacts:
          files: ['**/*']
          exclude-paths: ['**/.*', 'tmp/*']
        """, files={"app.txt": "", ".env": "", "conf/.secret": "", "conf/settings.yml": "",
                    "tmp/scratch.log": "", "tmp/deep/kept.log": ""})
    assert result.status == SUCCEEDED
    assert tree(tmp_path / "out" / "primary") == ["app.txt", "conf/settings.yml", "tmp/deep/kept.log"]


def test_secondary_artifacts(tmp_path):
    result, _ = build(tmp_path, """
        version: 0.2
        phases:
          build:
            commands:
              - mkdir -p web docs && echo page > web/index.html && echo '# doc' > docs/guide.md
              - echo '[]' > imagedefinitions.json
        artifacts:
          files: [imagedefinitions.json]
          secondary-artifacts:
            web:
              files: ['**/*']
              base-directory: web
            docs:
              files: ['*.md']
              base-directory: docs
        """)
    assert result.status == SUCCEEDED
    out = tmp_path / "out"
    assert result.artifacts == {"": out / "primary", "web": out / "secondary" / "web",
                                "docs": out / "secondary" / "docs"}
    assert tree(out / "primary") == ["imagedefinitions.json"]
    assert tree(out / "secondary" / "web") == ["index.html"]
    assert tree(out / "secondary" / "docs") == ["guide.md"]


def test_a_secondary_artifact_named_primary_keeps_its_own_files(tmp_path):
    result, _ = build(tmp_path, """
        version: 0.2
        phases:
          build:
            commands:
              - echo a > a.txt && echo b > b.txt
        artifacts:
          files: [a.txt]
          secondary-artifacts:
            primary:
              files: [b.txt]
        """)
    assert result.status == SUCCEEDED
    assert result.artifacts[""] != result.artifacts["primary"]
    assert tree(result.artifacts[""]) == ["a.txt"]
    assert tree(result.artifacts["primary"]) == ["b.txt"]


def test_no_matching_artifact_paths_fails_upload_and_the_build(tmp_path):
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          build:
            commands:
              - echo built
        artifacts:
          files: ['dist/**/*']
        """)
    assert result.status == FAILED
    assert phases(result) == [*ALL_SUCCEEDED[:-2], (UPLOAD_ARTIFACTS, FAILED), (FINALIZING, SUCCEEDED)]
    upload = next(p for p in result.phases if p.phase == UPLOAD_ARTIFACTS)
    assert upload.context.endswith("no matching artifact paths found")
    assert "[Container] Phase complete: UPLOAD_ARTIFACTS State: FAILED" in phase_log(lines, UPLOAD_ARTIFACTS)


def test_no_matching_artifact_paths_logs_codebuilds_lines(tmp_path):
    """The imagedefinitions.json gotcha, as CodeBuild logs it (aws-samples/amazon-ecs-fargate-cdk-cicd#13)."""
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          build:
            commands:
              - echo built
        artifacts:
          files: [imagedefinitions.json]
        """)
    assert result.status == FAILED
    assert phase_log(lines, UPLOAD_ARTIFACTS)[-3:] == [
        "[Container] Skipping invalid file path imagedefinitions.json",
        "[Container] Phase complete: UPLOAD_ARTIFACTS State: FAILED",
        "[Container] Phase context status code: CLIENT_ERROR Message: no matching artifact paths found",
    ]


# --- timeout and stop (§1.6, §1.7) ---------------------------------------------------------------

@pytest.fixture
def own_project():
    """A project name (the containers' label) of its own, and removal of any container a stopped build left."""
    project = f"runner-stop-{uuid.uuid4().hex[:8]}"
    yield project
    ids = _containers(project)
    if ids:  # kill first: `rm --force` would give the container the engine's 10 s stop timeout
        subprocess.run([engine().binary, "kill", *ids], capture_output=True, check=False)
        subprocess.run([engine().binary, "rm", "--force", *ids], capture_output=True, check=False)


def _containers(project: str) -> list[str]:
    listed = subprocess.run([engine().binary, "ps", "--all", "--quiet", "--filter", f"label=conveyor.build={project}"],
                            capture_output=True, text=True, check=False)
    return listed.stdout.split()


def test_the_build_timeout_ends_the_build_timed_out(tmp_path, own_project):
    """Assumed: a timed-out phase skips its `finally`, the rest of the build and the upload, but
    FINALIZING runs."""
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          build:
            commands:
              - echo start
              - sleep 30
            finally:
              - echo finally
          post_build:
            commands:
              - echo post_build
        artifacts:
          files: ['**/*']
        """, files={"app.txt": "app"}, timeout_minutes=0.02, project=own_project)
    assert result.status == TIMED_OUT
    assert phases(result) == [*BEFORE_COMMANDS, (INSTALL, SUCCEEDED), (PRE_BUILD, SUCCEEDED), (BUILD, TIMED_OUT),
                              (FINALIZING, SUCCEEDED)]
    assert phase_log(lines, BUILD) == [
        "[Container] Entering phase BUILD",
        "[Container] Running command echo start",
        "start",
        "[Container] Running command sleep 30",
        "[Container] Build timed out after 0.02 minutes",
        "[Container] Phase complete: BUILD State: TIMED_OUT",
        "[Container] Phase context status code:  Message:",
    ]
    assert phase_log(lines, FINALIZING) == ["[Container] Entering phase FINALIZING", *ok_end(FINALIZING)]
    assert not (tmp_path / "out").exists()


def test_cancel_stops_the_build(tmp_path, own_project):
    cancel = threading.Event()
    timer = threading.Timer(1.0, cancel.set)
    timer.start()
    try:
        result, lines = build(tmp_path, """
            version: 0.2
            phases:
              build:
                commands:
                  - sleep 30
              post_build:
                commands:
                  - echo post_build
            """, cancel=cancel, project=own_project)
    finally:
        timer.cancel()
    assert result.status == STOPPED
    assert phases(result) == [*BEFORE_COMMANDS, (INSTALL, SUCCEEDED), (PRE_BUILD, SUCCEEDED), (BUILD, STOPPED),
                              (FINALIZING, SUCCEEDED)]
    assert phase_log(lines, BUILD)[-2:] == ["[Container] Phase complete: BUILD State: STOPPED",
                                            "[Container] Phase context status code:  Message:"]


def test_a_timed_out_build_stops_its_container(tmp_path, own_project):
    result, _ = build(tmp_path, """
        version: 0.2
        phases:
          build:
            commands:
              - sleep 30
        """, timeout_minutes=0.02, project=own_project)
    assert result.status == TIMED_OUT
    assert _containers(own_project) == []  # stopped and removed, not left to finish its sleep


# --- commands that exit the shell (CodeBuild runs each command as its own script) ----------------

def test_exit_0_ends_only_its_command(tmp_path):
    """On CodeBuild `exit 0` in a command has no effect on the next commands (the next line runs);
    to stop early a build must exit non-zero."""
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          build:
            commands:
              - echo before
              - exit 0
              - echo after
          post_build:
            commands:
              - echo post_build
        """)
    assert phase_log(lines, BUILD) == [
        "[Container] Entering phase BUILD",
        "[Container] Running command echo before",
        "before",
        "[Container] Running command exit 0",
        "[Container] Running command echo after",
        "after",
        *ok_end(BUILD),
    ]
    assert result.status == SUCCEEDED
    assert phases(result) == ALL_SUCCEEDED


def test_exit_1_fails_its_command_and_post_build_still_runs(tmp_path):
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          build:
            commands:
              - exit 1
          post_build:
            commands:
              - echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING"
        """)
    assert result.status == FAILED
    assert phases(result) == [*BEFORE_COMMANDS, (INSTALL, SUCCEEDED), (PRE_BUILD, SUCCEEDED), (BUILD, FAILED),
                              (POST_BUILD, SUCCEEDED), (UPLOAD_ARTIFACTS, SUCCEEDED), (FINALIZING, SUCCEEDED)]
    assert "succeeding=0" in phase_log(lines, POST_BUILD)
    assert FAULT not in {p.status for p in result.phases}


# --- output ---------------------------------------------------------------------------------------

def test_stderr_is_logged_with_its_command(tmp_path):
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          build:
            commands:
              - for i in $(seq 30); do echo out$i; echo err$i >&2; done
              - echo next
        """)
    assert result.status == SUCCEEDED
    assert phase_log(lines, BUILD) == [
        "[Container] Entering phase BUILD",
        "[Container] Running command for i in $(seq 30); do echo out$i; echo err$i >&2; done",
        *[line for i in range(1, 31) for line in (f"out{i}", f"err{i}")],
        "[Container] Running command echo next",
        "next",
        *ok_end(BUILD),
    ]


# --- cache (§1.10) -------------------------------------------------------------------------------

CACHED = """
    version: 0.2
    phases:
      install:
        commands:
          - ls /root/.cache/tool/lib.txt deps/pkg.txt 2>&1 || true
      build:
        commands:
          - mkdir -p /root/.cache/tool deps
          - '[ -e deps/pkg.txt ] || echo downloaded > deps/pkg.txt'
          - '[ -e /root/.cache/tool/lib.txt ] || echo fetched > /root/.cache/tool/lib.txt'
    cache:
      key: deps-$(codebuild-hash-files lock.txt)
      fallback-keys: [deps-]
      paths: ['/root/.cache/**/*', 'deps/**/*']
    """


def test_cache_is_saved_after_a_build_and_restored_in_the_next(tmp_path):
    cache_dir = tmp_path / "cache"
    first, lines1 = build(tmp_path / "one", CACHED, files={"lock.txt": "v1"}, cache_dir=cache_dir)
    assert first.status == SUCCEEDED
    assert any(line.endswith("No cache found for key deps-" + _sha("lock.txt", "v1")) for line in lines1)
    assert [p.name for p in cache_dir.glob("*.tar")] == [f"deps-{_sha('lock.txt', 'v1')}.tar"]
    second, lines2 = build(tmp_path / "two", CACHED, files={"lock.txt": "v1"}, cache_dir=cache_dir)
    assert second.status == SUCCEEDED
    install = phase_log(lines2, INSTALL)
    assert "/root/.cache/tool/lib.txt" in install and "deps/pkg.txt" in install  # restored before INSTALL
    # a new key: no exact copy, the fallback prefix finds the newest one
    third, lines3 = build(tmp_path / "three", CACHED, files={"lock.txt": "v2"}, cache_dir=cache_dir)
    assert any(f"Restoring cache from key deps-{_sha('lock.txt', 'v1')}" in line for line in lines3)
    assert len(list(cache_dir.glob("*.tar"))) == 2


def _sha(name: str, text: str) -> str:
    import hashlib

    return hashlib.sha256(name.encode() + b"\0" + text.encode()).hexdigest()


# --- issue 16: names and paths, in a real build container ---------------------------------------

def test_an_override_name_that_is_shell_code_faults_provisioning_and_runs_nothing(tmp_path):
    """`A;touch pwned;B` used to be exported unquoted: the shell ran `touch pwned` in the source."""
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          build:
            commands:
              - echo built
        """, overrides={"A;touch pwned;B": "1"})
    assert result.status == FAULT
    assert phases(result)[2] == (PROVISIONING, FAULT)
    assert not (tmp_path / "src" / "pwned").exists()
    assert any("environment variable overrides: environment variable 'A;touch pwned;B' is not a valid name" in line
               for line in lines)
    assert "built" not in lines


def test_values_reach_the_shell_literally(tmp_path):
    result, lines = build(tmp_path, """
        version: 0.2
        env:
          variables:
            V: "$(touch pwned); `touch pwned2`; it's"
        phases:
          build:
            commands:
              - printf '%s\\n' "$V"
        """, overrides={"W": "'; touch pwned3; '"})
    assert result.status == SUCCEEDED
    assert "$(touch pwned); `touch pwned2`; it's" in lines
    assert not any((tmp_path / "src" / n).exists() for n in ("pwned", "pwned2", "pwned3"))


def test_a_symlink_out_of_the_source_fails_the_upload_and_ships_nothing_from_the_host(tmp_path):
    """A link made inside the build to a host path (the source is a bind mount) must not make the
    daemon copy that host file into the artifact."""
    secret = tmp_path / "host-secret.txt"
    secret.write_text("host secret\n")
    result, lines = build(tmp_path, f"""
        version: 0.2
        phases:
          build:
            commands:
              - mkdir -p dist && echo app > dist/app.js && ln -s {secret} dist/leak.txt
        artifacts:
          files: ['**/*']
          base-directory: dist
        """)
    assert result.status == FAILED
    assert (UPLOAD_ARTIFACTS, FAILED) in phases(result)
    assert any("dist/leak.txt is a symbolic link to outside the source directory" in line for line in lines)
    out = tmp_path / "out"
    assert not any(p.read_bytes() == b"host secret\n" for p in out.rglob("*") if p.is_file())


@pytest.mark.parametrize("enable,is_link", [("no", False), ("yes", True)])
def test_enable_symlinks_means_what_codebuild_means(tmp_path, enable, is_link):
    result, _ = build(tmp_path, f"""
        version: 0.2
        phases:
          build:
            commands:
              - mkdir -p dist && echo app > dist/app.js && ln -s app.js dist/alias.js
        artifacts:
          files: ['**/*']
          base-directory: dist
          enable-symlinks: {enable}
        """)
    assert result.status == SUCCEEDED
    alias = tmp_path / "out" / "primary" / "alias.js"
    assert alias.is_symlink() is is_link
    assert alias.read_text() == "app\n"


def test_a_report_base_directory_outside_the_source_is_not_read(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "TEST-x.xml").write_text('<testsuite name="s" tests="1"><testcase name="stolen"/></testsuite>')
    result, lines = build(tmp_path, f"""
        version: 0.2
        phases:
          build:
            commands: [echo]
        reports:
          unit:
            files: ['*.xml']
            base-directory: {outside}
        """)
    assert result.status == SUCCEEDED
    assert result.reports == {}
    assert any("Report group unit: report base-directory" in line and "leads outside" in line for line in lines)
