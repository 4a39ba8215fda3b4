"""The HTTP/1.1 client side of the load generator, just enough of it (RFC 9112): one TCP
connection with the request on it, the smallest response reader that handles Content-Length,
chunked and close-delimited bodies (and 1xx interim answers), and the names of socket errors as
a Sample reports them.

    >>> error_name(errno.ECONNREFUSED), error_name(errno.EHOSTUNREACH)
    ('ConnectionRefused', 'EHOSTUNREACH')
    >>> _chunked_end(bytearray(b"5\\r\\nhello\\r\\n0\\r\\n\\r\\n")), _chunked_end(bytearray(b"5\\r\\nhel"))
    (15, None)
"""

from __future__ import annotations

import errno
import socket

MAX_HEAD_BYTES = 64 * 1024        # a status line and headers longer than this are a bad response
NO_BODY_STATUSES = frozenset({204, 304})  # RFC 9112 §6.3: no content whatever the headers say

class Connection:
    """One TCP connection and the request on it."""

    __slots__ = ("buffer", "connected", "deadline", "fd", "head", "persistent", "post", "registered", "request",
                 "reused", "sent", "sock", "t_start")

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.fd = sock, sock.fileno()
        self.registered = 0               # the selector events it is registered for, 0 if none
        self.connected = False

    def begin(self, request: bytes, start: float, timeout: float, *, reused: bool, persistent: bool,
              post: bool = False) -> None:
        self.request, self.sent, self.t_start, self.deadline = request, 0, start, start + timeout
        self.reused, self.persistent, self.post = reused, persistent, post
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

