"""A build's environment variables and its log lines (aws-semantics §1.3, §1.5, §1.11).

Pure: identifiers, paths and the clock are passed in; the runner hands the result to the shell.

    env = merge_env(builtin_variables(build_id="web:1b2c", build_number=7, ...),
                    buildspec_variables={"STAGE": "prod"}, overrides={"STAGE": "qa"})
    log_line("entering_phase", now, phase="BUILD")
    # '[Container] 2024/05/06 07:08:09.123456 Entering phase BUILD'
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Mapping

from conveyor.errors import UserError
from conveyor.names import check_shell_env_name

# Named defaults; AWS's values where we reproduce AWS behaviour.
DEFAULT_ACCOUNT_ID = "000000000000"  # [inferred] the local stand-in account (moto/LocalStack's)
DEFAULT_HOME = "/root"               # §1.11 HOME
DEFAULT_PARTITION = "aws"
RESERVED_PREFIX = "CODEBUILD_"       # §1.3: names starting with CODEBUILD_ are reserved
WEBHOOK_SUFFIXES = ("ACTOR_ACCOUNT_ID", "BASE_REF", "EVENT", "HEAD_REF", "MERGE_COMMIT",
                    "PREV_COMMIT", "TRIGGER")  # CODEBUILD_WEBHOOK_<suffix>, §1.11


class ReservedVariableError(UserError):
    """A user variable named CODEBUILD_*, or a name no shell can hold."""

    def __init__(self, name: str, source: str, problem: str) -> None:
        super().__init__(f"{source}: environment variable {name!r} {problem}",
                         hint="rename the variable")
        self.name, self.source = name, source


def build_id(project_name: str, build_uuid: str) -> str:
    """CODEBUILD_BUILD_ID is `<project>:<uuid>` (§1.11).

    >>> build_id("web", "1b2c")
    'web:1b2c'
    """
    return f"{project_name}:{build_uuid}"


def build_arn(region: str, account_id: str, build_id_: str) -> str:
    return f"arn:{DEFAULT_PARTITION}:codebuild:{region}:{account_id}:build/{build_id_}"


def project_arn(region: str, account_id: str, project_name: str) -> str:
    return f"arn:{DEFAULT_PARTITION}:codebuild:{region}:{account_id}:project/{project_name}"


def unix_ms(moment: datetime) -> int:
    """CODEBUILD_START_TIME: Unix time in milliseconds; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def builtin_variables(*, build_id: str, build_number: int, source_dir: str, region: str,
                      start_time: datetime, initiator: str, image: str,
                      source_version: str | None = None,
                      resolved_source_version: str | None = None,
                      source_repo_url: str | None = None,
                      account_id: str = DEFAULT_ACCOUNT_ID,
                      log_path: str | None = None,
                      kms_key_id: str | None = None,
                      batch_build_identifier: str | None = None,
                      public_build_url: str | None = None,
                      secondary_sources: Mapping[str, str] | None = None,
                      secondary_source_versions: Mapping[str, str] | None = None,
                      webhook: Mapping[str, str] | None = None,
                      succeeding: bool = True,
                      home: str = DEFAULT_HOME) -> dict[str, str]:
    """Every built-in variable of §1.11 that applies to this build; optional ones are left out
    when not given (CODEBUILD_RESOLVED_SOURCE_VERSION is unset for unversioned sources).

    `build_id` is `<project>:<uuid>`; `secondary_sources` maps a source identifier (or, under a
    pipeline, an input artifact name) to its directory (CODEBUILD_SRC_DIR_<id>); `webhook` maps
    a suffix of WEBHOOK_SUFFIXES to its value. `log_path` defaults to the build's uuid, the
    CloudWatch Logs stream name CodeBuild uses [inferred].

    >>> v = builtin_variables(build_id="web:1b2c", build_number=7, source_dir="/src",
    ...     region="eu-west-1", start_time=datetime(2024, 5, 6, tzinfo=timezone.utc),
    ...     initiator="codepipeline/shop", image="aws/codebuild/standard:7.0")
    >>> v["CODEBUILD_BUILD_ARN"], v["CODEBUILD_START_TIME"]
    ('arn:aws:codebuild:eu-west-1:000000000000:build/web:1b2c', '1714953600000')
    """
    project_name, sep, build_uuid = build_id.partition(":")
    if not sep or not project_name or not build_uuid:
        raise ValueError(f"a build id is <project>:<uuid>, not {build_id!r}")
    if build_number < 1:
        raise ValueError(f"build numbers start at 1, not {build_number}")  # §1.11
    env = {
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "CODEBUILD_BUILD_ARN": build_arn(region, account_id, build_id),
        "CODEBUILD_BUILD_ID": build_id,
        "CODEBUILD_BUILD_IMAGE": image,
        "CODEBUILD_BUILD_NUMBER": str(build_number),
        "CODEBUILD_BUILD_SUCCEEDING": "1" if succeeding else "0",
        "CODEBUILD_INITIATOR": initiator,
        "CODEBUILD_LOG_PATH": log_path if log_path is not None else build_uuid,
        "CODEBUILD_PROJECT_ARN": project_arn(region, account_id, project_name),
        "CODEBUILD_SRC_DIR": source_dir,
        "CODEBUILD_START_TIME": str(unix_ms(start_time)),
        "HOME": home,
    }
    optional = {
        "CODEBUILD_BATCH_BUILD_IDENTIFIER": batch_build_identifier,
        "CODEBUILD_KMS_KEY_ID": kms_key_id,
        "CODEBUILD_PUBLIC_BUILD_URL": public_build_url,
        "CODEBUILD_RESOLVED_SOURCE_VERSION": resolved_source_version,
        "CODEBUILD_SOURCE_REPO_URL": source_repo_url,
        "CODEBUILD_SOURCE_VERSION": source_version,
    }
    env.update({k: v for k, v in optional.items() if v is not None})
    for ident, directory in (secondary_sources or {}).items():
        env[f"CODEBUILD_SRC_DIR_{ident}"] = directory
    for ident, version in (secondary_source_versions or {}).items():
        env[f"CODEBUILD_SOURCE_VERSION_{ident}"] = version
    for suffix, value in (webhook or {}).items():
        if suffix not in WEBHOOK_SUFFIXES:
            raise ValueError(f"unknown webhook variable CODEBUILD_WEBHOOK_{suffix}; "
                             f"known: {', '.join(WEBHOOK_SUFFIXES)}")
        env[f"CODEBUILD_WEBHOOK_{suffix}"] = value
    return dict(sorted(env.items()))


def check_user_variables(variables: Mapping[str, str], source: str) -> None:
    """Raise ReservedVariableError for a CODEBUILD_* name or one a shell cannot hold."""
    for name in variables:
        problem = check_shell_env_name(name)
        if problem is not None:
            raise ReservedVariableError(name, source, problem)
        if name.startswith(RESERVED_PREFIX):
            raise ReservedVariableError(
                name, source, f"uses the reserved prefix {RESERVED_PREFIX} (CodeBuild sets those)")


def merge_env(builtin: Mapping[str, str], buildspec_variables: Mapping[str, str] | None = None,
              overrides: Mapping[str, str] | None = None, *,
              project_variables: Mapping[str, str] | None = None) -> dict[str, str]:
    """Layer the variables, lowest first: built-ins, buildspec `env.variables`, the project's
    environment variables, the start-build overrides (§1.3 precedence). Values are literal:
    `PATH: "$PATH:/x"` sets the string `$PATH:/x`, nothing is expanded.

    >>> merge_env({"HOME": "/root"}, {"STAGE": "prod", "HOME": "/w"}, {"STAGE": "qa"})
    {'HOME': '/w', 'STAGE': 'qa'}
    """
    merged = dict(builtin)
    for layer, source in ((buildspec_variables, "buildspec env.variables"),
                          (project_variables, "project environment variables"),
                          (overrides, "environment variable overrides")):
        if layer:
            check_user_variables(layer, source)
            merged.update({k: str(v) for k, v in layer.items()})
    return merged


def succeeding_variable(succeeding: bool | str) -> dict[str, str]:
    """The CODEBUILD_BUILD_SUCCEEDING update the runner applies when entering a phase."""
    flag = succeeding if isinstance(succeeding, str) else ("1" if succeeding else "0")
    return {"CODEBUILD_BUILD_SUCCEEDING": flag}


# --- log lines ---------------------------------------------------------------------------------
# CodeBuild agent lines as they appear in build logs (§1.5 and the log excerpts it cites).

LOG_PREFIX = "[Container]"
TIMESTAMP_FORMAT = "%Y/%m/%d %H:%M:%S.%f"  # UTC, microseconds (agent logs since ~2023)

LOG_TEMPLATES = {
    "entering_phase": "Entering phase {phase}",
    "phase_is": "Phase is {phase}",
    "running_command": "Running command {command}",
    "command_failed": "Command did not exit successfully {command} exit status {exit_status}",
    "phase_complete": "Phase complete: {phase} State: {status}",
    "phase_context": "Phase context status code: {code} Message: {message}",
    "src_dir": "CODEBUILD_SRC_DIR={path}",
    "yaml_location": "YAML location is {path}",
    "processing_env": "Processing environment variables",
    "selecting_runtime": "Selecting '{runtime}' runtime version '{version}' based on manual selections...",
    "moving_to_directory": "Moving to directory {path}",
    "expanding_base_directory": "Expanding base directory path: {path}",
    "assembling_file_list": "Assembling file list",
    "expanding": "Expanding {path}",
    "expanding_file_paths": "Expanding file paths for base directory {path}",
    "skipping_invalid_path": "Skipping invalid file path {path}",
}

COMMAND_EXECUTION_ERROR = "COMMAND_EXECUTION_ERROR"


def timestamp(now: datetime) -> str:
    """`2024/05/06 07:08:09.123456`; an aware time is converted to UTC, a naive one is UTC."""
    if now.tzinfo is not None:
        now = now.astimezone(timezone.utc)
    return now.strftime(TIMESTAMP_FORMAT)


def log_text(kind: str, **fields: object) -> str:
    """The message of one line, without prefix or time.

    [inferred] a successful phase's context has an empty code and message; the agent prints
    `Phase context status code:  Message:` (two spaces, nothing after) — we strip the end.
    """
    try:
        template = LOG_TEMPLATES[kind]
    except KeyError:
        known = ", ".join(LOG_TEMPLATES)
        raise ValueError(f"unknown log line kind {kind!r}; known: {known}") from None
    return template.format(**fields).rstrip()


def log_line(kind: str, now: datetime, **fields: object) -> str:
    """One agent log line: a LOG_TEMPLATES kind, the clock, the template's fields.

    >>> log_line("entering_phase", datetime(2024, 5, 6, 7, 8, 9, 123456), phase="BUILD")
    '[Container] 2024/05/06 07:08:09.123456 Entering phase BUILD'
    """
    return f"{LOG_PREFIX} {timestamp(now)} {log_text(kind, **fields)}"


def command_error_message(command: str, exit_status: int) -> str:
    """The phase-context message of a failed command (what RETRY-<regex> is matched against).

    >>> command_error_message("make test", 2)
    'Error while executing command: make test. Reason: exit status 2'
    """
    return f"Error while executing command: {command}. Reason: exit status {exit_status}"


def phase_end_lines(now: datetime, phase: str, status: str, *, failed_command: str | None = None,
                    exit_status: int | None = None) -> list[str]:
    """The lines that close a phase: `Command did not exit successfully …` when a command
    failed, `Phase complete: …`, then `Phase context status code: …`.

    >>> phase_end_lines(datetime(2024, 5, 6), "BUILD", "SUCCEEDED")[1]
    '[Container] 2024/05/06 00:00:00.000000 Phase context status code:  Message:'
    """
    lines = []
    code = message = ""
    if failed_command is not None and exit_status is not None:
        lines.append(log_line("command_failed", now, command=failed_command,
                                   exit_status=exit_status))
        code, message = COMMAND_EXECUTION_ERROR, command_error_message(failed_command, exit_status)
    lines.append(log_line("phase_complete", now, phase=phase, status=status))
    lines.append(log_line("phase_context", now, code=code, message=message))
    return lines
