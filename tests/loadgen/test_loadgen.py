"""The load generator against real sockets on 127.0.0.1: stdlib HTTP servers with a behaviour
each (503 every 10th request, one 300 ms stall, a version switch, HTTP/1.0, closing after every
answer), raw sockets that reset or never answer, and a port nobody listens on."""

from __future__ import annotations

import socket
import struct
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conveyor.loadgen import (
    DEFAULT_POST_BODY,
    GENERATOR_BEHIND,
    LoadGenerator,
    Sample,
    first_time_all,
    run_load,
    verdict,
)
from conveyor.loadgen.results import Tally


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512

    def __init__(self, handler: type, **behaviour: object) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.accepted = 0
        self.requests = 0
        self.posts: list[tuple[str, str | None, bytes]] = []
        self.lock = threading.Lock()
        self.behaviour = behaviour

    def get_request(self):  # type: ignore[no-untyped-def]
        conn = super().get_request()
        self.accepted += 1
        return conn


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        b = self.server.behaviour
        with self.server.lock:  # one answer at a time, so a stall stalls everything
            self.server.requests += 1
            n = self.server.requests
            if n == b.get("stall_at"):
                time.sleep(b["stall_seconds"])  # type: ignore[arg-type]
            switch_at = b.get("switch_at")
            version = "v1" if switch_at is None or time.monotonic() < switch_at else "v2"  # type: ignore[operator]
        status = 503 if b.get("fail_every") and n % b["fail_every"] == 0 else 200  # type: ignore[operator]
        body = b"ok\n"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-App-Version", version)
        self.end_headers()
        self.wfile.write(body)
        if b.get("close_silently"):  # HTTP/1.1 without "Connection: close", then close anyway
            self.close_connection = True

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock:
            self.server.posts.append((self.path, self.headers.get("Content-Type"), body))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.send_header("X-App-Version", "v1")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Http10Handler(_Handler):
    protocol_version = "HTTP/1.0"  # one request per connection, as the orders-service example


@contextmanager
def serving(handler: type = _Handler, **behaviour: object):
    server = _Server(handler, **behaviour)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server, f"http://127.0.0.1:{server.server_address[1]}/version"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def raw_server(on_connection):
    """A listener handing each accepted socket to on_connection(sock) in a thread."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=512)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=on_connection, args=(sock,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        stop.set()
        listener.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_keeps_a_constant_rate():
    with serving() as (_, url):
        gen = LoadGenerator(url, rate=200, duration=2.0)
        gen.start()
        result = gen.wait()
    assert result.total == 400 and result.ok == 400 and result.failed() == 0
    assert 190 <= result.achieved_rate <= 210
    starts = [s.t_start - result.started_at for s in gen.samples()]
    # Open loop and evenly spread: about 100 request starts in every half second, not bursts.
    for half in range(4):
        assert 80 <= sum(half * 0.5 <= t < (half + 1) * 0.5 for t in starts) <= 120, half
    assert result.late_starts < 40


def test_counts_non_2xx_answers_exactly():
    with serving(fail_every=10) as (_, url):
        result = run_load(url, rate=400, max_requests=200)
    assert result.non_2xx == 20 and result.ok == 180 and result.errors == 0
    assert result.status_counts == {"200": 180, "503": 20}
    assert result.failed() == 20


def test_a_closed_port_is_all_connection_refused():
    result = run_load(f"http://127.0.0.1:{closed_port()}/", rate=200, max_requests=60)
    assert result.total == 60 and result.errors == 60 and result.ok == 0
    assert result.error_counts == {"ConnectionRefused": 60}
    assert result.longest_gap_ms == 0.0 and result.latency_ms == {}


def test_a_reset_mid_request_is_an_error():
    def reset(sock: socket.socket) -> None:
        sock.recv(4096)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST, not FIN
        sock.close()

    with raw_server(reset) as url:
        result = run_load(url, rate=200, max_requests=40, keepalive_fraction=1.0)
    assert result.errors == 40 and result.error_counts == {"ConnectionReset": 40}


def test_a_truncated_answer_and_a_silent_server_are_errors():
    def truncate(sock: socket.socket) -> None:
        sock.recv(4096)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
        sock.close()

    release = threading.Event()
    closed_by_server: list[int] = []

    def silent(sock: socket.socket) -> None:  # answers nothing until the test lets it go
        sock.recv(4096)
        release.wait(30)
        closed_by_server.append(1)
        sock.close()

    with raw_server(truncate) as url:
        truncated = run_load(url, rate=200, max_requests=20)
    with raw_server(silent) as url:
        timed_out = run_load(url, rate=100, max_requests=5, timeout=0.3)
        # the requests were given up at their deadline: the server had not closed a connection yet
        assert closed_by_server == []
        release.set()
    assert truncated.error_counts == {"RemoteDisconnected": 20}
    assert timed_out.error_counts == {"Timeout": 5}


def test_reads_chunked_and_close_delimited_bodies():
    def chunked(sock: socket.socket) -> None:  # keeps the connection, answers every request chunked
        buf = b""
        with sock:
            while data := sock.recv(4096):
                buf += data
                while b"\r\n\r\n" in buf:
                    _, buf = buf.split(b"\r\n\r\n", 1)
                    sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-App-Version: c\r\n\r\n"
                                 b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n")

    def until_close(sock: socket.socket) -> None:  # no Content-Length: the body ends when the server closes
        with sock:
            sock.recv(4096)
            sock.sendall(b"HTTP/1.0 200 OK\r\nX-App-Version: e\r\n\r\n" + b"x" * 100_000)

    with raw_server(chunked) as url:
        by_chunks = run_load(url, rate=300, max_requests=90, keepalive_fraction=1.0)
    with raw_server(until_close) as url:
        by_close = run_load(url, rate=300, max_requests=90, keepalive_fraction=1.0)
    assert by_chunks.versions == {"c": 90} and by_chunks.keepalive_requests > 60
    assert by_close.versions == {"e": 90} and by_close.keepalive_requests == 0


def test_measures_the_longest_gap_between_successes():
    with serving(stall_at=150, stall_seconds=0.3) as (_, url):
        result = run_load(url, rate=300, max_requests=400)
    assert result.failed() == 0
    assert result.longest_gap_ms >= 250  # the 0.3 s stall, seen from the client
    assert result.longest_gap_at >= 0.4  # the stall began at request 150, 0.5 s in


def test_reuses_keepalive_connections():
    with serving() as (server, url):
        result = run_load(url, rate=300, max_requests=300, keepalive_fraction=1.0)
    assert result.ok == 300
    assert server.accepted == result.connections_opened < 60
    assert result.keepalive_requests == 300 - result.connections_opened


def test_mixes_new_and_keepalive_connections():
    with serving() as (server, url):
        gen = LoadGenerator(url, rate=300, max_requests=300, keepalive_fraction=0.5)
        gen.start()
        result = gen.wait()
    reused = sum(s.keepalive for s in gen.samples())
    assert result.ok == 300 and reused == result.keepalive_requests
    # 150 ask for a persistent connection and reuse one unless all were busy; 150 open their own.
    assert 100 < reused <= 150
    assert server.accepted == 300 - reused


@pytest.mark.parametrize("handler, behaviour", [(_Http10Handler, {}), (_Handler, {"close_silently": True})],
                         ids=["http10", "http11-closing-without-saying"])
def test_a_server_closing_after_each_answer_is_not_an_error(handler, behaviour):
    with serving(handler, **behaviour) as (server, url):
        result = run_load(url, rate=300, max_requests=300, keepalive_fraction=1.0)
    assert result.errors == 0 and result.ok == 300
    assert server.accepted == 300  # every request had a connection of its own ...
    assert result.keepalive_requests == 0  # ... so none counts as sent on a reused one


def test_counts_versions_and_finds_when_all_answers_carry_one():
    with serving(switch_at=time.monotonic() + 1.0) as (server, url):
        switch_at = server.behaviour["switch_at"]
        gen = LoadGenerator(url, rate=300, duration=2.0)
        gen.start()
        result = gen.wait()
    assert result.ok == 600
    assert set(result.versions) == {"v1", "v2"} and 200 <= result.versions["v2"] <= 400
    settled = gen.first_time_all("v2", after=result.started_at)
    assert settled is not None and switch_at <= settled < switch_at + 0.2
    assert gen.first_time_all("v1", after=result.started_at) is None
    later = gen.first_time_all("v2", after=switch_at + 0.5)
    assert later is not None and switch_at + 0.5 <= later < switch_at + 0.6


def test_first_time_all_takes_the_final_run_of_a_version():
    def s(t: float, version: str | None, status: int | None = 200) -> Sample:
        return Sample(t - 0.001, t, status, None if status else "ConnectionReset", version, False)

    samples = [s(1, "v1"), s(2, "v2"), s(3, "v1"), s(4, "v2", 503), s(5, None, None), s(6, "v1"), s(7, "v1")]
    assert first_time_all(samples, "v1", after=0) == 3  # a 503 and an error are not answers from a version
    samples.insert(5, s(5.5, "v2"))
    assert first_time_all(samples, "v1", after=0) == 6
    assert first_time_all(samples, "v1", after=6.5) == 7
    assert first_time_all(samples, "v2", after=0) is None
    assert first_time_all(samples, "v1", after=8) is None  # nothing answered after 8
    assert first_time_all([s(1, "v1"), s(2, "v1")], "v1", after=0) == 1


def test_stops_at_max_requests_or_duration():
    with serving() as (_, url):
        by_count = run_load(url, rate=1000, max_requests=123, duration=30)
        by_time = run_load(url, rate=100, duration=0.5, max_requests=10_000)
    assert by_count.total == 123
    assert by_time.total == 50
    with pytest.raises(ValueError, match="bounded"):
        LoadGenerator(url, rate=100)


def test_stop_ends_a_load_early():
    with serving() as (_, url):
        gen = LoadGenerator(url, rate=100, duration=60)
        gen.start()
        time.sleep(0.5)
        result = gen.stop()
    assert 0 < result.total < 100 * 60 and result.failed() == 0  # stopped, long before its 60 s


def test_mixes_posts_with_gets_over_new_and_reused_connections():
    with serving() as (server, url):
        gen = LoadGenerator(url, rate=300, max_requests=300, keepalive_fraction=0.5, post_fraction=0.5,
                            post_path="/orders")
        gen.start()
        result = gen.wait()
    posts = [s for s in gen.samples() if s.post]
    assert result.ok == 300 and result.post_requests == len(posts) == len(server.posts) == 150
    assert server.requests == 150  # the GETs
    assert {p for p in server.posts} == {("/orders", "application/json", DEFAULT_POST_BODY)}
    assert {s.status for s in posts} == {201}
    assert any(s.keepalive for s in posts) and not all(s.keepalive for s in posts)
    assert result.to_json()["methods"] == {"GET": 150, "POST": 150}


def test_a_post_on_a_connection_closed_before_its_answer_is_a_failure_not_a_retry():
    # Every connection is answered once (keep-alive), then closed before the next request is read:
    # a GET is sent again on a new connection, a POST may have been acted on and is not.
    def one_answer_then_close(sock: socket.socket) -> None:
        with sock:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    return
                data += chunk
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            time.sleep(0.05)
            sock.shutdown(socket.SHUT_RDWR)

    with raw_server(one_answer_then_close) as url:
        result = run_load(url, rate=100, max_requests=40, keepalive_fraction=1.0, post_fraction=0.5)
    assert result.post_failed == result.error_counts.get("StaleConnection", 0) > 0
    assert result.failed() == result.post_failed  # every GET got its answer, on a retry if needed
    assert result.stale_retries > 0


def test_verdict_says_when_the_generator_fell_behind():
    with serving(stall_at=50, stall_seconds=0.3) as (_server, url):
        # One connection at a time: a 0.3 s stall holds every later request back.
        behind = run_load(url, rate=200, max_requests=200, concurrency=1)
    assert behind.failed() == 0 and behind.max_lag_ms > 100
    assert verdict(behind) == GENERATOR_BEHIND
    # On time (each request at its slot, 10 ms apart), then with 2 of 10 answers 503.
    for statuses, expected in (([200] * 10, "clean"), ([200, 503] * 5, "5 failed")):
        tally = Tally()
        for i, status in enumerate(statuses):
            tally.started(i / 100, i / 100)
            tally.add(Sample(i / 100, i / 100 + 0.001, status, None, "v1", keepalive=False))
        result = tally.snapshot().result(url="u", rate=100, started_at=0.0, end=0.1, connections_opened=10,
                                         stale_retries=0, cpu_seconds=0.0)
        assert verdict(result) == expected
