"""Helpers for the load balancer tests: real HTTP apps on 127.0.0.1 and real requests.

`App` is a tiny threaded HTTP server that can be told to fail its health check or to answer
slowly; `Load` sends a bounded number of requests (keep-alive or a new connection each) and
records every failure.
"""

from __future__ import annotations

import http.client
import shutil
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from stack_support import needs

from conveyor.lb import HealthCheck

needs_haproxy = needs(shutil.which("haproxy") is None, "haproxy is not installed")

#: Fast checks so that tests take a fraction of a second per state change.
FAST_CHECK = HealthCheck(path="/health", interval=0.2, timeout=0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float = 10.0, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        pass  # HAProxy closes a health check as soon as it has the status line


class App:
    """An app target: GET /health answers `health`; GET /slow?s=1.5 sleeps first; every other
    request answers 200 with the app's name. Counts the requests that are not health checks."""

    def __init__(self, name: str, port: int = 0, health: int = 200):
        self.name, self.health = name, health
        self.requests = 0
        self.in_flight = 0
        self._count = threading.Lock()
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                url = urlparse(self.path)
                if url.path == "/health":
                    return self._answer(app.health, b"ok" if app.health == 200 else b"no")
                with app._count:
                    app.requests += 1
                    app.in_flight += 1
                try:
                    if url.path == "/slow":
                        time.sleep(float(parse_qs(url.query).get("s", ["1"])[0]))
                    self._answer(200, app.name.encode())
                finally:
                    with app._count:
                        app.in_flight -= 1

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = _Server(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def get(port: int, path: str = "/", timeout: float = 10.0) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def spread(port: int, count: int) -> Counter:
    """Which app answered each of `count` requests ('503' for a 503)."""
    seen: Counter = Counter()
    for _ in range(count):
        status, body = get(port)
        seen[body if status == 200 else str(status)] += 1
    return seen


class Load:
    """`total` GETs against a port from `clients` threads, in the background. Half the clients
    keep one connection alive, half open a new connection per request. No client retries."""

    def __init__(self, port: int, total: int = 2000, clients: int = 4, path: str = "/"):
        self.port, self.total, self.path = port, total, path
        self.ok = 0
        self.failures: list[str] = []
        self.answers: Counter = Counter()
        self.elapsed = 0.0
        self._lock = threading.Lock()
        self._left = total
        self._threads = [threading.Thread(target=self._client, args=(i % 2 == 0,), daemon=True)
                         for i in range(clients)]

    def start(self) -> Load:
        self._started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def done(self) -> int:
        with self._lock:
            return self.ok + len(self.failures)

    def wait(self, timeout: float = 60.0) -> Load:
        for thread in self._threads:
            thread.join(timeout)
        self.elapsed = time.monotonic() - self._started
        return self

    @property
    def rate(self) -> float:
        return self.total / self.elapsed if self.elapsed else 0.0

    def _take(self) -> bool:
        with self._lock:
            if self._left <= 0:
                return False
            self._left -= 1
            return True

    def _client(self, keep_alive: bool) -> None:
        conn = None
        while self._take():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("GET", self.path)
                response = conn.getresponse()
                body = response.read().decode()
                with self._lock:
                    if response.status == 200:
                        self.ok += 1
                        self.answers[body] += 1
                    else:
                        self.failures.append(f"HTTP {response.status} {body[:80]}")
                if not keep_alive or response.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                with self._lock:
                    self.failures.append(f"{'keep-alive' if keep_alive else 'new'}: {exc!r}")
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()
