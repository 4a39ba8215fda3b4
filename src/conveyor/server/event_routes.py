"""The API's event stream route: read events after a cursor, optionally waiting for the next ones
(a long poll: what `conveyor events --follow` does).

    GET /api/v1/events?after=N&limit=&type=T1,T2&pipeline=&environment=&service=&wait=S
        -> {"events": [...], "last": M}
    GET /api/v1/events?tail=N&...        the newest N matching events instead (then follow from `last`)

`last` is the cursor for the next call (`after=M`): the newest event this answer accounts for,
which may be past the last event returned when the filters skipped some, so a follower with a
narrow filter does not re-read what it has been told does not match. A wait holds one of the
API's worker threads: at most WAITERS requests wait at once, the others answer at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from conveyor.errors import UserError
from conveyor.events.stream import MAX_SEQ, EventLog
from conveyor.events.types import EVENT_TYPES
from conveyor.server.schema import INT, OBJ, STR, array, obj

Route = Callable[..., None]  # Api._route(method, pattern, fn, summary=, body=, query=, response=)

MAX_WAIT = 30
MAX_LIMIT = 1000
#: Long polls waiting at the same time (each holds a worker thread of the API).
WAITERS = 8

EVENT = obj({"id": STR, "seq": INT, "type": STR, "severity": STR, "at": {"type": "number"}, "summary": STR,
             "subject": OBJ, "detail": OBJ}, ("id", "seq", "type", "severity", "at", "subject"))
EVENTS = obj({"events": array(EVENT), "last": INT}, ("events", "last"))
QUERY = {
    "after": {"type": "integer", "minimum": 0, "maximum": MAX_SEQ,
              "description": "the `last` of the previous answer (0: from the start)"},
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    "type": {"type": "string", "maxLength": 4096, "description": "event types, comma-separated (any of them)"},
    "pipeline": {"type": "string", "maxLength": 200},
    "environment": {"type": "string", "maxLength": 200},
    "service": {"type": "string", "maxLength": 200},
    "tail": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
             "description": "instead of `after`: the newest N matching events"},
    "wait": {"type": "integer", "minimum": 0, "maximum": MAX_WAIT,
             "description": "seconds to wait for a matching event when there is none yet (long poll)"},
}


class EventReads:
    """The route's logic over an EventLog. `wait_limit` caps `wait` (tests shorten it)."""

    def __init__(self, log: EventLog | None, wait_limit: float = MAX_WAIT):
        self.log = log
        self.wait_limit = wait_limit
        self._waiters = threading.BoundedSemaphore(WAITERS)

    def read(self, q: dict, b: Any) -> dict:
        after = int(q.get("after", 0))
        limit = int(q.get("limit", 500))
        types = _types(q.get("type"))
        filters: dict[str, Any] = {"types": types, "pipeline": q.get("pipeline") or None,
                   "environment": q.get("environment") or None, "service": q.get("service") or None}
        if self.log is None:  # a daemon without a stream (an API built for a test)
            return {"events": [], "last": after}
        if "tail" in q and "after" not in q:
            newest = self.log.last_seq()
            recent = self.log.tail(int(q["tail"]), **filters)
            return {"events": [e.as_dict() for e in recent], "last": max(newest, recent[-1].seq if recent else 0)}
        events, last = self._read(after, limit, filters)
        wait = min(float(q.get("wait", 0)), self.wait_limit)
        if events or wait <= 0 or not self._waiters.acquire(blocking=False):
            return {"events": [e.as_dict() for e in events], "last": last}
        try:
            deadline = time.monotonic() + wait
            while not events:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.log.wait(last, remaining):
                    break
                events, last = self._read(last, limit, filters)
        finally:
            self._waiters.release()
        return {"events": [e.as_dict() for e in events], "last": last}

    def _read(self, after: int, limit: int, filters: dict) -> tuple[list, int]:
        assert self.log is not None
        newest = self.log.last_seq()  # before the read: whatever it returns is at or after this
        events = self.log.read(after, limit, **filters)
        if len(events) >= limit:
            return events, events[-1].seq
        return events, max(after, newest, events[-1].seq if events else 0)


def _types(value: str | None) -> list[str] | None:
    if not value:
        return None
    types = [t.strip() for t in value.split(",") if t.strip()]
    unknown = [t for t in types if t not in EVENT_TYPES]
    if unknown:
        raise UserError(f"unknown event type(s) {', '.join(unknown)}",
                        hint="types: " + ", ".join(EVENT_TYPES))
    return types


def add_event_routes(route: Route, reads: EventReads) -> None:
    route("GET", r"/api/v1/events", reads.read, summary="events after a cursor, optionally waiting (long poll)",
          query=QUERY, response=EVENTS)
