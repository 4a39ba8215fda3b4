"""The API's DORA metrics route (conveyor.dora; definitions in docs/dora.md).

    GET /api/v1/dora?pipeline=&service=&environment=&days=N
        -> {"window", "filters", "environments", "summary", "pipelines": [...], "services": [...]}

`days` is 1-365 (default 30). `summary` and each group's `metrics` have the four metrics, their
counts, the daily series and the DORA bands.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conveyor.dora.history import MAX_DAYS, DoraHistory
from conveyor.events.stream import EventLog
from conveyor.server.schema import INT, OBJ, STR, Schema, array, obj
from conveyor.store.db import Store

Route = Callable[..., None]  # Api._route(method, pattern, fn, summary=, body=, query=, response=)

NUMBER: Schema = {"type": ["number", "null"]}
BAND: Schema = {"type": ["string", "null"], "enum": ["elite", "high", "medium", "low", None]}
DAY_POINT = obj({"start": {"type": "number"}, "date": STR, "deployments": INT, "finished": INT, "failures": INT,
                 "leadTimeSeconds": NUMBER, "restoreSeconds": NUMBER},
                ("start", "date", "deployments", "finished", "failures", "leadTimeSeconds", "restoreSeconds"))
METRICS = obj({
    "deployments": obj({"succeeded": INT, "finished": INT, "failed": INT}, ("succeeded", "finished", "failed")),
    "deploymentFrequency": obj({"perDay": {"type": "number"}, "perWeek": {"type": "number"}}, ("perDay", "perWeek")),
    "leadTime": obj({"medianSeconds": NUMBER, "p90Seconds": NUMBER, "count": INT, "unknown": INT},
                    ("medianSeconds", "p90Seconds", "count")),
    "changeFailureRate": obj({"rate": NUMBER, "failures": INT, "deployments": INT, "causes": OBJ},
                             ("rate", "failures", "deployments", "causes")),
    "timeToRestore": obj({"medianSeconds": NUMBER, "restored": INT, "unrestored": INT, "open": array(OBJ)},
                         ("medianSeconds", "restored", "unrestored")),
    "band": obj({"deploymentFrequency": BAND, "leadTime": BAND, "changeFailureRate": BAND, "timeToRestore": BAND,
                 "overall": BAND, "source": STR}, ("overall",)),
    "daily": array(DAY_POINT),
}, ("deployments", "deploymentFrequency", "leadTime", "changeFailureRate", "timeToRestore", "band", "daily"))
REPORT = obj({
    "window": obj({"days": INT, "start": {"type": "number"}, "end": {"type": "number"}}, ("days", "start", "end")),
    "filters": OBJ,
    "environments": array(STR),
    "summary": METRICS,
    "pipelines": array(obj({"pipeline": STR, "metrics": METRICS}, ("pipeline", "metrics"))),
    "services": array(obj({"environment": STR, "service": STR, "metrics": METRICS},
                          ("environment", "service", "metrics"))),
}, ("window", "filters", "environments", "summary", "pipelines", "services"))
QUERY: dict[str, Schema] = {
    "days": {"type": "integer", "minimum": 1, "maximum": MAX_DAYS, "description": "the window, in days (default 30)"},
    "pipeline": {"type": "string", "maxLength": 200},
    "service": {"type": "string", "maxLength": 200},
    "environment": {"type": "string", "maxLength": 200,
                    "description": "count this environment (default: the production environments)"},
}


def add_dora_routes(route: Route, store: Store | None, events: EventLog | None) -> None:
    history = DoraHistory(store, events)

    def read(q: dict, b: Any) -> dict:
        return history.report(days=int(q.get("days", 30)), pipeline=q.get("pipeline") or None,
                              service=q.get("service") or None, environment=q.get("environment") or None)

    route("GET", r"/api/v1/dora", read, summary="DORA metrics per pipeline and service over a window (docs/dora.md)",
          query=QUERY, response=REPORT)
