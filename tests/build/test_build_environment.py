"""Built-in variables, precedence, reserved names and agent log lines (aws-semantics §1.3, §1.5,
§1.11)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from conveyor.build.environment import (
    LOG_TEMPLATES,
    ReservedVariableError,
    build_id,
    builtin_variables,
    check_user_variables,
    command_error_message,
    log_line,
    log_text,
    merge_env,
    phase_end_lines,
    succeeding_variable,
    timestamp,
    unix_ms,
)
from conveyor.errors import UserError

START = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)
NOW = datetime(2024, 5, 6, 7, 8, 9, 123456)


def base(**extra):
    return builtin_variables(
        build_id="web:6f1c0b2e-0000-4000-8000-000000000001", build_number=7,
        source_dir="/codebuild/output/src123/src", region="eu-west-1", start_time=START,
        initiator="codepipeline/shop", image="aws/codebuild/standard:7.0", **extra)


def test_builtin_variables_minimal():
    assert base() == {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
        "CODEBUILD_BUILD_ARN":
            "arn:aws:codebuild:eu-west-1:000000000000:build/web:6f1c0b2e-0000-4000-8000-000000000001",
        "CODEBUILD_BUILD_ID": "web:6f1c0b2e-0000-4000-8000-000000000001",
        "CODEBUILD_BUILD_IMAGE": "aws/codebuild/standard:7.0",
        "CODEBUILD_BUILD_NUMBER": "7",
        "CODEBUILD_BUILD_SUCCEEDING": "1",
        "CODEBUILD_INITIATOR": "codepipeline/shop",
        "CODEBUILD_LOG_PATH": "6f1c0b2e-0000-4000-8000-000000000001",
        "CODEBUILD_PROJECT_ARN": "arn:aws:codebuild:eu-west-1:000000000000:project/web",
        "CODEBUILD_SRC_DIR": "/codebuild/output/src123/src",
        "CODEBUILD_START_TIME": "1714979289123",
        "HOME": "/root",
    }


def test_builtin_variables_full():
    env = base(source_version="refs/heads/main", resolved_source_version="a" * 40,
               source_repo_url="https://example.test/shop.git", account_id="123456789012",
               log_path="stream-1", kms_key_id="alias/aws/s3", batch_build_identifier="linux",
               public_build_url="https://public.example/b/1",
               secondary_sources={"tools": "/codebuild/output/src123/src2"},
               secondary_source_versions={"tools": "v1.2"},
               webhook={"EVENT": "PUSH", "HEAD_REF": "refs/heads/main", "PREV_COMMIT": "0" * 40,
                        "TRIGGER": "branch/main"},
               succeeding=False, home="/home/build")
    assert env["CODEBUILD_BUILD_ARN"].startswith("arn:aws:codebuild:eu-west-1:123456789012:build/web:")
    assert env["CODEBUILD_PROJECT_ARN"] == "arn:aws:codebuild:eu-west-1:123456789012:project/web"
    assert env["CODEBUILD_SOURCE_VERSION"] == "refs/heads/main"
    assert env["CODEBUILD_RESOLVED_SOURCE_VERSION"] == "a" * 40
    assert env["CODEBUILD_SOURCE_REPO_URL"] == "https://example.test/shop.git"
    assert env["CODEBUILD_LOG_PATH"] == "stream-1"
    assert env["CODEBUILD_KMS_KEY_ID"] == "alias/aws/s3"
    assert env["CODEBUILD_BATCH_BUILD_IDENTIFIER"] == "linux"
    assert env["CODEBUILD_PUBLIC_BUILD_URL"] == "https://public.example/b/1"
    assert env["CODEBUILD_SRC_DIR_tools"] == "/codebuild/output/src123/src2"
    assert env["CODEBUILD_SOURCE_VERSION_tools"] == "v1.2"
    assert env["CODEBUILD_WEBHOOK_EVENT"] == "PUSH"
    assert env["CODEBUILD_WEBHOOK_PREV_COMMIT"] == "0" * 40
    assert env["CODEBUILD_WEBHOOK_TRIGGER"] == "branch/main"
    assert env["CODEBUILD_BUILD_SUCCEEDING"] == "0"
    assert env["HOME"] == "/home/build"
    assert list(env) == sorted(env)


def test_optional_variables_omitted_unless_given():
    env = base()
    for name in ("CODEBUILD_SOURCE_VERSION", "CODEBUILD_RESOLVED_SOURCE_VERSION",
                 "CODEBUILD_KMS_KEY_ID", "CODEBUILD_WEBHOOK_EVENT", "CODEBUILD_PUBLIC_BUILD_URL",
                 "CODEBUILD_BATCH_BUILD_IDENTIFIER", "CODEBUILD_SOURCE_REPO_URL"):
        assert name not in env


@pytest.mark.parametrize("kwargs,message", [
    ({"webhook": {"COMMIT": "x"}}, "unknown webhook variable CODEBUILD_WEBHOOK_COMMIT"),
])
def test_builtin_variables_rejects(kwargs, message):
    with pytest.raises(ValueError, match=message):
        base(**kwargs)


@pytest.mark.parametrize("bid,number,message", [
    ("web", 1, "a build id is <project>:<uuid>, not 'web'"),
    (":uuid", 1, "a build id is"),
    ("web:", 1, "a build id is"),
    ("web:u", 0, "build numbers start at 1, not 0"),
])
def test_builtin_variables_rejects_ids(bid, number, message):
    with pytest.raises(ValueError, match=message):
        builtin_variables(build_id=bid, build_number=number, source_dir="/s", region="r",
                          start_time=START, initiator="i", image="img")


def test_build_id_and_start_time():
    assert build_id("web", "u-1") == "web:u-1"
    assert unix_ms(datetime(1970, 1, 1, 0, 0, 1, 500000)) == 1500          # naive = UTC
    assert unix_ms(datetime(1970, 1, 1, 2, 0, 1, tzinfo=timezone(timedelta(hours=2)))) == 1000


# --- precedence and reserved names --------------------------------------------------------------

BUILTIN = {"HOME": "/root", "AWS_REGION": "eu-west-1", "CODEBUILD_BUILD_NUMBER": "7", "PATH": "/bin"}


@pytest.mark.parametrize("buildspec,project,overrides,expected", [
    ({}, {}, {}, BUILTIN),
    ({"STAGE": "prod"}, {}, {}, {**BUILTIN, "STAGE": "prod"}),
    ({"STAGE": "prod"}, {"STAGE": "proj"}, {}, {**BUILTIN, "STAGE": "proj"}),
    ({"STAGE": "prod"}, {"STAGE": "proj"}, {"STAGE": "over"}, {**BUILTIN, "STAGE": "over"}),
    ({"STAGE": "prod"}, {}, {"STAGE": "over"}, {**BUILTIN, "STAGE": "over"}),
    ({"HOME": "/work"}, {}, {}, {**BUILTIN, "HOME": "/work"}),          # replaces a built-in
    ({"PATH": "$PATH:/x"}, {}, {}, {**BUILTIN, "PATH": "$PATH:/x"}),   # literal, never expanded
    ({"N": 3}, {}, {}, {**BUILTIN, "N": "3"}),
])
def test_precedence(buildspec, project, overrides, expected):
    assert merge_env(BUILTIN, buildspec, overrides, project_variables=project) == expected


def test_merge_does_not_mutate_inputs():
    builtin = dict(BUILTIN)
    merge_env(builtin, {"HOME": "/w"})
    assert builtin == BUILTIN


@pytest.mark.parametrize("layer,source", [
    ("buildspec", "buildspec env.variables"),
    ("project", "project environment variables"),
    ("overrides", "environment variable overrides"),
])
def test_reserved_prefix(layer, source):
    kwargs = {"buildspec_variables": None, "overrides": None, "project_variables": None}
    kwargs[{"buildspec": "buildspec_variables", "project": "project_variables",
            "overrides": "overrides"}[layer]] = {"CODEBUILD_BUILD_SUCCEEDING": "1"}
    with pytest.raises(ReservedVariableError) as err:
        merge_env(BUILTIN, **kwargs)
    assert str(err.value) == (f"{source}: environment variable 'CODEBUILD_BUILD_SUCCEEDING' uses "
                              "the reserved prefix CODEBUILD_ (CodeBuild sets those)")
    assert err.value.hint == "rename the variable"
    assert isinstance(err.value, UserError) and err.value.exit_code == 2


@pytest.mark.parametrize("name", ["", "A=B", "A\0B", "A;touch /tmp/x;B", "A\nB", "9A", "A B", "$(id)", "A-B"])
def test_invalid_names(name):
    """Issue 16: a name such as `A;touch /tmp/x;B` was exported unquoted into the build shell."""
    with pytest.raises(ReservedVariableError) as err:
        check_user_variables({name: "x"}, "buildspec env.variables")
    assert str(err.value) == (f"buildspec env.variables: environment variable {name!r} is not a valid name: use "
                              "letters, digits and _, not starting with a digit (CodeBuild exports it into the "
                              "build shell)")


def test_prefix_is_case_sensitive_and_exact():
    check_user_variables({"codebuild_x": "1", "MY_CODEBUILD_X": "1", "CODEBUILDX": "1"}, "s")


@pytest.mark.parametrize("flag,value", [(True, "1"), (False, "0"), ("0", "0"), ("1", "1")])
def test_succeeding_variable(flag, value):
    assert succeeding_variable(flag) == {"CODEBUILD_BUILD_SUCCEEDING": value}


# --- log lines ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,fields,line", [
    ("entering_phase", {"phase": "BUILD"},
     "[Container] 2024/05/06 07:08:09.123456 Entering phase BUILD"),
    ("running_command", {"command": "docker build -t app ."},
     "[Container] 2024/05/06 07:08:09.123456 Running command docker build -t app ."),
    ("command_failed", {"command": "make", "exit_status": 2},
     "[Container] 2024/05/06 07:08:09.123456 Command did not exit successfully make exit status 2"),
    ("phase_complete", {"phase": "BUILD", "status": "SUCCEEDED"},
     "[Container] 2024/05/06 07:08:09.123456 Phase complete: BUILD State: SUCCEEDED"),
    ("phase_context", {"code": "COMMAND_EXECUTION_ERROR",
                       "message": "Error while executing command: X. Reason: exit status 1"},
     "[Container] 2024/05/06 07:08:09.123456 Phase context status code: COMMAND_EXECUTION_ERROR "
     "Message: Error while executing command: X. Reason: exit status 1"),
    ("phase_context", {"code": "CLIENT_ERROR", "message": "no matching artifact paths found"},
     "[Container] 2024/05/06 07:08:09.123456 Phase context status code: CLIENT_ERROR "
     "Message: no matching artifact paths found"),
    ("phase_context", {"code": "", "message": ""},
     "[Container] 2024/05/06 07:08:09.123456 Phase context status code:  Message:"),
    ("skipping_invalid_path", {"path": "imagedefinitions.json"},
     "[Container] 2024/05/06 07:08:09.123456 Skipping invalid file path imagedefinitions.json"),
    ("expanding_base_directory", {"path": "."},
     "[Container] 2024/05/06 07:08:09.123456 Expanding base directory path: ."),
    ("src_dir", {"path": "/codebuild/output/src1/src"},
     "[Container] 2024/05/06 07:08:09.123456 CODEBUILD_SRC_DIR=/codebuild/output/src1/src"),
    ("selecting_runtime", {"runtime": "nodejs", "version": "20"},
     "[Container] 2024/05/06 07:08:09.123456 Selecting 'nodejs' runtime version '20' based on manual selections..."),
])
def test_log_line(kind, fields, line):
    assert log_line(kind, NOW, **fields) == line


def test_every_template_renders():
    fields = {"phase": "P", "command": "c", "exit_status": 1, "status": "S", "code": "C",
              "message": "m", "path": "p", "runtime": "r", "version": "v"}
    for kind in LOG_TEMPLATES:
        assert log_line(kind, NOW, **fields).startswith("[Container] 2024/05/06 07:08:09.123456 ")


def test_unknown_kind():
    with pytest.raises(ValueError, match="unknown log line kind 'nope'"):
        log_text("nope")


@pytest.mark.parametrize("now,text", [
    (datetime(2024, 5, 6, 7, 8, 9), "2024/05/06 07:08:09.000000"),
    (datetime(2024, 5, 6, 9, 8, 9, 5, tzinfo=timezone(timedelta(hours=2))), "2024/05/06 07:08:09.000005"),
])
def test_timestamp_is_utc(now, text):
    assert timestamp(now) == text


def test_command_error_message():
    assert command_error_message("X", 1) == "Error while executing command: X. Reason: exit status 1"


def test_phase_end_lines_failed():
    assert phase_end_lines(NOW, "BUILD", "FAILED", failed_command="npm test", exit_status=1) == [
        "[Container] 2024/05/06 07:08:09.123456 Command did not exit successfully npm test exit status 1",
        "[Container] 2024/05/06 07:08:09.123456 Phase complete: BUILD State: FAILED",
        "[Container] 2024/05/06 07:08:09.123456 Phase context status code: COMMAND_EXECUTION_ERROR "
        "Message: Error while executing command: npm test. Reason: exit status 1",
    ]


def test_phase_end_lines_succeeded():
    assert phase_end_lines(NOW, "INSTALL", "SUCCEEDED") == [
        "[Container] 2024/05/06 07:08:09.123456 Phase complete: INSTALL State: SUCCEEDED",
        "[Container] 2024/05/06 07:08:09.123456 Phase context status code:  Message:",
    ]
