"""Registered task definition revisions, parsed once: revisions are immutable (`family:3` never
changes), so the parsed form is kept for the daemon's life.

    taskdefs = TaskDefinitions(store)
    taskdefs.get("orders:3").essential_containers()
"""

from __future__ import annotations

import threading
from typing import Any

from conveyor.config.taskdef import TaskDefinition, parse_taskdef
from conveyor.providers.local.ecs.store import EcsStore


class TaskDefinitions:
    def __init__(self, store: EcsStore):
        self._store = store
        self._parsed: dict[str, TaskDefinition] = {}
        self._lock = threading.Lock()

    def register(self, body: dict[str, Any]) -> str:
        """RegisterTaskDefinition: `family:N` (the latest revision again if nothing changed)."""
        name, _ = self._store.register_taskdef(str(body["family"]), body)
        with self._lock:
            self._parsed.pop(name, None)
        return name

    def get(self, name: str | None) -> TaskDefinition | None:
        """The parsed revision; None if unknown or unparsable."""
        if not name:
            return None
        with self._lock:
            known = self._parsed.get(name)
        if known is not None:
            return known
        body = self._store.taskdef(name)
        if body is None:
            return None
        td, _ = parse_taskdef(body, name)
        if td is None:
            return None
        with self._lock:
            self._parsed[name] = td
        return td
