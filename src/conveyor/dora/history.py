"""The daemon's side of DORA metrics: read the history, then hand it to the pure parts.

- Deployments come from the event stream (events.db): it is the one place where every local
  deployment's outcome is recorded with its time, whichever controller ran it (the ECS rolling
  one and the CodeDeploy blue/green one write into their own stores, and rollbacks made by hand
  or by an alarm after the pipeline's action ended are in no execution), and each event names the
  pipeline and execution that created the deployment.
- Commit times and trigger times come from the engine's store (conveyor.db): the committer time
  is the `CommitterDate` variable the execution's Git source exported when it ran, and an
  execution's creation time is when it was triggered.
- Which environments are production comes from the latest execution of each pipeline (its
  conveyor.yml's `production:` flags, conveyor.dora.production).

    history = DoraHistory(store, event_log)
    history.report(days=30, pipeline="orders")      # what GET /api/v1/dora answers
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from conveyor.dora.fold import DEPLOYMENT_TYPES, SIGNAL_TYPES, Change, fold
from conveyor.dora.metrics import DAY, compute
from conveyor.dora.production import is_production, production_flags
from conveyor.events.stream import EventLog
from conveyor.events.types import Event
from conveyor.store.db import Store

MAX_DAYS = 365
PAGE = 1000


class DoraHistory:
    def __init__(self, store: Store | None, events: EventLog | None, clock: Callable[[], float] = time.time):
        """`store` None (an API built without an engine, in tests): no commit times, names decide."""
        self.store = store
        self.events = events
        self.clock = clock

    def report(self, *, days: int = 30, pipeline: str | None = None, service: str | None = None,
               environment: str | None = None) -> dict[str, Any]:
        """The metrics over the last `days` days: all the changes matching the filters, then per
        pipeline and per service. With `environment`, that environment counts whatever its flag."""
        end = self.clock()
        start = end - days * DAY
        flags = production_flags(self._latest_definitions())
        counts = (lambda env: env == environment) if environment else (lambda env: is_production(env, flags))
        events = [e for e in self._read() if e.subject.environment and counts(e.subject.environment)]
        executions = {e.subject.execution_id for e in events if e.subject.execution_id}
        commits: dict[str, float] = {}
        triggered: dict[str, float] = {}
        for execution_id in executions:
            created, committed = self._execution_times(execution_id)
            if created is not None:
                triggered[execution_id] = created
            if committed is not None:
                commits[execution_id] = committed
        changes = [c for c in fold(events, end=end, commit_times=commits, triggered_at=triggered)
                   if (pipeline is None or c.pipeline == pipeline) and (service is None or c.service == service)]
        return {
            "window": {"days": days, "start": start, "end": end},
            "filters": {"pipeline": pipeline, "service": service, "environment": environment},
            "environments": sorted({c.environment for c in changes}),
            "summary": compute(changes, start=start, end=end),
            "pipelines": [{"pipeline": name, "metrics": compute(group, start=start, end=end)}
                          for name, group in _groups(changes, lambda c: c.pipeline)],
            "services": [{"environment": key[0], "service": key[1], "metrics": compute(group, start=start, end=end)}
                         for key, group in _groups(changes, lambda c: (c.environment, c.service))],
        }

    # -- reading
    def _read(self) -> Iterator[Event]:
        if self.events is None:
            return
        after = 0
        while True:
            page = self.events.read(after, PAGE, types=DEPLOYMENT_TYPES + SIGNAL_TYPES)
            yield from page
            if len(page) < PAGE:
                return
            after = page[-1].seq

    def _latest_definitions(self) -> list[dict]:
        out: list[dict] = []
        if self.store is None:
            return out
        for reg in self.store.pipelines():
            latest = self.store.executions(reg["name"], limit=1)
            if latest:
                out.append(latest[0].definition)
        return out

    def _execution_times(self, execution_id: str) -> tuple[float | None, float | None]:
        """(created, committed): when the execution was triggered, and the committer time of the
        commit its first Git source exported (None until that source action succeeded)."""
        row = self.store.execution(execution_id) if self.store is not None else None
        if row is None or self.store is None:
            return None, None
        sources = _source_actions(row.definition)
        committed = None
        for t in self.store.transitions(execution_id):
            if t.scope == "action" and t.status == "Succeeded" and t.action in sources:
                committed = parse_time((t.detail.get("variables") or {}).get("CommitterDate"))
                if committed is not None and t.action == sources[0]:
                    break
        return row.created_at, committed


def _source_actions(definition: dict) -> list[str]:
    """The Git source actions of a stored definition, in order (the first stage's Git actions)."""
    stages = ((definition.get("pipeline") or {}).get("stages") or [])
    first = stages[0] if stages and isinstance(stages[0], dict) else {}
    return [str(a.get("name")) for a in first.get("actions") or []
            if isinstance(a, dict) and a.get("provider") == "Git"]


def parse_time(value: Any) -> float | None:
    """An ISO 8601 time with its offset (git's %cI) as epoch seconds; None when absent or unreadable.

    >>> parse_time("2026-12-06T13:00:00+01:00")
    1796558400.0
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def _groups(changes: list[Change], key: Callable[[Change], Any]) -> list[tuple[Any, list[Change]]]:
    groups: dict[Any, list[Change]] = {}
    for c in changes:
        k = key(c)
        if k is not None:
            groups.setdefault(k, []).append(c)
    return sorted(groups.items(), key=lambda kv: kv[0])
