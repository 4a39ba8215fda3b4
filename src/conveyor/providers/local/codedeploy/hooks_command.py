"""Command and container hooks: one process (or `podman run`) per invocation, run through
conveyor.providers.local.process.stream, so a timeout or cancel takes down the whole process
group.

The verdict: exit 0 → Succeeded, anything else → Failed, unless the last non-blank line of the
output is a report (`{"hookStatus": "IN_PROGRESS", "callBackDelay": 10, "hookDetails": {…}}`,
see hooks_contract), which decides instead. stdout and stderr arrive merged, in order, as a
build's log does; write the report last.

    >>> cmd = container_command(ContainerEngine("podman"), "localhost/smoke:1", ("./smoke.sh",),
    ...                         env_file="/tmp/e", name="cv-hook-x", workdir=None)
    >>> str(cmd)  # doctest: +NORMALIZE_WHITESPACE
    'podman run --init --env-file /tmp/e --rm --name cv-hook-x --label conveyor.hook=cv-hook-x
     --network host localhost/smoke:1 ./smoke.sh'
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from conveyor.config.codedeploy_model import HookSpec
from conveyor.errors import ConveyorError
from conveyor.providers.local import process
from conveyor.providers.local.codedeploy.hooks_contract import (
    FAILED,
    LOG_TAIL_CHARS,
    SUCCEEDED,
    HookContext,
    HookResult,
    hook_env,
    read_report,
    result_from_report,
)
from conveyor.providers.local.containers import ContainerEngine, Mount
from conveyor.providers.local.process import CANCELLED, TIMED_OUT, Command, LinePart
from conveyor.secrets.masking import Masker
from conveyor.secrets.stream import MaskedLines

#: The only variables a command hook inherits from the daemon (plus spec.env and HOOK_ENV_VARS):
#: a hook must not see the daemon's own credentials.
BASE_ENV_VARS = ("PATH", "HOME", "LANG")
BASE_ENV_DEFAULTS = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/", "LANG": "C.UTF-8"}
#: `process` adds a command's env to the daemon's; `env -i` starts the hook from an empty one.
ENV_BINARY = "/usr/bin/env" if os.path.exists("/usr/bin/env") else shutil.which("env") or "env"
#: Where a container hook sees the deployed source (read-only) and starts.
CONTAINER_WORKDIR = "/workspace"
LABEL_HOOK = "conveyor.hook"
#: What the usual "could not run it" exit codes mean (POSIX shells; `podman run` adds 125 for
#: its own errors and uses 126/127 for the container's command).
EXIT_MEANINGS = {126: "the command is not executable", 127: "command not found"}
CONTAINER_EXIT_MEANINGS = {**EXIT_MEANINGS, 125: "the container engine could not run the container"}

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Runner = Callable[..., int]  # process.stream's signature
Mask = Callable[[str], str]


class OutputTail:
    """Keeps the last LOG_TAIL_CHARS of masked output and the last non-blank raw line.

    When `mask` is a Masker's own `mask` (the daemon passes the process-wide one), the parts of
    an over-long line (LineParts) are masked across their boundaries (MaskedLines); with another
    function, each piece is masked alone."""

    def __init__(self, mask: Mask, on_line: Callable[[str], None] | None = None):
        self.mask, self.on_line = mask, on_line
        self.lines: deque[str] = deque()
        self.size = 0
        self.last = ""
        masker = getattr(mask, "__self__", None)
        self._sink = MaskedLines(self._keep, masker) if isinstance(masker, Masker) else None

    def add(self, line: str) -> None:
        if line.strip():
            self.last = line
        if self._sink is None:
            self._keep(self.mask(line))
        elif isinstance(line, LinePart):
            self._sink.part(line)
        else:
            self._sink.line(line)

    def close(self) -> None:
        """Keep what a line cut short left held back."""
        if self._sink is not None:
            self._sink.close()

    def _keep(self, shown: str) -> None:
        if self.on_line is not None:
            self.on_line(shown)
        self.lines.append(shown)
        self.size += len(shown) + 1
        while self.size > LOG_TAIL_CHARS and len(self.lines) > 1:
            self.size -= len(self.lines.popleft()) + 1

    @property
    def text(self) -> str:
        self.close()  # read when the hook is over: what is held back belongs to it
        return "\n".join(self.lines)[-LOG_TAIL_CHARS:]


def command_env(spec: HookSpec, ctx: HookContext, inherited: Mapping[str, str]) -> dict[str, str]:
    """A command hook's whole environment: BASE_ENV_VARS from `inherited`, then spec.env, then
    the reserved CONVEYOR_* variables.

    >>> env = command_env(HookSpec("h", ("true",), env={"A": "1"}), HookContext("d-1", "x", "AfterInstall"),
    ...                   {"PATH": "/bin", "AWS_SECRET_ACCESS_KEY": "k"})
    >>> env["PATH"], env["A"], env["HOME"], "AWS_SECRET_ACCESS_KEY" in env
    ('/bin', '1', '/', False)
    """
    base = {k: inherited.get(k) or BASE_ENV_DEFAULTS[k] for k in BASE_ENV_VARS}
    return {**base, **_spec_env(spec), **hook_env(ctx)}


def clean_env_command(argv: Sequence[str], env: Mapping[str, str], cwd: str) -> Command:
    """`env -i NAME=VALUE… ARGV`: the command with exactly `env`, nothing inherited.

    >>> clean_env_command(["./smoke.sh"], {"PATH": "/bin"}, "/src").argv
    ['/usr/bin/env', '-i', '--', 'PATH=/bin', './smoke.sh']
    """
    return Command([ENV_BINARY, "-i", "--", *(f"{k}={v}" for k, v in env.items()), *argv], cwd=cwd)


def container_command(engine: ContainerEngine, image: str, argv: Sequence[str], *, env_file: str, name: str,
                      workdir: Path | None) -> Command:
    """`podman run --init --env-file FILE --rm --name NAME --network host IMAGE [ARGV]`.
    Variables go through a 0600 file, not `--env NAME=VALUE`, so values never show in `ps` (as
    in conveyor.providers.local.ecs.tasks); `--init` makes SIGTERM stop the hook even when its PID 1 is a shell.
    The deployed source, when there is one, is mounted read-only at CONTAINER_WORKDIR."""
    mounts = [Mount(str(workdir), CONTAINER_WORKDIR, read_only=True)] if workdir else []
    base = engine.run(image, list(argv), name=name, rm=True, labels={LABEL_HOOK: name}, network="host",
                      mounts=mounts, workdir=CONTAINER_WORKDIR if workdir else None)
    # ContainerEngine.run has no init/env-file options; they go right after `run`.
    return Command([*base.argv[:2], "--init", "--env-file", env_file, *base.argv[2:]])


def run_command_hook(spec: HookSpec, ctx: HookContext, *, timeout: float, cancel: threading.Event | None,
                     runner: Runner, grace: float, mask: Mask,
                     on_line: Callable[[str], None] | None = None) -> HookResult:
    env = command_env(spec, ctx, os.environ)
    problem = _env_problem(env)
    if problem:
        return HookResult(FAILED, problem)
    if ctx.workdir is not None:
        return _run_in(spec, ctx, str(ctx.workdir), env, timeout, cancel, runner, grace, mask, on_line)
    with tempfile.TemporaryDirectory(prefix="cv-hook-") as scratch:
        return _run_in(spec, ctx, scratch, env, timeout, cancel, runner, grace, mask, on_line)


def _run_in(spec, ctx, cwd, env, timeout, cancel, runner, grace, mask, on_line) -> HookResult:
    problem = find_executable(spec.command[0], cwd, env["PATH"])
    if problem:
        return HookResult(FAILED, problem)
    tail = OutputTail(mask, on_line)
    try:
        code = runner(clean_env_command(spec.command, env, cwd), tail.add, cancel, timeout, grace=grace)
    except (ConveyorError, OSError, ValueError) as exc:  # cwd vanished, NUL in an argument, …
        return HookResult(FAILED, f"could not start the hook: {exc}", log_tail=tail.text)
    return verdict(code, tail, ctx, timeout)


def run_container_hook(spec: HookSpec, ctx: HookContext, *, timeout: float, cancel: threading.Event | None,
                       runner: Runner, grace: float, mask: Mask, engine: ContainerEngine,
                       on_line: Callable[[str], None] | None = None) -> HookResult:
    if not spec.image:  # (hooks.invoke_hook runs only a hook with an image here)
        return HookResult(FAILED, f"hook {spec.name!r} has no image")
    env = {**_spec_env(spec), **hook_env(ctx)}
    problem = _env_problem(env, newlines=False)
    if problem:
        return HookResult(FAILED, problem)
    name = container_name(ctx.execution_id, ctx.attempt)
    tail = OutputTail(mask, on_line)
    fd, env_file = tempfile.mkstemp(prefix="cv-hook-env-")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write("".join(f"{k}={v}\n" for k, v in env.items()))
        cmd = container_command(engine, spec.image, spec.container_command, env_file=env_file, name=name,
                                workdir=ctx.workdir)
        code = runner(cmd, tail.add, cancel, timeout, grace=grace)
    except (ConveyorError, OSError, ValueError) as exc:  # no engine installed, …
        return HookResult(FAILED, f"could not start the hook container: {exc}", log_tail=tail.text)
    finally:
        os.unlink(env_file)
    if code in (TIMED_OUT, CANCELLED):  # the client is gone; make sure the container is too
        try:
            process.run(engine.rm(name), check=False)
        except ConveyorError:
            pass
    return verdict(code, tail, ctx, timeout, CONTAINER_EXIT_MEANINGS)


def verdict(code: int, tail: OutputTail, ctx: HookContext, timeout: float,
            meanings: Mapping[int, str] = EXIT_MEANINGS) -> HookResult:
    """Exit code plus the last output line → the result (module docstring)."""
    if code == TIMED_OUT:
        return HookResult(FAILED, f"timed out after {timeout:g} s", log_tail=tail.text)
    if code == CANCELLED:
        return HookResult(FAILED, "cancelled", log_tail=tail.text)
    exited = f"exited with code {code}" if code >= 0 else f"killed by {_signal_name(-code)}"
    report = read_report(tail.last) if code >= 0 else None
    if report is not None:
        note = exited if code != 0 else ""
        return result_from_report(report, ctx, note=note, log_tail=tail.text)
    if code == 0:
        return HookResult(SUCCEEDED, exited, log_tail=tail.text)
    meaning = meanings.get(code)
    return HookResult(FAILED, exited + (f" ({meaning})" if meaning else ""), log_tail=tail.text)


def find_executable(program: str, cwd: str, path: str) -> str | None:
    """Why `program` cannot be run from `cwd` with PATH=`path`, or None when it can."""
    if "=" in program:  # `env` would take it for a variable
        return f"hook command {program!r}: a program name cannot contain '='"
    if "/" in program:
        full = os.path.join(cwd, program)
        if not os.path.exists(full):
            return f"hook command {program!r} not found (in {cwd})"
        if os.path.isdir(full) or not os.access(full, os.X_OK):
            return f"hook command {program!r} is not executable (chmod +x it, or run it with its interpreter)"
        return None
    if shutil.which(program, path=path) is None:
        return f"hook command {program!r} not found on PATH ({path})"
    return None


def container_name(execution_id: str, attempt: int) -> str:
    """One name per attempt, so a container a crash left behind cannot block the next poll."""
    safe = "".join(c if c.isalnum() or c in "_.-" else "-" for c in execution_id)
    return f"cv-hook-{safe[:100]}-{attempt}"


def _spec_env(spec: HookSpec) -> dict[str, str]:
    return {str(k): "" if v is None else str(v) for k, v in (spec.env or {}).items()}


def _env_problem(env: Mapping[str, str], newlines: bool = True) -> str | None:
    """Why `env` cannot be passed on (as NAME=VALUE arguments, or lines of an --env-file)."""
    for key, value in env.items():
        if not _ENV_NAME.match(key):
            return f"invalid environment variable name {key!r} in the hook's env"
        if "\0" in value or (not newlines and "\n" in value):
            what = "a NUL byte" if "\0" in value else "a newline (not possible for a container hook)"
            return f"environment variable {key}: the value holds {what}"
    return None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
