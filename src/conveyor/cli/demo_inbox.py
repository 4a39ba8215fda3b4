"""The demo's team endpoint: the example's conveyor.yml sends its notifications to a signed
webhook at http://127.0.0.1:9180/; the demo runs a local receiver there (conveyor.notify.receiver,
which checks each signature and deduplicates by delivery id), puts a fresh signing key in the
daemon's secret store under the name the rule gives, and prints what the team received.

    inbox = DemoInbox.open(client)        # before the push
    ...
    inbox.show({"manual-approval-needed", "pipeline-execution-succeeded"})
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable

from conveyor.cli.render import echo
from conveyor.notify.receiver import Receiver

#: Where the example's `notifications:` rule points, and the secret it names.
PORT = 9180
SECRET_NAME = "demo/receiver-hmac"
#: How long to wait for the deliveries a step should have produced (they are asynchronous:
#: the notifier sends them after the state change, with retries).
ARRIVAL_TIMEOUT = 30.0


class DemoInbox:
    def __init__(self, receiver: Receiver | None, problem: str = ""):
        self.receiver = receiver
        self.problem = problem
        self._shown = 0

    @classmethod
    def open(cls, client) -> "DemoInbox":
        key = secrets.token_hex(32)
        try:
            receiver = Receiver(key, port=PORT).start()
        except OSError as exc:  # the port is taken: the demo goes on, without the inbox
            return cls(None, f"port {PORT} is taken ({exc.strerror}); the notifications are not shown")
        client.post("/api/v1/secrets", {"name": SECRET_NAME, "value": key, "by": "conveyor-demo"})
        return cls(receiver)

    def show(self, expected: Iterable[str], title: str = "notifications the team's webhook received") -> None:
        """Wait (bounded) until every expected event type has arrived, then print the deliveries
        not printed yet: one line each, with whether its signature verified."""
        if self.receiver is None:
            echo(f"{title}: {self.problem}")
            return
        wanted = set(expected)
        deadline = time.monotonic() + ARRIVAL_TIMEOUT
        while time.monotonic() < deadline and not wanted <= self._types():
            self.receiver.wait_for(len(self.receiver.deliveries()) + 1, timeout=0.5)
        new = self.receiver.deliveries()[self._shown:]
        self._shown += len(new)
        echo(f"{title} (http://127.0.0.1:{PORT}/, signed with {SECRET_NAME}):")
        for received in new:
            body = received.json() if received.body else {}
            echo(f"  {body.get('type', '?'):<30} {body.get('summary', '')}  [signature verified, "
                 f"delivery {received.delivery_id[:12]}]")
        missing = sorted(wanted - self._types())
        if missing:
            echo(f"  (not received within {ARRIVAL_TIMEOUT:.0f} s: {', '.join(missing)}; "
                 "see `conveyor notify deliveries --failed`)")

    def _types(self) -> set[str]:
        assert self.receiver is not None
        return {str((r.json() or {}).get("type")) for r in self.receiver.deliveries() if r.body}

    def close(self) -> None:
        if self.receiver is not None:
            self.receiver.stop()
