"""conveyor.config.codepipeline against the current CodePipeline API: the newer action types (Commands,
ECRBuildAndPublish, InspectorScan, EKS, EC2, Lambda deploy, StackSets) accepted with their settings,
and the structural and cross-field rules they and the V2 features bring, each named by its source
(botocore codepipeline/2015-07-09 shape, or the API reference / user guide page)."""

from __future__ import annotations

import copy
import json

import pytest

from conveyor.config.codepipeline import validate_document
from conveyor.documents.located import load_json
from tests.config.test_codepipeline_rules import BASE, act

CONN = {"ConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/x",
        "FullRepositoryId": "acme/demo", "BranchName": "main"}


def v2() -> dict:
    data = copy.deepcopy(BASE)
    data["pipeline"]["pipelineType"] = "V2"
    return data


def problems(data: dict, severity: str = "error") -> list[str]:
    doc = load_json(json.dumps(data, indent=2), "pipeline.json")
    return [f"{d.path}: {d.message}" for d in validate_document(doc) if d.severity == severity]


def with_action(action: dict, stage: int = 2, data: dict | None = None) -> dict:
    data = data or v2()
    data["pipeline"]["stages"][stage]["actions"] = [action]
    return data


A = "pipeline.stages[2].actions[0]"

# --- accepted: each newer action type as its reference page declares it ---------------------------

NEWER_ACCEPTED = {
    "action-reference-Commands": act("Package", "Compute", "Commands", None, inputs=["bundle"], outputs=["dist"],
                                     commands=["make dist", "echo done"], outputVariables=["VERSION"],
                                     environmentVariables=[{"name": "STAGE", "value": "prod"}]),
    "action-reference-ECRBuildAndPublish": act("Image", "Build", "ECRBuildAndPublish", {
        "ECRRepositoryName": "web", "DockerFilePath": "docker/", "ImageTags": "latest,v1", "RegistryType": "private"},
        inputs=["bundle"]),
    "action-reference-InspectorScan (source)": act("Scan", "Invoke", "InspectorScan", {
        "InspectorRunMode": "SourceCodeScan", "CriticalThreshold": "0", "HighThreshold": "3"}, inputs=["bundle"],
        outputs=["sbom"]),
    "action-reference-InspectorScan (image)": act("Scan", "Invoke", "InspectorScan", {
        "InspectorRunMode": "ECRImageScan", "ECRRepositoryName": "web", "ImageTag": "latest"}, outputs=["sbom"]),
    "action-reference-EKS (kubectl)": act("Eks", "Deploy", "EKS", {
        "ClusterName": "prod", "ManifestFiles": "k8s/deployment.yaml", "Namespace": "web"}, inputs=["bundle"],
        environmentVariables=[{"name": "IMAGE_TAG", "value": "#{BuildVariables.TAG}"}]),
    "action-reference-EKS (helm)": act("Eks", "Deploy", "EKS", {
        "ClusterName": "prod", "HelmReleaseName": "web", "HelmChartLocation": "charts/web",
        "HelmValuesFiles": "values.yaml", "SubnetIds": "subnet-1,subnet-2", "SecurityGroupIds": "sg-1"},
        inputs=["bundle"]),
    "action-reference-EC2Deploy": act("Ec2", "Deploy", "EC2", {
        "InstanceTagKey": "Name", "InstanceTagValue": "web", "InstanceType": "EC2",
        "TargetDirectory": "/home/ec2-user/deploy", "PreScript": "pre.sh", "PostScript": "post.sh",
        "MaxBatch": "25%", "MaxError": "1", "TargetGroupNameList": "tg-web"}, inputs=["bundle"]),
    "action-reference-LambdaDeploy": act("Fn", "Deploy", "Lambda", {
        "FunctionName": "orders", "FunctionAlias": "live", "DeployStrategy": "Canary10Percent5Minutes",
        "Alarms": "errors"}, inputs=["bundle"]),
    "action-reference-LambdaDeploy (published version, no input)": act("Fn", "Deploy", "Lambda", {
        "FunctionName": "orders", "FunctionAlias": "live", "PublishedTargetVersion": "#{variables.version}",
        "DeployStrategy": "Linear10PercentEvery1Minute"}),
    "action-reference-Lambda (invoke)": act("Fn", "Invoke", "Lambda", {"FunctionName": "smoke",
                                                                       "UserParameters": "{}"}, inputs=["bundle"]),
    "action-reference-StackSets (CloudFormationStackSet)": act("StackSet", "Deploy", "CloudFormationStackSet", {
        "StackSetName": "my-stackset", "TemplatePath": "bundle::template.json", "DeploymentTargets": "111111222222",
        "Regions": "us-east-1,us-west-2", "FailureTolerancePercentage": "20", "MaxConcurrentPercentage": "25",
        "PermissionModel": "SELF_MANAGED", "Capabilities": "CAPABILITY_IAM,CAPABILITY_NAMED_IAM"}, inputs=["bundle"]),
    "action-reference-StackSets (service managed)": act("StackSet", "Deploy", "CloudFormationStackSet", {
        "StackSetName": "stacks-orgs", "TemplatePath": "bundle::template.json", "PermissionModel": "SERVICE_MANAGED",
        "OrganizationsAutoDeployment": "EnabledWithStackRetention"}, inputs=["bundle"]),
    "action-reference-StackSets (CloudFormationStackInstances)": act("Instances", "Deploy",
                                                                     "CloudFormationStackInstances", {
        "StackSetName": "my-stackset", "DeploymentTargets": "111111222222", "Regions": "eu-west-1",
        "ParameterOverrides": "ParameterKey=Stage,ParameterValue=prod"}),
}


@pytest.mark.parametrize("source", sorted(NEWER_ACCEPTED))
def test_newer_action_types_are_accepted_in_a_v2_pipeline(source):
    """Source: the action reference page named in the id (Action type, Configuration parameters, Input and
    Output artifacts)."""
    action = copy.deepcopy(NEWER_ACCEPTED[source])
    data = with_action(action)
    data["pipeline"]["variables"] = [{"name": "version", "defaultValue": "3"}]
    data["pipeline"]["stages"][1]["actions"][0]["namespace"] = "BuildVariables"
    assert problems(data) == [] and problems(data, "warning") == []


def test_stage_conditions_with_every_rule_type_are_accepted():
    """Source: doc stage-conditions and rule-reference-{CloudWatchAlarm,DeploymentWindow,VariableCheck,
    LambdaInvoke,Commands}; botocore RuleDeclaration."""
    def rule(name, provider, config=None, **extra):
        return {"name": name, "ruleTypeId": {"category": "Rule", "owner": "AWS", "provider": provider,
                                             "version": "1"}, "configuration": config or {}, **extra}
    data = v2()
    data["pipeline"]["stages"][2]["beforeEntry"] = {"conditions": [{"result": "SKIP", "rules": [
        rule("Check", "VariableCheck", {"Variable": "#{BuildVariables.X}", "Value": "1", "Operator": "EQ"}),
        rule("Gate", "LambdaInvoke", {"FunctionName": "gate"})]}]}
    data["pipeline"]["stages"][2]["onSuccess"] = {"conditions": [{"result": "ROLLBACK", "rules": [
        rule("Alarm", "CloudWatchAlarm", {"AlarmName": "errors", "WaitTime": "5"}),
        rule("Window", "DeploymentWindow", {"Cron": "0 0 9-17 ? * MON-FRI *", "TimeZone": "UTC"}),
        rule("Smoke", "Commands", commands=["curl -f https://example.com/"], inputArtifacts=[{"name": "bundle"}],
             timeoutInMinutes=10, region="us-east-1", roleArn="arn:aws:iam::123456789012:role/rules")]}]}
    data["pipeline"]["stages"][1]["actions"][0]["namespace"] = "BuildVariables"
    assert problems(data) == []


# --- refused: one rule each -------------------------------------------------------------------------

def _commands(**fields) -> dict:
    out = act("Package", "Compute", "Commands", None, inputs=["bundle"], commands=["make"])
    out.update(fields)
    return out


REFUSED = [
    # botocore CommandList (min 1, max 50) and Command (1-1000)
    ("botocore CommandList max 50", _commands(commands=["true"] * 51),
     f"{A}.commands: commands takes 1 to 50 commands, got 51"),
    ("botocore CommandList min 1", _commands(commands=[]), f"{A}.commands: commands takes 1 to 50 commands, got 0"),
    ("botocore Command max 1000", _commands(commands=["x" * 1001]),
     f"{A}.commands[0]: a command must be 1 to 1000 characters, got 1001"),
    ("API ActionDeclaration.commands: no multi-line formats", _commands(commands=["for f in *; do\n echo $f\ndone"]),
     f"{A}.commands[0]: a command must be one line"),
    # botocore OutputVariableList (1-15), OutputVariable (1-128)
    ("botocore OutputVariableList max 15", _commands(outputVariables=[f"V{i}" for i in range(16)]),
     f"{A}.outputVariables: outputVariables takes 1 to 15 names, got 16"),
    ("botocore OutputVariable max 128", _commands(outputVariables=["V" * 129]),
     f"{A}.outputVariables[0]: an output variable name must be 1 to 128 characters, got 129"),
    # botocore EnvironmentVariableList (1-10), EnvironmentVariableName pattern, EnvironmentVariableValue (1-2000)
    ("botocore EnvironmentVariableList max 10",
     _commands(environmentVariables=[{"name": f"V{i}", "value": "x"} for i in range(11)]),
     f"{A}.environmentVariables: environmentVariables takes 1 to 10 variables, got 11"),
    ("botocore EnvironmentVariableName pattern", _commands(environmentVariables=[{"name": "A;touch /tmp/x",
                                                                                   "value": "1"}]),
     f"{A}.environmentVariables[0].name: environment variable name 'A;touch /tmp/x' is not a valid name: "
     "CodePipeline allows letters, digits and _ ([A-Za-z0-9_]+)"),
    ("botocore EnvironmentVariableValue min 1", _commands(environmentVariables=[{"name": "A", "value": ""}]),
     f"{A}.environmentVariables[0].value: an environment variable value must be 1 to 2000 characters, got 0"),
    ("botocore EnvironmentVariableType enum", _commands(environmentVariables=[{"name": "A", "value": "x",
                                                                               "type": "PARAMETER_STORE"}]),
     f"{A}.environmentVariables[0].type: unknown environment variable type 'PARAMETER_STORE'; expected one of "
     "PLAINTEXT, SECRETS_MANAGER"),
    # botocore FilePathList (1-10), FilePath (1-128)
    ("botocore FilePathList max 10", _commands(outputArtifacts=[{"name": "dist", "files": [f"f{i}" for i in
                                                                                          range(11)]}]),
     f"{A}.outputArtifacts[0].files: files takes 1 to 10 paths, got 11"),
    ("botocore FilePath max 128", _commands(outputArtifacts=[{"name": "dist", "files": ["d/" * 65]}]),
     f"{A}.outputArtifacts[0].files[0]: a file path must be 1 to 128 characters, got 130"),
    ("botocore RoleArn max 1024 (action)", _commands(roleArn="arn:aws:iam::123456789012:role/" + "r" * 1000),
     f"{A}.roleArn: invalid roleArn"),
    # botocore ActionConfigurationValue min 1
    ("botocore ActionConfigurationValue min 1", act("D", "Deploy", "ECS", {"ClusterName": "c", "ServiceName": "s",
                                                                           "FileName": ""}, inputs=["bundle"]),
     f"{A}.configuration.FileName: FileName is empty: configuration values are 1 to 1000 characters (API "
     "ActionConfigurationValue); leave the key out instead"),
    # action-reference-ECRBuildAndPublish: RegistryType private | public, 1 input, 0 outputs
    ("action-reference-ECRBuildAndPublish RegistryType", act("Image", "Build", "ECRBuildAndPublish", {
        "ECRRepositoryName": "web", "RegistryType": "PRIVATE"}, inputs=["bundle"]),
     f"{A}.configuration.RegistryType: unknown RegistryType value 'PRIVATE' (did you mean 'private'?)"),
    ("action-reference-ECRBuildAndPublish output artifacts", act("Image", "Build", "ECRBuildAndPublish", {
        "ECRRepositoryName": "web"}, inputs=["bundle"], outputs=["img"]),
     f"{A}.outputArtifacts: ECRBuildAndPublish takes no output artifacts, got 1"),
    ("action-reference-ECRBuildAndPublish ECRRepositoryName", act("Image", "Build", "ECRBuildAndPublish", {
        "DockerFilePath": "."}, inputs=["bundle"]),
     f"{A}.configuration: ECRBuildAndPublish action is missing required configuration ECRRepositoryName"),
    # action-reference-InspectorScan: InspectorRunMode required, SourceCodeScan | ECRImageScan, 1 output
    ("action-reference-InspectorScan InspectorRunMode", act("Scan", "Invoke", "InspectorScan", {
        "InspectorRunMode": "ImageScan"}, outputs=["sbom"]),
     f"{A}.configuration.InspectorRunMode: unknown InspectorRunMode value 'ImageScan' (did you mean "
     "'ECRImageScan'?)"),
    ("action-reference-InspectorScan output artifact", act("Scan", "Invoke", "InspectorScan", {
        "InspectorRunMode": "SourceCodeScan"}, inputs=["bundle"]),
     f"{A}.outputArtifacts: InspectorScan takes exactly 1 output artifact, got 0"),
    # action-reference-EKS: ClusterName required; unknown keys refused now that the list is known
    ("action-reference-EKS ClusterName", act("Eks", "Deploy", "EKS", {"ManifestFiles": "k8s.yaml"},
                                             inputs=["bundle"]),
     f"{A}.configuration: EKS action is missing required configuration ClusterName"),
    ("action-reference-EKS configuration keys", act("Eks", "Deploy", "EKS", {"ClusterName": "c",
                                                                             "ManifestFile": "k8s.yaml"},
                                                    inputs=["bundle"]),
     f"{A}.configuration.ManifestFile: unknown configuration key 'ManifestFile' for EKS (did you mean "
     "'ManifestFiles'?)"),
    # action-reference-EC2Deploy: InstanceTagKey and InstanceType required, InstanceType EC2 | SSM_MANAGED_NODE
    ("action-reference-EC2Deploy InstanceType", act("Ec2", "Deploy", "EC2", {
        "InstanceTagKey": "Name", "InstanceType": "SSM", "TargetDirectory": "/srv"}, inputs=["bundle"]),
     f"{A}.configuration.InstanceType: unknown InstanceType value 'SSM'; expected one of EC2, SSM_MANAGED_NODE"),
    ("action-reference-EC2Deploy required", act("Ec2", "Deploy", "EC2", {"TargetDirectory": "/srv"},
                                                inputs=["bundle"]),
     f"{A}.configuration: EC2 action is missing required configuration InstanceTagKey, InstanceType"),
    # action-reference-LambdaDeploy: its own keys (an invoke's UserParameters is not one), 0-1 inputs, no outputs
    ("action-reference-LambdaDeploy keys", act("Fn", "Deploy", "Lambda", {"FunctionName": "f",
                                                                          "UserParameters": "x"}, inputs=["bundle"]),
     f"{A}.configuration.UserParameters: unknown configuration key 'UserParameters' for Lambda"),
    ("action-reference-LambdaDeploy outputs", act("Fn", "Deploy", "Lambda", {"FunctionName": "f"},
                                                  inputs=["bundle"], outputs=["out"]),
     f"{A}.outputArtifacts: Lambda takes no output artifacts, got 1"),
    ("action-reference-Lambda invoke keys", act("Fn", "Invoke", "Lambda", {"FunctionName": "f",
                                                                           "FunctionAlias": "live"}),
     f"{A}.configuration.FunctionAlias: unknown configuration key 'FunctionAlias' for Lambda"),
    # action-reference-StackSets: PermissionModel and OrganizationsAutoDeployment enums
    ("action-reference-StackSets PermissionModel", act("S", "Deploy", "CloudFormationStackSet", {
        "StackSetName": "s", "TemplatePath": "bundle::t.json", "PermissionModel": "SELF"}, inputs=["bundle"]),
     f"{A}.configuration.PermissionModel: unknown PermissionModel value 'SELF'"),
    ("action-reference-StackSets OrganizationsAutoDeployment", act("S", "Deploy", "CloudFormationStackSet", {
        "StackSetName": "s", "TemplatePath": "bundle::t.json", "PermissionModel": "SERVICE_MANAGED",
        "OrganizationsAutoDeployment": "true"}, inputs=["bundle"]),
     f"{A}.configuration.OrganizationsAutoDeployment: unknown OrganizationsAutoDeployment value 'true'"),
]


@pytest.mark.parametrize("source, action, expected", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_action_declarations(source, action, expected):
    errors = problems(with_action(copy.deepcopy(action)))
    assert any(e.startswith(expected) for e in errors), errors


WARNED = [
    ("action-reference-LambdaDeploy DeployStrategy", act("Fn", "Deploy", "Lambda", {
        "FunctionName": "f", "FunctionAlias": "live", "DeployStrategy": "Canary10Percent"}, inputs=["bundle"]),
     f"{A}.configuration.DeployStrategy: invalid DeployStrategy 'Canary10Percent'"),
    ("action-reference-LambdaDeploy PublishedTargetVersion without input", act("Fn", "Deploy", "Lambda", {
        "FunctionName": "f", "FunctionAlias": "live"}),
     f"{A}.configuration: a Lambda deploy action without an input artifact needs PublishedTargetVersion"),
    ("action-reference-LambdaDeploy FunctionAlias", act("Fn", "Deploy", "Lambda", {
        "FunctionName": "f", "DeployStrategy": "AllAtOnce"}, inputs=["bundle"]),
     f"{A}.configuration.DeployStrategy: DeployStrategy needs FunctionAlias"),
    ("action-reference-EKS Helm or kubectl", act("Eks", "Deploy", "EKS", {"ClusterName": "c"}, inputs=["bundle"]),
     f"{A}.configuration: EKS action needs ManifestFiles (kubectl) or HelmReleaseName and HelmChartLocation"),
    ("action-reference-EKS Helm needs both", act("Eks", "Deploy", "EKS", {"ClusterName": "c",
                                                                          "HelmReleaseName": "web"},
                                                 inputs=["bundle"]),
     f"{A}.configuration: a Helm deployment also needs HelmChartLocation"),
    ("action-reference-EKS one tool", act("Eks", "Deploy", "EKS", {"ClusterName": "c", "ManifestFiles": "k.yaml",
                                                                   "HelmReleaseName": "web",
                                                                   "HelmChartLocation": "c"}, inputs=["bundle"]),
     f"{A}.configuration.ManifestFiles: choose one deployment tool"),
    ("action-reference-InspectorScan ECRImageScan needs the image", act("Scan", "Invoke", "InspectorScan", {
        "InspectorRunMode": "ECRImageScan", "ECRRepositoryName": "web"}, outputs=["sbom"]),
     f"{A}.configuration: InspectorRunMode ECRImageScan needs ImageTag"),
    ("action-reference-InspectorScan SourceCodeScan needs the source", act("Scan", "Invoke", "InspectorScan", {
        "InspectorRunMode": "SourceCodeScan"}, outputs=["sbom"]),
     f"{A}.configuration: InspectorRunMode SourceCodeScan needs an input artifact"),
    ("action-reference-InspectorScan thresholds", act("Scan", "Invoke", "InspectorScan", {
        "InspectorRunMode": "SourceCodeScan", "HighThreshold": "many"}, inputs=["bundle"], outputs=["sbom"]),
     f"{A}.configuration.HighThreshold: HighThreshold is a number of findings"),
    ("action-reference-EC2Deploy target", act("Ec2", "Deploy", "EC2", {"InstanceTagKey": "Name",
                                                                       "InstanceType": "EC2"}, inputs=["bundle"]),
     f"{A}.configuration: EC2 action needs TargetDirectory"),
    ("action-reference-EC2Deploy MaxBatch", act("Ec2", "Deploy", "EC2", {
        "InstanceTagKey": "Name", "InstanceType": "EC2", "TargetDirectory": "/srv", "MaxBatch": "half"},
        inputs=["bundle"]), f"{A}.configuration.MaxBatch: MaxBatch is a number of instances or a percentage"),
    ("action-reference-StackSets StackSetName", act("S", "Deploy", "CloudFormationStackSet", {
        "StackSetName": "1-stack_set", "TemplatePath": "bundle::t.json"}, inputs=["bundle"]),
     f"{A}.configuration.StackSetName: invalid StackSetName '1-stack_set'"),
    ("action-reference-StackSets DeploymentTargets needs Regions", act("S", "Deploy", "CloudFormationStackSet", {
        "StackSetName": "s", "TemplatePath": "bundle::t.json", "DeploymentTargets": "111111222222"},
        inputs=["bundle"]), f"{A}.configuration.DeploymentTargets: DeploymentTargets needs Regions as well"),
    ("action-reference-StackSets roles are SELF_MANAGED", act("S", "Deploy", "CloudFormationStackSet", {
        "StackSetName": "s", "TemplatePath": "bundle::t.json", "PermissionModel": "SERVICE_MANAGED",
        "ExecutionRoleName": "x"}, inputs=["bundle"]),
     f"{A}.configuration.ExecutionRoleName: ExecutionRoleName is for the SELF_MANAGED permission model"),
    ("action-reference-StackSets auto deployment is SERVICE_MANAGED", act("S", "Deploy", "CloudFormationStackSet", {
        "StackSetName": "s", "TemplatePath": "bundle::t.json", "OrganizationsAutoDeployment": "Enabled"},
        inputs=["bundle"]),
     f"{A}.configuration.OrganizationsAutoDeployment: OrganizationsAutoDeployment is for the SERVICE_MANAGED"),
    ("action-reference-CloudFormation RoleArn for CREATE_UPDATE", act("Stack", "Deploy", "CloudFormation", {
        "ActionMode": "CREATE_UPDATE", "StackName": "s", "TemplatePath": "bundle::t.yml"}, inputs=["bundle"]),
     f"{A}.configuration: ActionMode CREATE_UPDATE needs RoleArn"),
    ("action-reference-CloudFormation ChangeSetName for CHANGE_SET_EXECUTE", act("Stack", "Deploy", "CloudFormation", {
        "ActionMode": "CHANGE_SET_EXECUTE", "StackName": "s"}), f"{A}.configuration: ActionMode CHANGE_SET_EXECUTE "
                                                                 "needs ChangeSetName"),
    ("action-reference-CloudFormation Capabilities", act("Stack", "Deploy", "CloudFormation", {
        "ActionMode": "DELETE_ONLY", "StackName": "s", "RoleArn": "arn:aws:iam::123456789012:role/cfn",
        "Capabilities": "CAPABILITY_IAM, CAPABILITY_AUTO_EXPAND"}),
     f"{A}.configuration.Capabilities: unknown capability ' CAPABILITY_AUTO_EXPAND'"),
    ("action-reference-CloudFormation TemplatePath names an input artifact", act("Stack", "Deploy", "CloudFormation", {
        "ActionMode": "CREATE_UPDATE", "StackName": "s", "RoleArn": "arn:aws:iam::123456789012:role/cfn",
        "TemplatePath": "BuildOutput::t.yml"}, inputs=["bundle"]),
     f"{A}.configuration.TemplatePath: TemplatePath reads from artifact 'BuildOutput', which is not an input "
     "artifact of this action; the inputs are bundle"),
    ("API ActionDeclaration.timeoutInMinutes: manual approval only", act("D", "Deploy", "ECS", {
        "ClusterName": "c", "ServiceName": "s"}, inputs=["bundle"], timeoutInMinutes=30),
     f"{A}.timeoutInMinutes: timeoutInMinutes applies only to Manual approval actions"),
    ("API ActionDeclaration.commands: compute action only", act("D", "Deploy", "ECS", {
        "ClusterName": "c", "ServiceName": "s"}, inputs=["bundle"], commands=["echo"]),
     f"{A}.commands: only the Commands action runs 'commands'"),
]


@pytest.mark.parametrize("source, action, expected", WARNED, ids=[w[0] for w in WARNED])
def test_what_fails_when_the_action_runs_is_a_warning(source, action, expected):
    """CodePipeline creates the pipeline (the action type declares these settings optional); the action fails."""
    data = with_action(copy.deepcopy(action))
    assert problems(data) == []
    warnings = problems(data, "warning")
    assert any(w.startswith(expected) for w in warnings), warnings


@pytest.mark.parametrize("provider_action", [
    act("Package", "Compute", "Commands", None, inputs=["bundle"], commands=["make"]),
    act("Image", "Build", "ECRBuildAndPublish", {"ECRRepositoryName": "web"}, inputs=["bundle"]),
    act("Eks", "Deploy", "EKS", {"ClusterName": "c", "ManifestFiles": "k.yaml"}, inputs=["bundle"]),
    act("Ec2", "Deploy", "EC2", {"InstanceTagKey": "Name", "InstanceType": "EC2", "TargetDirectory": "/srv"},
        inputs=["bundle"]),
    act("Fn", "Deploy", "Lambda", {"FunctionName": "f"}, inputs=["bundle"]),
], ids=["Commands", "ECRBuildAndPublish", "EKS", "EC2", "LambdaDeploy"])
def test_v2_only_action_types_in_a_v1_pipeline(provider_action):
    """Source: each action reference page, "This action is only available for V2 type pipelines"."""
    data = with_action(copy.deepcopy(provider_action))
    assert problems(data) == []
    data["pipeline"]["pipelineType"] = "V1"
    provider = provider_action["actionTypeId"]["provider"]
    assert [e for e in problems(data) if e.startswith(f"{A}.actionTypeId.provider")] == [
        f"{A}.actionTypeId.provider: the {provider} {provider_action['actionTypeId']['category'].lower()} action is "
        "only available in V2 pipelines (this pipeline declares V1)"]
    del data["pipeline"]["pipelineType"]  # using a V2 feature makes the pipeline V2 (API PipelineDeclaration)
    assert problems(data) == []


@pytest.mark.parametrize("key, value", [
    ("onFailure", {"result": "ROLLBACK"}),
    ("onFailure", {"result": "RETRY", "retryConfiguration": {"retryMode": "FAILED_ACTIONS"}}),
    ("beforeEntry", {"conditions": [{"result": "FAIL", "rules": [{"name": "W", "ruleTypeId": {
        "category": "Rule", "owner": "AWS", "provider": "DeploymentWindow", "version": "1"},
        "configuration": {"Cron": "0 0 9 ? * MON *"}}]}]}),
])
def test_stage_conditions_need_v2(key, value):
    """Source: aws-semantics §2.3 / doc stage-conditions, stage-rollback-auto, stage-retry (V2 features)."""
    data = copy.deepcopy(BASE)
    data["pipeline"]["pipelineType"] = "V1"
    data["pipeline"]["stages"][2][key] = value
    assert problems(data) == [f"pipeline.stages[2].{key}: {key} needs pipelineType V2 (this pipeline declares V1)"]


def _rule(provider, config=None, **extra):
    return {"name": "R", "ruleTypeId": {"category": "Rule", "owner": "AWS", "provider": provider, "version": "1"},
            "configuration": {} if config is None else config, **extra}


RULES_REFUSED = [
    ("rule-reference-CloudWatchAlarm AlarmName", "onSuccess", "ROLLBACK", _rule("CloudWatchAlarm"),
     "rules[0].configuration: CloudWatchAlarm rule is missing required configuration AlarmName"),
    ("rule-reference-DeploymentWindow Cron", "onSuccess", "FAIL", _rule("DeploymentWindow", {"TimeZone": "UTC"}),
     "rules[0].configuration: DeploymentWindow rule is missing required configuration Cron"),
    ("rule-reference-VariableCheck required", "beforeEntry", "FAIL", _rule("VariableCheck", {"Variable": "x"}),
     "rules[0].configuration: VariableCheck rule is missing required configuration Value, Operator"),
    ("rule-reference-VariableCheck Operator", "beforeEntry", "FAIL",
     _rule("VariableCheck", {"Variable": "x", "Value": "1", "Operator": "GT"}),
     "rules[0].configuration.Operator: unknown Operator value 'GT'; expected one of EQ, CONTAINS, MATCHES, NE"),
    ("rule-reference-LambdaInvoke FunctionName", "onSuccess", "FAIL", _rule("LambdaInvoke"),
     "rules[0].configuration: LambdaInvoke rule is missing required configuration FunctionName"),
    ("rule-reference-Commands commands", "onSuccess", "FAIL", _rule("Commands"),
     "rules[0]: Commands rule is missing 'commands'"),
    ("doc stage-conditions: SKIP takes LambdaInvoke and VariableCheck rules", "beforeEntry", "SKIP",
     _rule("CloudWatchAlarm", {"AlarmName": "a"}),
     "rules[0].ruleTypeId.provider: a beforeEntry condition with result SKIP takes only LambdaInvoke and "
     "VariableCheck rules, not CloudWatchAlarm"),
    ("botocore RuleName pattern", "onSuccess", "FAIL", _rule("LambdaInvoke", {"FunctionName": "f"}) | {"name": "a b"},
     "rules[0].name: invalid rule name 'a b'"),
    ("botocore RuleTimeout 5-86400", "onSuccess", "FAIL", _rule("LambdaInvoke", {"FunctionName": "f"},
                                                                 timeoutInMinutes=1),
     "rules[0].timeoutInMinutes: timeoutInMinutes must be from 5 to 86400, got 1"),
    ("botocore RuleDeclaration.roleArn pattern", "onSuccess", "FAIL",
     _rule("LambdaInvoke", {"FunctionName": "f"}, roleArn="arn:aws:iam::123:role/x"),
     "rules[0].roleArn: invalid roleArn 'arn:aws:iam::123:role/x'"),
    ("botocore RuleConfigurationValue min 1", "onSuccess", "FAIL", _rule("LambdaInvoke", {"FunctionName": ""}),
     "rules[0].configuration.FunctionName: rule configuration values are 1 to 10000 characters, got 0"),
    ("botocore RuleDeclaration.commands CommandList", "onSuccess", "FAIL", _rule("Commands", commands=[]),
     "rules[0].commands: commands takes 1 to 50 commands, got 0"),
    ("botocore Version pattern", "onSuccess", "FAIL",
     _rule("LambdaInvoke", {"FunctionName": "f"}) | {"ruleTypeId": {"category": "Rule", "provider": "LambdaInvoke",
                                                                    "version": "1.0"}},
     "rules[0].ruleTypeId.version: invalid version '1.0'"),
]


@pytest.mark.parametrize("source, key, result, rule, expected", RULES_REFUSED, ids=[r[0] for r in RULES_REFUSED])
def test_refused_rules(source, key, result, rule, expected):
    data = v2()
    data["pipeline"]["stages"][2][key] = {"conditions": [{"result": result, "rules": [copy.deepcopy(rule)]}]}
    errors = problems(data)
    assert any(e.startswith(f"pipeline.stages[2].{key}.conditions[0].{expected}") for e in errors), errors


@pytest.mark.parametrize("edit, expected", [
    (lambda p: p["stages"][2].update(blockers=[{"name": "b" * 101, "type": "Schedule"}]),
     "pipeline.stages[2].blockers[0].name: a blocker name is 1 to 100 characters (API BlockerName), got 101"),
    (lambda p: p["artifactStore"].update(encryptionKey={"id": "k" * 401, "type": "KMS"}),
     "pipeline.artifactStore.encryptionKey.id: encryptionKey id must be 1 to 400 characters (API EncryptionKeyId), "
     "got 401"),
    (lambda p: p.update(triggers=[{"providerType": "CodeStarSourceConnection", "gitConfiguration": {
        "sourceActionName": "Source", "push": [{"branches": {"includes": ["b" * 256]}}]}}]),
     "pipeline.triggers[0].gitConfiguration.push[0].branches.includes[0]: a pattern is 1 to 255 characters"),
    (lambda p: p.update(triggers=[{"providerType": "CodeStarSourceConnection", "gitConfiguration": {
        "sourceActionName": "Source", "push": [{"tags": {"includes": [""]}}]}}]),
     "pipeline.triggers[0].gitConfiguration.push[0].tags.includes[0]: a pattern is 1 to 255 characters"),
    (lambda p: p.update(triggers=[{"providerType": "CodeStarSourceConnection", "gitConfiguration": {
        "sourceActionName": "Source", "pullRequest": [{"events": []}]}}]),
     "pipeline.triggers[0].gitConfiguration.pullRequest[0].events: events takes 1 to 3 event types"),
])
def test_pipeline_level_bounds(edit, expected):
    """Sources: botocore BlockerName (1-100), EncryptionKeyId (1-400), GitBranchNamePattern / GitTagNamePattern
    (1-255), GitPullRequestEventTypeList (1-3)."""
    data = v2()
    edit(data["pipeline"])
    errors = problems(data)
    assert any(e.startswith(expected) for e in errors), errors


@pytest.mark.parametrize("source", sorted(NEWER_ACCEPTED))
def test_newer_action_types_import_with_a_reason_or_a_mapping(source, tmp_path):
    """conveyor import: a pipeline holding a newer action type imports without diagnostics; an action with
    no local equivalent is listed with the reason (Commands maps to a Command action)."""
    from conveyor.config.importer import import_codepipeline

    data = with_action(copy.deepcopy(NEWER_ACCEPTED[source]))
    data["pipeline"]["variables"] = [{"name": "version", "defaultValue": "3"}]
    path = tmp_path / "pipeline.json"
    path.write_text(json.dumps(data))
    result = import_codepipeline(path)
    assert result.diagnostics == []
    name = NEWER_ACCEPTED[source]["name"]
    dropped = [u for u in result.unmapped if f"action {name}:" in u]
    if NEWER_ACCEPTED[source]["actionTypeId"]["provider"] == "Commands":
        assert dropped == []
    else:
        assert len(dropped) == 1 and "no local equivalent" in dropped[0]


@pytest.mark.parametrize("junk", [None, [], {}, 0, "", "x", True, [None], {"name": None}, "a\nb"])
def test_no_value_anywhere_in_the_newer_structures_makes_it_crash(junk):
    """Every value of a V2 pipeline holding the newer actions and stage rules, replaced by junk one at a
    time: diagnostics, never a traceback."""
    def paths(node, prefix=()):
        yield prefix
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in children:
            yield from paths(child, prefix + (key,))

    data = v2()
    stage = data["pipeline"]["stages"][2]
    stage["actions"] = [copy.deepcopy(NEWER_ACCEPTED[k]) for k in (
        "action-reference-Commands", "action-reference-EKS (helm)", "action-reference-LambdaDeploy",
        "action-reference-StackSets (CloudFormationStackSet)")]
    stage["actions"][0]["outputArtifacts"] = [{"name": "dist", "files": ["a/**"]}]
    stage["beforeEntry"] = {"conditions": [{"result": "SKIP", "rules": [
        {"name": "V", "ruleTypeId": {"category": "Rule", "owner": "AWS", "provider": "VariableCheck", "version": "1"},
         "configuration": {"Variable": "a", "Value": "b", "Operator": "EQ"}}]}]}
    stage["onSuccess"] = {"conditions": [{"result": "FAIL", "rules": [
        {"name": "C", "ruleTypeId": {"category": "Rule", "provider": "Commands"}, "commands": ["true"],
         "inputArtifacts": [{"name": "bundle"}], "timeoutInMinutes": 5}]}]}
    for path in list(paths(data))[1:]:
        broken = copy.deepcopy(data)
        node = broken
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = copy.deepcopy(junk)
        assert isinstance(validate_document(load_json(json.dumps(broken), "pipeline.json")), list)
