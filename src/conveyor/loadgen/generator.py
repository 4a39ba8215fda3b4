"""The open-loop generator: request i is due at start + i / rate whatever the server does, so a
slow server shows as latency and failures, not as a lower rate. Requests only wait for a slot
when `concurrency` are already in flight; how late they start is reported (`max_lag_ms`,
`late_starts`, `achieved_rate`), so a generator that cannot keep up says so.

A fraction of the requests (`post_fraction`, 0 by default) are POSTs of a small JSON body to
`post_path` (a write, as a client's order would be), the rest GETs of the URL. POSTs are spread
evenly over the load and over new and reused connections.

A fraction of the requests (`keepalive_fraction`) goes over persistent HTTP/1.1 connections,
reused; the rest open a TCP connection each (`Connection: close`). A server may close a
persistent connection whenever it likes after a response (HTTP/1.0 servers always do; RFC 9112
§9.3): an idle connection the server closed is dropped and the next request opens a new one,
and a request on a reused connection that the server closes cleanly before any byte of an
answer is sent once more on a new connection (`stale_retries`), as HTTP clients do for
idempotent requests (RFC 9112 §9.3.1). A POST is not idempotent, so it is never sent twice: the
same clean close counts it as failed ("StaleConnection"). A reset after the request was sent, a
refusal, a timeout or a truncated answer is a failed request.

One thread runs an epoll loop over non-blocking sockets (conveyor.loadgen.http_client reads the
answers): no thread per request, so on a 2-core machine the server keeps most of a core
(bench/zero_downtime.py measures the cost).

    result = run_load("http://127.0.0.1:8080/", rate=200, duration=2)
"""

from __future__ import annotations

import errno
import math
import select
import socket
import threading
import time
from urllib.parse import urlsplit

from conveyor.loadgen.http_client import Connection, ResponseReader, error_name
from conveyor.loadgen.results import LoadResult, Sample, Tally, first_time_all

DEFAULT_CONCURRENCY = 32          # requests in flight at most; also bounds the keep-alive pool
DEFAULT_TIMEOUT_SECONDS = 5.0     # connect + full response
DEFAULT_VERSION_HEADER = "X-App-Version"
DEFAULT_POST_BODY = b'{"item": "loadgen", "quantity": 1}'
TIMEOUT_SCAN_SECONDS = 0.05       # how often in-flight requests are checked against their deadline
_READ = select.EPOLLIN
_WRITE = select.EPOLLOUT


class LoadGenerator:
    """A bounded constant-rate load (stops at `duration` seconds or `max_requests`, whichever first).

        gen = LoadGenerator("http://127.0.0.1:8080/", rate=500, duration=10)
        gen.start(); result = gen.wait()
    """

    def __init__(self, url: str, *, rate: float, duration: float | None = None, max_requests: int | None = None,
                 keepalive_fraction: float = 0.5, concurrency: int = DEFAULT_CONCURRENCY,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS, version_header: str | None = DEFAULT_VERSION_HEADER,
                 keep_samples: bool = True, post_fraction: float = 0.0, post_path: str | None = None,
                 post_body: bytes = DEFAULT_POST_BODY) -> None:
        if duration is None and max_requests is None:
            raise ValueError("a load must be bounded: give duration, max_requests or both")
        if rate <= 0 or (duration is not None and duration <= 0) or (max_requests is not None and max_requests < 1):
            raise ValueError("rate and duration must be > 0 and max_requests >= 1")
        if not 0.0 <= keepalive_fraction <= 1.0 or concurrency < 1 or timeout <= 0:
            raise ValueError("keepalive_fraction must be in [0, 1], concurrency >= 1 and timeout > 0")
        if not 0.0 <= post_fraction <= 1.0:
            raise ValueError("post_fraction must be in [0, 1]")
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"only http://host[:port]/path URLs are supported, got {url!r}")
        self.url, self.rate, self.timeout, self.concurrency = url, float(rate), timeout, concurrency
        self.keepalive_fraction, self.keep_samples = keepalive_fraction, keep_samples
        self.post_fraction = post_fraction
        slots = math.ceil(duration * rate - 1e-9) if duration is not None else math.inf  # 0.3 s x 10/s is 3
        self.planned = int(min(slots, max_requests if max_requests is not None else math.inf))
        port = parts.port or 80
        self._address = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)[0]
        host = parts.netloc.rsplit("@", 1)[-1]
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        post_path = post_path or path
        # (reuse, post) -> the request's bytes
        self._requests = {
            (reuse, post): (f"{'POST' if post else 'GET'} {post_path if post else path} HTTP/1.1\r\n"
                            f"Host: {host}\r\nUser-Agent: conveyor-loadgen\r\n"
                            + (f"Content-Type: application/json\r\nContent-Length: {len(post_body)}\r\n"
                               if post else "")
                            + f"Connection: {'keep-alive' if reuse else 'close'}\r\n\r\n").encode("ascii")
                           + (post_body if post else b"")
            for reuse in (True, False) for post in (True, False)}
        self._reader = ResponseReader(version_header)
        self._samples: list[Sample] = []
        self._lock = threading.Lock()
        self._tally = Tally()
        self._stopping = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self.started_at = 0.0
        self._end = 0.0
        self._opened = self._stale = 0
        self._cpu = 0.0
        self._crash: BaseException | None = None

    # -- control
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("a LoadGenerator runs once; make a new one")
        self._wake_r, self._wake_w = socket.socketpair()  # stop() wakes the loop through it
        self.started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="loadgen", daemon=True)
        self._thread.start()

    def stop(self) -> LoadResult:
        """Send no more requests, let those in flight finish (up to `timeout`), return the result."""
        if self._thread is None:
            raise RuntimeError("start() the load first")
        self._stopping.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        return self.wait()

    def wait(self) -> LoadResult:
        if self._thread is None:
            raise RuntimeError("start() the load first")
        self._thread.join()
        if self._crash is not None:
            raise RuntimeError("the load generator failed") from self._crash
        return self.result()

    @property
    def completed(self) -> int:
        """Requests finished so far (answered or failed)."""
        with self._lock:
            return self._tally.ok + self._tally.non_2xx + self._tally.errors

    def samples(self) -> list[Sample]:
        with self._lock:
            return list(self._samples)

    def first_time_all(self, version: str, after: float) -> float | None:
        """See the module function first_time_all, over this load's samples so far.

            rolled_back = gen.first_time_all("v1", after=t_rollback)  # latency: rolled_back - t_rollback
        """
        if not self.keep_samples:
            raise RuntimeError("first_time_all needs keep_samples=True")
        return first_time_all(self.samples(), version, after)

    def result(self) -> LoadResult:
        """The result so far (final once wait() or stop() returned)."""
        with self._lock:
            t = self._tally.snapshot()
        end = self._end if self._done.is_set() else time.monotonic()
        return t.result(url=self.url, rate=self.rate, started_at=self.started_at, end=end,
                        connections_opened=self._opened, stale_retries=self._stale, cpu_seconds=self._cpu)

    # -- the loop (its own thread; everything below runs there)
    def _run(self) -> None:
        cpu0 = time.thread_time()
        # epoll itself rather than selectors: closing a socket drops it from the set, one syscall less
        # per connection, and this loop is most of the generator's cost (Linux only, like the rest).
        self._epoll = select.epoll()
        self._epoll.register(self._wake_r.fileno(), select.EPOLLIN)
        self._fds: dict[int, Connection] = {}
        self._pool: list[Connection] = []     # idle persistent connections, most recent last
        self._busy: set[Connection] = set()
        try:
            self._loop()
        except BaseException as exc:  # noqa: BLE001 - surfaced by wait()
            self._crash = exc
        finally:
            for conn in [*self._busy, *self._pool]:
                self._close(conn)
            self._epoll.close()
            self._wake_r.close()
            self._wake_w.close()
            self._cpu = time.thread_time() - cpu0
            self._end = time.monotonic()
            self._done.set()

    def _loop(self) -> None:
        t0, interval, planned = self.started_at, 1.0 / self.rate, self.planned
        fraction, i, next_scan = self.keepalive_fraction, 0, t0 + TIMEOUT_SCAN_SECONDS
        while True:
            now = time.monotonic()
            while i < planned and not self._stopping.is_set() and len(self._busy) < self.concurrency:
                due = t0 + i * interval
                if due > now:
                    break
                # Request i reuses a connection when the running count of keep-alive requests steps up:
                # exactly round(n * fraction) of any n consecutive requests, spread evenly.
                reuse = math.floor((i + 1) * fraction) > math.floor(i * fraction)
                self._begin(reuse, _is_post(i, self.post_fraction), due)
                i += 1
                now = time.monotonic()
            if (i >= planned or self._stopping.is_set()) and not self._busy:
                return
            if now >= next_scan:
                self._expire(now)
                next_scan = now + TIMEOUT_SCAN_SECONDS
            wait = next_scan - now
            if i < planned and not self._stopping.is_set() and len(self._busy) < self.concurrency:
                wait = min(wait, t0 + i * interval - now)
            for fd, mask in self._epoll.poll(max(0.0, wait)):
                conn = self._fds.get(fd)
                if conn is not None:
                    self._on_event(conn, mask)
                elif fd == self._wake_r.fileno():
                    self._wake_r.recv(64)

    def _begin(self, reuse: bool, post: bool, due: float) -> None:
        start = time.monotonic()
        with self._lock:
            self._tally.started(start, due)
        conn = None
        while reuse and self._pool and conn is None:
            conn = self._pool.pop()
            if not conn.peer_open():      # closed since its last answer, and we have not seen it yet
                self._close(conn)
                conn = None
        if conn is not None:
            conn.begin(self._requests[True, post], start, self.timeout, reused=True, persistent=True, post=post)
            self._busy.add(conn)
            self._send(conn)
        else:
            self._open(reuse, post, start)

    def _open(self, persistent: bool, post: bool, start: float) -> None:
        sock = socket.socket(self._address[0], socket.SOCK_STREAM)
        sock.setblocking(False)
        conn = Connection(sock)
        self._opened += 1
        conn.begin(self._requests[persistent, post], start, self.timeout, reused=False, persistent=persistent,
                   post=post)
        self._busy.add(conn)
        code = sock.connect_ex(self._address[4])
        if code not in (0, errno.EINPROGRESS):
            self._fail(conn, error_name(code))
            return
        # On loopback the handshake is over when connect() returns, so send at once and skip a wait
        # for writability; elsewhere the send would block and _send waits for it.
        self._send(conn)

    def _send(self, conn: Connection) -> None:
        try:
            sent = conn.sock.send(conn.request[conn.sent:])
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            if conn.reused:                 # already reset before we sent anything: nothing was delivered
                self._retry(conn)
            else:
                self._fail(conn, error_name(exc))
            return
        conn.sent += sent
        conn.connected = conn.connected or sent > 0
        self._watch(conn, _READ if conn.sent == len(conn.request) else _WRITE)

    def _watch(self, conn: Connection, events: int) -> None:
        if conn.registered == events:
            return
        if conn.registered:
            self._epoll.modify(conn.fd, events)
        else:
            self._epoll.register(conn.fd, events)
            self._fds[conn.fd] = conn
        conn.registered = events

    def _on_event(self, conn: Connection, mask: int) -> None:
        if conn not in self._busy:          # an idle pooled connection became readable: the server closed it
            self._pool.remove(conn)
            self._close(conn)
            return
        if conn.registered == _WRITE:
            if not conn.connected:
                code = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    self._fail(conn, error_name(code))
                    return
                conn.connected = True
            self._send(conn)
            return
        try:
            data = conn.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as exc:              # a reset once the request was sent is a failure, reused or not
            self._fail(conn, error_name(exc))
            return
        if not data and conn.reused and not conn.buffer:
            self._retry(conn)               # closed cleanly, never answered: it closed before our request came
            return
        outcome = self._reader.feed(conn, data)
        if outcome is None:
            return                          # more bytes to come
        if isinstance(outcome, str):
            self._fail(conn, outcome)
            return
        status, version, reusable = outcome
        self._record(conn, status, None, version)
        self._busy.discard(conn)
        if reusable and conn.persistent and not self._stopping.is_set():
            conn.idle()
            self._watch(conn, _READ)
            self._pool.append(conn)
        else:
            self._close(conn)

    def _retry(self, conn: Connection) -> None:
        """The server closed this reused connection without reading our request (the keep-alive
        race: it closes after an answer while the next request is on its way): send it again on a
        new connection, once; counted in stale_retries. Not a POST: whether the server acted on it
        cannot be told, so it is a failure (RFC 9112 §9.3.1)."""
        if conn.post:
            self._fail(conn, "StaleConnection")
            return
        self._stale += 1
        self._busy.discard(conn)
        self._close(conn)
        self._open(True, False, conn.t_start)

    def _fail(self, conn: Connection, error: str) -> None:
        self._record(conn, None, error, None)
        self._busy.discard(conn)
        self._close(conn)

    def _expire(self, now: float) -> None:
        for conn in [c for c in self._busy if now >= c.deadline]:
            self._fail(conn, "Timeout")

    def _close(self, conn: Connection) -> None:
        if conn.registered:
            del self._fds[conn.fd]        # close() takes it out of the epoll set
            conn.registered = 0
        conn.sock.close()

    def _record(self, conn: Connection, status: int | None, error: str | None, version: str | None) -> None:
        sample = Sample(conn.t_start, time.monotonic(), status, error, version, conn.reused, conn.post)
        with self._lock:
            self._tally.add(sample)
            if self.keep_samples:
                self._samples.append(sample)


def _is_post(i: int, fraction: float) -> bool:
    """Whether request i is a POST: exactly round(n * fraction) of n consecutive pairs of requests,
    spread evenly; both requests of a pair, so with keepalive_fraction 0.5 (every other request
    reuses a connection) POSTs go over new and reused connections alike."""
    k = i // 2
    return math.floor((k + 1) * fraction) > math.floor(k * fraction)


def run_load(url: str, **kw: object) -> LoadResult:
    """Start a load and wait for its end: run_load(url, rate=200, duration=2)."""
    gen = LoadGenerator(url, **kw)  # type: ignore[arg-type]
    gen.start()
    return gen.wait()
