"""What a notification target is to the notifier: something that sends one message and says, by
raising DeliveryError, whether trying again later may help.

    class Receiver:
        kind = "webhook"
        def send(self, message: Message) -> str:
            ...   # returns a short receipt for `conveyor notify deliveries` ("HTTP 200")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

from conveyor.events.types import Event

BASIC, FULL = "BASIC", "FULL"


@dataclass(frozen=True)
class Message:
    """One delivery's content: the event, the rule that selected it and how much to say."""

    event: Event
    rule: str
    detail_type: str = FULL                  # BASIC: type, subject, summary; FULL: also the detail
    delivery_id: str = ""                    # stable across retries and restarts
    attempt: int = 1
    links: Mapping[str, str] = field(default_factory=dict)   # e.g. {"cli": "conveyor describe 1a2b"}


class DeliveryError(Exception):
    """The target did not take the message. `retry` False: trying again cannot help (HTTP 4xx
    other than 408/429, a command that is not there): the delivery is dead-lettered at once."""

    def __init__(self, message: str, *, retry: bool = True):
        super().__init__(message)
        self.retry = retry


class Target(Protocol):
    kind: str

    def send(self, message: Message) -> str:
        """Deliver or raise DeliveryError; returns a short receipt."""
        ...


def event_payload(message: Message) -> dict[str, Any]:
    """The JSON body every JSON target starts from: BASIC leaves the detail out."""
    body = message.event.as_dict()
    if message.detail_type == BASIC:
        body.pop("detail", None)
    body["rule"] = message.rule
    body["deliveryId"] = message.delivery_id
    if message.links:
        body["links"] = dict(message.links)
    return body
