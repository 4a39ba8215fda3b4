"""conveyor.yml's pipeline actions as CodePipeline ActionDeclarations (CloudFormation's PascalCase),
one function per provider, each adding what the action needs to the template (a CodeBuild project,
the approval topic) and to the pipeline role's policy (deploy actions: pipeline_deploy.py).

    Git        -> Source/CodeStarSourceConnection (ConnectionArn and FullRepositoryId parameters)
    CodeBuild  -> Build or Test/CodeBuild, with a project per action (or per projectName)
    Command    -> Compute/Commands: its argv as a shell line (config/command_shell.py); a CodeBuild
                  project running the same lines when it needs its own image or >10 variables
    Manual     -> Approval/Manual, NotificationArn = the approval topic
    Wait       -> Compute/Commands `sleep N` (CodePipeline has no wait action)
    Image      -> Build/CodeBuild with a project whose buildspec builds and pushes to ECR
    ECS, CodeDeployToECS -> pipeline_deploy.py

Names, runOrder, artifacts and namespaces are kept; #{...} references are written as CodePipeline
reads them (the syntax is the same), except Git variables a connection source does not set.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from conveyor.config.command_shell import output_files, shell_lines
from conveyor.config.model import ActionDef
from conveyor.config.providers import GIT_OUTPUT_VARIABLES
from conveyor.export.buildspecs import command_buildspec, image_buildspec
from conveyor.export.codebuild import (
    DOCKER,
    STANDARD_IMAGE,
    BuildNeeds,
    ProjectSpec,
    add_project,
    local_image,
    read_needs,
)
from conveyor.export.pipeline_context import APPROVAL_TOPIC, CONNECTION, ExportContext, declaration
from conveyor.export.pipeline_deploy import codedeploy_to_ecs, ecs
from conveyor.export.template import Ref

COMMANDS_MAX_VARIABLES = 10  # aws-semantics §2.1: environmentVariables (<=10) of the Commands action
COMMANDS_TIMEOUT_MINUTES = 55  # the Commands action's build timeout (CodePipeline guide, Commands action)
MANUAL_TIMEOUT = (5, 86400)  # aws-semantics §2.11: per-action approval timeout, 5 min - 60 days
CODEBUILD_ENV_TYPES = ("PLAINTEXT", "PARAMETER_STORE", "SECRETS_MANAGER")  # §2.10
# Git output variables a CodeStarSourceConnection source sets under another name, or not at all (§2.7).
GIT_RENAMED = {"RepositoryName": "FullRepositoryName"}
_REFERENCE = re.compile(r"#\{([^.{}]+)\.([^{}]+)\}")


def action_declaration(ctx: ExportContext, si: int, ai: int, action: ActionDef) -> dict[str, Any]:
    mappers: dict[str, Callable[[ExportContext, int, int, ActionDef], dict[str, Any]]] = {
        "Git": git, "CodeBuild": codebuild, "Command": command, "Manual": manual, "Wait": wait,
        "Image": image, "ECS": ecs, "CodeDeployToECS": codedeploy_to_ecs}
    declaration = mappers[action.provider](ctx, si, ai, action)
    return _references(ctx, si, ai, declaration)


# -- Source
def git(ctx: ExportContext, si: int, ai: int, a: ActionDef) -> dict[str, Any]:
    conf = a.configuration
    ctx.uses_connection = True
    ctx.policy.allow(["codeconnections:UseConnection", "codestar-connections:UseConnection"], Ref(CONNECTION))
    ctx.note_timeout(si, ai, a.timeout_minutes, "left out: a source action has AWS's own timeout")
    return declaration(a, "Source", "CodeStarSourceConnection", {
        "ConnectionArn": Ref(CONNECTION),
        "FullRepositoryId": Ref(ctx.repository_parameter(si, ai, a)),
        "BranchName": str(conf.get("branch") or "main"),
        "OutputArtifactFormat": "CODE_ZIP",  # the tree at the commit, as a Git action's artifact
        "DetectChanges": "true" if conf.get("detectChanges", True) else "false",
    })


# -- Build and test
def codebuild(ctx: ExportContext, si: int, ai: int, a: ActionDef) -> dict[str, Any]:
    conf, key = a.configuration, ctx.key(si, ai)
    primary = conf.get("primarySource") or (a.input_artifacts[0] if a.input_artifacts else None)
    buildspec = str(conf.get("buildspec") or "buildspec.yml")
    tree = ctx.local_tree(primary) if primary else None
    needs = read_needs(tree / buildspec if tree else None)
    if not needs.known:
        ctx.notes.add(f"{key}.buildspec", f"buildspec {buildspec} of artifact '{primary}', which could not be read "
                                          "when exporting", "PrivilegedMode off and no ECR, Parameter Store or Secrets "
                                                            "Manager rights; add them if the build needs them")
    privileged = bool(conf.get("privilegedMode"))
    if needs.docker and not privileged:
        ctx.notes.add(f"{key}.privilegedMode", f"buildspec {buildspec} runs a container engine, but privilegedMode is "
                                               "not set", "PrivilegedMode off, as Conveyor runs it: set "
                                                          "privilegedMode: true if the build needs the engine")
    needs = replace(needs, docker=privileged)  # a project setting, as conveyor.yml says (never the buildspec)
    variables = _codebuild_variables(ctx, f"{key}.environmentVariables", conf.get("environmentVariables"), needs)
    spec = ProjectSpec(ctx.project_name(si, ai, a), key, buildspec, _image(ctx, key, conf.get("image")), needs,
                       _build_timeout(a))
    config: dict[str, Any] = {"ProjectName": add_project(ctx, spec)}
    if primary and (conf.get("primarySource") or len(a.input_artifacts) > 1):
        config["PrimarySource"] = primary
    if variables:
        config["EnvironmentVariables"] = _json(variables)
    return declaration(a, "Test" if a.category == "Test" else "Build", "CodeBuild", config)


def command(ctx: ExportContext, si: int, ai: int, a: ActionDef) -> dict[str, Any]:
    conf, key = a.configuration, ctx.key(si, ai)
    env = {str(k): str(v) for k, v in (conf.get("env") or {}).items()}
    image_ref = str(conf.get("image") or "")
    inputs = _inputs(ctx, si, ai, a, conf.get("primarySource"))
    outputs = [{"Name": n, "Files": output_files(conf)} for n in a.output_artifacts]
    if image_ref and local_image(image_ref):
        ctx.notes.add(f"{key}.image", f"image {image_ref}, which only this machine can pull",
                      "the Commands action's managed image (Amazon Linux)")
        image_ref = ""
    if image_ref or len(env) > COMMANDS_MAX_VARIABLES:
        why = f"its own image {image_ref}" if image_ref else f"{len(env)} environment variables"
        ctx.notes.add(key, f"a Command with {why}, which the Commands action cannot take",
                      "a CodeBuild project running the same shell lines")
        spec = ProjectSpec(ctx.generated_project_name(si, ai, a), key, command_buildspec(conf, output=bool(outputs)),
                           image_ref or STANDARD_IMAGE,
                           BuildNeeds(known=True, docker=any(DOCKER.search(c) for c in shell_lines(conf))),
                           _build_timeout(a))
        config: dict[str, Any] = {"ProjectName": add_project(ctx, spec)}
        if len(inputs) > 1:
            config["PrimarySource"] = inputs[0]
        if env:
            config["EnvironmentVariables"] = _json([{"name": k, "value": v, "type": "PLAINTEXT"}
                                                    for k, v in env.items()])
        category = "Test" if a.category == "Test" else "Build"
        return declaration(a, category, "CodeBuild", config, inputs=inputs)
    ctx.uses_commands = True
    ctx.notes.add(key, "a Command: an argv run on this machine or in its image",
                  "a Commands action: the argv as one shell line in CodePipeline's managed CodeBuild container, "
                  "where CONVEYOR_* variables other than CONVEYOR_OUTPUT_ENV are not set")
    if a.category == "Test":
        ctx.notes.add(f"{key}.category", "category Test", "Compute, the Commands action's category")
    ctx.note_timeout(si, ai, a.timeout_minutes, f"the Commands action's own {COMMANDS_TIMEOUT_MINUTES} minutes")
    out = declaration(a, "Compute", "Commands", None, inputs=inputs, outputs=outputs)
    out["Commands"] = shell_lines(conf)
    if conf.get("outputVariables"):
        out["OutputVariables"] = [str(v) for v in conf["outputVariables"]]
    if env:
        out["EnvironmentVariables"] = [{"Name": k, "Value": v, "Type": "PLAINTEXT"} for k, v in env.items()]
    return out


def image(ctx: ExportContext, si: int, ai: int, a: ActionDef) -> dict[str, Any]:
    conf, key = a.configuration, ctx.key(si, ai)
    buildspec = image_buildspec(conf, output=bool(a.output_artifacts))
    spec = ProjectSpec(ctx.generated_project_name(si, ai, a), key, buildspec, STANDARD_IMAGE,
                       BuildNeeds(known=True, docker=True, pushes=True), _build_timeout(a),
                       repositories=[str(conf["repository"])],
                       description=f"conveyor.yml {key}: builds {conf['repository']} and pushes it to ECR")
    ctx.notes.add(key, "an Image action (build with the local engine, push to the local registry)",
                  f"a CodeBuild project that builds with docker and pushes to ECR repository {conf['repository']}")
    config: dict[str, Any] = {"ProjectName": add_project(ctx, spec)}
    args = conf.get("buildArgs") or {}
    if args:
        config["EnvironmentVariables"] = _json([{"name": str(k), "value": str(v), "type": "PLAINTEXT"}
                                                for k, v in args.items()])
    return declaration(a, "Build", "CodeBuild", config)


# -- Approval and waiting
def manual(ctx: ExportContext, si: int, ai: int, a: ActionDef) -> dict[str, Any]:
    conf = a.configuration
    ctx.uses_approval = True
    config: dict[str, Any] = {"NotificationArn": Ref(APPROVAL_TOPIC)}
    for key, aws in (("customData", "CustomData"), ("externalEntityLink", "ExternalEntityLink")):
        if conf.get(key):
            config[aws] = str(conf[key])
    out = declaration(a, "Approval", "Manual", config)
    if a.timeout_minutes is not None:
        lo, hi = MANUAL_TIMEOUT
        minutes = min(max(math.ceil(a.timeout_minutes), lo), hi)
        if minutes != a.timeout_minutes:
            ctx.notes.add(ctx.key(si, ai, "timeoutInMinutes"), f"an approval timeout of {a.timeout_minutes:g} min",
                          f"{minutes} min (CodePipeline takes {lo}-{hi})")
        out["TimeoutInMinutes"] = minutes
    return out


def wait(ctx: ExportContext, si: int, ai: int, a: ActionDef) -> dict[str, Any]:
    seconds = a.configuration.get("seconds") or 0
    ctx.uses_commands = True
    ctx.notes.add(ctx.key(si, ai), f"a Wait of {seconds:g} seconds (CodePipeline has no wait action)",
                  f"a Commands action running `sleep {seconds:g}`, which also waits for its container to start")
    out = declaration(a, "Compute", "Commands", None, inputs=_inputs(ctx, si, ai, a, None), outputs=[])
    out["Commands"] = [f"sleep {seconds:g}"]
    return out


# -- helpers
def _inputs(ctx: ExportContext, si: int, ai: int, a: ActionDef, primary: Any) -> list[str]:
    """Input artifacts, the primary first (the Commands action's working directory is its first input);
    one is borrowed from the first source when there is none, as CodePipeline requires one."""
    names = list(a.input_artifacts)
    if primary in names:
        names.remove(primary)
        names.insert(0, primary)
    if not names and (first := ctx.first_source_artifact()):
        ctx.notes.add(ctx.key(si, ai, "inputArtifacts"), "no input artifact",
                      f"'{first}' as input (the action type needs one)")
        names = [first]
    return names


def _build_timeout(a: ActionDef) -> int | None:
    return math.ceil(a.timeout_minutes) if a.timeout_minutes is not None else None


def _image(ctx: ExportContext, key: str, image_ref: Any) -> str:
    if not image_ref:
        return STANDARD_IMAGE
    if local_image(str(image_ref)):
        ctx.notes.add(f"{key}.image", f"image {image_ref}, which only this machine can pull", STANDARD_IMAGE)
        return STANDARD_IMAGE
    return str(image_ref)


def _codebuild_variables(ctx: ExportContext, key: str, variables: Any, needs: BuildNeeds) -> list[dict[str, str]]:
    """The action's EnvironmentVariables. A value is a string (PLAINTEXT) or {type, value} with type
    PLAINTEXT, PARAMETER_STORE or SECRETS_MANAGER, as CodePipeline's own list writes it."""
    out = []
    for name, value in (variables or {}).items():
        kind, text = "PLAINTEXT", value
        if isinstance(value, dict):
            kind, text = str(value.get("type") or "PLAINTEXT"), value.get("value")
            if kind not in CODEBUILD_ENV_TYPES or text is None:
                ctx.notes.add(f"{key}.{name}", f"a value {value!r}",
                              "left out (expected a string or {type: PLAINTEXT|PARAMETER_STORE|SECRETS_MANAGER, "
                              "value})")
                continue
            (needs.parameters if kind == "PARAMETER_STORE" else needs.secrets if kind == "SECRETS_MANAGER"
             else set()).add(str(text))
        out.append({"name": str(name), "value": str(text), "type": kind})
    return out


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _references(ctx: ExportContext, si: int, ai: int, value: Any) -> Any:
    """#{Source.X} for the Git variables a connection source names differently (or not at all)."""
    namespaces = ctx.git_namespaces()

    def fix(match: re.Match[str]) -> str:
        ns, var = match.group(1), match.group(2)
        if ns not in namespaces or var not in GIT_OUTPUT_VARIABLES or var in ("CommitId", "BranchName",
                                                                              "CommitMessage", "AuthorDate"):
            return match.group(0)
        if var in GIT_RENAMED:
            ctx.notes.add(ctx.key(si, ai), f"#{{{ns}.{var}}} (a Git source's {var})",
                          f"#{{{ns}.{GIT_RENAMED[var]}}}, the connection source's owner/repository")
            return f"#{{{ns}.{GIT_RENAMED[var]}}}"
        ctx.notes.add(ctx.key(si, ai), f"#{{{ns}.{var}}}, which a CodeStarSourceConnection source does not set",
                      "kept as written: the action fails to resolve it on AWS; remove it")
        return match.group(0)

    if isinstance(value, str):
        return _REFERENCE.sub(fix, value)
    if isinstance(value, list):
        return [_references(ctx, si, ai, v) for v in value]
    if isinstance(value, dict):
        return {k: _references(ctx, si, ai, v) for k, v in value.items()}
    return value
