"""The one place where Conveyor runs commands.

Commands are built as data (`Command`) by small builder functions elsewhere and executed here,
so every command can be logged, redacted and shown in `--dry-run`:

    cmd = Command(["podman", "image", "exists", "localhost/app:1"])
    str(cmd)
    # -> 'podman image exists localhost/app:1'
    run(cmd, check=False).returncode
    # -> 1

`run` waits for a short command and returns its captured output. `stream` runs a long one
(a build phase, a container in the foreground), hands each output line to a callback as it
arrives, and stops the whole process group on cancel or timeout. `start`/`terminate` own a
daemon (registry, HAProxy) that outlives the call. Both start the child in a
new session, so a timeout or cancel kills grandchildren too and leaves no zombies.

Errors (all `ConveyorError`s):
    CommandNotFound    the executable is not installed
    CommandFailed      non-zero exit with check=True (argv, returncode, stderr tail)
    CommandTimedOut    `run` hit its timeout (the process group was killed)
"""

from __future__ import annotations

import codecs
import logging
import os
import queue
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from conveyor.errors import ConveyorError

log = logging.getLogger("conveyor.process")

#: When True, `run` and `stream` print commands (through ECHO) instead of running them.
DRY_RUN = False
ECHO: Callable[[str], None] = print

#: How long a process group gets between SIGTERM and SIGKILL (ECS's default stopTimeout is 30 s;
#: commands are not services, so less).
DEFAULT_KILL_GRACE = 5.0
#: How many trailing stderr lines a CommandFailed message carries.
STDERR_TAIL_LINES = 5
#: Longest chunk `stream` hands to on_line; longer lines are split (binary output, no newlines)
#: into LineParts, so that memory stays bounded.
MAX_LINE_BYTES = 64 * 1024

#: `stream` return codes for the two ways Conveyor itself stops a command. Real exit codes are
#: 0..255 and signal deaths are -1..-64 (subprocess convention), so these cannot collide.
TIMED_OUT = -1000
CANCELLED = -1001


@dataclass(frozen=True)
class Command:
    """A command as data: argv plus what it runs with. `env` is *added* to the inherited
    environment; `redact` lists strings (tokens, passwords) masked wherever the command is shown."""

    argv: list[str]
    env: dict[str, str] | None = None
    cwd: str | None = None
    input: bytes | None = None
    timeout: float | None = None
    redact: tuple[str, ...] = field(default=(), repr=False)

    def __str__(self) -> str:
        return self._mask(shlex.join(self.argv))

    def display(self) -> str:
        """The command as a shell line, with its working directory and extra environment.

        >>> Command(["make"], env={"A": "1"}, cwd="/src").display()
        'cd /src && A=1 make'
        """
        parts = [f"{k}={shlex.quote(v)}" for k, v in (self.env or {}).items()]
        line = " ".join([*parts, shlex.join(self.argv)])
        if self.cwd:
            line = f"cd {shlex.quote(self.cwd)} && {line}"
        return self._mask(line)

    def _mask(self, text: str) -> str:
        for secret in self.redact:
            if secret:
                text = text.replace(secret, "***")
        return text


class LinePart(str):
    """A piece of an output line longer than MAX_LINE_BYTES that goes on in the next piece. It
    passes through line callbacks as the str it is; a sink that cares (secret masking: a value may
    straddle two pieces) tells it from a whole line by its type."""


def read_lines(pipe, put: Callable[[str], None]) -> None:
    """Hand each line of a binary `pipe` (without its line end) to `put`, as text; a line longer
    than MAX_LINE_BYTES comes as LineParts and then its last piece, and output that ends without
    a newline as a line. UTF-8 is decoded incrementally, so a character cut between two pieces is
    not garbled."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    cut: bytes | None = None  # a full chunk without a newline: a part if more of its line follows
    for raw in iter(lambda: pipe.readline(MAX_LINE_BYTES), b""):
        if cut is not None:
            put(LinePart(decoder.decode(cut)))
            cut = None
        if raw.endswith(b"\n"):
            put(decoder.decode(raw, final=True).rstrip("\r\n"))
        else:
            cut = raw
    if cut is not None:
        put(decoder.decode(cut, final=True).rstrip("\r"))


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str
    duration: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class CommandNotFound(ConveyorError):
    def __init__(self, cmd: Command):
        self.argv = list(cmd.argv)
        super().__init__(f"{cmd.argv[0]}: command not found",
                         hint="install it with `conveyor setup`")


class CommandFailed(ConveyorError):
    def __init__(self, cmd: Command, returncode: int, stderr: str):
        self.argv = list(cmd.argv)
        self.returncode = returncode
        self.stderr_tail = tail(cmd._mask(stderr))
        detail = f": {self.stderr_tail}" if self.stderr_tail else ""
        super().__init__(f"`{cmd}` exited with {returncode}{detail}")


class CommandTimedOut(ConveyorError):
    def __init__(self, cmd: Command, timeout: float):
        self.argv = list(cmd.argv)
        self.timeout = timeout
        super().__init__(f"`{cmd}` did not finish within {timeout:g} s and was killed")


def tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    """The last non-blank lines of `text`, joined with ' | ' to fit a one-line message."""
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(kept[-lines:])


def run(cmd: Command, *, check: bool = True, capture: bool = True,
        dry_run: bool | None = None) -> Completed:
    """Run `cmd` to completion. With capture=False the output goes to our stdout/stderr.

    Raises CommandNotFound, CommandTimedOut (after killing the process group), or CommandFailed
    on a non-zero exit when check=True. In dry-run mode prints the command and returns success.
    """
    if _dry(dry_run):
        ECHO(f"$ {cmd.display()}")
        return Completed(0, "", "", 0.0)
    log.debug("$ %s", cmd.display())
    pipe = subprocess.PIPE if capture else None
    started = time.monotonic()
    proc = _spawn(cmd, stdout=pipe, stderr=pipe)
    try:
        out, err = proc.communicate(cmd.input, timeout=cmd.timeout)
    except subprocess.TimeoutExpired:
        _signal_group(proc, signal.SIGKILL)
        _reap(proc)
        raise CommandTimedOut(cmd, cmd.timeout or 0) from None
    except BaseException:  # KeyboardInterrupt in the parent: take the children down with us
        _signal_group(proc, signal.SIGKILL)
        _reap(proc)
        raise
    result = Completed(proc.returncode, _text(out), _text(err), time.monotonic() - started)
    log.debug("exit %s in %.2fs: %s", result.returncode, result.duration, cmd)
    if check and result.returncode != 0:
        raise CommandFailed(cmd, result.returncode, result.stderr)
    return result


def stream(cmd: Command, on_line: Callable[[str], None], cancel: threading.Event | None = None,
           timeout: float | None = None, *, grace: float = DEFAULT_KILL_GRACE,
           dry_run: bool | None = None) -> int:
    """Run `cmd`, feeding each output line (stdout and stderr merged, without the newline) to
    `on_line` in the calling thread, and return the exit code.

    On `cancel` being set or `timeout` (default: cmd.timeout) passing, the process group gets
    SIGTERM, then SIGKILL after `grace` seconds; the return value is then CANCELLED or TIMED_OUT.
    A process killed by a signal from elsewhere returns -SIGNUM. If on_line raises, the group is
    killed and the exception propagates. When the leader exits but a background job of its
    group still holds the output open, that job is killed after `grace` seconds (its output
    would go nowhere). Safe to call from worker threads.

        lines = []
        stream(Command(["sh", "-c", "echo a; echo b >&2"]), lines.append)
        # -> 0
    """
    if _dry(dry_run):
        ECHO(f"$ {cmd.display()}")
        return 0
    log.debug("$ %s (streaming)", cmd.display())
    limit = cmd.timeout if timeout is None else timeout
    deadline = None if limit is None else time.monotonic() + limit
    proc = _spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = proc.stdout
    assert output is not None  # stdout=PIPE
    lines: queue.Queue[str | None] = queue.Queue()
    threads = [threading.Thread(target=_pump, args=(output, lines), daemon=True)]
    if cmd.input is not None:
        threads.append(threading.Thread(target=_feed, args=(proc.stdin, cmd.input), daemon=True))
    for thread in threads:
        thread.start()

    stopped: int | None = None  # CANCELLED or TIMED_OUT once we have begun stopping it
    kill_at: float | None = None  # when SIGTERM's grace runs out
    exited_at: float | None = None  # when the leader exited (or was killed)
    eof = False
    try:
        while True:
            now = time.monotonic()
            if stopped is None:
                stopped = _stop_reason(cancel, deadline)
                if stopped is not None:
                    log.debug("stopping (%s): %s", stopped, cmd)
                    _signal_group(proc, signal.SIGTERM)
                    kill_at = now + grace
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if kill_at is not None and now >= kill_at:
                _signal_group(proc, signal.SIGKILL)  # the leader and anything it left behind
                kill_at = None
            if eof and exited_at is not None:
                if kill_at is not None:  # stopped cleanly within the grace period
                    _signal_group(proc, signal.SIGKILL)  # stragglers in the group
                break
            if eof:
                _wait_quietly(proc, 0.1)
                continue
            try:
                line = lines.get(timeout=0.1)
            except queue.Empty:
                # The leader is gone but a background job still holds the pipe: after a
                # grace period, kill what is left of the group and stop listening.
                if exited_at is not None and now - exited_at > grace:
                    _signal_group(proc, signal.SIGKILL)
                    break
                continue
            if line is None:
                eof = True
            else:
                on_line(line)
    except BaseException:
        _signal_group(proc, signal.SIGKILL)
        raise
    finally:
        proc.wait()
        if not threads[0].is_alive():
            output.close()
    return stopped if stopped is not None else proc.returncode


def start(cmd: Command, *, log_path: str) -> subprocess.Popen:
    """Start a long-lived process (a registry, HAProxy) in its own session with its output
    appended to `log_path`, and return at once. Stop it with `terminate`.

        registry = Command(["docker-registry", "serve", "r.yml"])
        proc = start(registry, log_path="r.log")
    """
    log.debug("$ %s (background, log %s)", cmd.display(), log_path)
    # 0600: a service's log may quote what it was given (the data directory is private too).
    with os.fdopen(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as out:
        return _spawn(cmd, stdout=out, stderr=subprocess.STDOUT)


def terminate(proc: subprocess.Popen, grace: float = DEFAULT_KILL_GRACE) -> int:
    """SIGTERM the process group of a `start`ed process, SIGKILL after `grace`; its exit code."""
    _signal_group(proc, signal.SIGTERM)
    if not _wait_quietly(proc, grace):
        _signal_group(proc, signal.SIGKILL)
    proc.wait()
    return proc.returncode


def stop_pid(pid: int, grace: float = DEFAULT_KILL_GRACE, poll: float = 0.05) -> None:
    """Stop a process we did not start (or no longer hold a Popen for) and its process group:
    SIGTERM, SIGKILL after `grace`. Returns once it is gone (or a zombie for its parent)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
        deadline = time.monotonic() + grace
        while _exists(pid) and time.monotonic() < deadline:
            time.sleep(poll)
        if not _exists(pid):
            return


def _exists(pid: int) -> bool:
    try:  # our own child: collect it
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[-1][:1] != "Z"
    except OSError:
        return False


def _stop_reason(cancel: threading.Event | None, deadline: float | None) -> int | None:
    if cancel is not None and cancel.is_set():
        return CANCELLED
    if deadline is not None and time.monotonic() >= deadline:
        return TIMED_OUT
    return None


def _dry(dry_run: bool | None) -> bool:
    return DRY_RUN if dry_run is None else dry_run


def _spawn(cmd: Command, **pipes) -> subprocess.Popen:
    env = {**os.environ, **cmd.env} if cmd.env else None
    stdin = subprocess.PIPE if cmd.input is not None else subprocess.DEVNULL
    try:
        return subprocess.Popen(cmd.argv, env=env, cwd=cmd.cwd, stdin=stdin,
                                start_new_session=True, **pipes)
    except FileNotFoundError as exc:
        if cmd.cwd and not os.path.isdir(cmd.cwd):
            raise ConveyorError(f"`{cmd}`: working directory {cmd.cwd} does not exist") from exc
        raise CommandNotFound(cmd) from exc
    except PermissionError as exc:
        raise ConveyorError(f"`{cmd}`: {cmd.argv[0]} is not executable",
                            hint=f"check the permissions of {cmd.argv[0]}") from exc


def _pump(pipe, lines: queue.Queue) -> None:
    try:
        read_lines(pipe, lines.put)
    except (OSError, ValueError):  # pipe closed under us after a kill
        pass
    finally:
        lines.put(None)


def _feed(pipe, data: bytes) -> None:
    try:
        pipe.write(data)
        pipe.close()
    except (BrokenPipeError, OSError):  # the child exited without reading all of it
        pass


def _reap(proc: subprocess.Popen) -> None:
    """Collect a killed process; don't hang on a pipe held open by an escaped grandchild."""
    try:
        proc.communicate(timeout=DEFAULT_KILL_GRACE)
    except (subprocess.TimeoutExpired, ValueError):
        pass
    proc.wait()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_quietly(proc: subprocess.Popen, seconds: float) -> bool:
    try:
        proc.wait(timeout=seconds)
        return True
    except subprocess.TimeoutExpired:
        return False


def _text(data: bytes | None) -> str:
    return data.decode("utf-8", errors="replace") if data else ""
