"""The delivery table: a delivery id is taken once, released on failure, pruned when old."""

from __future__ import annotations

from conveyor.server.hook_store import KEEP_SECONDS, Deliveries


class Clock:
    now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_delivery_is_claimed_once_per_host_and_survives_a_restart(tmp_path):
    clock = Clock()
    first = Deliveries(tmp_path / "webhooks.db", clock)
    assert first.claim("github", "d1") is True
    assert first.claim("github", "d1") is False
    assert first.claim("gitlab", "d1") is True  # ids are per host
    first.finish("github", "d1", "202 started 1")
    first.close()
    again = Deliveries(tmp_path / "webhooks.db", clock)
    assert again.claim("github", "d1") is False
    assert again.outcome("github", "d1") == "202 started 1"
    again.release("github", "d1")
    assert again.claim("github", "d1") is True
    again.close()


def test_old_deliveries_are_pruned(tmp_path):
    clock = Clock()
    deliveries = Deliveries(tmp_path / "webhooks.db", clock)
    deliveries.prune_every = 1
    deliveries.claim("github", "old")
    clock.now += KEEP_SECONDS + 1
    deliveries.claim("github", "new")
    assert deliveries.count() == 1
    assert deliveries.claim("github", "old") is True  # forgotten: hosts do not redeliver after two weeks
    deliveries.close()
