"""HTTP hooks: POST the invocation as JSON (hooks_contract.hook_payload) and read the answer.

    2xx with a JSON object carrying hookStatus/status   → that report (hooks_contract)
    202 without one                                      → Pending: the hook reports later
    other 2xx without one                                → Succeeded
    anything else (3xx included: redirects are not followed), refused, timed out → Failed

    result = post_hook("http://127.0.0.1:8000/smoke", ctx, timeout=30)
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit

from conveyor import __version__
from conveyor.providers.local.codedeploy.hooks_contract import (
    FAILED,
    LOG_TAIL_CHARS,
    PENDING,
    SUCCEEDED,
    HookContext,
    HookResult,
    hook_payload,
    report_from,
    result_from_report,
)

SCHEMES = ("http", "https")
#: At most this much of a response body is read (a report is a few hundred bytes).
MAX_BODY_BYTES = 1 << 20
#: How much of an error response's body a Failed message quotes.
BODY_EXCERPT_CHARS = 200
#: How often a waiting invocation looks at its cancel event.
CANCEL_POLL = 0.05
USER_AGENT = f"conveyor/{__version__} (lifecycle hook)"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx


_OPENER = urllib.request.build_opener(_NoRedirects)


def post_hook(url: str, ctx: HookContext, *, timeout: float, cancel: threading.Event | None = None,
              mask: Callable[[str], str] = lambda s: s) -> HookResult:
    """One POST to `url`, answered within `timeout` seconds (the whole exchange, not per read).
    `mask` applies to the response body (log tail and excerpt); the caller masks the message."""
    problem = url_problem(url)
    if problem:
        return HookResult(FAILED, problem)
    box: list[HookResult] = []
    worker = threading.Thread(target=lambda: box.append(_post(url, ctx, timeout, mask)), daemon=True,
                              name="conveyor-http-hook")
    worker.start()
    deadline = time.monotonic() + timeout
    while worker.is_alive():
        if cancel is not None and cancel.is_set():
            return HookResult(FAILED, "cancelled")
        left = deadline - time.monotonic()
        if left <= 0:
            return HookResult(FAILED, f"timed out after {timeout:g} s")
        worker.join(min(CANCEL_POLL, left))
    return box[0]


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a hook's URL, or None.

    >>> url_problem("file:///etc/passwd")
    "hook URL 'file:///etc/passwd': only http:// and https:// URLs can be hooks"
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        return f"hook URL {url!r}: only http:// and https:// URLs can be hooks"
    if not parts.hostname:
        return f"hook URL {url!r} has no host"
    return None


def _post(url: str, ctx: HookContext, timeout: float, mask: Callable[[str], str]) -> HookResult:
    body = json.dumps(hook_payload(ctx)).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "Accept": "application/json", "User-Agent": USER_AGENT})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return _answer(response.status, response.read(MAX_BODY_BYTES), ctx, mask)
    except urllib.error.HTTPError as exc:
        with exc:
            return _answer(exc.code, exc.read(MAX_BODY_BYTES) if exc.fp else b"", ctx, mask)
    except (urllib.error.URLError, OSError) as exc:
        return HookResult(FAILED, f"POST {url}: {_reason(exc, timeout)}")


def _answer(code: int, raw: bytes, ctx: HookContext, mask: Callable[[str], str]) -> HookResult:
    text = raw.decode("utf-8", errors="replace")
    shown = mask(text)  # before cutting, so that no part of a secret survives the cut
    tail = shown[-LOG_TAIL_CHARS:]
    if not 200 <= code < 300:
        excerpt = " ".join(shown.split())[:BODY_EXCERPT_CHARS]
        redirect = " (redirects are not followed)" if 300 <= code < 400 else ""
        return HookResult(FAILED, f"HTTP {code}{redirect}" + (f": {excerpt}" if excerpt else ""), log_tail=tail)
    report = _report(text)
    if report is not None:
        return result_from_report(report, ctx, note=f"HTTP {code}", log_tail=tail)
    if code == 202:
        return HookResult(PENDING, "HTTP 202: accepted; waiting for the hook to report its status",
                          details=ctx.details, log_tail=tail)
    return HookResult(SUCCEEDED, f"HTTP {code}", log_tail=tail)


def _report(text: str):
    try:
        data = json.loads(text) if text.strip() else None
    except (ValueError, RecursionError):  # a hook's answer is not ours to trust: deep nesting, huge ints
        return None
    return report_from(data) if isinstance(data, dict) else None


def _reason(exc: BaseException, timeout: float) -> str:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return f"no answer within {timeout:g} s"
    return str(reason)
