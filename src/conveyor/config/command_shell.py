"""A conveyor.yml Command action as the shell lines of CodePipeline's Commands action, and back.

CodePipeline's Commands action (aws-semantics §2.1: `commands`, `outputVariables`,
`environmentVariables`; category Compute) runs shell lines, one after the other in one shell, in a
CodeBuild container whose working directory is the first input artifact. A Command runs an argv
(or a script of its primary input) in `workingDirectory` and reads its output variables from
KEY=VALUE lines written to $CONVEYOR_OUTPUT_ENV. The lines below say the same thing:

    >>> shell_lines({"command": ["python3", "-m", "unittest"], "workingDirectory": "app",
    ...              "outputVariables": ["VERSION"]})  # doctest: +NORMALIZE_WHITESPACE
    ['cd app', 'export CONVEYOR_OUTPUT_ENV=/tmp/conveyor-output.env && : > "$CONVEYOR_OUTPUT_ENV"',
     'python3 -m unittest',
     'while IFS== read -r key value; do export "$key=$value"; done < "$CONVEYOR_OUTPUT_ENV"']
    >>> command_settings(['cd app', 'python3 -m unittest'], [])
    {'workingDirectory': 'app', 'command': ['python3', '-m', 'unittest']}

`command_settings` reads any Commands action: lines in another shape become one `sh -ec` script.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

OUTPUT_ENV = "/tmp/conveyor-output.env"  # outside the workspace, so never part of the output artifact
OPEN_OUTPUT = f'export CONVEYOR_OUTPUT_ENV={OUTPUT_ENV} && : > "$CONVEYOR_OUTPUT_ENV"'
READ_OUTPUT = 'while IFS== read -r key value; do export "$key=$value"; done < "$CONVEYOR_OUTPUT_ENV"'
ALL_FILES = "**/*"  # a Command's output artifact holds every file of its working directory by default
_SCRIPT = 'if [ -x "$CODEBUILD_SRC_DIR"/{p} ]; then "$CODEBUILD_SRC_DIR"/{p}; else sh "$CODEBUILD_SRC_DIR"/{p}; fi'
_SCRIPT_RE = re.compile(r'if \[ -x "\$CODEBUILD_SRC_DIR"/(.+?) \]; then "\$CODEBUILD_SRC_DIR"/\1; '
                        r'else sh "\$CODEBUILD_SRC_DIR"/\1; fi')
_SLEEP_RE = re.compile(r"sleep (\d+(?:\.\d+)?)")


def workdir(conf: dict[str, Any]) -> str:
    """The working directory relative to the primary input, '' for its root."""
    path = str(conf.get("workingDirectory") or ".").strip("/")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    return "/".join(parts)


def shell_lines(conf: dict[str, Any]) -> list[str]:
    """The Commands action's `commands` for a Command's settings (command or script)."""
    lines = []
    if workdir(conf):
        lines.append(f"cd {shlex.quote(workdir(conf))}")
    if conf.get("outputVariables"):
        lines.append(OPEN_OUTPUT)
    if "command" in conf:
        lines.append(shlex.join(str(a) for a in conf["command"]))
    else:
        lines.append(_SCRIPT.format(p=shlex.quote(str(conf["script"]))))
    if conf.get("outputVariables"):
        lines.append(READ_OUTPUT)
    return lines


def output_files(conf: dict[str, Any]) -> list[str]:
    """The output artifact's `files`: relative to the primary input, where the Commands action runs."""
    patterns = [str(p) for p in conf.get("outputFiles") or [ALL_FILES]]
    prefix = workdir(conf)
    return [f"{prefix}/{p}" if prefix else p for p in patterns]


def sleep_seconds(lines: list[str]) -> float | None:
    """The seconds of a Commands action that only sleeps (a Wait action, exported), else None."""
    match = _SLEEP_RE.fullmatch(lines[0]) if len(lines) == 1 else None
    if match is None:
        return None
    value = float(match.group(1))
    return int(value) if value.is_integer() else value


def command_settings(lines: list[str], output_variables: list[str], files: list[str] | None = None) -> dict[str, Any]:
    """A Command's settings from a Commands action's `commands`, `outputVariables` and output files:
    exact for the lines `shell_lines` writes, the lines as one `sh -ec` script otherwise."""
    exact = _exact(lines, output_variables, files)
    if exact is not None:
        return exact
    script = [*lines, *(f'printf "{v}=%s\\n" "${v}" >> "$CONVEYOR_OUTPUT_ENV"' for v in output_variables)]
    settings: dict[str, Any] = {"command": ["sh", "-ec", "\n".join(script)]}
    if output_variables:
        settings["outputVariables"] = list(output_variables)
    if files is not None and files != [ALL_FILES]:
        settings["outputFiles"] = list(files)
    return settings


def _exact(lines: list[str], output_variables: list[str], files: list[str] | None) -> dict[str, Any] | None:
    rest, settings = list(lines), dict[str, Any]()
    directory = ""
    if rest and rest[0].startswith("cd "):
        directory = _word(rest[0][3:]) or ""
        if not directory:
            return None
        settings["workingDirectory"] = directory
        rest = rest[1:]
    if output_variables:
        if len(rest) != 3 or rest[0] != OPEN_OUTPUT or rest[2] != READ_OUTPUT:
            return None
        rest = rest[1:2]
        settings["outputVariables"] = list(output_variables)
    if len(rest) != 1:
        return None
    script = _SCRIPT_RE.fullmatch(rest[0])
    if script is not None and _word(script.group(1)):
        settings["script"] = _word(script.group(1))
    elif (argv := _argv(rest[0])) is not None:
        settings["command"] = argv
    else:
        return None
    if files is not None:
        prefix = f"{directory}/" if directory else ""
        if not all(f.startswith(prefix) for f in files):
            return None
        inner = [f[len(prefix):] for f in files]
        if inner != [ALL_FILES]:
            settings["outputFiles"] = inner
    return settings


def _argv(line: str) -> list[str] | None:
    """The argv a line is exactly the shell form of (shlex.join), else None."""
    try:
        argv = shlex.split(line)
    except ValueError:
        return None
    return argv if argv and shlex.join(argv) == line else None


def _word(text: str) -> str | None:
    argv = _argv(text)
    return argv[0] if argv is not None and len(argv) == 1 else None
