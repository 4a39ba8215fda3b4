"""Masking output that arrives in pieces: a line longer than a reader's chunk (64 KiB) comes as
several parts, and a secret may straddle two of them.

    sink = MaskedLines(log_file_writer, masker)
    sink.part("...first 64 KiB, ending in hunt")    # nothing written yet past a safe point
    sink.line("er2-s3cret and the rest")             # writes '...***' pieces; no part of the value
    sink.close()                                     # writes whatever is still held back

How: of a line still coming, everything but its last `masker.longest - 1` characters is written
at once (masked); that tail is held until the next part, so any value that starts in it is seen
whole. A value that starts before the tail ends inside the text already there, so the cut never
has to wait for it; when the cut would fall inside a masked run, it moves to the run's start.
Output is delayed only within a line: a line end, or `close`, writes everything.

Each write is one line of the log (a part that is written early becomes a line of its own, as the
parts of an over-long line always were).
"""

from __future__ import annotations

import io
import sys
import threading
from typing import Callable, TextIO

from conveyor.secrets.masking import Masker, default_masker, masked


class MaskedLines:
    """Masks lines, and parts of a line, on their way to `write`. Thread-safe."""

    def __init__(self, write: Callable[[str], None], masker: Masker | None = None):
        self.write = write
        self.masker = masker if masker is not None else default_masker()
        self._held = ""  # the start of a line whose parts are still coming
        self._lock = threading.Lock()

    def line(self, text: str) -> None:
        """`text` ends a line (without its newline)."""
        with self._lock:
            text, self._held = self._held + text, ""
            self.write(self.masker.mask(text))

    def part(self, text: str) -> None:
        """`text` is part of a line that goes on in the next call."""
        with self._lock:
            text = self._held + text
            runs = self.masker.runs(text)
            cut = safe_cut(len(text), runs, self.masker.longest)
            if cut > 0:
                self.write(masked(text[:cut], [run for run in runs if run[1] <= cut]))
            self._held = text[cut:]

    def close(self) -> None:
        """Write what is held back (the output ended inside a line)."""
        with self._lock:
            text, self._held = self._held, ""
            if text:
                self.write(self.masker.mask(text))


class MaskingTextStream(io.TextIOBase):
    """A text stream (a process's stderr) that masks what is written to it, line by line, before
    passing it on: Python-level writes that no logging filter sees, such as the traceback
    `threading.excepthook` prints for a thread that died. Output of child processes that inherit
    the file descriptor itself is not seen."""

    def __init__(self, target: TextIO, masker: Masker | None = None):
        super().__init__()
        self.target = target
        self._lines = MaskedLines(self._pass_on, masker)
        self._pending = ""
        self._lock = threading.Lock()

    def _pass_on(self, line: str) -> None:
        self.target.write(line + "\n")

    def write(self, text: str) -> int:
        with self._lock:
            *whole, self._pending = (self._pending + text).split("\n")
            for line in whole:
                self._lines.line(line)
            if len(self._pending) >= 64 * 1024:  # no newline in sight: pass it on in parts
                self._lines.part(self._pending)
                self._pending = ""
            self.target.flush()
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._pending:  # a prompt or progress without a newline: shown now, masked alone
                self.target.write(self._lines.masker.mask(self._pending))
                self._pending = ""
            self.target.flush()

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.target.fileno()


def mask_stderr(masker: Masker | None = None) -> None:
    """Route this process's sys.stderr through masking. Call it first thing in the daemon, before
    logging (or a server) takes a reference to sys.stderr."""
    if not isinstance(sys.stderr, MaskingTextStream):
        sys.stderr = MaskingTextStream(sys.stderr, masker)


def safe_cut(size: int, runs: list[tuple[int, int]], longest: int) -> int:
    """How much of a text of `size` characters, with masked `runs`, can be written before more of
    its line arrives: all but the last `longest - 1` characters, less a run that reaches past.

    >>> safe_cut(100, [], 28), safe_cut(100, [(60, 80)], 28), safe_cut(100, [(10, 20)], 28)
    (73, 60, 73)
    """
    cut = size - max(longest - 1, 0)
    if cut <= 0:
        return 0
    for start, end in runs:
        if start < cut < end:
            return start
    return cut
