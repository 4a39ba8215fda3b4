"""The API's HTTP server: uvicorn (h11) in a thread of the daemon, on a socket bound up front
so that a taken port fails `conveyor up` at once ("Address already in use" in the log).

    server = ApiServer(create_app(api, allowed_hosts(host)), host, port)
    server.start()            # returns once it accepts connections
    server.address            # (host, port), the port chosen when 0 was asked
    server.stop()

Beyond uvicorn's own limits (idle keep-alive connections closed after a few seconds; 503 past a
number of connections; request line and headers over 16 KiB refused), its protocol here also
gives the request line and headers a deadline from the moment a connection opens or its last
answer ends: a client trickling header bytes (slowloris) is answered 408 and closed instead of
holding the connection for ever. The body's deadline is the app's (conveyor.server.asgi).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from conveyor.server.limits import DEFAULT_LIMITS, Limits

log = logging.getLogger("conveyor.api")

TIMEOUT_408 = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
               b"content-length: %d\r\n\r\n%s")


def protocol_with_header_deadline(seconds: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a deadline on each request's line and headers."""

    class HeaderDeadline(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            if not self.transport.is_closing():
                self._deadline = self.loop.call_later(seconds, self._expired, self.cycle)

        def _expired(self, cycle: Any) -> None:
            """No complete request line and headers since the deadline was set: the same
            request cycle (or none) is current, and it has answered already."""
            if self.transport.is_closing() or self.cycle is not cycle:
                return
            if cycle is not None and not cycle.response_complete:
                return
            body = b'{"error": {"type": "RequestTimeout", "message": "the request headers did not arrive in time", ' \
                   b'"hint": null}}'
            self.transport.write(TIMEOUT_408 % (len(body), body))
            self.transport.close()

    return HeaderDeadline


class ApiServer:
    def __init__(self, app: Any, host: str, port: int, limits: Limits = DEFAULT_LIMITS):
        self.sock = _bind(host, port)
        self.address: tuple[str, int] = self.sock.getsockname()[:2]
        self.config = uvicorn.Config(
            app, http=protocol_with_header_deadline(limits.header_seconds), ws="none", lifespan="off",
            interface="asgi3", proxy_headers=False, log_config=None, access_log=False, server_header=False,
            timeout_keep_alive=int(max(1, limits.keep_alive_seconds)), limit_concurrency=limits.connections,
            h11_max_incomplete_event_size=limits.header_bytes, timeout_graceful_shutdown=5)
        self.server = uvicorn.Server(self.config)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="api", daemon=True)
        self._thread.start()
        while not self.server.started and self._thread.is_alive():
            self._thread.join(0.01)
        if not self.server.started:
            raise RuntimeError("the API server did not start (see the log)")

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def serve_forever(self) -> None:
        """In the calling thread, until stop() (from a signal handler or another thread)."""
        self._run()

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self.sock.close()


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)
    return sock
