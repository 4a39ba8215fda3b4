"""The AppSpec of an ECS blue/green deployment (appspec.yaml or appspec.json, aws-semantics §5.2)
as a value.

    spec, diagnostics = parse_appspec(text, "appspec.yaml")   # spec is None when there are errors
    spec.task_definition            # "<TASK_DEFINITION>" until CodeDeployToECS substitutes it
    spec.container_name, spec.container_port                   # ("web", 8080)
    spec.hooks                      # (("AfterAllowTestTraffic", "arn:aws:lambda:...:function:smoke"),)
    hook_function_name(spec.hooks[0][1])                       # "smoke"

The rules, and the reasons behind each verdict, live in appspec_check.py. `conveyor validate
--kind appspec` calls check_appspec_file. YAML and JSON are both read (a file whose name ends in
.json, or whose text starts with `{`, is read as strict JSON so that syntax errors point at the
JSON position); a broken file yields one diagnostic with its position, never a traceback.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor.config.appspec_check import (
    TASK_DEFINITION_TOKEN,
    AppSpecReport,
    check_appspec_document,
    placeholders,
    split_task_definition,
)
from conveyor.documents.located import Document, load_json, load_yaml
from conveyor.documents.source import read_text_file
from conveyor.errors import ConfigError, Diagnostic

if TYPE_CHECKING:
    from conveyor.config.taskdef import TaskDefinition

__all__ = ["TASK_DEFINITION_TOKEN", "AppSpec", "check_appspec_file", "container_problems", "hook_function_name",
           "load_appspec", "parse_appspec", "read_appspec_document", "split_task_definition"]

TEMPLATE_SUFFIXES = (".tpl", ".tmpl", ".template", ".j2")


@dataclass(frozen=True)
class AppSpec:
    """What an ECS AppSpec asks for. `hooks` keeps the file's order; CodeDeploy runs them in
    lifecycle order (conveyor.config.codedeploy_model.LIFECYCLE_EVENTS) whatever the order here."""

    task_definition: str            # "<TASK_DEFINITION>", an ARN, or FAMILY:REVISION
    container_name: str             # LoadBalancerInfo.ContainerName
    container_port: int             # LoadBalancerInfo.ContainerPort
    version: str = "0.0"
    platform_version: str | None = None                                           # ignored locally
    network_configuration: dict | None = field(default=None, compare=False)      # ignored locally
    capacity_provider_strategy: list | None = field(default=None, compare=False)  # ignored locally
    hooks: tuple[tuple[str, str], ...] = ()   # (lifecycle event, Lambda function name or ARN)
    ignored: tuple[str, ...] = ()             # properties accepted but not applied on this machine
    raw: str = field(default="", compare=False, repr=False)  # the text, for <TASK_DEFINITION> substitution
    source: str = field(default="appspec.yaml", compare=False)

    @property
    def needs_task_definition(self) -> bool:
        """True while TaskDefinition is the token CodeDeployToECS replaces."""
        return self.task_definition == TASK_DEFINITION_TOKEN

    def task_definition_revision(self) -> tuple[str, int | None] | None:
        """(family, revision) once TaskDefinition names one; None for the token.

        >>> AppSpec("arn:aws:ecs:us-east-1:111122223333:task-definition/web:42", "web", 80).task_definition_revision()
        ('web', 42)
        """
        return split_task_definition(self.task_definition)

    def hook(self, event: str) -> str | None:
        """The function hooked on `event` ("AfterAllowTestTraffic"), or None."""
        return next((fn for e, fn in self.hooks if e == event), None)


def hook_function_name(value: str) -> str:
    """The function name in a hook's value: a name, NAME:QUALIFIER, ACCOUNT:function:NAME or an ARN.

    >>> hook_function_name("arn:aws:lambda:us-east-1:111122223333:function:smoke-test:live")
    'smoke-test'
    >>> hook_function_name("smoke")
    'smoke'
    """
    match = re.search(r"(?:^|:)function:([^:]+)", value)
    return match.group(1) if match else value.split(":", 1)[0]


def is_json(text: str, source: str) -> bool:
    return source.lower().endswith(".json") or text.lstrip("\ufeff \t\r\n").startswith("{")


def read_appspec_document(text: str, source: str = "appspec.yaml") -> Document:
    """Parse YAML or JSON text with positions, or ConfigError with one diagnostic; a syntax error
    next to a template placeholder (`<NAME>`, `%{ if }`, `${VAR}`) says the file needs rendering."""
    text = text.lstrip("\ufeff")
    try:
        return load_json(text, source) if is_json(text, source) else load_yaml(text, source)
    except ConfigError as exc:
        lines = text.splitlines()
        fixed = []
        for d in exc.diagnostics:
            line = lines[d.line - 1] if 0 < d.line <= len(lines) else ""
            found = placeholders(line) or re.findall(r"%\{[^}]*\}?", line)
            if found:
                d = dataclasses.replace(d, message=f"{d.message} ('{found[0]}' is a template placeholder that was not "
                                                   "rendered: render the file before using it)")
            elif source.lower().endswith(TEMPLATE_SUFFIXES):
                d = dataclasses.replace(d, message=f"{d.message} (the file name says it is a template: render it and "
                                                   "validate the result)")
            fixed.append(d)
        raise ConfigError(fixed) from None


def parse_appspec(text: str, source: str = "appspec.yaml") -> tuple[AppSpec | None, list[Diagnostic]]:
    """The AppSpec in `text` and every diagnostic (errors and warnings); None when there are errors."""
    try:
        doc = read_appspec_document(text, source)
    except ConfigError as exc:
        return None, exc.diagnostics
    report = check_appspec_document(doc)
    if not report.ok:
        return None, report.diagnostics
    return _build(report, text, source), report.diagnostics


def load_appspec(path: Path, source: str | None = None) -> AppSpec:
    """The AppSpec in the file at `path`, or ConfigError with every diagnostic."""
    name = source or str(path)
    spec, diagnostics = parse_appspec(_read(Path(path), name), name)
    if spec is None:
        raise ConfigError(diagnostics)
    return spec


def check_appspec_file(path: Path, source: str) -> list[Diagnostic]:
    """Errors and warnings for `conveyor validate --kind appspec`; never raises for bad input."""
    try:
        text = _read(Path(path), source)
    except ConfigError as exc:
        return exc.diagnostics
    return parse_appspec(text, source)[1]


def container_problems(spec: AppSpec, taskdef: TaskDefinition) -> list[str]:
    """What CodeDeploy would reject when the AppSpec meets its task definition: ContainerName must
    be a container of it and ContainerPort one of that container's containerPorts (§5.2)."""
    container = taskdef.container(spec.container_name)
    if container is None:
        names = ", ".join(c.name for c in taskdef.containers)
        return [(f"LoadBalancerInfo.ContainerName '{spec.container_name}' is not a container of task definition "
                 f"{taskdef.family} (containers: {names})")]
    ports = [p.container_port for p in container.port_mappings]
    if spec.container_port not in ports:
        have = ", ".join(map(str, ports)) or "none"
        return [(f"LoadBalancerInfo.ContainerPort {spec.container_port} is not a containerPort of container "
                 f"'{container.name}' in task definition {taskdef.family} (its containerPorts: {have})")]
    return []


def _read(path: Path, source: str) -> str:
    return read_text_file(path, source)


def _build(report: AppSpecReport, text: str, source: str) -> AppSpec:
    v = report.values
    return AppSpec(task_definition=v["task_definition"], container_name=v["container_name"],
                   container_port=v["container_port"], version=v["version"],
                   platform_version=v.get("platform_version"),
                   network_configuration=v.get("network_configuration"),
                   capacity_provider_strategy=v.get("capacity_provider_strategy"),
                   hooks=v.get("hooks", ()), ignored=report.ignored, raw=text, source=source)
