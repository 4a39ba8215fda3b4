"""One CodePipeline action: its shape, action type, configuration and artifact counts (aws-semantics
§2.1-2.2, §2.9-2.11, §3.1, §3.5). What the action means for the rest of the pipeline (artifacts,
namespaces) is returned as an ActionInfo for codepipeline_flow.

    info = check_action(chk, ("pipeline", "stages", 1, "actions", 0), action, 1, "Build")
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from conveyor.config.codepipeline_compute import check_compute_fields, check_output_files
from conveyor.config.codepipeline_providers import check_newer_provider
from conveyor.config.codepipeline_rules import (
    ARTIFACT_CHARSET,
    ARTIFACT_RE,
    CATEGORIES,
    CFN_DYNAMIC_REFERENCE,
    GENERIC_COUNTS,
    LIMITS,
    NAMESPACE_CHARSET,
    NAMESPACE_RE,
    OWNERS,
    PROVIDER_CHARSET,
    PROVIDER_RE,
    ROLE_ARN_RE,
    ROLE_ARN_SHAPE,
    SPECS,
    ProviderSpec,
    categories_of,
    count_phrase,
    looks_masked,
    placeholder_in,
    placeholder_note,
    provider_spec,
    providers_of,
)
from conveyor.documents.checker import Checker, did_you_mean, type_name
from conveyor.documents.json_limited import scan_json
from conveyor.documents.located import KeyPath
from conveyor.errors import ConfigError

ACTION_KEYS = ("name", "actionTypeId", "runOrder", "configuration", "outputArtifacts", "inputArtifacts",
               "roleArn", "region", "namespace", "timeoutInMinutes", "commands", "outputVariables",
               "environmentVariables")
TYPE_KEYS = ("category", "owner", "provider", "version")
ENV_TYPES = ("PLAINTEXT", "PARAMETER_STORE", "SECRETS_MANAGER")


@dataclass
class ActionInfo:
    path: KeyPath
    stage: int
    stage_name: str
    name: str
    category: str | None = None
    owner: str | None = None
    provider: str | None = None
    spec: ProviderSpec | None = None
    run_order: int = 1
    inputs: list[tuple[str, KeyPath]] = field(default_factory=list)
    outputs: list[tuple[str, KeyPath]] = field(default_factory=list)
    namespace: str | None = None
    configuration: dict = field(default_factory=dict)
    region: str | None = None

    @property
    def label(self) -> str:
        return f"action '{self.name}' in stage '{self.stage_name}'"

    def runs_before(self, other: ActionInfo) -> bool:
        """Earlier stage, or same stage with a lower runOrder (aws-semantics §2.1)."""
        return (self.stage, self.run_order) < (other.stage, other.run_order)


def check_action(chk: Checker, path: KeyPath, action: dict, stage: int, stage_name: str) -> ActionInfo:
    name = action.get("name")
    info = ActionInfo(path, stage, stage_name, name if isinstance(name, str) else f"#{path[-1]}")
    chk.keys(path, ACTION_KEYS)
    _action_type(chk, path, info)
    run_order = chk.get(path, "runOrder", int)
    if run_order is not None:
        lo, hi = LIMITS["run_order"]
        if lo <= run_order <= hi:
            info.run_order = run_order
        else:
            chk.error(path + ("runOrder",), f"runOrder must be an integer from {lo} to {hi}, got {run_order}")
    info.inputs = _artifacts(chk, path, "inputArtifacts")
    info.outputs = _artifacts(chk, path, "outputArtifacts", info.provider)
    _counts(chk, path, info)
    namespace = chk.get(path, "namespace", str)
    if namespace is not None:
        if 1 <= len(namespace) <= 100 and re.fullmatch(NAMESPACE_RE, namespace):
            info.namespace = namespace
        else:
            chk.error(path + ("namespace",), f"invalid namespace '{namespace}': expected 1-100 characters of "
                                             f"{NAMESPACE_CHARSET}")
    region = chk.get(path, "region", str)
    if region is not None:
        lo, hi = LIMITS["region"]
        if lo <= len(region) <= hi:
            info.region = region
        else:
            chk.error(path + ("region",), f"invalid region '{region}': expected {lo}-{hi} characters")
    role = chk.get(path, "roleArn", str)
    if role is not None and not (re.fullmatch(ROLE_ARN_RE, role) and len(role) <= LIMITS["role_arn"]):
        why = placeholder_note(role)
        chk.error(path + ("roleArn",), f"invalid roleArn '{role}': {why}expected {ROLE_ARN_SHAPE}")
    timeout = chk.get(path, "timeoutInMinutes", int)
    if timeout is not None:
        lo, hi = LIMITS["timeout_minutes"]
        if not lo <= timeout <= hi:
            chk.error(path + ("timeoutInMinutes",), f"timeoutInMinutes must be from {lo} to {hi}, got {timeout}")
        elif info.provider is not None and info.provider != "Manual":
            chk.warning(path + ("timeoutInMinutes",), f"timeoutInMinutes applies only to Manual approval actions "
                                                      f"(API ActionDeclaration); a {info.provider} action keeps "
                                                      "its own timeout")
    check_compute_fields(chk, path, info.provider, info.owner)
    _configuration(chk, path, info)
    return info


def _action_type(chk: Checker, path: KeyPath, info: ActionInfo) -> None:
    tpath = path + ("actionTypeId",)
    if chk.get(path, "actionTypeId", dict, required=True) is None:
        return
    chk.keys(tpath, TYPE_KEYS)
    values = {k: chk.get(tpath, k, str, required=True) for k in TYPE_KEYS}
    category, owner, provider, version = (values[k] for k in TYPE_KEYS)
    if category is not None and chk.one_of(tpath + ("category",), category, CATEGORIES, "category"):
        info.category = category
    if owner is not None and chk.one_of(tpath + ("owner",), owner, OWNERS, "owner"):
        info.owner = owner
    if provider is not None:
        if 1 <= len(provider) <= LIMITS["provider"] and re.fullmatch(PROVIDER_RE, provider):
            info.provider = provider
        else:
            chk.error(tpath + ("provider",), f"invalid provider '{provider}': expected 1-{LIMITS['provider']} "
                                             f"characters of {PROVIDER_CHARSET}")
    if version is not None and not (1 <= len(version) <= LIMITS["version"] and re.fullmatch(PROVIDER_RE, version)):
        chk.error(tpath + ("version",), f"invalid version '{version}': expected 1-{LIMITS['version']} characters "
                                        f"of {PROVIDER_CHARSET}")
        version = None
    if not (info.category and info.owner and info.provider):
        return
    info.spec = provider_spec(info.owner, info.category, info.provider)
    known = categories_of(info.owner, info.provider)
    if info.spec is None and known:
        chk.error(tpath + ("category",), f"provider {info.provider} is a {' or '.join(known)} action, "
                                         f"not {info.category}")
        info.spec = provider_spec(info.owner, known[0], info.provider)
    elif info.spec is None and info.owner == "AWS":
        choices = providers_of("AWS", info.category)
        hint = did_you_mean(info.provider, choices) or did_you_mean(info.provider, {s.provider for s in SPECS})
        if not hint:
            hint = f"; AWS {info.category} providers are {', '.join(choices)}"
        chk.error(tpath + ("provider",), f"unknown provider '{info.provider}' for category {info.category}{hint}")
    if info.spec is not None and version is not None and version != "1":
        chk.error(tpath + ("version",), f"{info.provider} actions have version '1', got '{version}'")
    if info.spec is not None and info.provider == "GitHub":
        chk.warning(tpath + ("provider",), "GitHub version 1 (OAuth app) source actions are deprecated by AWS; "
                                           "prefer CodeStarSourceConnection")


def _artifacts(chk: Checker, path: KeyPath, key: str, provider: str | None = None) -> list[tuple[str, KeyPath]]:
    items = chk.get(path, key, list)
    out: list[tuple[str, KeyPath]] = []
    seen: set[str] = set()
    for i, item in enumerate(items or []):
        ipath = path + (key, i)
        if not chk.is_type(ipath, item, dict):
            continue
        chk.keys(ipath, ("name", "files") if key == "outputArtifacts" else ("name",))  # files: Commands action
        if key == "outputArtifacts":
            check_output_files(chk, ipath, provider)
        name = chk.get(ipath, "name", str, required=True)
        if name is None:
            continue
        if not (1 <= len(name) <= 100 and re.fullmatch(ARTIFACT_RE, name)):
            chk.error(ipath + ("name",), f"invalid artifact name '{name}': expected 1-100 characters of "
                                         f"{ARTIFACT_CHARSET}")
        elif name in seen:
            chk.error(ipath + ("name",), f"artifact '{name}' is listed twice")
        else:
            seen.add(name)
            out.append((name, ipath + ("name",)))
    return out


def _counts(chk: Checker, path: KeyPath, info: ActionInfo) -> None:
    if info.spec is not None:
        bounds = (info.spec.inputs, info.spec.outputs)
        who = info.spec.provider + (" source" if info.category == "Source" else "")  # == info.provider
    elif info.owner in ("Custom", "ThirdParty") and info.provider:
        bounds, who = GENERIC_COUNTS, f"a {info.owner} action"
    else:
        return
    for key, (lo, hi), got, noun in (("inputArtifacts", bounds[0], info.inputs, "input artifact"),
                                     ("outputArtifacts", bounds[1], info.outputs, "output artifact")):
        if not lo <= len(got) <= hi:
            where = path + (key,) if key in chk.at(path) else path
            chk.error(where, f"{who} takes {count_phrase((lo, hi), noun)}, got {len(got)}")


def _configuration(chk: Checker, path: KeyPath, info: ActionInfo) -> None:
    cpath = path + ("configuration",)
    config = chk.get(path, "configuration", dict)
    spec = info.spec
    if config is None:
        config = {}
    for key, value in config.items():
        kpath = cpath + (key,)
        if len(key) > LIMITS["config_key"]:
            chk.error(kpath, f"configuration key '{key}' is {len(key)} characters long; the limit is "
                             f"{LIMITS['config_key']}")
        if not isinstance(value, str):
            literal = json.dumps(value) if isinstance(value, (bool, int, float)) else None
            fix = f" (write \"{literal}\")" if literal else ""
            chk.error(kpath, f"configuration values must be strings, got {type_name(value)}{fix}")
            continue
        if not value:
            chk.error(kpath, f"{key} is empty: configuration values are 1 to {LIMITS['config_value']} characters "
                             "(API ActionConfigurationValue); leave the key out instead")
            continue
        if len(value) > LIMITS["config_value"]:
            chk.error(kpath, f"configuration value is {len(value)} characters long; the limit is "
                             f"{LIMITS['config_value']}")
        info.configuration[key] = value
        _value_warnings(chk, kpath, key, value, spec)
    if spec is None:
        return
    missing = [k for k in spec.required if k not in config]
    if missing:
        where = cpath if "configuration" in chk.at(path) else path
        chk.error(where, f"{info.provider} action is missing required configuration {', '.join(missing)}")
    if spec.keys is not None:
        for key in config:
            if key not in spec.keys:
                chk.error(cpath + (key,), f"unknown configuration key '{key}' for {info.provider}"
                                          f"{did_you_mean(key, spec.keys)}; expected {', '.join(spec.keys)}")
    for key, choices in spec.enums:
        value = info.configuration.get(key)
        if value is not None and value not in choices:
            chk.one_of(cpath + (key,), value, choices, f"{key} value")
    _provider_rules(chk, cpath, info)
    check_newer_provider(chk, cpath, info)


def _value_warnings(chk: Checker, kpath: KeyPath, key: str, value: str, spec: ProviderSpec | None) -> None:
    secret = spec is not None and key in spec.secrets
    if secret and looks_masked(value):
        chk.warning(kpath, f"{key} is masked ('{value}') as get-pipeline prints it; set the real value before "
                           f"creating the pipeline")
    elif CFN_DYNAMIC_REFERENCE.search(value):
        chk.warning(kpath, f"'{value}' is a CloudFormation dynamic reference; only CloudFormation resolves it, the "
                           f"CLI sends it as written")
    elif (placeholder := placeholder_in(value.replace("#{", "#("))) is not None:
        chk.warning(kpath, f"'{placeholder}' looks like an unfilled template placeholder")


def _provider_rules(chk: Checker, cpath: KeyPath, info: ActionInfo) -> None:
    config, provider = info.configuration, info.provider
    inputs = [name for name, _ in info.inputs]
    if provider == "CodeBuild":
        primary = config.get("PrimarySource")
        if primary is None and len(inputs) > 1:
            chk.error(cpath, f"CodeBuild with {len(inputs)} input artifacts needs PrimarySource (one of "
                             f"{', '.join(inputs)})")
        elif primary is not None and primary not in inputs:
            chk.error(cpath + ("PrimarySource",), f"PrimarySource '{primary}' is not an input artifact of this "
                                                  f"action{did_you_mean(primary, inputs)}")
        if "EnvironmentVariables" in config:
            _codebuild_env(chk, cpath + ("EnvironmentVariables",), config["EnvironmentVariables"])
    elif provider == "CodeDeployToECS":
        for key in ("TaskDefinitionTemplateArtifact", "AppSpecTemplateArtifact") + tuple(
                f"Image{n}ArtifactName" for n in range(1, 5)):
            value = config.get(key)
            if value is not None and value not in inputs:
                chk.error(cpath + (key,), f"{key} '{value}' is not an input artifact of this action"
                                          f"{did_you_mean(value, inputs)}")
        for n in range(1, 5):
            a, c = f"Image{n}ArtifactName", f"Image{n}ContainerName"
            if (a in config) != (c in config):
                have, need = (a, c) if a in config else (c, a)
                chk.error(cpath + (have,), f"{have} needs {need} as well")
    elif provider == "ECS" and "DeploymentTimeout" in config:
        value = config["DeploymentTimeout"]
        if not (value.isdigit() and 1 <= int(value) <= 60):
            chk.error(cpath + ("DeploymentTimeout",), f"DeploymentTimeout is minutes from 1 to 60, got '{value}'")
    elif provider == "GitHub" and config.get("Repo", "").endswith(".git"):
        chk.warning(cpath + ("Repo",), f"Repo is the repository name without '.git' "
                                       f"('{config['Repo'][:-4]}')")


def _codebuild_env(chk: Checker, path: KeyPath, text: str) -> None:
    try:
        scan_json(text, "EnvironmentVariables")
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        chk.error(path, f"EnvironmentVariables must be a JSON array of {{name, value, type}}: {exc.msg} at "
                        f"character {exc.pos + 1}")
        return
    except ConfigError as exc:
        chk.error(path, f"EnvironmentVariables must be a JSON array of {{name, value, type}}: "
                        f"{exc.diagnostics[0].message}")
        return
    if not isinstance(items, list):
        chk.error(path, f"EnvironmentVariables must be a JSON array of {{name, value, type}}, got "
                        f"{type_name(items)}")
        return
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or "value" not in item:
            chk.error(path, f"EnvironmentVariables item {i + 1} must be {{\"name\": ..., \"value\": ...}}")
        elif item.get("type", "PLAINTEXT") not in ENV_TYPES:
            chk.error(path, f"EnvironmentVariables item {i + 1} ('{item['name']}') has type '{item.get('type')}'"
                            f"{did_you_mean(str(item.get('type')), ENV_TYPES)}; expected one of "
                            f"{', '.join(ENV_TYPES)}")


def parse_codebuild_env(text: str) -> list[dict[str, Any]]:
    """The EnvironmentVariables JSON of a CodeBuild action, or [] when it does not parse."""
    try:
        scan_json(text, "EnvironmentVariables")
        items = json.loads(text)
    except (ValueError, ConfigError):  # JSONDecodeError is a ValueError
        return []
    if not isinstance(items, list):
        return []
    return [i for i in items if isinstance(i, dict) and isinstance(i.get("name"), str)]
