"""The command target: run a program on this machine with the event on its standard input, for
whatever the other targets do not cover (a pager, a chat tool's CLI, a log shipper).

    CommandTarget({"argv": ["/usr/local/bin/page-oncall", "--team", "web"], "timeoutSeconds": 30})

The argv is run as given, never through a shell. Standard input: the event JSON (the same body as
the webhook's `format: conveyor`), then end of file. Environment: only PATH, HOME,
CONVEYOR_EVENT_TYPE and CONVEYOR_DELIVERY_ID (the daemon's own environment may hold credentials;
a command that needs one reads it itself). The program runs in its own process group, and the
whole group is killed when the timeout passes (a descendant that left the group with setsid is out
of reach: the target then stops waiting for output KILL_GRACE_SECONDS after the kill).

Outcome: exit 0 delivered; not found, not executable, or exit 126/127 (the shells' "cannot
execute"/"not found"): give up; another exit status, a signal or the timeout: try again. The
receipt quotes the end of the output (stdout and stderr together), cut to OUTPUT_LIMIT characters
and masked.

Commands run with the daemon's user's rights, which is why a rule may use one only when conveyor.yml
says `allowHostCommands: true` (checked by the rule parser, and again by build_target).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any, Mapping

from conveyor.notify.target import DeliveryError, Message, event_payload
from conveyor.notify.targets.credentials import Credentials

OUTPUT_LIMIT = 500
MAX_OUTPUT_BYTES = 1024 * 1024    # decoded for the receipt at most (communicate() holds all output)
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
GIVE_UP_STATUSES = (126, 127)
KILL_GRACE_SECONDS = 5.0          # after the kill, how long to collect the output that is left


def environment(message: Message) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", DEFAULT_PATH), "HOME": os.environ.get("HOME", str(Path.home())),
            "CONVEYOR_EVENT_TYPE": message.event.type, "CONVEYOR_DELIVERY_ID": message.delivery_id}


class CommandTarget:
    kind = "command"

    def __init__(self, spec: Mapping[str, Any], credentials: Credentials):
        self.spec = spec
        self.credentials = credentials

    def send(self, message: Message) -> str:
        argv = list(self.spec["argv"])
        timeout = float(self.spec["timeoutSeconds"])
        data = json.dumps(event_payload(message), sort_keys=True).encode() + b"\n"
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    env=environment(message), start_new_session=True, close_fds=True)
        except FileNotFoundError:
            raise DeliveryError(f"command not found: {argv[0]}", retry=False) from None
        except PermissionError:
            raise DeliveryError(f"command not executable: {argv[0]}", retry=False) from None
        except OSError as exc:
            raise DeliveryError(f"cannot start {argv[0]}: {exc.strerror or type(exc).__name__}", retry=False) from None
        try:
            output, _ = proc.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            output = _leftover(proc)
            raise DeliveryError(self._said(f"{argv[0]} killed after {timeout:g}s", output), retry=True) from None
        except BaseException:
            _kill_group(proc)
            proc.wait()
            raise
        status = proc.returncode
        if status == 0:
            return self._said(f"{argv[0]} exited 0", output)
        if status < 0:
            name = signal.Signals(-status).name if -status in signal.valid_signals() else str(-status)
            raise DeliveryError(self._said(f"{argv[0]} killed by {name}", output), retry=True)
        what = {126: " (cannot execute)", 127: " (not found)"}.get(status, "")
        raise DeliveryError(self._said(f"{argv[0]} exited {status}{what}", output),
                            retry=status not in GIVE_UP_STATUSES)

    def _said(self, head: str, output: bytes) -> str:
        text = output[:MAX_OUTPUT_BYTES].decode("utf-8", "replace").strip()
        if len(text) > OUTPUT_LIMIT:
            text = "…" + text[-(OUTPUT_LIMIT - 1):]
        return self.credentials.mask(f"{head}: {text}" if text else head)


def _leftover(proc: subprocess.Popen[bytes]) -> bytes:
    """What the killed program wrote, without waiting on a descendant that left the process group
    (setsid) and still holds the output pipe open."""
    try:
        output, _ = proc.communicate(timeout=KILL_GRACE_SECONDS)
        return output
    except subprocess.TimeoutExpired:
        if proc.stdout:
            proc.stdout.close()
        proc.wait()
        return b"(output not collected: a process the command started outlived it)"


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
