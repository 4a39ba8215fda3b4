"""`conveyor export cloudformation` and `conveyor provision`: the AWS-native stack from
conveyor.yml, as templates to review and commit, and created or updated through a change set.
Offline but for provision (which needs AWS credentials); no daemon needed.

    conveyor export cloudformation [--env ENV ...] [--pipeline] [-o DIR]
    conveyor provision (ENV | --repositories | --pipeline) [--dry-run | --yes] [--parameter KEY=VALUE ...]
                       [--region R] [--profile P] [--stack-name NAME]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from conveyor.cli import render
from conveyor.cli.render import echo
from conveyor.errors import UserError

DEFAULT_OUTPUT = "aws"
REPOSITORIES = "repositories"  # the ECR repositories' template and stack, shared by every environment
PIPELINE = "pipeline"


def export(args: Any) -> int:
    from conveyor.config.pipeline import load_pipeline
    from conveyor.export.environment import environment_template, repositories_template
    from conveyor.export.notes import Notes
    from conveyor.export.pipeline import pipeline_template

    path = Path(args.file)
    definition = load_pipeline(path)
    envs = args.env or list(definition.environments)
    unknown = [e for e in envs if e not in definition.environments]
    if unknown:
        raise UserError(f"no environment {', '.join(map(repr, unknown))} in {path} "
                        f"(environments: {', '.join(definition.environments) or 'none'})")
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    notes = Notes()
    written = []
    for env in envs:
        template = environment_template(definition, env, repository_root=path.parent, notes=notes)
        written.append(_write(out / f"{env}.yaml", template.render()))
    repositories = repositories_template(definition, notes=notes)
    if repositories is not None:
        written.append(_write(out / f"{REPOSITORIES}.yaml", repositories.render()))
    if args.pipeline:
        pipeline = pipeline_template(definition, notes=notes, root=path.parent)
        written.append(_write(out / f"{PIPELINE}.yaml", pipeline.render()))
    for note in notes.items:
        echo(f"note: {note}", err=True)
    for file in written:
        echo(f"wrote {file}")
    return 0


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def provision(args: Any) -> int:
    from conveyor.config.pipeline import load_pipeline
    from conveyor.export.notes import Notes
    from conveyor.providers.aws.api import AwsApi
    from conveyor.providers.aws.settings import AwsEnvironment
    from conveyor.providers.aws.stacks import changes_table

    path = Path(args.file)
    definition = load_pipeline(path)
    notes = Notes()
    what, settings, template = _stack_of(args, definition, path, notes)
    parameters = _parameters(args.parameter)
    for note in notes.items:
        echo(f"note: {note}", err=True)
    if not (args.yes or args.dry_run or sys.stdin.isatty()):
        raise UserError("refusing to change AWS resources without a terminal to confirm on",
                        hint="review with --dry-run, then run again with --yes")
    stacks = make_stacks(AwsApi(AwsEnvironment.from_settings(what, settings)))
    name = args.stack_name or f"conveyor-{definition.name}-{what}"
    required = [k for k, spec in template.parameters.items() if "Default" not in spec]
    plan = stacks.plan(name, template.render(), parameters, required=required,
                       tags={"conveyor:pipeline": definition.name, "conveyor:stack": what})
    if plan.empty:
        echo(f"{name}: no changes")
        stacks.discard(plan)
        return 0
    echo(f"{name}: change set ({plan.kind.lower()}), {len(plan.changes)} change(s)")
    render.table(changes_table(plan), ["ACTION", "LOGICAL ID", "TYPE", "REPLACEMENT"])
    if args.dry_run:
        stacks.discard(plan)
        echo("dry run: nothing was changed")
        return 0
    if not args.yes and not _confirm(f"execute the change set on {name}?"):
        stacks.discard(plan)
        echo("not executed: nothing was changed")
        return 1
    result = stacks.execute(plan, progress=lambda line: echo(f"  {line}"))
    if result.ok:
        echo(f"✓ {name}: {result.status}")
        return 0
    echo(f"✗ {name}: {result.status}: {result.reason}", err=True)
    if result.status.endswith("ROLLBACK_COMPLETE"):
        echo("  rolled back: the stack is as it was before", err=True)
    return 1


def make_stacks(api: Any) -> Any:
    from conveyor.providers.aws.stacks import Stacks

    return Stacks(api)


def _stack_of(args: Any, definition: Any, path: Path, notes: Any) -> tuple[str, dict[str, Any], Any]:
    """(what is provisioned, its AWS settings, its template): an environment's stack with its
    own settings; the repositories' or the pipeline's with conveyor.yml's `registry:` settings,
    which --region and --profile override."""
    from conveyor.export.environment import environment_template, repositories_template
    from conveyor.export.pipeline import pipeline_template

    chosen = [x for x in (args.env, args.repositories and REPOSITORIES, args.pipeline and PIPELINE) if x]
    if len(chosen) != 1:
        raise UserError("provision takes one of: an environment, --repositories or --pipeline",
                        hint="conveyor provision production; conveyor provision --repositories")
    if args.env:
        env = definition.environments.get(args.env)
        if env is None:
            raise UserError(f"no environment '{args.env}' in {path} "
                            f"(environments: {', '.join(definition.environments) or 'none'})")
        if env.get("target") != "aws":
            raise UserError(f"environment '{args.env}' is not target: aws", hint="provision creates AWS resources: "
                            "add target: aws and a region to it")
        settings = {k: v for k, v in env.items() if k not in ("target", "services", "alarms")}
        settings.update(_overrides(args))
        return args.env, settings, environment_template(definition, args.env, repository_root=path.parent,
                                                        notes=notes)
    registry = definition.raw.get("registry") or {}
    settings = {k: registry[k] for k in ("region", "profile", "roleArn") if registry.get(k)}
    settings.update(_overrides(args))
    if not settings.get("region"):
        raise UserError(f"no region for the {chosen[0]} stack", hint="give --region, or set registry.region "
                        "(with registry.target: aws) in conveyor.yml")
    if args.repositories:
        template = repositories_template(definition, notes=notes)
        if template is None:
            raise UserError(f"{path} declares no repositories", hint="add a `repositories:` section")
        return REPOSITORIES, settings, template
    return PIPELINE, settings, pipeline_template(definition, notes=notes, root=path.parent)


def _overrides(args: Any) -> dict[str, str]:
    return {k: v for k, v in (("region", args.region), ("profile", args.profile)) if v}


def _parameters(values: list[str] | None) -> dict[str, str]:
    out = {}
    for value in values or []:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise UserError(f"--parameter {value!r}: expected KEY=VALUE", hint="--parameter VpcId=vpc-0abc")
        out[key] = val
    return out


def _confirm(question: str) -> bool:
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def add_commands(cmd: Any) -> None:
    sp = cmd("export", export, "CloudFormation templates of conveyor.yml's environments (and pipeline)")
    sp.add_argument("format", choices=["cloudformation"])
    sp.add_argument("--env", action="append", default=[], metavar="ENV", help="this environment (repeatable; "
                                                                              "default: every one)")
    sp.add_argument("--pipeline", action="store_true", help="also the pipeline (CodePipeline V2, CodeBuild, …)")
    sp.add_argument("-o", "--output", default=DEFAULT_OUTPUT, metavar="DIR", help="default ./aws")
    sp.add_argument("--file", default="conveyor.yml")
    sp = cmd("provision", provision, "create or update an AWS stack (an environment's, the repositories' or the "
             "pipeline's) through a change set")
    sp.add_argument("env", metavar="ENV", nargs="?", help="an environment with target: aws")
    sp.add_argument("--repositories", action="store_true", help="the ECR repositories (one stack for every "
                                                                 "environment)")
    sp.add_argument("--pipeline", action="store_true", help="the pipeline (CodePipeline V2, CodeBuild, …)")
    sp.add_argument("--region", default=None, help="the region (default: the environment's, or registry.region)")
    sp.add_argument("--profile", default=None, help="an AWS profile (default: the environment's, or registry's)")
    sp.add_argument("--dry-run", action="store_true", help="show the change set and change nothing")
    sp.add_argument("--yes", action="store_true", help="execute without asking")
    sp.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE",
                    help="a template parameter (VpcId, SubnetIds, …); an update keeps the previous values")
    sp.add_argument("--stack-name", default=None, help="default conveyor-<pipeline>-<environment|repositories|"
                                                       "pipeline>")
    sp.add_argument("--file", default="conveyor.yml")
