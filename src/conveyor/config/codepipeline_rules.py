"""The facts a CodePipeline definition is checked against: field patterns, enumerations and, per
known action provider, its category, artifact counts and configuration keys.

Sources: aws-semantics §2.1 (field constraints, from the botocore service model), §2.2 and the
CodePipeline guide's "Valid input and output artifacts for each action type" (artifact counts),
§2.9-2.13 and the per-provider action references (configuration keys).

    spec = provider_spec("AWS", "Deploy", "CodeDeploy")
    spec.inputs          # (1, 1)
    spec.required        # ('ApplicationName', 'DeploymentGroupName')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypedDict

CATEGORIES = ("Source", "Build", "Deploy", "Test", "Invoke", "Approval", "Compute")
OWNERS = ("AWS", "ThirdParty", "Custom")
EXECUTION_MODES = ("QUEUED", "SUPERSEDED", "PARALLEL")
PIPELINE_TYPES = ("V1", "V2")
AWS_DEFAULT_EXECUTION_MODE = "SUPERSEDED"  # api PipelineDeclaration.executionMode

# [api] patterns and lengths; `charset` is how messages describe the pattern to a person.
NAME_RE, NAME_CHARSET = r"[A-Za-z0-9.@\-_]+", "A-Z a-z 0-9 . @ - _"
ARTIFACT_RE, ARTIFACT_CHARSET = r"[A-Za-z0-9_\-]+", "A-Z a-z 0-9 _ -"
NAMESPACE_RE, NAMESPACE_CHARSET = r"[A-Za-z0-9@\-_]+", "A-Z a-z 0-9 @ - _"
VARIABLE_RE, VARIABLE_CHARSET = r"[A-Za-z0-9@\-_]+", "A-Z a-z 0-9 @ - _"
PROVIDER_RE, PROVIDER_CHARSET = r"[0-9A-Za-z_-]+", "A-Z a-z 0-9 _ -"
BUCKET_RE, BUCKET_CHARSET = r"[a-zA-Z0-9\-.]+", "a-z A-Z 0-9 - ."
ROLE_ARN_RE = r"arn:aws(-[\w]+)*:iam::[0-9]{12}:role/.*"
ROLE_ARN_SHAPE = "arn:aws:iam::<12-digit account id>:role/<name>"


class Limits(TypedDict):
    """[api] limits: a maximum (length or count), or an inclusive (minimum, maximum) range."""

    name: int
    stages: tuple[int, int]
    actions_per_stage: tuple[int, int]
    actions: int
    run_order: tuple[int, int]
    config_key: int
    config_value: int
    variables: int
    variable_name: int
    variable_value: int
    variable_description: int
    triggers: int
    trigger_filters: int
    criteria_patterns: int
    timeout_minutes: tuple[int, int]
    role_arn: int
    region: tuple[int, int]
    version: int
    provider: int
    bucket: tuple[int, int]


LIMITS: Limits = {
    "name": 100, "stages": (2, 50), "actions_per_stage": (1, 50), "actions": 500,
    "run_order": (1, 999), "config_key": 50, "config_value": 1000, "variables": 50,
    "variable_name": 128, "variable_value": 1000, "variable_description": 200, "triggers": 50,
    "trigger_filters": 3, "criteria_patterns": 8, "timeout_minutes": (5, 86400), "role_arn": 1024,
    "region": (4, 30), "version": 9, "provider": 35, "bucket": (3, 63),
}

RESERVED_NAMESPACES = ("variables", "codepipeline")
CODEPIPELINE_VARIABLES = ("PipelineExecutionId",)
VARIABLE_REF = re.compile(r"#\{([^.{}]*)\.([^{}]*)\}")

BOOLEAN_STRINGS = ("true", "false")


@dataclass(frozen=True)
class ProviderSpec:
    """One action provider. `keys` is None when we do not hold its full list of optional keys, in
    which case unknown configuration keys are let through rather than guessed at."""

    owner: str
    provider: str
    categories: tuple[str, ...]
    inputs: tuple[int, int]
    outputs: tuple[int, int]
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] | None = ()
    enums: tuple[tuple[str, tuple[str, ...]], ...] = ()
    output_variables: tuple[str, ...] | None = None  # None: decided at run time
    secrets: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...] | None:
        return None if self.optional is None else self.required + self.optional


_BOOL = BOOLEAN_STRINGS
STACKSET_PERMISSION_MODELS = ("SELF_MANAGED", "SERVICE_MANAGED")
STACKSET_AUTO_DEPLOYMENT = ("Enabled", "Disabled", "EnabledWithStackRetention")
_IMAGE_KEYS = tuple(f"Image{n}{k}" for n in range(1, 5) for k in ("ArtifactName", "ContainerName"))

SPECS: tuple[ProviderSpec, ...] = (
    # Source [doc action-reference-*; §2.9]
    ProviderSpec("AWS", "CodeCommit", ("Source",), (0, 0), (1, 1), ("RepositoryName", "BranchName"),
                 ("PollForSourceChanges", "OutputArtifactFormat"),
                 (("PollForSourceChanges", _BOOL), ("OutputArtifactFormat", ("CODE_ZIP", "CODEBUILD_CLONE_REF"))),
                 ("AuthorDate", "BranchName", "CommitId", "CommitMessage", "CommitterDate", "RepositoryName")),
    ProviderSpec("AWS", "CodeStarSourceConnection", ("Source",), (0, 0), (1, 1),
                 ("ConnectionArn", "FullRepositoryId", "BranchName"), ("OutputArtifactFormat", "DetectChanges"),
                 (("DetectChanges", _BOOL), ("OutputArtifactFormat", ("CODE_ZIP", "CODEBUILD_CLONE_REF"))),
                 ("AuthorDate", "BranchName", "CommitId", "CommitMessage", "ConnectionArn", "FullRepositoryName")),
    ProviderSpec("AWS", "S3", ("Source",), (0, 0), (1, 1), ("S3Bucket", "S3ObjectKey"),
                 ("PollForSourceChanges", "AllowOverrideForS3ObjectKey"),
                 (("PollForSourceChanges", _BOOL), ("AllowOverrideForS3ObjectKey", _BOOL)), ("ETag", "VersionId")),
    ProviderSpec("AWS", "ECR", ("Source",), (0, 0), (1, 1), ("RepositoryName",), ("ImageTag",), (),
                 ("ImageDigest", "ImageTag", "ImageURI", "RegistryId", "RepositoryName")),
    ProviderSpec("ThirdParty", "GitHub", ("Source",), (0, 0), (1, 1), ("Owner", "Repo", "Branch", "OAuthToken"),
                 ("PollForSourceChanges",), (("PollForSourceChanges", _BOOL),),
                 ("AuthorDate", "BranchName", "CommitId", "CommitMessage", "CommitterDate", "CommitUrl",
                  "RepositoryName"), secrets=("OAuthToken",)),
    # Build / Test / Compute
    ProviderSpec("AWS", "CodeBuild", ("Build", "Test"), (1, 5), (0, 5), ("ProjectName",),
                 ("PrimarySource", "BatchEnabled", "CombineArtifacts", "EnvironmentVariables"),
                 (("BatchEnabled", _BOOL), ("CombineArtifacts", _BOOL))),
    # [doc action-reference-ECRBuildAndPublish] (V2 only)
    ProviderSpec("AWS", "ECRBuildAndPublish", ("Build",), (1, 1), (0, 0), ("ECRRepositoryName",),
                 ("DockerFilePath", "ImageTags", "RegistryType"), (("RegistryType", ("private", "public")),),
                 ("ECRImageDigestId", "ECRRepositoryName")),
    ProviderSpec("AWS", "DeviceFarm", ("Test",), (1, 1), (0, 0), ("ProjectId", "DevicePoolArn"), None),
    # [doc action-reference-Commands] (V2 only): its settings are the action's commands/outputVariables
    ProviderSpec("AWS", "Commands", ("Compute",), (1, 10), (0, 1), (), None),
    # Approval [§2.11]
    ProviderSpec("AWS", "Manual", ("Approval",), (0, 0), (0, 0), (),
                 ("NotificationArn", "CustomData", "ExternalEntityLink"), output_variables=()),
    # Deploy
    ProviderSpec("AWS", "ECS", ("Deploy",), (1, 1), (0, 0), ("ClusterName", "ServiceName"),
                 ("FileName", "DeploymentTimeout"), output_variables=()),
    ProviderSpec("AWS", "CodeDeployToECS", ("Deploy",), (1, 5), (0, 0),
                 ("ApplicationName", "DeploymentGroupName", "TaskDefinitionTemplateArtifact",
                  "AppSpecTemplateArtifact"), ("TaskDefinitionTemplatePath", "AppSpecTemplatePath") + _IMAGE_KEYS,
                 output_variables=()),
    ProviderSpec("AWS", "CodeDeploy", ("Deploy",), (1, 1), (0, 0), ("ApplicationName", "DeploymentGroupName"),
                 (), output_variables=()),
    ProviderSpec("AWS", "S3", ("Deploy",), (1, 1), (0, 0), ("BucketName", "Extract"),
                 ("ObjectKey", "KMSEncryptionKeyARN", "CannedACL", "CacheControl"), (("Extract", _BOOL),)),
    ProviderSpec("AWS", "CloudFormation", ("Deploy",), (0, 10), (0, 1), ("ActionMode", "StackName"), None,
                 (("ActionMode", ("CHANGE_SET_EXECUTE", "CHANGE_SET_REPLACE", "CREATE_UPDATE", "DELETE_ONLY",
                                  "REPLACE_ON_FAILURE")),)),
    # [doc action-reference-StackSets]: the keys listed there are known, newer ones are let through
    ProviderSpec("AWS", "CloudFormationStackSet", ("Deploy",), (1, 3), (0, 0), ("StackSetName", "TemplatePath"),
                 None, (("PermissionModel", STACKSET_PERMISSION_MODELS),
                        ("OrganizationsAutoDeployment", STACKSET_AUTO_DEPLOYMENT)),
                 output_variables=("OperationId", "StackSetId")),
    ProviderSpec("AWS", "CloudFormationStackInstances", ("Deploy",), (0, 3), (0, 0), ("StackSetName", "Regions"),
                 None, output_variables=("OperationId", "StackSetId")),
    ProviderSpec("AWS", "ElasticBeanstalk", ("Deploy",), (1, 1), (0, 0), ("ApplicationName", "EnvironmentName"), ()),
    ProviderSpec("AWS", "OpsWorks", ("Deploy",), (1, 1), (0, 0), ("Stack",), None),
    ProviderSpec("AWS", "ServiceCatalog", ("Deploy",), (1, 1), (0, 0), (), None),
    ProviderSpec("AWS", "AppConfig", ("Deploy",), (1, 1), (0, 0),
                 ("Application", "Environment", "ConfigurationProfile", "InputArtifactConfigurationPath"),
                 ("DeploymentStrategy",)),
    # [doc action-reference-EKS] (V2 only): Helm (HelmReleaseName + HelmChartLocation) or kubectl (ManifestFiles)
    ProviderSpec("AWS", "EKS", ("Deploy",), (1, 1), (0, 0), ("ClusterName",),
                 ("HelmReleaseName", "HelmChartLocation", "HelmValuesFiles", "ManifestFiles", "Namespace",
                  "SubnetIds", "SecurityGroupIds")),
    # [doc action-reference-EC2Deploy] (V2 only)
    ProviderSpec("AWS", "EC2", ("Deploy",), (1, 1), (0, 0), ("InstanceTagKey", "InstanceType"),
                 ("InstanceTagValue", "TargetDirectory", "DeploySpec", "MaxBatch", "MaxError", "TargetGroupNameList",
                  "PreScript", "PostScript"), (("InstanceType", ("EC2", "SSM_MANAGED_NODE")),)),
    ProviderSpec("ThirdParty", "AlexaSkillsKit", ("Deploy",), (1, 2), (0, 0), (), None),
    # Invoke [doc action-reference-Lambda]
    ProviderSpec("AWS", "Lambda", ("Invoke",), (0, 5), (0, 5), ("FunctionName",), ("UserParameters",)),
    # [doc action-reference-LambdaDeploy] (V2 only): a deploy with traffic shifting, not an invoke
    ProviderSpec("AWS", "Lambda", ("Deploy",), (0, 1), (0, 0), ("FunctionName",),
                 ("FunctionAlias", "PublishedTargetVersion", "DeployStrategy", "Alarms")),
    ProviderSpec("AWS", "StepFunctions", ("Invoke",), (0, 1), (0, 1), ("StateMachineArn",),
                 ("ExecutionNamePrefix", "InputType", "Input"), (("InputType", ("Literal", "FilePath")),),
                 ("StateMachineArn", "ExecutionArn")),
    # [doc action-reference-InspectorScan]: the input is the source to scan (none for an ECR image scan)
    ProviderSpec("AWS", "InspectorScan", ("Invoke",), (0, 1), (1, 1), ("InspectorRunMode",),
                 ("ECRRepositoryName", "ImageTag", "CriticalThreshold", "HighThreshold", "MediumThreshold",
                  "LowThreshold"), (("InspectorRunMode", ("SourceCodeScan", "ECRImageScan")),)),
)

# Action types whose reference page says "only available for V2 type pipelines" (owner AWS).
V2_ONLY_ACTIONS = (("Compute", "Commands"), ("Build", "ECRBuildAndPublish"), ("Deploy", "EKS"), ("Deploy", "EC2"),
                   ("Deploy", "Lambda"))

# Custom actions and third-party actions we hold no table for: the generic limits [doc].
GENERIC_COUNTS = ((0, 5), (0, 5))

CONDITION_RULE_PROVIDERS = ("CloudWatchAlarm", "DeploymentWindow", "VariableCheck", "LambdaInvoke", "Commands")
ON_FAILURE_RESULTS = ("ROLLBACK", "FAIL", "RETRY", "SKIP")
CONDITION_RESULTS = {"beforeEntry": ("FAIL", "SKIP"), "onSuccess": ("ROLLBACK", "FAIL"),
                     "onFailure": ("ROLLBACK", "FAIL", "RETRY", "SKIP")}
RETRY_MODES = ("FAILED_ACTIONS", "ALL_ACTIONS")


def provider_spec(owner: str, category: str, provider: str) -> ProviderSpec | None:
    for spec in SPECS:
        if spec.owner == owner and spec.provider == provider and category in spec.categories:
            return spec
    return None


def providers_of(owner: str, category: str) -> list[str]:
    return [s.provider for s in SPECS if s.owner == owner and category in s.categories]


def categories_of(owner: str, provider: str) -> list[str]:
    return [c for s in SPECS if s.owner == owner and s.provider == provider for c in s.categories]


def count_phrase(bounds: tuple[int, int], noun: str) -> str:
    """(1, 1) -> 'exactly 1 input artifact'; (0, 0) -> 'no input artifacts'; (1, 5) -> '1 to 5 ...'."""
    low, high = bounds
    if high == 0:
        return f"no {noun}s"
    if low == high:
        return f"exactly {low} {noun}" + ("" if low == 1 else "s")
    return f"{low} to {high} {noun}s"


_PLACEHOLDERS = (
    re.compile(r"<[^<>]*>"),            # <ACCOUNT_ID>, <ARN Ihrer ... Rolle>
    re.compile(r"%[A-Za-z_][\w-]*%"),     # %ServiceName%
    re.compile(r"\{\{[^{}]*\}\}"),       # {{account_id}}
    re.compile(r"\$\{[^{}]*\}"),         # ${AccountId}
    re.compile(r"(?<![A-Za-z0-9])(YOUR|your|Your)[_-][A-Za-z]"),
    re.compile(r"(?<![A-Za-z0-9])(REPLACE|Replace|replace)[_-]"),
)
CFN_DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:[a-z-]+:")


def placeholder_in(value: str) -> str | None:
    """The first unfilled template placeholder in `value`, if any.

    >>> placeholder_in("arn:aws:iam::YOUR_ACCOUNT_ID:role/x")
    'YOUR_ACCOUNT_ID'
    """
    for pattern in _PLACEHOLDERS:
        m = pattern.search(value)
        if m:
            if m.group(0).startswith(("YOUR", "your", "Your", "REPLACE", "Replace", "replace")):
                return re.match(r"[\w-]+", value[m.start():]).group(0)  # type: ignore[union-attr]
            return m.group(0)
    return None


def placeholder_note(value: str) -> str:
    """'' or the start of a message explaining that `value` holds a template placeholder.

    >>> placeholder_note("<ROLE_ARN>")
    'it looks like an unfilled template placeholder; '
    """
    found = placeholder_in(value)
    if found is None:
        return ""
    if found == value:
        return "it looks like an unfilled template placeholder; "
    return f"'{found}' looks like an unfilled template placeholder; "


def looks_masked(value: str) -> bool:
    """get-pipeline masks secrets as '****'."""
    return bool(value) and set(value) == {"*"}


# [api] ActionDeclaration / RuleDeclaration / OutputArtifact list and string bounds (botocore
# codepipeline/2015-07-09: CommandList, Command, OutputVariableList, OutputVariable,
# EnvironmentVariableList, EnvironmentVariableName/Value, FilePathList, FilePath, RuleConfigurationMap).
COMMANDS_COUNT, COMMAND_LENGTH = (1, 50), 1000
OUTPUT_VARIABLES_COUNT, OUTPUT_VARIABLE_LENGTH = (1, 15), 128
ENV_COUNT, ENV_VALUE_LENGTH = (1, 10), 2000  # names: conveyor.names.check_pipeline_env_name
FILES_COUNT, FILE_PATH_LENGTH = (1, 10), 128
RULE_CONFIG_ENTRIES, RULE_CONFIG_VALUE_LENGTH = 200, 10000
ENCRYPTION_KEY_ID_LENGTH = 400
BLOCKER_NAME_LENGTH = 100
GIT_PATTERN_LENGTH = 255
PR_EVENTS_COUNT = (1, 3)


@dataclass(frozen=True)
class RuleSpec:
    """A stage-condition rule provider [doc rule-reference-*]: required configuration and enums."""

    provider: str
    required: tuple[str, ...] = ()
    enums: tuple[tuple[str, tuple[str, ...]], ...] = ()


RULE_SPECS: dict[str, RuleSpec] = {r.provider: r for r in (
    RuleSpec("CloudWatchAlarm", ("AlarmName",)),
    RuleSpec("DeploymentWindow", ("Cron",)),
    RuleSpec("VariableCheck", ("Variable", "Value", "Operator"), (("Operator", ("EQ", "CONTAINS", "MATCHES", "NE")),)),
    RuleSpec("LambdaInvoke", ("FunctionName",)),
    RuleSpec("Commands"),
)}
# stage-conditions: "the SKIP result is supported only for the LambdaInvoke and VariableCheck rules".
SKIP_RULE_PROVIDERS = ("LambdaInvoke", "VariableCheck")
