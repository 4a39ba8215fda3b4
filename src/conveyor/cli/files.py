"""The offline verbs: setup, doctor, validate, import (init is cli/init.py). None of them needs the daemon."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from conveyor.cli.render import echo
from conveyor.errors import Diagnostic, UserError

KINDS = ("conveyor", "pipeline", "buildspec", "appspec", "taskdef", "imagedefinitions")
NOT_YET: dict[str, str] = {}  # kind -> the release that brings its validation


def setup(args) -> int:
    from conveyor.cli.live import setup_echo
    from conveyor.stack.setup import run_setup

    with setup_echo() as out:  # a spinner on the running step on a terminal, else the same lines
        return run_setup(out, dry_run=args.dry_run, ecr_aliases=args.ecr_alias,
                         remove_ecr_aliases=args.remove_ecr_alias)


def doctor(args) -> int:
    from conveyor.stack.doctor import run_doctor

    if args.target == "aws":
        from conveyor.config.pipeline import load_pipeline
        from conveyor.stack.aws_checks import aws_checks

        definition = load_pipeline(Path(args.file))
        checks = aws_checks(definition.environments, only=args.env)
        if not checks:
            echo(f"{args.file} has no target: aws environment")
            return 0
        return run_doctor(echo, as_json=args.json, checks=checks)
    return run_doctor(echo, as_json=args.json)


def detect_kind(path: Path) -> str:
    name = path.name.lower()
    if name.startswith("conveyor") and name.endswith((".yml", ".yaml")):
        return "conveyor"
    for kind in ("buildspec", "appspec", "taskdef", "imagedefinitions"):
        if kind in name.replace("-", "").replace("_", ""):
            return kind
    if name == "imagedetail.json":
        return "imagedefinitions"
    if name.endswith(".json"):
        return "pipeline"
    return "conveyor"


def validate(args) -> int:
    paths = [Path(f) for f in args.files] or [Path("conveyor.yml")]
    diagnostics: list[Diagnostic] = []
    checked = []
    for path in paths:
        kind = args.kind or detect_kind(path)
        if kind in NOT_YET:
            raise UserError(f"{path}: validating {kind} files arrives with {NOT_YET[kind]}",
                            hint="`conveyor validate` checks conveyor.yml, buildspec.yml, CodePipeline JSON (--kind "
                                 "pipeline), ECS AppSpecs, task definitions and imagedefinitions.json / "
                                 "imageDetail.json today")
        validate_file: Callable[[Path, str], list[Diagnostic]]
        if kind == "pipeline":
            from conveyor.config.codepipeline import validate_file
        elif kind == "buildspec":
            from conveyor.config.buildspec import check_buildspec_file as validate_file
        elif kind == "appspec":
            from conveyor.config.appspec import check_appspec_file as validate_file
        elif kind == "taskdef":
            from conveyor.config.taskdef import check_taskdef_file as validate_file
        elif kind == "imagedefinitions":
            from conveyor.config.imagedefs import (
                check_imagedefinitions_file as validate_file,
            )
        else:
            from conveyor.config.pipeline import check_file as validate_file
        found = validate_file(path, str(path))
        if kind == "buildspec" and not any(d.severity == "error" for d in found):
            found = sorted(found + _runtime_versions(path, args.build_image))
        diagnostics += found
        checked.append({"file": str(path), "kind": kind,
                        "valid": not any(d.severity == "error" for d in found)})
    errors = sum(1 for d in diagnostics if d.severity == "error")
    warnings = len(diagnostics) - errors
    if args.json:
        echo(json.dumps({"files": checked, "errors": errors, "warnings": warnings,
                         "diagnostics": [d.to_json() for d in diagnostics]}, indent=2))
        return 2 if errors else 0
    for d in diagnostics:
        echo(str(d), err=d.severity == "error")
    if errors:
        echo(f"{errors} error{'s' if errors != 1 else ''}" + (f", {warnings} warning{'s' if warnings != 1 else ''}"
                                                                if warnings else ""), err=True)
        return 2
    for c in checked:
        echo(f"✓ {c['file']} ({c['kind']}) is valid" + (f" — {warnings} warning(s)" if warnings else ""))
    return 0


def _runtime_versions(path: Path, image: str | None) -> list[Diagnostic]:
    """Warnings for the runtime-versions the build image cannot provide (build/runtime_lint.py)."""
    from conveyor.build.runtime_lint import image_runtime_warnings
    from conveyor.config.buildspec import load_buildspec
    from conveyor.documents.located import load_file
    from conveyor.images import BUILD_IMAGE
    from conveyor.providers.local.containers import detect_engine

    spec = load_buildspec(path, str(path))
    return image_runtime_warnings(load_file(path, str(path)), spec, detect_engine(), image or BUILD_IMAGE)


def import_(args) -> int:
    from conveyor.config.importer import import_codepipeline

    result = import_codepipeline(args.file)
    for d in result.diagnostics:
        echo(str(d), err=True)
    if args.output:
        out = Path(args.output)
        if out.exists():
            raise UserError(f"{out} already exists", hint="choose another --output, or remove the file first")
        out.write_text(result.text)
        echo(f"wrote {out}", err=True)
    else:
        echo(result.text.rstrip("\n"))
    if result.unmapped:
        echo(f"{len(result.unmapped)} item(s) have no local equivalent:", err=True)
        for line in result.unmapped:
            echo(f"  - {line}", err=True)
    return 0
