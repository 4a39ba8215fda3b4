"""ECS task definitions (taskdef.json: RegisterTaskDefinition JSON, aws-semantics §4.1) as values.

    td = load_taskdef(Path("taskdef.json"))           # or ConfigError with every problem at once
    td.container("api").health_check.interval         # 30 unless the file says otherwise
    td.with_images({"api": "127.0.0.1:5000/orders@sha256:..."}).raw   # what gets registered
    td.ignored                                        # ("executionRoleArn", "containerDefinitions[0].logConfiguration")

The rules live in taskdef_check.py. What Conveyor reads but does not apply on this machine (IAM
roles, volumes, log drivers, placement, ...) is listed in `ignored`, never dropped silently.
Read-only fields of DescribeTaskDefinition output are accepted and stripped from `raw`. JSON null,
false, "" and empty lists count as "not given", as in console exports; an empty `command` or
`entryPoint` means the image's own.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conveyor.config.task_size import cpu_units, memory_mib
from conveyor.config.taskdef_check import READ_ONLY_FIELDS, check_taskdef_document
from conveyor.documents.located import Document, load_json
from conveyor.documents.source import read_text_file
from conveyor.errors import ConfigError, Diagnostic, UserError

__all__ = ["READ_ONLY_FIELDS", "ContainerDefinition", "Dependency", "HealthCheck", "PortMapping", "TaskDefinition",
           "check_taskdef_file", "load_taskdef", "parse_taskdef", "read_taskdef_document"]

# ECS's container health-check defaults (HealthCheck in the ECS API reference).
DEFAULT_HEALTH_CHECK_INTERVAL = 30
DEFAULT_HEALTH_CHECK_TIMEOUT = 5
DEFAULT_HEALTH_CHECK_RETRIES = 3
DEFAULT_HEALTH_CHECK_START_PERIOD = 0


@dataclass(frozen=True)
class HealthCheck:
    command: tuple[str, ...]  # ("CMD", ...) or ("CMD-SHELL", "...")
    interval: int = DEFAULT_HEALTH_CHECK_INTERVAL        # 5-300 s
    timeout: int = DEFAULT_HEALTH_CHECK_TIMEOUT          # 2-60 s
    retries: int = DEFAULT_HEALTH_CHECK_RETRIES          # 1-10
    start_period: int = DEFAULT_HEALTH_CHECK_START_PERIOD  # 0-300 s


@dataclass(frozen=True)
class PortMapping:
    container_port: int
    host_port: int | None = None
    protocol: str = "tcp"
    name: str | None = None


@dataclass(frozen=True)
class Dependency:
    container_name: str
    condition: str  # START | COMPLETE | SUCCESS | HEALTHY


@dataclass(frozen=True)
class ContainerDefinition:
    name: str
    image: str
    essential: bool = True
    command: tuple[str, ...] | None = None
    entry_point: tuple[str, ...] | None = None
    environment: tuple[tuple[str, str], ...] = ()  # (name, value), in file order
    secrets: tuple[tuple[str, str], ...] = ()      # (name, valueFrom)
    port_mappings: tuple[PortMapping, ...] = ()
    health_check: HealthCheck | None = None
    cpu: int | None = None                 # CPU units (1024 = 1 vCPU)
    memory: int | None = None              # MiB hard limit
    memory_reservation: int | None = None  # MiB soft limit
    stop_timeout: int | None = None        # seconds (ECS default 30 when None)
    start_timeout: int | None = None
    depends_on: tuple[Dependency, ...] = ()
    working_directory: str | None = None
    user: str | None = None
    log_configuration: dict | None = None
    readonly_root_filesystem: bool = False


@dataclass(frozen=True)
class TaskDefinition:
    family: str
    containers: tuple[ContainerDefinition, ...]
    network_mode: str | None = None  # as declared; None is ECS's EC2 default (bridge). Locally a task is a pod.
    cpu: str | None = None           # task level, as in the file ("256", "0.25 vCPU")
    memory: str | None = None        # ("512", "1 GB")
    ignored: tuple[str, ...] = ()    # key paths accepted but not applied locally
    raw: dict = field(default_factory=dict, compare=False)  # the registrable JSON (read-only fields stripped)

    def container(self, name: str) -> ContainerDefinition | None:
        return next((c for c in self.containers if c.name == name), None)

    def essential_containers(self) -> tuple[ContainerDefinition, ...]:
        return tuple(c for c in self.containers if c.essential)

    def task_cpu_units(self) -> int | None:
        """The task-level cpu in CPU units.

        >>> TaskDefinition("f", (), cpu="0.25 vCPU").task_cpu_units()
        256
        """
        return cpu_units(self.cpu) if self.cpu is not None else None

    def task_memory_mib(self) -> int | None:
        """The task-level memory in MiB.

        >>> TaskDefinition("f", (), memory="1 GB").task_memory_mib()
        1024
        """
        return memory_mib(self.memory) if self.memory is not None else None

    def with_images(self, images: Mapping[str, str]) -> TaskDefinition:
        """A copy with the images of the named containers replaced (in `raw` too). Every name must
        be a container of this task definition: nothing is changed otherwise."""
        unknown = [name for name in images if self.container(name) is None]
        if unknown:
            raise UserError(f"task definition {self.family} has no container {', '.join(map(repr, unknown))} "
                            f"(containers: {', '.join(c.name for c in self.containers)})")
        raw = copy.deepcopy(self.raw)
        for entry in raw.get("containerDefinitions") or []:
            if isinstance(entry, dict) and entry.get("name") in images:
                entry["image"] = images[entry["name"]]
        containers = tuple(dataclasses.replace(c, image=images[c.name]) if c.name in images else c
                           for c in self.containers)
        return dataclasses.replace(self, containers=containers, raw=raw)


def parse_taskdef(data: Any, source: str = "taskdef.json",
                  located: Document | None = None) -> tuple[TaskDefinition | None, list[Diagnostic]]:
    """The task definition in `data` (parsed JSON) and every diagnostic; None when there are errors.
    Pass `located` (the Document `data` came from) for line:column positions."""
    doc = located if located is not None else Document(source, data, {(): (0, 0)})
    report = check_taskdef_document(doc)
    if not report.ok:
        return None, report.diagnostics
    return _build(doc.data, report.ignored), report.diagnostics


def read_taskdef_document(text: str, source: str = "taskdef.json") -> Document:
    """Parse JSON text with positions; a `{{template}}` left in it gets a hint (ConfigError)."""
    try:
        return load_json(text, source)
    except ConfigError as exc:
        lines = text.splitlines()
        fixed = []
        for d in exc.diagnostics:
            near = lines[d.line - 1][max(0, d.column - 2):d.column + 1] if 0 < d.line <= len(lines) else ""
            if "{{" in near:
                d = dataclasses.replace(d, message=d.message + " ('{{...}}' is a template placeholder that was not "
                                                               "rendered: render the file before using it)")
            fixed.append(d)
        raise ConfigError(fixed) from None


def _read(path: Path, source: str) -> Document:
    return read_taskdef_document(read_text_file(path, source), source)


def load_taskdef(path: Path, source: str | None = None) -> TaskDefinition:
    """The task definition in the JSON file at `path`, or ConfigError with every diagnostic."""
    doc = _read(path, source or str(path))
    td, diagnostics = parse_taskdef(doc.data, doc.file, doc)
    if td is None:
        raise ConfigError(diagnostics)
    return td


def check_taskdef_file(path: Path, source: str) -> list[Diagnostic]:
    """Errors and warnings for `conveyor validate --kind taskdef`; never raises for bad input."""
    try:
        doc = _read(path, source)
    except ConfigError as exc:
        return exc.diagnostics
    return check_taskdef_document(doc).diagnostics


# --- building the values from a document that passed the checks --------------------------------


def _argv(value: Any) -> tuple[str, ...] | None:
    return tuple(value) if value else None


def _container(c: dict) -> ContainerDefinition:
    hc = c.get("healthCheck")
    health = None
    if hc:
        health = HealthCheck(
            command=tuple(hc["command"]),
            interval=_or(hc.get("interval"), DEFAULT_HEALTH_CHECK_INTERVAL),
            timeout=_or(hc.get("timeout"), DEFAULT_HEALTH_CHECK_TIMEOUT),
            retries=_or(hc.get("retries"), DEFAULT_HEALTH_CHECK_RETRIES),
            start_period=_or(hc.get("startPeriod"), DEFAULT_HEALTH_CHECK_START_PERIOD))
    ports = tuple(PortMapping(container_port=pm["containerPort"], host_port=pm.get("hostPort"),
                              protocol=_or(pm.get("protocol"), "tcp"), name=pm.get("name"))
                  for pm in c.get("portMappings") or () if pm.get("containerPort") is not None)
    return ContainerDefinition(
        name=c["name"], image=c["image"], essential=_or(c.get("essential"), True),
        command=_argv(c.get("command")), entry_point=_argv(c.get("entryPoint")),
        environment=tuple((e["name"], _or(e.get("value"), "")) for e in c.get("environment") or ()),
        secrets=tuple((s["name"], s["valueFrom"]) for s in c.get("secrets") or ()),
        port_mappings=ports, health_check=health,
        cpu=c.get("cpu"), memory=c.get("memory"), memory_reservation=c.get("memoryReservation"),
        stop_timeout=c.get("stopTimeout"), start_timeout=c.get("startTimeout"),
        depends_on=tuple(Dependency(d["containerName"], d["condition"]) for d in c.get("dependsOn") or ()),
        working_directory=c.get("workingDirectory"), user=c.get("user"),
        log_configuration=copy.deepcopy(c.get("logConfiguration")),
        readonly_root_filesystem=_or(c.get("readonlyRootFilesystem"), False))


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def _build(task: dict, ignored: tuple[str, ...]) -> TaskDefinition:
    raw = {k: copy.deepcopy(v) for k, v in task.items() if k not in READ_ONLY_FIELDS}
    cpu, memory = task.get("cpu"), task.get("memory")
    return TaskDefinition(
        family=task["family"],
        containers=tuple(_container(c) for c in task["containerDefinitions"]),
        network_mode=task.get("networkMode"),
        cpu=None if cpu is None else str(cpu),
        memory=None if memory is None else str(memory),
        ignored=ignored, raw=raw)
