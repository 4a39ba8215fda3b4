"""Who did what to a deployment on AWS, when and why. CodeDeploy and ECS keep no such record (a
StopDeployment does not say who asked), so the backend writes each person's action to a journal
and shows its entries in the deployment's history (kind "action"), as the local backend does.

    journal = MemoryJournal()
    journal.record("d-ABCDEF123", "ana", "stop with rollback", "p99 up")
    journal.entries("d-ABCDEF123")[0].message          # 'stop with rollback by ana: p99 up'

MemoryJournal forgets on restart; the release service wires a persistent one (releases.db) with
the same two methods.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from conveyor.backend.types import HistoryEntry
from conveyor.providers.aws.codedeploy_reasons import action_line


class DeploymentJournal(Protocol):
    def record(self, deployment_id: str, who: str, action: str, reason: str) -> None: ...

    def entries(self, deployment_id: str) -> list[HistoryEntry]: ...


class MemoryJournal:
    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._entries: dict[str, list[HistoryEntry]] = {}
        self._lock = threading.Lock()

    def record(self, deployment_id: str, who: str, action: str, reason: str) -> None:
        entry = HistoryEntry(at=self._clock(), kind="action", message=action_line(action, who, reason), who=who)
        with self._lock:
            self._entries.setdefault(deployment_id, []).append(entry)

    def entries(self, deployment_id: str) -> list[HistoryEntry]:
        with self._lock:
            return list(self._entries.get(deployment_id, ()))


class StoredJournal:
    """The journal in a store that keeps actions (conveyor.release.store.ReleaseStore), so the
    who and why of an AWS deployment survive the daemon."""

    def __init__(self, store: ActionStore):
        self._store = store

    def record(self, deployment_id: str, who: str, action: str, reason: str) -> None:
        self._store.record_action(deployment_id, who, action, reason)

    def entries(self, deployment_id: str) -> list[HistoryEntry]:
        return [HistoryEntry(at=a["at"], kind="action", message=action_line(a["action"], a["who"], a["reason"]),
                             who=a["who"]) for a in self._store.actions(deployment_id)]


class ActionStore(Protocol):
    def record_action(self, deployment_id: str, who: str, action: str, reason: str = "") -> None: ...

    def actions(self, deployment_id: str) -> list[dict[str, Any]]: ...
