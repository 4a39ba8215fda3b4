"""A local webhook receiver: what a team's endpoint does with Conveyor's webhooks, small enough to
run beside a test, the demo, or a user trying a notification rule.

    with Receiver(secret="s3cret-signing-key") as rx:          # 127.0.0.1, a free port
        ... point a webhook target at rx.url ...
        rx.wait_for(3)                                         # 3 distinct deliveries accepted
        for line in rx.report(): print(line)
        rx.attempts["d-1"], rx.accepted["d-1"]                  # arrivals / 2xx answers per delivery id
        rx.fail_next(2, status=503); rx.delay_next(1, 5.0); rx.reset_next(1)   # misbehave on demand

Every POST is recorded (path, headers, body, whether its signature verified and why not, what was
answered). A request whose signature does not verify is answered 401; one whose delivery id was
already accepted is answered 200 and marked a duplicate (so a sender stops retrying it) but
counted, which is how a test sees a delivery sent twice. `GET /deliveries` returns the record as
JSON, for a receiver running in another process. Without a secret nothing is verified: the same
server then stands in for the GitHub/GitLab status APIs in tests.

Verifying a delivery: the reference implementation for receivers
----------------------------------------------------------------
`verify_signature` is the whole check a receiver must make, in this order:

1. `X-Conveyor-Timestamp` is decimal Unix seconds within `window` (default 300 s) of the
   receiver's clock, in either direction; else refuse: an old captured request replayed.
2. Compute HMAC-SHA256 with the shared secret as key over the bytes
   `<X-Conveyor-Timestamp> "." <raw request body>`, exactly as received (before any JSON parsing;
   re-serialising changes bytes), hex-encode it (lower case) and prefix `sha256=`.
3. Compare it with `X-Conveyor-Signature-256` in constant time (hmac.compare_digest); else refuse.
4. Then deduplicate on `X-Conveyor-Delivery`: remember accepted ids at least as long as the
   window, and answer a repeat with 2xx without acting on it again (a retry after a lost answer,
   or a replay inside the window).

Answer 2xx quickly once accepted; 5xx, 408 or 429 asks Conveyor to retry later, any other 4xx
tells it to give up.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import ssl
import struct
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

SIGNATURE_HEADER = "X-Conveyor-Signature-256"
TIMESTAMP_HEADER = "X-Conveyor-Timestamp"
DELIVERY_HEADER = "X-Conveyor-Delivery"
EVENT_HEADER = "X-Conveyor-Event"
DEFAULT_WINDOW = 300.0
MAX_BODY = 1024 * 1024


def signature_problem(secret: str | bytes, timestamp: str | None, body: bytes, header: str | None, *,
                      now: float, window: float = DEFAULT_WINDOW) -> str | None:
    """Why this request must be refused, or None if its signature and timestamp are good."""
    if not timestamp or not header:
        return "unsigned: no timestamp or signature header"
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return "timestamp is not Unix seconds"
    if abs(now - int(timestamp)) > window:
        return f"timestamp outside the {window:g}s window (replayed or clock skew)"
    key = secret.encode() if isinstance(secret, str) else secret
    expected = "sha256=" + hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), header.strip().encode()):
        return "signature does not match"
    return None


def verify_signature(secret: str | bytes, timestamp: str | None, body: bytes, header: str | None, *,
                     now: float, window: float = DEFAULT_WINDOW) -> bool:
    """True if `header` is the signature of `body` at `timestamp` and the timestamp is fresh."""
    return signature_problem(secret, timestamp, body, header, now=now, window=window) is None


@dataclass
class Received:
    """One request as it arrived and how it was answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool | None          # None: the receiver has no secret
    problem: str | None
    answer: str                    # "200", "401", "503 (on demand)", "reset", "delayed 5s then 200"
    accepted: bool = False         # answered 2xx after its signature verified (or with no secret)
    duplicate: bool = False        # accepted, but its delivery id had been accepted before

    @property
    def delivery_id(self) -> str:
        return self.header(DELIVERY_HEADER)

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), "")

    def json(self) -> Any:
        return json.loads(self.body)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["body"] = self.body.decode("utf-8", "replace")
        return out


@dataclass
class _Plan:
    """What to do with the next requests, in order."""

    steps: list[tuple[str, float]] = field(default_factory=list)   # ("status", code) / ("delay", s) / ("reset", 0)


class Receiver:
    def __init__(self, secret: str | None = None, *, window: float = DEFAULT_WINDOW,
                 clock: Callable[[], float] = time.time, host: str = "127.0.0.1", port: int = 0,
                 status: int = 200, tls: tuple[str, str] | None = None,
                 on_delivery: Callable[[Received], None] | None = None):
        """`tls`: (certificate file, key file) to serve https; `on_delivery` is called (in the
        server's thread) with each accepted first arrival of a delivery id."""
        self.secret = secret
        self.on_delivery = on_delivery
        self.window = window
        self.clock = clock
        self.status = status
        self.requests: list[Received] = []
        self.attempts: dict[str, int] = {}
        self.accepted: dict[str, int] = {}
        self._plan = _Plan()
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self._scheme = "http"
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self._scheme = "https"
        self._thread: threading.Thread | None = None

    # -- lifecycle
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host!s}:{port}/"

    def start(self) -> "Receiver":
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="conveyor-receiver",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join()

    def __enter__(self) -> "Receiver":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- misbehaving on demand
    def fail_next(self, count: int, status: int = 500) -> None:
        self._add([("status", float(status))] * count)

    def delay_next(self, count: int, seconds: float) -> None:
        """Answer the next `count` requests only after `seconds` (a sender's timeout fires first)."""
        self._add([("delay", seconds)] * count)

    def reset_next(self, count: int) -> None:
        """Reset the connection (TCP RST) instead of answering the next `count` requests."""
        self._add([("reset", 0.0)] * count)

    def _add(self, steps: list[tuple[str, float]]) -> None:
        with self._lock:
            self._plan.steps.extend(steps)

    # -- what arrived
    def deliveries(self) -> list[Received]:
        """The accepted requests, first arrival of each delivery id only, in arrival order."""
        with self._lock:
            return [r for r in self.requests if r.accepted and not r.duplicate]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until `count` distinct deliveries were accepted (or `timeout` passes)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while (sum(1 for r in self.requests if r.accepted and not r.duplicate) < count
                   and time.monotonic() < deadline):
                self._lock.wait(deadline - time.monotonic())
        return self.deliveries()

    def report(self) -> list[str]:
        """One line per accepted delivery, for a person: type, summary, verified."""
        return [describe(r) for r in self.deliveries()]

    # -- the handler's side
    def _next_step(self) -> tuple[str, float] | None:
        with self._lock:
            return self._plan.steps.pop(0) if self._plan.steps else None

    def _record(self, received: Received, accepted: bool) -> None:
        with self._lock:
            did = received.delivery_id
            if did:
                self.attempts[did] = self.attempts.get(did, 0) + 1
                if accepted:
                    received.accepted = True
                    received.duplicate = did in self.accepted
                    self.accepted[did] = self.accepted.get(did, 0) + 1
            elif accepted:
                received.accepted = True
            self.requests.append(received)
            self._lock.notify_all()
        if received.accepted and not received.duplicate and self.on_delivery is not None:
            self.on_delivery(received)


def describe(r: Received) -> str:
    """One line for a person: event type, summary, whether the signature verified, delivery id."""
    try:
        data = r.json()
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    event = r.header(EVENT_HEADER) or str(data.get("type") or "?")
    inner: dict[str, Any] = data["data"] if isinstance(data.get("data"), dict) else {}
    custom: dict[str, Any] = inner["customData"] if isinstance(inner.get("customData"), dict) else inner
    summary = data.get("summary") or custom.get("summary", "")
    mark = "signature ok" if r.verified else ("no secret" if r.verified is None else "BAD SIGNATURE")
    return f"{event:32} {summary}  [{mark}, delivery {r.delivery_id}]"


def main(argv: list[str] | None = None) -> int:
    """`python -m conveyor.notify.receiver [--port N] [--window S]`: receive webhooks on 127.0.0.1
    and print each delivery; the signing secret is read from CONVEYOR_RECEIVER_SECRET (never from
    the command line, where other users of the machine could read it)."""
    import argparse
    import os

    parser = argparse.ArgumentParser(prog="python -m conveyor.notify.receiver", description=main.__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--window", type=float, default=DEFAULT_WINDOW)
    args = parser.parse_args(argv)
    secret = os.environ.get("CONVEYOR_RECEIVER_SECRET") or None
    rx = Receiver(secret, window=args.window, port=args.port, on_delivery=lambda r: print(describe(r), flush=True))
    with rx:
        print(f"listening on {rx.url} ({'verifying signatures' if secret else 'no secret: not verifying'})",
              flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


def _handler(rx: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the record is the log
            pass

        def do_GET(self) -> None:
            if self.path.rstrip("/") != "/deliveries":
                self._answer(404, b"not found\n")
                return
            with rx._lock:
                body = json.dumps([r.as_dict() for r in rx.requests], indent=1).encode()
            self._answer(200, body, "application/json")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._answer(413, b"too large\n")
                return
            body = self.rfile.read(length)
            headers = {k: v for k, v in self.headers.items()}
            verified, problem = None, None
            if rx.secret is not None:
                problem = signature_problem(rx.secret, self.headers.get(TIMESTAMP_HEADER), body,
                                            self.headers.get(SIGNATURE_HEADER), now=rx.clock(), window=rx.window)
                verified = problem is None
            step = rx._next_step()
            received = Received("POST", self.path, headers, body, verified, problem, "")
            if step and step[0] == "reset":
                received.answer = "reset"
                rx._record(received, accepted=False)
                self._reset()
                return
            prefix = ""
            if step and step[0] == "delay":
                rx._stopping.wait(step[1])
                prefix = f"delayed {step[1]:g}s then "
            if step and step[0] == "status":
                code = int(step[1])
                received.answer = f"{code} (on demand)"
                rx._record(received, accepted=False)
                self._answer(code, b"failing on demand\n")
                return
            if verified is False:
                received.answer = prefix + "401"
                rx._record(received, accepted=False)
                self._answer(401, f"refused: {problem}\n".encode())
                return
            received.answer = prefix + str(rx.status)
            rx._record(received, accepted=200 <= rx.status < 300)
            self._answer(rx.status, b"duplicate\n" if received.duplicate else b"ok\n")

        def _answer(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:   # the sender gave up (its timeout) before the answer
                self.close_connection = True

        def finish(self) -> None:
            try:
                super().finish()
            except (OSError, ValueError):   # the connection was reset on purpose, or by the sender
                pass

        def _reset(self) -> None:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

    return Handler


if __name__ == "__main__":
    raise SystemExit(main())
