"""The rules ECS applies to a task definition (RegisterTaskDefinition JSON, aws-semantics §4.1),
checked over a located Document so every problem is reported at once with its position.

    report = check_taskdef_document(doc)
    report.diagnostics          # errors and warnings, as `taskdef.json:LINE:COL key.path: message`
    report.ignored              # key paths accepted but not applied locally ("executionRoleArn", ...)

Errors are what RegisterTaskDefinition (or a Fargate launch) rejects: a bad family or container
name, no essential container, health-check ranges and command form, port mappings, task sizes,
dependsOn names and conditions, entries of the wrong shape. Warnings are what ECS rejects but
Conveyor can run anyway (unknown keys, read-only DescribeTaskDefinition fields, no memory setting
anywhere) and likely mistakes (a placeholder without its angle brackets). Key names, enums and ranges are those of
botocore's ecs/2014-11-13 model. Template placeholders (`<IMAGE1_NAME>`, `${VAR}`, `{{var}}`) are
accepted in images and ARNs, since taskdef.json is usually a template; in names and enums they are
errors that say the file still needs rendering.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from conveyor.config.task_size import EC2_CPU_RANGE, cpu_units, fargate_problem, memory_mib
from conveyor.config.taskdef_across import ContainerFacts, check_across
from conveyor.config.taskdef_launch import check_launch
from conveyor.config.taskdef_names import check_env_name
from conveyor.config.taskdef_parts import check_container_parts, check_task_parts
from conveyor.documents.checker import Checker, did_you_mean, type_name
from conveyor.documents.located import Document, KeyPath, format_path
from conveyor.errors import Diagnostic

READ_ONLY_FIELDS = ("taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities",
                    "registeredAt", "registeredBy", "deregisteredAt", "deleteRequestedAt")
TASK_APPLIED = ("family", "containerDefinitions", "networkMode", "cpu", "memory")
# Accepted and type-checked, not applied locally (a task is a podman pod on this machine).
TASK_IGNORED: dict[str, type] = {
    "requiresCompatibilities": list, "taskRoleArn": str, "executionRoleArn": str, "volumes": list,
    "placementConstraints": list, "tags": list, "pidMode": str, "ipcMode": str, "proxyConfiguration": dict,
    "inferenceAccelerators": list, "ephemeralStorage": dict, "runtimePlatform": dict, "enableFaultInjection": bool,
}
CONTAINER_APPLIED: dict[str, type | tuple[type, ...]] = {
    "name": str, "image": str, "essential": bool, "command": list, "entryPoint": list, "environment": list,
    "secrets": list, "portMappings": list, "healthCheck": dict, "cpu": int, "memory": int,
    "memoryReservation": int, "stopTimeout": int, "startTimeout": int, "dependsOn": list,
    "workingDirectory": str, "user": str, "readonlyRootFilesystem": bool,
}
CONTAINER_IGNORED: dict[str, type] = {
    "logConfiguration": dict,  # the engine keeps every container's output locally
    "repositoryCredentials": dict, "links": list, "restartPolicy": dict, "environmentFiles": list,
    "mountPoints": list, "volumesFrom": list, "linuxParameters": dict, "versionConsistency": str, "hostname": str,
    "disableNetworking": bool, "privileged": bool, "dnsServers": list, "dnsSearchDomains": list, "extraHosts": list,
    "dockerSecurityOptions": list, "interactive": bool, "pseudoTerminal": bool, "dockerLabels": dict,
    "ulimits": list, "systemControls": list, "resourceRequirements": list, "firelensConfiguration": dict,
    "credentialSpecs": list,
}
PORT_MAPPING_KEYS = ("containerPort", "hostPort", "protocol", "name", "appProtocol", "containerPortRange")
HEALTH_CHECK_KEYS = ("command", "interval", "timeout", "retries", "startPeriod")
LOG_CONFIGURATION_KEYS = ("logDriver", "options", "secretOptions")
NETWORK_MODES = ("bridge", "host", "awsvpc", "none")
COMPATIBILITIES = ("EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES")
CONDITIONS = ("START", "COMPLETE", "SUCCESS", "HEALTHY")
PROTOCOLS = ("tcp", "udp")
APP_PROTOCOLS = ("http", "http2", "grpc")
HEALTH_CHECK_COMMANDS = ("CMD", "CMD-SHELL")
# HealthCheck documentation: (low, high, unit) per key.
HEALTH_CHECK_RANGES = {"interval": (5, 300, " seconds"), "timeout": (2, 60, " seconds"), "retries": (1, 10, ""),
                       "startPeriod": (0, 300, " seconds")}
MIN_CONTAINER_MEMORY = 6        # ContainerDefinition.memory: "don't specify less than 6 MiB"
MAX_CONTAINERS = 10               # containers per task definition (ECS quota, not adjustable)
NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
PORT_NAME = re.compile(r"[a-z0-9_][a-z0-9_-]{0,63}")
PLACEHOLDER = re.compile(r"<[A-Za-z0-9_.:/-]+>|\$\{[^}]*\}|\{\{[^}]*\}\}")
IMAGE_CHARS = re.compile(r"[A-Za-z0-9_.:/#-]+")
DIGEST = re.compile(r"sha256:[A-Fa-f0-9]{64}")
BARE_IMAGE_PLACEHOLDER = re.compile(r"IMAGE\d+_NAME")


def is_set(value: Any) -> bool:
    """ECS treats null, false, "" and empty lists/objects as "not given" (console exports carry many)."""
    return not (value is None or value is False or (isinstance(value, (str, list, dict)) and not value))


def unrendered(value: str) -> str:
    match = PLACEHOLDER.search(value)
    if not match:
        return ""
    return f"; '{match.group(0)}' looks like a template placeholder that was not rendered"


def image_problem(image: str) -> str | None:
    """What ECS would reject in an image reference (ContainerDefinition.image), or None.

    >>> image_problem("<IMAGE1_NAME>") is None
    True
    >>> image_problem("nginx latest")
    "invalid image 'nginx latest': ECS allows letters, digits and - _ . : / # (then @sha256:DIGEST for a digest)"
    """
    repo, at, digest = image.partition("@")
    if not image.strip():
        return "the image is empty"
    if not IMAGE_CHARS.fullmatch(PLACEHOLDER.sub("x", repo)):
        return f"invalid image '{image}': ECS allows letters, digits and - _ . : / # (then @sha256:DIGEST for a digest)"
    if len(repo) > 255:
        return f"the image name is {len(repo)} characters long; ECS allows 255 (before any @digest)"
    if at and not PLACEHOLDER.search(digest) and not DIGEST.fullmatch(digest):
        return f"invalid digest '{digest}': expected sha256: and 64 hex digits"
    return None


@dataclass
class TaskdefReport:
    diagnostics: list[Diagnostic]
    ignored: tuple[str, ...]
    root: KeyPath  # ("taskDefinition",) when the file is wrapped DescribeTaskDefinition output

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)


def check_taskdef_document(doc: Document) -> TaskdefReport:
    return _TaskdefCheck(doc).run()


class _TaskdefCheck:
    def __init__(self, doc: Document):
        self.chk = Checker(doc)
        self.root: KeyPath = ()
        self.ignored: list[KeyPath] = []
        self.network_mode: str | None = None
        self.fargate = False

    # -- vocabulary (null is "not given", as in CodeDeployToECS's reading of the file)
    def opt(self, path: KeyPath, key: str, types: type | tuple[type, ...], what: str | None = None) -> Any:
        mapping = self.chk.at(path)
        if not isinstance(mapping, dict) or mapping.get(key) is None:
            return None
        value = mapping[key]
        return value if self.chk.is_type(path + (key,), value, types, what) else None

    def required(self, path: KeyPath, key: str, types: type | tuple[type, ...], what: str | None = None) -> Any:
        mapping = self.chk.at(path)
        if isinstance(mapping, dict) and mapping.get(key) is None:
            other = next((k for k in mapping if k.lower() == key.lower() and k != key), None)
            hint = f" (there is '{other}': keys are case-sensitive)" if other else ""
            self.chk.error(path, f"missing required key '{key}'{hint}")
            return None
        return self.opt(path, key, types, what)

    def unknown(self, path: KeyPath, known: Any, what: str = "key") -> None:
        mapping = self.chk.at(path)
        known = list(known)
        for key in mapping if isinstance(mapping, dict) else ():
            if key in known:
                continue
            message = f"unknown {what} '{key}'{did_you_mean(key, known)}"
            if key[:1].isupper() and key[:1].lower() + key[1:] in known:
                message += ": taskdef.json uses the ECS API's camelCase keys, not CloudFormation's PascalCase"
            self.chk.warning(path + (key,), message + "; ECS rejects unknown keys, Conveyor ignores this one")

    def int_range(self, path: KeyPath, key: str, lo: int, hi: int | None, unit: str = "") -> int | None:
        value = self.opt(path, key, int)
        if value is not None and not (lo <= value and (hi is None or value <= hi)):
            bound = f"between {lo} and {hi}{unit}" if hi is not None else f"at least {lo}{unit}"
            self.chk.error(path + (key,), f"{key} must be {bound}, got {value}")
            return None
        return value

    def ignore(self, path: KeyPath, types: dict[str, type], checked: tuple[str, ...] = ()) -> None:
        """Record the keys of `types` that are set, type-checking those not `checked` elsewhere."""
        mapping = self.chk.at(path)
        for key, typ in types.items():
            value = mapping.get(key) if isinstance(mapping, dict) else None
            if not is_set(value):
                continue
            if isinstance(value, typ) and (typ is bool or not isinstance(value, bool)):
                self.ignored.append(path[len(self.root):] + (key,))
            elif key not in checked:
                self.chk.is_type(path + (key,), value, typ)

    def name(self, path: KeyPath, value: str, what: str) -> bool:
        if NAME.fullmatch(value):
            return True
        self.chk.error(path, f"invalid {what} '{value}': expected 1-255 letters, digits, '-' or '_'{unrendered(value)}")
        return False

    # -- the task
    def run(self) -> TaskdefReport:
        data = self.chk.doc.data
        if not isinstance(data, dict):
            self.chk.error((), "expected a JSON object (a task definition: {\"family\": ..., \"containerDefinitions\": "
                               f"[...]}}), got {type_name(data)}")
            return self.report()
        if "containerDefinitions" not in data and isinstance(data.get("taskDefinition"), dict):
            self.chk.error(("taskDefinition",), "this is `aws ecs describe-task-definition` output: "
                                                "the task definition is wrapped in {\"taskDefinition\": ...}, "
                                                "but CodeDeployToECS and `aws ecs register-task-definition` read it "
                                                "unwrapped; keep only the inner object (jq .taskDefinition)")
            self.root = ("taskDefinition",)
        self.task(self.root)
        return self.report()

    def report(self) -> TaskdefReport:
        return TaskdefReport(sorted(self.chk.diagnostics), tuple(format_path(p) for p in self.ignored), self.root)

    def task(self, P: KeyPath) -> None:
        task = self.chk.at(P)
        self.unknown(P, TASK_APPLIED + tuple(TASK_IGNORED) + READ_ONLY_FIELDS)
        read_only = [k for k in READ_ONLY_FIELDS if k in task]
        if read_only:
            self.chk.warning(P + (read_only[0],), f"{', '.join(read_only)}: read-only fields of `aws ecs "
                                                  "describe-task-definition` output; Conveyor drops them, `aws ecs "
                                                  "register-task-definition` rejects them")
        family = self.required(P, "family", str)
        if family is not None:
            self.name(P + ("family",), family, "family")
        mode = self.opt(P, "networkMode", str)
        if mode is not None and self.enum(P + ("networkMode",), mode, NETWORK_MODES, "networkMode"):
            self.network_mode = mode
        compat = self.opt(P, "requiresCompatibilities", list) or []
        for i, item in enumerate(compat):
            if self.chk.is_type(P + ("requiresCompatibilities", i), item, str):
                self.enum(P + ("requiresCompatibilities", i), item, COMPATIBILITIES, "compatibility")
        self.fargate = "FARGATE" in compat
        self.ignore(P, TASK_IGNORED, checked=("requiresCompatibilities",))
        check_task_parts(self, P)
        cpu, memory = self.task_size(P)
        containers = self.required(P, "containerDefinitions", list)
        if containers is None:
            return
        if not containers:
            self.chk.error(P + ("containerDefinitions",), "a task definition needs at least one container")
        if len(containers) > MAX_CONTAINERS:
            self.chk.error(P + ("containerDefinitions",), f"at most {MAX_CONTAINERS} containers per task definition, "
                                                          f"got {len(containers)}")
        checked = [self.container(P + ("containerDefinitions", i), c) for i, c in enumerate(containers)]
        found = [c for c in checked if c is not None]
        check_across(self.chk, P, found, cpu, memory, fargate=self.fargate,
                     task_memory_given=is_set(task.get("memory")))
        check_launch(self.chk, P, task, network_mode=self.network_mode, fargate=self.fargate)

    def enum(self, path: KeyPath, value: str, choices: tuple[str, ...], what: str) -> bool:
        if value in choices:
            return True
        hint = did_you_mean(value, choices) or f"; expected one of {', '.join(choices)}"
        self.chk.error(path, f"unknown {what} '{value}'{hint}{unrendered(value)}")
        return False

    def task_size(self, P: KeyPath) -> tuple[int | None, int | None]:
        sizes: list[int | None] = []
        for key, parse, example in (("cpu", cpu_units, '"256" or "0.25 vCPU"'),
                                    ("memory", memory_mib, '"512" or "1 GB"')):
            value = self.opt(P, key, (str, int), "a string")
            amount = None
            if isinstance(value, int):
                self.chk.warning(P + (key,), f"the ECS API types task-level {key} as a string, so `aws ecs "
                                             f"register-task-definition` rejects the number {value}: write \"{value}\"")
            if value is not None:
                amount = parse(value)
                if amount is None:
                    self.chk.error(P + (key,), f"invalid task {key} '{value}': "
                                               f"expected {example}{unrendered(str(value))}")
            elif self.fargate:
                self.chk.error(P, f"missing required key '{key}': FARGATE tasks need a task-level {key}")
            sizes.append(amount)
        cpu, memory = sizes
        if self.fargate:
            declared = (self.chk.at(P) or {}).get("networkMode")
            if self.network_mode != "awsvpc" and (declared is None or self.network_mode is not None):
                where = P + ("networkMode",) if self.network_mode else P
                self.chk.error(where, f"FARGATE tasks need networkMode awsvpc, got {self.network_mode or 'none set'}")
            if cpu is not None and memory is not None and (problem := fargate_problem(cpu, memory)):
                self.chk.error(P + ("memory",), problem)
        elif cpu is not None and not EC2_CPU_RANGE[0] <= cpu <= EC2_CPU_RANGE[1]:
            self.chk.error(P + ("cpu",), f"task cpu must be between {EC2_CPU_RANGE[0]} and {EC2_CPU_RANGE[1]} units, "
                                         f"got {cpu}")
        return cpu, memory

    # -- one container
    def container(self, cp: KeyPath, c: Any) -> ContainerFacts | None:
        if not self.chk.is_type(cp, c, dict):
            return None
        self.unknown(cp, tuple(CONTAINER_APPLIED) + tuple(CONTAINER_IGNORED))
        name = self.required(cp, "name", str)
        if name is not None and not self.name(cp + ("name",), name, "container name"):
            name = None
        image = self.required(cp, "image", str)
        if image is not None:
            self.image(cp + ("image",), image)
        out = ContainerFacts(cp, name)
        essential = self.opt(cp, "essential", bool)
        out.essential = True if essential is None else essential
        for key in ("command", "entryPoint"):
            self.argv(cp, key)
        self.environment(cp)
        self.secrets(cp)
        for j, pm in enumerate(self.opt(cp, "portMappings", list) or []):
            self.port_mapping(cp + ("portMappings", j), pm)
        if self.opt(cp, "healthCheck", dict) is not None:
            out.has_health_check = True
            self.health_check(cp + ("healthCheck",))
        out.cpu = self.int_range(cp, "cpu", 0, None)
        out.memory = self.int_range(cp, "memory", 1, None, " MiB")
        out.reservation = self.int_range(cp, "memoryReservation", 1, None, " MiB")
        if out.memory is not None and out.memory < MIN_CONTAINER_MEMORY:
            self.chk.warning(cp + ("memory",), f"memory {out.memory} MiB is below the {MIN_CONTAINER_MEMORY} MiB the "
                                               "container engine reserves for a container: it cannot start "
                                               "(ContainerDefinition.memory)")
        if out.memory is not None and out.reservation is not None and out.memory < out.reservation:
            self.chk.error(cp + ("memoryReservation",), f"memoryReservation ({out.reservation} MiB, the soft limit) "
                                                        f"must not exceed memory ({out.memory} MiB, the hard limit)")
        for key in ("stopTimeout", "startTimeout"):
            value = self.int_range(cp, key, 0, None, " seconds")
            if value is not None:
                out.timeouts.append((cp + (key,), value))
        for key in ("workingDirectory", "user"):
            self.opt(cp, key, str)
        self.opt(cp, "readonlyRootFilesystem", bool)
        for j, dep in enumerate(self.opt(cp, "dependsOn", list) or []):
            dp = cp + ("dependsOn", j)
            if not self.chk.is_type(dp, dep, dict):
                continue
            self.unknown(dp, ("containerName", "condition"))
            target = self.required(dp, "containerName", str)
            condition = self.required(dp, "condition", str)
            if condition is not None and not self.enum(dp + ("condition",), condition, CONDITIONS, "condition"):
                condition = None
            if target is not None:
                out.depends_on.append((dp, target, condition))
        log = self.opt(cp, "logConfiguration", dict)
        if log is not None:
            self.unknown(cp + ("logConfiguration",), LOG_CONFIGURATION_KEYS)
            self.required(cp + ("logConfiguration",), "logDriver", str)
            self.opt(cp + ("logConfiguration",), "options", dict)
            self.opt(cp + ("logConfiguration",), "secretOptions", list)
        self.ignore(cp, CONTAINER_IGNORED, checked=("logConfiguration",))
        check_container_parts(self, cp)
        return out

    def image(self, path: KeyPath, image: str) -> None:
        problem = image_problem(image)
        if problem:
            self.chk.error(path, problem)
        if BARE_IMAGE_PLACEHOLDER.fullmatch(image):
            self.chk.warning(path, f"'{image}' looks like a CodeDeployToECS placeholder without its angle brackets: "
                                   f"the action replaces only the text '<{image}>', "
                                   "so this image would be pulled as is")

    def argv(self, cp: KeyPath, key: str) -> None:
        value = (self.chk.at(cp) or {}).get(key)
        if isinstance(value, str):
            self.chk.error(cp + (key,), f"expected a list of strings (the argv, e.g. [\"sh\", \"-c\", "
                                        f"{json.dumps(value)}]), got a string")
            return
        for i, arg in enumerate(self.opt(cp, key, list) or []):
            self.chk.is_type(cp + (key, i), arg, str)

    def environment(self, cp: KeyPath) -> None:
        for j, entry in enumerate(self.opt(cp, "environment", list) or []):
            ep = cp + ("environment", j)
            if not self.chk.is_type(ep, entry, dict, "a {\"name\": ..., \"value\": ...} object"):
                continue
            if "valueFrom" in entry:
                self.chk.error(ep + ("valueFrom",), "'valueFrom' does not belong in 'environment', "
                                                    "whose entries are {name, value}: a value read from "
                                                    "Secrets Manager or Parameter Store goes in the container's "
                                                    "'secrets' list ({name, valueFrom})")
            self.unknown(ep, ("name", "value", "valueFrom"))
            name = self.required(ep, "name", str)
            if name == "":
                self.chk.error(ep + ("name",), "the variable name is empty")
            elif name is not None:
                self.env_name(ep + ("name",), name)
            value = entry.get("value")
            if isinstance(value, (int, float, bool)):
                shown = json.dumps(value)
                self.chk.error(ep + ("value",), f"expected a string, got {type_name(value)}: ECS passes environment "
                                                f"values as text, write \"{shown}\"")
            else:
                self.opt(ep, "value", str)

    def secrets(self, cp: KeyPath) -> None:
        for j, entry in enumerate(self.opt(cp, "secrets", list) or []):
            sp = cp + ("secrets", j)
            if not self.chk.is_type(sp, entry, dict, "a {\"name\": ..., \"valueFrom\": ...} object"):
                continue
            self.unknown(sp, ("name", "valueFrom"))
            for key in ("name", "valueFrom"):
                value = self.required(sp, key, str)
                if value == "":
                    self.chk.error(sp + (key,), f"{key} is empty")
                elif key == "name" and value is not None:
                    self.env_name(sp + ("name",), value)

    def env_name(self, path: KeyPath, name: str) -> None:
        """An environment (or secret) variable name: see taskdef_names.check_env_name."""
        problem = check_env_name(name)
        if problem is not None:
            severity, message = problem
            (self.chk.error if severity == "error" else self.chk.warning)(path, message)

    def port_mapping(self, pp: KeyPath, pm: Any) -> None:
        if not self.chk.is_type(pp, pm, dict):
            return
        self.unknown(pp, PORT_MAPPING_KEYS)
        ranged = self.opt(pp, "containerPortRange", str)
        container_port = self.int_range(pp, "containerPort", 1, 65535)
        if pm.get("containerPort") is None and ranged is None:
            self.chk.error(pp, "missing required key 'containerPort'")
        host_port = self.int_range(pp, "hostPort", 0, 65535)
        protocol = self.opt(pp, "protocol", str)
        if protocol is not None:
            self.enum(pp + ("protocol",), protocol, PROTOCOLS, "protocol")
        port_name = self.opt(pp, "name", str)
        if port_name is not None and not PORT_NAME.fullmatch(port_name):
            self.chk.error(pp + ("name",), f"invalid port mapping name '{port_name}': up to 64 lowercase letters, "
                                           "digits, '_' and '-', not starting with '-' (PortMapping.name)")
        app = self.opt(pp, "appProtocol", str)
        if app is not None and self.enum(pp + ("appProtocol",), app, APP_PROTOCOLS, "appProtocol"):
            self.ignored.append(pp[len(self.root):] + ("appProtocol",))
        if ranged is not None:
            self.ignored.append(pp[len(self.root):] + ("containerPortRange",))
        if self.network_mode in ("awsvpc", "host") and host_port is not None and container_port is not None \
                and host_port != container_port:
            self.chk.error(pp + ("hostPort",), f"with networkMode {self.network_mode}, hostPort must be left out or "
                                               f"equal containerPort ({container_port}), got {host_port}")

    def health_check(self, hp: KeyPath) -> None:
        self.unknown(hp, HEALTH_CHECK_KEYS)
        raw = (self.chk.at(hp) or {}).get("command")
        if isinstance(raw, str):
            self.chk.error(hp + ("command",), "expected a list, e.g. [\"CMD-SHELL\", \"curl -f http://localhost/ || "
                                              "exit 1\"], got a string")
        elif (cmd := self.required(hp, "command", list)) is not None:
            self.health_command(hp + ("command",), cmd)
        for key, (lo, hi, unit) in HEALTH_CHECK_RANGES.items():
            self.int_range(hp, key, lo, hi, unit)

    def health_command(self, path: KeyPath, cmd: list) -> None:
        if not cmd:
            self.chk.error(path, "the health check command is empty")
            return
        if not all(self.chk.is_type(path + (i,), arg, str) for i, arg in enumerate(cmd)):
            return
        first = cmd[0]
        if first in HEALTH_CHECK_COMMANDS:
            if len(cmd) == 1 or not "".join(cmd[1:]).strip():
                self.chk.error(path, f"nothing to run after '{first}'")
            return
        if re.match(r"CMD(-SHELL)?[ ,]", first):
            kind = first.split(",")[0].split()[0]
            self.chk.error(path + (0,), f"the first element must be exactly '{kind}', with the command in the next "
                                        f"element(s): [\"{kind}\", \"...\"] (\"{kind}, ...\" in one string is the "
                                        "console's text-box form)")
        else:
            self.chk.error(path + (0,), "a health check command must start with 'CMD' (run the arguments directly) or "
                                        "'CMD-SHELL' (run one string with the container's shell), as ECS requires: "
                                        f"[\"CMD\", {json.dumps(first)}, ...]")
