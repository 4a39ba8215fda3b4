"""conveyor.yml's pipeline as a CloudFormation template: AWS::CodePipeline::Pipeline (V2) and what
it needs, so the AWS-native version of the same pipeline can be reviewed as a diff.

    notes = Notes()
    template = pipeline_template(load_pipeline("conveyor.yml"), notes=notes, root=Path("."))
    Path("aws/pipeline.yaml").write_text(template.render())
    for note in notes.items: print(note)           # what is carried over approximately, or not at all

What the template holds:
    Pipeline         PipelineType V2, ExecutionMode, Variables, Triggers (push filters on branches
                     and file paths), RestartExecutionOnUpdate false (a change to conveyor.yml
                     reaches the pipeline through its source, which starts an execution anyway)
    ArtifactBucket   versioned, encrypted (SSE-S3), public access blocked, TLS only
    PipelineRole     the bucket, the CodeBuild projects, the CodeStar connection, ECS/CodeDeploy
                     on the services deployed, iam:PassRole to ECS tasks, SNS publish to the
                     approval topic, the Commands actions' log group
    ApprovalTopic    where Manual approvals (and notification rules without a target) publish
    the actions      pipeline_actions.py (Git, CodeBuild, Command, Manual, Wait, Image) and
                     pipeline_deploy.py (ECS, CodeDeployToECS); projects: codebuild.py
    notifications    pipeline_notifications.py
Parameters: ConnectionArn (the CodeStar connection) and FullRepositoryId per Git source (a
default when conveyor.yml's repository names a remote).

`pipeline_json` (pipeline_json.py) turns the Pipeline resource back into the JSON get-pipeline
returns, which `conveyor import codepipeline` reads.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from conveyor.config.model import PipelineDef, TriggerDef
from conveyor.export.codebuild import local_image
from conveyor.export.notes import Notes
from conveyor.export.pipeline_actions import action_declaration
from conveyor.export.pipeline_context import (
    APPROVAL_TOPIC,
    ARTIFACT_BUCKET,
    CONNECTION,
    PIPELINE,
    PIPELINE_ROLE,
    ExportContext,
)
from conveyor.export.pipeline_iam import POLICY_VERSION, arn, role
from conveyor.export.pipeline_notifications import notification_rules
from conveyor.export.template import GetAtt, Ref, Sub, Template

PIPELINE_TYPE = "V2"
MAX_PUSH_FILTERS = 3  # aws-semantics §2.8: 1-3 push filters per trigger
CONNECTION_ARN = r"arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/.+"
ALL_BRANCHES = "**"


def pipeline_template(definition: PipelineDef, *, notes: Notes, environments_in_aws: Collection[str] | None = None,
                      root: Path | None = None) -> Template:
    """The pipeline's template. `environments_in_aws`: the environments its deploy actions reach
    on AWS (None: all of them, named as docs/aws.md says); `root`: conveyor.yml's directory, where
    buildspecs and task definitions are read (privileged mode, IAM)."""
    template = Template(f"{definition.name}: the pipeline of conveyor.yml as CodePipeline (V2) and what it needs")
    ctx = ExportContext(definition, template, notes, environments_in_aws, root)
    if definition.sources():
        template.parameter(CONNECTION, "String", "ARN of the CodeStar connection (CodeConnections) to the Git host")
        template.parameters[CONNECTION]["AllowedPattern"] = CONNECTION_ARN
    bucket = GetAtt(ARTIFACT_BUCKET, "Arn")
    ctx.policy.allow(["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"], Sub(f"${{{ARTIFACT_BUCKET}.Arn}}/*"))
    ctx.policy.allow(["s3:GetBucketLocation", "s3:GetBucketVersioning"], bucket)
    stages = [{"Name": stage.name,
               "Actions": [action_declaration(ctx, si, ai, a) for ai, a in enumerate(stage.actions)]}
              for si, stage in enumerate(definition.stages)]
    _artifact_bucket(template)
    _approval_topic(ctx, notification_rules(ctx))
    if ctx.uses_commands:
        group = f"log-group:/aws/codepipeline/{definition.name}"
        actions = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:GetLogEvents", "logs:PutLogEvents"]
        ctx.policy.allow(actions, arn("logs", group))
        ctx.policy.allow(actions, arn("logs", f"{group}:*"))
    template.resource(PIPELINE_ROLE, "AWS::IAM::Role", role("codepipeline.amazonaws.com", "pipeline", ctx.policy),
                      source="pipeline")
    props: dict[str, Any] = {
        "Name": definition.name,
        "PipelineType": PIPELINE_TYPE,
        "ExecutionMode": definition.execution_mode,
        "RoleArn": GetAtt(PIPELINE_ROLE, "Arn"),
        "ArtifactStore": {"Type": "S3", "Location": Ref(ARTIFACT_BUCKET)},
        "RestartExecutionOnUpdate": False,
    }
    variables = [_variable(v.name, v.default, v.description) for v in definition.variables]
    for i, v in enumerate(definition.variables):
        if v.default is not None and local_image(v.default):
            notes.add(f"pipeline.variables[{i}].defaultValue", f"an image only this machine can pull ({v.default})",
                      "kept as the variable's default: override it when starting the pipeline on AWS")
    if variables:
        props["Variables"] = variables
    triggers = _triggers(ctx)
    if triggers:
        props["Triggers"] = triggers
    props["Stages"] = stages
    template.resource(PIPELINE, "AWS::CodePipeline::Pipeline", props, source="pipeline")
    template.output("PipelineName", Ref(PIPELINE), "the CodePipeline pipeline")
    template.output("PipelineConsoleUrl", Sub("https://${AWS::Region}.console.aws.amazon.com/codesuite/codepipeline/"
                                              f"pipelines/${{{PIPELINE}}}/view"))
    template.output("ArtifactBucketName", Ref(ARTIFACT_BUCKET), "where the pipeline keeps its artifacts")
    template.output("ApprovalTopicArn", Ref(APPROVAL_TOPIC), "subscribe reviewers here: approvals publish to it")
    return template


def _variable(name: str, default: str | None, description: str) -> dict[str, Any]:
    out: dict[str, Any] = {"Name": name}
    if default is not None:
        out["DefaultValue"] = default
    if description:
        out["Description"] = description
    return out


def _triggers(ctx: ExportContext) -> list[dict[str, Any]]:
    """One trigger per Git source: a push filter per branch or tag trigger of conveyor.yml, a
    pull-request filter per pullRequest trigger (§2.8: OR between filters; branches AND file
    paths inside a push filter, tags alone; events AND target branches AND paths inside a
    pull-request one), at most 3 of each kind."""
    by_source: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for i, trigger in enumerate(ctx.definition.triggers):
        kind, flt = _filter(trigger)
        filters = by_source.setdefault(trigger.source, {}).setdefault(kind, [])
        if len(filters) == MAX_PUSH_FILTERS:
            ctx.notes.add(f"pipeline.triggers[{i}]", f"a trigger beyond the {MAX_PUSH_FILTERS} {kind} filters "
                          f"CodePipeline takes for source {trigger.source}", "left out")
            continue
        filters.append(flt)
    return [{"ProviderType": "CodeStarSourceConnection",
             "GitConfiguration": {"SourceActionName": source, **kinds}}
            for source, kinds in by_source.items()]


def _filter(trigger: TriggerDef) -> tuple[str, dict[str, Any]]:
    """("Push" | "PullRequest", the CodePipeline filter) of one conveyor.yml trigger."""
    if trigger.pull_request is not None:
        pr = trigger.pull_request
        out: dict[str, Any] = {"Events": list(pr.events)}
        includes, excludes = pr.branches or ((), ())
        out["Branches"] = _criteria((includes or (ALL_BRANCHES,), excludes))
        if pr.paths is not None:
            out["FilePaths"] = _criteria(pr.paths)
        return "PullRequest", out
    if trigger.tags is not None:
        return "Push", {"Tags": _criteria(trigger.tags)}
    includes, excludes = trigger.branches or ((), ())
    push: dict[str, Any] = {"Branches": _criteria((includes or (ALL_BRANCHES,), excludes))}
    if trigger.paths is not None:
        push["FilePaths"] = _criteria(trigger.paths)
    return "Push", push


def _criteria(criteria: tuple[tuple[str, ...], tuple[str, ...]]) -> dict[str, list[str]]:
    includes, excludes = criteria
    out = {}
    if includes:
        out["Includes"] = list(includes)
    if excludes:
        out["Excludes"] = list(excludes)
    return out


def _artifact_bucket(template: Template) -> None:
    template.resource(ARTIFACT_BUCKET, "AWS::S3::Bucket", {
        "VersioningConfiguration": {"Status": "Enabled"},
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
    }, source="pipeline")
    template.resource(f"{ARTIFACT_BUCKET}Policy", "AWS::S3::BucketPolicy", {
        "Bucket": Ref(ARTIFACT_BUCKET),
        "PolicyDocument": {"Version": POLICY_VERSION, "Statement": [{
            "Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [GetAtt(ARTIFACT_BUCKET, "Arn"), Sub(f"${{{ARTIFACT_BUCKET}.Arn}}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]},
    }, source="pipeline")


def _approval_topic(ctx: ExportContext, notified: bool) -> None:
    manual = next((ctx.key(si, ai) for si, stage in enumerate(ctx.definition.stages)
                   for ai, a in enumerate(stage.actions) if a.provider == "Manual"), "pipeline")
    ctx.template.resource(APPROVAL_TOPIC, "AWS::SNS::Topic", {
        "DisplayName": f"{ctx.definition.name} approvals"[:100]}, source=manual)
    if ctx.uses_approval:
        ctx.policy.allow(["sns:Publish"], Ref(APPROVAL_TOPIC))
    if notified:
        ctx.template.resource(f"{APPROVAL_TOPIC}Policy", "AWS::SNS::TopicPolicy", {
            "Topics": [Ref(APPROVAL_TOPIC)],
            "PolicyDocument": {"Version": POLICY_VERSION, "Statement": [{
                "Sid": "CodeStarNotifications", "Effect": "Allow",
                "Principal": {"Service": "codestar-notifications.amazonaws.com"},
                "Action": "sns:Publish", "Resource": Ref(APPROVAL_TOPIC)}]},
        }, source="notifications")
