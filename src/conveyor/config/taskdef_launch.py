"""How a task definition's fields combine, as RegisterTaskDefinition checks them: names that refer to
other parts of the task (mountPoints → volumes, volumesFrom/links/proxyConfiguration → containers,
InferenceAccelerator requirements → inferenceAccelerators, awsfirelens → a FireLens container), what
each network mode excludes, and what Fargate refuses ("A client exception is returned if the task
definition doesn't validate against the compatibilities specified", requiresCompatibilities).

Each rule quotes its source: the ECS API reference text of the field (botocore ecs/2014-11-13
documentation strings). The document has passed taskdef_check and taskdef_parts, so types are
checked; values of the wrong type are skipped here, never re-reported.

    check_launch(chk, (), task, network_mode="awsvpc", fargate=True)
"""

from __future__ import annotations

import re
from typing import Any

from conveyor.documents.checker import Checker, did_you_mean
from conveyor.documents.located import KeyPath

FARGATE_LOG_DRIVERS = ("awslogs", "splunk", "awsfirelens")  # LogConfiguration.logDriver
FARGATE_CAPABILITIES = ("SYS_PTRACE",)                       # KernelCapabilities.add
# LinuxParameters fields Fargate does not support.
FARGATE_NO_LINUX = ("devices", "sharedMemorySize", "tmpfs", "maxSwap", "swappiness")
# SystemControl.value: the namespaced sysctls ECS accepts.
IPC_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
               "kernel.shmmni", "kernel.shm_rmid_forced")
MAX_PORT_RANGES = 100  # PortMapping.containerPortRange: "a maximum of 100 port ranges per container"
PORT_RANGE = re.compile(r"(\d+)-(\d+)")


def _set(value: Any) -> bool:
    return not (value is None or value is False or (isinstance(value, (str, list, dict)) and not value))


def _dicts(value: Any) -> list[tuple[int, dict]]:
    return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)] if isinstance(value, list) else []


def check_launch(chk: Checker, P: KeyPath, task: dict, *, network_mode: str | None, fargate: bool) -> None:
    containers = _dicts(task.get("containerDefinitions"))
    names = [c["name"] for _, c in containers if isinstance(c.get("name"), str)]
    volumes = [v["name"] for _, v in _dicts(task.get("volumes")) if isinstance(v.get("name"), str)]
    accelerators = [a["deviceName"] for _, a in _dicts(task.get("inferenceAccelerators"))
                    if isinstance(a.get("deviceName"), str)]
    firelens = [i for i, c in containers if _set(c.get("firelensConfiguration"))]
    mode = network_mode or "bridge"  # RegisterTaskDefinition.networkMode: bridge is the EC2 Linux default
    for i, c in containers:
        cp = P + ("containerDefinitions", i)
        _references(chk, cp, c, names, volumes, accelerators)
        _network_mode(chk, cp, c, mode, declared=network_mode is not None)
        _ports(chk, cp, c)
        _sysctls(chk, cp, c, mode, task.get("ipcMode"))
        if fargate:
            _fargate_container(chk, cp, c)
        log = c.get("logConfiguration")
        if isinstance(log, dict) and log.get("logDriver") == "awsfirelens" and not firelens:
            chk.error(cp + ("logConfiguration", "logDriver"),
                      "the awsfirelens log driver needs a log router container in the task (a container with "
                      "firelensConfiguration)")
    _shared_ports(chk, P, containers, mode)
    _windows(chk, P, task, containers)
    at_launch = [i for i, v in _dicts(task.get("volumes")) if v.get("configuredAtLaunch") is True]
    if len(at_launch) > 1:
        chk.error(P + ("volumes", at_launch[1], "configuredAtLaunch"),
                  f"only one volume may be configured at launch (also volumes[{at_launch[0]}]; "
                  "Volume.configuredAtLaunch)")
    proxy = task.get("proxyConfiguration")
    if isinstance(proxy, dict) and isinstance(proxy.get("containerName"), str) and proxy["containerName"] not in names:
        target = proxy["containerName"]
        chk.error(P + ("proxyConfiguration", "containerName"), f"container '{target}' does not exist in this task "
                                                               f"definition{_hint(target, names)}")
    if fargate:
        _fargate_task(chk, P, task)


def _hint(name: str, names: list[str]) -> str:
    return did_you_mean(name, names) or (f" (containers: {', '.join(names)})" if names else "")


def _references(chk: Checker, cp: KeyPath, c: dict, names: list[str], volumes: list[str],
                accelerators: list[str]) -> None:
    for j, mount in _dicts(c.get("mountPoints")):
        source = mount.get("sourceVolume")
        if isinstance(source, str) and source and source not in volumes:
            hint = did_you_mean(source, volumes) or (f" (volumes: {', '.join(volumes)})" if volumes else
                                                     "; the task declares no volumes")
            chk.error(cp + ("mountPoints", j, "sourceVolume"), f"volume '{source}' is not declared in the task's "
                                                               f"volumes{hint}")
    for j, source in _dicts(c.get("volumesFrom")):
        other = source.get("sourceContainer")
        if isinstance(other, str) and other:
            if other == c.get("name"):
                chk.error(cp + ("volumesFrom", j, "sourceContainer"), "a container cannot mount volumes from itself")
            elif other not in names:
                chk.error(cp + ("volumesFrom", j, "sourceContainer"), f"container '{other}' does not exist in this "
                                                                      f"task definition{_hint(other, names)}")
    links = c.get("links")
    for j, link in enumerate(links if isinstance(links, list) else []):
        if isinstance(link, str) and link:
            target = link.split(":", 1)[0]
            if target not in names:
                chk.error(cp + ("links", j), f"link '{link}' names container '{target}', which does not exist in "
                                             f"this task definition{_hint(target, names)}")
            elif target == c.get("name"):
                chk.error(cp + ("links", j), "a container cannot link to itself")
    for j, req in _dicts(c.get("resourceRequirements")):
        value = req.get("value")
        if req.get("type") == "InferenceAccelerator" and isinstance(value, str) and value not in accelerators:
            chk.error(cp + ("resourceRequirements", j, "value"),
                      f"InferenceAccelerator '{value}' is not a deviceName of the task's inferenceAccelerators"
                      f"{did_you_mean(value, accelerators)}")


def _network_mode(chk: Checker, cp: KeyPath, c: dict, mode: str, *, declared: bool) -> None:
    why = f"networkMode {mode}" + ("" if declared else " (the default)")
    if mode != "bridge" and _set(c.get("links")):
        chk.error(cp + ("links",), f"links need networkMode bridge, the task has {why} (ContainerDefinition.links)")
    if mode == "awsvpc":
        for key in ("hostname", "extraHosts"):
            if _set(c.get(key)):
                chk.error(cp + (key,), f"{key} is not supported with networkMode awsvpc "
                                       f"(ContainerDefinition.{key})")
    if mode == "none" and _set(c.get("portMappings")):
        chk.error(cp + ("portMappings",), "a task with networkMode none cannot have port mappings "
                                          "(ContainerDefinition.portMappings)")
    for j, pm in _dicts(c.get("portMappings")):
        if _set(pm.get("containerPortRange")) and mode not in ("bridge", "awsvpc"):
            chk.error(cp + ("portMappings", j, "containerPortRange"),
                      f"containerPortRange needs networkMode bridge or awsvpc, the task has {why} "
                      "(PortMapping.containerPortRange)")


def _ports(chk: Checker, cp: KeyPath, c: dict) -> None:
    """PortMapping.containerPortRange: "A port can only be included in one port mapping per container",
    "You cannot specify overlapping port ranges", "The first port in the range must be less than last port
    in the range", valid values 1-65535, at most 100 ranges, and hostPort left empty."""
    taken: list[tuple[int, int, str, KeyPath]] = []  # (first, last, protocol, path)
    ranges = 0
    for j, pm in _dicts(c.get("portMappings")):
        pp = cp + ("portMappings", j)
        raw_protocol = pm.get("protocol")
        protocol = raw_protocol if isinstance(raw_protocol, str) and raw_protocol else "tcp"
        span: tuple[int, int] | None = None
        text = pm.get("containerPortRange")
        if isinstance(text, str) and text:
            ranges += 1
            match = PORT_RANGE.fullmatch(text.strip())
            first, last = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
            if not match or not 1 <= first < last <= 65535:
                chk.error(pp + ("containerPortRange",), f"invalid containerPortRange '{text}': expected FIRST-LAST "
                                                        "with 1 <= FIRST < LAST <= 65535")
            else:
                span = (first, last)
            if pm.get("hostPort") is not None:
                chk.error(pp + ("hostPort",), "leave hostPort out with a containerPortRange: ECS sets the host "
                                              "ports (PortMapping.hostPort)")
        elif isinstance(pm.get("containerPort"), int) and not isinstance(pm.get("containerPort"), bool):
            span = (pm["containerPort"], pm["containerPort"])
        if span is None:
            continue
        for first, last, other_protocol, other in taken:
            if other_protocol == protocol and span[0] <= last and first <= span[1]:
                chk.error(pp, f"{protocol} port {max(first, span[0])} is already mapped by "
                              f"portMappings[{other[-1]}]: a port can be in one port mapping per container")
                break
        taken.append((span[0], span[1], protocol, pp))
    if ranges > MAX_PORT_RANGES:
        chk.error(cp + ("portMappings",), f"at most {MAX_PORT_RANGES} port ranges per container, got {ranges}")


def _sysctls(chk: Checker, cp: KeyPath, c: dict, mode: str, ipc_mode: Any) -> None:
    """SystemControl.value: IPC sysctls (kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*) or network
    ones (net.*); RegisterTaskDefinition.ipcMode: "For tasks that use the host IPC mode, IPC namespace
    related systemControls are not supported"; network ones are likewise refused with the host network
    mode (ECS developer guide, task definition parameters: systemControls)."""
    for j, control in _dicts(c.get("systemControls")):
        name = control.get("namespace")
        if not isinstance(name, str) or not name:
            continue
        path = cp + ("systemControls", j, "namespace")
        ipc = name in IPC_SYSCTLS or name.startswith("fs.mqueue.")
        if not ipc and not name.startswith("net."):
            chk.error(path, f"ECS sets only namespaced sysctls: {', '.join(IPC_SYSCTLS)}, fs.mqueue.* and net.*; "
                            f"not {name}")
        elif ipc and ipc_mode == "host":
            chk.error(path, f"{name} is an IPC sysctl, which cannot be set with ipcMode host")
        elif not ipc and mode == "host":
            chk.error(path, f"{name} is a network sysctl, which cannot be set with networkMode host")


def _fargate_container(chk: Checker, cp: KeyPath, c: dict) -> None:
    for key in ("privileged", "dockerSecurityOptions"):
        if _set(c.get(key)):
            chk.error(cp + (key,), f"{key} is not supported on FARGATE (ContainerDefinition.{key})")
    log = c.get("logConfiguration")
    driver = log.get("logDriver") if isinstance(log, dict) else None
    if isinstance(driver, str) and driver not in FARGATE_LOG_DRIVERS:
        chk.error(cp + ("logConfiguration", "logDriver"), f"FARGATE supports the log drivers "
                                                          f"{', '.join(FARGATE_LOG_DRIVERS)}, not {driver} "
                                                          "(LogConfiguration.logDriver)")
    if driver == "awslogs" and isinstance(log, dict):
        options = log.get("options")
        if not (isinstance(options, dict) and _set(options.get("awslogs-stream-prefix"))):
            chk.error(cp + ("logConfiguration",), "awslogs on FARGATE needs the option awslogs-stream-prefix "
                                                  "(LogConfiguration.options: \"Required: Yes, when using Fargate\")")
    linux = c.get("linuxParameters")
    if isinstance(linux, dict):
        lp = cp + ("linuxParameters",)
        for key in FARGATE_NO_LINUX:
            if linux.get(key) is not None and linux.get(key) != []:
                chk.error(lp + (key,), f"linuxParameters.{key} is not supported on FARGATE (LinuxParameters.{key})")
        caps = linux.get("capabilities")
        added = caps.get("add") if isinstance(caps, dict) else None
        for j, cap in enumerate(added if isinstance(added, list) else []):
            if isinstance(cap, str) and cap not in FARGATE_CAPABILITIES:
                chk.error(lp + ("capabilities", "add", j), f"FARGATE tasks can add only the SYS_PTRACE capability, "
                                                           f"not {cap} (KernelCapabilities.add)")
    for j, req in _dicts(c.get("resourceRequirements")):
        if req.get("type") == "GPU":
            chk.error(cp + ("resourceRequirements", j, "type"), "GPUs are not available to FARGATE tasks "
                                                                "(ECS developer guide, GPU workloads)")
    firelens = c.get("firelensConfiguration")
    options = firelens.get("options") if isinstance(firelens, dict) else None
    if isinstance(options, dict) and options.get("config-file-type") == "s3":
        chk.error(cp + ("firelensConfiguration", "options", "config-file-type"),
                  "FARGATE supports only config-file-type file (FirelensConfiguration.options)")


def _shared_ports(chk: Checker, P: KeyPath, containers: list[tuple[int, dict]], mode: str) -> None:
    """With awsvpc or host networking the containers of a task share one network namespace
    (PortMapping.containerPort), so two of them cannot listen on the same port: a warning, since
    ECS registers the task and the second container fails to bind."""
    if mode not in ("awsvpc", "host"):
        return
    owner: dict[tuple[int, str], int] = {}
    for i, c in containers:
        for j, pm in _dicts(c.get("portMappings")):
            port, protocol = pm.get("containerPort"), pm.get("protocol") or "tcp"
            if not isinstance(port, int) or isinstance(port, bool) or not isinstance(protocol, str):
                continue
            first = owner.setdefault((port, protocol), i)
            if first != i:
                chk.warning(P + ("containerDefinitions", i, "portMappings", j, "containerPort"),
                            f"{protocol} port {port} is also mapped by containerDefinitions[{first}]; with "
                            f"networkMode {mode} the containers share one network namespace, so only one can "
                            "listen on it")


WINDOWS_UNSUPPORTED = ("links", "linuxParameters", "ulimits", "privileged", "disableNetworking", "dnsServers",
                       "dnsSearchDomains", "extraHosts", "readonlyRootFilesystem")


def _windows(chk: Checker, P: KeyPath, task: dict, containers: list[tuple[int, dict]]) -> None:
    """ContainerDefinition fields documented "not supported for Windows containers"."""
    platform = task.get("runtimePlatform")
    family = platform.get("operatingSystemFamily") if isinstance(platform, dict) else None
    if not (isinstance(family, str) and family.startswith("WINDOWS")):
        return
    for i, c in containers:
        for key in WINDOWS_UNSUPPORTED:
            if _set(c.get(key)):
                chk.warning(P + ("containerDefinitions", i, key), f"{key} is not supported for Windows containers "
                                                                  f"({family}; ContainerDefinition.{key})")
    for key in ("pidMode", "ipcMode"):
        if _set(task.get(key)):
            chk.warning(P + (key,), f"{key} is not supported for Windows containers ({family}; "
                                    f"RegisterTaskDefinition.{key})")


def _fargate_task(chk: Checker, P: KeyPath, task: dict) -> None:
    if _set(task.get("placementConstraints")):
        chk.warning(P + ("placementConstraints",), "FARGATE does not use task placement constraints (ECS developer "
                                                   "guide, task placement): they are ignored")
    uses_awslogs = any(isinstance(c.get("logConfiguration"), dict) and c["logConfiguration"].get("logDriver") ==
                       "awslogs" for _, c in _dicts(task.get("containerDefinitions")))
    if uses_awslogs and not _set(task.get("executionRoleArn")):
        chk.error(P, "FARGATE needs an executionRoleArn for the awslogs log driver (ECS ClientException \"Fargate "
                     "requires task definition to have execution role ARN to support log driver awslogs\")")
    if task.get("pidMode") == "host":
        chk.error(P + ("pidMode",), "on FARGATE the only pidMode is task (RegisterTaskDefinition.pidMode)")
    if _set(task.get("ipcMode")):
        chk.error(P + ("ipcMode",), "ipcMode is not supported on FARGATE (RegisterTaskDefinition.ipcMode)")
    for i, volume in _dicts(task.get("volumes")):
        if _set(volume.get("dockerVolumeConfiguration")):
            chk.error(P + ("volumes", i, "dockerVolumeConfiguration"),
                      "Docker volumes are not supported on FARGATE (Volume.dockerVolumeConfiguration)")
        host = volume.get("host")
        if isinstance(host, dict) and _set(host.get("sourcePath")):
            chk.error(P + ("volumes", i, "host", "sourcePath"),
                      "host sourcePath is not supported on FARGATE, whose bind mounts are not persistent "
                      "(HostVolumeProperties.sourcePath)")
