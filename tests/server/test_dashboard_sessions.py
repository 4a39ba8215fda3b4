"""Dashboard sessions and one-time login links (conveyor.server.dashboard.sessions), on a fake
clock: idle and absolute expiry, persistence across a restart, single use of a link, and that
the file holds no secret that logs anyone in."""

from __future__ import annotations

import sqlite3

import pytest

from conveyor.server.dashboard.sessions import ABSOLUTE, IDLE, LINK_TTL, SessionStore


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(tmp_path, clock):
    s = SessionStore(tmp_path / "dashboard.db", clock)
    yield s
    s.close()


def test_a_session_knows_its_actor_and_has_its_own_csrf_token(store):
    sid, session = store.create("alice")
    other_sid, other = store.create("bob")
    found = store.get(sid)
    assert found is not None and (found.actor, found.csrf) == ("alice", session.csrf)
    assert session.csrf != other.csrf and sid != other_sid
    assert store.get("not-a-session") is None and store.get(None) is None and store.get("") is None


def test_the_file_keeps_only_hashes_of_session_ids_and_link_codes(store, tmp_path):
    sid, _ = store.create("alice")
    code, _ = store.create_link("bob")
    raw = (tmp_path / "dashboard.db").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("dashboard.db-*"))
    assert sid.encode() not in raw and code.encode() not in raw
    rows = sqlite3.connect(tmp_path / "dashboard.db").execute("SELECT id_hash FROM sessions").fetchall()
    assert len(rows) == 1 and rows[0][0] != sid and len(rows[0][0]) == 64


def test_a_session_ends_after_twelve_idle_hours(store, clock):
    sid, _ = store.create("alice")
    clock.now += IDLE - 1
    assert store.get(sid) is not None          # used: the idle clock starts again
    clock.now += IDLE - 1
    assert store.get(sid) is not None
    clock.now += IDLE
    assert store.get(sid) is None
    clock.now -= IDLE                           # gone for good, not just hidden
    assert store.get(sid) is None


def test_a_session_ends_seven_days_after_login_however_busy(store, clock):
    sid, _ = store.create("alice")
    while clock.now < 1_000_000.0 + ABSOLUTE - 3600:
        clock.now += 3600
        assert store.get(sid) is not None
    clock.now = 1_000_000.0 + ABSOLUTE
    assert store.get(sid) is None


def test_sessions_outlive_a_restart_of_the_daemon(tmp_path, clock):
    first = SessionStore(tmp_path / "dashboard.db", clock)
    sid, session = first.create("alice")
    first.close()
    again = SessionStore(tmp_path / "dashboard.db", clock)
    found = again.get(sid)
    assert found is not None and found.csrf == session.csrf
    again.delete(sid)
    assert again.get(sid) is None
    again.close()


def test_a_login_link_works_once(store):
    code, _ = store.create_link("bob")
    assert store.redeem_link(code) == "bob"
    assert store.redeem_link(code) is None
    assert store.redeem_link("forged") is None and store.redeem_link(None) is None


def test_a_login_link_expires_after_ten_minutes(store, clock):
    code, expires = store.create_link("bob")
    assert expires == clock.now + LINK_TTL
    clock.now += LINK_TTL
    assert store.redeem_link(code) is None
    fresh, _ = store.create_link("bob")
    clock.now += LINK_TTL - 1
    assert store.redeem_link(fresh) == "bob"


def test_expired_rows_are_forgotten_at_the_next_login(store, clock):
    store.create("alice")
    store.create_link("bob")
    clock.now += ABSOLUTE
    store.create("carol")
    assert store.count() == 1


def test_a_look_that_does_not_touch_leaves_the_idle_clock_running(store, clock):
    sid, _ = store.create("alice")
    clock.now += IDLE - 1
    assert store.get(sid, touch=False) is not None
    clock.now += 1
    assert store.get(sid, touch=False) is None
