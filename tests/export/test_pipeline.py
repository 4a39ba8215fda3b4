"""conveyor.export.pipeline: conveyor.yml's pipeline as a CloudFormation template that cfn-lint
accepts without a finding, byte for byte the golden file for the example, with a note for every
setting that has no exact AWS equivalent.

The golden file is examples/orders-service/aws/pipeline.yaml. After a deliberate change to the
export, rewrite it and review the diff:

    CONVEYOR_UPDATE_GOLDEN=1 PYTHONPATH=src python3 -m pytest tests/export/test_pipeline.py -k golden
"""

from __future__ import annotations

import json
import os

import pytest
import yaml
from pipeline_cases import CORPUS, EXAMPLE, FIXTURES, GOLDEN, export, lint

from conveyor.config.buildspec import check_buildspec_text
from conveyor.config.importer import import_codepipeline
from conveyor.config.pipeline import load_pipeline_text
from conveyor.errors import ConfigError
from conveyor.export.buildspecs import command_buildspec, image_buildspec
from conveyor.export.notes import Notes
from conveyor.export.pipeline import pipeline_template

EVERY = FIXTURES / "every-provider"
EVERY_IN_AWS = ["staging", "production"]


def resources(template, kind: str) -> dict:
    return {k: r["Properties"] for k, r in template.to_data()["Resources"].items() if r["Type"] == kind}


def actions(template) -> dict:
    (pipeline,) = resources(template, "AWS::CodePipeline::Pipeline").values()
    return {(s["Name"], a["Name"]): a for s in pipeline["Stages"] for a in s["Actions"]}


def statements(template, role: str) -> list[dict]:
    return template.to_data()["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]


def granted(template, role: str) -> dict[str, list]:
    """IAM action -> the resources a role's policy allows it on."""
    out: dict[str, list] = {}
    for st in statements(template, role):
        for action in st["Action"] if isinstance(st["Action"], list) else [st["Action"]]:
            out.setdefault(action, []).extend(st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])
    return out


def sub_arn(service: str, resource: str) -> dict:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource}"}


# --- the example --------------------------------------------------------------------------------

def test_the_example_matches_its_golden_template():
    template, _ = export(EXAMPLE)
    text = template.render()
    if os.environ.get("CONVEYOR_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text)
    assert GOLDEN.read_text() == text, "the export changed: CONVEYOR_UPDATE_GOLDEN=1 rewrites the golden file"


def test_the_example_notes_say_what_to_give_on_aws():
    _, notes = export(EXAMPLE)
    assert [str(n) for n in notes.items] == [
        ("pipeline.stages[0].actions[0].repository: repository '.', a local path → the template parameter "
         "FullRepositoryId (owner/repository of its remote), without default"),
        ("notifications[0]: a rule with local targets only (webhook, Slack, email, command) → not exported: "
         "Conveyor delivers it; add `target:` (an SNS or Chatbot ARN) for AWS"),
        ("pipeline.variables[0].defaultValue: an image only this machine can pull (localhost/conveyor/python:3-slim) "
         "→ kept as the variable's default: override it when starting the pipeline on AWS"),
    ]


def test_the_example_pipeline_is_v2_with_conveyors_settings():
    template, _ = export(EXAMPLE)
    (pipeline,) = resources(template, "AWS::CodePipeline::Pipeline").values()
    assert pipeline["PipelineType"] == "V2" and pipeline["ExecutionMode"] == "QUEUED"
    assert pipeline["RestartExecutionOnUpdate"] is False
    assert pipeline["Variables"] == [{"Name": "baseImage", "DefaultValue": "localhost/conveyor/python:3-slim",
                                      "Description": "base image for the Containerfile (any image with python3)"}]
    assert pipeline["Triggers"] == [{"ProviderType": "CodeStarSourceConnection", "GitConfiguration": {
        "SourceActionName": "Source",
        "Push": [{"Branches": {"Includes": ["main"]}, "FilePaths": {"Excludes": ["docs/**", "*.md"]}}]}}]
    build = actions(template)[("Build", "Build")]
    assert json.loads(build["Configuration"]["EnvironmentVariables"]) == [
        {"name": "BASE_IMAGE", "value": "#{variables.baseImage}", "type": "PLAINTEXT"}]
    (project,) = resources(template, "AWS::CodeBuild::Project").values()
    assert project["Environment"]["PrivilegedMode"] is True  # buildspec.yml runs docker
    assert project["Environment"]["Image"] == "aws/codebuild/standard:7.0"
    assert project["Source"] == {"Type": "CODEPIPELINE", "BuildSpec": "buildspec.yml"}
    assert actions(template)[("DeployStaging", "Deploy")]["Configuration"] == {
        "ClusterName": "conveyor-staging", "ServiceName": "orders", "FileName": "imagedefinitions.json"}
    production = actions(template)[("DeployProduction", "Deploy")]["Configuration"]
    assert (production["ApplicationName"], production["DeploymentGroupName"]) == ("conveyor-production", "orders")


def test_the_artifact_bucket_is_versioned_encrypted_private_and_tls_only():
    template, _ = export(EXAMPLE)
    bucket = resources(template, "AWS::S3::Bucket")["ArtifactBucket"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    (policy,) = resources(template, "AWS::S3::BucketPolicy").values()
    assert policy["PolicyDocument"]["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_pipeline_role_names_what_it_touches():
    """Least privilege: '*' only where AWS has no resource-level permission."""
    template, _ = export(EXAMPLE)
    wildcard = [s["Action"] for s in statements(template, "PipelineRole") if s["Resource"] == "*"]
    assert wildcard == [["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"]]
    by_action = {json.dumps(s["Action"]): s for s in statements(template, "PipelineRole")}
    assert by_action['"iam:PassRole"']["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/ecsTaskExecutionRole"}  # from taskdef.json
    assert by_action['"iam:PassRole"']["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    assert by_action['"sns:Publish"']["Resource"] == {"Ref": "ApprovalTopic"}
    assert by_action['["codebuild:BatchGetBuilds", "codebuild:StartBuild"]']["Resource"] == {
        "Fn::GetAtt": ["OrdersServiceProject", "Arn"]}
    pushes = granted(template, "OrdersServiceProjectRole")["ecr:PutImage"]
    assert pushes == [sub_arn("ecr", "repository/orders-service")]  # conveyor.yml's repositories


def test_the_output_is_deterministic():
    assert export(EXAMPLE)[0].render() == export(EXAMPLE)[0].render()
    assert export(EVERY, EVERY_IN_AWS)[0].render() == export(EVERY, EVERY_IN_AWS)[0].render()


def test_every_resource_names_its_conveyor_yml_source():
    for template in (export(EXAMPLE)[0], export(EVERY, EVERY_IN_AWS)[0]):
        assert all(r.source for r in template.resources.values())


# --- cfn-lint -----------------------------------------------------------------------------------

def _corpus_definitions():
    for path in sorted(CORPUS.glob("*.json")) if CORPUS.is_dir() else []:
        try:
            yield path.name, load_pipeline_text(import_codepipeline(path).text)
        except ConfigError:
            continue  # not an importable conveyor.yml: see test_pipeline_roundtrip.py


@pytest.mark.parametrize("root, in_aws", [(EXAMPLE, None), (FIXTURES / "exact", None), (EVERY, EVERY_IN_AWS),
                                          (EVERY, None)], ids=["example", "exact", "every-provider",
                                                               "every-provider-all-in-aws"])
def test_cfn_lint_finds_nothing(root, in_aws):
    template, _ = export(root, in_aws)
    assert lint(template) == []


def test_cfn_lint_finds_nothing_in_the_corpus_exports():
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    found = {name: lint(pipeline_template(d, notes=Notes())) for name, d in _corpus_definitions()}
    assert len(found) == 15
    assert {name: f for name, f in found.items() if f} == {}


# --- every provider -----------------------------------------------------------------------------

EVERY_NOTES = [
    ("pipeline.stages[0].actions[0].repository: repository '.', a local path → the template parameter "
     "AppFullRepositoryId (owner/repository of its remote), without default"),
    ("pipeline.stages[1].actions[1]: a Command: an argv run on this machine or in its image → a Commands action: the "
     "argv as one shell line in CodePipeline's managed CodeBuild container, where CONVEYOR_* variables other than "
     "CONVEYOR_OUTPUT_ENV are not set"),
    ("pipeline.stages[1].actions[2].image: image localhost/conveyor/python:3-slim, which only this machine can pull → "
     "the Commands action's managed image (Amazon Linux)"),
    ("pipeline.stages[1].actions[2]: a Command: an argv run on this machine or in its image → a Commands action: the "
     "argv as one shell line in CodePipeline's managed CodeBuild container, where CONVEYOR_* variables other than "
     "CONVEYOR_OUTPUT_ENV are not set"),
    "pipeline.stages[1].actions[2].category: category Test → Compute, the Commands action's category",
    ("pipeline.stages[1].actions[2].timeoutInMinutes: an action timeout of 10 min (CodePipeline honours one only on "
     "Manual approvals) → the Commands action's own 55 minutes"),
    ("pipeline.stages[1].actions[3]: a Command with its own image public.ecr.aws/docker/library/docker:27, which the "
     "Commands action cannot take → a CodeBuild project running the same shell lines"),
    ("pipeline.stages[1].actions[4]: an Image action (build with the local engine, push to the local registry) → a "
     "CodeBuild project that builds with docker and pushes to ECR repository every-provider"),
    ("pipeline.stages[2].actions[1]: a Wait of 30 seconds (CodePipeline has no wait action) → a Commands action "
     "running `sleep 30`, which also waits for its container to start"),
    ("pipeline.stages[2].actions[1].inputArtifacts: no input artifact → 'app' as input (the action type needs "
     "one)"),
    ("pipeline.stages[3].actions[0].timeoutInMinutes: an approval timeout of 1 min → 5 min (CodePipeline takes "
     "5-86400)"),
    ("pipeline.stages[3].actions[0]: #{AppSource.RepositoryName} (a Git source's RepositoryName) → "
     "#{AppSource.FullRepositoryName}, the connection source's owner/repository"),
    ("pipeline.stages[3].actions[0]: #{AppSource.AuthorName}, which a CodeStarSourceConnection source does not set "
     "→ kept as written: the action fails to resolve it on AWS; remove it"),
    ("environments.production.region: environment production in region eu-west-1 → deploy actions without Region: "
     "create this stack in eu-west-1 (a cross-region action needs an artifact store in its region)"),
    ("pipeline.stages[4].actions[1]: a deploy (ECS) of web to environment lab, which is not on AWS → a Manual "
     "approval: deploy it with Conveyor (conveyor deploy), then approve"),
    "notifications[2].events: event 'deployment-succeeded', not a pipeline event of CodeStar Notifications → left out",
    ("notifications[3]: a rule with local targets only (webhook, Slack, email, command) → not exported: Conveyor "
     "delivers it; add `target:` (an SNS or Chatbot ARN) for AWS"),
]


def test_every_provider_notes_say_what_has_no_exact_equivalent():
    _, notes = export(EVERY, EVERY_IN_AWS)
    assert [str(n) for n in notes.items] == EVERY_NOTES


def test_every_provider_maps_to_its_action_type():
    template, _ = export(EVERY, EVERY_IN_AWS)
    types = {k: (a["ActionTypeId"]["Category"], a["ActionTypeId"]["Provider"]) for k, a in actions(template).items()}
    assert types == {
        ("Source", "App"): ("Source", "CodeStarSourceConnection"),
        ("Source", "Tools"): ("Source", "CodeStarSourceConnection"),
        ("Build", "Unit"): ("Test", "CodeBuild"),
        ("Build", "Package"): ("Compute", "Commands"),
        ("Build", "Check"): ("Compute", "Commands"),
        ("Build", "Container"): ("Build", "CodeBuild"),
        ("Build", "Image"): ("Build", "CodeBuild"),
        ("Staging", "Deploy"): ("Deploy", "ECS"),
        ("Staging", "Pause"): ("Compute", "Commands"),
        ("Approval", "Approve"): ("Approval", "Manual"),
        ("Production", "BlueGreen"): ("Deploy", "CodeDeployToECS"),
        ("Production", "Lab"): ("Approval", "Manual"),  # lab is not in AWS
    }


def test_git_sources_take_the_connection_and_repository_as_parameters():
    template, _ = export(EVERY, EVERY_IN_AWS)
    params = template.to_data()["Parameters"]
    assert list(params) == ["ConnectionArn", "AppFullRepositoryId", "ToolsFullRepositoryId"]
    assert "Default" not in params["AppFullRepositoryId"]  # repository '.'
    assert params["ToolsFullRepositoryId"]["Default"] == "acme/tools"
    tools = actions(template)[("Source", "Tools")]["Configuration"]
    assert tools == {"ConnectionArn": {"Ref": "ConnectionArn"}, "FullRepositoryId": {"Ref": "ToolsFullRepositoryId"},
                     "BranchName": "trunk", "OutputArtifactFormat": "CODE_ZIP", "DetectChanges": "false"}
    (pipeline,) = resources(template, "AWS::CodePipeline::Pipeline").values()
    assert pipeline["Triggers"] == [
        {"ProviderType": "CodeStarSourceConnection", "GitConfiguration": {"SourceActionName": "App", "Push": [
            {"Branches": {"Includes": ["main", "release/**"], "Excludes": ["release/old"]},
             "FilePaths": {"Includes": ["src/**", "ci/**"]}}]}},
        {"ProviderType": "CodeStarSourceConnection", "GitConfiguration": {"SourceActionName": "Tools", "Push": [
            {"Branches": {"Includes": ["**"]}, "FilePaths": {"Excludes": ["docs/**"]}}]}}]
    assert pipeline["Variables"][1] == {"Name": "release"}


def test_codebuild_projects_get_what_their_buildspec_and_variables_need():
    template, _ = export(EVERY, EVERY_IN_AWS)
    unit = actions(template)[("Build", "Unit")]["Configuration"]
    assert unit["PrimarySource"] == "app"
    assert json.loads(unit["EnvironmentVariables"]) == [
        {"name": "COMMIT", "value": "#{AppSource.CommitId}", "type": "PLAINTEXT"},
        {"name": "TOKEN", "value": "prod/token:api", "type": "SECRETS_MANAGER"},
        {"name": "DB_URL", "value": "/every/db-url", "type": "PARAMETER_STORE"}]
    project = resources(template, "AWS::CodeBuild::Project")["EveryProviderProject"]
    assert project["Source"]["BuildSpec"] == "ci/test.yml"
    assert project["Environment"]["Image"] == "public.ecr.aws/docker/library/python:3.12"
    assert project["Environment"]["PrivilegedMode"] is False
    assert project["TimeoutInMinutes"] == 30
    rights = granted(template, "EveryProviderProjectRole")
    assert rights["ssm:GetParameters"] == [sub_arn("ssm", "parameter/every/db-url"),
                                           sub_arn("ssm", "parameter/every/region")]  # the action's, the buildspec's
    assert rights["secretsmanager:GetSecretValue"] == [sub_arn("secretsmanager", "secret:prod/signing-??????"),
                                                       sub_arn("secretsmanager", "secret:prod/token-??????")]
    assert rights["codebuild:CreateReport"] == [sub_arn("codebuild", "report-group/every-provider-*")]
    assert "ecr:PutImage" not in rights


def test_commands_actions_carry_the_command_its_variables_and_files():
    template, _ = export(EVERY, EVERY_IN_AWS)
    package = actions(template)[("Build", "Package")]
    assert package["Commands"] == [
        "cd pkg", 'export CONVEYOR_OUTPUT_ENV=/tmp/conveyor-output.env && : > "$CONVEYOR_OUTPUT_ENV"',
        "python3 -m build --outdir dist",
        'while IFS== read -r key value; do export "$key=$value"; done < "$CONVEYOR_OUTPUT_ENV"']
    assert package["OutputArtifacts"] == [{"Name": "bundle", "Files": ["pkg/dist/**"]}]
    assert package["OutputVariables"] == ["VERSION"] and package["Namespace"] == "Pkg"
    assert package["EnvironmentVariables"] == [
        {"Name": "GREETING", "Value": "#{variables.greeting}", "Type": "PLAINTEXT"},
        {"Name": "RELEASE", "Value": "#{variables.release}", "Type": "PLAINTEXT"}]
    assert actions(template)[("Staging", "Pause")]["Commands"] == ["sleep 30"]
    container = resources(template, "AWS::CodeBuild::Project")["EveryProviderBuildContainerProject"]
    assert yaml.safe_load(container["Source"]["BuildSpec"])["phases"]["build"]["commands"] == ["docker build ."]
    assert container["Environment"]["PrivilegedMode"] is True
    assert granted(template, "PipelineRole")["logs:PutLogEvents"] == [
        sub_arn("logs", "log-group:/aws/codepipeline/every-provider"),
        sub_arn("logs", "log-group:/aws/codepipeline/every-provider:*")]


def test_the_image_action_builds_pushes_and_hands_on_the_image_files():
    template, _ = export(EVERY, EVERY_IN_AWS)
    action = actions(template)[("Build", "Image")]
    assert json.loads(action["Configuration"]["EnvironmentVariables"]) == [
        {"name": "VERSION", "value": "#{Pkg.VERSION}", "type": "PLAINTEXT"}]
    spec = yaml.safe_load(resources(template, "AWS::CodeBuild::Project")["EveryProviderBuildImageProject"]
                          ["Source"]["BuildSpec"])
    assert spec["env"]["exported-variables"] == ["ImageURI", "ImageDigest", "ImageTag", "RepositoryName", "RegistryId"]
    assert spec["artifacts"]["files"] == ["imagedefinitions.json", "imageDetail.json"]
    assert ('docker build -f "$DOCKERFILE" --build-arg VERSION --target runtime -t "$ImageURI" '
            '-t "$REGISTRY/$RepositoryName":stable .') in spec["phases"]["build"]["commands"]
    assert granted(template, "EveryProviderBuildImageProjectRole")["ecr:PutImage"] == [
        sub_arn("ecr", "repository/every-provider")]


def test_deploys_use_the_environments_aws_names_and_pass_only_the_task_roles():
    template, _ = export(EVERY, EVERY_IN_AWS)
    assert actions(template)[("Staging", "Deploy")]["Configuration"] == {
        "ClusterName": "conveyor-staging", "ServiceName": "web", "FileName": "imagedefinitions.json",
        "DeploymentTimeout": "20"}
    assert actions(template)[("Production", "BlueGreen")]["Configuration"] == {
        "ApplicationName": "web-prod", "DeploymentGroupName": "web", "TaskDefinitionTemplateArtifact": "app",
        "TaskDefinitionTemplatePath": "taskdef.json", "AppSpecTemplateArtifact": "app",
        "AppSpecTemplatePath": "appspec.yaml", "Image1ArtifactName": "image", "Image1ContainerName": "IMAGE1_NAME"}
    lab = actions(template)[("Production", "Lab")]
    assert lab["Configuration"]["CustomData"] == "Deploy web to lab with Conveyor (not on AWS), then approve."
    assert "InputArtifacts" not in lab
    passed = [s["Resource"] for s in statements(template, "PipelineRole") if s["Action"] == "iam:PassRole"]
    assert passed == [[{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/web-task"},
                       {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/ecsTaskExecutionRole"}]]


def test_all_environments_are_on_aws_by_default():
    template, notes = export(EVERY)
    assert actions(template)[("Production", "Lab")]["Configuration"]["ClusterName"] == "conveyor-lab"
    assert not any("not on AWS" in str(n) for n in notes.items)


def test_notification_entries_that_read_as_rules_become_rules():
    template, _ = export(EVERY, EVERY_IN_AWS)
    rules = resources(template, "AWS::CodeStarNotifications::NotificationRule")
    assert rules == {
        "NotificationFailuresRule": {
            "Name": "every-provider-failures", "DetailType": "FULL",
            "EventTypeIds": ["codepipeline-pipeline-pipeline-execution-failed",
                             "codepipeline-pipeline-manual-approval-needed"],
            "Resource": {"Fn::Sub": "arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:${Pipeline}"},
            "Status": "ENABLED", "Targets": [{"TargetType": "SNS", "TargetAddress": {"Ref": "ApprovalTopic"}}]},
        "Notification2Rule": {
            "Name": "every-provider-2", "DetailType": "BASIC",
            "EventTypeIds": ["codepipeline-pipeline-stage-execution-failed"],
            "Resource": {"Fn::Sub": "arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:${Pipeline}"},
            "Status": "ENABLED",
            "Targets": [{"TargetType": "SNS", "TargetAddress": "arn:aws:sns:eu-west-1:123456789012:team"}]}}
    (topic_policy,) = resources(template, "AWS::SNS::TopicPolicy").values()
    assert topic_policy["PolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "codestar-notifications.amazonaws.com"}


NAMED_NOTIFICATIONS = """\
name: notified
pipeline:
  stages:
    - name: Source
      actions: [{name: Source, provider: Git, outputArtifacts: [src]}]
    - name: Hold
      actions: [{name: Hold, provider: Wait, seconds: 0}]
notifications:
  ops:
    events: [codepipeline-pipeline-pipeline-execution-succeeded]
    target: arn:aws:chatbot::123456789012:chat-configuration/slack-channel/ops
    detailType: basic
  audit: {events: [action-execution-failed], environments: [], target: arn:aws:sns:eu-west-1:123456789012:audit}
  approvals: {events: ["manual-approval-*", deployment-waiting]}
"""


def test_notifications_as_a_mapping_and_what_is_left_out():
    notes = Notes()
    template = pipeline_template(load_pipeline_text(NAMED_NOTIFICATIONS), notes=notes)
    rules = resources(template, "AWS::CodeStarNotifications::NotificationRule")
    assert sorted(rules) == ["NotificationApprovalsRule", "NotificationAuditRule", "NotificationOpsRule"]
    assert rules["NotificationOpsRule"]["DetailType"] == "BASIC"
    assert rules["NotificationApprovalsRule"]["EventTypeIds"] == [
        "codepipeline-pipeline-manual-approval-failed", "codepipeline-pipeline-manual-approval-needed",
        "codepipeline-pipeline-manual-approval-succeeded"]
    assert rules["NotificationOpsRule"]["Targets"] == [{
        "TargetType": "AWSChatbotSlack",
        "TargetAddress": "arn:aws:chatbot::123456789012:chat-configuration/slack-channel/ops"}]
    assert [str(n) for n in notes.items if n.source.startswith("notifications")] == [
        ("notifications.audit: the filter(s) environments, which a CodeStar Notifications rule on one pipeline "
         "cannot express → left out: the rule takes every such event of the pipeline"),
        ("notifications.approvals.events: event 'deployment-waiting', not a pipeline event of CodeStar "
         "Notifications → left out")]
    assert "ApprovalTopic" in template.resources  # the approval topic always exists
    assert lint(template) == []


# --- the buildspecs the export writes ------------------------------------------------------------

@pytest.mark.parametrize("text", [
    image_buildspec({"repository": "orders"}, output=False),
    image_buildspec({"repository": "orders", "dockerfile": "docker/App.Dockerfile", "context": "app",
                     "buildArgs": {"A": "1"}, "tags": ["stable", "v1"], "containerName": "api"}, output=True),
    command_buildspec({"command": ["make", "test"], "workingDirectory": "src", "outputVariables": ["V"],
                       "outputFiles": ["out/**"]}, output=True),
    command_buildspec({"script": "ci/run.sh"}, output=False),
], ids=["image", "image-everything", "command", "script"])
def test_generated_buildspecs_are_valid_buildspecs(text):
    assert [str(d) for d in check_buildspec_text(text)] == []


def test_privileged_mode_is_the_actions_setting_never_the_buildspecs(tmp_path):
    """privilegedMode is a CodeBuild project setting: a buildspec that runs docker does not turn it
    on; the export says so rather than grant what Conveyor itself would not."""
    import shutil

    shutil.copytree(EXAMPLE, tmp_path / "example", ignore=shutil.ignore_patterns("aws"))
    conf = tmp_path / "example" / "conveyor.yml"
    text = conf.read_text()
    assert "privilegedMode: true" in text
    conf.write_text(text.replace("privilegedMode: true", "privilegedMode: false"))
    template, notes = export(tmp_path / "example")
    (project,) = resources(template, "AWS::CodeBuild::Project").values()
    assert project["Environment"]["PrivilegedMode"] is False
    assert any(n.source.endswith("actions[0].privilegedMode") and "runs a container engine" in n.what
               for n in notes.items), [str(n) for n in notes.items]
