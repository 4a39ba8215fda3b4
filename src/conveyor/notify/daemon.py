"""The notifier as the daemon builds it: rules from the engine's store (each registered
pipeline's latest execution keeps its governing definition), deliveries in
home/notifications.db, targets built by conveyor.notify.targets with the daemon's secret store,
and everything stored or answered passed through the secret masker.

    notifier = daemon_notifier(root, service.store, events, service.secrets)
    notifier.start() ... notifier.stop()
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conveyor.config.notification_targets import TargetDef
from conveyor.notify.dispatcher import EventSource
from conveyor.notify.notifier import Notifier
from conveyor.notify.rules import RuleBook
from conveyor.notify.store import DeliveryStore
from conveyor.notify.target import Target
from conveyor.notify.targets import build_target
from conveyor.secrets.masking import default_masker
from conveyor.secrets.store import SecretStore
from conveyor.store.db import Store

DB_NAME = "notifications.db"


def rule_book(store: Store) -> RuleBook:
    """Rules from each registered pipeline's latest execution (its governing definition, never the
    file of an unprotected branch)."""

    def latest(pipeline: str) -> Mapping[str, Any] | None:
        rows = store.executions(pipeline, limit=1)
        return rows[0].definition if rows else None

    def every() -> list[tuple[str, Mapping[str, Any]]]:
        found = []
        for reg in store.pipelines():
            definition = latest(reg["name"])
            if definition is not None:
                found.append((reg["name"], definition))
        return found

    return RuleBook(every, latest)


def daemon_notifier(root: Path, store: Store, events: EventSource, secrets: SecretStore) -> Notifier:
    def build(target: TargetDef, allow_host_commands: bool) -> Target:
        return build_target(target, secrets.resolve_reference, allow_host_commands=allow_host_commands)

    return Notifier(DeliveryStore(root / DB_NAME), events, rule_book(store), build, mask=default_masker().mask)
