"""The deploy controller's control loop: one thread that runs a pass, sleeps (briefly while a
deployment is in flight, longer when idle) or until woken, and records how long each pass took.

    loop = ControlLoop("codedeploy", controller.run_pass)
    loop.start()
    loop.wake()        # something changed: pass now
    loop.stop()
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from conveyor.passes import PassTimer
from conveyor.providers.local.codedeploy import reasons

log = logging.getLogger("conveyor.codedeploy")

#: Seconds between passes while a deployment is in flight...
BUSY_INTERVAL = 0.2
#: ...and while none is.
IDLE_INTERVAL = 1.0
#: How long stop() waits for a pass to finish.
STOP_TIMEOUT = 10.0


class ControlLoop:
    def __init__(self, name: str, run_pass: Callable[[], bool]):
        """`run_pass` returns whether there is work in flight."""
        self._name = name
        self._run_pass = run_pass
        self.passes = PassTimer()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=STOP_TIMEOUT)

    def _loop(self) -> None:
        while not self._stop.is_set():
            busy = False
            started = time.monotonic()
            try:
                busy = self._run_pass()
            except Exception:  # a bug must not stop the control plane; the next pass retries
                log.exception(reasons.LOG_PASS_FAILED)
            self.passes.record(time.monotonic() - started)
            self._wake.wait(BUSY_INTERVAL if busy else IDLE_INTERVAL)
            self._wake.clear()
