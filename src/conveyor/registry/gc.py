"""Blob garbage collection of the local registry, safe against pushes.

distribution's `garbage-collect` marks every blob a manifest references and sweeps the rest; its
documentation warns that a push during the sweep can lose blobs (a layer uploaded but not yet
referenced by its manifest looks like garbage). So the collection runs only when the registry is
idle, and writes are refused while it runs:

- the proxy counts writes in flight and remembers when the last one ended (`WriteGate`);
- `collect` closes the gate only when no write is in flight AND none ended within `quiet`
  seconds (a push is a burst of requests: a gap that long means no push is between its layers
  and its manifest); otherwise it skips this round and says why;
- while closed, a write gets 503 UNAVAILABLE with Retry-After (podman and docker retry or report
  a retryable error; nothing half-written is swept);
- reads are never held.

    gate = WriteGate()                 # proxy.gate = gate
    result = GarbageCollector(service).collect(gate, quiet=30)
    result.freed                       # bytes, from the storage root's size before and after
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from conveyor.providers.local import process
from conveyor.providers.local.process import Command

#: No write may have ended this recently when a collection starts (seconds).
DEFAULT_QUIET = 30.0
#: What a refused write is told to wait (seconds): a collection takes about a second here.
RETRY_AFTER = 5
GC_TIMEOUT = 600.0
#: Where distribution's filesystem driver keeps blobs, under the storage root.
BLOBS = "docker/registry/v2/blobs"


class WriteGate:
    """Counts writes through the proxy; closed while a collection runs."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._lock = threading.Lock()
        self._active = 0
        self._last_end: float | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def active(self) -> int:
        """Writes in flight now."""
        with self._lock:
            return self._active

    def enter(self) -> bool:
        """A write starts; False (refuse it) while a collection runs."""
        with self._lock:
            if self._closed:
                return False
            self._active += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._active -= 1
            self._last_end = self.clock()

    def close_if_idle(self, quiet: float) -> str | None:
        """Close the gate and return None; or why not (a write in flight, or one that ended less
        than `quiet` seconds ago)."""
        with self._lock:
            if self._active:
                return f"{self._active} write(s) in flight"
            if self._last_end is not None and self.clock() - self._last_end < quiet:
                return f"a write ended {self.clock() - self._last_end:.0f} s ago (less than {quiet:g} s)"
            self._closed = True
            return None

    def open(self) -> None:
        with self._lock:
            self._closed = False


@dataclass(frozen=True)
class GcResult:
    ran: bool
    before: int
    after: int
    skipped: str = ""
    error: str = ""

    @property
    def freed(self) -> int:
        return max(0, self.before - self.after) if self.ran else 0

    def to_json(self) -> dict:
        return {"ran": self.ran, "bytesBefore": self.before, "bytesAfter": self.after,
                "bytesFreed": self.freed, "skipped": self.skipped, "error": self.error}


def disk_usage(root: Path) -> int:
    """Bytes the files under `root` occupy (allocated blocks, as `du` counts them)."""
    total = 0
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                continue
    return total


class GarbageCollector:
    def __init__(self, config_path: Path, data_dir: Path, binary: str = "docker-registry",
                 run: Callable[[Command], process.Completed] | None = None):
        self.config_path, self.data_dir, self.binary = Path(config_path), Path(data_dir), binary
        self._run = run or (lambda cmd: process.run(cmd, check=False))

    def command(self) -> Command:
        # no --delete-untagged: the lifecycle deletes manifests itself, and distribution 2.8's
        # flag also sweeps the untagged children of a tagged image index
        return Command([self.binary, "garbage-collect", str(self.config_path)], timeout=GC_TIMEOUT)

    def collect(self, gate: WriteGate, quiet: float = DEFAULT_QUIET) -> GcResult:
        before = disk_usage(self.data_dir)
        if not (self.data_dir / BLOBS).is_dir():  # garbage-collect fails on a registry never pushed to
            return GcResult(False, before, before, skipped="no blobs stored yet")
        why = gate.close_if_idle(quiet)
        if why is not None:
            return GcResult(False, before, before, skipped=f"registry busy: {why}; next run collects")
        try:
            done = self._run(self.command())
        finally:
            gate.open()
        after = disk_usage(self.data_dir)
        error = "" if done.ok else process.tail(done.stderr or done.stdout, 3)
        return GcResult(done.ok, before, after, error=error)
