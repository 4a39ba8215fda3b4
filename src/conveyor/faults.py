"""Crash points: named places where a test (or bench/chaos.py) can make the daemon die as if
killed, to prove that what it was doing survives. A crash point does nothing unless the
environment variable CONVEYOR_CRASH_AT names it; then the process SIGKILLs itself there (no
cleanup, no flush: exactly a `kill -9` at that instant).

    crash_point("release.created")      # after a backend created a deployment, before it is recorded

Named points (grep for crash_point to find them):
    release.intended    the idempotency key is recorded, the backend not yet called
    release.created     the backend created the deployment, the key's record does not say so yet
"""

from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger("conveyor.faults")

ENV = "CONVEYOR_CRASH_AT"


def crash_point(name: str) -> None:
    if os.environ.get(ENV) == name:
        log.warning("crash point %s: killing this process (%s=%s)", name, ENV, name)
        os.kill(os.getpid(), signal.SIGKILL)
