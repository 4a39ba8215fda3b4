"""The container engine: podman by default, docker when a Docker engine is actually running.

Builders return `Command`s (argv as data, nothing runs); `process.run`/`process.stream` run
them. A few helpers at the bottom execute (`image_exists`, `run_probe`, `detect_engine`).

    >>> engine = ContainerEngine("podman")
    >>> str(engine.run("localhost/app:1", ["python", "app.py"], name="web", detach=True,
    ...                ports=[Port(8081, 8080)], env={"PORT": "8080"}))
    'podman run --detach --name web --env PORT=8080 --publish 127.0.0.1:8081:8080 localhost/app:1 python app.py'
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from conveyor.errors import ConveyorError, UserError
from conveyor.providers.local.process import Command, Completed, run

#: Engines we can drive; podman is the default (it needs no daemon).
ENGINES = ("podman", "docker")
#: Set to "podman" or "docker" to skip detection.
ENGINE_ENV = "CONVEYOR_ENGINE"
#: How long `docker info` may take to tell whether a Docker engine is running.
DOCKER_INFO_TIMEOUT = 10.0
#: Registries served over plain HTTP on this machine (our CNCF distribution registry).
LOCAL_REGISTRY_HOSTS = ("localhost", "127.0.0.1")
#: How long a probe container may take (first run of an image sets up storage).
PROBE_TIMEOUT = 60.0


@dataclass(frozen=True)
class Mount:
    """A bind mount: a host path at a container path, read-write unless read_only."""

    host: str
    container: str
    read_only: bool = False

    def arg(self) -> str:
        return f"{self.host}:{self.container}" + (":ro" if self.read_only else "")


@dataclass(frozen=True)
class Port:
    """A published port; bound to 127.0.0.1 unless told otherwise (traffic stays local)."""

    host_port: int
    container_port: int
    host_ip: str = "127.0.0.1"

    def arg(self) -> str:
        return f"{self.host_ip}:{self.host_port}:{self.container_port}"


def registry_host(ref: str) -> str | None:
    """The registry part of an image reference, or None for a Docker Hub short name.

    >>> registry_host("127.0.0.1:5000/app:1"), registry_host("python:3.12-slim")
    ('127.0.0.1:5000', None)
    """
    first, sep, _ = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def is_local_registry(ref: str) -> bool:
    host = registry_host(ref)
    return host is not None and host.rsplit(":", 1)[0] in LOCAL_REGISTRY_HOSTS


@dataclass(frozen=True)
class ContainerEngine:
    """Builds the commands for one engine binary ("podman" or "docker")."""

    binary: str = "podman"

    @property
    def name(self) -> str:
        return os.path.basename(self.binary)

    @property
    def is_podman(self) -> bool:
        return self.name == "podman"

    def _cmd(self, *args: str, timeout: float | None = None) -> Command:
        return Command([self.binary, *args], timeout=timeout)

    def run(self, image: str, argv: Sequence[str] = (), *, name: str | None = None,
            detach: bool = False, rm: bool = False, env: Mapping[str, str] | None = None,
            mounts: Sequence[Mount] = (), ports: Sequence[Port] = (), workdir: str | None = None,
            labels: Mapping[str, str] | None = None, network: str | None = None,
            user: str | None = None, entrypoint: str | None = None,
            stop_timeout: int | None = None, timeout: float | None = None) -> Command:
        """`run` a container; options come out in a fixed order so the argv is predictable."""
        args = ["run"]
        if detach:
            args.append("--detach")
        if rm:
            args.append("--rm")
        if name:
            args += ["--name", name]
        for key, value in (env or {}).items():
            args += ["--env", f"{key}={value}"]
        for mount in mounts:
            args += ["--volume", mount.arg()]
        for port in ports:
            args += ["--publish", port.arg()]
        if workdir:
            args += ["--workdir", workdir]
        for key, value in (labels or {}).items():
            args += ["--label", f"{key}={value}"]
        if network:
            args += ["--network", network]
        if user:
            args += ["--user", user]
        if entrypoint is not None:
            args += ["--entrypoint", entrypoint]
        if stop_timeout is not None:
            args += ["--stop-timeout", str(stop_timeout)]
        return self._cmd(*args, image, *argv, timeout=timeout)

    def rm(self, *names: str) -> Command:
        """Force-remove containers (running or not)."""
        return self._cmd("rm", "--force", *names)

    def stop(self, name: str, timeout: int | None = None) -> Command:
        """SIGTERM, then SIGKILL after `timeout` seconds (the engine's default: 10)."""
        extra = ["--time", str(timeout)] if timeout is not None else []
        return self._cmd("stop", *extra, name)

    def build(self, context: str, *, file: str | None = None, tags: Sequence[str] = (),
              build_args: Mapping[str, str] | None = None, target: str | None = None,
              labels: Mapping[str, str] | None = None) -> Command:
        args = ["build"]
        if file:
            args += ["--file", file]
        for tag in tags:
            args += ["--tag", tag]
        for key, value in (build_args or {}).items():
            args += ["--build-arg", f"{key}={value}"]
        for key, value in (labels or {}).items():
            args += ["--label", f"{key}={value}"]
        if target:
            args += ["--target", target]
        return self._cmd(*args, context)

    def tag(self, source: str, target: str) -> Command:
        return self._cmd("tag", source, target)

    def push(self, ref: str) -> Command:
        """Push; podman needs --tls-verify=false for our plain-HTTP local registry (docker
        trusts 127.0.0.0/8 registries over HTTP by default)."""
        return self._cmd("push", *self._tls_args(ref), ref)

    def pull(self, ref: str, timeout: float | None = None) -> Command:
        return self._cmd("pull", *self._tls_args(ref), ref, timeout=timeout)

    def _tls_args(self, ref: str) -> list[str]:
        return ["--tls-verify=false"] if self.is_podman and is_local_registry(ref) else []

    def image_exists(self, ref: str) -> Command:
        """Exit 0 when the image is present locally, 1 when not."""
        if self.is_podman:
            return self._cmd("image", "exists", ref)
        return self._cmd("image", "inspect", "--format", "{{.Id}}", ref)

    def image_inspect(self, ref: str, format: str | None = None) -> Command:
        extra = ["--format", format] if format else []
        return self._cmd("image", "inspect", *extra, ref)

    def image_rm(self, *refs: str) -> Command:
        return self._cmd("image", "rm", "--force", *refs)

    def import_image(self, tar: str, ref: str, changes: Sequence[str] = ()) -> Command:
        """Make an image from a root filesystem tarball; `changes` are Dockerfile
        instructions (CMD, ENV, LABEL, WORKDIR…)."""
        args = ["import"]
        for change in changes:
            args += ["--change", change]
        return self._cmd(*args, tar, ref)

    def info(self, format: str | None = None, timeout: float | None = None) -> Command:
        extra = ["--format", format] if format else []
        return self._cmd("info", *extra, timeout=timeout)

    def version(self) -> Command:
        """Prints just the client version, e.g. 4.3.1."""
        return self._cmd("version", "--format", "{{.Client.Version}}")


# --- helpers that execute -------------------------------------------------------------------

def image_exists(engine: ContainerEngine, ref: str) -> bool:
    return run(engine.image_exists(ref), check=False, dry_run=False).returncode == 0


def run_probe(engine: ContainerEngine, image: str, timeout: float = PROBE_TIMEOUT) -> Completed:
    """Start and remove a throwaway container running `true`: does `run` work here at all?
    Returns the completed command (never raises on a failed run; see stderr for why)."""
    cmd = engine.run(image, ["true"], rm=True, timeout=timeout)
    return run(cmd, check=False, dry_run=False)


def docker_running() -> bool:
    """True only when a docker CLI exists *and* `docker info` reaches a running engine."""
    if shutil.which("docker") is None:
        return False
    cmd = ContainerEngine("docker").info(format="{{.ServerVersion}}", timeout=DOCKER_INFO_TIMEOUT)
    try:
        return run(cmd, check=False, dry_run=False).returncode == 0
    except ConveyorError:  # timed out or unrunnable: no usable engine
        return False


def detect_engine() -> ContainerEngine:
    """$CONVEYOR_ENGINE if set, else docker if a Docker engine is running, else podman."""
    chosen = os.environ.get(ENGINE_ENV, "").strip()
    if chosen and chosen not in ENGINES:
        raise UserError(f"{ENGINE_ENV}={chosen}: unknown container engine",
                        hint=f"set it to one of: {', '.join(ENGINES)}, or unset it")
    if chosen:
        return ContainerEngine(chosen)
    return ContainerEngine("docker" if docker_running() else "podman")
