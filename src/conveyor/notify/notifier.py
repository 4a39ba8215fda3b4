"""The notifier as the daemon runs it: one thread that dispatches new events and starts the sends
that are due, woken by the event stream and by finished sends; plus what the API asks of it
(rules, deliveries, redeliver, test a rule).

    notifier = Notifier(store, event_log, book, build)
    notifier.start()           # recovers attempts a crash interrupted, then runs

A new notifications.db starts at the end of the stream: the history of an installation that had
no notifier is not sent out when it gets one.
    notifier.stop()

Nothing here blocks the engine: the stream's subscriber callback only sets an Event.
"""

from __future__ import annotations

import fnmatch
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from conveyor.config.notifications import NotificationRule
from conveyor.errors import NotFound, UserError
from conveyor.events.types import EVENT_TYPES, Event, Subject
from conveyor.notify.backoff import DEFAULT_POLICY, RetryPolicy
from conveyor.notify.deliverer import Builder, Deliverer
from conveyor.notify.dispatcher import Dispatcher, EventSource
from conveyor.notify.links import links
from conveyor.notify.rules import PipelineRules, RuleBook
from conveyor.notify.store import DeliveryStore
from conveyor.notify.target import DeliveryError, Message

log = logging.getLogger("conveyor.notify")

IDLE_WAIT = 1.0  # seconds between looks when nothing wakes the loop (another process's events, due retries)


class Notifier:
    def __init__(self, store: DeliveryStore, events: EventSource, book: RuleBook, build: Builder, *,
                 policy: RetryPolicy = DEFAULT_POLICY, clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None, mask: Callable[[str], str] = lambda s: s):
        self.store = store
        self.events = events
        self.book = book
        self.build = build
        self.clock = clock
        self.mask = mask
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.dispatcher = Dispatcher(events, store, book, clock=clock)
        self.deliverer = Deliverer(store, build, policy=policy, clock=clock, rng=rng, mask=mask,
                                   on_done=self._wake.set)

    # -- running
    def start(self) -> None:
        recovered = self.store.recover(self.clock())
        if recovered:
            log.info("%d notification deliveries were in flight when the daemon stopped: sending them again",
                     recovered)
        if self.store.start_cursor(self.events.last_seq()):
            log.info("notifications start from event %d (earlier events are not notified)", self.events.last_seq())
        self.book.load()
        subscribe = getattr(self.events, "subscribe", None)
        if subscribe is not None:
            subscribe(self._on_event)
        self._thread = threading.Thread(target=self._run, name="notifier", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop dispatching and starting sends; sends under way get `timeout` seconds to finish (one
        cut short is retried at the next start)."""
        unsubscribe = getattr(self.events, "unsubscribe", None)
        if unsubscribe is not None:
            unsubscribe(self._on_event)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.deliverer.join(timeout)
        if self.deliverer.in_flight() == 0:
            self.store.close()  # else a late send still records its outcome; the process exit closes it

    def _on_event(self, event: Event) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.pump()
            except Exception:
                log.exception("notifier: pass failed (retried)")
            self._wake.wait(self._idle())
            self._wake.clear()

    def pump(self) -> None:
        self.dispatcher.pump()
        self.deliverer.pump()

    def _idle(self) -> float:
        due = self.store.next_due()
        if due is None:
            return IDLE_WAIT
        return max(0.01, min(IDLE_WAIT, due - self.clock()))

    # -- the API's questions
    def rules(self) -> list[dict[str, Any]]:
        return [{"pipeline": p.pipeline, **rule.to_json()} for p in self.book.pipelines() for rule in p.rules]

    def deliveries(self, *, failed: bool = False, limit: int = 50) -> list[dict[str, Any]]:
        return [d.to_json() for d in self.store.recent(failed=failed, limit=limit)]

    def delivery(self, delivery_id: str) -> dict[str, Any]:
        full = self._resolve(delivery_id)
        found = self.store.get(full)
        assert found is not None
        return {**found.to_json(), "attempts": self.store.attempts(full)}

    def redeliver(self, delivery_id: str) -> dict[str, Any]:
        full = self._resolve(delivery_id)
        found = self.store.redeliver(full, self.clock())
        assert found is not None
        self._wake.set()
        return found.to_json()

    def _resolve(self, delivery_id: str) -> str:
        if self.store.get(delivery_id) is not None:
            return delivery_id
        found = self.store.find(delivery_id) if len(delivery_id) >= 6 else []
        if len(found) == 1:
            return found[0]
        raise NotFound(f"no notification delivery '{delivery_id}'" + (" (the prefix is ambiguous)" if found else ""),
                       hint="`conveyor notify deliveries` lists them")

    def test(self, name: str) -> dict[str, Any]:
        """Send a synthetic event of the rule to each of its targets now, in this thread; nothing is
        recorded as a delivery. The result per target (a receipt or the masked error)."""
        self.book.load()
        try:
            owner, rule = self.book.find(name)
        except KeyError as exc:
            raise NotFound(str(exc.args[0]), hint="`conveyor notify ls` lists the rules") from None
        if not rule.targets:
            raise UserError(f"rule '{name}' has no local targets (only `target:`, for the AWS export)",
                            hint="add `targets:` to the rule in conveyor.yml")
        event = synthetic_event(owner, rule, self.clock())
        results = []
        for i, target_def in enumerate(rule.targets):
            message = Message(event, rule.name, rule.detail_type, f"test-{uuid.uuid4().hex[:16]}", 1,
                              links(event, self.deliverer.dashboard))
            try:
                receipt = self.build(target_def, owner.allow_host_commands).send(message)
                results.append({"target": i, "kind": target_def.kind, "ok": True,
                                "receipt": self.mask(str(receipt or "ok"))})
            except DeliveryError as exc:
                results.append({"target": i, "kind": target_def.kind, "ok": False, "error": self.mask(str(exc)),
                                "retryable": exc.retry})
            except Exception as exc:
                results.append({"target": i, "kind": target_def.kind, "ok": False, "retryable": True,
                                "error": self.mask(f"{type(exc).__name__}: {exc}")})
        return {"pipeline": owner.pipeline, "rule": rule.name, "event": event.as_dict(), "results": results}


def synthetic_event(owner: PipelineRules, rule: NotificationRule, now: float) -> Event:
    """An event the rule takes: its first type, with the first name of each filter."""
    event_type = next(t for pattern in rule.events for t in EVENT_TYPES if fnmatch.fnmatchcase(t, pattern))
    pipeline_event = not event_type.startswith(("deployment-", "service-"))
    env = (rule.environments or tuple(owner.environments) or (None,))[0]
    services = owner.environments.get(env) if env else None
    service = (rule.services or tuple(sorted(services or ())) or (None,))[0]
    subject = Subject(pipeline=owner.pipeline, execution_id="00000000-test" if pipeline_event else None,
                      stage=(rule.stages or (None,))[0] if pipeline_event else None,
                      environment=None if pipeline_event else env, service=None if pipeline_event else service)
    return Event(event_type, now, subject, {"test": True}, f"Test notification for rule {rule.name} of "
                 f"{owner.pipeline} (conveyor notify test)", seq=0, id=f"test-{uuid.uuid4().hex[:12]}")
