"""Validation of conveyor.yml's `environments:` (the services Conveyor deploys, aws-semantics §4.2-4.4
for the service and deployment keys, §7.1-7.2 for the load balancer's target group). Every problem
is reported at once with its position; docs/conveyor.reference.yml documents every key.

    check_environment(chk, ("environments", "staging"), env)   # what conveyor.yml's checker calls
    check_environments(doc, read_taskdef=reader)                # the whole section, e.g. at deploy time

Besides shapes and ranges it checks what would fail later: a listener port used twice on this
machine (in any environment, since everything binds 127.0.0.1), a deployment that could neither
start nor stop a task, a circuit breaker on a CODE_DEPLOY service, and the service's task
definition: the file must exist and hold the load balancer's container and containerPort. The
file is read next to conveyor.yml, or through `read_taskdef` (say, from a commit); when
conveyor.yml is not a file on disk and no reader is given, that part is skipped. The runtime
model with defaults is conveyor.deploy.spec.

A CODE_DEPLOY service's deployment group (config or strategy, hooks, alarms, probe...) is checked
by conveyor.config.deployment_group, the environment's `alarms:` by conveyor.config.alarms.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conveyor.config import ecs_deployment as rolling
from conveyor.config.alarms import check_alarm_definitions, check_group_alarms
from conveyor.config.codedeploy_group import GROUP_KEYS
from conveyor.config.deployment_group import DEPLOYMENT_READY_OPTIONS, check_code_deploy  # noqa: F401 (re-exported)
from conveyor.config.taskdef import parse_taskdef, read_taskdef_document
from conveyor.documents.checker import Checker, did_you_mean
from conveyor.documents.located import Document, KeyPath, format_path
from conveyor.documents.source import read_text_file
from conveyor.errors import ConfigError, Diagnostic
from conveyor.paths import is_inside

#: Given a service's `taskDefinition` value: (the name to show, the file's text), or None when
#: there is no such file.
TaskdefReader = Callable[[str], tuple[str, str] | None]

NAME = r"[A-Za-z0-9_-]+"
NAME_LIMIT = 64
#: Keys that place an environment on AWS (target: aws only).
AWS_ENVIRONMENT_KEYS = ("region", "profile", "roleArn", "cluster", "codeDeployApplication")
ENVIRONMENT_KEYS = ("target", "services", "alarms", "production") + AWS_ENVIRONMENT_KEYS
AWS_REGION = r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d+"
ROLE_ARN = r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}"
CLUSTER_NAME = r"[A-Za-z0-9_-]{1,255}"
CODEDEPLOY_APPLICATION = r"[A-Za-z0-9_.+=,@-][^\x00-\x1f]{0,99}"
SERVICE_KEYS = ("taskDefinition", "desiredCount", "healthCheckGracePeriodSeconds", "loadBalancer", "deployment")
LOAD_BALANCER_KEYS = ("port", "bind", "testPort", "container", "containerPort", "deregistrationDelaySeconds",
                      "healthCheck")
HEALTH_CHECK_KEYS = ("path", "port", "intervalSeconds", "timeoutSeconds", "healthyThresholdCount",
                     "unhealthyThresholdCount", "matcher")
CODE_DEPLOY_KEYS = GROUP_KEYS  # validated by conveyor.config.deployment_group
#: What a rolling (ECS) service on AWS may say about alarms: ECS deployment alarms.
ECS_ALARM_KEYS = ("alarms", "alarmsEnabled")
DEPLOYMENT_KEYS = ("controller", "minimumHealthyPercent", "maximumPercent", "circuitBreaker") + CODE_DEPLOY_KEYS
CIRCUIT_BREAKER_KEYS = ("enable", "rollback", "resetOnHealthyTask", "threshold")
THRESHOLD_KEYS = ("type", "value")
TARGETS = ("local", "aws")
CONTROLLERS = ("ECS", "CODE_DEPLOY")
THRESHOLD_TYPES = ("COUNT", "BOUNDED_PERCENT", "UNBOUNDED_PERCENT")

MAX_LOCAL_DESIRED_COUNT = 100
MAX_GRACE_PERIOD_SECONDS = 2147483647      # ECS healthCheckGracePeriodSeconds
DEREGISTRATION_DELAY_RANGE = (0, 3600)     # ALB deregistration_delay.timeout_seconds
HEALTH_CHECK_PATH_LIMIT = 1024
# ALB ranges, except that a local interval may be 1 s (AWS: 5-300) and a timeout 1 s (AWS: 2-120).
INTERVAL_RANGE = (1, 300)
TIMEOUT_RANGE = (1, 120)
THRESHOLD_COUNT_RANGE = (2, 10)
MATCHER_CODES = (200, 499)
# The local default interval (conveyor.deploy.spec / conveyor.lb.model), which a timeout is compared with.
DEFAULT_INTERVAL_SECONDS = 2
DEFAULT_TASK_DEFINITION = "taskdef.json"  # as CodeDeployToECS's TaskDefinitionTemplatePath


def check_environments(doc: Document, read_taskdef: TaskdefReader | None = None) -> list[Diagnostic]:
    """Every diagnostic for doc.data["environments"] (a conveyor.yml Document)."""
    chk = Checker(doc)
    envs = chk.get((), "environments", dict) if isinstance(doc.data, dict) else None
    for name, env in (envs or {}).items():
        check_environment(chk, ("environments", name), env, read_taskdef=read_taskdef)
    return sorted(chk.diagnostics)


def check_environment(chk: Checker, path: KeyPath, env: Any, *, read_taskdef: TaskdefReader | None = None) -> None:
    """One environment. Listener ports are compared with those of the environments before it."""
    chk.name(path, path[-1], NAME, NAME_LIMIT, "environment name")
    if not chk.is_type(path, env, dict):
        return
    chk.keys(path, ENVIRONMENT_KEYS)
    target = chk.get(path, "target", str)
    if target is not None:
        chk.one_of(path + ("target",), target, TARGETS, "target")
    chk.get(path, "production", bool)  # DORA metrics count this environment (conveyor.dora.production)
    check_alarm_definitions(chk, path, aws=target == "aws")
    _check_aws_location(chk, path, env, aws=target == "aws")
    services = chk.get(path, "services", dict) or {}
    reader = read_taskdef if read_taskdef is not None else _reader_next_to(chk.doc.file)
    for name, body in services.items():
        sp = path + ("services", name)
        chk.name(sp, name, NAME, NAME_LIMIT, "service name")
        if chk.is_type(sp, body, dict):
            _check_service(chk, sp, body, reader)
    if target != "aws":
        _check_ports(chk, path)


REGISTRY_KEYS = ("target", "region", "profile", "roleArn")


def check_registry(chk: Checker) -> None:
    """conveyor.yml `registry:`: where builds push images (ECR semantics) — the local registry
    (default) or ECR in an AWS account and region."""
    reg = chk.get((), "registry", dict)
    if reg is None:
        return
    path: KeyPath = ("registry",)
    chk.keys(path, REGISTRY_KEYS)
    target = chk.get(path, "target", str)
    if target is not None:
        chk.one_of(path + ("target",), target, TARGETS, "target")
    _check_aws_location(chk, path, reg, aws=target == "aws", keys=("region", "profile", "roleArn"))


def _check_aws_location(chk: Checker, path: KeyPath, env: dict[str, Any], *, aws: bool,
                        keys: tuple[str, ...] = AWS_ENVIRONMENT_KEYS) -> None:
    """Where an AWS environment lives: its region (required), credentials (a profile, a role to
    assume) and the names of its cluster and CodeDeploy application."""
    if not aws:
        for key in keys:
            if key in env:
                chk.error(path + (key,), f"{key} applies to target: aws environments only (add target: aws, "
                                         "or remove the key)")
        return
    if "region" not in env:
        what = "an environment" if path[0] == "environments" else "a registry"
        chk.error(path, f"{what} with target: aws needs a region (region: eu-west-1, say)")
    patterns = {"region": (AWS_REGION, "an AWS region such as eu-west-1"),
                "roleArn": (ROLE_ARN, "an IAM role ARN, arn:aws:iam::ACCOUNT:role/NAME"),
                "cluster": (CLUSTER_NAME, "an ECS cluster name: 1-255 characters of A-Z a-z 0-9 - _"),
                "codeDeployApplication": (CODEDEPLOY_APPLICATION, "a CodeDeploy application name, 1-100 characters"),
                "profile": (r"[^\s]{1,128}", "a profile name from ~/.aws/config")}
    for key, (pattern, what) in patterns.items():
        if key not in keys:
            continue
        value = chk.get(path, key, str)
        if value is not None and not re.fullmatch(pattern, value):
            chk.error(path + (key,), f"{key} {value!r} is not {what}")


def _repository(conveyor_yml: Path) -> Path:
    """The work tree holding conveyor.yml (the nearest parent with .git), else its directory: a
    taskDefinition may say `../x.json` from a subdirectory, never leave the repository."""
    here = conveyor_yml.resolve().parent
    return next((d for d in (here, *here.parents) if (d / ".git").exists()), here)


def _reader_next_to(conveyor_yml: str) -> TaskdefReader | None:
    base = Path(conveyor_yml)
    if not base.is_file():
        return None

    def read(value: str) -> tuple[str, str] | None:
        display = os.path.normpath(os.path.join(os.path.dirname(conveyor_yml), value))
        if not is_inside(_repository(base), Path(display)):  # `..` or a symlink out of the repository
            return None
        if not os.path.exists(display) or os.path.isdir(display):
            return None
        return display, read_text_file(display, display)  # ConfigError: special, too big, not UTF-8

    return read


# --- one service --------------------------------------------------------------------------------


def _number(chk: Checker, path: KeyPath, key: str, lo: float, hi: float | None, *, integer: bool = True,
            unit: str = "") -> Any:
    types: tuple[type, ...] = (int,) if integer else (int, float)
    value = chk.get(path, key, types, what=None if integer else "a number")
    if value is not None and not (lo <= value and (hi is None or value <= hi)):
        bound = f"between {lo} and {hi}{unit}" if hi is not None else f"at least {lo}{unit}"
        chk.error(path + (key,), f"{key} must be {bound}, got {value}")
        return None
    return value


def _check_service(chk: Checker, sp: KeyPath, svc: dict, reader: TaskdefReader | None) -> None:
    chk.keys(sp, SERVICE_KEYS)
    taskdef = svc.get("taskDefinition", DEFAULT_TASK_DEFINITION)
    if not chk.is_type(sp + ("taskDefinition",), taskdef, str, "a path to the task definition JSON"):
        taskdef = None
    elif not taskdef.strip() or os.path.isabs(taskdef) or "\0" in taskdef:
        chk.error(sp + ("taskDefinition",), f"expected a path relative to the repository root, got {taskdef!r}")
        taskdef = None
    desired = _number(chk, sp, "desiredCount", 0, MAX_LOCAL_DESIRED_COUNT)
    _number(chk, sp, "healthCheckGracePeriodSeconds", 0, MAX_GRACE_PERIOD_SECONDS, integer=False, unit=" seconds")
    lb = chk.get(sp, "loadBalancer", dict)
    if lb is not None:
        _check_load_balancer(chk, sp + ("loadBalancer",))
    dep = chk.get(sp, "deployment", dict)
    if dep is not None:
        _check_deployment(chk, sp + ("deployment",), 1 if desired is None else desired)
    if taskdef is not None and reader is not None:
        _check_taskdef(chk, sp, taskdef, reader)


def _check_load_balancer(chk: Checker, lp: KeyPath) -> None:
    chk.keys(lp, LOAD_BALANCER_KEYS)
    for key in ("port", "containerPort"):
        if chk.at(lp + (key,)) is None:
            chk.error(lp, f"missing required key '{key}'")
        _number(chk, lp, key, 1, 65535)
    _number(chk, lp, "testPort", 1, 65535)
    bind = chk.get(lp, "bind", str, what="an IP address")
    if bind is not None:
        try:
            ipaddress.ip_address(bind)
        except ValueError:
            chk.error(lp + ("bind",), f"expected an IP address such as 127.0.0.1, got '{bind}'")
    chk.get(lp, "container", str, required=True, what="a container name")
    _number(chk, lp, "deregistrationDelaySeconds", *DEREGISTRATION_DELAY_RANGE, integer=False, unit=" seconds")
    if chk.get(lp, "healthCheck", dict) is not None:
        _check_health_check(chk, lp + ("healthCheck",))


def _check_health_check(chk: Checker, hp: KeyPath) -> None:
    chk.keys(hp, HEALTH_CHECK_KEYS)
    path = chk.get(hp, "path", str)
    if path is not None and (not path.startswith("/") or len(path) > HEALTH_CHECK_PATH_LIMIT):
        chk.error(hp + ("path",), f"expected a path starting with / (at most {HEALTH_CHECK_PATH_LIMIT} characters), "
                                  f"got '{path[:60]}'")
    port = chk.get(hp, "port", (str, int), what="traffic-port or a port number")
    if port is not None and port != "traffic-port":
        number = int(port) if isinstance(port, int) or port.isdigit() else None
        if number is None or not 1 <= number <= 65535:
            chk.error(hp + ("port",), f"expected traffic-port (the containerPort) or a port 1-65535, got '{port}'")
    interval = _number(chk, hp, "intervalSeconds", *INTERVAL_RANGE, integer=False, unit=" seconds")
    timeout = _number(chk, hp, "timeoutSeconds", *TIMEOUT_RANGE, integer=False, unit=" seconds")
    # As the ALB rule, for a timeout that is written down: `intervalSeconds: 1` alone stays valid locally.
    if timeout is not None:
        i = DEFAULT_INTERVAL_SECONDS if interval is None else interval
        if timeout >= i:
            chk.error(hp + ("timeoutSeconds",), f"timeoutSeconds ({timeout}) must be less than intervalSeconds "
                                                f"({i}{'' if interval is not None else ', the default'})")
    for key in ("healthyThresholdCount", "unhealthyThresholdCount"):
        _number(chk, hp, key, *THRESHOLD_COUNT_RANGE)
    matcher = chk.get(hp, "matcher", (str, int), what='HTTP codes, e.g. "200" or "200-299"')
    if matcher is not None and (problem := matcher_problem(str(matcher))):
        chk.error(hp + ("matcher",), problem)


def matcher_problem(matcher: str) -> str | None:
    """Why an ALB Matcher.HttpCode is invalid: codes 200-499, as "200", "200,202" or "200-299".

    >>> matcher_problem("200-399"), matcher_problem("200,301-302")
    (None, None)
    >>> matcher_problem("500")
    "invalid matcher '500': HTTP codes must be between 200 and 499"
    """
    lo, hi = MATCHER_CODES
    for part in matcher.split(","):
        match = re.fullmatch(r"\s*(\d{3})\s*(?:-\s*(\d{3})\s*)?", part)
        if not match:
            return f"invalid matcher '{matcher}': expected codes like \"200\", \"200,202\" or \"200-299\""
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        if not (lo <= first <= hi and lo <= last <= hi):
            return f"invalid matcher '{matcher}': HTTP codes must be between {lo} and {hi}"
        if first > last:
            return f"invalid matcher '{matcher}': the range {first}-{last} is backwards"
    return None


def _check_deployment(chk: Checker, dp: KeyPath, desired: int) -> None:
    chk.keys(dp, DEPLOYMENT_KEYS)
    controller = chk.get(dp, "controller", str) or "ECS"
    if controller == "EXTERNAL":
        chk.error(dp + ("controller",), "the EXTERNAL deployment controller is not supported: Conveyor deploys with "
                                        "ECS (rolling) or CODE_DEPLOY (blue/green)")
        return
    if not chk.one_of(dp + ("controller",), controller, CONTROLLERS, "controller"):
        return
    low = _number(chk, dp, "minimumHealthyPercent", 0, 100)
    high = _number(chk, dp, "maximumPercent", 100, None)
    low = rolling.DEFAULT_MINIMUM_HEALTHY_PERCENT if low is None else low
    high = rolling.DEFAULT_MAXIMUM_PERCENT if high is None else high
    limits = rolling.bounds(desired, low, high)
    if controller == "ECS" and desired > 0 and limits.max_total <= desired and limits.min_healthy >= desired:
        chk.error(dp, f"with desiredCount {desired}, minimumHealthyPercent {low} and maximumPercent {high}, "
                      f"no task can be started (at most {limits.max_total} may run) or stopped "
                      f"(at least {limits.min_healthy} must stay healthy): ECS would be stuck; "
                      "lower minimumHealthyPercent or raise maximumPercent")
    if chk.get(dp, "circuitBreaker", dict) is not None:
        if controller == "CODE_DEPLOY":
            chk.error(dp + ("circuitBreaker",), "the deployment circuit breaker is not available with controller "
                                                "CODE_DEPLOY (ECS offers it for the ECS controller only); use "
                                                "autoRollback and alarms")
        else:
            _check_circuit_breaker(chk, dp + ("circuitBreaker",))
    env_path = dp[:-3]
    env = chk.at(env_path)
    aws = isinstance(env, dict) and env.get("target") == "aws"
    for key in CODE_DEPLOY_KEYS:
        if key in (chk.at(dp) or {}) and controller != "CODE_DEPLOY":
            if aws and key in ECS_ALARM_KEYS:  # ECS deployment alarms [deploymentConfiguration.alarms]
                continue
            chk.error(dp + (key,), f"'{key}' applies to controller CODE_DEPLOY only (this service uses {controller})"
                      + ("; on target: aws a rolling service may list alarms" if key in ECS_ALARM_KEYS else ""))
    if controller == "ECS" and aws and "alarms" in (chk.at(dp) or {}):
        defined = set(env.get("alarms") or {}) if isinstance(env.get("alarms"), dict) else set()
        check_group_alarms(chk, dp, defined, aws=True, env_path=env_path)
    if controller == "CODE_DEPLOY":
        check_code_deploy(chk, dp)


def _check_circuit_breaker(chk: Checker, cp: KeyPath) -> None:
    chk.keys(cp, CIRCUIT_BREAKER_KEYS)
    enable = chk.get(cp, "enable", bool)
    rollback = chk.get(cp, "rollback", bool)
    chk.get(cp, "resetOnHealthyTask", bool)
    if rollback and not enable:
        chk.warning(cp + ("rollback",), "rollback has no effect while the circuit breaker is off (enable: false)")
    threshold = chk.get(cp, "threshold", dict)
    if threshold is None:
        return
    tp = cp + ("threshold",)
    chk.keys(tp, THRESHOLD_KEYS)
    kind = chk.get(tp, "type", str) or "BOUNDED_PERCENT"
    if not chk.one_of(tp + ("type",), kind, THRESHOLD_TYPES, "threshold type"):
        return
    _number(chk, tp, "value", 1, 100 if kind == "BOUNDED_PERCENT" else None)


# --- across services: the task definition, listener ports ---------------------------------------


def _check_taskdef(chk: Checker, sp: KeyPath, value: str, reader: TaskdefReader) -> None:
    try:
        found = reader(value)
    except ConfigError as exc:
        _add(chk, exc.diagnostics)
        return
    if found is None:
        where = sp + ("taskDefinition",) if "taskDefinition" in (chk.at(sp) or {}) else sp
        chk.error(where, f"file not found: {value} (taskDefinition, default {DEFAULT_TASK_DEFINITION}, is a path "
                         "relative to the repository root)")
        return
    display, text = found
    try:
        doc = read_taskdef_document(text, display)
    except ConfigError as exc:
        _add(chk, exc.diagnostics)
        return
    td, diagnostics = parse_taskdef(doc.data, display, doc)
    if td is None:
        _add(chk, [d for d in diagnostics if d.severity == "error"])
        return
    lp = sp + ("loadBalancer",)
    lb = chk.at(lp)
    if not isinstance(lb, dict) or not isinstance(lb.get("container"), str):
        return
    name = lb["container"]
    container = td.container(name)
    if container is None:
        names = [c.name for c in td.containers]
        chk.error(lp + ("container",), f"container '{name}' does not exist in {display} (containers: "
                                       f"{', '.join(names)}){did_you_mean(name, names)}")
        return
    port = lb.get("containerPort")
    if not isinstance(port, int) or isinstance(port, bool):
        return
    if not any(pm.container_port == port and pm.protocol == "tcp" for pm in container.port_mappings):
        mapped = ", ".join(f"{pm.container_port}/{pm.protocol}" for pm in container.port_mappings)
        has = f"its portMappings: {mapped}" if mapped else "it has no portMappings"
        chk.error(lp + ("containerPort",), f"container '{name}' in {display} does not map port {port}/tcp ({has}); "
                                           "containerPort must be one of its portMappings' containerPort")


def _add(chk: Checker, diagnostics: list[Diagnostic]) -> None:
    for d in diagnostics:
        if d not in chk.diagnostics:  # two services may share one task definition
            chk.diagnostics.append(d)


def _listener_ports(chk: Checker, env_path: KeyPath) -> list[tuple[KeyPath, int]]:
    out = []
    services = (chk.at(env_path) or {}).get("services") if isinstance(chk.at(env_path), dict) else None
    for name, svc in (services or {}).items() if isinstance(services, dict) else ():
        lb = svc.get("loadBalancer") if isinstance(svc, dict) else None
        for key in ("port", "testPort"):
            port = lb.get(key) if isinstance(lb, dict) else None
            if isinstance(port, int) and not isinstance(port, bool):
                out.append((env_path + ("services", name, "loadBalancer", key), port))
    return out


def _reserved_ports() -> dict[int, str]:
    from conveyor.home import DEFAULT_PORT as API_PORT
    from conveyor.registry.uris import DEFAULT_PORT as REGISTRY_PORT

    return {API_PORT: "the Conveyor daemon's API", REGISTRY_PORT: "the local registry"}


def _check_ports(chk: Checker, path: KeyPath) -> None:
    """Listener ports of this environment against each other, Conveyor's own ports, and the local
    environments before it (reported once, at the later one, naming the other)."""
    taken: dict[int, KeyPath] = {}
    envs = chk.at(path[:-1])
    for name in envs if isinstance(envs, dict) else ():
        if name == path[-1]:
            break
        env = envs[name]
        if isinstance(env, dict) and env.get("target", "local") != "aws":
            for where, port in _listener_ports(chk, path[:-1] + (name,)):
                taken.setdefault(port, where)
    reserved = _reserved_ports()
    for where, port in _listener_ports(chk, path):
        if port in reserved:
            chk.error(where, f"port {port} is used by {reserved[port]}; choose another listener port")
        elif port in taken and taken[port][:-1] == where[:-1]:
            chk.error(where, f"testPort must differ from port ({port}): the test listener is a second listener")
        elif port in taken:
            chk.error(where, f"port {port} is already the listener of {format_path(taken[port])} (line "
                             f"{chk.doc.where(taken[port])[0]}): every listener binds on this machine, so ports must "
                             "be unique across all environments")
        else:
            taken[port] = where
