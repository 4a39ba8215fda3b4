"""The HTTP JSON API and its lifecycle (start, serve, drain on SIGTERM).

    GET  /health          200 {"status": "ok"}
    GET  /version         200 {"version": $APP_VERSION or "dev", "commit": $COMMIT_SHA or null}
    GET  /orders          200 {"orders": [...]}
    POST /orders          201 the new order (body {"item": "book", "quantity": 2}), Location header
    GET  /orders/{id}     200 the order, or 404

FAULT_RATE (0-1, default 0) makes that share of requests other than /health fail with 500 once
FAULT_AFTER of them (default 0) were answered, and FAULT_DELAY_MS delays each of them: releases
that pass their health checks (and a smoke test) and fail or slow down under traffic, for showing
alarms and rollback.

Each connection carries one request (HTTP/1.0), so a load balancer's draining and ours agree:
on SIGTERM the server stops accepting, finishes the requests in flight (up to DRAIN_TIMEOUT_SECONDS)
and the process exits 0.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Mapping

from app.orders import InvalidOrder, OrderStore, parse_order

DEFAULT_PORT = 8080
DRAIN_TIMEOUT_SECONDS = 5.0  # well under `podman stop`'s 10 s and ECS's default stopTimeout of 30 s
REQUEST_TIMEOUT_SECONDS = 10.0  # a client that stalls mid-request is cut off after this
MAX_BODY_BYTES = 64 * 1024

ORDER_PATH = re.compile(r"/orders/(\d{1,18})")


class RequestError(Exception):
    """A request this API cannot take, with the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    sys.stdout.write(f"{stamp} {message}\n")
    sys.stdout.flush()


class Handler(BaseHTTPRequestHandler):
    server: OrdersServer
    server_version = "orders-service"
    timeout = REQUEST_TIMEOUT_SECONDS
    status: int | str | None = None
    sent: int | str = "-"

    # -- routing
    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/health":
            self.send_json(200, {"status": "ok"})
        elif self.server.faulty():
            self.send_json(500, {"error": "injected fault (FAULT_RATE)"})
        elif path == "/version":
            self.send_json(200, {"version": self.server.version, "commit": self.server.commit})
        elif path == "/orders":
            self.send_json(200, {"orders": self.server.store.list()})
        elif match := ORDER_PATH.fullmatch(path):
            order = self.server.store.get(int(match.group(1)))
            if order is None:
                self.send_json(404, {"error": f"order {match.group(1)} not found"})
            else:
                self.send_json(200, order)
        else:
            self.send_json(404, {"error": f"no such resource: {path}"})

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        if path != "/orders":
            if path in ("/health", "/version") or ORDER_PATH.fullmatch(path):
                self.send_json(405, {"error": f"POST is not allowed on {path}"}, allow="GET")
            else:
                self.send_json(404, {"error": f"no such resource: {path}"})
            return
        try:
            item, quantity = parse_order(self.read_json())
        except InvalidOrder as exc:
            self.send_json(400, {"error": str(exc)})
            return
        except RequestError as exc:
            self.send_json(exc.status, {"error": str(exc)})
            return
        order = self.server.store.create(item, quantity)
        self.send_json(201, order, location=f"/orders/{order['id']}")

    # -- helpers
    def read_json(self) -> object:
        length_header = self.headers.get("Content-Length")
        if length_header is None or not length_header.isdigit():
            raise RequestError(411, "a JSON body with a Content-Length header is required")
        length = int(length_header)
        if length > MAX_BODY_BYTES:
            raise RequestError(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        raw = self.rfile.read(length)
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RequestError(400, f"the body is not valid JSON: {exc}") from exc

    def send_json(self, status: int, payload: object, *, allow: str | None = None,
                  location: str | None = None) -> None:
        data = json.dumps(payload).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-App-Version", self.server.version)  # which release answered (deploy benchmarks)
        if allow:
            self.send_header("Allow", allow)
        if location:
            self.send_header("Location", location)
        self.end_headers()
        self.wfile.write(data)
        self.sent = len(data)

    # -- logging: one access line per answered request, plus a line per protocol error
    def handle_one_request(self) -> None:
        started, self.status, self.sent = time.monotonic(), None, "-"
        try:
            super().handle_one_request()
        except (ConnectionResetError, BrokenPipeError):  # the client left before the answer: no traceback
            self.close_connection = True
            self.server.log_line(f'{self.client_address[0]} "{self.requestline}" closed by the client')
            return
        if self.status is not None:
            took = (time.monotonic() - started) * 1000
            self.server.log_line(f'{self.client_address[0]} "{self.requestline}" {self.status} '
                                 f'{self.sent} {took:.1f}ms')

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.status = int(code) if isinstance(code, int) else code

    def log_message(self, format: str, *args: object) -> None:
        self.server.log_line(f"{self.client_address[0]} error: {format % args}")


class OrdersServer(ThreadingHTTPServer):
    """A threaded server that can wait for its in-flight requests (see drain)."""

    daemon_threads = True  # a stuck client must not keep the process alive past the drain timeout
    block_on_close = False
    request_queue_size = 256  # the default backlog of 5 drops connections under a load balancer's bursts

    def __init__(self, address: tuple[str, int], *, version: str, commit: str | None,
                 store: OrderStore | None = None, log_line: Callable[[str], None] = log,
                 fault_rate: float = 0.0, fault_delay: float = 0.0, fault_after: int = 0) -> None:
        super().__init__(address, Handler)
        self.fault_rate = fault_rate
        self.fault_after = fault_after
        self.answered = 0
        self.fault_delay = fault_delay
        self.version = version
        self.commit = commit
        self.store = store or OrderStore()
        self.log_line = log_line
        self._in_flight = 0
        self._idle = threading.Condition()

    def faulty(self) -> bool:
        """Apply FAULT_DELAY_MS, then answer whether this request fails (FAULT_RATE, FAULT_AFTER)."""
        if self.fault_delay > 0:
            time.sleep(self.fault_delay)
        with self._idle:
            self.answered += 1
            warm = self.answered > self.fault_after
        return warm and self.fault_rate > 0 and random.random() < self.fault_rate

    def process_request(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        with self._idle:
            self._in_flight += 1
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._request_done()
            raise

    def process_request_thread(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._request_done()

    def _request_done(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def drain(self, timeout: float) -> bool:
        """Wait until no request is in flight; False if some still are after `timeout` seconds."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)


def make_server(host: str = "0.0.0.0", port: int = DEFAULT_PORT, *, store: OrderStore | None = None,
                environ: Mapping[str, str] | None = None,
                log_line: Callable[[str], None] = log) -> OrdersServer:
    """The server, bound but not serving yet (call serve_forever). Port 0 picks a free port.

        server = make_server("127.0.0.1", 0, environ={"APP_VERSION": "1.0"})
        threading.Thread(target=server.serve_forever).start()
    """
    env = os.environ if environ is None else environ
    return OrdersServer((host, port), version=env.get("APP_VERSION") or "dev",
                        commit=_commit_file() or env.get("COMMIT_SHA") or None, store=store, log_line=log_line,
                        fault_rate=_number(env, "FAULT_RATE", 1.0),
                        fault_delay=_number(env, "FAULT_DELAY_MS", 10_000.0) / 1000,
                        fault_after=int(_number(env, "FAULT_AFTER", 1e9)))


def _commit_file() -> str | None:
    """The commit the build wrote next to the code (buildspec.yml): it changes the COPY layer, so
    an image cache can never hand back a layer that names another commit."""
    try:
        return (Path(__file__).resolve().parent / "COMMIT_SHA").read_text().strip() or None
    except OSError:
        return None


def _number(env: Mapping[str, str], name: str, ceiling: float) -> float:
    """A fault-injection knob: a number within [0, ceiling]; anything else means off."""
    try:
        return min(ceiling, max(0.0, float(env.get(name) or 0)))
    except ValueError:
        return 0.0


def run(environ: Mapping[str, str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT, then drain and return the exit code."""
    env = os.environ if environ is None else environ
    port_text = env.get("PORT") or str(DEFAULT_PORT)
    if not port_text.isdigit() or int(port_text) > 65535:  # 0: any free port (tests use it)
        log(f"PORT must be a TCP port number (0-65535), got {port_text!r}")
        return 2
    server = make_server(env.get("BIND_HOST") or "0.0.0.0", int(port_text), environ=env)
    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        if stopping.is_set():
            return
        stopping.set()
        log(f"received {signal.Signals(signum).name}: no longer accepting connections, draining")
        # shutdown() waits for serve_forever(), which runs in this (the main) thread: ask from another.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    host, port = server.server_address[:2]
    log(f"orders-service {server.version} listening on {host}:{port}")
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.socket.close()  # refuse new connections while the in-flight ones finish
        drained = server.drain(DRAIN_TIMEOUT_SECONDS)
        server.server_close()
    log("stopped" if drained else f"stopped with requests still running after {DRAIN_TIMEOUT_SECONDS:g} s")
    return 0
