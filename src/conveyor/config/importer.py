"""Turn a CodePipeline definition (get-pipeline output or create-pipeline input) into a conveyor.yml.

    result = import_codepipeline("pipeline.json")
    Path("conveyor.yml").write_text(result.text)
    for line in result.unmapped: print(line)    # what has no local equivalent, and what to do

What maps (docs/conveyor.reference.yml is the target format):
    CodeCommit, CodeStarSourceConnection, GitHub v1 sources -> Git (repository to be pointed at your
        git remote; branch from BranchName/Branch)
    CodeBuild -> CodeBuild (projectName; PLAINTEXT EnvironmentVariables -> environmentVariables)
    Manual -> Manual (customData, externalEntityLink, timeoutInMinutes)
    Commands -> Command (the lines conveyor export writes for a Command read back exactly; other
        lines become one `sh -ec` script); a Commands action that only sleeps -> Wait
    ECS -> ECS (environment <- ClusterName, service <- ServiceName, file <- FileName,
        deploymentTimeout <- DeploymentTimeout)
    CodeDeployToECS -> CodeDeployToECS (environment <- ApplicationName, service <- DeploymentGroupName,
        the template and Image1-4 settings)
Names follow docs/aws.md: environment E's ECS cluster and CodeDeploy application are conveyor-E unless
it says otherwise, and a service's deployment group is its name; so ClusterName and ApplicationName
conveyor-E give environment E, and other names are kept as the environment's name with a note.
Everything else is left out and listed in `unmapped` and in the header of the text. Names,
runOrder, artifacts, namespaces, executionMode, variables and push triggers are kept.

The import goes ahead when validation finds errors (they are in `diagnostics`), as long as the file
holds a pipeline with stages; otherwise ConfigError.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conveyor.config.codepipeline import validate_file
from conveyor.config.codepipeline_actions import parse_codebuild_env
from conveyor.config.codepipeline_rules import (
    AWS_DEFAULT_EXECUTION_MODE,
    NAME_CHARSET,
    NAME_RE,
    VARIABLE_REF,
    count_phrase,
    placeholder_in,
)
from conveyor.config.command_shell import command_settings, sleep_seconds
from conveyor.config.import_yaml import Block, Items, render
from conveyor.config.providers import GIT_OUTPUT_VARIABLES, PROVIDERS, Provider
from conveyor.documents.located import load_file
from conveyor.errors import ConfigError, Diagnostic

# Why an action has no local equivalent, by provider (owner AWS unless noted).
DROPPED = {
    "S3/Source": "S3 source has no local equivalent; replace it with a Git source",
    "ECR/Source": "ECR source has no local equivalent; replace it with a Git source and build the image in the "
                  "pipeline",
    "CodeDeploy": "CodeDeploy (EC2/on-premises or Lambda) deploy has no local equivalent; Conveyor deploys "
                  "containers (ECS, CodeDeployToECS)",
    "CloudFormation": "CloudFormation deploy has no local equivalent",
    "CloudFormationStackSet": "CloudFormation StackSets deploy has no local equivalent",
    "CloudFormationStackInstances": "CloudFormation StackSets deploy has no local equivalent",
    "ElasticBeanstalk": "Elastic Beanstalk deploy has no local equivalent",
    "Lambda": "Lambda invoke has no local equivalent; a Command action can run the same logic",
    "Lambda/Deploy": "Lambda deploy has no local equivalent; Conveyor deploys containers (ECS, CodeDeployToECS)",
    "EKS": "EKS deploy has no local equivalent; Conveyor deploys containers to its local ECS environments",
    "EC2": "EC2 deploy has no local equivalent; Conveyor deploys containers (ECS, CodeDeployToECS)",
    "InspectorScan": "InspectorScan has no local equivalent; a Command action can run a scanner",
    "StepFunctions": "Step Functions invoke has no local equivalent",
    "S3/Deploy": "S3 deploy has no local equivalent",
    "ECRBuildAndPublish": "ECRBuildAndPublish has no local equivalent; build the image in a Command action",
}
GIT_SOURCES = ("CodeCommit", "CodeStarSourceConnection", "GitHub")
MAPPED = GIT_SOURCES + ("CodeBuild", "Manual", "ECS", "CodeDeployToECS", "Commands")
AWS_NAME_PREFIX = "conveyor-"  # docs/aws.md: environment E's cluster and CodeDeploy application default to conveyor-E
HEADER_WIDTH = 100


@dataclass
class ImportResult:
    text: str
    unmapped: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def import_codepipeline(path: str | Path, display: str | None = None) -> ImportResult:
    """The conveyor.yml for the CodePipeline definition at `path`; `display` names the file in diagnostics."""
    diagnostics = validate_file(path, display)
    try:
        doc = load_file(path, display)
    except ConfigError:
        raise ConfigError(diagnostics) from None
    pipeline = doc.data.get("pipeline") if isinstance(doc.data, dict) else None
    stages = pipeline.get("stages") if isinstance(pipeline, dict) else None
    if not isinstance(pipeline, dict) or not isinstance(stages, list) or not any(isinstance(s, dict) for s in stages):
        if not any(d.severity == "error" for d in diagnostics):
            diagnostics.append(Diagnostic(display or str(path), 1, 1, "pipeline.stages",
                                          "nothing to import: no stages"))
        raise ConfigError(diagnostics)
    importer = _Importer(pipeline, Path(path).name)
    return ImportResult(importer.run(), importer.notes, diagnostics)


@dataclass
class _Action:
    stage: str
    name: str
    raw: dict
    provider: str
    category: str
    owner: str
    kept: bool
    reason: str = ""

    @property
    def where(self) -> str:
        return f"stage {self.stage} action {self.name}"

    def config(self, key: str) -> str | None:
        value = _dict(self.raw.get("configuration")).get(key)
        return value if isinstance(value, str) else None

    def artifacts(self, key: str) -> list[str]:
        items = _list(self.raw.get(key))
        return [i["name"] for i in items if isinstance(i, dict) and isinstance(i.get("name"), str)]


class _Importer:
    def __init__(self, pipeline: dict, file: str):
        self.pipeline = pipeline
        self.file = file
        self.notes: list[str] = []
        self.host_commands = False  # set when a Command without image is written
        self.environments: dict[str, list[str]] = {}
        self.stages: list[tuple[str, dict, list[_Action]]] = []
        for s, stage in enumerate(pipeline["stages"]):
            if isinstance(stage, dict):
                name = str(stage.get("name", f"Stage{s + 1}"))
                actions = [self._classify(name, a) for a in _list(stage.get("actions")) if isinstance(a, dict)]
                self.stages.append((name, stage, actions))
        everything = [a for _, _, actions in self.stages for a in actions]
        self.producers = {art: a for a in everything for art in a.artifacts("outputArtifacts")}
        self.namespaces = {a.raw["namespace"]: a for a in everything if isinstance(a.raw.get("namespace"), str)}

    def _classify(self, stage: str, raw: dict) -> _Action:
        type_id = _dict(raw.get("actionTypeId"))
        provider, category, owner = (str(type_id.get(k, "?")) for k in ("provider", "category", "owner"))
        action = _Action(stage, str(raw.get("name", "?")), raw, provider, category, owner, False)
        known_owner = "ThirdParty" if provider == "GitHub" else "AWS"
        if provider in MAPPED and owner == known_owner and (category == "Source") == (provider in GIT_SOURCES):
            action.kept = True
        elif owner != "AWS":
            action.reason = f"{owner} {category} action {provider} has no local equivalent"
        else:
            action.reason = (DROPPED.get(f"{provider}/{category}") or DROPPED.get(provider)
                             or f"{provider} {category.lower()} action has no local equivalent")
        return action

    # -- the document
    def run(self) -> str:
        p = self.pipeline
        name = p.get("name")
        if not (isinstance(name, str) and len(name) <= 100 and re.fullmatch(NAME_RE, name)):
            self.notes.append(f"pipeline name {name!r} is not a valid name (1-100 characters of {NAME_CHARSET}); "
                              f"rename it")
        body = Block()
        mode = p.get("executionMode")
        body.add("executionMode", mode if isinstance(mode, str) else AWS_DEFAULT_EXECUTION_MODE,
                 None if isinstance(mode, str) else "AWS default (the definition does not set it)")
        body.add("variables", self._variables())
        body.add("triggers", self._triggers())
        body.add("stages", self._stages())
        root = Block().add("name", p.get("name"))
        if self.host_commands:  # a Commands action runs in CodeBuild's container; a Command without image, here
            root.add("allowHostCommands", True, "the Command actions below run on this machine (or give them an image)")
        root.add("pipeline", body)
        if self.environments:
            envs = Block()
            for env, services in self.environments.items():
                envs.add(env, Block().add("services", Block(
                    [(svc, Block(), "fill in taskDefinition, desiredCount...") for svc in services])))
            root.add("environments", envs)
        return self._header() + render(root)

    def _header(self) -> str:
        name = self.pipeline.get("name")
        lines = [f"# conveyor.yml imported from {self.file} (CodePipeline '{name}') by `conveyor import`.",
                 "# Check the NOTE comments, then run `conveyor validate`."]
        if self.notes:
            lines.append("# Not imported, or needing your attention:")
            for note in self.notes:
                lines += textwrap.wrap(note, HEADER_WIDTH, initial_indent="#   - ", subsequent_indent="#     ",
                                       break_long_words=False, break_on_hyphens=False)
        else:
            lines.append("# Everything in the source pipeline has a local equivalent.")
        return "\n".join(lines) + "\n\n"

    def _variables(self) -> Items | None:
        out = Items()
        for var in _list(self.pipeline.get("variables")):
            block = Block()
            for key in ("name", "defaultValue", "description"):
                block.add(key, _dict(var).get(key) if isinstance(_dict(var).get(key), str) else None)
            if block:
                out.items.append(block)
        return out or None

    def _triggers(self) -> Items | None:
        triggers = _list(self.pipeline.get("triggers"))
        if not triggers:
            return None
        git_sources = {a.name for a in self._kept() if a.provider in GIT_SOURCES}
        out = Items()
        for trigger in triggers:
            git = _dict(_dict(trigger).get("gitConfiguration"))
            if not git:
                continue
            source = git.get("sourceActionName") if isinstance(git.get("sourceActionName"), str) else None
            if source not in git_sources:
                self.notes.append(f"trigger for '{source}': it names no imported Git source; left out")
                continue
            for flt in _list(git.get("push")):
                if not isinstance(flt, dict):
                    continue
                if flt.get("tags"):
                    if flt.get("branches") or flt.get("filePaths"):
                        self.notes.append(f"trigger for {source}: branches and file paths next to tags are "
                                          "left out (a tag trigger filters on tags only)")
                    out.items.append(Block().add("source", source).add("tags", _criteria(flt.get("tags"))))
                    continue
                out.items.append(Block().add("source", source).add("branches", _criteria(flt.get("branches")))
                                 .add("paths", _criteria(flt.get("filePaths"))))
            for flt in _list(git.get("pullRequest")):
                if not isinstance(flt, dict):
                    continue
                events = [e.lower() for e in _list(flt.get("events")) if isinstance(e, str)]
                pr = (Block().add("events", events or ["open", "updated", "closed"])
                      .add("branches", _criteria(flt.get("branches"))).add("paths", _criteria(flt.get("filePaths"))))
                out.items.append(Block().add("source", source).add("pullRequest", pr))
        return out or None

    def _kept(self) -> list[_Action]:
        return [a for _, _, actions in self.stages for a in actions if a.kept]

    def _stages(self) -> Items:
        out = Items(spaced=True)
        kept_stages = 0
        for name, stage, actions in self.stages:
            for key in ("onFailure", "onSuccess", "beforeEntry", "blockers"):
                if stage.get(key):
                    self.notes.append(f"stage {name}: {key} is not imported; stage conditions, retries and "
                                      f"rollbacks have no local equivalent yet")
            kept = [a for a in actions if a.kept]
            if not kept:
                self.notes.append(f"stage {name}: none of its actions has a local equivalent, so the stage is "
                                  f"left out")
                for a in actions:
                    self.notes.append(f"{a.where}: {a.reason}")
                out.items.append(f"stage {name} left out: no local equivalent for "
                                 f"{', '.join(f'{a.name} ({a.provider})' for a in actions) or 'its actions'}")
                continue
            kept_stages += 1
            if kept_stages == 1 and not any(a.provider in GIT_SOURCES for a in kept):
                self.notes.append(f"stage {name} is now the first stage but holds no Git source; conveyor.yml's "
                                  f"first stage holds only Git sources")
            block_items = Items()
            for a in actions:
                if a.kept:
                    block_items.items.append(self._action(a))
                else:
                    self.notes.append(f"{a.where}: {a.reason}")
                    block_items.items.append(f"{a.name} ({a.owner} {a.provider}) left out: {a.reason}")
            out.items.append(Block().add("name", name).add("actions", block_items))
        if kept_stages < 2:
            self.notes.append(f"the imported pipeline has {kept_stages} stage{'s' if kept_stages != 1 else ''}; "
                              f"conveyor.yml needs at least 2, so add stages before running it")
        return out

    # -- one action
    def _action(self, a: _Action) -> Block:
        block = Block().add("name", a.name)
        block.add("provider", "Git" if a.provider in GIT_SOURCES else self._commands_provider(a)
                  if a.provider == "Commands" else a.provider)
        if a.provider == "CodeBuild" and a.category == "Test":
            block.add("category", "Test")
        run_order = a.raw.get("runOrder")
        block.add("runOrder", run_order if isinstance(run_order, int) and not isinstance(run_order, bool) else None)
        settings = {"CodeBuild": self._codebuild, "Manual": self._manual, "ECS": self._ecs,
                    "CodeDeployToECS": self._codedeploy_to_ecs, "Commands": self._commands}.get(a.provider, self._git)
        settings(a, block)
        for key in ("inputArtifacts", "outputArtifacts"):
            names = a.artifacts(key)
            if names:
                block.add(key, names)
        block.add("namespace", a.raw.get("namespace") if isinstance(a.raw.get("namespace"), str) else None)
        timeout = a.raw.get("timeoutInMinutes")
        if type(timeout) is int and "timeoutInMinutes" not in [e[0] for e in block.entries]:
            block.add("timeoutInMinutes", timeout)
        self._check_inputs(a)
        self._check_counts(a, PROVIDERS[str(block.entries[1][1])])
        self._check_references(a, block)
        return block

    def _git(self, a: _Action, block: Block) -> None:
        if a.provider == "GitHub":
            owner, repo = a.config("Owner") or "OWNER", (a.config("Repo") or "REPO").removesuffix(".git")
            clean = all(re.fullmatch(r"[\w.-]+", part) and not placeholder_in(part) for part in (owner, repo))
            if clean:
                block.add("repository", f"https://github.com/{owner}/{repo}.git",
                          "from Owner/Repo; cloned with your own git credentials")
            else:
                self._placeholder_repo(a, block, f"{owner}/{repo}", "Owner/Repo")
        elif a.provider == "CodeCommit":
            self._placeholder_repo(a, block, a.config("RepositoryName") or "REPOSITORY", "RepositoryName")
        else:
            self._placeholder_repo(a, block, a.config("FullRepositoryId") or "OWNER/REPO", "FullRepositoryId")
        block.add("branch", a.config("BranchName") or a.config("Branch"))
        if a.config("DetectChanges") == "false":
            block.add("detectChanges", False)

    def _placeholder_repo(self, a: _Action, block: Block, value: str, source_key: str) -> None:
        block.add("repository", value, f"NOTE: placeholder from {source_key}; point it at your git remote")
        self.notes.append(f"{a.where}: repository '{value}' is a placeholder taken from {source_key}; point it at "
                          f"your git remote (a URL or a local path)")

    def _codebuild(self, a: _Action, block: Block) -> None:
        block.add("projectName", a.config("ProjectName"), "buildspec: buildspec.yml in the primary source")
        block.add("primarySource", a.config("PrimarySource"))
        env: dict[str, str] = {}
        raw_env = a.config("EnvironmentVariables")
        if raw_env is not None and not parse_codebuild_env(raw_env):
            self.notes.append(f"{a.where}: EnvironmentVariables is not a JSON list of {{name, value, type}}; left out")
        for var in parse_codebuild_env(raw_env or "[]"):
            kind = var.get("type", "PLAINTEXT")
            if kind == "PLAINTEXT":
                env[var["name"]] = str(var.get("value", ""))
            else:
                self.notes.append(f"{a.where}: environment variable {var['name']} comes from {kind} "
                                  f"('{var.get('value')}'), which has no local equivalent; store the value with "
                                  f"`conveyor secret`")
        if env:
            block.add("environmentVariables", env)
        for key in ("BatchEnabled", "CombineArtifacts"):
            if a.config(key) == "true":
                self.notes.append(f"{a.where}: {key} (batch builds) has no local equivalent; left out")

    def _manual(self, a: _Action, block: Block) -> None:
        block.add("customData", a.config("CustomData"))
        block.add("externalEntityLink", a.config("ExternalEntityLink"))
        if a.config("NotificationArn"):
            self.notes.append(f"{a.where}: NotificationArn (SNS) is not imported; notifications come in a later "
                              f"release")

    def _ecs(self, a: _Action, block: Block) -> None:
        cluster, service = a.config("ClusterName") or "ENVIRONMENT", a.config("ServiceName") or "SERVICE"
        env = self._aws_name(a, cluster, "ClusterName", "cluster")
        block.add("environment", env, "from ClusterName")
        block.add("service", service, "from ServiceName")
        block.add("file", a.config("FileName"))
        timeout = a.config("DeploymentTimeout")
        if timeout and timeout.isdigit():
            block.add("deploymentTimeout", int(timeout))
        self._environment(env, service)

    def _codedeploy_to_ecs(self, a: _Action, block: Block) -> None:
        application = a.config("ApplicationName") or "ENVIRONMENT"
        service = a.config("DeploymentGroupName") or "SERVICE"
        env = self._aws_name(a, application, "ApplicationName", "codeDeployApplication")
        block.add("environment", env, "from ApplicationName")
        block.add("service", service, "from DeploymentGroupName")
        if env == application:
            block.add("applicationName", application)
        for key in ("TaskDefinitionTemplateArtifact", "TaskDefinitionTemplatePath", "AppSpecTemplateArtifact",
                    "AppSpecTemplatePath") + tuple(f"Image{n}{k}" for n in range(1, 5)
                                                   for k in ("ArtifactName", "ContainerName")):
            block.add(key[0].lower() + key[1:], a.config(key))
        self._environment(env, service)

    def _aws_name(self, a: _Action, name: str, source_key: str, env_key: str) -> str:
        """The environment whose AWS resource `name` is: E for conveyor-E, else `name` itself (noted)."""
        env = name.removeprefix(AWS_NAME_PREFIX)
        if env and env != name:
            return env
        self.notes.append(f"{a.where}: {source_key} '{name}' is not named {AWS_NAME_PREFIX}<environment>, so it "
                          f"names the environment; on AWS (target: aws) give that environment {env_key}: {name}")
        return name

    def _commands_provider(self, a: _Action) -> str:
        lines, outputs, env = self._commands_parts(a)
        return "Wait" if sleep_seconds(lines) is not None and not outputs and not env else "Command"

    def _commands_parts(self, a: _Action) -> tuple[list[str], list[dict], list[dict]]:
        lines = [c for c in _list(a.raw.get("commands")) if isinstance(c, str)]
        outputs = [o for o in _list(a.raw.get("outputArtifacts")) if isinstance(o, dict)]
        env = [v for v in _list(a.raw.get("environmentVariables")) if isinstance(v, dict)
               and isinstance(v.get("name"), str)]
        return lines, outputs, env

    def _commands(self, a: _Action, block: Block) -> None:
        lines, outputs, env = self._commands_parts(a)
        if self._commands_provider(a) == "Wait":
            block.add("seconds", sleep_seconds(lines))
            return
        self.host_commands = True
        if not lines:
            lines = ["true"]
            self.notes.append(f"{a.where}: the Commands action has no commands; the Command runs `true`")
        names = [v for v in _list(a.raw.get("outputVariables")) if isinstance(v, str)]
        files = [f for f in _list(outputs[0].get("files")) if isinstance(f, str)] if outputs else None
        settings = command_settings(lines, names, (files or None) if outputs else None)
        for key in ("command", "script", "workingDirectory"):
            block.add(key, settings.get(key))
        variables: dict[str, str] = {}
        for var in env:
            if var.get("type", "PLAINTEXT") == "PLAINTEXT":
                variables[var["name"]] = str(var.get("value", ""))
            else:
                self.notes.append(f"{a.where}: environment variable {var['name']} comes from {var.get('type')} "
                                  f"('{var.get('value')}'), which has no local equivalent; store the value with "
                                  f"`conveyor secret`")
        block.add("env", variables or None)
        block.add("outputFiles", settings.get("outputFiles"))
        block.add("outputVariables", settings.get("outputVariables"))

    def _environment(self, env: str, service: str) -> None:
        services = self.environments.setdefault(env, [])
        if service not in services:
            services.append(service)

    # -- what a kept action relies on
    def _check_inputs(self, a: _Action) -> None:
        for name in a.artifacts("inputArtifacts"):
            producer = self.producers.get(name)
            if producer is not None and not producer.kept:
                self.notes.append(f"{a.where}: input artifact '{name}' comes from {producer.where}, which is left "
                                  f"out; produce it another way or remove it")

    def _check_counts(self, a: _Action, provider: Provider) -> None:
        for key, (lo, hi), noun in (("inputArtifacts", provider.inputs, "input artifact"),
                                    ("outputArtifacts", provider.outputs, "output artifact")):
            got = len(a.artifacts(key))
            if not lo <= got <= hi:
                self.notes.append(f"{a.where}: {provider.name} takes {count_phrase((lo, hi), noun)} in "
                                  f"conveyor.yml, this action has {got}")

    def _check_references(self, a: _Action, block: Block) -> None:
        for value in _strings(block):
            for m in VARIABLE_REF.finditer(value):
                ns, var = m.group(1), m.group(2)
                producer = self.namespaces.get(ns)
                if producer is None:
                    continue
                if not producer.kept:
                    self.notes.append(f"{a.where}: {m.group(0)} refers to {producer.where}, which is left out")
                elif producer.provider in GIT_SOURCES and var not in GIT_OUTPUT_VARIABLES:
                    self.notes.append(f"{a.where}: {m.group(0)} is not set by a Git source (it sets "
                                      f"{', '.join(GIT_OUTPUT_VARIABLES)})")


def _criteria(criteria: Any) -> list | dict | None:
    """CodePipeline {includes, excludes} -> conveyor.yml criteria: a list when only includes."""
    if not isinstance(criteria, dict):
        return None
    includes = [p for p in _list(criteria.get("includes")) if isinstance(p, str)]
    excludes = [p for p in _list(criteria.get("excludes")) if isinstance(p, str)]
    if not excludes:
        return list(includes) if includes else None
    out: dict[str, list] = {}
    if includes:
        out["includes"] = list(includes)
    out["excludes"] = list(excludes)
    return out


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Block):
        return [s for _, v, _ in value.entries for s in _strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []
