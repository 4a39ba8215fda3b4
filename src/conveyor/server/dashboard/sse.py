"""Server-sent event streams: the event stream and an action's log, live, for the dashboard.

    GET /api/v1/events/stream?after=N&type=&pipeline=&environment=&service=
        each message one event as GET /api/v1/events returns it, `id:` its seq; without `after`
        (and without Last-Event-ID) it starts at the newest event
    GET /api/v1/executions/ID/logs/STAGE/ACTION/ATTEMPT/stream?offset=N
        messages {"text": chunk, "offset": next} (`id:` the offset), then `event: end` once the
        action has finished and its log has been read to the end

Why it is built this way: a stream is open for as long as a dashboard is, and ten dashboards
must not cost ten worker threads (the API's pool is shared with every request). So no stream
holds a thread: ONE subscription on the EventLog (the relay calls it after each commit, in its
own thread) hands each new event to every open stream's asyncio queue; a stream only borrows a
worker thread for the short database read that catches it up. A stream whose client reads too
slowly for its queue drops the queue and catches up from the database instead, so nothing is
lost and memory stays bounded. Log streams look at their file every LOG_POLL seconds from the
event loop. Every stream sends a comment line every HEARTBEAT seconds (proxies and the browser
see it alive; a gone client is noticed at the latest then), at most MAX_STREAMS are open at once
(503 beyond), and all of them end when the daemon shuts down (`EventHub.shutdown`), so uvicorn's
graceful stop does not wait on them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from functools import partial
from typing import Any

import anyio
from starlette.responses import StreamingResponse

from conveyor.engine import states as S
from conveyor.engine.service import Service
from conveyor.events.stream import EventLog
from conveyor.events.types import Event
from conveyor.secrets.masking import default_masker

log = logging.getLogger("conveyor.api")

MAX_STREAMS = 64
HEARTBEAT = 15.0
LOG_POLL = 0.5
QUEUE = 1000
BATCH = 500
#: What EventSource waits before it reconnects (ms), sent first in every stream.
RETRY_MS = 2000


class _Listener:
    """One open event stream's queue, fed from the relay's thread through the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(QUEUE)
        self.overflowed = False

    def offer(self, event: Event | None) -> None:  # in the event loop
        if event is None:  # shutdown: make room, the stream only needs to see this
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)
            return
        if self.queue.full():
            self.overflowed = True
            return
        self.queue.put_nowait(event)


class EventHub:
    """The one subscription on the EventLog and the count of open streams."""

    def __init__(self, log: EventLog | None, max_streams: int = MAX_STREAMS, heartbeat: float = HEARTBEAT,
                 log_poll: float = LOG_POLL):
        self.log = log
        self.max_streams, self.heartbeat, self.log_poll = max_streams, heartbeat, log_poll
        self._lock = threading.Lock()
        self._listeners: set[_Listener] = set()
        self._open = 0
        self._subscribed = False
        self.closed = False

    @property
    def open_streams(self) -> int:
        with self._lock:
            return self._open

    def acquire(self) -> bool:
        """Count one more open stream; False when MAX_STREAMS are open or the daemon is stopping."""
        with self._lock:
            if self.closed or self._open >= self.max_streams:
                return False
            self._open += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._open -= 1

    def listen(self) -> _Listener:
        listener = _Listener(asyncio.get_running_loop())
        with self._lock:
            self._listeners.add(listener)
            if not self._subscribed and self.log is not None:
                self.log.subscribe(self._on_event)
                self._subscribed = True
        return listener

    def forget(self, listener: _Listener) -> None:
        with self._lock:
            self._listeners.discard(listener)

    def _on_event(self, event: Event) -> None:
        """In the relay's thread, after its commit: hand the event to every open stream."""
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            _post(listener, event)

    def shutdown(self) -> None:
        """End every open stream now and refuse new ones (the daemon is stopping)."""
        with self._lock:
            self.closed = True
            listeners = list(self._listeners)
            if self._subscribed and self.log is not None:
                self.log.unsubscribe(self._on_event)
                self._subscribed = False
        for listener in listeners:
            _post(listener, None)


def _post(listener: _Listener, event: Event | None) -> None:
    try:
        listener.loop.call_soon_threadsafe(listener.offer, event)
    except RuntimeError:  # its loop is closed: the server is gone
        pass


class StreamResponse(StreamingResponse):
    """A text/event-stream answer holding one of the hub's places until it ends, however it ends
    (done, client gone, cancelled before its first byte)."""

    def __init__(self, hub: EventHub, content: AsyncIterator[bytes], headers: Mapping[str, str] | None = None):
        super().__init__(content, media_type="text/event-stream",
                         headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", **(headers or {})})
        self.hub = hub

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.hub.release()


def message(data: Any, id: int | None = None, event: str | None = None) -> bytes:
    """One SSE message; JSON data is one line, so it needs one `data:` field."""
    head = (f"id: {id}\n" if id is not None else "") + (f"event: {event}\n" if event else "")
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def matches(event: Event, filters: Mapping[str, Any]) -> bool:
    types = filters.get("types")
    if types and event.type not in types:
        return False
    s = event.subject
    return all(filters.get(key) is None or getattr(s, key) == filters[key]
               for key in ("pipeline", "environment", "service"))


#: Asked (in a worker thread) at each heartbeat whether the stream may go on: a session-opened
#: stream ends once its session has (logout, expiry), instead of feeding a logged-out tab.
Alive = Callable[[], bool]


async def _alive(alive: Alive | None) -> bool:
    return alive is None or bool(await anyio.to_thread.run_sync(alive))


async def event_stream(hub: EventHub, after: int | None, filters: Mapping[str, Any],
                       alive: Alive | None = None) -> AsyncIterator[bytes]:
    """The events after `after` (None: from now on) that match `filters`, then each new one."""
    listener = hub.listen()  # before the cursor is read: an event committed meanwhile is in the queue
    try:
        log_ = hub.log
        if log_ is None:
            last = after or 0
        else:
            last = after if after is not None else await anyio.to_thread.run_sync(log_.last_seq)
        sent, last = await _catch_up(log_, last, filters)
        yield f"retry: {RETRY_MS}\n\n".encode()
        for chunk in sent:
            yield chunk
        # the cursor without an event: a reconnect (Last-Event-ID) resumes here, not "from now"
        yield f"id: {last}\n\n".encode()
        while True:
            try:
                item = await asyncio.wait_for(listener.queue.get(), hub.heartbeat)
            except asyncio.TimeoutError:
                if not await _alive(alive):
                    return
                yield b": keep-alive\n\n"
                continue
            if item is None:
                return
            if listener.overflowed:  # the queue missed events: read them from the store
                listener.overflowed = False
                while not listener.queue.empty():
                    if listener.queue.get_nowait() is None:
                        return
                sent, last = await _catch_up(log_, last, filters)
                for chunk in sent:
                    yield chunk
                continue
            if item.seq <= last:
                continue
            last = item.seq
            if matches(item, filters):
                yield message(item.as_dict(), id=item.seq)
    finally:
        hub.forget(listener)


async def _catch_up(log_: EventLog | None, after: int, filters: Mapping[str, Any]) -> tuple[list[bytes], int]:
    """Messages for the stored events after `after` that match, and the new cursor."""
    if log_ is None:
        return [], after
    out: list[bytes] = []
    last = after
    args = {"types": filters.get("types"), "pipeline": filters.get("pipeline"),
            "environment": filters.get("environment"), "service": filters.get("service")}
    while True:
        newest = await anyio.to_thread.run_sync(log_.last_seq)
        events = await anyio.to_thread.run_sync(partial(log_.read, last, BATCH, **args))
        out.extend(message(e.as_dict(), id=e.seq) for e in events)
        if len(events) < BATCH:
            return out, max(last, newest, events[-1].seq if events else 0)
        last = events[-1].seq


def action_finished(service: Service, execution_id: str, stage: str, action: str, attempt: int) -> bool:
    """Whether this attempt of the action has ended (its log will not grow any more)."""
    with service.lock:
        view = service.view(execution_id)
        transitions = list(view.events)
    return any(t.scope == "action" and t.stage == stage and t.action == action and t.attempt == attempt
               and t.status != S.IN_PROGRESS for t in transitions)


async def log_stream(hub: EventHub, service: Service, execution_id: str, stage: str, action: str, attempt: int,
                     offset: int, alive: Alive | None = None) -> AsyncIterator[bytes]:
    """The log from `offset` as it grows, then `end`."""
    mask = default_masker().mask
    yield f"retry: {RETRY_MS}\n\n".encode()
    quiet = 0.0
    while not hub.closed:
        finished = await anyio.to_thread.run_sync(action_finished, service, execution_id, stage, action, attempt)
        text, offset_next = await anyio.to_thread.run_sync(
            service.log_text, execution_id, stage, action, attempt, offset)
        if offset_next > offset:
            offset = offset_next
            quiet = 0.0
            yield message({"text": mask(text), "offset": offset}, id=offset)
            continue  # there may be more at once (a read takes at most 1 MiB)
        if finished:
            yield message({"offset": offset}, event="end")
            return
        await asyncio.sleep(hub.log_poll)
        quiet += hub.log_poll
        if quiet >= hub.heartbeat:
            quiet = 0.0
            if not await _alive(alive):
                return
            yield b": keep-alive\n\n"
