"""Constant-rate HTTP load against a local listener, keeping every request's timestamps, status,
error and version header: the instrument behind the zero-downtime benchmark and the e2e tests.

    gen = LoadGenerator("http://127.0.0.1:8080/version", rate=1000, max_requests=20_000)
    gen.start()                      # background; returns at once
    ...                              # deploy, roll back, ...
    result = gen.wait()              # or gen.stop() to end early
    assert result.failed() == 0 and result.longest_gap_ms < 100
    back = gen.first_time_all("v1", after=rollback_started)   # rollback latency = back - rollback_started

Open loop: request i is due at start + i / rate whatever the server does, so a slow server
shows as latency and failures, not as a lower rate. Requests only wait for a slot when
`concurrency` are already in flight; how late they start is reported (`max_lag_ms`,
`late_starts`, `achieved_rate`), so a generator that cannot keep up says so.

A fraction of the requests (`keepalive_fraction`) goes over persistent HTTP/1.1 connections,
reused; the rest open a TCP connection each (`Connection: close`). A server may close a
persistent connection whenever it likes after a response (HTTP/1.0 servers always do; RFC 9112
§9.3): an idle connection the server closed is dropped and the next request opens a new one,
and a request on a reused connection that the server closes cleanly before any byte of an
answer is sent once more on a new connection (`stale_retries`), as HTTP clients do for
idempotent requests (RFC 9112 §9.3.1). A reset after the request was sent, a refusal, a
timeout or a truncated answer is a failed request.

One thread runs an epoll loop over non-blocking sockets, with the smallest HTTP/1.1 reader
that handles Content-Length, chunked and close-delimited bodies: no thread per request, so on a
2-core machine the server keeps most of a core (bench/zero_downtime.py measures the cost).
"""

from __future__ import annotations

import copy
import errno
import math
import select
import socket
import statistics
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_CONCURRENCY = 32          # requests in flight at most; also bounds the keep-alive pool
DEFAULT_TIMEOUT_SECONDS = 5.0     # connect + full response
DEFAULT_VERSION_HEADER = "X-App-Version"
LATE_START_MS = 10.0              # a request starting later than this after its slot is a late start
TIMEOUT_SCAN_SECONDS = 0.05       # how often in-flight requests are checked against their deadline
CLEAN_MAX_LAG_MS = 50.0           # max_sustainable_rate: a probe is clean if no request starts later,
CLEAN_ACHIEVED_FRACTION = 0.95    # ... at least this fraction of the target rate is sent,
                                  # ... and no request fails
_READ = select.EPOLLIN
_WRITE = select.EPOLLOUT
MAX_HEAD_BYTES = 64 * 1024        # a status line and headers longer than this are a bad response
NO_BODY_STATUSES = frozenset({204, 304})  # RFC 9112 §6.3: no content whatever the headers say


# -- the HTTP/1.1 client side, just enough of it (RFC 9112)

class Connection:
    """One TCP connection and the request on it."""

    __slots__ = ("buffer", "connected", "deadline", "fd", "head", "persistent", "registered", "request", "reused",
                 "sent", "sock", "t_start")

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.fd = sock, sock.fileno()
        self.registered = 0               # the selector events it is registered for, 0 if none
        self.connected = False

    def begin(self, request: bytes, start: float, timeout: float, *, reused: bool, persistent: bool) -> None:
        self.request, self.sent, self.t_start, self.deadline = request, 0, start, start + timeout
        self.reused, self.persistent = reused, persistent
        self.connected = self.connected or reused
        self.buffer = bytearray()
        self.head: tuple[int, str | None, int | str, bool] | None = None
        self.idle()

    def peer_open(self) -> bool:
        """False if the server closed the connection (or sent bytes nobody asked for)."""
        try:
            return self.sock.recv(1, socket.MSG_PEEK) is None
        except BlockingIOError:
            return True
        except OSError:
            return False

    def idle(self) -> None:
        self.buffer = bytearray()
        self.head = None


class ResponseReader:
    """Reads one response per request off a Connection's buffer."""

    def __init__(self, version_header: str | None) -> None:
        self.version_key = version_header.lower().encode("ascii") if version_header else None

    def feed(self, conn: Connection, data: bytes) -> tuple[int, str | None, bool] | str | None:
        """(status, version, reusable) once the response is complete, an error name if it cannot
        be, None while more bytes are needed. `data` empty means the server closed the connection."""
        eof = not data
        buf = conn.buffer
        buf += data
        while conn.head is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return "RemoteDisconnected" if eof else ("BadResponse" if len(buf) > MAX_HEAD_BYTES else None)
            head = self._parse_head(bytes(buf[:end]))
            del buf[:end + 4]
            if head is None:
                return "BadResponse"
            if head[0] >= 200:
                conn.head = head
            # 1xx: an interim response; the final one follows on the same connection
        status, version, framing, reusable = conn.head
        if framing == "close":
            return (status, version, False) if eof else None
        if framing == "chunked":
            complete = _chunked_end(buf)
            if complete is None:
                return "RemoteDisconnected" if eof else None
            return "BadResponse" if complete < 0 else (status, version, reusable)
        if len(buf) >= framing:  # type: ignore[operator]
            return status, version, reusable and len(buf) == framing
        return "RemoteDisconnected" if eof else None

    def _parse_head(self, head: bytes) -> tuple[int, str | None, int | str, bool] | None:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            return None
        status = int(parts[1])
        fields: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if sep:
                fields[name.strip().lower()] = value.strip()
        tokens = fields.get(b"connection", b"").lower()
        reusable = b"close" not in tokens if parts[0] == b"HTTP/1.1" else b"keep-alive" in tokens
        version = None
        if self.version_key is not None and self.version_key in fields:
            version = fields[self.version_key].decode("latin-1")
        framing: int | str
        if status in NO_BODY_STATUSES or status < 200:
            framing = 0
        elif b"chunked" in fields.get(b"transfer-encoding", b"").lower():
            framing = "chunked"
        elif fields.get(b"content-length", b"").isdigit():
            framing = int(fields[b"content-length"])
        else:
            framing, reusable = "close", False
        return status, version, framing, reusable


def _chunked_end(buf: bytearray) -> int | None:
    """Where a complete chunked body ends in buf; None if incomplete, -1 if malformed."""
    pos = 0
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        try:
            size = int(bytes(buf[pos:eol]).split(b";", 1)[0].strip(), 16)
        except ValueError:
            return -1
        pos = eol + 2
        if size == 0:  # then trailer fields, ended by an empty line
            if buf[pos:pos + 2] == b"\r\n":
                return pos + 2
            end = buf.find(b"\r\n\r\n", pos)
            return None if end < 0 else end + 4
        if len(buf) < pos + size + 2:
            return None
        pos += size + 2


_ERROR_NAMES = {errno.ECONNREFUSED: "ConnectionRefused", errno.ECONNRESET: "ConnectionReset",
                errno.EPIPE: "BrokenPipe", errno.ECONNABORTED: "ConnectionAborted", errno.ETIMEDOUT: "Timeout"}


def error_name(error: OSError | int) -> str:
    """ConnectionRefusedError / ECONNREFUSED -> "ConnectionRefused"; other errnos by their symbol."""
    code = error if isinstance(error, int) else error.errno
    if code in _ERROR_NAMES:
        return _ERROR_NAMES[code]
    if code is not None:
        return errno.errorcode.get(code, f"errno{code}")
    return type(error).__name__


@dataclass(slots=True)
class Sample:
    """One request. Times are time.monotonic(); status None means no HTTP answer (see error)."""

    t_start: float
    t_end: float
    status: int | None
    error: str | None             # "ConnectionRefused", "ConnectionReset", "Timeout", "RemoteDisconnected", ...
    version: str | None           # the version header's value, None if absent or not asked for
    keepalive: bool               # sent on a reused keep-alive connection

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class LoadResult:
    url: str
    rate: float                   # target requests/s
    duration: float               # seconds from the first slot to the last answer
    total: int                    # requests sent
    ok: int                       # 2xx
    non_2xx: int
    errors: int                   # no HTTP answer: refused, reset, timeout, truncated
    status_counts: dict[str, int]
    error_counts: dict[str, int]
    longest_gap_ms: float         # between consecutive 2xx answers (by arrival), first to last
    latency_ms: dict[str, float]  # p50, p90, p99, max over answered requests
    achieved_rate: float          # requests sent per second of the sending window
    max_lag_ms: float             # worst start time after a request's slot
    versions: dict[str, int]      # 2xx answers per version header value ("" when absent)
    late_starts: int = 0          # requests started more than LATE_START_MS after their slot
    keepalive_requests: int = 0   # sent on a reused connection
    connections_opened: int = 0
    stale_retries: int = 0        # re-sent on a new connection after a reused one was found closed
    longest_gap_at: float | None = None  # seconds from start to the 2xx answer that ended the longest gap
    max_lag_at: float | None = None  # seconds from start to the request that started latest
    started_at: float = 0.0       # time.monotonic() of the first slot
    cpu_seconds: float = 0.0      # CPU time of the generator's thread

    def failed(self) -> int:
        return self.non_2xx + self.errors

    def to_json(self) -> dict:
        out = {
            "url": self.url, "rate": self.rate, "duration": round(self.duration, 3), "total": self.total,
            "ok": self.ok, "non_2xx": self.non_2xx, "errors": self.errors, "failed": self.failed(),
            "status_counts": dict(self.status_counts), "error_counts": dict(self.error_counts),
            "longest_gap_ms": round(self.longest_gap_ms, 2),
            "longest_gap_at": None if self.longest_gap_at is None else round(self.longest_gap_at, 3),
            "latency_ms": {k: round(v, 2) for k, v in self.latency_ms.items()},
            "achieved_rate": round(self.achieved_rate, 1), "max_lag_ms": round(self.max_lag_ms, 2),
            "max_lag_at": None if self.max_lag_at is None else round(self.max_lag_at, 3),
            "late_starts": self.late_starts, "versions": dict(self.versions),
            "keepalive_requests": self.keepalive_requests, "connections_opened": self.connections_opened,
            "stale_retries": self.stale_retries, "cpu_seconds": round(self.cpu_seconds, 3),
        }
        out["cpu_percent_of_one_core"] = round(100 * self.cpu_seconds / self.duration, 1) if self.duration else None
        return out


@dataclass
class _Tally:
    """Counts kept as requests finish (they finish in t_end order: one thread, one clock)."""

    status_counts: dict[str, int] = field(default_factory=dict)
    error_counts: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    non_2xx: int = 0
    errors: int = 0
    keepalive: int = 0
    last_ok: float | None = None
    longest_gap: float = 0.0
    longest_gap_end: float | None = None
    max_lag: float = 0.0
    max_lag_at: float | None = None
    late: int = 0
    last_start: float | None = None

    def add(self, s: Sample) -> None:
        self.keepalive += s.keepalive
        if s.status is None:
            self.errors += 1
            key = s.error or "Unknown"
            self.error_counts[key] = self.error_counts.get(key, 0) + 1
            return
        self.latencies.append(s.t_end - s.t_start)
        code = str(s.status)
        self.status_counts[code] = self.status_counts.get(code, 0) + 1
        if not s.ok:
            self.non_2xx += 1
            return
        self.ok += 1
        v = s.version or ""
        self.versions[v] = self.versions.get(v, 0) + 1
        if self.last_ok is not None and s.t_end - self.last_ok > self.longest_gap:
            self.longest_gap, self.longest_gap_end = s.t_end - self.last_ok, s.t_end
        self.last_ok = s.t_end


class LoadGenerator:
    """A bounded constant-rate load (stops at `duration` seconds or `max_requests`, whichever first).

        gen = LoadGenerator("http://127.0.0.1:8080/", rate=500, duration=10)
        gen.start(); result = gen.wait()
    """

    def __init__(self, url: str, *, rate: float, duration: float | None = None, max_requests: int | None = None,
                 keepalive_fraction: float = 0.5, concurrency: int = DEFAULT_CONCURRENCY,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS, version_header: str | None = DEFAULT_VERSION_HEADER,
                 keep_samples: bool = True) -> None:
        if duration is None and max_requests is None:
            raise ValueError("a load must be bounded: give duration, max_requests or both")
        if rate <= 0 or (duration is not None and duration <= 0) or (max_requests is not None and max_requests < 1):
            raise ValueError("rate and duration must be > 0 and max_requests >= 1")
        if not 0.0 <= keepalive_fraction <= 1.0 or concurrency < 1 or timeout <= 0:
            raise ValueError("keepalive_fraction must be in [0, 1], concurrency >= 1 and timeout > 0")
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"only http://host[:port]/path URLs are supported, got {url!r}")
        self.url, self.rate, self.timeout, self.concurrency = url, float(rate), timeout, concurrency
        self.keepalive_fraction, self.keep_samples = keepalive_fraction, keep_samples
        slots = math.ceil(duration * rate - 1e-9) if duration is not None else math.inf  # 0.3 s x 10/s is 3
        self.planned = int(min(slots, max_requests if max_requests is not None else math.inf))
        port = parts.port or 80
        self._address = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)[0]
        host = parts.netloc.rsplit("@", 1)[-1]
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._requests = {
            reuse: (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: conveyor-loadgen\r\n"
                    f"Connection: {'keep-alive' if reuse else 'close'}\r\n\r\n").encode("ascii")
            for reuse in (True, False)}
        self._reader = ResponseReader(version_header)
        self._samples: list[Sample] = []
        self._lock = threading.Lock()
        self._tally = _Tally()
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
            t = copy.copy(self._tally)
            t.latencies = sorted(t.latencies)
            t.status_counts, t.error_counts, t.versions = dict(t.status_counts), dict(t.error_counts), dict(t.versions)
        end = self._end if self._done.is_set() else time.monotonic()
        total = t.ok + t.non_2xx + t.errors
        window = (t.last_start - self.started_at + 1 / self.rate) if t.last_start is not None else 0.0
        return LoadResult(
            url=self.url, rate=self.rate, duration=max(0.0, end - self.started_at), total=total, ok=t.ok,
            non_2xx=t.non_2xx, errors=t.errors, status_counts=t.status_counts, error_counts=t.error_counts,
            longest_gap_ms=t.longest_gap * 1000, latency_ms=_latency_summary(t.latencies),
            achieved_rate=total / window if window > 0 else 0.0, max_lag_ms=t.max_lag * 1000,
            versions=t.versions, late_starts=t.late, keepalive_requests=t.keepalive,
            connections_opened=self._opened, stale_retries=self._stale,
            longest_gap_at=None if t.longest_gap_end is None else t.longest_gap_end - self.started_at,
            max_lag_at=None if t.max_lag_at is None else t.max_lag_at - self.started_at,
            started_at=self.started_at, cpu_seconds=self._cpu)

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
                self._begin(reuse, due)
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

    def _begin(self, reuse: bool, due: float) -> None:
        start = time.monotonic()
        lag = start - due
        with self._lock:
            t = self._tally
            t.last_start = start
            if lag > t.max_lag:
                t.max_lag, t.max_lag_at = lag, start
            if lag * 1000 > LATE_START_MS:
                t.late += 1
        conn = None
        while reuse and self._pool and conn is None:
            conn = self._pool.pop()
            if not conn.peer_open():      # closed since its last answer, and we have not seen it yet
                self._close(conn)
                conn = None
        if conn is not None:
            conn.begin(self._requests[True], start, self.timeout, reused=True, persistent=True)
            self._busy.add(conn)
            self._send(conn)
        else:
            self._open(reuse, start)

    def _open(self, persistent: bool, start: float) -> None:
        sock = socket.socket(self._address[0], socket.SOCK_STREAM)
        sock.setblocking(False)
        conn = Connection(sock)
        self._opened += 1
        conn.begin(self._requests[persistent], start, self.timeout, reused=False, persistent=persistent)
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
        new connection, once; counted in stale_retries."""
        self._stale += 1
        self._busy.discard(conn)
        self._close(conn)
        self._open(True, conn.t_start)

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
        sample = Sample(conn.t_start, time.monotonic(), status, error, version, conn.reused)
        with self._lock:
            self._tally.add(sample)
            if self.keep_samples:
                self._samples.append(sample)


def first_time_all(samples: list[Sample], version: str, after: float) -> float | None:
    """When the final run of 2xx answers carrying `version` began: the arrival time (t_end) of the
    first 2xx answer at or after `after` from which every later 2xx answer carries `version`.
    None if no 2xx answer arrived after `after`, or the last one carries another version.
    Samples are taken in arrival order (as LoadGenerator.samples() returns them).
    """
    oks = [s for s in samples if s.ok and s.t_end >= after]
    if not oks or oks[-1].version != version:
        return None
    k = len(oks) - 1
    while k > 0 and oks[k - 1].version == version:
        k -= 1
    return oks[k].t_end


def _latency_summary(ordered: list[float]) -> dict[str, float]:
    if not ordered:
        return {}
    if len(ordered) == 1:
        return {k: ordered[0] * 1000 for k in ("p50", "p90", "p99", "max")}
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": cuts[49] * 1000, "p90": cuts[89] * 1000, "p99": cuts[98] * 1000, "max": ordered[-1] * 1000}


def run_load(url: str, **kw: object) -> LoadResult:
    """Start a load and wait for its end: run_load(url, rate=200, duration=2)."""
    gen = LoadGenerator(url, **kw)  # type: ignore[arg-type]
    gen.start()
    return gen.wait()


def is_clean(result: LoadResult) -> bool:
    """The generator kept its schedule and every request succeeded."""
    return (result.failed() == 0 and result.max_lag_ms <= CLEAN_MAX_LAG_MS
            and result.achieved_rate >= CLEAN_ACHIEVED_FRACTION * result.rate)


def rate_probes(url: str, *, start: float = 200, limit: float = 5000, step_factor: float = 1.5,
                probe_seconds: float = 3.0, **kw: object) -> list[LoadResult]:
    """Loads of `probe_seconds` at start, start*step_factor, ... up to `limit`, ending after the
    first one that is not clean (see is_clean)."""
    if step_factor <= 1:
        raise ValueError("step_factor must be > 1")
    probes, rate = [], float(start)
    while rate <= limit:
        probes.append(run_load(url, rate=rate, duration=probe_seconds, **kw))
        if not is_clean(probes[-1]):
            break
        rate *= step_factor
    return probes


def max_sustainable_rate(url: str, *, start: float = 200, limit: float = 5000, step_factor: float = 1.5,
                         probe_seconds: float = 3.0, **kw: object) -> float:
    """The highest probed rate (see rate_probes) that was clean; 0.0 if none was."""
    probes = rate_probes(url, start=start, limit=limit, step_factor=step_factor, probe_seconds=probe_seconds, **kw)
    return max((p.rate for p in probes if is_clean(p)), default=0.0)
