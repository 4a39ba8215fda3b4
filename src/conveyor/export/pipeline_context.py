"""What mapping one action of conveyor.yml's pipeline needs to know about the rest: the template
being written, the notes, the pipeline role's policy, names of AWS resources (docs/aws.md: the ECS
cluster of environment E is `cluster` or conveyor-E, its CodeDeploy application
`codeDeployApplication` or conveyor-E, a service's deployment group is the service's name), which
action produces an artifact, and where a local file named by conveyor.yml can be read.

    ctx = ExportContext(definition, template, notes, root=Path("examples/orders-service"))
    ctx.key(1, 0, "buildspec")          # 'pipeline.stages[1].actions[0].buildspec'
    ctx.cluster("staging")              # 'conveyor-staging'
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conveyor.config.model import ActionDef, PipelineDef
from conveyor.documents.located import KeyPath, format_path
from conveyor.export.notes import Notes
from conveyor.export.pipeline_iam import Policy
from conveyor.export.template import Template

# Logical ids of the template's fixed resources and parameters.
PIPELINE, PIPELINE_ROLE = "Pipeline", "PipelineRole"
ARTIFACT_BUCKET, APPROVAL_TOPIC = "ArtifactBucket", "ApprovalTopic"
CONNECTION = "ConnectionArn"
FIXED_IDS = (PIPELINE, PIPELINE_ROLE, ARTIFACT_BUCKET, f"{ARTIFACT_BUCKET}Policy", APPROVAL_TOPIC,
             f"{APPROVAL_TOPIC}Policy", CONNECTION)
DEFAULT_NAME_PREFIX = "conveyor-"  # docs/aws.md: cluster and CodeDeploy application default to conveyor-<env>
TASKDEF_DEFAULT = "taskdef.json"  # conveyor.reference.yml: a service's taskDefinition default
OWNER_REPO = r"[^/\s]+/[^\s]+"  # FullRepositoryId: owner/repository (group/subgroup/repo on GitLab)
_ROLE_ARN = re.compile(r"arn:aws[\w-]*:iam::([^:]*):role/(.+)")


@dataclass
class ExportContext:
    definition: PipelineDef
    template: Template
    notes: Notes
    environments_in_aws: Collection[str] | None = None  # None: every environment
    root: Path | None = None  # the directory of conveyor.yml, where local files are read
    policy: Policy = field(default_factory=Policy)  # the pipeline role's
    projects: dict[str, tuple[str, Any]] = field(default_factory=dict)  # CodeBuild project -> (logical id, spec)
    uses_connection: bool = False
    uses_commands: bool = False
    uses_approval: bool = False
    _ids: set[str] = field(default_factory=lambda: set(FIXED_IDS))

    # -- where things are in conveyor.yml
    def key(self, stage: int, action: int | None = None, *more: str | int) -> str:
        path: KeyPath = ("pipeline", "stages", stage) + (("actions", action) if action is not None else ()) + more
        return format_path(path)

    def logical_id(self, *parts: str) -> str:
        """A CloudFormation logical id from names (alphanumeric), unique in the template."""
        words = [w for p in parts for w in re.split(r"[^A-Za-z0-9]+", p) if w]
        base = "".join(w[:1].upper() + w[1:] for w in words) or "Resource"
        base = base if base[0].isalpha() else f"R{base}"
        out, n = base, 2
        while out in self._ids:
            out, n = f"{base}{n}", n + 1
        self._ids.add(out)
        return out

    # -- AWS names of conveyor.yml things
    def environment(self, name: str) -> dict[str, Any]:
        env = self.definition.environments.get(name)
        return env if isinstance(env, dict) else {}

    def in_aws(self, name: str) -> bool:
        return self.environments_in_aws is None or name in self.environments_in_aws

    def cluster(self, env: str) -> str:
        return str(self.environment(env).get("cluster") or DEFAULT_NAME_PREFIX + env)

    def codedeploy_application(self, env: str) -> str:
        return str(self.environment(env).get("codeDeployApplication") or DEFAULT_NAME_PREFIX + env)

    def git_namespaces(self) -> set[str]:
        return {a.namespace for a in self.definition.sources() if a.namespace}

    def note_timeout(self, stage: int, action: int, minutes: float | None, instead: str) -> None:
        if minutes is not None:
            self.notes.add(self.key(stage, action, "timeoutInMinutes"),
                           f"an action timeout of {minutes:g} min (CodePipeline honours one only on Manual "
                           "approvals)", instead)

    # -- artifacts
    def producer(self, artifact: str) -> ActionDef | None:
        for _, action in self.definition.actions():
            if artifact in action.output_artifacts:
                return action
        return None

    def first_source_artifact(self) -> str | None:
        for action in self.definition.sources():
            if action.output_artifacts:
                return action.output_artifacts[0]
        return None

    def local_tree(self, artifact: str) -> Path | None:
        """The directory holding `artifact`'s files when it is a Git source of a local repository."""
        producer = self.producer(artifact)
        if producer is None or producer.provider != "Git" or self.root is None:
            return None
        repository = str(producer.configuration.get("repository") or ".")
        if "://" in repository or repository.startswith("git@"):
            return None
        tree = (self.root / repository).resolve()
        return tree if tree.is_dir() else None

    def repository_parameter(self, stage: int, action: int, a: ActionDef) -> str:
        """The template parameter holding a Git source's owner/repository, with a default when
        conveyor.yml's repository says it (a URL, or owner/repo that is no local directory)."""
        sources = self.definition.sources()
        name = self.logical_id(*((a.name,) if len(sources) > 1 else ()), "FullRepositoryId")
        repository = str(a.configuration.get("repository") or ".")
        default = owner_repo(repository) if self._remote(repository) else None
        self.template.parameter(name, "String", f"owner/repository of the Git source '{a.name}' "
                                f"(conveyor.yml: {repository}), as the CodeStar connection names it",
                                default=default)
        self.template.parameters[name]["AllowedPattern"] = OWNER_REPO
        if default is None:
            self.notes.add(self.key(stage, action, "repository"), f"repository '{repository}', a local path",
                           f"the template parameter {name} (owner/repository of its remote), without default")
        return name

    def _remote(self, repository: str) -> bool:
        if "://" in repository or repository.startswith("git@"):
            return True
        return self.root is None or not (self.root / repository).is_dir()

    def project_name(self, stage: int, action: int, a: ActionDef) -> str:
        """A CodeBuild action's project: its projectName; else the pipeline's name (Conveyor's local
        default) when it is the only such action, else a generated name."""
        given = a.configuration.get("projectName")
        if given:
            return str(given)
        unnamed = [x for _, x in self.definition.actions()
                   if x.provider == "CodeBuild" and not x.configuration.get("projectName")]
        if len(unnamed) == 1:
            return project_safe(self.definition.name)
        return self.generated_project_name(stage, action, a)

    def generated_project_name(self, stage: int, action: int, a: ActionDef) -> str:
        return project_safe(f"{self.definition.name}-{self.definition.stages[stage].name}-{a.name}")

    # -- local files
    def task_roles(self, env: str, service: str) -> list[str] | None:
        """The role names the service's task definition passes to ECS (task and execution roles),
        or None when the file cannot be read."""
        services = self.environment(env).get("services")
        spec = services.get(service) if isinstance(services, dict) else None
        rel = spec.get("taskDefinition", TASKDEF_DEFAULT) if isinstance(spec, dict) else None
        if self.root is None or not isinstance(rel, str):
            return None
        try:
            data = json.loads((self.root / rel).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        names = []
        for key in ("taskRoleArn", "executionRoleArn"):
            match = _ROLE_ARN.fullmatch(str(data.get(key) or ""))
            if match:
                names.append(match.group(2))
        return names


def owner_repo(repository: str) -> str | None:
    """owner/repo of a Git URL (https://host/owner/repo.git, git@host:owner/repo.git) or of
    'owner/repo' itself.

    >>> owner_repo("https://github.com/acme/orders.git"), owner_repo("git@gitlab.com:acme/tools/app"), owner_repo(".")
    ('acme/orders', 'acme/tools/app', None)
    """
    path = repository
    if "://" in path:
        path = path.split("://", 1)[1].partition("/")[2]
    elif path.startswith("git@"):
        path = path.partition(":")[2]
    path = path.strip("/").removesuffix(".git")
    return path if re.fullmatch(OWNER_REPO, path) and not path.startswith(".") else None


def project_safe(name: str) -> str:
    """A CodeBuild project name: A-Z a-z 0-9 - _, starting with a letter or digit, 2-255 characters."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "-", name).lstrip("-_")[:255]
    return safe if len(safe) >= 2 else f"{safe}-project"


def declaration(action: ActionDef, category: str, provider: str, configuration: dict[str, Any] | None, *,
                inputs: list[str] | None = None, outputs: list[dict[str, Any]] | None = None,
                namespace: bool = True) -> dict[str, Any]:
    """The common part of an ActionDeclaration (CloudFormation's PascalCase)."""
    out: dict[str, Any] = {"Name": action.name, "ActionTypeId": {
        "Category": category, "Owner": "AWS", "Provider": provider, "Version": "1"}, "RunOrder": action.run_order}
    if configuration:
        out["Configuration"] = configuration
    names = list(action.input_artifacts) if inputs is None else inputs
    if names:
        out["InputArtifacts"] = [{"Name": n} for n in names]
    outs = [{"Name": n} for n in action.output_artifacts] if outputs is None else outputs
    if outs:
        out["OutputArtifacts"] = outs
    if namespace and action.namespace:
        out["Namespace"] = action.namespace
    return out
