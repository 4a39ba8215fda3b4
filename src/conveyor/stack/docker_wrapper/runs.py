"""`docker run`/`create`: the exit status of `run --rm`, and bind mounts of this container's
paths translated to the host's."""

from __future__ import annotations

import os

from .builds import is_false
from .cmdline import options_of

#: JSON {path in this build container: the same directory on the engine's host}: `docker run -v
#: "$PWD:/src"` names a path the host's engine cannot see. Without it the wrapper asks the engine
#: for this container's mounts (own_mounts).
HOST_MOUNTS_ENV = "CONVEYOR_HOST_MOUNTS"

_RUN_VALUES = {"--add-host", "-a", "--attach", "--blkio-weight", "--blkio-weight-device",
               "--cap-add", "--cap-drop", "--cgroup-parent", "--cgroupns", "--cidfile",
               "--cpu-period", "--cpu-quota", "--cpu-rt-period", "--cpu-rt-runtime", "-c",
               "--cpu-shares", "--cpus", "--cpuset-cpus", "--cpuset-mems", "--detach-keys",
               "--device", "--device-cgroup-rule", "--device-read-bps", "--device-read-iops",
               "--device-write-bps", "--device-write-iops", "--dns", "--dns-option",
               "--dns-search", "--domainname", "--entrypoint", "-e", "--env", "--env-file",
               "--expose", "--gpus", "--group-add", "--health-cmd", "--health-interval",
               "--health-retries", "--health-start-period", "--health-timeout", "-h",
               "--hostname", "--ip", "--ip6", "--ipc", "--isolation", "--kernel-memory", "-l",
               "--label", "--label-file", "--link", "--link-local-ip", "--log-driver",
               "--log-opt", "--mac-address", "-m", "--memory", "--memory-reservation",
               "--memory-swap", "--memory-swappiness", "--mount", "--name", "--network", "--net",
               "--network-alias", "--net-alias", "--oom-score-adj", "--pid", "--pids-limit",
               "--platform", "-p", "--publish", "--pull", "--restart", "--runtime",
               "--security-opt", "--shm-size", "--stop-signal", "--stop-timeout", "--storage-opt",
               "--sysctl", "--tmpfs", "--ulimit", "-u", "--user", "--userns", "--uts", "-v",
               "--volume", "--volume-driver", "--volumes-from", "-w", "--workdir"}
_RUN_SHORT_VALUES = {"-a", "-c", "-e", "-h", "-l", "-m", "-p", "-u", "-v", "-w"}
#: On a container `run --rm` started without the engine's auto-removal (translate_run).
REMOVE_LABEL = "io.conveyor.remove-after-run"


class RunPlan:
    """What `docker run`/`create` becomes: its arguments, the lines to print first, and whether
    the wrapper removes the container itself after it exited (instead of `--rm`)."""

    def __init__(self) -> None:
        self.args: list[str] = []
        self.notes: list[str] = []
        self.remove_after = False
        self.cidfile: str | None = None


def binds_something(args: list[str]) -> bool:
    """Whether a run's own options name a volume or mount (only then are the mounts needed)."""
    return any(name in ("-v", "--volume", "--mount")
               for name, _, _ in options_of(args, _RUN_VALUES, _RUN_SHORT_VALUES, until_positional=True))


def host_mounts(env: dict[str, str]) -> dict[str, str] | None:
    """CONVEYOR_HOST_MOUNTS as {container path: host path}; None when unset or unreadable."""
    import json

    text = env.get(HOST_MOUNTS_ENV, "").strip()
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return {os.path.normpath(k): v for k, v in data.items()
            if isinstance(k, str) and isinstance(v, str) and k.startswith("/") and v.startswith("/")}


def host_path(path: str, mounts: dict[str, str]) -> str | None:
    """`path` in this container as the host sees it, through the longest mount that holds it.

    >>> host_path("/codebuild/output/src/src/app", {"/codebuild/output/src/src": "/h/src"})
    '/h/src/app'
    >>> host_path("/tmp/x", {"/codebuild/output/src/src": "/h/src"}) is None
    True
    """
    for inside in sorted(mounts, key=len, reverse=True):
        if path == inside or path.startswith(inside.rstrip("/") + "/"):
            return mounts[inside] + path[len(inside):] if path != inside else mounts[inside]
    return None


def _bind_source(source: str, cwd: str, mounts: dict[str, str] | None,
                 notes: list[str], who: str) -> str:
    """A bind mount's source as the engine must see it; a note when it cannot be translated."""
    if not (source.startswith("/") or source in (".", "..") or source.startswith(("./", "../"))):
        return source  # a named volume
    path = os.path.normpath(os.path.join(cwd, source))
    if mounts is not None:
        host = host_path(path, mounts)
        if host is not None:
            return host
    if path in ("/var/run/docker.sock", "/run/docker.sock"):
        return source
    notes.append(f"{who}: bind mount {source}: the engine runs on the host, so this is the "
                 f"host's {path}, not this build container's (only the build's source "
                 f"directories are translated)\n")
    return path if path != source else source


def translate_volume(value: str, cwd: str, mounts: dict[str, str] | None, notes: list[str],
                     who: str = "docker run") -> str:
    """`-v SRC:DST[:OPTS]` with SRC as the host sees it."""
    source, sep, rest = value.partition(":")
    if not sep:
        return value  # an anonymous volume
    return f"{_bind_source(source, cwd, mounts, notes, who)}:{rest}"


def translate_mount(value: str, cwd: str, mounts: dict[str, str] | None, notes: list[str],
                    who: str = "docker run") -> str:
    """`--mount type=bind,source=SRC,…` with SRC as the host sees it."""
    fields = value.split(",")
    kinds = [f.partition("=")[2] for f in fields if f.partition("=")[0] == "type"]
    if kinds and kinds[0] != "bind":
        return value
    out = []
    for field in fields:
        key, eq, val = field.partition("=")
        if eq and key in ("source", "src"):
            field = f"{key}={_bind_source(val, cwd, mounts, notes, who)}"
        out.append(field)
    return ",".join(out)


def translate_run(args: list[str], cwd: str, mounts: dict[str, str] | None, *,
                  create: bool = False) -> RunPlan:
    """A `docker run` (or `create`) argument list with bind mount sources as the host sees them;
    for `run --rm` without -d, `--rm` taken out and remove_after set: podman 4.3's API answers the
    client's wait for a removed container with exit status 0, whatever the command returned.

    >>> plan = translate_run(["--rm", "-it", "-v", "./t:/t", "img", "--rm"], "/w", {"/w": "/h"})
    >>> plan.args[2:], plan.remove_after
    (['-it', '-v', '/h/t:/t', 'img', '--rm'], True)
    """
    who = "docker create" if create else "docker run"
    plan = RunPlan()
    rm = detach = False
    image_at = None
    tokens = list(options_of(args, _RUN_VALUES, _RUN_SHORT_VALUES, until_positional=True))
    for index, (name, value, given) in enumerate(tokens):
        if name == "":
            image_at = index
            break
        if name in ("-v", "--volume") and value is not None:
            plan.args += [name, translate_volume(value, cwd, mounts, plan.notes, who)]
        elif name == "--mount" and value is not None:
            plan.args += [name, translate_mount(value, cwd, mounts, plan.notes, who)]
        elif name == "--rm" and not create:
            rm = not is_false(value)
        elif name in ("-d", "--detach"):
            detach = not is_false(value)
            plan.args += given
        elif name == "--cidfile":
            plan.cidfile = value
            plan.args += given
        elif name.startswith("-") and not name.startswith("--") and "d" in name[1:]:
            detach = True  # a cluster such as -dit
            plan.args += given
        else:
            plan.args += given
    if image_at is not None:
        plan.args += [t for _, _, given in tokens[image_at:] for t in given]
    if rm and detach:
        plan.args.insert(0, "--rm")  # the engine removes it; the client does not wait
    elif rm:
        plan.remove_after = True
        plan.args[:0] = ["--label", f"{REMOVE_LABEL}=true"]  # findable if the wrapper is killed
    return plan
