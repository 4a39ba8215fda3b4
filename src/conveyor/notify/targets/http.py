"""One HTTP POST for the HTTP targets (webhook, Slack, commit statuses), with the outcome sorted
into delivered / try again / give up, as every target must say (notify/target.py).

    result = post(url, body, {"Content-Type": "application/json"}, timeout=10)   # HttpResult or DeliveryError
    result.status, result.text

Plain http.client, not a client library: it never follows a redirect (a 3xx is reported, not
followed: a redirect could carry a signed body or a token to another host), the certificate of an
https URL is verified against the system's CAs, and what a failure says is under our control.

Sorting (GitHub's and Slack's documented behaviour, and RFC 9110's meaning of the codes):
2xx delivered; 408, 425, 429 and 5xx, a timeout, a refused or reset connection, a name that does
not resolve: try again (the receiver may come back); 3xx and other 4xx: give up, trying the same
request again gets the same answer. A certificate that does not verify: give up (a configuration
problem; `conveyor notify redeliver` once fixed).

Messages name the host and the status, never the URL's path or query (a Slack webhook URL is a
credential) and never a request header.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass
from typing import Callable, Mapping
from urllib.parse import urlsplit

from conveyor.notify.target import DeliveryError

MAX_RESPONSE_BYTES = 64 * 1024
RETRY_STATUSES = frozenset({408, 425, 429})
USER_AGENT = "Conveyor-Notifier/1"


@dataclass(frozen=True)
class HttpResult:
    status: int
    text: str            # at most MAX_RESPONSE_BYTES of the body, decoded leniently
    headers: Mapping[str, str]


def post(url: str, body: bytes, headers: Mapping[str, str], *, timeout: float,
         ssl_context: ssl.SSLContext | None = None,
         explain: Callable[[HttpResult], str] | None = None,
         retry_if: Callable[[HttpResult], bool] | None = None) -> HttpResult:
    """POST `body` and return a 2xx answer; raise DeliveryError for anything else. `explain` turns
    a non-2xx answer into what the service said, for the error (only what is safe to show);
    `retry_if` marks answers worth retrying beyond the usual ones (GitHub's 403 rate limit)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    where = f"{host}:{parts.port}" if parts.port else host
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(host, parts.port, timeout=timeout,
                                           context=ssl_context or ssl.create_default_context())
    elif parts.scheme == "http":
        conn = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    else:
        raise DeliveryError(f"cannot post to a {parts.scheme or 'schemeless'} URL", retry=False)
    all_headers = {"User-Agent": USER_AGENT, "Content-Length": str(len(body)), **headers}
    try:
        conn.request("POST", path, body=body, headers=dict(all_headers))
        response = conn.getresponse()
        text = response.read(MAX_RESPONSE_BYTES).decode("utf-8", "replace")
        result = HttpResult(response.status, text, {k.lower(): v for k, v in response.getheaders()})
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryError(f"{where}: TLS certificate not trusted ({exc.verify_message})", retry=False) from None
    except (TimeoutError, socket.timeout):
        raise DeliveryError(f"{where}: no answer within {timeout:g}s", retry=True) from None
    except ConnectionRefusedError:
        raise DeliveryError(f"{where}: connection refused", retry=True) from None
    except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected,
            http.client.IncompleteRead):
        raise DeliveryError(f"{where}: connection closed before an answer", retry=True) from None
    except socket.gaierror:
        raise DeliveryError(f"{where}: host name does not resolve", retry=True) from None
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(f"{where}: {type(exc).__name__}", retry=True) from None
    finally:
        conn.close()
    if 200 <= result.status < 300:
        return result
    error = status_error(where, result, explain(result) if explain else "")
    if retry_if is not None and retry_if(result):
        error.retry = True
    raise error


def status_error(where: str, result: HttpResult, detail: str = "") -> DeliveryError:
    """The DeliveryError for a non-2xx answer; `detail` is what the service said, if safe to show."""
    retry = result.status in RETRY_STATUSES or result.status >= 500
    said = f": {detail}" if detail else ""
    if 300 <= result.status < 400:
        said = f"{said} (redirect to another location not followed: fix the URL)"
    return DeliveryError(f"{where}: HTTP {result.status}{said}", retry=retry)


def short(text: str, limit: int = 200) -> str:
    """A one-line excerpt of a response, to quote in a receipt or an error."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
