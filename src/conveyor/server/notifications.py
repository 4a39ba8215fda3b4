"""The notifier as the daemon builds it: rules from the engine's store (each registered
pipeline's latest execution keeps its governing definition), deliveries in
home/notifications.db, targets built by conveyor.notify.targets with the daemon's secret store,
and everything stored or answered passed through the secret masker.

    notifier = daemon_notifier(root, service.store, events, service.secrets)
    notifier.start() ... notifier.stop()
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conveyor.config.notification_targets import TargetDef
from conveyor.notify.backoff import DEFAULT_POLICY, RetryPolicy
from conveyor.notify.dispatcher import EventSource
from conveyor.notify.notifier import Notifier
from conveyor.notify.rules import RuleBook
from conveyor.notify.store import DeliveryStore
from conveyor.notify.target import Target
from conveyor.notify.targets import build_target
from conveyor.secrets.masking import default_masker
from conveyor.secrets.store import SecretStore
from conveyor.store.db import Store

log = logging.getLogger("conveyor.notify")

DB_NAME = "notifications.db"
#: The longest wait between two attempts, in seconds (default RetryPolicy.cap): a demo or a test
#: that takes its receiver down for a few seconds sets it low to see the retries land soon.
BACKOFF_CAP_ENV = "CONVEYOR_NOTIFY_BACKOFF_CAP"


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

    return Notifier(DeliveryStore(root / DB_NAME), events, rule_book(store), build, policy=retry_policy(),
                    mask=default_masker().mask)


def retry_policy() -> RetryPolicy:
    raw = os.environ.get(BACKOFF_CAP_ENV, "").strip()
    try:
        cap = float(raw) if raw else DEFAULT_POLICY.cap
    except ValueError:
        log.warning("%s=%r is not a number of seconds: using %gs", BACKOFF_CAP_ENV, raw, DEFAULT_POLICY.cap)
        cap = DEFAULT_POLICY.cap
    cap = max(0.1, cap)
    return dataclasses.replace(DEFAULT_POLICY, cap=cap, base=min(DEFAULT_POLICY.base, cap))
