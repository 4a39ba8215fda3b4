"""What every `conveyor setup` step shares: how a step reports (Echo, SetupFailed with its
fix) and how it runs its commands (a failure becomes one ✗ line naming the command)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

from conveyor.errors import ConveyorError
from conveyor.providers.local import process
from conveyor.providers.local.process import Command, run
from conveyor.stack import components as c

Echo = Callable[[str], None]

#: What a failed mmdebstrap most likely needs (it downloads Debian's packages).
MMDEBSTRAP_FIX = "check that deb.debian.org is reachable (apt-get update), then `conveyor setup`"


class SetupFailed(ConveyorError):
    """A step failed; the message and hint are already the one line to show."""


def run_step(cmd: Command, what: str, dry_run: bool, hint: str | None = None) -> None:
    try:
        run(cmd, dry_run=dry_run)
    except process.CommandFailed as exc:
        raise SetupFailed(f"{what} failed ({exc.returncode}): {exc.stderr_tail}",
                          hint=hint or f"run `{cmd}` to see the whole error") from exc


def apt_update() -> Command:
    return Command(["apt-get", "update"], env=c.APT_ENV, timeout=c.APT_TIMEOUT)


def try_step(cmd: Command, dry_run: bool) -> process.Completed:
    """Run a command whose failure is an expected outcome (a pull with no registry)."""
    try:
        return run(cmd, check=False, dry_run=dry_run)
    except ConveyorError as exc:  # timed out
        return process.Completed(1, "", str(exc), 0.0)


def big_tmp() -> str:
    """/var/tmp is on disk where /tmp may be a small tmpfs; a rootfs tar is 200–400 MB."""
    return "/var/tmp" if os.path.isdir("/var/tmp") else tempfile.gettempdir()
