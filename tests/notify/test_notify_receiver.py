"""conveyor.notify.receiver: the reference signature check (good, tampered, replayed, malformed)
and the local receiver over real HTTP on 127.0.0.1 (records, verifies, deduplicates, misbehaves
on demand, serves its record)."""

from __future__ import annotations

import http.client
import json

import pytest
from target_fixtures import NOW, clock

from conveyor.notify.receiver import Receiver, signature_problem, verify_signature
from conveyor.notify.targets.webhook import sign

SECRET = "whsec-0123456789abcdef"
BODY = b'{"type":"pipeline-execution-failed"}'


def test_a_signature_made_by_the_webhook_target_verifies():
    ts = str(int(NOW))
    assert verify_signature(SECRET, ts, BODY, sign(SECRET, ts, BODY), now=NOW)
    # the signed message is exactly "<timestamp>.<body>": an independent HMAC agrees
    import hashlib
    import hmac
    expected = hmac.new(SECRET.encode(), f"{ts}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, ts, BODY) == "sha256=" + expected


@pytest.mark.parametrize("change, reason", [
    (lambda ts, body, sig: (ts, body + b" ", sig), "signature does not match"),
    (lambda ts, body, sig: (str(int(ts) + 1), body, sig), "signature does not match"),
    (lambda ts, body, sig: (ts, body, sig.replace("sha256=", "sha1=")), "signature does not match"),
    (lambda ts, body, sig: (ts, body, sig[:-1] + ("0" if sig[-1] != "0" else "1")), "signature does not match"),
    (lambda ts, body, sig: (ts, body, None), "unsigned"),
    (lambda ts, body, sig: ("-5", body, sig), "timestamp is not Unix seconds"),
    (lambda ts, body, sig: ("1e9", body, sig), "timestamp is not Unix seconds"),
])
def test_tampered_requests_are_refused(change, reason):
    ts = str(int(NOW))
    got_ts, got_body, got_sig = change(ts, BODY, sign(SECRET, ts, BODY))
    problem = signature_problem(SECRET, got_ts, got_body, got_sig, now=NOW)
    assert problem is not None and reason in problem


def test_the_timestamp_window_refuses_replays_in_both_directions():
    for age in (301, -301, 86400):
        ts = str(int(NOW - age))
        problem = signature_problem(SECRET, ts, BODY, sign(SECRET, ts, BODY), now=NOW)
        assert problem is not None and "window" in problem
    ts = str(int(NOW - 300))
    assert verify_signature(SECRET, ts, BODY, sign(SECRET, ts, BODY), now=NOW)
    assert verify_signature(SECRET, ts, BODY, sign(SECRET, ts, BODY), now=NOW, window=300)
    assert not verify_signature(SECRET, ts, BODY, sign(SECRET, ts, BODY), now=NOW, window=60)
    assert not verify_signature("another-secret", ts, BODY, sign(SECRET, ts, BODY), now=NOW)


def _post(rx: Receiver, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    host, port = rx.url.split("//")[1].rstrip("/").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("POST", "/hook", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _signed(delivery: str, ts: float = NOW, body: bytes = BODY) -> dict[str, str]:
    t = str(int(ts))
    return {"X-Conveyor-Timestamp": t, "X-Conveyor-Signature-256": sign(SECRET, t, body),
            "X-Conveyor-Delivery": delivery, "X-Conveyor-Event": "pipeline-execution-failed"}


def test_receiver_verifies_deduplicates_and_counts():
    with Receiver(SECRET, clock=clock) as rx:
        assert _post(rx, BODY, _signed("d-1")) == (200, b"ok\n")
        assert _post(rx, BODY, _signed("d-1")) == (200, b"duplicate\n")
        assert _post(rx, BODY + b"x", _signed("d-2"))[0] == 401            # body changed after signing
        assert _post(rx, BODY, _signed("d-3", ts=NOW - 600))[0] == 401     # replayed after the window
        assert _post(rx, BODY, {"X-Conveyor-Delivery": "d-4"})[0] == 401   # unsigned
        assert rx.attempts == {"d-1": 2, "d-2": 1, "d-3": 1, "d-4": 1}
        assert rx.accepted == {"d-1": 2}
        assert [r.delivery_id for r in rx.deliveries()] == ["d-1"]
        assert [r.verified for r in rx.requests] == [True, True, False, False, False]
        assert "window" in (rx.requests[3].problem or "")
        assert rx.requests[0].path == "/hook" and rx.requests[0].json() == json.loads(BODY)


def test_receiver_fails_on_demand_then_recovers():
    with Receiver(SECRET, clock=clock) as rx:
        rx.fail_next(2, status=503)
        assert _post(rx, BODY, _signed("d-1"))[0] == 503
        assert _post(rx, BODY, _signed("d-1"))[0] == 503
        assert _post(rx, BODY, _signed("d-1"))[0] == 200
        assert rx.attempts["d-1"] == 3 and rx.accepted["d-1"] == 1
        rx.reset_next(1)
        with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
            _post(rx, BODY, _signed("d-2"))
        assert rx.requests[-1].answer == "reset" and "d-2" not in rx.accepted


def test_receiver_serves_its_record_and_waits_for_deliveries():
    with Receiver(SECRET, clock=clock) as rx:
        _post(rx, BODY, _signed("d-1"))
        assert len(rx.wait_for(1, timeout=5)) == 1
        host, port = rx.url.split("//")[1].rstrip("/").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        conn.request("GET", "/deliveries")
        record = json.loads(conn.getresponse().read())
        conn.close()
        assert record[0]["body"] == BODY.decode() and record[0]["verified"] is True
        assert record[0]["headers"]["X-Conveyor-Delivery"] == "d-1"
        assert rx.report() == [f"{'pipeline-execution-failed':32}   [signature ok, delivery d-1]"]


def test_on_delivery_sees_each_first_arrival_once():
    seen: list[str] = []
    with Receiver(SECRET, clock=clock, on_delivery=lambda r: seen.append(r.delivery_id)) as rx:
        for delivery in ("d-1", "d-1", "d-2"):
            _post(rx, BODY, _signed(delivery))
        _post(rx, BODY + b"!", _signed("d-3"))
    assert seen == ["d-1", "d-2"]


def test_the_receiver_runs_as_a_program_and_prints_what_it_receives():
    import os
    import subprocess
    import sys

    from target_fixtures import message, secrets_from

    from conveyor.config.notification_targets import TargetDef
    from conveyor.notify.targets import build_target

    env = {**os.environ, "CONVEYOR_RECEIVER_SECRET": SECRET}
    proc = subprocess.Popen([sys.executable, "-m", "conveyor.notify.receiver"], stdout=subprocess.PIPE, text=True,
                            env=env)
    try:
        first = proc.stdout.readline()
        assert first.startswith("listening on http://127.0.0.1:") and "verifying signatures" in first
        url = first.split()[2]
        target = TargetDef("webhook", {"url": url, "secret": "k", "format": "cdevents", "headers": {},
                                       "timeoutSeconds": 5})
        build_target(target, secrets_from({"k": SECRET}), allow_host_commands=False).send(message())
        line = proc.stdout.readline()
        assert line.startswith("pipeline-execution-failed")
        assert "orders #12: stage Deploy failed  [signature ok, delivery dlv-0001]" in line
    finally:
        proc.terminate()
        proc.wait(10)
