"""Conveyor's exception tree. Every error a user can cause is one of these; the CLI turns them
into one-line messages and an exit code (PRODUCT.md: 1 failed, 2 bad input, 3 daemon unreachable).

    ConveyorError                 exit 1
    ├── UserError                 exit 2  (bad usage or bad input; message says what to do next)
    │   ├── ConfigError           one or more Diagnostics (file:line:col key.path: message)
    │   └── NotFound              an unknown execution, pipeline, action…
    ├── Conflict                  exit 2  (a request that the current state does not allow)
    └── DaemonUnreachable         exit 3
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem in one file, at a position, under a key path.

    >>> str(Diagnostic("conveyor.yml", 14, 9, "pipeline.stages[1]", "unknown stage"))
    'conveyor.yml:14:9 pipeline.stages[1]: unknown stage'
    """

    file: str
    line: int
    column: int
    path: str
    message: str
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        head = f"{where} {self.path}:" if self.path else f"{where}:"
        tag = "warning: " if self.severity == "warning" else ""
        return f"{head} {tag}{self.message}"

    def to_json(self) -> dict:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
            "severity": self.severity,
        }


class ConveyorError(Exception):
    exit_code = 1
    hint: str | None = None

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class UserError(ConveyorError):
    exit_code = 2


class ConfigError(UserError):
    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = sorted(diagnostics)
        errors = [d for d in self.diagnostics if d.severity == "error"]
        super().__init__("\n".join(str(d) for d in self.diagnostics) or "invalid configuration")
        self.error_count = len(errors)


class NotFound(UserError):
    pass


class Conflict(ConveyorError):
    exit_code = 2


class DaemonUnreachable(ConveyorError):
    exit_code = 3
    hint = "start it with `conveyor up`"
