"""An environment of conveyor.yml as a CloudFormation template: the same services on AWS, named as
the AWS backend looks for them (docs/aws.md), so that `conveyor deploy` works on the stack.

    notes = Notes()
    t = environment_template(definition, "production", repository_root=Path("."), notes=notes)
    Path("aws/production.yaml").write_text(t.render())
    for note in notes.items: print(note)        # what could not be carried over exactly

What a template holds, by module:

    parameters.py   VpcId, PublicSubnetIds, TaskSubnetIds, AssignPublicIp, AllowedCidr, StartTasks,
                    LogRetentionInDays, an image per placeholder container
    ecs.py          the cluster; per service its log group, task definition and ECS service
    task_definition.py   taskdef.json as AWS::ECS::TaskDefinition
    network.py      the load balancer, listeners, target groups, security groups
    alarms.py       CloudWatch alarms
    codedeploy.py   the CodeDeploy application, deployment groups, custom deployment configs
    iam.py          execution roles, CodeDeploy's role, ECS's load balancer role (ECS-native)
    local_only.py   notes for what only Conveyor does (hooks, probe, requireTraffic, …)
    ecr.py          the repositories, in a template of their own (repositories_template)
"""

from __future__ import annotations

from pathlib import Path

from conveyor.config.model import PipelineDef
from conveyor.config.taskdef import load_taskdef
from conveyor.errors import UserError
from conveyor.export.alarms import add_alarms
from conveyor.export.codedeploy import add_codedeploy
from conveyor.export.context import NATIVE, EnvironmentExport
from conveyor.export.ecr import repositories_template, repository_names
from conveyor.export.ecs import add_cluster, add_service
from conveyor.export.iam import add_ecs_load_balancer_role, add_execution_role
from conveyor.export.local_only import add_local_only_notes, add_target_note
from conveyor.export.network import add_network
from conveyor.export.notes import Note, Notes
from conveyor.export.parameters import declare_log_retention, declare_network, declare_start_tasks
from conveyor.export.template import Template

__all__ = ["environment_template", "repositories_template"]


def environment_template(definition: PipelineDef, environment_name: str, *, repository_root: Path,
                         notes: Notes) -> Template:
    """The template of `environments.<environment_name>`; task definitions and AppSpecs are read
    under `repository_root` (the paths conveyor.yml gives are relative to it)."""
    environments = definition.environments or {}
    if environment_name not in environments:
        known = ", ".join(environments) or "none"
        raise UserError(f"no environment '{environment_name}' in conveyor.yml (environments: {known})")
    raw = dict(environments[environment_name] or {})
    ctx = EnvironmentExport(Template(""), Notes(), environment_name, raw, Path(repository_root),
                            repositories=repository_names(definition))
    ctx.template.description = (f"{definition.name}, environment {environment_name}: the ECS cluster {ctx.cluster} "
                                "with its services, load balancer, alarms and CodeDeploy deployment groups "
                                "(conveyor export cloudformation)")
    t = ctx.template
    add_target_note(ctx)
    declare_network(t, load_balancer=bool(ctx.load_balanced))
    declare_start_tasks(t)
    declare_log_retention(t)
    add_cluster(ctx)
    add_network(ctx)
    if any(s.kind == NATIVE for s in ctx.services):
        add_ecs_load_balancer_role(ctx)
    alarms = add_alarms(ctx)
    for svc in ctx.services:
        taskdef = load_taskdef(ctx.repository_root / svc.spec.task_definition, svc.spec.task_definition)
        add_execution_role(ctx, svc, list(taskdef.raw.get("containerDefinitions") or []))
        add_service(ctx, svc, taskdef, alarms)
    add_codedeploy(ctx, alarms)
    add_local_only_notes(ctx)
    for note in by_service(ctx):
        notes.add(note.source, note.what, note.instead)
    return t


def by_service(ctx: EnvironmentExport) -> list[Note]:
    """The export's notes, the environment's first, then each service's in conveyor.yml order
    (within each, in the order they were made)."""
    prefixes = [svc.at() + "." for svc in ctx.services]

    def rank(note: Note) -> int:
        return next((i + 1 for i, p in enumerate(prefixes) if (note.source + ".").startswith(p)), 0)

    return sorted(ctx.notes.items, key=rank)
