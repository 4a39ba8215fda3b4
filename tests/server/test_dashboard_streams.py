"""The live streams over a real socket (uvicorn): the event stream (catch-up, then live; filters;
Last-Event-ID; heartbeats), the log stream (chunks, then `end`), the cap on open streams, that
an open stream holds no worker thread, and that shutdown ends them all."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator

import anyio
import httpx
import pytest
from api_support import TOKEN

from conveyor.events.types import Event, Subject
from conveyor.server.dashboard import sse

AUTH = {"Authorization": f"Bearer {TOKEN}"}
_seq = iter(range(1, 1_000_000))


def publish(events, type_: str = "pipeline-execution-started", pipeline: str = "p") -> int:
    """One event through the EventLog as the relay gives it (subscribers are told); its seq."""
    [event] = events.take("pipeline", [(next(_seq), Event(type_, time.time(), Subject(pipeline=pipeline,
                                                                                        execution_id="e1")))])
    return event.seq


class Stream:
    """An open SSE answer read line by line, message by message."""

    def __init__(self, address, path: str, headers: dict | None = None):
        self.client = httpx.Client(base_url=f"http://{address[0]}:{address[1]}", timeout=10)
        self.cm = self.client.stream("GET", path, headers={**AUTH, **(headers or {})})
        self.response = self.cm.__enter__()
        self.lines = self.response.iter_lines()

    def next_message(self) -> dict[str, str]:
        """The next message's fields (a comment line comes back as {"comment": ...})."""
        fields: dict[str, str] = {}
        for line in self.lines:
            if line == "":
                if fields:
                    return fields
                continue
            if line.startswith(":"):
                return {"comment": line[1:].strip()}
            name, _, value = line.partition(":")
            fields[name] = value.strip()
        raise EOFError("the stream ended")

    def next_event(self) -> dict:
        while True:
            message = self.next_message()
            if "data" in message:
                return {**json.loads(message["data"]), "_id": message.get("id"), "_event": message.get("event")}

    def ended(self) -> bool:
        try:
            while True:
                self.next_message()
        except EOFError:
            return True

    def close(self) -> None:
        self.cm.__exit__(None, None, None)
        self.client.close()


@pytest.fixture
def open_streams(served) -> Iterator[list[Stream]]:
    streams: list[Stream] = []
    yield streams
    for s in streams:
        try:
            s.close()
        except Exception:
            pass


def test_the_stream_sends_stored_events_after_the_cursor_then_live_ones(served, real_api, open_streams):
    first, second = publish(real_api.events), publish(real_api.events, "pipeline-execution-succeeded")
    s = Stream(served, f"/api/v1/events/stream?after={first}")
    open_streams.append(s)
    assert s.response.status_code == 200 and s.response.headers["content-type"].startswith("text/event-stream")
    assert s.response.headers["cache-control"] == "no-store"
    got = s.next_event()
    assert (got["seq"], got["_id"], got["type"]) == (second, str(second), "pipeline-execution-succeeded")
    third = publish(real_api.events, "stage-execution-started")
    got = s.next_event()
    assert (got["seq"], got["type"], got["subject"]) == (third, "stage-execution-started",
                                                         {"pipeline": "p", "execution_id": "e1"})
    assert set(got) >= {"id", "seq", "type", "severity", "at", "summary", "subject", "detail"}


def test_without_a_cursor_the_stream_starts_at_the_newest_event(served, real_api, open_streams):
    newest = publish(real_api.events)
    s = Stream(served, "/api/v1/events/stream")
    open_streams.append(s)
    assert s.next_message() == {"retry": str(sse.RETRY_MS)}
    assert s.next_message() == {"id": str(newest)}  # where a reconnect resumes
    live = publish(real_api.events, "pipeline-execution-failed")
    assert s.next_event()["seq"] == live


def test_last_event_id_wins_over_after(served, real_api, open_streams):
    seqs = [publish(real_api.events) for _ in range(3)]
    s = Stream(served, "/api/v1/events/stream?after=0", headers={"Last-Event-ID": str(seqs[1])})
    open_streams.append(s)
    assert s.next_event()["seq"] == seqs[2]


def test_filters_narrow_the_stream(served, real_api, open_streams):
    s = Stream(served, "/api/v1/events/stream?after=0&type=pipeline-execution-failed,stage-execution-failed"
                       "&pipeline=wanted")
    open_streams.append(s)
    publish(real_api.events, "pipeline-execution-failed", pipeline="other")
    publish(real_api.events, "pipeline-execution-started", pipeline="wanted")
    wanted = publish(real_api.events, "stage-execution-failed", pipeline="wanted")
    assert s.next_event()["seq"] == wanted


def test_an_unknown_type_or_a_bad_cursor_is_400_before_any_stream(served):
    base = f"http://{served[0]}:{served[1]}"
    r = httpx.get(base + "/api/v1/events/stream?type=nope", headers=AUTH)
    assert r.status_code == 400 and "unknown event type" in r.json()["error"]["message"]
    assert httpx.get(base + "/api/v1/events/stream?after=-1", headers=AUTH).status_code == 400
    assert httpx.get(base + "/api/v1/events/stream?after=x", headers=AUTH).status_code == 400


def test_a_quiet_stream_sends_heartbeats(served, dashboard, open_streams):
    dashboard.hub.heartbeat = 0.05
    s = Stream(served, "/api/v1/events/stream")
    open_streams.append(s)
    s.next_message(), s.next_message()  # retry, id
    assert s.next_message() == {"comment": "keep-alive"}


def test_streams_beyond_the_cap_get_503_and_a_closed_one_frees_its_place(served, dashboard, open_streams):
    dashboard.hub.max_streams = 2
    for _ in range(2):
        open_streams.append(Stream(served, "/api/v1/events/stream"))
        open_streams[-1].next_message()
    base = f"http://{served[0]}:{served[1]}"
    r = httpx.get(base + "/api/v1/events/stream", headers=AUTH)
    assert r.status_code == 503 and r.json()["error"]["type"] == "Unavailable"
    open_streams.pop().close()
    wait_for(lambda: dashboard.hub.open_streams == 1)
    again = Stream(served, "/api/v1/events/stream")
    open_streams.append(again)
    assert again.response.status_code == 200


def test_open_streams_hold_no_worker_thread(served, real_api, dashboard, open_streams):
    """With the server's whole thread pool cut to ONE worker, twelve open streams each still get
    a new event, and an ordinary API call is still answered: no stream sits on a thread."""
    first = Stream(served, "/api/v1/events/stream")
    open_streams.append(first)
    first.next_message()
    loop = next(iter(dashboard.hub._listeners)).loop

    async def limit(n: int) -> int:
        limiter = anyio.to_thread.current_default_thread_limiter()
        old = int(limiter.total_tokens)
        limiter.total_tokens = n
        return old

    old = asyncio.run_coroutine_threadsafe(limit(1), loop).result(5)
    try:
        for _ in range(11):
            open_streams.append(Stream(served, "/api/v1/events/stream"))
            open_streams[-1].next_message()
        wait_for(lambda: len(dashboard.hub._listeners) == 12)
        seq = publish(real_api.events)
        assert [s.next_event()["seq"] for s in open_streams] == [seq] * 12
        r = httpx.get(f"http://{served[0]}:{served[1]}/api/v1/pipelines", headers=AUTH, timeout=10)
        assert r.status_code == 200
    finally:
        asyncio.run_coroutine_threadsafe(limit(old), loop).result(5)


def test_a_stream_whose_queue_overflows_catches_up_from_the_store(served, real_api, open_streams, monkeypatch):
    monkeypatch.setattr(sse, "QUEUE", 2)
    s = Stream(served, "/api/v1/events/stream")
    open_streams.append(s)
    s.next_message()
    seqs = [publish(real_api.events) for _ in range(10)]
    assert [s.next_event()["seq"] for _ in seqs] == seqs


def test_shutdown_ends_every_open_stream_and_refuses_new_ones(served, dashboard, open_streams):
    streams = [Stream(served, "/api/v1/events/stream") for _ in range(3)]
    open_streams.extend(streams)
    for s in streams:
        s.next_message()
    dashboard.shutdown()
    assert all(s.ended() for s in streams)
    r = httpx.get(f"http://{served[0]}:{served[1]}/api/v1/events/stream", headers=AUTH)
    assert r.status_code == 503
    wait_for(lambda: dashboard.hub.open_streams == 0)


class FakeLog:
    """An action's log that grows when the test says, and an end the test decides."""

    def __init__(self):
        self.data = b""
        self.finished = False

    def log_streams(self, execution_id):
        return [{"stage": "Build", "action": "Build", "attempt": 1, "size": len(self.data)}]

    def log_text(self, execution_id, stage, action, attempt, offset=0):
        chunk = self.data[offset:]
        return chunk.decode(), offset + len(chunk)


@pytest.fixture
def fake_log(real_api, dashboard, monkeypatch):
    log = FakeLog()
    monkeypatch.setattr(real_api.service, "log_streams", log.log_streams)
    monkeypatch.setattr(real_api.service, "log_text", log.log_text)
    monkeypatch.setattr(sse, "action_finished", lambda service, *a: log.finished)
    dashboard.hub.log_poll = 0.01
    return log


LOG = "/api/v1/executions/e1/logs/Build/Build/1/stream"


def test_the_log_stream_follows_the_file_then_ends(served, fake_log, open_streams):
    fake_log.data = b"line 1\n"
    s = Stream(served, LOG)
    open_streams.append(s)
    assert s.next_event() == {"text": "line 1\n", "offset": 7, "_id": "7", "_event": None}
    fake_log.data += b"line 2\n"
    assert s.next_event()["text"] == "line 2\n"
    fake_log.data += b"last\n"
    fake_log.finished = True
    got = [s.next_event(), s.next_event()]
    assert got[0]["text"] == "last\n" and got[1] == {"offset": 19, "_id": None, "_event": "end"}
    assert s.ended()


def test_the_log_stream_resumes_from_the_offset_or_last_event_id(served, fake_log, open_streams):
    fake_log.data = b"abcdef"
    fake_log.finished = True
    s = Stream(served, LOG + "?offset=2")
    open_streams.append(s)
    assert s.next_event()["text"] == "cdef"
    r = Stream(served, LOG + "?offset=2", headers={"Last-Event-ID": "4"})
    open_streams.append(r)
    assert r.next_event()["text"] == "ef"


def test_a_log_the_execution_does_not_have_is_404(served, fake_log):
    base = f"http://{served[0]}:{served[1]}"
    r = httpx.get(base + "/api/v1/executions/e1/logs/Build/Other/1/stream", headers=AUTH)
    assert r.status_code == 404
    r = httpx.get(base + "/api/v1/executions/e1/logs/Build/Build/1/stream")
    assert r.status_code == 401


def wait_for(condition, timeout: float = 10.0) -> None:
    """Until `condition()` holds (a safety net only: no test asserts on how long it took)."""
    done = threading.Event()
    deadline = time.monotonic() + timeout
    while not done.is_set():
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


def test_a_stream_a_session_opened_ends_when_the_session_does(served, dashboard, open_streams):
    base = f"http://{served[0]}:{served[1]}"
    login = httpx.post(base + "/login", data={"token": TOKEN, "name": "alice"})
    sid = login.cookies["conveyor_session"]
    dashboard.hub.heartbeat = 0.05
    s = Stream(served, "/api/v1/events/stream", headers={"Authorization": "", "Cookie": f"conveyor_session={sid}"})
    open_streams.append(s)
    assert s.response.status_code == 200
    assert s.next_message()["retry"] and "id" in s.next_message()
    assert s.next_message() == {"comment": "keep-alive"}  # alive while the session is
    dashboard.sessions.delete(sid)                         # logged out elsewhere
    assert s.ended()
