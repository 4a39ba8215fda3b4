"""What a request to the API may cost the daemon: its size, how long it may take to arrive and
how deep its JSON may nest. Every limit refuses with a 4xx before the work it guards is done:
the length before the body is read, the body before it is parsed, the nesting before any route.

    >>> json_body(b'{"a": [1, {"b": 2}]}', Limits())
    {'a': [1, {'b': 2}]}
    >>> json_body(b'{"a": ' * 100 + b'1' + b'}' * 100, Limits())
    Traceback (most recent call last):
    ...
    conveyor.server.limits.Refused: 400 malformed JSON body: request body:1:193: nested more than 32 levels deep
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conveyor.documents.limits import Limits as DocumentLimits
from conveyor.documents.located import parse_json_limited
from conveyor.errors import UserError


@dataclass(frozen=True)
class Limits:
    body_bytes: int = 1 << 20       # the largest request body (a deploy with its task definition is ~10 KiB)
    body_seconds: float = 10.0      # from the end of the headers to the end of the body
    header_seconds: float = 10.0    # from the connection (or the previous answer) to the end of the headers
    header_bytes: int = 16384       # request line and headers together (h11's own default)
    keep_alive_seconds: float = 5.0  # an idle connection between requests
    json_depth: int = 32            # nesting of objects and arrays
    json_nodes: int = 100_000       # values in the body, all levels together
    connections: int = 100          # open connections (and requests) at once; more get 503


DEFAULT_LIMITS = Limits()


class Refused(Exception):
    """A request refused for what it is, with its HTTP status."""

    def __init__(self, status: int, message: str, kind: str = "BadRequest"):
        super().__init__(f"{status} {message}")
        self.status, self.message, self.kind = status, message, kind


def declared_length(headers: dict[str, str], method: str, limits: Limits) -> int:
    """The body length a request announces, checked before a byte of it is read: a body must
    come with a Content-Length (no chunked uploads) that is a plain number within the limit.
    A request with neither header has no body (RFC 9112 6.3); a POST must say so explicitly."""
    raw = headers.get("content-length")
    if raw is None:
        if "transfer-encoding" in headers or method == "POST":
            raise Refused(411, "a request body needs a Content-Length header (send '{}' for an empty one)",
                          "LengthRequired")
        return 0
    if not raw.isascii() or not raw.strip().isdigit():
        raise Refused(400, f"Content-Length is not a number: {raw[:40]!r}")
    length = int(raw.strip())
    if length > limits.body_bytes:
        raise Refused(413, f"request body too large: {length} bytes, the limit is {limits.body_bytes}", "TooLarge")
    return length


def json_body(data: bytes, limits: Limits) -> Any:
    """The body as a JSON object; {} when empty. Read by the same limited reader as every file
    Conveyor parses (conveyor.documents: depth, values, digits, NUL and lone surrogates), with
    the API's tighter depth and value count."""
    if not data.strip():
        return {}
    bounds = DocumentLimits(max_bytes=limits.body_bytes, max_depth=limits.json_depth, max_nodes=limits.json_nodes)
    try:
        value = parse_json_limited(data, "request body", bounds)
    except UserError as exc:
        raise Refused(400, f"malformed JSON body: {exc}") from None
    if not isinstance(value, dict):
        raise Refused(400, "the JSON body must be an object")
    return value
