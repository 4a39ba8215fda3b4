"""The dispatcher: reads the event stream after its cursor, finds the rules each event goes to,
and records the deliveries and the new cursor in one transaction (DeliveryStore.enqueue). It
never sends anything: the engine's threads and the relay only ever wait for a SQLite insert.

    dispatcher = Dispatcher(event_log, store, book, clock=time.time)
    dispatcher.pump()      # -> deliveries created
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from conveyor.events.types import Event
from conveyor.notify.rules import RuleBook
from conveyor.notify.store import DeliveryStore, NewDelivery

BATCH = 500
#: Rules are reloaded for a pipeline when this event of it is dispatched (a new definition runs).
RELOAD_ON = "pipeline-execution-started"


class EventSource(Protocol):
    """The part of conveyor.events.stream.EventLog the notifier uses."""

    def read(self, after: int = 0, limit: int = 500) -> list[Event]: ...

    def last_seq(self) -> int: ...


class Dispatcher:
    def __init__(self, events: EventSource, store: DeliveryStore, book: RuleBook, *,
                 clock: Callable[[], float] = time.time, batch: int = BATCH):
        self.events = events
        self.store = store
        self.book = book
        self.clock = clock
        self.batch = batch

    def pump(self) -> int:
        """Dispatch everything new in the stream; the number of deliveries created."""
        created = 0
        while True:
            after = self.store.cursor()
            events = self.events.read(after, self.batch)
            if not events:
                return created
            created += self.store.enqueue(self.deliveries(events), cursor=events[-1].seq, now=self.clock())
            if len(events) < self.batch:
                return created

    def deliveries(self, events: list[Event]) -> list[NewDelivery]:
        out: list[NewDelivery] = []
        for event in events:
            if event.type == RELOAD_ON and event.subject.pipeline:
                self.book.refresh(event.subject.pipeline)
            for owner, rule in self.book.matching(event):
                for i, target in enumerate(rule.targets):
                    out.append(NewDelivery(event, owner.pipeline, rule.name, i, target, rule.detail_type,
                                           owner.allow_host_commands))
        return out
