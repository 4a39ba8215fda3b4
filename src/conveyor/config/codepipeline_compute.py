"""The action- and rule-level fields of CodePipeline's compute features — `commands`,
`outputVariables`, `environmentVariables`, an output artifact's `files` — with the bounds of the
botocore codepipeline/2015-07-09 model (CommandList 1-50 × Command 1-1000, OutputVariableList 1-15
× 1-128, EnvironmentVariableList 1-10 with names `[A-Za-z0-9_]+` ≤128 and values 1-2000,
FilePathList 1-10 × 1-128) and the API reference's one prose rule: "All commands are supported
except multi-line formats".

    check_commands(chk, path, required=True, what="Commands action")
    check_compute_fields(chk, action_path, provider="Commands")
"""

from __future__ import annotations

from conveyor.config.codepipeline_rules import (
    COMMAND_LENGTH,
    COMMANDS_COUNT,
    ENV_COUNT,
    ENV_VALUE_LENGTH,
    FILE_PATH_LENGTH,
    FILES_COUNT,
    OUTPUT_VARIABLE_LENGTH,
    OUTPUT_VARIABLES_COUNT,
)
from conveyor.documents.checker import Checker
from conveyor.documents.located import KeyPath
from conveyor.names import check_pipeline_env_name

# Action types whose reference pages document action-level environmentVariables (they run on
# CodePipeline-managed CodeBuild compute) [doc action-reference-Commands, action-reference-EKS].
ENV_PROVIDERS = ("Commands", "EKS")
COMPUTE_ENV_TYPES = ("PLAINTEXT", "SECRETS_MANAGER")


def _count(chk: Checker, path: KeyPath, items: list, bounds: tuple[int, int], noun: str) -> None:
    lo, hi = bounds
    if not lo <= len(items) <= hi:
        chk.error(path, f"{path[-1]} takes {lo} to {hi} {noun}, got {len(items)}")


def _text(chk: Checker, path: KeyPath, value: object, limit: int, what: str, *, low: int = 1) -> str | None:
    if not chk.is_type(path, value, str):
        return None
    assert isinstance(value, str)
    if not low <= len(value) <= limit:
        chk.error(path, f"{what} must be {low} to {limit} characters, got {len(value)}")
        return None
    return value


def check_commands(chk: Checker, path: KeyPath, *, required: bool, what: str) -> list[str]:
    """The `commands` list at `path` (an action or a rule): 1-50 one-line commands of 1-1000 characters."""
    node = chk.at(path)
    if not isinstance(node, dict):
        return []
    commands = chk.get(path, "commands", list)
    if commands is None:
        if required and "commands" not in node:
            chk.error(path, f"{what} is missing 'commands' (a list of shell commands)")
        return []
    _count(chk, path + ("commands",), commands, COMMANDS_COUNT, "commands")
    out = []
    for i, cmd in enumerate(commands):
        text = _text(chk, path + ("commands", i), cmd, COMMAND_LENGTH, "a command")
        if text is None:
            continue
        if "\n" in text.strip("\n"):
            chk.error(path + ("commands", i), "a command must be one line: CodePipeline supports every command "
                                              "format except multi-line ones (split it into several commands)")
        out.append(text)
    return out


def check_compute_fields(chk: Checker, path: KeyPath, provider: str | None, owner: str | None) -> None:
    """`commands`, `outputVariables` and `environmentVariables` of the action at `path`."""
    commands_action = provider == "Commands" and owner == "AWS"
    check_commands(chk, path, required=commands_action, what="Commands action")
    if not commands_action and provider is not None and "commands" in (chk.at(path) or {}):
        chk.warning(path + ("commands",), f"only the Commands action runs 'commands'; a {provider} action "
                                          "does not use them")
    names = chk.get(path, "outputVariables", list)
    if names is not None:
        _count(chk, path + ("outputVariables",), names, OUTPUT_VARIABLES_COUNT, "names")
        for i, name in enumerate(names):
            _text(chk, path + ("outputVariables", i), name, OUTPUT_VARIABLE_LENGTH, "an output variable name")
    env = chk.get(path, "environmentVariables", list)
    if env is None:
        return
    _count(chk, path + ("environmentVariables",), env, ENV_COUNT, "variables")
    if provider is not None and owner == "AWS" and provider not in ENV_PROVIDERS:
        chk.warning(path + ("environmentVariables",), f"action-level environmentVariables are used by the "
                                                      f"{' and '.join(ENV_PROVIDERS)} actions; a {provider} action "
                                                      "does not read them")
    for i, var in enumerate(env):
        vpath = path + ("environmentVariables", i)
        if not chk.is_type(vpath, var, dict):
            continue
        chk.keys(vpath, ("name", "value", "type"))
        name = chk.get(vpath, "name", str, required=True)
        if name is not None:
            problem = check_pipeline_env_name(name)
            if problem:
                chk.error(vpath + ("name",), f"environment variable name {name!r} {problem}")
        value = chk.get(vpath, "value", str, required=True)
        if value is not None:
            _text(chk, vpath + ("value",), value, ENV_VALUE_LENGTH, "an environment variable value")
        kind = chk.get(vpath, "type", str)
        if kind is not None:
            chk.one_of(vpath + ("type",), kind, COMPUTE_ENV_TYPES, "environment variable type")


def check_output_files(chk: Checker, ipath: KeyPath, provider: str | None) -> None:
    """OutputArtifact.files: the files a compute action exports (1-10 paths of 1-128 characters)."""
    files = chk.get(ipath, "files", list)
    if files is None:
        return
    _count(chk, ipath + ("files",), files, FILES_COUNT, "paths")
    for i, item in enumerate(files):
        _text(chk, ipath + ("files", i), item, FILE_PATH_LENGTH, "a file path")
    if provider is not None and provider != "Commands":
        chk.warning(ipath + ("files",), f"'files' selects what a Commands action exports; a {provider} action "
                                        "does not use it")
