"""The workers: send due deliveries, each on its own short-lived thread, and record every
attempt and its outcome.

A failing or slow target never holds anything else up: nothing in the engine waits on a send
(the dispatcher only inserts rows), each send runs on a thread of its own, and a target takes at
most `per_target` sends at a time (the others wait in the store, due), so a receiver that hangs
until its target's timeout ties up only its own slots; `max_threads` bounds them all. The
timeouts themselves are the targets' (every network target has one; a command target is killed
after its timeout).

Outcomes: a receipt -> delivered; DeliveryError(retry=False) -> dead at once; any other failure
-> pending again after the RetryPolicy's jittered back-off, or dead once the policy gives up.
Errors and receipts are masked before they are stored.

    deliverer = Deliverer(store, build, clock=clock, rng=random.Random(7))
    deliverer.pump()                  # starts threads for what is due
    deliverer.attempt(delivery)       # one attempt, in this thread (tests, `notify test`)
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from conveyor.config.notification_targets import TargetDef
from conveyor.notify.backoff import DEFAULT_POLICY, RetryPolicy
from conveyor.notify.links import links
from conveyor.notify.store import DEAD, DELIVERED, PENDING, Delivery, DeliveryStore
from conveyor.notify.target import DeliveryError, Message, Target

log = logging.getLogger("conveyor.notify")

PER_TARGET = 2
MAX_THREADS = 16
MESSAGE_LIMIT = 2000  # characters of an error or receipt kept

#: (target definition, may it run a host command) -> a Target (conveyor.notify.targets.build_target
#: with the secret store bound)
Builder = Callable[[TargetDef, bool], Target]


def message_for(delivery: Delivery, attempt: int, dashboard: str | None = None) -> Message:
    return Message(delivery.event, delivery.rule, delivery.detail_type, delivery.id, attempt,
                   links(delivery.event, dashboard))


class Deliverer:
    def __init__(self, store: DeliveryStore, build: Builder, *, policy: RetryPolicy = DEFAULT_POLICY,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None,
                 mask: Callable[[str], str] = lambda s: s, per_target: int = PER_TARGET,
                 max_threads: int = MAX_THREADS, on_done: Callable[[], None] = lambda: None):
        self.store = store
        self.build = build
        self.policy = policy
        self.clock = clock
        self.rng = rng or random.Random()
        self.mask = mask
        self.per_target = per_target
        self.max_threads = max_threads
        self.on_done = on_done
        #: The daemon's own URL, for the messages' `dashboard` link (None: no such link)
        self.dashboard: str | None = None
        self._lock = threading.Lock()
        self._in_flight: dict[str, str] = {}   # delivery id -> target key
        self._threads: set[threading.Thread] = set()

    def in_flight(self) -> int:
        with self._lock:
            return len(self._in_flight)

    def pump(self) -> int:
        """Start a send for each due delivery whose target has a free slot; how many started."""
        with self._lock:
            busy = dict(self._in_flight)
        room = self.max_threads - len(busy)
        if room <= 0:
            return 0
        per_key: dict[str, int] = {}
        for key in busy.values():
            per_key[key] = per_key.get(key, 0) + 1
        started = 0
        for delivery in self.store.due(self.clock(), limit=room * 4, exclude=busy, per_target=self.per_target):
            if started >= room:
                break
            key = delivery.target_key
            if per_key.get(key, 0) >= self.per_target:
                continue  # that target is busy: it waits, the others go on
            per_key[key] = per_key.get(key, 0) + 1
            with self._lock:
                self._in_flight[delivery.id] = key
            thread = threading.Thread(target=self._run, args=(delivery,), name=f"notify-{delivery.id[:12]}",
                                      daemon=True)
            with self._lock:
                self._threads.add(thread)
            thread.start()
            started += 1
        return started

    def _run(self, delivery: Delivery) -> None:
        try:
            self.attempt(delivery)
        except Exception:
            log.exception("notification delivery %s: the attempt could not be recorded", delivery.id)
        finally:
            with self._lock:
                self._in_flight.pop(delivery.id, None)
                self._threads.discard(threading.current_thread())
            self.on_done()

    def attempt(self, delivery: Delivery) -> str:
        """One attempt, recorded before and after; the delivery's status afterwards."""
        n = self.store.begin_attempt(delivery.id, self.clock())
        retry = True
        try:
            target = self.build(delivery.target, delivery.allow_host_commands)
            receipt = target.send(message_for(delivery, n, self.dashboard))
        except DeliveryError as exc:
            error, retry = str(exc) or type(exc).__name__, exc.retry
        except Exception as exc:  # a bug in a target, or a misconfigured one: tried again like a failure
            error = f"{type(exc).__name__}: {exc}"
        else:
            self.store.finish_attempt(delivery.id, n, self.clock(), status=DELIVERED, outcome="delivered",
                                      message=self._clean(str(receipt or "ok")))
            return DELIVERED
        now = self.clock()
        failures = n - delivery.budget_from
        error = self._clean(error)
        if not retry or self.policy.gives_up(failures, now - delivery.created_at):
            why = "" if not retry else f" (gave up after {failures} attempt{'s' if failures != 1 else ''})"
            self.store.finish_attempt(delivery.id, n, now, status=DEAD, outcome="dead", message=error + why)
            log.warning("notification %s to %s (rule %s) dead-lettered: %s", delivery.id, delivery.target.kind,
                        delivery.rule, error + why)
            return DEAD
        self.store.finish_attempt(delivery.id, n, now, status=PENDING, outcome="failed", message=error,
                                  next_attempt_at=now + self.policy.delay(failures, self.rng))
        return PENDING

    def _clean(self, text: str) -> str:
        return self.mask(text)[:MESSAGE_LIMIT]

    def join(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for the sends under way (at shutdown)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
