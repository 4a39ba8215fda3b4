"""The build's log lines, in CodeBuild's format (build.environment.log_line), stamped by the
build's clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from conveyor.build import environment as E


class BuildLog:
    def __init__(self, on_line: Callable[[str], None], clock: Callable[[], datetime]):
        self.on_line, self.clock = on_line, clock

    def line(self, kind: str, **fields: object) -> None:
        self.on_line(E.log_line(kind, self.clock(), **fields))

    def raw(self, text: str) -> None:
        self.on_line(text)
