"""What the pipeline export tests share: where the example, fixtures and corpus are, an export
(template and notes), cfn-lint, the round trip through `conveyor import codepipeline`, and a
canonical form of a pipeline (every default filled in, as Conveyor runs it) to compare two
conveyor.yml files by."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cfnlint.api import lint as cfn_lint
from cfnlint.config import ManualArgs

from conveyor.config.importer import ImportResult, import_codepipeline
from conveyor.config.model import PipelineDef
from conveyor.config.pipeline import check_document, load_pipeline
from conveyor.documents.located import load_text
from conveyor.export.notes import Notes
from conveyor.export.pipeline import pipeline_template
from conveyor.export.pipeline_json import pipeline_json
from conveyor.export.template import Template

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "orders-service"
GOLDEN = EXAMPLE / "aws" / "pipeline.yaml"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CORPUS = REPO.parent / "shared" / "corpus" / "pipeline-json"
CONNECTION = "arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d-example"


def export(root: Path, environments_in_aws: list[str] | None = None) -> tuple[Template, Notes]:
    notes = Notes()
    template = pipeline_template(load_pipeline(root / "conveyor.yml"), notes=notes, root=root,
                                 environments_in_aws=environments_in_aws)
    return template, notes


def lint(template: Template) -> list[str]:
    """cfn-lint's findings (errors, warnings and informational), as 'ID message (line N)'."""
    matches = cfn_lint(template.render(), config=ManualArgs(regions=["us-east-1"], include_checks=["I"]))
    return [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches]


def round_trip(definition: PipelineDef, tmp: Path, root: Path | None = None,
               environments_in_aws: list[str] | None = None) -> tuple[ImportResult, PipelineDef, list[str]]:
    """conveyor.yml -> template -> get-pipeline JSON -> conveyor import -> conveyor.yml, with the
    errors `conveyor validate` finds in the imported file."""
    template = pipeline_template(definition, notes=Notes(), root=root, environments_in_aws=environments_in_aws)
    path = tmp / f"{definition.name}.json"
    path.write_text(json.dumps(pipeline_json(template, parameters={"ConnectionArn": CONNECTION}), indent=2))
    result = import_codepipeline(path)
    doc = load_text(result.text, "conveyor.yml")
    errors = [f"{d.path}: {d.message}" for d in check_document(doc) if d.severity == "error"]
    return result, PipelineDef.from_data(doc.data), errors


def canonical(definition: PipelineDef) -> dict[str, Any]:
    """The pipeline part of a definition with Conveyor's own defaults written out: a CodeBuild
    project is the pipeline's name (actions/codebuild.py), the primary source and the blue/green
    template artifacts are the first input, a trigger without branches takes every branch."""
    stages = []
    for stage in definition.stages:
        actions = []
        for a in stage.actions:
            conf = dict(a.configuration)
            first = a.input_artifacts[0] if a.input_artifacts else None
            if a.provider == "CodeBuild":
                conf.setdefault("projectName", definition.name)
            if a.provider in ("CodeBuild", "Command") and first:
                conf.setdefault("primarySource", first)
            if a.provider == "CodeDeployToECS" and first:
                conf.setdefault("taskDefinitionTemplateArtifact", first)
                conf.setdefault("appSpecTemplateArtifact", first)
            actions.append({"provider": a.provider, "category": a.category, "runOrder": a.run_order,
                            "configuration": conf, "inputArtifacts": list(a.input_artifacts),
                            "outputArtifacts": list(a.output_artifacts), "namespace": a.namespace,
                            "timeoutInMinutes": a.timeout_minutes, "name": a.name})
        stages.append({"name": stage.name, "actions": actions})
    return {
        "executionMode": definition.execution_mode,
        "variables": [{"name": v.name, "defaultValue": v.default, "description": v.description}
                      for v in definition.variables],
        "triggers": [_trigger(t) for t in definition.triggers],
        "stages": stages,
    }


def _every_branch(branches: Any) -> Any:
    return branches if branches and branches[0] else (("**",), branches[1] if branches else ())


def _trigger(t: Any) -> dict[str, Any]:
    """A trigger without branches takes every branch (a tag trigger has none to take)."""
    pr = t.pull_request
    return {"source": t.source, "branches": _every_branch(t.branches) if t.tags is None and pr is None else None,
            "paths": t.paths, "tags": t.tags,
            "pullRequest": None if pr is None else {"events": pr.events, "branches": _every_branch(pr.branches),
                                                    "paths": pr.paths}}


def differences(before: Any, after: Any, path: str = "") -> list[str]:
    """Where two canonical pipelines differ: 'stages[1].actions[0].configuration.image: x -> None'."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in list(before) + [k for k in after if k not in before]:
            out += differences(before.get(key), after.get(key), f"{path}.{key}" if path else str(key))
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        pairs = enumerate(zip(before, after, strict=True))
        return [d for i, (x, y) in pairs for d in differences(x, y, f"{path}[{i}]")]
    return [] if before == after else [f"{path}: {before!r} -> {after!r}"]
