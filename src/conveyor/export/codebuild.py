"""The CodeBuild projects of the pipeline template: one AWS::CodeBuild::Project per build (source
and artifacts CODEPIPELINE, the buildspec path in the primary input or a buildspec written here),
its service role with what that buildspec needs and nothing more, and the pipeline role's right to
start it.

    needs = read_needs(Path("examples/orders-service/buildspec.yml"))
    needs.docker, needs.pushes        # (True, True): privileged mode (the action's privilegedMode), ECR push rights
    ref = add_project(ctx, ProjectSpec("orders-service", "pipeline.stages[1].actions[0]",
                                       "buildspec.yml", STANDARD_IMAGE, needs))

What a role is given, from the buildspec: logs of its own log group; the artifact bucket's
objects; its report groups (`<project>-*`) when the buildspec has reports; ECR push to the
repositories conveyor.yml declares when it pushes images; the Parameter Store parameters and
Secrets Manager secrets its `env` and the action's typed variables name; pulling its own image
when that image is in a private ECR repository.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from conveyor.config.buildspec import load_buildspec
from conveyor.config.buildspec_model import SecretRef
from conveyor.errors import ConfigError
from conveyor.export.pipeline_context import ARTIFACT_BUCKET, ExportContext
from conveyor.export.pipeline_iam import Policy, arn, role
from conveyor.export.template import GetAtt, Intrinsic, Ref, Sub

STANDARD_IMAGE = "aws/codebuild/standard:7.0"  # the image a project gets unless conveyor.yml names one
COMPUTE_TYPE = "BUILD_GENERAL1_SMALL"
ENVIRONMENT_TYPE = "LINUX_CONTAINER"
TIMEOUT_RANGE = (5, 2160)  # aws-semantics §1.7: timeoutInMinutes 5-2160
DESCRIPTION_LIMIT = 255
ECR_PUSH = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload",
            "ecr:GetDownloadUrlForLayer", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart")
ECR_PULL = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
REPORTS = ("codebuild:BatchPutCodeCoverages", "codebuild:BatchPutTestCases", "codebuild:CreateReport",
           "codebuild:CreateReportGroup", "codebuild:UpdateReport")
DOCKER = re.compile(r"(?<![\w-])(docker|podman|buildah)(?![\w-])")
_PUSH = re.compile(r"(?<![\w-])(docker|podman|buildah)\s+push\b|\becr\s+get-login")
_ECR_IMAGE = re.compile(r"\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/([^:@]+)")
_LOCAL_HOST = re.compile(r"(localhost|127\.0\.0\.1|[^/]*\.localhost)(:\d+)?$")


@dataclass
class BuildNeeds:
    """What a build does, as far as its buildspec tells."""

    known: bool = False  # False: the buildspec could not be read at export time
    docker: bool = False
    pushes: bool = False
    reports: list[str] = field(default_factory=list)  # report group names or ARNs
    parameters: set[str] = field(default_factory=set)
    secrets: set[str] = field(default_factory=set)


@dataclass
class ProjectSpec:
    name: str
    source: str  # the conveyor.yml key
    buildspec: str  # a path in the primary input, or the buildspec itself (several lines)
    image: str
    needs: BuildNeeds
    timeout: int | None = None
    repositories: list[str] | None = None  # ECR repositories it pushes to; None: those conveyor.yml declares
    description: str = ""


def read_needs(path: Path | None) -> BuildNeeds:
    if path is None:
        return BuildNeeds()
    try:
        spec = load_buildspec(path)
    except (ConfigError, OSError):
        return BuildNeeds()
    lines = [c for phase in spec.phases.values() for c in (*phase.commands, *phase.finally_)]
    return BuildNeeds(known=True, docker=any(DOCKER.search(c) for c in lines),
                      pushes=any(_PUSH.search(c) for c in lines), reports=list(spec.reports),
                      parameters=set(spec.env.parameter_store.values()),
                      secrets=set(spec.env.secrets_manager.values()))


def local_image(image: str) -> bool:
    """An image only this machine can pull (Conveyor's local registry, localhost/...)."""
    head, slash, _ = image.partition("/")
    return bool(slash) and _LOCAL_HOST.fullmatch(head) is not None


def add_project(ctx: ExportContext, spec: ProjectSpec) -> Intrinsic:
    """The project (created once per name) and its role; the pipeline may start it."""
    if spec.name in ctx.projects:
        logical, first = ctx.projects[spec.name]
        if (first.buildspec, first.image) != (spec.buildspec, spec.image):
            ctx.notes.add(spec.source, f"CodeBuild project '{spec.name}' is also used by {first.source} with another "
                                       "buildspec or image", f"one project, set up as {first.source} says")
        return Ref(logical)
    logical = ctx.logical_id(spec.name, "Project")
    ctx.projects[spec.name] = (logical, spec)
    role_id = f"{logical}Role"
    policy = _policy(ctx, spec)
    ctx.template.resource(role_id, "AWS::IAM::Role", role("codebuild.amazonaws.com", "codebuild", policy),
                          source=spec.source)
    environment: dict[str, object] = {"Type": ENVIRONMENT_TYPE, "ComputeType": COMPUTE_TYPE, "Image": spec.image,
                                      "PrivilegedMode": spec.needs.docker}
    if _ECR_IMAGE.match(spec.image):
        environment["ImagePullCredentialsType"] = "SERVICE_ROLE"
    props: dict[str, object] = {
        "Name": spec.name,
        "Description": (spec.description or f"conveyor.yml {spec.source}")[:DESCRIPTION_LIMIT],
        "ServiceRole": GetAtt(role_id, "Arn"),
        "Source": {"Type": "CODEPIPELINE", "BuildSpec": spec.buildspec},
        "Artifacts": {"Type": "CODEPIPELINE"},
        "Environment": environment,
    }
    if spec.timeout is not None:
        lo, hi = TIMEOUT_RANGE
        props["TimeoutInMinutes"] = min(max(spec.timeout, lo), hi)
    ctx.template.resource(logical, "AWS::CodeBuild::Project", props, source=spec.source)
    ctx.policy.allow(["codebuild:BatchGetBuilds", "codebuild:StartBuild"], GetAtt(logical, "Arn"))
    return Ref(logical)


def declared_repositories(ctx: ExportContext) -> list[str]:
    """The ECR repositories conveyor.yml's `repositories:` names (a mapping or a list of names)."""
    repos = ctx.definition.raw.get("repositories")
    if isinstance(repos, dict):
        return [str(k) for k in repos]
    if isinstance(repos, list):
        return [str(r.get("name")) if isinstance(r, dict) else str(r) for r in repos
                if isinstance(r, str) or (isinstance(r, dict) and r.get("name"))]
    return []


def _policy(ctx: ExportContext, spec: ProjectSpec) -> Policy:
    policy = Policy()
    group = f"log-group:/aws/codebuild/{spec.name}"
    policy.allow(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], arn("logs", group))
    policy.allow(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], arn("logs", f"{group}:*"))
    policy.allow(["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"], Sub(f"${{{ARTIFACT_BUCKET}.Arn}}/*"))
    needs = spec.needs
    if needs.reports or not needs.known:
        policy.allow(REPORTS, arn("codebuild", f"report-group/{spec.name}-*"))
        for group_arn in (r for r in needs.reports if r.startswith("arn:")):
            policy.allow(REPORTS, group_arn)
    image_repo = _ECR_IMAGE.match(spec.image)
    if needs.pushes or image_repo:
        policy.allow(["ecr:GetAuthorizationToken"], "*")
    if image_repo:
        policy.allow(ECR_PULL, arn("ecr", f"repository/{image_repo.group(1)}"))
    if needs.pushes:
        repos = spec.repositories if spec.repositories is not None else declared_repositories(ctx)
        if not repos:
            ctx.notes.add(spec.source, "the build pushes images but conveyor.yml declares no `repositories:`",
                          "ECR push allowed on every repository of the account (repository/*)")
        for repo in repos or ["*"]:
            policy.allow(ECR_PUSH, arn("ecr", f"repository/{repo}"))
    for name in sorted(needs.parameters):
        policy.allow(["ssm:GetParameters"], name if name.startswith("arn:") else
                     arn("ssm", f"parameter/{name.lstrip('/')}"))
    for ref in sorted(needs.secrets):
        policy.allow(["secretsmanager:GetSecretValue"], _secret_arn(ref))
    return policy


def _secret_arn(reference: str) -> object:
    try:
        secret = SecretRef.parse(reference).secret_id
    except ValueError:
        secret = reference
    if secret.startswith("arn:"):
        return secret
    return arn("secretsmanager", f"secret:{secret}-??????")  # Secrets Manager appends 6 random characters
