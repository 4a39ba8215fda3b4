"""The container engine: podman by default, docker when a Docker engine is actually running.

Builders return `Command`s (argv as data, nothing runs); `process.run`/`process.stream` run
them. A few helpers at the bottom execute (`image_exists`, `run_probe`, `detect_engine`,
`ensure_api_service`).

    >>> engine = ContainerEngine("podman")
    >>> str(engine.run("localhost/app:1", ["python", "app.py"], name="web", detach=True,
    ...                ports=[Port(8081, 8080)], env={"PORT": "8080"}))
    'podman run --detach --name web --env PORT=8080 --publish 127.0.0.1:8081:8080 localhost/app:1 python app.py'
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from conveyor.errors import ConveyorError, UserError
from conveyor.home import PRIVATE_DIR_MODE, write_private
from conveyor.providers.local import process
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
#: Where a docker client looks for its engine by default, on the host and in a container.
DOCKER_SOCKET = "/var/run/docker.sock"
#: The podman API service's socket and log, under the directory given to ensure_api_service.
PODMAN_API_SOCKET = "podman.sock"
PODMAN_API_LOG = "podman-api.log"
#: The pid of a service we started, so that `conveyor down --all` can stop it after a daemon that
#: crashed left it running (it runs in its own session and outlives its starter).
PODMAN_API_PID = "podman-api.pid"
#: How long `podman system service` may take to answer its first /_ping (~0.2 s here).
API_START_TIMEOUT = 15.0


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
class EngineAccess:
    """The mounts and environment a container needs for its docker client to drive the host's
    engine (builds run `docker build` and `docker push` this way; images and containers it
    makes are the host's, and bind mounts it asks for name host paths)."""

    mounts: tuple[Mount, ...]
    env: Mapping[str, str] = field(default_factory=dict)


def engine_access(socket_path: str) -> EngineAccess:
    """Mount the engine's API socket where docker clients look for it by default.

    >>> access = engine_access("/var/lib/conveyor/podman.sock")
    >>> [m.arg() for m in access.mounts], dict(access.env)
    (['/var/lib/conveyor/podman.sock:/var/run/docker.sock'], {'DOCKER_HOST': 'unix:///var/run/docker.sock'})
    """
    return EngineAccess((Mount(socket_path, DOCKER_SOCKET),),
                        {"DOCKER_HOST": f"unix://{DOCKER_SOCKET}"})


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

    def api_service(self, socket_path: str, env: Mapping[str, str] | None = None) -> Command:
        """podman's Docker-compatible API on a UNIX socket, never timing out (podman only).
        `env` e.g. CONTAINERS_REGISTRIES_CONF: the service, not the client, reaches registries."""
        return Command([self.binary, "system", "service", "--time=0", f"unix://{socket_path}"],
                       env=dict(env) if env else None)


# --- helpers that execute -------------------------------------------------------------------

def image_exists(engine: ContainerEngine, ref: str) -> bool:
    return run(engine.image_exists(ref), check=False, dry_run=False).returncode == 0


def image_labels(engine: ContainerEngine, ref: str) -> dict[str, str] | None:
    """An image's labels ({} when it has none or they cannot be read), None when the image is
    absent."""
    done = run(engine.image_inspect(ref, format="{{json .Config.Labels}}"), check=False, dry_run=False)
    if not done.ok:
        return None
    try:
        return json.loads(done.stdout.strip().splitlines()[0]) or {}
    except (ValueError, IndexError):
        return {}


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


# --- the Docker-compatible API socket ------------------------------------------------------

@dataclass
class ApiService:
    """An engine API socket; `proc` is set only when we started the service (then `stop` it)."""

    socket: str
    proc: subprocess.Popen | None = None

    def stop(self) -> None:
        if self.proc is not None:
            process.terminate(self.proc)
            self.proc = None
            if os.path.exists(self.socket):
                os.unlink(self.socket)
            pid_file = os.path.join(os.path.dirname(self.socket), PODMAN_API_PID)
            if os.path.exists(pid_file):
                os.unlink(pid_file)


def stop_api_service(directory: str, grace: float = process.DEFAULT_KILL_GRACE) -> int | None:
    """Stop the podman API service started under `directory` by any process (its pid file says
    which), even one whose starter is gone; the pid stopped, or None if none was running. A pid
    whose command line is not that service's (the pid was reused) is left alone."""
    pid_file = os.path.join(directory, PODMAN_API_PID)
    sock = os.path.join(directory, PODMAN_API_SOCKET)
    try:
        with open(pid_file) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    stopped = pid if _is_api_service(pid, sock) else None
    if stopped is not None:
        process.stop_pid(stopped, grace)
    for path in (pid_file, sock):
        if os.path.exists(path) and (path == pid_file or stopped is not None):
            os.unlink(path)
    return stopped


def _is_api_service(pid: int, socket_path: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    return b"system" in argv and b"service" in argv and f"unix://{socket_path}".encode() in argv


def api_answers(socket_path: str, timeout: float = 2.0) -> bool:
    """Does a Docker-compatible API answer `GET /_ping` with 200 on this socket?"""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(socket_path)
            conn.sendall(b"GET /_ping HTTP/1.0\r\nHost: localhost\r\n\r\n")
            return conn.recv(64).split(b" ")[1:2] == [b"200"]
    except OSError:
        return False


def host_docker_socket() -> str:
    """A Docker engine's socket: $DOCKER_HOST when it is unix://, else DOCKER_SOCKET."""
    host = os.environ.get("DOCKER_HOST", "")
    return host.removeprefix("unix://") if host.startswith("unix://") else DOCKER_SOCKET


def ensure_api_service(engine: ContainerEngine, directory: str,
                       env: Mapping[str, str] | None = None,
                       timeout: float = API_START_TIMEOUT) -> ApiService:
    """The socket of the engine's Docker-compatible API. With podman, reuse the service
    answering on DIRECTORY/podman.sock or start one with `env` added to its environment (its
    output in DIRECTORY/podman-api.log); with docker, the engine's own socket.

        service = ensure_api_service(ContainerEngine("podman"), "/var/lib/conveyor")
        engine_access(service.socket)   # what a build container mounts
        service.stop()                  # only stops what it started
    """
    if not engine.is_podman:
        return ApiService(host_docker_socket())
    sock = os.path.join(directory, PODMAN_API_SOCKET)
    if api_answers(sock):
        return ApiService(sock)
    os.makedirs(directory, exist_ok=True, mode=PRIVATE_DIR_MODE)
    if os.path.exists(sock):  # left by a service that died
        os.unlink(sock)
    log_path = os.path.join(directory, PODMAN_API_LOG)
    service = ApiService(sock, process.start(engine.api_service(sock, env), log_path=log_path))
    assert service.proc is not None
    write_private(os.path.join(directory, PODMAN_API_PID), f"{service.proc.pid}\n")
    deadline = time.monotonic() + timeout
    while not api_answers(sock):
        code = service.proc.poll() if service.proc else None
        if code is not None or time.monotonic() > deadline:
            service.stop()
            what = f"exited with {code}" if code is not None else f"did not answer in {timeout:g} s"
            raise ConveyorError(f"`{engine.api_service(sock)}` {what}",
                                hint=f"see {log_path}")
        time.sleep(0.05)
    return service
