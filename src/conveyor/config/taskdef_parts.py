"""The shapes ECS checks inside a task definition's nested objects — what RegisterTaskDefinition
refuses for its structure alone (botocore ecs/2014-11-13 shapes: required members, enums, types)
plus the ranges the API reference states in prose (ContainerDefinition, LinuxParameters, Ulimit,
ContainerRestartPolicy, EphemeralStorage, Tag, ...).

Conveyor does not apply most of these locally (volumes, log drivers, kernel settings: a task is a
podman pod here); taskdef_check lists them in `ignored`. They are still checked, so a file that
validates here registers on AWS. How fields combine across the task (network mode, launch type,
names referring to each other) is in taskdef_launch.

    check_container_parts(v, ("containerDefinitions", 0))
    check_task_parts(v, ())
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from conveyor.documents.checker import Checker
from conveyor.documents.located import KeyPath

ULIMIT_NAMES = ("core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
                "rtprio", "rttime", "sigpending", "stack")
LOG_DRIVERS = ("json-file", "syslog", "journald", "gelf", "fluentd", "awslogs", "splunk", "awsfirelens")
DEVICE_PERMISSIONS = ("read", "write", "mknod")
RESOURCE_TYPES = ("GPU", "InferenceAccelerator")
FIRELENS_TYPES = ("fluentd", "fluentbit")
ENV_FILE_TYPES = ("s3",)
VERSION_CONSISTENCY = ("enabled", "disabled")
# KernelCapabilities.add / .drop "Valid values".
CAPABILITIES = ("ALL", "AUDIT_CONTROL", "AUDIT_WRITE", "BLOCK_SUSPEND", "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH",
                "FOWNER", "FSETID", "IPC_LOCK", "IPC_OWNER", "KILL", "LEASE", "LINUX_IMMUTABLE", "MAC_ADMIN",
                "MAC_OVERRIDE", "MKNOD", "NET_ADMIN", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_RAW", "SETFCAP",
                "SETGID", "SETPCAP", "SETUID", "SYS_ADMIN", "SYS_BOOT", "SYS_CHROOT", "SYS_MODULE", "SYS_NICE",
                "SYS_PACCT", "SYS_PTRACE", "SYS_RAWIO", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "SYSLOG",
                "WAKE_ALARM")
CREDENTIAL_SPEC_PREFIXES = ("credentialspec:", "credentialspecdomainless:")
MAX_ENVIRONMENT_FILES = 10       # ContainerDefinition.environmentFiles: "up to ten environment files"
MAX_CREDENTIAL_SPECS = 1         # ContainerDefinition.credentialSpecs: "The maximum number of ARNs is 1"
MAX_IGNORED_EXIT_CODES = 50      # ContainerRestartPolicy.ignoredExitCodes
RESTART_PERIOD = (60, 1800)      # ContainerRestartPolicy.restartAttemptPeriod, seconds
SWAPPINESS = (0, 100)            # LinuxParameters.swappiness
EPHEMERAL_GIB = (21, 200)        # EphemeralStorage.sizeInGiB
MAX_PLACEMENT_CONSTRAINTS = 10   # RegisterTaskDefinition.placementConstraints
MAX_TAGS, TAG_KEY, TAG_VALUE = 50, 128, 256   # botocore Tags, TagKey, TagValue
TAG_CHARS = re.compile(r"[\w\s.:/=+\-@]*")    # TagKey pattern [\p{L}\p{Z}\p{N}_.:/=+\-@]*
PID_MODES = ("host", "task")
IPC_MODES = ("host", "task", "none")
CPU_ARCHITECTURES = ("X86_64", "ARM64")
OS_FAMILIES = ("WINDOWS_SERVER_2019_FULL", "WINDOWS_SERVER_2019_CORE", "WINDOWS_SERVER_2016_FULL",
               "WINDOWS_SERVER_2004_CORE", "WINDOWS_SERVER_2022_CORE", "WINDOWS_SERVER_2022_FULL",
               "WINDOWS_SERVER_2025_CORE", "WINDOWS_SERVER_2025_FULL", "WINDOWS_SERVER_20H2_CORE", "LINUX")
VOLUME_KEYS = ("name", "host", "dockerVolumeConfiguration", "efsVolumeConfiguration", "s3filesVolumeConfiguration",
               "fsxWindowsFileServerVolumeConfiguration", "configuredAtLaunch")
ENABLED_DISABLED = ("ENABLED", "DISABLED")
VOLUME_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")


class Vocabulary(Protocol):
    """What taskdef_check's checker offers: null-is-absent getters, enum and range checks."""

    chk: Checker

    def opt(self, path: KeyPath, key: str, types: type | tuple[type, ...], what: str | None = None) -> Any: ...
    def required(self, path: KeyPath, key: str, types: type | tuple[type, ...], what: str | None = None) -> Any: ...
    def unknown(self, path: KeyPath, known: Any, what: str = "key") -> None: ...
    def enum(self, path: KeyPath, value: str, choices: tuple[str, ...], what: str) -> bool: ...
    def int_range(self, path: KeyPath, key: str, lo: int, hi: int | None, unit: str = "") -> int | None: ...


def _objects(v: Vocabulary, path: KeyPath, key: str, what: str) -> list[KeyPath]:
    """The paths of the objects in the list at path.key (each type-checked)."""
    out = []
    for i, item in enumerate(v.opt(path, key, list) or []):
        if v.chk.is_type(path + (key, i), item, dict, what):
            out.append(path + (key, i))
    return out


def _enum(v: Vocabulary, path: KeyPath, key: str, choices: tuple[str, ...], what: str, *,
          required: bool = False) -> str | None:
    value = (v.required if required else v.opt)(path, key, str)
    if value is not None and v.enum(path + (key,), value, choices, what):
        return str(value)
    return None


def _strings(v: Vocabulary, path: KeyPath, key: str) -> list[str]:
    out = []
    for i, item in enumerate(v.opt(path, key, list) or []):
        if v.chk.is_type(path + (key, i), item, str):
            out.append(item)
    return out


def _string_map(v: Vocabulary, path: KeyPath, key: str) -> None:
    for name, value in (v.opt(path, key, dict) or {}).items():
        v.chk.is_type(path + (key, name), value, str)


def _secret_list(v: Vocabulary, path: KeyPath, key: str) -> None:
    for sp in _objects(v, path, key, 'a {"name": ..., "valueFrom": ...} object'):
        v.unknown(sp, ("name", "valueFrom"))
        v.required(sp, "name", str)
        v.required(sp, "valueFrom", str)


# --- container ------------------------------------------------------------------------------------


def check_container_parts(v: Vocabulary, cp: KeyPath) -> None:
    _ulimits(v, cp)
    _log_configuration(v, cp)
    _linux_parameters(v, cp)
    for rp in _objects(v, cp, "resourceRequirements", 'a {"type": ..., "value": ...} object'):
        v.unknown(rp, ("type", "value"))
        kind = _enum(v, rp, "type", RESOURCE_TYPES, "resource type", required=True)
        value = v.required(rp, "value", str)
        if kind == "GPU" and value is not None and not (value.isdigit() and int(value) > 0):
            v.chk.error(rp + ("value",), f"a GPU requirement is a number of GPUs (\"1\"), got {value!r}")
    if v.opt(cp, "firelensConfiguration", dict) is not None:
        fp = cp + ("firelensConfiguration",)
        v.unknown(fp, ("type", "options"))
        _enum(v, fp, "type", FIRELENS_TYPES, "FireLens type", required=True)
        _string_map(v, fp, "options")
    files = _objects(v, cp, "environmentFiles", 'a {"value": ..., "type": "s3"} object')
    if len(files) > MAX_ENVIRONMENT_FILES:
        v.chk.error(cp + ("environmentFiles",), f"at most {MAX_ENVIRONMENT_FILES} environment files, got "
                                               f"{len(files)}")
    for ep in files:
        v.unknown(ep, ("value", "type"))
        v.required(ep, "value", str)
        _enum(v, ep, "type", ENV_FILE_TYPES, "environment file type", required=True)
    for hp in _objects(v, cp, "extraHosts", 'a {"hostname": ..., "ipAddress": ...} object'):
        v.unknown(hp, ("hostname", "ipAddress"))
        v.required(hp, "hostname", str)
        v.required(hp, "ipAddress", str)
    for mp in _objects(v, cp, "mountPoints", 'a {"sourceVolume": ..., "containerPath": ...} object'):
        v.unknown(mp, ("sourceVolume", "containerPath", "readOnly"))
        v.opt(mp, "sourceVolume", str)
        v.opt(mp, "containerPath", str)
        v.opt(mp, "readOnly", bool)
    for fp in _objects(v, cp, "volumesFrom", 'a {"sourceContainer": ...} object'):
        v.unknown(fp, ("sourceContainer", "readOnly"))
        v.opt(fp, "sourceContainer", str)
        v.opt(fp, "readOnly", bool)
    for sp in _objects(v, cp, "systemControls", 'a {"namespace": ..., "value": ...} object'):
        v.unknown(sp, ("namespace", "value"))
        v.opt(sp, "namespace", str)
        v.opt(sp, "value", str)
    if v.opt(cp, "repositoryCredentials", dict) is not None:
        rp = cp + ("repositoryCredentials",)
        v.unknown(rp, ("credentialsParameter",))
        v.required(rp, "credentialsParameter", str)
    _restart_policy(v, cp)
    _string_map(v, cp, "dockerLabels")
    for key in ("links", "dnsServers", "dnsSearchDomains", "dockerSecurityOptions"):
        _strings(v, cp, key)
    specs = _strings(v, cp, "credentialSpecs")
    if len(specs) > MAX_CREDENTIAL_SPECS:
        v.chk.error(cp + ("credentialSpecs",), f"at most {MAX_CREDENTIAL_SPECS} credential spec, got {len(specs)}")
    for i, spec in enumerate(specs):
        if not spec.startswith(CREDENTIAL_SPEC_PREFIXES):
            v.chk.error(cp + ("credentialSpecs", i), f"a credential spec is credentialspec:ARN or "
                                                     f"credentialspecdomainless:ARN, got {spec!r}")
    _enum(v, cp, "versionConsistency", VERSION_CONSISTENCY, "versionConsistency")


def _ulimits(v: Vocabulary, cp: KeyPath) -> None:
    for up in _objects(v, cp, "ulimits", 'a {"name": ..., "softLimit": ..., "hardLimit": ...} object'):
        v.unknown(up, ("name", "softLimit", "hardLimit"))
        _enum(v, up, "name", ULIMIT_NAMES, "ulimit", required=True)
        soft = v.required(up, "softLimit", int)
        hard = v.required(up, "hardLimit", int)
        if soft is not None and hard is not None and soft > hard:
            v.chk.warning(up + ("softLimit",), f"the soft limit ({soft}) is above the hard limit ({hard}): the "
                                               "container engine refuses to start the container")


def _log_configuration(v: Vocabulary, cp: KeyPath) -> None:
    if v.opt(cp, "logConfiguration", dict) is None:
        return
    lp = cp + ("logConfiguration",)
    _enum(v, lp, "logDriver", LOG_DRIVERS, "log driver")
    _string_map(v, lp, "options")
    _secret_list(v, lp, "secretOptions")


def _linux_parameters(v: Vocabulary, cp: KeyPath) -> None:
    if v.opt(cp, "linuxParameters", dict) is None:
        return
    lp = cp + ("linuxParameters",)
    v.unknown(lp, ("capabilities", "devices", "initProcessEnabled", "sharedMemorySize", "tmpfs", "maxSwap",
                   "swappiness"))
    if v.opt(lp, "capabilities", dict) is not None:
        kp = lp + ("capabilities",)
        v.unknown(kp, ("add", "drop"))
        for key in ("add", "drop"):
            for i, cap in enumerate(v.opt(kp, key, list) or []):
                if v.chk.is_type(kp + (key, i), cap, str):
                    v.enum(kp + (key, i), cap, CAPABILITIES, "Linux capability")
    for dp in _objects(v, lp, "devices", 'a {"hostPath": ...} object'):
        v.unknown(dp, ("hostPath", "containerPath", "permissions"))
        v.required(dp, "hostPath", str)
        v.opt(dp, "containerPath", str)
        for i, perm in enumerate(v.opt(dp, "permissions", list) or []):
            if v.chk.is_type(dp + ("permissions", i), perm, str):
                v.enum(dp + ("permissions", i), perm, DEVICE_PERMISSIONS, "device permission")
    v.opt(lp, "initProcessEnabled", bool)
    v.int_range(lp, "sharedMemorySize", 0, None, " MiB")
    for tp in _objects(v, lp, "tmpfs", 'a {"containerPath": ..., "size": ...} object'):
        v.unknown(tp, ("containerPath", "size", "mountOptions"))
        v.required(tp, "containerPath", str)
        v.required(tp, "size", int)
        _strings(v, tp, "mountOptions")
    v.int_range(lp, "maxSwap", 0, None, " MiB")
    v.int_range(lp, "swappiness", *SWAPPINESS)


def _restart_policy(v: Vocabulary, cp: KeyPath) -> None:
    if v.opt(cp, "restartPolicy", dict) is None:
        return
    rp = cp + ("restartPolicy",)
    v.unknown(rp, ("enabled", "ignoredExitCodes", "restartAttemptPeriod"))
    v.required(rp, "enabled", bool)
    codes = v.opt(rp, "ignoredExitCodes", list) or []
    for i, code in enumerate(codes):
        v.chk.is_type(rp + ("ignoredExitCodes", i), code, int)
    if len(codes) > MAX_IGNORED_EXIT_CODES:
        v.chk.error(rp + ("ignoredExitCodes",), f"at most {MAX_IGNORED_EXIT_CODES} exit codes, got {len(codes)}")
    v.int_range(rp, "restartAttemptPeriod", *RESTART_PERIOD, " seconds")


# --- task -----------------------------------------------------------------------------------------


def check_task_parts(v: Vocabulary, P: KeyPath) -> None:
    _volumes(v, P)
    constraints = _objects(v, P, "placementConstraints", 'a {"type": "memberOf", "expression": ...} object')
    if len(constraints) > MAX_PLACEMENT_CONSTRAINTS:
        v.chk.error(P + ("placementConstraints",), f"at most {MAX_PLACEMENT_CONSTRAINTS} placement constraints, got "
                                                   f"{len(constraints)}")
    for cp in constraints:
        v.unknown(cp, ("type", "expression"))
        _enum(v, cp, "type", ("memberOf",), "placement constraint type")
        v.opt(cp, "expression", str)
    _tags(v, P)
    _enum(v, P, "pidMode", PID_MODES, "pidMode")
    _enum(v, P, "ipcMode", IPC_MODES, "ipcMode")
    if v.opt(P, "proxyConfiguration", dict) is not None:
        pp = P + ("proxyConfiguration",)
        v.unknown(pp, ("type", "containerName", "properties"))
        _enum(v, pp, "type", ("APPMESH",), "proxy type")
        v.required(pp, "containerName", str)
        for kp in _objects(v, pp, "properties", 'a {"name": ..., "value": ...} object'):
            v.unknown(kp, ("name", "value"))
            v.opt(kp, "name", str)
            v.opt(kp, "value", str)
    for ap in _objects(v, P, "inferenceAccelerators", 'a {"deviceName": ..., "deviceType": ...} object'):
        v.unknown(ap, ("deviceName", "deviceType"))
        v.required(ap, "deviceName", str)
        v.required(ap, "deviceType", str)
    if v.opt(P, "ephemeralStorage", dict) is not None:
        ep = P + ("ephemeralStorage",)
        v.unknown(ep, ("sizeInGiB",))
        if v.required(ep, "sizeInGiB", int) is not None:
            v.int_range(ep, "sizeInGiB", *EPHEMERAL_GIB, " GiB")
    if v.opt(P, "runtimePlatform", dict) is not None:
        rp = P + ("runtimePlatform",)
        v.unknown(rp, ("cpuArchitecture", "operatingSystemFamily"))
        _enum(v, rp, "cpuArchitecture", CPU_ARCHITECTURES, "cpuArchitecture")
        _enum(v, rp, "operatingSystemFamily", OS_FAMILIES, "operatingSystemFamily")


def _volumes(v: Vocabulary, P: KeyPath) -> None:
    names: dict[str, KeyPath] = {}
    for vp in _objects(v, P, "volumes", 'a {"name": ...} object'):
        v.unknown(vp, VOLUME_KEYS)
        name = v.opt(vp, "name", str)
        if name is not None:
            if not VOLUME_NAME.fullmatch(name):
                v.chk.error(vp + ("name",), f"invalid volume name '{name}': expected 1-255 letters, digits, '-' or "
                                            "'_'")
            elif name in names:
                v.chk.error(vp + ("name",), f"duplicate volume name '{name}' (also {_index(names[name])})")
            else:
                names[name] = vp
        if v.opt(vp, "host", dict) is not None:
            v.unknown(vp + ("host",), ("sourcePath",))
            v.opt(vp + ("host",), "sourcePath", str)
        if v.opt(vp, "dockerVolumeConfiguration", dict) is not None:
            dp = vp + ("dockerVolumeConfiguration",)
            v.unknown(dp, ("scope", "autoprovision", "driver", "driverOpts", "labels"))
            _enum(v, dp, "scope", ("task", "shared"), "Docker volume scope")
            v.opt(dp, "autoprovision", bool)
            v.opt(dp, "driver", str)
            _string_map(v, dp, "driverOpts")
            _string_map(v, dp, "labels")
        if v.opt(vp, "efsVolumeConfiguration", dict) is not None:
            _efs(v, vp + ("efsVolumeConfiguration",), name)
        if v.opt(vp, "fsxWindowsFileServerVolumeConfiguration", dict) is not None:
            fp = vp + ("fsxWindowsFileServerVolumeConfiguration",)
            v.unknown(fp, ("fileSystemId", "rootDirectory", "authorizationConfig"))
            v.required(fp, "fileSystemId", str)
            v.required(fp, "rootDirectory", str)
            if v.required(fp, "authorizationConfig", dict) is not None:
                ap = fp + ("authorizationConfig",)
                v.unknown(ap, ("credentialsParameter", "domain"))
                v.required(ap, "credentialsParameter", str)
                v.required(ap, "domain", str)
        if v.opt(vp, "s3filesVolumeConfiguration", dict) is not None:
            sp = vp + ("s3filesVolumeConfiguration",)
            v.unknown(sp, ("fileSystemArn", "rootDirectory", "transitEncryptionPort", "accessPointArn"))
            v.required(sp, "fileSystemArn", str)
        v.opt(vp, "configuredAtLaunch", bool)
        if name is None and any(k in (v.chk.at(vp) or {}) for k in ("efsVolumeConfiguration",
                                                                      "s3filesVolumeConfiguration")):
            v.chk.error(vp, "missing required key 'name': an EFS or S3 Files volume needs a name (Volume.name)")


def _efs(v: Vocabulary, ep: KeyPath, name: str | None) -> None:
    """EFSVolumeConfiguration and EFSAuthorizationConfig, with the rules between their fields."""
    v.unknown(ep, ("fileSystemId", "rootDirectory", "transitEncryption", "transitEncryptionPort",
                   "authorizationConfig"))
    v.required(ep, "fileSystemId", str)
    root = v.opt(ep, "rootDirectory", str)
    encryption = _enum(v, ep, "transitEncryption", ENABLED_DISABLED, "transitEncryption") or "DISABLED"
    v.int_range(ep, "transitEncryptionPort", 1, 65535)
    if v.opt(ep, "authorizationConfig", dict) is None:
        return
    ap = ep + ("authorizationConfig",)
    v.unknown(ap, ("accessPointId", "iam"))
    access_point = v.opt(ap, "accessPointId", str)
    iam = _enum(v, ap, "iam", ENABLED_DISABLED, "iam")
    if iam == "ENABLED" and encryption != "ENABLED":
        v.chk.error(ap + ("iam",), "EFS IAM authorization needs transitEncryption ENABLED on the volume "
                                   "(EFSAuthorizationConfig.iam)")
    if access_point:
        if encryption != "ENABLED":
            v.chk.error(ap + ("accessPointId",), "an EFS access point needs transitEncryption ENABLED on the volume "
                                                 "(EFSAuthorizationConfig.accessPointId)")
        if root not in (None, "", "/"):
            v.chk.error(ep + ("rootDirectory",), f"with an EFS access point, rootDirectory must be left out or '/' "
                                                 f"(the access point sets the path), got {root!r}")


def _tags(v: Vocabulary, P: KeyPath) -> None:
    tags = _objects(v, P, "tags", 'a {"key": ..., "value": ...} object')
    if len(tags) > MAX_TAGS:
        v.chk.error(P + ("tags",), f"at most {MAX_TAGS} tags, got {len(tags)}")
    keys: set[str] = set()
    for tp in tags:
        v.unknown(tp, ("key", "value"))
        for part, low, high in (("key", 1, TAG_KEY), ("value", 0, TAG_VALUE)):
            text = v.opt(tp, part, str)
            if text is None:
                continue
            if not low <= len(text) <= high:
                v.chk.error(tp + (part,), f"a tag {part} is {low} to {high} characters, got {len(text)}")
            elif not TAG_CHARS.fullmatch(text):
                v.chk.error(tp + (part,), f"invalid tag {part} {text!r}: letters, digits, spaces and _ . : / = + - @")
            elif text.lower().startswith("aws:"):
                v.chk.error(tp + (part,), f"tag {part}s starting with 'aws:' are reserved for AWS")
            if part == "key" and text in keys:
                v.chk.error(tp + ("key",), f"tag key '{text}' is used twice")
            if part == "key":
                keys.add(text)


def _index(path: KeyPath) -> str:
    return f"volumes[{path[-1]}]"
