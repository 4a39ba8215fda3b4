"""conveyor.config.importer: a CodePipeline definition becomes a conveyor.yml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conveyor.config.codepipeline import validate_file
from conveyor.config.importer import import_codepipeline
from conveyor.errors import ConfigError

CORPUS = Path(__file__).parents[2] / ".." / "shared" / "corpus" / "pipeline-json"

# file -> (outcome, notes expected in `unmapped`). Outcomes: "loads" (the conveyor.yml validates),
# "rejected" (imported, but the result does not validate, and `unmapped` says why), "unreadable".
IMPORTS = {
    "AbhishekSharmaIE__DevopsEcommerceapp__pipeline.json": ("loads", [
        ("stage Source action Source: repository 'AbhishekSharmaIE/DevopsEcommerceapp' is a placeholder taken from "
        "FullRepositoryId; point it at your git remote (a URL or a local path)")]),
    "Ahmed-ElHamidy__postfix-ecs-pipeline__pipeline.json": ("unreadable", []),
    "AliRazaqNorthbay__ECS-test__pipeline.json": ("loads", [
        ("stage Deploy: onFailure is not imported; stage conditions, retries and rollbacks have no local equivalent "
        "yet")]),
    "alvinjaison__cicdtest-node__codepipeline.json": ("loads", [
        "stage Staging: none of its actions has a local equivalent, so the stage is left out",
        "stage Staging action MyBetaStack3: CloudFormation deploy has no local equivalent",
        "stage APITest action Runscope: ThirdParty Test action Runscope has no local equivalent",
        ("stage ManualApproval action ProductionApproval: NotificationArn (SNS) is not imported; notifications come in "
        "a later release")]),
    "d3rIngo__auto-pipe-terraform__codepipeline.json": ("rejected", [
        "the imported pipeline has 1 stage; conveyor.yml needs at least 2, so add stages before running it"]),
    "dopc02devops__flask-memcached-codecommit__codepipeline__pipeline.json": ("loads", [
        ("stage Deploy action DeployAction: CodeDeploy (EC2/on-premises or Lambda) deploy has no local equivalent; "
        "Conveyor deploys containers (ECS, CodeDeployToECS)")]),
    "jeevanantham2205__Brain-Tasks-App__codepipeline.json": ("loads", []),
    "mattbernhardt23__thoughtMapBackend__pipeline-definition.json": ("loads", [
        "stage Deploy: none of its actions has a local equivalent, so the stage is left out"]),
    "NicoStrauss__BeanstalkDemo__aws__pipeline.json": ("loads", [
        "stage Deploy action Deploy: Elastic Beanstalk deploy has no local equivalent"]),
    "nithish-95__tic-tac-toe__codepipeline.json": ("loads", []),
    "pallavtyagi__aws-app__codepipeline.json": ("loads", []),
    "Phani-Chandan02__devsecops-fintech-lab__pipeline-definition.json": ("loads", []),
    "ramanjulreddykotlo__aws-devops-project__codepipeline.json": ("rejected", [
        "stage Source action Source: Git takes exactly 1 output artifact in conveyor.yml, this action has 0",
        "stage Build action Build: CodeBuild takes 1 to 5 input artifacts in conveyor.yml, this action has 0"]),
    "sarvaratchaganr__Secure-CICD-Pipeline-with-IAM-CloudWatch__pipeline-definition.json": ("loads", [
        ("stage Source action SourceAction: repository '<GITHUB_OWNER>/<REPO_NAME>' is a placeholder taken from "
        "Owner/Repo; point it at your git remote (a URL or a local path)")]),
    "seroche__payment-gateway-api__codepipeline.json": ("rejected", [
        "pipeline name '%ServiceName%' is not a valid name (1-100 characters of A-Z a-z 0-9 . @ - _); rename it"]),
    "sharanyach12__cicd-pipeline-aws__codepipeline__pipeline.json": ("loads", []),
    "UdeeshaJayendra__secure-cicd-webapp__codepipeline.json": ("loads", []),
    "uwakweobed89-png__CLOUD-OPS-project__codepipeline.json": ("loads", []),
    "vam-kri__smart-hotel-booking__pipeline-definition.json": ("loads", []),
    "Wanted162__project-brain-task__codepipeline-definition.json": ("unreadable", []),
}


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS.resolve()}")
    return CORPUS


def load_pipeline_text():
    from conveyor.config.pipeline import load_pipeline_text as load

    return load


def test_the_import_table_covers_the_corpus(corpus):
    assert sorted(p.name for p in corpus.glob("*.json")) == sorted(IMPORTS)


@pytest.mark.parametrize("name", sorted(IMPORTS))
def test_corpus_import(corpus, name):
    outcome, notes = IMPORTS[name]
    if outcome == "unreadable":
        with pytest.raises(ConfigError):
            import_codepipeline(corpus / name)
        return
    result = import_codepipeline(corpus / name)
    assert isinstance(yaml.safe_load(result.text), dict)
    assert result.diagnostics == validate_file(corpus / name)
    for note in notes:
        assert note in result.unmapped
    header = result.text.replace("\n#     ", " ")  # undo the wrapping
    for note in result.unmapped:  # every note is in the header, too
        assert f"#   - {note}\n" in header


@pytest.mark.parametrize("name", sorted(n for n, (outcome, _) in IMPORTS.items() if outcome != "unreadable"))
def test_corpus_import_validates_as_conveyor_yml(corpus, name):
    load = load_pipeline_text()
    result = import_codepipeline(corpus / name)
    if IMPORTS[name][0] == "loads":
        load(result.text, "conveyor.yml")
    else:
        with pytest.raises(ConfigError):
            load(result.text, "conveyor.yml")


# --- hand-made pipelines ---------------------------------------------------------------------------

def act(name, category, provider, config=None, inputs=(), outputs=(), owner="AWS", **extra):
    out = {"name": name, "actionTypeId": {"category": category, "owner": owner, "provider": provider, "version": "1"},
           "configuration": config or {}, "inputArtifacts": [{"name": n} for n in inputs],
           "outputArtifacts": [{"name": n} for n in outputs]}
    out.update(extra)
    return out


def write(tmp_path: Path, stages: list, **pipeline) -> Path:
    data = {"pipeline": {"name": "orders", "roleArn": "arn:aws:iam::123456789012:role/orders",
                         "artifactStore": {"type": "S3", "location": "orders-artifacts"},
                         "stages": [{"name": n, "actions": a} for n, a in stages], **pipeline}}
    path = tmp_path / "pipeline.json"
    path.write_text(json.dumps(data, indent=2))
    return path


CODECOMMIT = act("Source", "Source", "CodeCommit", {"RepositoryName": "orders", "BranchName": "main",
                                                   "PollForSourceChanges": "false"},
                 outputs=["src"], namespace="SourceVariables")
CODEBUILD = act("UnitTests", "Test", "CodeBuild", {
    "ProjectName": "orders-tests",
    "EnvironmentVariables": json.dumps([
        {"name": "COMMIT", "value": "#{SourceVariables.CommitId}", "type": "PLAINTEXT"},
        {"name": "STAGE", "value": "staging"},
        {"name": "TOKEN", "value": "orders/token", "type": "SECRETS_MANAGER"}])},
    inputs=["src"], outputs=["bundle"], runOrder=1)
MANUAL = act("Approve", "Approval", "Manual", {"CustomData": "Check #{SourceVariables.CommitId}",
                                               "ExternalEntityLink": "http://127.0.0.1:8081/",
                                               "NotificationArn": "arn:aws:sns:us-east-1:123456789012:approvals"},
             timeoutInMinutes=60)
ECS = act("Deploy", "Deploy", "ECS", {"ClusterName": "staging", "ServiceName": "orders",
                                      "FileName": "imagedefinitions.json", "DeploymentTimeout": "15"},
          inputs=["bundle"])

GOLDEN = """\
# conveyor.yml imported from pipeline.json (CodePipeline 'orders') by `conveyor import`.
# Check the NOTE comments, then run `conveyor validate`.
# Not imported, or needing your attention:
#   - stage Source action Source: repository 'orders' is a placeholder taken from RepositoryName;
#     point it at your git remote (a URL or a local path)
#   - stage Test action UnitTests: environment variable TOKEN comes from SECRETS_MANAGER
#     ('orders/token'), which has no local equivalent; store the value with `conveyor secret`
#   - stage Approval action Approve: NotificationArn (SNS) is not imported; notifications come in a
#     later release
#   - stage Deploy action Deploy: ClusterName 'staging' is not named conveyor-<environment>, so it
#     names the environment; on AWS (target: aws) give that environment cluster: staging

name: orders

pipeline:
  executionMode: QUEUED
  variables:
    - name: tag
      defaultValue: latest
  stages:
    - name: Source
      actions:
        - name: Source
          provider: Git
          repository: orders                    # NOTE: placeholder from RepositoryName; point it at your git remote
          branch: main
          outputArtifacts: [src]
          namespace: SourceVariables

    - name: Test
      actions:
        - name: UnitTests
          provider: CodeBuild
          category: Test
          runOrder: 1
          projectName: orders-tests             # buildspec: buildspec.yml in the primary source
          environmentVariables:
            COMMIT: "#{SourceVariables.CommitId}"
            STAGE: staging
          inputArtifacts: [src]
          outputArtifacts: [bundle]

    - name: Approval
      actions:
        - name: Approve
          provider: Manual
          customData: "Check #{SourceVariables.CommitId}"
          externalEntityLink: http://127.0.0.1:8081/
          timeoutInMinutes: 60

    - name: Deploy
      actions:
        - name: Deploy
          provider: ECS
          environment: staging                  # from ClusterName
          service: orders                       # from ServiceName
          file: imagedefinitions.json
          deploymentTimeout: 15
          inputArtifacts: [bundle]

environments:
  staging:
    services:
      orders: {}                                # fill in taskDefinition, desiredCount...
"""


def test_golden_import(tmp_path):
    path = write(tmp_path, [("Source", [CODECOMMIT]), ("Test", [CODEBUILD]), ("Approval", [MANUAL]),
                            ("Deploy", [ECS])], executionMode="QUEUED", pipelineType="V2",
                 variables=[{"name": "tag", "defaultValue": "latest"}])
    result = import_codepipeline(path)
    assert result.diagnostics == []
    assert result.text == GOLDEN


def test_golden_import_validates(tmp_path):
    load = load_pipeline_text()
    load(GOLDEN, "conveyor.yml")


def test_dropped_sources_and_stages_are_explained(tmp_path):
    s3 = act("S3Source", "Source", "S3", {"S3Bucket": "b", "S3ObjectKey": "app.zip"}, outputs=["src"],
             namespace="S3Variables")
    build = act("Build", "Build", "CodeBuild", {"ProjectName": "p", "EnvironmentVariables": json.dumps(
        [{"name": "ETAG", "value": "#{S3Variables.ETag}"}])}, inputs=["src"])
    deploy = act("Stack", "Deploy", "CloudFormation", {"ActionMode": "CREATE_UPDATE", "StackName": "s"})
    result = import_codepipeline(write(tmp_path, [("Source", [s3]), ("Build", [build]), ("Deploy", [deploy])]))
    assert result.unmapped == [
        "stage Source: none of its actions has a local equivalent, so the stage is left out",
        "stage Source action S3Source: S3 source has no local equivalent; replace it with a Git source",
        "stage Build is now the first stage but holds no Git source; conveyor.yml's first stage holds only Git sources",
        ("stage Build action Build: input artifact 'src' comes from stage Source action S3Source, which is left out; "
        "produce it another way or remove it"),
        "stage Build action Build: #{S3Variables.ETag} refers to stage Source action S3Source, which is left out",
        "stage Deploy: none of its actions has a local equivalent, so the stage is left out",
        "stage Deploy action Stack: CloudFormation deploy has no local equivalent",
        "the imported pipeline has 1 stage; conveyor.yml needs at least 2, so add stages before running it",
    ]
    assert "    # stage Source left out: no local equivalent for S3Source (S3)\n" in result.text
    assert "executionMode: SUPERSEDED                     # AWS default (the definition does not set it)" in result.text


def test_a_dropped_action_next_to_kept_ones_leaves_a_comment(tmp_path):
    lam = act("Notify", "Invoke", "Lambda", {"FunctionName": "notify"}, runOrder=2)
    build = act("Build", "Build", "CodeBuild", {"ProjectName": "p"}, inputs=["src"])
    result = import_codepipeline(write(tmp_path, [("Source", [CODECOMMIT]), ("Build", [build, lam])]))
    assert ("stage Build action Notify: Lambda invoke has no local equivalent; a Command action can run the same logic"
            in result.unmapped)
    assert ("        # Notify (AWS Lambda) left out: Lambda invoke has no local equivalent; a Command action can run "
            "the same logic\n") in result.text
    assert [a["name"] for a in yaml.safe_load(result.text)["pipeline"]["stages"][1]["actions"]] == ["Build"]


def test_sources_become_git(tmp_path):
    connection = act("App", "Source", "CodeStarSourceConnection", {
        "ConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/x", "FullRepositoryId": "acme/app",
        "BranchName": "release", "DetectChanges": "false"}, outputs=["app"])
    github = act("Lib", "Source", "GitHub", {"Owner": "acme", "Repo": "lib.git", "Branch": "main",
                                            "OAuthToken": "****"}, outputs=["lib"], owner="ThirdParty")
    build = act("Build", "Build", "CodeBuild", {"ProjectName": "p", "PrimarySource": "app"}, inputs=["app", "lib"])
    result = import_codepipeline(write(tmp_path, [("Source", [connection, github]), ("Build", [build])]))
    app, lib = yaml.safe_load(result.text)["pipeline"]["stages"][0]["actions"]
    assert app == {"name": "App", "provider": "Git", "repository": "acme/app", "branch": "release",
                   "detectChanges": False, "outputArtifacts": ["app"]}
    assert lib == {"name": "Lib", "provider": "Git", "repository": "https://github.com/acme/lib.git", "branch": "main",
                   "outputArtifacts": ["lib"]}
    assert yaml.safe_load(result.text)["pipeline"]["stages"][1]["actions"][0]["primarySource"] == "app"


def test_blue_green_keys_are_camel_cased(tmp_path):
    build = act("Build", "Build", "CodeBuild", {"ProjectName": "p"}, inputs=["src"], outputs=["out", "img"])
    bg = act("BlueGreen", "Deploy", "CodeDeployToECS", {
        "ApplicationName": "orders", "DeploymentGroupName": "prod", "TaskDefinitionTemplateArtifact": "out",
        "TaskDefinitionTemplatePath": "taskdef.json", "AppSpecTemplateArtifact": "out",
        "Image1ArtifactName": "img", "Image1ContainerName": "IMAGE1_NAME", "Image2ArtifactName": "img",
        "Image2ContainerName": "IMAGE2_NAME"}, inputs=["out", "img"])
    result = import_codepipeline(write(tmp_path, [("Source", [CODECOMMIT]), ("Build", [build]), ("Prod", [bg])]))
    data = yaml.safe_load(result.text)
    assert data["pipeline"]["stages"][2]["actions"][0] == {
        "name": "BlueGreen", "provider": "CodeDeployToECS", "environment": "orders", "service": "prod",
        "applicationName": "orders", "taskDefinitionTemplateArtifact": "out",
        "taskDefinitionTemplatePath": "taskdef.json", "appSpecTemplateArtifact": "out", "image1ArtifactName": "img",
        "image1ContainerName": "IMAGE1_NAME", "image2ArtifactName": "img", "image2ContainerName": "IMAGE2_NAME",
        "inputArtifacts": ["out", "img"]}
    assert data["environments"] == {"orders": {"services": {"prod": {}}}}
    assert ("stage Prod action BlueGreen: ApplicationName 'orders' is not named conveyor-<environment>, so it names "
            "the environment; on AWS (target: aws) give that environment codeDeployApplication: orders"
            in result.unmapped)


def test_names_made_by_conveyors_aws_backend_name_their_environment(tmp_path):
    """docs/aws.md: environment E's cluster and CodeDeploy application are conveyor-E; a service's
    deployment group is its name."""
    build = act("Build", "Build", "CodeBuild", {"ProjectName": "p"}, inputs=["src"], outputs=["out"])
    rolling = act("Staging", "Deploy", "ECS", {"ClusterName": "conveyor-staging", "ServiceName": "orders"},
                  inputs=["out"])
    bg = act("Production", "Deploy", "CodeDeployToECS", {
        "ApplicationName": "conveyor-production", "DeploymentGroupName": "orders",
        "TaskDefinitionTemplateArtifact": "out", "AppSpecTemplateArtifact": "out"}, inputs=["out"], runOrder=2)
    result = import_codepipeline(write(tmp_path, [("Source", [CODECOMMIT]), ("Build", [build]),
                                                  ("Deploy", [rolling, bg])]))
    staging, production = yaml.safe_load(result.text)["pipeline"]["stages"][2]["actions"]
    assert (staging["environment"], staging["service"]) == ("staging", "orders")
    assert (production["environment"], production["service"]) == ("production", "orders")
    assert "applicationName" not in production
    assert not any("conveyor-<environment>" in note for note in result.unmapped)


def test_commands_actions_become_command_and_wait(tmp_path):
    shaped = act("Package", "Compute", "Commands", None, inputs=["src"], outputs=[],
                 commands=["cd app",
                           'export CONVEYOR_OUTPUT_ENV=/tmp/conveyor-output.env && : > "$CONVEYOR_OUTPUT_ENV"',
                           "python3 -m build --outdir dist",
                           'while IFS== read -r key value; do export "$key=$value"; done < "$CONVEYOR_OUTPUT_ENV"'],
                 outputVariables=["VERSION"], environmentVariables=[
                     {"name": "COMMIT", "value": "#{SourceVariables.CommitId}", "type": "PLAINTEXT"},
                     {"name": "TOKEN", "value": "orders/token", "type": "SECRETS_MANAGER"}],
                 namespace="Pkg")
    shaped["outputArtifacts"] = [{"name": "dist", "files": ["app/dist/**"]}]
    other = act("Lint", "Compute", "Commands", None, inputs=["src"], commands=["npm ci", "npm run lint"], runOrder=2)
    pause = act("Settle", "Compute", "Commands", None, inputs=["src"], commands=["sleep 30"], runOrder=3)
    result = import_codepipeline(write(tmp_path, [("Source", [CODECOMMIT]), ("Build", [shaped, other, pause])]))
    package, lint, settle = yaml.safe_load(result.text)["pipeline"]["stages"][1]["actions"]
    assert package == {"name": "Package", "provider": "Command",
                       "command": ["python3", "-m", "build", "--outdir", "dist"], "workingDirectory": "app",
                       "env": {"COMMIT": "#{SourceVariables.CommitId}"}, "outputFiles": ["dist/**"],
                       "outputVariables": ["VERSION"], "inputArtifacts": ["src"], "outputArtifacts": ["dist"],
                       "namespace": "Pkg"}
    assert lint["command"] == ["sh", "-ec", "npm ci\nnpm run lint"]
    assert settle == {"name": "Settle", "provider": "Wait", "runOrder": 3, "seconds": 30, "inputArtifacts": ["src"]}
    assert ("stage Build action Package: environment variable TOKEN comes from SECRETS_MANAGER ('orders/token'), which "
            "has no local equivalent; store the value with `conveyor secret`") in result.unmapped
    load_pipeline_text()(result.text, "conveyor.yml")


def test_push_tag_and_pull_request_triggers_are_kept(tmp_path):
    connection = act("Source", "Source", "CodeStarSourceConnection", {
        "ConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/x", "FullRepositoryId": "acme/app",
        "BranchName": "main"}, outputs=["src"])
    build = act("Build", "Build", "CodeBuild", {"ProjectName": "p"}, inputs=["src"])
    triggers = [{"providerType": "CodeStarSourceConnection", "gitConfiguration": {
        "sourceActionName": "Source",
        "push": [{"branches": {"includes": ["main", "release/**"]}, "filePaths": {"excludes": ["docs/**"]}},
                 {"tags": {"includes": ["v*"]}}],
        "pullRequest": [{"events": ["OPEN"], "branches": {"includes": ["main"]}}]}}]
    result = import_codepipeline(write(tmp_path, [("Source", [connection]), ("Build", [build])], pipelineType="V2",
                                       triggers=triggers))
    assert yaml.safe_load(result.text)["pipeline"]["triggers"] == [
        {"source": "Source", "branches": ["main", "release/**"], "paths": {"excludes": ["docs/**"]}},
        {"source": "Source", "tags": ["v*"]},
        {"source": "Source", "pullRequest": {"events": ["open"], "branches": ["main"]}}]
    assert not [n for n in result.unmapped if "trigger" in n]
    definition = load_pipeline_text()(result.text.replace("projectName: p", "projectName: pp"), "conveyor.yml")
    assert [t.kind for t in definition.triggers] == ["push", "tag", "pullRequest"]


def test_references_to_variables_a_git_source_does_not_set_are_noted(tmp_path):
    connection = act("Source", "Source", "CodeStarSourceConnection", {
        "ConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/x", "FullRepositoryId": "acme/app",
        "BranchName": "main"}, outputs=["src"], namespace="SourceVariables")
    approve = act("Approve", "Approval", "Manual", {"CustomData": "#{SourceVariables.FullRepositoryName}"})
    result = import_codepipeline(write(tmp_path, [("Source", [connection]), ("Approval", [approve])]))
    assert ("stage Approval action Approve: #{SourceVariables.FullRepositoryName} is not set by a Git source (it sets "
            "CommitId, BranchName, CommitMessage, AuthorDate, AuthorName, CommitterDate, RepositoryName)"
            in result.unmapped)


def test_an_invalid_definition_still_imports_with_its_diagnostics(tmp_path):
    deploy = act("Deploy", "Deploy", "ECS", {"ClusterName": "c"}, inputs=["src"])
    result = import_codepipeline(write(tmp_path, [("Source", [CODECOMMIT]), ("Deploy", [deploy])],
                                       roleArn="<ROLE_ARN>"))
    assert [d.path for d in result.diagnostics if d.severity == "error"] == [
        "pipeline.roleArn", "pipeline.stages[1].actions[0].configuration"]
    assert yaml.safe_load(result.text)["pipeline"]["stages"][1]["actions"][0]["service"] == "SERVICE"


@pytest.mark.parametrize("text, message", [
    ('{"pipeline": ', "malformed JSON"),
    ('{"processors": []}', "not a CodePipeline definition"),
    ('{"pipeline": {"name": "x"}}', "missing required key 'stages'"),
    ('{"pipeline": {"name": "x", "stages": []}}', "a pipeline needs 2 to 50 stages, got 0"),
])
def test_what_cannot_be_imported_raises_config_error(tmp_path, text, message):
    (tmp_path / "pipeline.json").write_text(text)
    with pytest.raises(ConfigError) as info:
        import_codepipeline(tmp_path / "pipeline.json")
    assert message in str(info.value)


@pytest.mark.parametrize("junk", [None, [], {}, -1, "", True, [None], {"name": None},
                                  pytest.param("x" * 1100, id="long-string")])
def test_no_value_anywhere_makes_the_import_crash(tmp_path, junk):
    """Replace every value of an importable pipeline, one at a time, by junk: a result or ConfigError."""
    def paths(node, prefix=()):
        yield prefix
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in children:
            yield from paths(child, prefix + (key,))

    data = json.loads(write(tmp_path, [("Source", [CODECOMMIT]), ("Test", [CODEBUILD]), ("Approval", [MANUAL]),
                                       ("Deploy", [ECS])], variables=[{"name": "tag"}]).read_text())
    data["pipeline"]["triggers"] = [{"providerType": "CodeStarSourceConnection", "gitConfiguration": {
        "sourceActionName": "Source", "push": [{"branches": {"includes": ["main"]}}]}}]
    for path in list(paths(data))[1:]:
        broken = json.loads(json.dumps(data))
        node = broken
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = junk
        (tmp_path / "broken.json").write_text(json.dumps(broken))
        try:
            result = import_codepipeline(tmp_path / "broken.json")
        except ConfigError:
            continue
        assert isinstance(yaml.safe_load(result.text), dict)
