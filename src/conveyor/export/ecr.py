"""conveyor.yml `repositories:` as ECR repositories (aws-semantics §6): tag mutability and its
exclusion filters, scan on push, the lifecycle policy, named as in conveyor.yml.

They are exported once, in a template of their own, not with every environment: a repository
name is unique in an account and region (two environment stacks there could not both create it),
every environment deploys the images one build pushed, and deleting an environment's stack must
not take the images another environment runs. Create this stack before the first build pushes to
ECR: a build creates a repository that does not exist (ensure_repository), and CloudFormation
cannot create one that does (import it into the stack instead).

    t = repositories_template(definition, notes=notes)   # None without `repositories:`
    repository_names(definition)        # ['orders-service']
"""

from __future__ import annotations

import json
from typing import Any

from conveyor.config.model import PipelineDef, repository_settings
from conveyor.export.naming import logical_ids
from conveyor.export.notes import Notes
from conveyor.export.template import GetAtt, Template

REPOSITORY_KEYS = ("imageTagMutability", "imageTagMutabilityExclusionFilters", "imageScanningConfiguration",
                   "lifecyclePolicy")


def repositories(definition: PipelineDef) -> dict[str, dict[str, Any]]:
    """name -> settings, from the mapping form or the list form (names, or mappings with a name)."""
    return repository_settings(definition.raw)


def repository_names(definition: PipelineDef) -> list[str]:
    return list(repositories(definition))


def repositories_template(definition: PipelineDef, *, notes: Notes) -> Template | None:
    """The ECR repositories of conveyor.yml, one stack for every environment; None when
    conveyor.yml declares none (a template needs a resource)."""
    found = repositories(definition)
    if not found:
        return None
    t = Template(f"{definition.name}: the ECR repositories of conveyor.yml, shared by every environment "
                 "(conveyor export cloudformation)")
    registry = definition.raw.get("registry") or {}
    if registry.get("target", "local") != "aws":
        notes.add("registry.target", f"builds push to the local registry (target: {registry.get('target', 'local')})",
                  "the repositories are exported for ECR; builds push there with registry target: aws")
    ids = logical_ids(found)
    for name, conf in found.items():
        where = f"repositories.{name}"
        for key in conf:
            if key not in REPOSITORY_KEYS:
                notes.add(f"{where}.{key}", f"{key} (not an ECR repository setting)", "left out")
        properties: dict[str, Any] = {"RepositoryName": name,
                                      "ImageTagMutability": conf.get("imageTagMutability", "MUTABLE")}
        filters = conf.get("imageTagMutabilityExclusionFilters") or []
        if filters:
            properties["ImageTagMutabilityExclusionFilters"] = [
                {"ImageTagMutabilityExclusionFilterType": f.get("filterType", "WILDCARD"),
                 "ImageTagMutabilityExclusionFilterValue": f["filter"]} for f in filters]
        scan = (conf.get("imageScanningConfiguration") or {}).get("scanOnPush", False)
        properties["ImageScanningConfiguration"] = {"ScanOnPush": bool(scan)}
        policy = conf.get("lifecyclePolicy")
        if policy:
            # indented (and ending in a newline) so that it renders as a readable YAML block
            properties["LifecyclePolicy"] = {"LifecyclePolicyText": json.dumps(policy, indent=2) + "\n"}
        logical_id = ids[name] + "Repository"
        t.resource(logical_id, "AWS::ECR::Repository", properties, source=where)
        t.output(logical_id + "Uri", GetAtt(logical_id, "RepositoryUri"), f"where builds push {name}")
    return t
