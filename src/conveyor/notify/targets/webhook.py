"""The generic webhook target: the event as JSON, POSTed and signed.

    target = WebhookTarget(spec, credentials, source="conveyor://build-host")
    target.send(message)        # "HTTP 200 from hooks.example.com"

Headers of every request:

    Content-Type                application/json (format conveyor) or application/cloudevents+json
    X-Conveyor-Event            the event type, e.g. pipeline-execution-failed
    X-Conveyor-Delivery         the delivery id: the same on every retry, so a receiver deduplicates
    X-Conveyor-Timestamp        when this attempt was signed, Unix seconds
    X-Conveyor-Signature-256    sha256=<hex HMAC-SHA256, key = the target's secret,
                                        message = "<X-Conveyor-Timestamp>.<raw body bytes>">

The timestamp is inside what is signed, so a receiver that refuses a timestamp older than its
window (5 minutes in conveyor.notify.receiver) refuses a captured request replayed later, and one
that remembers delivery ids inside that window refuses a replay within it. See
conveyor.notify.receiver.verify_signature for the receiver's side.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from conveyor.notify.target import DeliveryError, Message, event_payload
from conveyor.notify.targets import cdevents
from conveyor.notify.targets.credentials import Credentials
from conveyor.notify.targets.http import post, short

SIGNATURE_HEADER = "X-Conveyor-Signature-256"
TIMESTAMP_HEADER = "X-Conveyor-Timestamp"
DELIVERY_HEADER = "X-Conveyor-Delivery"
EVENT_HEADER = "X-Conveyor-Event"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Conveyor-Signature-256 value for `body` sent at `timestamp` (decimal Unix seconds)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def body_for(message: Message, fmt: str, source: str) -> tuple[bytes, str]:
    """(body, content type) of `message` in `fmt`."""
    payload: dict[str, Any]
    if fmt == "cdevents":
        payload, content_type = cdevents.envelope(message, source=source), cdevents.CONTENT_TYPE
    else:
        payload, content_type = event_payload(message), "application/json"
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode(), content_type


class WebhookTarget:
    kind = "webhook"

    def __init__(self, spec: Mapping[str, Any], credentials: Credentials, *, source: str,
                 clock: Callable[[], float] = time.time):
        self.spec = spec
        self.credentials = credentials
        self.source = source
        self.clock = clock

    def send(self, message: Message) -> str:
        secret = self.credentials.get(self.spec["secret"], "the webhook signing key")
        body, content_type = body_for(message, self.spec["format"], self.source)
        timestamp = str(int(self.clock()))
        headers = {**self.spec.get("headers", {}), "Content-Type": content_type,
                   EVENT_HEADER: message.event.type, DELIVERY_HEADER: message.delivery_id,
                   TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}
        try:
            result = post(self.spec["url"], body, headers, timeout=float(self.spec["timeoutSeconds"]))
        except DeliveryError as exc:
            raise self.credentials.error(exc) from None
        host = urlsplit(self.spec["url"]).hostname
        said = short(result.text, 80)
        return self.credentials.mask(f"HTTP {result.status} from {host}" + (f": {said}" if said else ""))
