"""Tasks on the container engine: one podman pod per task (the containers share a network
namespace, as in ECS's awsvpc mode), one container per container definition.

Builders return `Command`s (argv as data); `PodRuntime` runs them. Every container carries
labels naming the task, so the reconciler finds its tasks again after a restart, and a label
naming the data directory, so two Conveyor daemons on one machine never touch each other's
tasks.

    >>> str(pod_create("cv-x", {"conveyor.task": "t1"}, [8080], cpus=0.25, memory_mib=512))
    'podman pod create --name cv-x --label conveyor.task=t1 --publish 127.0.0.1::8080 --cpus 0.25 --memory 512m'
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from conveyor.config.taskdef import ContainerDefinition, HealthCheck, TaskDefinition
from conveyor.errors import ConveyorError
from conveyor.names import check_container_env_name
from conveyor.providers.local.ecs import reasons
from conveyor.providers.local.ecs.runtime import (
    ContainerState,
    DependencyCheck,
    PodState,
    SecretResolver,
    TaskStartError,
)
from conveyor.providers.local.process import (
    Command,
    CommandFailed,
    CommandTimedOut,
    run,
)
from conveyor.registry.local import pull_authfile

log = logging.getLogger("conveyor.tasks")

LABEL_TASK = "conveyor.task"
LABEL_HOME = "conveyor.home"
LABEL_ENV = "conveyor.environment"
LABEL_SERVICE = "conveyor.service"
LABEL_CONTAINER = "conveyor.container"
#: ECS's default stopTimeout (SIGTERM, then SIGKILL after this many seconds).
DEFAULT_STOP_TIMEOUT = 30
#: How long pulling an image and starting a container may take.
START_TIMEOUT = 300.0
#: How long waiting for a dependency condition (dependsOn) may take, unless startTimeout says.
DEPENDENCY_TIMEOUT = 120.0
ENGINE_TIMEOUT = 60.0


def home_label(home: Path) -> str:
    return hashlib.sha256(str(Path(home).resolve()).encode()).hexdigest()[:12]


def pod_name(task_id: str) -> str:
    return f"cv-{task_id}"


def container_name(task_id: str, container: str) -> str:
    return f"cv-{task_id}-{container}"


def pod_create(name: str, labels: Mapping[str, str], ports: Sequence[int], *, cpus: float | None = None,
               memory_mib: int | None = None, binary: str = "podman") -> Command:
    args = [binary, "pod", "create", "--name", name]
    for key, value in labels.items():
        args += ["--label", f"{key}={value}"]
    for port in ports:  # an ephemeral host port on loopback: the load balancer is the way in
        args += ["--publish", f"127.0.0.1::{port}"]
    if cpus:
        args += ["--cpus", f"{cpus:g}"]
    if memory_mib:
        args += ["--memory", f"{memory_mib}m"]
    return Command(args, timeout=ENGINE_TIMEOUT)


def container_run(pod: str, name: str, image: str, container: ContainerDefinition, *,
                  labels: Mapping[str, str], env_file: str | None, binary: str = "podman",
                  authfile: str | None = None) -> Command:
    """
    >>> from conveyor.config.taskdef import ContainerDefinition
    >>> c = ContainerDefinition(name="api", image="app:1", command=("serve", "--port", "8080"),
    ...                         memory=256, stop_timeout=10, working_directory="/srv")
    >>> str(container_run("cv-t1", "cv-t1-api", "app:1", c, labels={"conveyor.task": "t1"},
    ...                   env_file=None))  # doctest: +NORMALIZE_WHITESPACE
    'podman run --detach --pod cv-t1 --name cv-t1-api --label conveyor.task=t1 --stop-timeout 10
     --memory 256m --workdir /srv app:1 serve --port 8080'

    `authfile`: the credentials to pull `image` with (the local registry needs a login for
    reads, as ECR does: registry.local.pull_authfile).
    """
    args = [binary, "run", "--detach", "--pod", pod, "--name", name]
    if authfile:
        args += ["--authfile", authfile]
    for key, value in labels.items():
        args += ["--label", f"{key}={value}"]
    if env_file:
        args += ["--env-file", env_file]
    args += ["--stop-timeout", str(container.stop_timeout or DEFAULT_STOP_TIMEOUT)]
    if container.memory:
        args += ["--memory", f"{container.memory}m"]
    if container.memory_reservation:
        args += ["--memory-reservation", f"{container.memory_reservation}m"]
    if container.cpu:
        args += ["--cpu-shares", str(max(2, container.cpu))]
    if container.working_directory:
        args += ["--workdir", container.working_directory]
    if container.user:
        args += ["--user", container.user]
    if container.readonly_root_filesystem:
        args.append("--read-only")
    entry = list(container.entry_point or ())
    if entry:
        args += ["--entrypoint", json.dumps(entry)]
    args.append(image)
    args += list(container.command or ())
    return Command(args, timeout=START_TIMEOUT)


def health_command(check: HealthCheck) -> list[str]:
    """ECS health check command → argv for `podman exec` (CMD-SHELL runs through /bin/sh -c).

    >>> health_command(HealthCheck(command=("CMD-SHELL", "curl -f localhost || exit 1")))
    ['/bin/sh', '-c', 'curl -f localhost || exit 1']
    >>> health_command(HealthCheck(command=("CMD", "true")))
    ['true']
    """
    kind, *rest = check.command
    if kind == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(rest)]
    return list(rest)


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def env_file_text(variables: Sequence[tuple[str, str]]) -> str:
    """podman's --env-file format: NAME=VALUE per line. A name with a newline or `=` (or one
    podman would read as a comment) and a value with a newline could add a variable the task
    definition does not hold, so they are refused (conveyor.names), never written.

    >>> env_file_text([("A", "1"), ("B", "x=y")])
    'A=1\\nB=x=y\\n'
    """
    lines = []
    for name, value in variables:
        problem = check_container_env_name(name)
        if problem is not None:
            raise TaskStartError(reasons.environment_name_invalid(name, problem))
        if "\n" in value or "\r" in value:
            raise TaskStartError(reasons.environment_value_with_newline(name))
        if "\0" in value:
            raise TaskStartError(reasons.environment_value_with_nul(name))
        lines.append(f"{name}={value}")
    return "\n".join(lines) + "\n"


class PodRuntime:
    """Runs tasks as pods on podman, for one data directory (a TaskRuntime)."""

    def __init__(self, home: Path, binary: str = "podman"):
        self.home = Path(home)
        self.binary = binary
        self.label = home_label(self.home)

    def _run(self, cmd: Command, check: bool = True):
        return run(cmd, check=check)

    # -- start
    def start(self, task_id: str, environment: str, service: str, taskdef: TaskDefinition,
              secrets: SecretResolver, published: Sequence[int],
              wait_healthy: DependencyCheck | None = None) -> dict[int, int]:
        """Create the pod and start its containers in dependsOn order; returns containerPort →
        host port. Raises TaskStartError with ECS-style reasons; leaves nothing behind then."""
        labels = {LABEL_HOME: self.label, LABEL_TASK: task_id, LABEL_ENV: environment, LABEL_SERVICE: service}
        pod = pod_name(task_id)
        cpu = taskdef.task_cpu_units()
        try:
            self._run(pod_create(pod, labels, published, cpus=cpu / 1024 if cpu else None,
                                 memory_mib=taskdef.task_memory_mib(), binary=self.binary))
            for container in start_order(taskdef):
                self._wait_dependencies(task_id, container, wait_healthy)
                self._start_container(task_id, pod, container, labels, secrets)
            return self.ports(task_id, published)
        except (CommandFailed, CommandTimedOut) as exc:
            self.remove(task_id)
            raise TaskStartError(_start_reason(str(exc))) from exc
        except BaseException:
            self.remove(task_id)
            raise

    def _start_container(self, task_id: str, pod: str, container: ContainerDefinition,
                         labels: Mapping[str, str], secrets: SecretResolver) -> None:
        variables = list(container.environment)
        for name, value_from in container.secrets:
            try:
                variables.append((name, secrets(value_from)))
            except ConveyorError as exc:
                raise TaskStartError(reasons.secrets_unavailable(exc)) from exc
        env_path = None
        if variables:  # a 0600 file, not --env NAME=VALUE: secrets never show in `ps`
            fd, env_path = tempfile.mkstemp(prefix="cv-env-", dir=self.home)
            with os.fdopen(fd, "w") as fh:
                fh.write(env_file_text(variables))
        try:
            self._run(container_run(pod, container_name(task_id, container.name), container.image, container,
                                    labels={**labels, LABEL_CONTAINER: container.name}, env_file=env_path,
                                    binary=self.binary, authfile=pull_authfile(self.home, container.image)))
        finally:
            if env_path:
                os.unlink(env_path)

    def _wait_dependencies(self, task_id: str, container: ContainerDefinition,
                           wait_healthy: DependencyCheck | None) -> None:
        deadline = time.monotonic() + (container.start_timeout or DEPENDENCY_TIMEOUT)
        for dep in container.depends_on:
            if dep.condition == "START":
                continue  # started before us (start_order)
            while True:
                state = self.container_state(task_id, dep.container_name)
                if dep.condition == "HEALTHY" and wait_healthy is not None:
                    if wait_healthy(task_id, dep.container_name):
                        break
                elif dep.condition in ("COMPLETE", "SUCCESS") and state and not state.running:
                    if dep.condition == "SUCCESS" and state.exit_code != 0:
                        raise TaskStartError(reasons.dependency_exited(dep.container_name, state.exit_code))
                    break
                if time.monotonic() > deadline:
                    raise TaskStartError(reasons.dependency_timed_out(container.name, dep.container_name,
                                                                      dep.condition))
                time.sleep(0.25)

    def ports(self, task_id: str, published: Sequence[int]) -> dict[int, int]:
        if not published:
            return {}
        out = self._run(Command([self.binary, "pod", "inspect", pod_name(task_id), "--format",
                                 "{{json .InfraConfig.PortBindings}}"], timeout=ENGINE_TIMEOUT)).stdout
        bindings = json.loads(out or "{}") or {}
        ports = {}
        for key, binds in bindings.items():
            port = int(key.split("/")[0])
            if binds:
                ports[port] = int(binds[0]["HostPort"])
        return ports

    # -- observe
    def observe(self) -> dict[str, PodState]:
        """Every container of this data directory, grouped by task (one `ps` call)."""
        out = self._run(Command([self.binary, "ps", "--all", "--format", "json", "--filter",
                                 f"label={LABEL_HOME}={self.label}"], timeout=ENGINE_TIMEOUT)).stdout
        pods: dict[str, PodState] = {}
        for item in json.loads(out or "[]") or []:
            labels = item.get("Labels") or {}
            task_id = labels.get(LABEL_TASK)
            if not task_id:
                continue
            pod = pods.setdefault(task_id, PodState(task_id, labels.get(LABEL_ENV, ""), labels.get(LABEL_SERVICE, "")))
            name = labels.get(LABEL_CONTAINER)
            if not name:  # the pod's infra container
                continue
            running = item.get("State") == "running"
            pod.containers[name] = ContainerState(name, running, None if running else item.get("ExitCode"),
                                                  item.get("StartedAt"))
        return pods

    def container_state(self, task_id: str, name: str) -> ContainerState | None:
        res = self._run(Command([self.binary, "inspect", container_name(task_id, name), "--format",
                                 "{{.State.Running}} {{.State.ExitCode}}"], timeout=ENGINE_TIMEOUT), check=False)
        if res.returncode != 0:
            return None
        running, code = res.stdout.split()
        is_running = running == "true"
        return ContainerState(name, is_running, None if is_running else int(code))

    def health_check(self, task_id: str, container: ContainerDefinition) -> tuple[bool, str]:
        """Run the container's health check once (ECS runs it in the container): (passed, output)."""
        check = container.health_check
        assert check is not None
        cmd = Command([self.binary, "exec", container_name(task_id, container.name), *health_command(check)],
                      timeout=check.timeout + 2)
        try:
            res = self._run(cmd, check=False)
        except CommandTimedOut:
            return False, f"timed out after {check.timeout} s"
        return res.returncode == 0, (res.stdout + res.stderr).strip()[-200:]

    def logs(self, task_id: str, container: str, tail: int | None = 100) -> str:
        args = [self.binary, "logs"]
        if tail is not None:
            args += ["--tail", str(tail)]
        res = self._run(Command([*args, container_name(task_id, container)], timeout=ENGINE_TIMEOUT), check=False)
        return res.stdout + res.stderr

    # -- stop
    def stop(self, task_id: str, timeout: int) -> None:
        """SIGTERM to every container, SIGKILL after `timeout` seconds; then remove the pod."""
        self._run(Command([self.binary, "pod", "stop", "--time", str(timeout), pod_name(task_id)],
                          timeout=timeout + ENGINE_TIMEOUT), check=False)
        self.remove(task_id)

    def remove(self, task_id: str) -> None:
        self._run(Command([self.binary, "pod", "rm", "--force", pod_name(task_id)], timeout=ENGINE_TIMEOUT),
                  check=False)

    def remove_all(self) -> None:
        """Every pod of this data directory (`conveyor down --all`, tests)."""
        for task_id in self.observe():
            self.remove(task_id)


def start_order(taskdef: TaskDefinition) -> list[ContainerDefinition]:
    """Containers sorted so that every dependsOn target starts first (file order otherwise).

    >>> from conveyor.config.taskdef import ContainerDefinition, Dependency, TaskDefinition
    >>> td = TaskDefinition(family="f", containers=(
    ...     ContainerDefinition(name="app", image="a", depends_on=(Dependency("init", "SUCCESS"),)),
    ...     ContainerDefinition(name="init", image="i", essential=False)))
    >>> [c.name for c in start_order(td)]
    ['init', 'app']
    """
    by_name = {c.name: c for c in taskdef.containers}
    done: list[ContainerDefinition] = []
    seen: set[str] = set()

    def visit(c: ContainerDefinition, path: tuple[str, ...]) -> None:
        if c.name in seen:
            return
        if c.name in path:
            raise TaskStartError(reasons.depends_on_cycle(path + (c.name,)))
        for dep in c.depends_on:
            if dep.container_name in by_name:
                visit(by_name[dep.container_name], path + (c.name,))
        seen.add(c.name)
        done.append(c)

    for c in taskdef.containers:
        visit(c, ())
    return done


def _start_reason(message: str) -> str:
    """ECS-style stoppedReason for a failed start.

    >>> _start_reason("`podman run ...` exited with 125: Error: initializing source docker://x: manifest unknown")
    'CannotPullContainerError: Error: initializing source docker://x: manifest unknown'
    """
    lowered = message.lower()
    detail = message.split(": ", 1)[1] if ": " in message else message
    if any(k in lowered for k in ("manifest unknown", "pull", "initializing source", "name unknown", "not found")):
        return reasons.cannot_pull_container(detail)
    return reasons.cannot_start_container(detail)
