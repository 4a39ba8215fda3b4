"""The rules of an ECS AppSpec (aws-semantics §5.2), checked over a located Document so that every
problem is reported at once, with its position.

    report = check_appspec_document(doc)
    report.diagnostics     # errors and warnings: `appspec.yaml:LINE:COL key.path: message`
    report.values          # what the file says, once it passed: {"task_definition": ..., "hooks": ...}
    report.ignored         # ("PlatformVersion", "NetworkConfiguration", ...): accepted, not applied locally

Verdicts, and why:
- EC2/on-premises AppSpecs (`os`, `files`, `permissions`, a `hooks` mapping) and Lambda ones
  (Type AWS::Lambda::Function) get ONE error that says what the file is and what an ECS AppSpec
  looks like: checking them key by key would only bury that.
- TaskDefinition: `<TASK_DEFINITION>` (the only token CodeDeployToECS replaces, §3.5), an ECS
  task-definition ARN, or FAMILY:REVISION (a revision registered locally; Conveyor's shorthand).
  Anything else cannot be deployed as written and is an error that says why: a file name, a
  dummy ("arn:....", "ARN"), another placeholder (`<TASK_DEF_ARN>`, `$TASK_DEFINITION`). CodeDeploy
  parses the value as an ARN (aws-actions/amazon-ecs-deploy-task-definition#76: an ARN without
  region or account "can't be parsed"). An ARN without :REVISION is a warning: ECS takes the
  family's latest ACTIVE revision, which may not be the one tested.
- ContainerPort "80" (a quoted number) is a warning, read as 80: the documented type is a number,
  but quoted ports are common in pipelines that run (published guides use ContainerPort: "80"), so
  CodeDeploy appears to accept them (inferred; not documented). A non-numeric string is an error.
- Template placeholders (`<NAME>`, `${VAR}`, `$VAR`, `{{var}}`, `%{ ... }`, `[YOUR_VALUE]`) left in
  a value are errors: nothing but `<TASK_DEFINITION>` is rendered on the way to CodeDeploy, so the
  file must be rendered first (and the result validated).
- PlatformVersion, NetworkConfiguration and CapacityProviderStrategy are type-checked and listed in
  `ignored` (as taskdef.json's ignored fields are): there is no Fargate or VPC on this machine.
- Unknown keys are warnings (ignored); a key in the wrong case is an error, as AppSpec keys are
  case-sensitive, and its value is still checked so that every problem shows at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from conveyor.config.codedeploy_model import HOOK_EVENTS, LIFECYCLE_EVENTS
from conveyor.documents.checker import Checker, did_you_mean, type_name
from conveyor.documents.located import Document, KeyPath
from conveyor.errors import Diagnostic

VERSION = "0.0"  # the only AppSpec version (CodeDeploy AppSpec 'version' section)
TASK_DEFINITION_TOKEN = "<TASK_DEFINITION>"  # what CodeDeployToECS replaces with the new revision's ARN
ECS_SERVICE_TYPE = "AWS::ECS::Service"
LAMBDA_FUNCTION_TYPE = "AWS::Lambda::Function"
TARGET_SERVICE = "TargetService"
TOP_KEYS = ("version", "Resources", "Hooks")
TARGET_SERVICE_KEYS = ("Type", "Properties")
PROPERTIES_KEYS = ("TaskDefinition", "LoadBalancerInfo", "PlatformVersion", "NetworkConfiguration",
                   "CapacityProviderStrategy")
IGNORED_PROPERTIES = ("PlatformVersion", "NetworkConfiguration", "CapacityProviderStrategy")
LOAD_BALANCER_INFO_KEYS = ("ContainerName", "ContainerPort")
AWSVPC_KEYS = ("Subnets", "SecurityGroups", "AssignPublicIp")
ASSIGN_PUBLIC_IP = ("ENABLED", "DISABLED")
CAPACITY_PROVIDER_KEYS = ("CapacityProvider", "Base", "Weight")
# ECS limits: AwsVpcConfiguration (16 subnets, 5 security groups), CapacityProviderStrategyItem.
MAX_SUBNETS, MAX_SECURITY_GROUPS = 16, 5
WEIGHT_RANGE, BASE_RANGE = (0, 1000), (0, 100000)
PORT_RANGE = (1, 65535)
EC2_KEYS = ("os", "files", "permissions", "hooks")
EC2_ONLY_EVENTS = ("ApplicationStop", "DownloadBundle", "ApplicationStart", "ValidateService", "BeforeBlockTraffic",
                   "BlockTraffic", "AfterBlockTraffic")
HOOKABLE = ", ".join(HOOK_EVENTS)
ECS_SHAPE = ("version: 0.0, Resources: [- TargetService: {Type: AWS::ECS::Service, Properties: {TaskDefinition: "
             "<TASK_DEFINITION>, LoadBalancerInfo: {ContainerName: NAME, ContainerPort: PORT}}}] and optional Hooks "
             f"(- EVENT: LAMBDA_FUNCTION, EVENT one of {HOOKABLE})")

CONTAINER_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")  # ECS container names
TASK_DEFINITION_ARN = re.compile(r"arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition/([A-Za-z0-9_-]{1,255})"
                                 r"(?::(\d+))?")
LOCAL_REVISION = re.compile(r"([A-Za-z0-9_-]{1,255}):(\d+)")
# Lambda's FunctionName forms: name, name:qualifier, ACCOUNT:function:name, full ARN (names 1-64).
LAMBDA_FUNCTION = re.compile(r"(?:arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:|\d{12}:function:)?"
                             r"[A-Za-z0-9_-]{1,64}(?::(?:\$LATEST|[A-Za-z0-9_-]{1,128}))?")
PLACEHOLDER = re.compile(r"<[A-Za-z0-9_.:/ -]+>|\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\{\{[^}]*\}\}|%\{[^}]*\}"
                         r"|\[[A-Za-z0-9_ -]+\]")


def placeholders(value: str) -> list[str]:
    """Template placeholders in a value ($LATEST, a Lambda qualifier, is not one).

    >>> placeholders("arn:aws:ecs:<region>:<account>:task-definition/web:9")
    ['<region>', '<account>']
    """
    return [m.group(0) for m in PLACEHOLDER.finditer(value) if m.group(0) != "$LATEST"]


def unrendered(value: str) -> str:
    """'; <why>' when `value` holds a template placeholder, else ''."""
    found = placeholders(value)
    return f"; {not_rendered(found[0])}" if found else ""


def not_rendered(placeholder: str) -> str:
    return (f"'{placeholder}' looks like a template placeholder that was not rendered: render the file (envsubst, "
            "sed, a template engine) before deploying it")


def split_task_definition(value: str) -> tuple[str, int | None] | None:
    """(family, revision) that an AppSpec TaskDefinition names; None for anything else, including
    the `<TASK_DEFINITION>` token.

    >>> split_task_definition("arn:aws:ecs:us-east-1:111122223333:task-definition/web:42")
    ('web', 42)
    >>> split_task_definition("web:7"), split_task_definition("<TASK_DEFINITION>")
    (('web', 7), None)
    """
    arn = TASK_DEFINITION_ARN.fullmatch(value)
    if arn:
        return arn.group(1), int(arn.group(2)) if arn.group(2) else None
    local = LOCAL_REVISION.fullmatch(value)
    return (local.group(1), int(local.group(2))) if local else None


def task_definition_problem(value: str) -> tuple[str, str] | None:
    """(severity, message) for a TaskDefinition value, or None when it is fine."""
    if value == TASK_DEFINITION_TOKEN:
        return None
    named = split_task_definition(value)
    if named is not None:
        family, revision = named
        if revision is None:
            return "warning", (f"the ARN names no revision (...:task-definition/{family}:REVISION): ECS then uses the "
                               f"latest ACTIVE revision of {family}, which may not be the one you tested")
        if revision < 1:
            return "error", f"task definition revisions start at 1, got {revision}"
        return None
    token = "CodeDeployToECS replaces only the exact token <TASK_DEFINITION> (angle brackets included)"
    expected = ("expected <TASK_DEFINITION> (CodeDeployToECS puts the ARN of the revision it registers there), an "
                "ECS task definition ARN arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION, or "
                "FAMILY:REVISION for a revision registered locally")
    found = placeholders(value)
    if not value.strip():
        return "error", f"TaskDefinition is empty; {expected}"
    if value.startswith("arn:") and found:
        return "error", (f"the ARN still holds {', '.join(found)}: fill them in, or write <TASK_DEFINITION> and let "
                         "CodeDeployToECS put the ARN of the revision it registers there")
    if re.fullmatch(r"<[^<>]*>", value):
        return "error", f"'{value}' is not replaced: {token}; write TaskDefinition: <TASK_DEFINITION>"
    if found:
        return "error", (f"'{found[0]}' looks like a template placeholder that was not rendered; {token}, so either "
                         "render the file before deploying it or write <TASK_DEFINITION>")
    if value.lower().endswith((".json", ".yaml", ".yml")):
        return "error", (f"'{value}' is a file name, but TaskDefinition names a registered task definition: with "
                         "CodeDeployToECS write <TASK_DEFINITION> (the action registers the file named by "
                         "TaskDefinitionTemplatePath, default taskdef.json, and puts the new revision's ARN there)")
    if value.startswith("arn:"):
        return "error", (f"'{value}' is not an ECS task definition ARN (arn:aws:ecs:REGION:ACCOUNT:task-definition/"
                         f"FAMILY:REVISION); a dummy value is not overwritten: {token}")
    return "error", (f"'{value}' is not a task definition; {expected} (a placeholder other than <TASK_DEFINITION> "
                     "is not replaced)")


def hook_event_problem(event: str) -> str | None:
    """Why `event` cannot be a hook of an ECS AppSpec, or None."""
    if event in HOOK_EVENTS:
        return None
    also = f"an ECS AppSpec may hook {HOOKABLE}"
    if event.lower() in (e.lower() for e in HOOK_EVENTS):
        return f"unknown lifecycle event '{event}'{did_you_mean(event, HOOK_EVENTS)}: event names are case-sensitive"
    if event in LIFECYCLE_EVENTS:
        return f"{event} is run by CodeDeploy itself and takes no hook; {also}"
    if event in EC2_ONLY_EVENTS:
        return f"{event} is an EC2/on-premises lifecycle event; {also}"
    return f"unknown lifecycle event '{event}'{did_you_mean(event, HOOK_EVENTS)}; {also}"


@dataclass
class AppSpecReport:
    diagnostics: list[Diagnostic]
    values: dict[str, Any] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)


def check_appspec_document(doc: Document) -> AppSpecReport:
    return _AppSpecCheck(doc).run()


class _AppSpecCheck:
    def __init__(self, doc: Document):
        self.chk = Checker(doc)
        self.values: dict[str, Any] = {}
        self.ignored: list[str] = []

    def report(self) -> AppSpecReport:
        return AppSpecReport(sorted(self.chk.diagnostics), self.values, tuple(self.ignored))

    # -- vocabulary: keys are case-sensitive, but a wrong-case key is still read (and reported by unknown())
    def lookup(self, path: KeyPath, key: str) -> tuple[KeyPath | None, Any]:
        mapping = self.chk.at(path)
        if not isinstance(mapping, dict):
            return None, None
        if key in mapping:
            return path + (key,), mapping[key]
        other = next((k for k in mapping if isinstance(k, str) and k.lower() == key.lower()), None)
        return (path + (other,), mapping[other]) if other is not None else (None, None)

    def required(self, path: KeyPath, key: str, types: type | tuple[type, ...], what: str | None = None,
                 hint: str = "") -> tuple[KeyPath | None, Any]:
        where, value = self.lookup(path, key)
        if where is None or value is None:
            if isinstance(self.chk.at(path), dict):
                self.chk.error(where or path, f"missing required key '{key}'{hint}")
            return None, None
        return (where, value) if self.chk.is_type(where, value, types, what) else (None, None)

    def optional(self, path: KeyPath, key: str, types: type | tuple[type, ...],
                 what: str | None = None) -> tuple[KeyPath | None, Any]:
        where, value = self.lookup(path, key)
        if where is None or value is None:
            return None, None
        return (where, value) if self.chk.is_type(where, value, types, what) else (None, None)

    def unknown(self, path: KeyPath, known: tuple[str, ...]) -> None:
        mapping = self.chk.at(path)
        for key in mapping if isinstance(mapping, dict) else ():
            if key in known:
                continue
            hint = did_you_mean(str(key), known)
            if str(key).lower() in (k.lower() for k in known):
                self.chk.error(path + (key,), f"unknown key '{key}'{hint}: AppSpec keys are case-sensitive")
            else:
                self.chk.warning(path + (key,), f"unknown key '{key}'{hint}; Conveyor ignores it")

    def text(self, path: KeyPath, value: Any, what: str = "a string") -> str | None:
        """A non-blank string without template placeholders, or None (reported)."""
        if not self.chk.is_type(path, value, str, what):
            return None
        if not value.strip():
            self.chk.error(path, f"the value is blank; expected {what}")
            return None
        found = placeholders(value)
        if found:
            self.chk.error(path, not_rendered(found[0]))
            return None
        return value

    # -- the file
    def run(self) -> AppSpecReport:
        data = self.chk.doc.data
        if not isinstance(data, dict):
            self.chk.error((), f"expected a mapping at the top level (an ECS AppSpec: {ECS_SHAPE}), got "
                               f"{type_name(data)}")
            return self.report()
        if self.foreign(data):
            return self.report()
        self.unknown((), TOP_KEYS)
        self.version()
        self.resources()
        self.hooks()
        return self.report()

    def foreign(self, data: dict) -> bool:
        """ONE error for an EC2/on-premises or a Lambda AppSpec; True when the file is one."""
        resources = next((v for k, v in data.items() if str(k).lower() == "resources"), None)
        entries = [(i, k, v) for i, item in enumerate(resources if isinstance(resources, list) else [])
                   if isinstance(item, dict) for k, v in item.items()]
        ec2 = [k for k in EC2_KEYS if k in data and (k != "hooks" or isinstance(data[k], dict))]
        if ec2:
            ecs = any(k == TARGET_SERVICE for _, k, _ in entries)
            also = f"; it also has an ECS TargetService: remove {', '.join(ec2)}" if ecs else ""
            self.chk.error((ec2[0],), f"this is an EC2/on-premises AppSpec (it has {', '.join(ec2)}{also}): Conveyor "
                                      f"deploys ECS services, and an ECS AppSpec names the service instead of files "
                                      f"and scripts: {ECS_SHAPE}")
            return True
        for i, key, value in entries:
            kind = next((v for k, v in value.items() if str(k).lower() == "type"), None) if isinstance(value, dict) \
                else None
            if kind == LAMBDA_FUNCTION_TYPE:
                rkey = next(k for k in data if str(k).lower() == "resources")
                self.chk.error((rkey, i, key), f"this is an AWS Lambda AppSpec (Type {LAMBDA_FUNCTION_TYPE}): Conveyor "
                                               f"deploys ECS services, whose AppSpec looks like: {ECS_SHAPE}")
                return True
        return False

    def version(self) -> None:
        where, value = self.lookup((), "version")
        if where is None:
            self.chk.error((), "missing required key 'version': an AppSpec starts with version: 0.0")
            return
        if (isinstance(value, float) and value == 0.0) or value == VERSION and isinstance(value, str):
            self.values["version"] = VERSION
            return
        self.chk.error(where, f"version must be 0.0, the only AppSpec version, got {value!r}")

    def resources(self) -> None:
        rp, resources = self.required((), "Resources", list, "a list with one TargetService",
                                      hint=f": an ECS AppSpec names the service to deploy ({ECS_SHAPE})")
        if rp is None:
            return
        if len(resources) != 1:
            self.chk.error(rp, f"Resources must hold exactly one TargetService (one ECS service per deployment), "
                               f"got {len(resources)} entries")
        if not resources:
            return
        entry = resources[0]
        ep = rp + (0,)
        if not self.chk.is_type(ep, entry, dict, f"a mapping with the single key {TARGET_SERVICE}"):
            return
        self.unknown(ep, (TARGET_SERVICE,))
        if len(entry) > 1:
            keys = ", ".join(map(str, entry))
            self.chk.error(ep, f"the resource must have the single key {TARGET_SERVICE}, got {keys}")
        tp, _ = self.required(ep, TARGET_SERVICE, dict)
        if tp is None:
            return
        self.unknown(tp, TARGET_SERVICE_KEYS)
        kp, kind = self.required(tp, "Type", str)
        if kp is not None and kind != ECS_SERVICE_TYPE:
            self.chk.error(kp, f"Type must be {ECS_SERVICE_TYPE}, got '{kind}'{did_you_mean(kind, [ECS_SERVICE_TYPE])}")
        pp, _ = self.required(tp, "Properties", dict)
        if pp is not None:
            self.properties(pp)

    def properties(self, pp: KeyPath) -> None:
        self.unknown(pp, PROPERTIES_KEYS)
        where, value = self.required(pp, "TaskDefinition", str)
        if where is not None:
            problem = task_definition_problem(value)
            if problem is None or problem[0] == "warning":
                self.values["task_definition"] = value
            if problem is not None:
                (self.chk.warning if problem[0] == "warning" else self.chk.error)(where, problem[1])
        lp, _ = self.required(pp, "LoadBalancerInfo", dict, "a mapping {ContainerName, ContainerPort}")
        if lp is not None:
            self.load_balancer_info(lp)
        for key in IGNORED_PROPERTIES:
            before = len(self.chk.errors)
            where, value = self.lookup(pp, key)
            if where is None or value is None:
                continue
            getattr(self, key[0].lower() + key[1:])(where, value)
            if len(self.chk.errors) == before:
                self.ignored.append(key)

    def load_balancer_info(self, lp: KeyPath) -> None:
        self.unknown(lp, LOAD_BALANCER_INFO_KEYS)
        where, name = self.required(lp, "ContainerName", str, "a container name")
        if where is not None:
            if not name.strip():
                self.chk.error(where, "ContainerName is blank; expected the name of the task definition's container "
                                      "that receives traffic")
            elif not CONTAINER_NAME.fullmatch(name):
                self.chk.error(where, f"invalid container name '{name}': ECS container names are 1-255 letters, "
                                      f"digits, '-' or '_'{unrendered(name)}")
            else:
                self.values["container_name"] = name
        where, port = self.required(lp, "ContainerPort", (int, str), "a port number")
        if where is None:
            return
        if isinstance(port, str):
            if not port.strip().isdigit():
                blank = " (it is blank)" if not port.strip() else ""
                self.chk.error(where, f"ContainerPort must be a port number {PORT_RANGE[0]}-{PORT_RANGE[1]}, got "
                                      f"'{port}'{blank}{unrendered(port)}")
                return
            self.chk.warning(where, f"ContainerPort is the string \"{port}\": the AppSpec documents a number (write "
                                    f"ContainerPort: {int(port)}); Conveyor reads it as {int(port)}")
            port = int(port)
        if not PORT_RANGE[0] <= port <= PORT_RANGE[1]:
            self.chk.error(where, f"ContainerPort must be between {PORT_RANGE[0]} and {PORT_RANGE[1]}, got {port}")
            return
        self.values["container_port"] = port

    # -- accepted, not applied locally (named after the key: see properties())
    def platformVersion(self, where: KeyPath, value: Any) -> None:
        if self.text(where, value, 'a string ("LATEST" or a version such as "1.4.0")') is not None:
            self.values["platform_version"] = value

    def networkConfiguration(self, where: KeyPath, value: Any) -> None:
        if not self.chk.is_type(where, value, dict, "a mapping {AwsvpcConfiguration: {...}}"):
            return
        self.unknown(where, ("AwsvpcConfiguration",))
        ap, _ = self.required(where, "AwsvpcConfiguration", dict)
        if ap is None:
            return
        self.unknown(ap, AWSVPC_KEYS)
        for key, limit, required in (("Subnets", MAX_SUBNETS, True), ("SecurityGroups", MAX_SECURITY_GROUPS, False)):
            kp, items = (self.required if required else self.optional)(ap, key, list)
            if kp is None:
                continue
            if not items or len(items) > limit:
                self.chk.error(kp, f"{key} takes 1 to {limit} IDs, got {len(items)}")
            for i, item in enumerate(items):
                self.text(kp + (i,), item, "an ID")
        kp, assign = self.optional(ap, "AssignPublicIp", str)
        if kp is not None and assign not in ASSIGN_PUBLIC_IP:
            self.chk.one_of(kp, assign, ASSIGN_PUBLIC_IP, "AssignPublicIp")
        self.values["network_configuration"] = value

    def capacityProviderStrategy(self, where: KeyPath, value: Any) -> None:
        if not self.chk.is_type(where, value, list, "a list of {CapacityProvider, Base, Weight}"):
            return
        for i, item in enumerate(value):
            ip = where + (i,)
            if not self.chk.is_type(ip, item, dict, "a mapping {CapacityProvider, Base, Weight}"):
                continue
            self.unknown(ip, CAPACITY_PROVIDER_KEYS)
            kp, provider = self.required(ip, "CapacityProvider", str)
            if kp is not None:
                self.text(kp, provider, "a capacity provider name")
            for key, (lo, hi) in (("Base", BASE_RANGE), ("Weight", WEIGHT_RANGE)):
                kp, number = self.optional(ip, key, int)
                if kp is not None and not lo <= number <= hi:
                    self.chk.error(kp, f"{key} must be between {lo} and {hi}, got {number}")
        self.values["capacity_provider_strategy"] = value

    # -- hooks
    def hooks(self) -> None:
        hp, hooks = self.lookup((), "Hooks")
        if hp is None or hooks is None:  # `Hooks:` with every entry commented out is null: no hooks
            self.values["hooks"] = ()
            return
        if isinstance(hooks, dict):
            self.chk.error(hp, "Hooks is a list of single-key maps (- AfterAllowTestTraffic: my-function), got a "
                               "mapping")
            return
        if not self.chk.is_type(hp, hooks, list, "a list of single-key maps (- EVENT: LAMBDA_FUNCTION)"):
            return
        found: list[tuple[str, str]] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(hooks):
            ip = hp + (i,)
            if not isinstance(item, dict) or len(item) != 1:
                self.chk.error(ip, f"each hook is a single-key map - EVENT: LAMBDA_FUNCTION (e.g. "
                                   f"- AfterAllowTestTraffic: my-function), got {type_name(item)}"
                                   + (f" with {len(item)} keys" if isinstance(item, dict) else ""))
                continue
            ((event, function),) = item.items()
            ep = ip + (event,)
            ok = True
            problem = hook_event_problem(str(event))
            if problem:
                self.chk.error(ep, problem)
                ok = False
            elif event in seen:
                self.chk.error(ep, f"a second {event} hook (the first is Hooks[{seen[event]}]): CodeDeploy runs one "
                                   "function per lifecycle event")
                ok = False
            else:
                seen[event] = i
            if self.hook_function(ep, function) and ok:
                found.append((str(event), function))
        self.values["hooks"] = tuple(found)

    def hook_function(self, ep: KeyPath, value: Any) -> bool:
        if isinstance(value, list):
            self.chk.error(ep, "an ECS hook names one Lambda function (- AfterAllowTestTraffic: my-function); lists "
                               "of scripts (location:, timeout:) are EC2/on-premises hooks")
            return False
        if self.text(ep, value, "a Lambda function name or ARN") is None:
            return False
        if not LAMBDA_FUNCTION.fullmatch(value):
            self.chk.error(ep, f"invalid Lambda function '{value}': expected a name of 1-64 letters, digits, '-' or "
                               "'_' (optionally :QUALIFIER) or an ARN arn:aws:lambda:REGION:ACCOUNT:function:NAME")
            return False
        return True
