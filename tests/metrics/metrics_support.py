"""Helpers for the metrics tests: a real HTTP target on 127.0.0.1 that answers a chosen status,
and plain GETs. (tests/lb/lb_support.py is not importable from here when tests/metrics runs alone.)"""

from __future__ import annotations

import http.client
import shutil
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from stack_support import needs

from conveyor.lb import HealthCheck

needs_haproxy = needs(shutil.which("haproxy") is None, "haproxy is not installed")
#: Fast checks; a generous timeout, since a loaded machine can be slow to answer one.
FAST_CHECK = HealthCheck(path="/health", interval=0.3, timeout=0.25)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(count: int) -> list[int]:
    """`count` different free ports: each stays bound until all are chosen, so two calls of
    free_port() cannot hand out the same port twice."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def counted(lb) -> bool:
    """True once HAProxy has counted every request it finished: it adds one to a backend's
    req_tot (and hrsp_*) when the stream ends, which can be just after the client has read the
    whole response. No open session on any frontend or backend means nothing is left to count."""
    return all(int(row.get("scur") or 0) == 0 for row in lb.stats()
               if row.get("svname") in ("FRONTEND", "BACKEND"))


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

    def handle_error(self, request, client_address):
        pass  # HAProxy closes a health check as soon as it has the status line


class StatusApp:
    """GET /health answers 200; every other GET answers `status` (and counts it)."""

    def __init__(self, status: int = 200):
        self.status = status
        self.requests = 0
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                code = 200 if self.path == "/health" else app.status
                if self.path != "/health":
                    app.requests += 1
                body = str(code).encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def get(port: int, path: str = "/") -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()
