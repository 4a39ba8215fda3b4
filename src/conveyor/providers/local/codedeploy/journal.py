"""A deployment's history: what happened (events) and who did what, when and why (actions), as
rows of the deployment store, each repeated among its service's events through the task-set API
(what `conveyor service describe` shows) and in the daemon's log.

    journal = Journal(store, task_sets)
    journal.log(d, "AllowTraffic: 10% of production traffic → (target-group production-orders-2).")
    journal.action(d, "ana", "promote", "p99 is fine")
"""

from __future__ import annotations

import logging
from typing import Protocol

from conveyor.providers.local.codedeploy import reasons
from conveyor.providers.local.codedeploy.store import CodeDeployment, DeploymentStore

log = logging.getLogger("conveyor.codedeploy")


class ServiceEvents(Protocol):
    """The part of the task-set API (conveyor.providers.local.ecs.task_set_api) the journal uses."""

    def service_event(self, environment: str, service: str, message: str) -> None: ...


class Journal:
    def __init__(self, store: DeploymentStore, events: ServiceEvents):
        self._store = store
        self._events = events

    def log(self, d: CodeDeployment, message: str) -> None:
        """Something that happened to the deployment."""
        self._store.log(d.id, message)
        self._events.service_event(d.environment, d.service, reasons.service_event(d.service, d.id, message))
        log.info(reasons.LOG_HISTORY_LINE, d.environment, d.service, message)

    def action(self, d: CodeDeployment, who: str, action: str, reason: str) -> None:
        """A human action on the deployment, with who asked and why."""
        self._store.log(d.id, reasons.action_line(action, who, reason), kind="action", who=who)
        self._events.service_event(d.environment, d.service,
                                   reasons.service_event(d.service, d.id, reasons.action_event(action, who, reason)))
