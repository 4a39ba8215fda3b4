"""The action providers a conveyor.yml may name: their category, how many input and output
artifacts they take (CodePipeline's table, aws-semantics §2.2) and their configuration keys.

Keys are written in camelCase either directly on the action or under `configuration:`.
`available` is False for providers whose runner arrives in a later release: such actions
validate (the format is stable) and fail with a clear message when they run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from conveyor.names import check_pipeline_env_name, check_shell_env_name
from conveyor.paths import path_problem

# CodeBuild CreateProject `name` (API reference, CreateProject): it also names the project's cache
# directory under the data dir, so it must never hold '/' or '..'.
PROJECT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_]{1,254}")


def relative_file(value: Any) -> str | None:
    """A file or directory named inside an input artifact: relative, no `..`."""
    problem = path_problem(str(value))
    return f"'{value}' {problem}" if problem else None


def project_name(value: Any) -> str | None:
    if "#{" in str(value) or PROJECT_NAME.fullmatch(str(value)):
        return None
    return (f"'{value}' is not a valid CodeBuild project name: 2-255 letters, digits, '-' and '_', starting with "
            "a letter or digit")


def shell_env_names(value: Any) -> str | None:
    """CodeBuild environment variables: exported into the build shell (conveyor.names)."""
    for name in value if isinstance(value, dict) else ():
        problem = check_shell_env_name(str(name))
        if problem:
            return f"environment variable '{name}' {problem}"
    return None


def pipeline_env_names(value: Any) -> str | None:
    for name in value if isinstance(value, dict) else ():
        problem = check_pipeline_env_name(str(name))
        if problem:
            return f"environment variable '{name}' {problem}"
    return None


@dataclass(frozen=True)
class Key:
    type: type | tuple[type, ...]
    required: bool = False
    default: Any = None
    doc: str = ""
    check: Callable[[Any], str | None] | None = None  # the problem with a well-typed value, or None


@dataclass(frozen=True)
class Provider:
    name: str
    category: str
    inputs: tuple[int, int]
    outputs: tuple[int, int]
    keys: dict[str, Key] = field(default_factory=dict)
    categories: tuple[str, ...] = ()  # categories the action may declare; first is the default
    output_variables: tuple[str, ...] | None = None  # None: not known before the action runs
    available: bool = True

    def allowed_categories(self) -> tuple[str, ...]:
        return self.categories or (self.category,)


GIT_OUTPUT_VARIABLES = ("CommitId", "BranchName", "CommitMessage", "AuthorDate", "AuthorName",
                        "CommitterDate", "RepositoryName")

# Manual approval timeout: account default 7 days; per action 5 min - 60 days (aws-semantics §2.11).
MANUAL_TIMEOUT_DEFAULT_MINUTES = 7 * 24 * 60
# Every other action: 1 hour (aws-semantics §2.18); Conveyor lets any action set its own.
ACTION_TIMEOUT_DEFAULT_MINUTES = 60
TIMEOUT_RANGE_MINUTES = (1, 86400)

PROVIDERS: dict[str, Provider] = {p.name: p for p in [
    Provider("Git", "Source", (0, 0), (1, 1), {
        "repository": Key(str, default=".", doc="path (relative to the repository holding conveyor.yml) or URL"),
        "branch": Key(str, default="main"),
        "detectChanges": Key(bool, default=True, doc="start an execution when the branch moves"),
    }, output_variables=GIT_OUTPUT_VARIABLES),
    Provider("Manual", "Approval", (0, 0), (0, 0), {
        "customData": Key(str, doc="text shown to the reviewer"),
        "externalEntityLink": Key(str, doc="URL the reviewer should look at"),
    }, output_variables=()),
    Provider("Command", "Build", (0, 5), (0, 1), {
        "command": Key(list, doc="argv list; no shell is involved"),
        "script": Key(str, doc="path of a script inside the primary input artifact", check=relative_file),
        "image": Key(str, doc="container image to run in; omit to run on the host"),
        "workingDirectory": Key(str, doc="relative to the primary input artifact", check=relative_file),
        "env": Key(dict, default={}, check=pipeline_env_names),
        "outputFiles": Key(list, doc="globs selecting the output artifact's files (default: all)"),
        "outputVariables": Key(list, doc="names read from $CONVEYOR_OUTPUT_ENV (KEY=VALUE lines)"),
        "primarySource": Key(str),
    }, categories=("Build", "Test", "Compute")),
    Provider("Wait", "Invoke", (0, 5), (0, 0), {
        "seconds": Key((int, float), default=0, doc="how long the action takes; 0 = a no-op"),
    }, output_variables=()),
    Provider("CodeBuild", "Build", (1, 5), (0, 5), {
        "buildspec": Key(str, default="buildspec.yml", check=relative_file),
        "image": Key(str),
        "environmentVariables": Key(dict, default={}, check=shell_env_names),
        "primarySource": Key(str),
        "projectName": Key(str, check=project_name),
        # CodeBuild's environment.privilegedMode: a project setting (here: the registered
        # conveyor.yml's), never a buildspec one. True gives the build the container engine's API.
        "privilegedMode": Key(bool, default=False, doc="give the build the container engine's API socket"),
    }, categories=("Build", "Test")),
    Provider("Image", "Build", (1, 1), (0, 1), {
        "repository": Key(str, required=True),
        "dockerfile": Key(str, default="Containerfile", check=relative_file),
        "context": Key(str, default=".", check=relative_file),
        "buildArgs": Key(dict, default={}),
        "target": Key(str),
        "tags": Key(list),
        "containerName": Key(str),
    }, output_variables=("ImageDigest", "ImageTag", "ImageURI", "RegistryId", "RepositoryName")),
    Provider("ECS", "Deploy", (1, 1), (0, 0), {
        "environment": Key(str, required=True),
        "service": Key(str, required=True),
        "file": Key(str, default="imagedefinitions.json", check=relative_file),
        "deploymentTimeout": Key((int, float), doc="minutes to wait for steady state (at most 60)"),
    }, output_variables=()),
    Provider("CodeDeployToECS", "Deploy", (1, 5), (0, 0), {
        "environment": Key(str, required=True),
        "service": Key(str, required=True),
        "taskDefinitionTemplateArtifact": Key(str),
        "taskDefinitionTemplatePath": Key(str, default="taskdef.json", check=relative_file),
        "appSpecTemplateArtifact": Key(str),
        "appSpecTemplatePath": Key(str, default="appspec.yaml", check=relative_file),
        # Image<N>ContainerName is the placeholder <NAME> to replace in the task definition with the
        # ImageURI of imageDetail.json in Image<N>ArtifactName (aws-semantics §3.5), not a container name.
        **{f"image{n}{what}": Key(str) for n in range(1, 5) for what in ("ArtifactName", "ContainerName")},
        "applicationName": Key(str, doc="the CodeDeploy application, as in CodePipeline; accepted, not needed locally"),
        "deploymentGroupName": Key(str, doc="its deployment group, as in CodePipeline; accepted, not needed locally"),
    }, output_variables=()),
]}

ACTION_KEYS = ("name", "provider", "category", "runOrder", "configuration", "inputArtifacts",
               "outputArtifacts", "namespace", "timeoutInMinutes")
