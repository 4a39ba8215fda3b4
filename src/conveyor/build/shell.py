"""One shell instance for a whole build, as CodeBuild 0.2 runs commands (aws-semantics §1.5):
`cd` and `export` in one command are still in effect in the next command and the next phase.

    with ShellSession(["sh"], on_line=print) as sh:       # or ["podman", "run", "-i", …, "sh"]
        sh.run("cd app && export MODE=test")
        sh.run('echo "$MODE in $(pwd)"')                  # -> "test in …/app", returns 0
        sh.variables(["MODE"])                            # -> {"MODE": "test"}

How: the shell runs a small POSIX loop that reads each command from a private file descriptor
(the commands' own stdin is /dev/null, so a command that reads stdin cannot eat the next one),
checks its syntax with `SHELL -n` (a syntax error fails the command instead of killing the
shell), evals it in the shell itself, and prints an end marker with the exit status. The marker
carries a random token, so command output cannot forge it. stderr is merged into stdout inside
the shell, so the two keep their order. A command that exits the shell (`exit 3`) ends the
session: run() returns the shell's exit status and `alive` turns False; `snapshot()` taken
before lets a caller start a new session in the same state.
"""

from __future__ import annotations

import os
import queue
import secrets
import signal
import subprocess
import threading
import time
from typing import Callable, Iterable

from conveyor.errors import ConveyorError
from conveyor.providers.local.process import LinePart, read_lines

#: Returned by run() when the command was stopped by its timeout or by cancel.
TIMED_OUT = -1000
CANCELLED = -1001
KILL_GRACE = 5.0

_LOOP = r"""
exec 3<&0 0</dev/null 2>&1
__cv_cmd=
while IFS= read -r __cv_line <&3; do
  case "$__cv_line" in
    "__CV_END_@T@")
      if "$0" -n -c "$__cv_cmd"; then eval "$__cv_cmd"; __cv_rc=$?; else __cv_rc=2; fi
      printf '\n__CV_DONE_@T@ %s\n' "$__cv_rc"
      __cv_cmd= ;;
    "__CV_VARS_@T@ "*)
      for __cv_name in ${__cv_line#* }; do
        eval "__cv_set=\${$__cv_name+x}"
        if [ -n "$__cv_set" ]; then
          printf '__CV_VAR_@T@ %s\n' "$__cv_name"; eval "printf '%s\n' \"\$$__cv_name\""
        fi
      done
      printf '__CV_DONE_@T@ 0\n' ;;
    "__CV_STATE_@T@")
      printf '__CV_PWD_@T@ %s\n' "$(pwd)"; export -p
      printf '__CV_DONE_@T@ 0\n' ;;
    *) __cv_cmd="$__cv_cmd$__cv_line
" ;;
  esac
done
"""


def join_lines(lines: Iterable[str]) -> str:
    """Lines back into text: a LinePart goes on in the next piece, with no newline between."""
    out: list[str] = []
    for line in lines:
        out += [line, "" if isinstance(line, LinePart) else "\n"]
    return "".join(out[:-1])


class ShellGone(ConveyorError):
    pass


class ShellSession:
    def __init__(self, shell_argv: list[str], on_line: Callable[[str], None], *, env: dict[str, str] | None = None,
                 cwd: str | None = None, stopper: Callable[[], None] | None = None):
        """`shell_argv` starts the shell (its last item is the shell binary: `sh`, `bash`, or a
        container engine's `run -i … IMAGE sh`); the session appends `-c LOOP SHELL`."""
        self.token = secrets.token_hex(8)
        self.on_line = on_line
        self._argv = [*shell_argv, "-c", _LOOP.replace("@T@", self.token), shell_argv[-1]]
        self._env = env
        self._cwd = cwd
        self._stopper = stopper  # stops what the shell runs in (a container), before any signal
        self._proc: subprocess.Popen | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._done = f"__CV_DONE_{self.token} "
        self.exit_status: int | None = None
        #: True once a timeout or cancel stopped it: the process was signalled, so any cleanup it
        #: owed on a normal exit (`run --rm` removing its container) may not have happened.
        self.stopped = False

    # -- lifecycle
    def __enter__(self) -> "ShellSession":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        self._proc = subprocess.Popen(self._argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, env=self._env, cwd=self._cwd,
                                      start_new_session=True)
        threading.Thread(target=self._pump, daemon=True, name="shell-reader").start()

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None and self.exit_status is None

    def close(self, grace: float = KILL_GRACE) -> bool:
        """End the session; False when it had to be killed (whatever cleanup its process owed,
        such as `run --rm` removing its container, did not happen)."""
        proc = self._proc
        if proc is None:
            return True
        try:
            if proc.stdin and not proc.stdin.closed:
                proc.stdin.close()  # the loop reads EOF and the shell exits
        except OSError:
            pass
        try:
            proc.wait(grace)
            return True
        except subprocess.TimeoutExpired:
            self._kill(signal.SIGKILL)
            proc.wait()
            return False

    # -- commands
    def run(self, command: str, *, timeout: float | None = None, cancel: threading.Event | None = None) -> int:
        """Run one command in the session; output goes to on_line; returns its exit status."""
        self._send(command.rstrip("\n") + f"\n__CV_END_{self.token}\n")
        return self._wait(timeout, cancel)

    def variables(self, names: list[str]) -> dict[str, str]:
        """The current values of `names` in the session (unset names are left out)."""
        safe = [n for n in names if n.replace("_", "a").isalnum() and not n[:1].isdigit()]
        captured: list[str] = []
        self._send(f"__CV_VARS_{self.token} {' '.join(safe)}\n")
        self._wait(30, None, sink=captured.append)
        name = None
        marker = f"__CV_VAR_{self.token} "
        values: dict[str, list[str]] = {}
        for line in captured:
            if line.startswith(marker):
                name = line[len(marker):]
                values[name] = []
            elif name is not None:
                values[name].append(line)
        return {name: join_lines(lines) for name, lines in values.items()}

    def snapshot(self) -> tuple[str, str]:
        """(pwd, `export -p` text): enough to rebuild this shell's state in a new one."""
        captured: list[str] = []
        self._send(f"__CV_STATE_{self.token}\n")
        self._wait(30, None, sink=captured.append)
        marker = f"__CV_PWD_{self.token} "
        pwd = next((line[len(marker):] for line in captured if line.startswith(marker)), "")
        return pwd, join_lines(line for line in captured if not line.startswith(marker))

    def _send(self, text: str) -> None:
        if not self.alive or self._proc is None or self._proc.stdin is None:
            raise ShellGone(f"the build shell has exited (status {self.exit_status})")
        try:
            self._proc.stdin.write(text.encode())
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise ShellGone("the build shell has exited") from None

    def _wait(self, timeout: float | None, cancel: threading.Event | None,
              sink: Callable[[str], None] | None = None) -> int:
        emit = sink or self.on_line
        deadline = None if timeout is None else time.monotonic() + timeout
        pending_blank = False  # the marker starts with a newline of ours: drop the blank it makes
        after_part = False
        while True:
            if cancel is not None and cancel.is_set():
                self._stop()
                return CANCELLED
            if deadline is not None and time.monotonic() >= deadline:
                self._stop()
                return TIMED_OUT
            try:
                line = self._lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:  # the shell is gone: a command ran `exit`, or it was killed
                if pending_blank:
                    emit("")
                assert self._proc is not None
                self.exit_status = self._proc.wait()
                return self.exit_status
            if line.startswith(self._done):
                return int(line[len(self._done):] or 1)
            if pending_blank:
                emit("")
                pending_blank = False
            if line == "" and not after_part:
                pending_blank = True
            else:
                emit(line)  # "" right after a LinePart ends that line (64 KiB-aligned output)
            after_part = isinstance(line, LinePart)

    def _stop(self) -> None:
        self.stopped = True
        if self._stopper is not None:
            try:
                self._stopper()
            except Exception:  # fall back to signals
                pass
        self._kill(signal.SIGTERM)
        assert self._proc is not None
        try:
            self._proc.wait(KILL_GRACE)
        except subprocess.TimeoutExpired:
            self._kill(signal.SIGKILL)
            self._proc.wait()
        self.exit_status = self._proc.returncode

    def _kill(self, sig: int) -> None:
        if self._proc is not None:
            try:
                os.killpg(self._proc.pid, sig)
            except ProcessLookupError:
                pass

    def _pump(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        try:
            read_lines(self._proc.stdout, self._lines.put)  # over-long lines come in LineParts
        except (OSError, ValueError):
            pass
        finally:
            self._lines.put(None)
