"""The contract between the engine and an action provider.

The engine resolves variables, hands the provider read-only input artifacts and a log, and
stores whatever the provider returns (output directories become immutable artifacts). A provider
raises ActionFailed with a message the user can act on; anything else is reported as an
internal error.

    class Wait:
        def run(self, ctx: ActionContext) -> ActionResult:
            ctx.cancel.wait(ctx.configuration["seconds"])
            return ActionResult(summary="waited")
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from conveyor.config.model import ActionDef


class ActionFailed(Exception):
    def __init__(self, message: str, details: dict | None = None):
        super().__init__(message)
        self.details = details or {}  # stored with the failure (e.g. test report summaries)


@dataclass
class ActionContext:
    execution_id: str
    pipeline: str
    stage: str
    action: ActionDef
    attempt: int
    configuration: dict[str, Any]  # variables resolved
    inputs: dict[str, Path]  # artifact name -> read-only directory, primary first
    run_dir: Path  # scratch space for this attempt, kept for inspection
    log: Callable[[str], None]
    cancel: threading.Event
    timeout: float  # seconds
    revision: dict[str, Any] | None = None  # Git sources: {repository, branch, commit}
    new_output: Callable[[], Path] = field(default=lambda: Path())  # a staging dir for an output artifact
    mirrors: Any = None
    home: Path | None = None  # the data directory (secrets, engine socket)
    releases: Any = None  # conveyor.release.service.ReleaseService, for deploy actions
    registry: Any = None  # conveyor.backend.interface.ImageRegistry builds log in to (GetAuthorizationToken)
    definition: Any = None  # the execution's PipelineDef (environments for deploy actions)
    #: Stable across a re-run after a crash (the interrupted attempt's key), new on a retry: what
    #: an action creates outside the engine carries it, so a re-run adopts instead of creating.
    idempotency_key: str = ""

    @property
    def primary_input(self) -> Path | None:
        primary = self.configuration.get("primarySource")
        if primary and primary in self.inputs:
            return self.inputs[primary]
        return next(iter(self.inputs.values()), None)


@dataclass
class ActionResult:
    outputs: dict[str, Path] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    details: dict[str, Any] = field(default_factory=dict)  # stored with the result (e.g. "reports")


class ActionRunner(Protocol):
    def run(self, ctx: ActionContext) -> ActionResult: ...

    def cleanup(self, run_dir: Path) -> None:
        """Stop whatever an interrupted attempt left running (called after a daemon crash)."""


class EngineUser:
    """For providers that run containers: the engine is detected on first use (podman, or a
    running Docker engine), so importing a provider never runs a command."""

    def __init__(self, engine: Any = None):
        self._engine = engine

    @property
    def engine(self) -> Any:
        if self._engine is None:
            from conveyor.providers.local.containers import detect_engine

            self._engine = detect_engine()
        return self._engine


def writable_copy(source: Path, dest: Path) -> Path:
    """A fresh, writable copy of a (read-only, content-addressed) input artifact."""
    import os
    import shutil

    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest, symlinks=True)
    for dirpath, _dirs, files in os.walk(dest):
        os.chmod(dirpath, 0o755)
        for name in files:
            full = os.path.join(dirpath, name)
            if not os.path.islink(full):
                os.chmod(full, os.lstat(full).st_mode | 0o200)
    return dest
