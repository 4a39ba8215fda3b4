"""Fakes for the notifier's unit tests: an in-memory event stream, a clock that moves only when
told, and targets that record or fail on demand."""

from __future__ import annotations

import threading
from typing import Any

from conveyor.config.notification_targets import TargetDef
from conveyor.events.types import Event, Subject
from conveyor.notify.rules import PipelineRules, RuleBook
from conveyor.notify.target import DeliveryError, Message

DEFINITION: dict[str, Any] = {
    "name": "orders",
    "pipeline": {"stages": [{"name": "Source", "actions": []}, {"name": "Deploy", "actions": []}]},
    "environments": {"production": {"services": {"web": {}}}, "staging": {"services": {"web": {}}}},
    "notifications": [
        {"name": "prod", "events": ["pipeline-execution-failed", "manual-approval-needed", "deployment-*"],
         "environments": ["production"],
         "targets": [{"webhook": {"url": "http://a", "secret": "hook"}}, {"slack": {"url": "slack-hook"}}]},
        {"name": "errors", "events": ["*"], "severity": "error", "detailType": "BASIC",
         "targets": [{"webhook": {"url": "http://b", "secret": "hook"}}]},
    ],
}


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeLog:
    """conveyor.events.stream.EventLog's reading side, in memory."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.reads = 0

    def append(self, event_type: str, **subject: Any) -> Event:
        seq = len(self.events) + 1
        event = Event(event_type, 100.0 + seq, Subject(**subject), {"n": seq}, f"event {seq}", seq=seq,
                      id=f"pipeline-{seq}")
        self.events.append(event)
        return event

    def read(self, after: int = 0, limit: int = 500) -> list[Event]:
        self.reads += 1
        return [e for e in self.events if e.seq > after][:limit]

    def last_seq(self) -> int:
        return len(self.events)


def book(definition: dict[str, Any] | None = None) -> RuleBook:
    definition = definition or DEFINITION
    b = RuleBook(lambda: [(definition["name"], definition)], lambda name: definition)
    b.load()
    return b


class Recorder:
    """A target: records messages; `fail` holds the errors to raise next, in order."""

    kind = "webhook"

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.fail: list[Exception] = []
        self.lock = threading.Lock()
        self.gate: threading.Event | None = None

    def send(self, message: Message) -> str:
        if self.gate is not None:
            self.gate.wait(10)
        with self.lock:
            if self.fail:
                raise self.fail.pop(0)
            self.sent.append(message)
        return f"HTTP 200 {message.delivery_id}"


def builder(recorders: dict[str, Recorder]):
    """build(target, allow_host) -> the Recorder for the target's url (made on first use)."""
    def build(target: TargetDef, allow_host: bool) -> Recorder:
        return recorders.setdefault(str(target.spec.get("url")), Recorder())
    return build


def retryable(text: str = "HTTP 503") -> DeliveryError:
    return DeliveryError(text)


__all__ = ["PipelineRules"]
