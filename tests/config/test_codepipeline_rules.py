"""conveyor.config.codepipeline, one AWS rule at a time (aws-semantics §2), on a small valid pipeline."""

from __future__ import annotations

import copy
import json

import pytest

from conveyor.config.codepipeline import validate_document
from conveyor.documents.located import load_json


def act(name, category, provider, config=None, inputs=(), outputs=(), owner="AWS", **extra):
    out = {"name": name, "actionTypeId": {"category": category, "owner": owner, "provider": provider, "version": "1"},
           "configuration": config or {}, "inputArtifacts": [{"name": n} for n in inputs],
           "outputArtifacts": [{"name": n} for n in outputs]}
    out.update(extra)
    return out


SOURCE = act("Source", "Source", "CodeStarSourceConnection", {
    "ConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/x", "FullRepositoryId": "acme/demo",
    "BranchName": "main"}, outputs=["src"], namespace="SourceVariables")
BUILD = act("Build", "Build", "CodeBuild", {"ProjectName": "demo"}, inputs=["src"], outputs=["bundle"],
            namespace="BuildVariables")
DEPLOY = act("Deploy", "Deploy", "ECS", {"ClusterName": "staging", "ServiceName": "web"}, inputs=["bundle"])
BASE = {"pipeline": {
    "name": "demo", "roleArn": "arn:aws:iam::123456789012:role/demo",
    "artifactStore": {"type": "S3", "location": "demo-artifacts"},
    "stages": [{"name": "Source", "actions": [SOURCE]}, {"name": "Build", "actions": [BUILD]},
               {"name": "Deploy", "actions": [DEPLOY]}]}}


def base() -> dict:
    return copy.deepcopy(BASE)


def problems(data: dict, severity: str = "error") -> list[str]:
    doc = load_json(json.dumps(data, indent=2), "pipeline.json")
    return [f"{d.path}: {d.message}" for d in validate_document(doc) if d.severity == severity]


def test_the_base_pipeline_is_valid_as_create_input_and_as_get_output():
    assert problems(base()) == [] and problems(base(), "warning") == []
    data = base() | {"metadata": {"pipelineArn": "arn:aws:codepipeline:us-east-1:123456789012:demo",
                                  "created": "2024-01-01T00:00:00Z"}}
    assert problems(data) == []


def test_unknown_keys_get_did_you_mean():
    data = base()
    data["pipeline"]["executionmode"] = "QUEUED"
    data["pipeline"]["stages"][1]["actions"][0]["inputArtifact"] = []
    assert problems(data) == [  # sorted by position: the stages come before the added key
        "pipeline.stages[1].actions[0].inputArtifact: unknown key 'inputArtifact' (did you mean 'inputArtifacts'?)",
        "pipeline.executionmode: unknown key 'executionmode' (did you mean 'executionMode'?)",
    ]


@pytest.mark.parametrize("key", ["name", "roleArn", "stages"])
def test_required_pipeline_keys(key):
    data = base()
    del data["pipeline"][key]
    assert f"pipeline: missing required key '{key}'" in problems(data)


def test_exactly_one_of_artifact_store_and_artifact_stores():
    data = base()
    del data["pipeline"]["artifactStore"]
    assert problems(data) == [("pipeline: missing required key 'artifactStore' (or 'artifactStores', one per region, "
                              "for a cross-region pipeline)")]
    data = base()
    data["pipeline"]["artifactStores"] = {"us-east-1": {"type": "S3", "location": "demo-artifacts"}}
    assert problems(data) == ["pipeline.artifactStores: give either artifactStore or artifactStores, not both"]


@pytest.mark.parametrize("arn, message", [
    ("<ROLE_ARN>", ("invalid roleArn '<ROLE_ARN>': it looks like an unfilled template placeholder; expected the ARN "
                   "of the pipeline's service role, arn:aws:iam::<12-digit account id>:role/<name>")),
    ("arn:aws:iam::%ACCOUNT%:role/x", "'%ACCOUNT%' looks like an unfilled template placeholder"),
    ("arn:aws:iam::{{account}}:role/x", "'{{account}}' looks like an unfilled template placeholder"),
    ("arn:aws:iam::${AWS::AccountId}:role/x", "'${AWS::AccountId}' looks like an unfilled template placeholder"),
    ("arn:aws:iam::YOUR_ACCOUNT_ID:role/x", "'YOUR_ACCOUNT_ID' looks like an unfilled template placeholder"),
    ("arn:aws:iam::12345:role/x", ("invalid roleArn 'arn:aws:iam::12345:role/x': the account id '12345' has 5 "
                                  "digits, expected 12")),
    ("arn:aws:iam::123456789012:user/x", ("invalid roleArn 'arn:aws:iam::123456789012:user/x': expected "
                                         "arn:aws:iam::<12-digit account id>:role/<name>")),
])
def test_role_arn(arn, message):
    data = base()
    data["pipeline"]["roleArn"] = arn
    [error] = problems(data)
    assert error.startswith("pipeline.roleArn: ") and message in error


def test_role_arn_in_another_partition_is_fine():
    data = base()
    data["pipeline"]["roleArn"] = "arn:aws-us-gov:iam::123456789012:role/service-role/demo"
    assert problems(data) == []


@pytest.mark.parametrize("edit, expected", [
    (lambda p: p.update(name="my pipeline"), ("pipeline.name: invalid pipeline name 'my pipeline': expected 1-100 "
                                             "characters of A-Z a-z 0-9 . @ - _")),
    (lambda p: p.update(name="x" * 101), "pipeline.name: invalid pipeline name"),
    (lambda p: p.update(executionMode="QUEUE"), ("pipeline.executionMode: unknown executionMode 'QUEUE' (did you "
                                                "mean 'QUEUED'?)")),
    (lambda p: p.update(executionMode="FIFO"), ("pipeline.executionMode: unknown executionMode 'FIFO'; expected one "
                                               "of QUEUED, SUPERSEDED, PARALLEL")),
    (lambda p: p.update(pipelineType="V3"), "pipeline.pipelineType: unknown pipelineType 'V3'"),
    (lambda p: p.update(pipelineType="V1", variables=[{"name": "a"}]), ("pipeline.variables: variables need "
                                                                      "pipelineType V2 (this pipeline declares V1)")),
    (lambda p: p.update(version=0), "pipeline.version: version must be 1 or more, got 0"),
    (lambda p: p["artifactStore"].update(location="Bad_Bucket!"), ("pipeline.artifactStore.location: invalid bucket "
                                                                  "name 'Bad_Bucket!'")),
    (lambda p: p["artifactStore"].update(type="GCS"), ("pipeline.artifactStore.type: unknown artifact store type "
                                                      "'GCS'; expected one of S3")),
    (lambda p: p.update(artifactStores=[p.pop("artifactStore")]), ("pipeline.artifactStores: expected a mapping of "
                                                                   "region to artifact store")),
    (lambda p: p.update(stages=p["stages"][:1]), "pipeline.stages: a pipeline needs 2 to 50 stages, got 1"),
    (lambda p: p["stages"].reverse(), ("pipeline.stages[0].actions[0].actionTypeId.category: the first stage may "
                                      "hold only Source actions; 'Deploy' is a Deploy action")),
    (lambda p: p["stages"][1]["actions"].append(SOURCE | {"name": "Other"}), ("pipeline.stages[1].actions[1]."
     "actionTypeId.category: Source actions may appear only in the first stage; move 'Other' there")),
    (lambda p: p["stages"][2].update(name="Build"), ("pipeline.stages[2].name: duplicate stage name 'Build' (first "
                                                    "used by pipeline.stages[1])")),
    (lambda p: p["stages"][1]["actions"].append(BUILD | {"outputArtifacts": []}), ("pipeline.stages[1].actions[1]."
     "name: duplicate action name 'Build' in stage 'Build' (first used by pipeline.stages[1].actions[0])")),
    (lambda p: p["stages"][2].update(actions=[]), "pipeline.stages[2].actions: a stage needs 1 to 50 actions, got 0"),
])
def test_pipeline_and_stage_rules(edit, expected):
    data = base()
    edit(data["pipeline"])
    assert any(e.startswith(expected) for e in problems(data)), problems(data)


@pytest.mark.parametrize("type_id, expected", [
    ({"provider": "Codebuild"}, ("provider: unknown provider 'Codebuild' for category Build (did you mean "
                                "'CodeBuild'?)")),
    ({"provider": "Jenkins"}, ("provider: unknown provider 'Jenkins' for category Build; AWS Build providers are "
                              "CodeBuild, ECRBuildAndPublish")),
    ({"provider": "Jenkins", "owner": "Custom"}, None),
    ({"category": "Deploy"}, "category: provider CodeBuild is a Build or Test action, not Deploy"),
    ({"category": "Bild"}, "category: unknown category 'Bild' (did you mean 'Build'?)"),
    ({"category": "Make"}, ("category: unknown category 'Make'; expected one of Source, Build, Deploy, Test, Invoke, "
                           "Approval, Compute")),
    ({"owner": "Amazon"}, "owner: unknown owner 'Amazon'; expected one of AWS, ThirdParty, Custom"),
    ({"version": "2"}, "version: CodeBuild actions have version '1', got '2'"),
    ({"version": 1}, "version: expected a string, got an integer"),
    ({"category": "Test"}, None),
])
def test_action_type(type_id, expected):
    data = base()
    data["pipeline"]["stages"][1]["actions"][0]["actionTypeId"].update(type_id)
    errors = problems(data)
    if expected is None:
        assert errors == []
    else:
        assert errors == [f"pipeline.stages[1].actions[0].actionTypeId.{expected}"]


@pytest.mark.parametrize("stage, action, missing", [
    (0, act("S", "Source", "CodeCommit", {"RepositoryName": "r", "BranchName": "b"}, outputs=["src"]), "BranchName"),
    (0, act("S", "Source", "CodeStarSourceConnection", {"ConnectionArn": "c", "FullRepositoryId": "o/r",
                                                          "BranchName": "b"}, outputs=["src"]), "ConnectionArn"),
    (0, act("S", "Source", "S3", {"S3Bucket": "b", "S3ObjectKey": "k"}, outputs=["src"]), "S3ObjectKey"),
    (0, act("S", "Source", "GitHub", {"Owner": "o", "Repo": "r", "Branch": "b", "OAuthToken": "t"}, outputs=["src"],
            owner="ThirdParty"), "OAuthToken"),
    (1, act("B", "Build", "CodeBuild", {"ProjectName": "p"}, inputs=["src"], outputs=["bundle"]), "ProjectName"),
    (2, act("D", "Deploy", "ECS", {"ClusterName": "c", "ServiceName": "s"}, inputs=["bundle"]), "ServiceName"),
    (2, act("D", "Deploy", "CodeDeploy", {"ApplicationName": "a", "DeploymentGroupName": "g"}, inputs=["bundle"]),
     "DeploymentGroupName"),
])
def test_required_configuration(stage, action, missing):
    data = base()
    data["pipeline"]["stages"][stage]["actions"] = [action]
    assert problems(data) == []
    del action["configuration"][missing]
    provider = action["actionTypeId"]["provider"]
    assert problems(data) == [(f"pipeline.stages[{stage}].actions[0].configuration: {provider} action is missing "
                              f"required configuration {missing}")]


@pytest.mark.parametrize("config, expected", [
    ({"Projectname": "x"}, ["configuration: CodeBuild action is missing required configuration ProjectName",
                            ("configuration.Projectname: unknown configuration key 'Projectname' for CodeBuild "
                             "(did you mean 'ProjectName'?); expected ProjectName, PrimarySource, BatchEnabled, "
                             "CombineArtifacts, EnvironmentVariables")]),
    ({"ProjectName": "x" * 1001}, [("configuration.ProjectName: configuration value is 1001 characters long; the limit "
                                   "is 1000")]),
    ({"ProjectName": "x", "BatchEnabled": "yes"}, [("configuration.BatchEnabled: unknown BatchEnabled value 'yes'; "
                                                   "expected one of true, false")]),
    ({"ProjectName": "x", "EnvironmentVariables": "[{name: 1}]"}, [("configuration.EnvironmentVariables: "
     "EnvironmentVariables must be a JSON array of {name, value, type}: Expecting property name enclosed in double "
     "quotes at character 3")]),
    ({"ProjectName": "x", "EnvironmentVariables": '[{"name": "A", "value": "1", "type": "SECRET"}]'},
     [("configuration.EnvironmentVariables: EnvironmentVariables item 1 ('A') has type 'SECRET'; expected one of "
      "PLAINTEXT, PARAMETER_STORE, SECRETS_MANAGER")]),
    ({"ProjectName": "x", "PrimarySource": "source"}, [("configuration.PrimarySource: PrimarySource 'source' is not an "
                                                       "input artifact of this action (did you mean 'src'?)")]),
])
def test_configuration_values(config, expected):
    data = base()
    data["pipeline"]["stages"][1]["actions"][0]["configuration"] = config
    assert problems(data) == [f"pipeline.stages[1].actions[0].{e}" for e in expected]


def test_configuration_key_length():
    data = base()
    data["pipeline"]["stages"][2]["actions"][0] = act("Hook", "Invoke", "Custom-Hook", {"K" * 51: "v"}, owner="Custom")
    assert problems(data) == [(f"pipeline.stages[2].actions[0].configuration.{'K' * 51}: configuration key "
                              f"'{'K' * 51}' is 51 characters long; the limit is 50")]


@pytest.mark.parametrize("stage, action, expected", [
    (2, act("D", "Deploy", "CodeDeploy", {"ApplicationName": "a", "DeploymentGroupName": "g"},
            inputs=["bundle", "src"]), "inputArtifacts: CodeDeploy takes exactly 1 input artifact, got 2"),
    (2, act("A", "Approval", "Manual", outputs=["x"]), "outputArtifacts: Manual takes no output artifacts, got 1"),
    (1, act("B", "Build", "CodeBuild", {"ProjectName": "p"}), ("inputArtifacts: CodeBuild takes 1 to 5 input "
                                                              "artifacts, got 0")),
    (2, act("D", "Deploy", "ECS", {"ClusterName": "c", "ServiceName": "s"}), ("inputArtifacts: ECS takes exactly 1 "
                                                                              "input artifact, got 0")),
    (2, act("T", "Test", "Runscope", inputs=["src", "bundle", "a", "b", "c", "d"], owner="ThirdParty"),
     "inputArtifacts: a ThirdParty action takes 0 to 5 input artifacts, got 6"),
])
def test_artifact_counts(stage, action, expected):
    data = base()
    data["pipeline"]["stages"][stage]["actions"] = [action]
    assert f"pipeline.stages[{stage}].actions[0].{expected}" in problems(data)


def test_a_source_without_output_names_the_source():
    data = base()
    data["pipeline"]["stages"][0]["actions"][0]["outputArtifacts"] = []
    assert problems(data)[0] == ("pipeline.stages[0].actions[0].outputArtifacts: CodeStarSourceConnection source takes "
                                 "exactly 1 output artifact, got 0")


@pytest.mark.parametrize("run_order, expected", [
    (0, ["runOrder: runOrder must be an integer from 1 to 999, got 0"]),
    (1000, ["runOrder: runOrder must be an integer from 1 to 999, got 1000"]),
    ("2", ["runOrder: expected an integer, got a string"]),
    (999, []),
])
def test_run_order(run_order, expected):
    data = base()
    data["pipeline"]["stages"][2]["actions"][0]["runOrder"] = run_order
    assert problems(data) == [f"pipeline.stages[2].actions[0].{e}" for e in expected]


def test_artifact_flow_follows_stage_and_run_order():
    data = base()
    build = data["pipeline"]["stages"][1]["actions"]
    build.append(act("Test", "Test", "CodeBuild", {"ProjectName": "t"}, inputs=["bundle"], runOrder=2))
    assert problems(data) == []  # same stage, higher runOrder: runs after Build
    build[1]["runOrder"] = 1
    assert problems(data) == [("pipeline.stages[1].actions[1].inputArtifacts[0].name: input artifact 'bundle' is "
                              "produced by action 'Build' in stage 'Build', which does not run before this action")]
    data = base()
    data["pipeline"]["stages"][2]["actions"].append(act("Copy", "Build", "CodeBuild", {"ProjectName": "p"},
                                                        inputs=["src"], outputs=["src"]))
    assert ("pipeline.stages[2].actions[1].outputArtifacts[0].name: output artifact 'src' is already produced by "
            "action 'Source' in stage 'Source'; output artifact names must be unique in the pipeline") in problems(data)


@pytest.mark.parametrize("namespace, expected", [
    ("SourceVariables", "namespace 'SourceVariables' is already used by action 'Source' in stage 'Source'"),
    ("variables", "namespace 'variables' is reserved by CodePipeline; choose another name"),
    ("codepipeline", "namespace 'codepipeline' is reserved by CodePipeline; choose another name"),
    ("src", "namespace 'src' has the name of an artifact; namespaces and artifact names must differ"),
    ("bad.name", "invalid namespace 'bad.name': expected 1-100 characters of A-Z a-z 0-9 @ - _"),
])
def test_namespaces(namespace, expected):
    data = base()
    data["pipeline"]["stages"][2]["actions"][0]["namespace"] = namespace
    assert problems(data) == [f"pipeline.stages[2].actions[0].namespace: {expected}"]


@pytest.mark.parametrize("value, expected", [
    ("#{SourceVariables.CommitId} #{BuildVariables.VERSION} #{codepipeline.PipelineExecutionId} #{variables.tag}",
     None),
    ("#{SourceVariable.CommitId}", ("#{SourceVariable.CommitId}: no action has namespace 'SourceVariable' (did you "
                                   "mean 'SourceVariables'?)")),
    ("#{ApproveVariables.X}", ("#{ApproveVariables.X}: namespace 'ApproveVariables' belongs to action 'Approve' in "
                              "stage 'Deploy', which does not run before this action")),
    ("#{DeployVariables.X}", "#{DeployVariables.X}: an action cannot use its own namespace"),
    ("#{codepipeline.ExecutionId}", ("#{codepipeline.ExecutionId}: the codepipeline namespace has only "
                                    "PipelineExecutionId (did you mean 'PipelineExecutionId'?)")),
    ("#{variables.tags}", "#{variables.tags}: no pipeline variable named 'tags' (did you mean 'tag'?); declared: tag"),
])
def test_variable_references(value, expected):
    data = base()
    data["pipeline"]["variables"] = [{"name": "tag", "defaultValue": "latest"}]
    deploy = data["pipeline"]["stages"][2]["actions"]
    deploy[0].update(namespace="DeployVariables")
    deploy[0]["configuration"]["FileName"] = value
    deploy.append(act("Approve", "Approval", "Manual", namespace="ApproveVariables"))  # runs alongside Deploy
    errors = problems(data)
    path = "pipeline.stages[2].actions[0].configuration.FileName"
    assert errors == ([] if expected is None else [f"{path}: {expected}"])


def test_reference_checks_in_sources_and_fixed_output_providers():
    data = base()
    data["pipeline"]["variables"] = [{"name": "branch"}]
    data["pipeline"]["stages"][0]["actions"][0]["configuration"]["BranchName"] = "#{variables.branch}"
    data["pipeline"]["stages"][2]["actions"][0]["configuration"]["ServiceName"] = "#{SourceVariables.CommitID}"
    assert problems(data) == [("pipeline.stages[0].actions[0].configuration.BranchName: #{variables.branch}: "
                              "pipeline variables cannot be used in Source actions")]
    assert problems(data, "warning") == [
        ("pipeline.stages[2].actions[0].configuration.ServiceName: #{SourceVariables.CommitID}: "
        "CodeStarSourceConnection does not output 'CommitID' (did you mean 'CommitId'?); it outputs AuthorDate, "
        "BranchName, CommitId, CommitMessage, ConnectionArn, FullRepositoryName")]


@pytest.mark.parametrize("triggers, expected", [
    ([{"providerType": "CodeStarSourceConnection", "gitConfiguration": {"sourceActionName": "Source", "push": [
        {"branches": {"includes": ["main"], "excludes": ["wip/*"]}, "filePaths": {"includes": ["src/**"]}}]}}], None),
    ([{"providerType": "CodeStarSourceConnection", "gitConfiguration": {"sourceActionName": "Src"}}],
     ("triggers[0].gitConfiguration.sourceActionName: no source action named 'Src' in the first stage (did you mean "
     "'Source'?)")),
    ([{"providerType": "CodeCommit", "gitConfiguration": {"sourceActionName": "Source"}}],
     "triggers[0].providerType: unknown providerType 'CodeCommit'; expected one of CodeStarSourceConnection"),
    ([{"providerType": "CodeStarSourceConnection", "gitConfiguration": {"sourceActionName": "Source", "push": [
        {"branches": {"include": ["main"]}}]}}],
     "triggers[0].gitConfiguration.push[0].branches.include: unknown key 'include' (did you mean 'includes'?)"),
    ([{"providerType": "CodeStarSourceConnection", "gitConfiguration": {"sourceActionName": "Source",
                                                                         "pullRequest": [{"events": ["MERGED"]}]}}],
     ("triggers[0].gitConfiguration.pullRequest[0].events[0]: unknown pull request event 'MERGED'; expected one of "
     "OPEN, UPDATED, CLOSED")),
])
def test_triggers(triggers, expected):
    data = base()
    data["pipeline"]["triggers"] = triggers
    assert problems(data) == ([] if expected is None else [f"pipeline.{expected}"])


def test_triggers_need_a_connection_source():
    data = base()
    data["pipeline"]["stages"][0]["actions"][0] = act("Source", "Source", "CodeCommit", {
        "RepositoryName": "r", "BranchName": "main"}, outputs=["src"])
    data["pipeline"]["triggers"] = [{"providerType": "CodeStarSourceConnection",
                                     "gitConfiguration": {"sourceActionName": "Source"}}]
    assert problems(data) == [("pipeline.triggers[0].gitConfiguration.sourceActionName: triggers work only with "
                              "CodeStarSourceConnection sources; 'Source' is a CodeCommit source")]


@pytest.mark.parametrize("variables, expected", [
    ([{"name": "a b"}], ("variables[0].name: invalid variable name 'a b': expected 1-128 characters of A-Z a-z 0-9 "
                        "@ - _")),
    ([{"name": "a"}, {"name": "a"}], "variables[1].name: duplicate variable name 'a'"),
    ([{"name": "a", "defaultValue": ""}], ("variables[0].defaultValue: defaultValue must be 1 to 1000 characters, "
                                          "got 0")),
    ([{"name": "a", "value": "x"}], "variables[0].value: unknown key 'value'"),
])
def test_pipeline_variables(variables, expected):
    data = base()
    data["pipeline"]["variables"] = variables
    assert problems(data)[0].startswith(f"pipeline.{expected}")


@pytest.mark.parametrize("stage, key, value, mode, expected", [
    (1, "onFailure", {"result": "RETRY", "retryConfiguration": {"retryMode": "ALL_ACTIONS"}}, None, None),
    (0, "onFailure", {"result": "ROLLBACK"}, None, ("stages[0].onFailure.result: the first (source) stage cannot be "
                                                   "rolled back")),
    (2, "onFailure", {"result": "ROLLBACK"}, "PARALLEL", ("stages[2].onFailure.result: rollback is not available in "
                                                         "PARALLEL execution mode")),
    (2, "onFailure", {"result": "FAIL", "retryConfiguration": {"retryMode": "ALL_ACTIONS"}}, None,
     "stages[2].onFailure.retryConfiguration: retryConfiguration needs result RETRY"),
    (2, "onFailure", {"result": "RETRY", "retryConfiguration": {"retryMode": "ALL"}}, None,
     "stages[2].onFailure.retryConfiguration.retryMode: unknown retryMode 'ALL'"),
    (2, "onSuccess", {"conditions": [{"result": "ROLLBACK", "rules": [{"name": "Alarm", "ruleTypeId": {
        "category": "Rule", "owner": "AWS", "provider": "CloudWatchAlarm", "version": "1"},
        "configuration": {"AlarmName": "errors"}}]}]}, None, None),
    (2, "beforeEntry", {"conditions": [{"result": "ROLLBACK", "rules": []}]}, None,
     "stages[2].beforeEntry.conditions[0].result: unknown beforeEntry result 'ROLLBACK'; expected one of FAIL, SKIP"),
    (2, "beforeEntry", {"conditions": []}, None, ("stages[2].beforeEntry.conditions: beforeEntry takes exactly one "
                                                 "condition, got 0")),
])
def test_stage_conditions(stage, key, value, mode, expected):
    data = base()
    data["pipeline"]["stages"][stage][key] = value
    if mode:
        data["pipeline"]["executionMode"] = mode
    errors = problems(data)
    assert errors == [] if expected is None else f"pipeline.{expected}" in errors[0]


def test_regions_need_artifact_stores():
    data = base()
    for s, region in enumerate(["us-east-1", "us-east-1", "eu-west-1"]):
        data["pipeline"]["stages"][s]["actions"][0]["region"] = region
    assert problems(data) == [("pipeline.stages[2].actions[0].region: actions run in more than one region (us-east-1, "
                              "eu-west-1); a cross-region pipeline needs artifactStores, one per region")]
    data["pipeline"]["artifactStores"] = {"us-east-1": data["pipeline"].pop("artifactStore")}
    assert problems(data) == [("pipeline.stages[2].actions[0].region: region 'eu-west-1' has no artifact store; "
                              "artifactStores has us-east-1")]


def test_blue_green_artifact_settings_must_name_inputs():
    data = base()
    data["pipeline"]["stages"][2]["actions"] = [act("BlueGreen", "Deploy", "CodeDeployToECS", {
        "ApplicationName": "a", "DeploymentGroupName": "g", "TaskDefinitionTemplateArtifact": "bundle",
        "AppSpecTemplateArtifact": "bundel", "Image1ArtifactName": "bundle"}, inputs=["bundle"])]
    assert problems(data) == [
        ("pipeline.stages[2].actions[0].configuration.AppSpecTemplateArtifact: AppSpecTemplateArtifact 'bundel' is not "
        "an input artifact of this action (did you mean 'bundle'?)"),
        ("pipeline.stages[2].actions[0].configuration.Image1ArtifactName: Image1ArtifactName needs Image1ContainerName "
        "as well")]


def test_a_commands_action_may_name_the_files_of_its_output_artifact():
    """API OutputArtifact.files: the files a Commands action puts in its output artifact."""
    data = base()
    data["pipeline"]["stages"][1]["actions"] = [act("Package", "Compute", "Commands", None, inputs=["src"],
                                                    commands=["make dist"])]
    data["pipeline"]["stages"][1]["actions"][0]["outputArtifacts"] = [{"name": "bundle", "files": ["dist/**"]}]
    assert problems(data) == []
    data["pipeline"]["stages"][1]["actions"][0]["inputArtifacts"] = [{"name": "src", "files": ["x"]}]
    assert problems(data) == ["pipeline.stages[1].actions[0].inputArtifacts[0].files: unknown key 'files'"]


@pytest.mark.parametrize("junk", [None, [], {}, 0, "x", True, [None], {"name": None}])
def test_no_value_anywhere_makes_it_crash(junk):
    """Replace every value of a valid pipeline, one at a time, by junk: diagnostics, never a traceback."""
    def paths(node, prefix=()):
        yield prefix
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in children:
            yield from paths(child, prefix + (key,))

    data = base()
    data["pipeline"]["triggers"] = [{"providerType": "CodeStarSourceConnection", "gitConfiguration": {
        "sourceActionName": "Source", "push": [{"branches": {"includes": ["main"]}}]}}]
    data["pipeline"]["variables"] = [{"name": "a", "defaultValue": "b"}]
    data["pipeline"]["stages"][2]["onFailure"] = {"result": "RETRY", "retryConfiguration": {"retryMode": "ALL_ACTIONS"}}
    for path in list(paths(data))[1:]:
        broken = copy.deepcopy(data)
        node = broken
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = copy.deepcopy(junk)
        result = validate_document(load_json(json.dumps(broken), "pipeline.json"))
        assert isinstance(result, list)
