"""How the configuration settings of the newer CodePipeline action types combine, from their action
reference pages (docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-<X>.html).

Required keys, known keys, enumerations and artifact counts are in codepipeline_rules.SPECS and are
what CreatePipeline checks. The rules here are those the pages state between settings and about value
formats; CodePipeline checks them when the action runs (the action type declares these settings
optional), so they are warnings: the pipeline is created and the action fails.

    check_newer_provider(chk, ("pipeline", "stages", 2, "actions", 0, "configuration"), info)
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from conveyor.documents.checker import Checker
from conveyor.documents.located import KeyPath

if TYPE_CHECKING:
    from conveyor.config.codepipeline_actions import ActionInfo

# action-reference-LambdaDeploy DeployStrategy: AllAtOnce, Canary<P>Percent<M>Minute(s),
# Linear<P>PercentEvery<M>Minute(s).
LAMBDA_STRATEGY = re.compile(r"AllAtOnce|Canary\d{1,3}Percent\d+Minutes?|Linear\d{1,3}PercentEvery\d+Minutes?")
# action-reference-StackSets StackSetName: letters, digits and hyphens, starting with a letter, ≤128.
STACK_SET_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
VARIABLE = re.compile(r"#\{[^{}]*\}")
# action-reference-CloudFormation: which ActionMode needs which setting, and the capabilities.
CFN_NEEDS = {"ChangeSetName": ("CHANGE_SET_REPLACE", "CHANGE_SET_EXECUTE"),
             "RoleArn": ("CREATE_UPDATE", "REPLACE_ON_FAILURE", "DELETE_ONLY", "CHANGE_SET_REPLACE"),
             "TemplatePath": ("CREATE_UPDATE", "REPLACE_ON_FAILURE", "CHANGE_SET_REPLACE")}
CFN_CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")
ARTIFACT_PATH_KEYS = ("TemplatePath", "TemplateConfiguration", "Parameters", "DeploymentTargets")


def _literal(value: str) -> bool:
    """A value CodePipeline sees as written (no #{...} variable resolved at run time)."""
    return VARIABLE.search(value) is None


def check_newer_provider(chk: Checker, cpath: KeyPath, info: ActionInfo) -> None:
    config, provider, category = info.configuration, info.provider, info.category
    if info.owner != "AWS":
        return
    if provider == "Lambda" and category == "Deploy":
        _lambda_deploy(chk, cpath, config, bool(info.inputs))
    elif provider == "EKS":
        _eks(chk, cpath, config)
    elif provider == "InspectorScan":
        _inspector(chk, cpath, config, bool(info.inputs))
    elif provider == "EC2":
        _ec2(chk, cpath, config)
    elif provider in ("CloudFormationStackSet", "CloudFormationStackInstances"):
        _stack_sets(chk, cpath, config, provider)
    elif provider == "CloudFormation":
        _cloudformation(chk, cpath, config)
    if provider in ("CloudFormation", "CloudFormationStackSet"):
        _artifact_paths(chk, cpath, config, [name for name, _ in info.inputs])


def _lambda_deploy(chk: Checker, cpath: KeyPath, config: dict, has_input: bool) -> None:
    strategy = config.get("DeployStrategy")
    if strategy is not None and _literal(strategy) and not LAMBDA_STRATEGY.fullmatch(strategy):
        chk.warning(cpath + ("DeployStrategy",), f"invalid DeployStrategy '{strategy}': expected AllAtOnce, "
                                               "Canary<percent>Percent<minutes>Minutes (e.g. Canary10Percent5Minutes) "
                                               "or Linear<percent>PercentEvery<minutes>Minutes")
    if not has_input and "PublishedTargetVersion" not in config:
        chk.warning(cpath, "a Lambda deploy action without an input artifact needs PublishedTargetVersion (the "
                         "published version to shift FunctionAlias to)")
    if "FunctionAlias" not in config:
        for key in ("DeployStrategy", "PublishedTargetVersion"):
            if key in config:
                chk.warning(cpath + (key,), f"{key} needs FunctionAlias: without an alias the action deploys to "
                                            "$LATEST and has no deploy strategy or target version")


def _eks(chk: Checker, cpath: KeyPath, config: dict) -> None:
    helm = [k for k in ("HelmReleaseName", "HelmChartLocation") if k in config]
    if "ManifestFiles" in config and (helm or "HelmValuesFiles" in config):
        chk.warning(cpath + ("ManifestFiles",), "choose one deployment tool: ManifestFiles (kubectl) or the Helm "
                                              "settings, not both")
    elif "ManifestFiles" not in config and len(helm) < 2:
        missing = [k for k in ("HelmReleaseName", "HelmChartLocation") if k not in config]
        if helm or "HelmValuesFiles" in config:
            chk.warning(cpath, f"a Helm deployment also needs {', '.join(missing)}")
        else:
            chk.warning(cpath, "EKS action needs ManifestFiles (kubectl) or HelmReleaseName and HelmChartLocation "
                             "(Helm)")


def _inspector(chk: Checker, cpath: KeyPath, config: dict, has_input: bool) -> None:
    mode = config.get("InspectorRunMode")
    if mode == "ECRImageScan":
        for key in ("ECRRepositoryName", "ImageTag"):
            if key not in config:
                chk.warning(cpath, f"InspectorRunMode ECRImageScan needs {key} (the image to scan)")
    elif mode == "SourceCodeScan" and not has_input:
        chk.warning(cpath, "InspectorRunMode SourceCodeScan needs an input artifact (the source code to scan)")
    for key in ("CriticalThreshold", "HighThreshold", "MediumThreshold", "LowThreshold"):
        value = config.get(key)
        if value is not None and _literal(value) and not value.isdigit():
            chk.warning(cpath + (key,), f"{key} is a number of findings (0 or more), got '{value}'")


def _ec2(chk: Checker, cpath: KeyPath, config: dict) -> None:
    if "DeploySpec" not in config and "TargetDirectory" not in config:
        chk.warning(cpath, "EC2 action needs TargetDirectory (with PreScript/PostScript) or DeploySpec")
    for key in ("MaxBatch", "MaxError"):
        value = config.get(key)
        if value is not None and _literal(value) and not re.fullmatch(r"\d+%?", value):
            chk.warning(cpath + (key,), f"{key} is a number of instances or a percentage ('10' or '25%'), got "
                                      f"'{value}'")


def _stack_sets(chk: Checker, cpath: KeyPath, config: dict, provider: str) -> None:
    name = config.get("StackSetName")
    if name is not None and _literal(name) and not STACK_SET_NAME.fullmatch(name):
        chk.warning(cpath + ("StackSetName",), f"invalid StackSetName '{name}': letters, digits and '-', starting "
                                             "with a letter, at most 128 characters")
    for one, other in (("DeploymentTargets", "Regions"), ("Regions", "DeploymentTargets")):
        if one in config and other not in config and provider == "CloudFormationStackSet":
            chk.warning(cpath + (one,), f"{one} needs {other} as well")
    for a, b in (("FailureTolerancePercentage", "FailureToleranceCount"),
                 ("MaxConcurrentPercentage", "MaxConcurrentCount")):
        if a in config and b in config:
            chk.warning(cpath + (b,), f"give {a} or {b}, not both")
    model = config.get("PermissionModel", "SELF_MANAGED")
    if model == "SERVICE_MANAGED":
        for key in ("AdministrationRoleArn", "ExecutionRoleName"):
            if key in config:
                chk.warning(cpath + (key,), f"{key} is for the SELF_MANAGED permission model; SERVICE_MANAGED "
                                            "stack sets use roles StackSets creates")
    elif "OrganizationsAutoDeployment" in config:
        chk.warning(cpath + ("OrganizationsAutoDeployment",), "OrganizationsAutoDeployment is for the "
                                                              "SERVICE_MANAGED permission model")


def _cloudformation(chk: Checker, cpath: KeyPath, config: dict) -> None:
    mode = config.get("ActionMode")
    for key, modes in CFN_NEEDS.items():
        if mode in modes and key not in config:
            chk.warning(cpath, f"ActionMode {mode} needs {key}")
    capabilities = config.get("Capabilities")
    if capabilities is not None and _literal(capabilities):
        for item in capabilities.split(","):
            if item not in CFN_CAPABILITIES:
                chk.warning(cpath + ("Capabilities",), f"unknown capability {item!r}: Capabilities is a "
                                                       "comma-separated list (no spaces) of "
                                                       f"{', '.join(CFN_CAPABILITIES)}")
                break


def _artifact_paths(chk: Checker, cpath: KeyPath, config: dict, inputs: list[str]) -> None:
    """TemplatePath and the other file settings are ArtifactName::FileName, the artifact one of the
    action's inputs (action-reference-CloudFormation, action-reference-StackSets)."""
    for key in ARTIFACT_PATH_KEYS:
        value = config.get(key)
        if value is None or not _literal(value) or "::" not in value:
            continue
        artifact = value.split("::", 1)[0]
        if artifact not in inputs:
            known = f"; the inputs are {', '.join(inputs)}" if inputs else "; the action has no input artifacts"
            chk.warning(cpath + (key,), f"{key} reads from artifact '{artifact}', which is not an input artifact of "
                                        f"this action{known}")
