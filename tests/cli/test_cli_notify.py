"""`conveyor notify ...` against the real HTTP API served in-process, with a notifier over a real
event stream delivering to the local receiver: ls, test, deliveries [--failed], redeliver, and
the errors a person meets."""

from __future__ import annotations

import json
import random
import threading

import pytest

from conveyor.backend.fake import FakeBackend
from conveyor.cli.main import main
from conveyor.config.notification_targets import TargetDef
from conveyor.events.stream import EventLog
from conveyor.events.types import Event, Subject
from conveyor.hostcheck import allowed_hosts
from conveyor.notify.backoff import RetryPolicy
from conveyor.notify.notifier import Notifier
from conveyor.notify.receiver import Receiver
from conveyor.notify.rules import RuleBook
from conveyor.notify.store import DeliveryStore
from conveyor.notify.targets import build_target
from conveyor.release.service import ReleaseService
from conveyor.release.store import ReleaseStore
from conveyor.server.api import Api
from conveyor.server.asgi import create_app
from conveyor.server.serve import ApiServer

SECRET = "whsec-cli-notify-0123456789"


@pytest.fixture
def setup(tmp_path, monkeypatch):
    rx = Receiver(SECRET).start()
    definition = {"name": "orders", "notifications": {
        "ops": {"events": ["pipeline-execution-failed"], "severity": "warning",
                "targets": [{"webhook": {"url": rx.url, "secret": "hooks/ops"}}]},
        "aws-only": {"events": ["manual-approval-needed"], "target": "arn:aws:sns:eu-west-1:123456789012:t"}}}
    events = EventLog(tmp_path / "events.db")

    def build(target: TargetDef, allow_host: bool):
        return build_target(target, {"hooks/ops": SECRET}.__getitem__, allow_host_commands=allow_host)

    notifier = Notifier(DeliveryStore(tmp_path / "notifications.db"), events,
                        RuleBook(lambda: [("orders", definition)], lambda n: definition), build,
                        policy=RetryPolicy(max_attempts=1), rng=random.Random(1))
    notifier.start()
    releases = ReleaseService({"local": FakeBackend().backend}, ReleaseStore(tmp_path / "releases.db"))
    api = Api(None, releases, "tok", events=events, notifier=notifier)  # type: ignore[arg-type]
    server = ApiServer(create_app(api, allowed_hosts("127.0.0.1")), "127.0.0.1", 0)
    server.start()
    home = tmp_path / "home"
    home.mkdir()
    (home / "token").write_text("tok\n")
    (home / "daemon.json").write_text(json.dumps({"host": "127.0.0.1", "port": server.address[1]}))
    monkeypatch.setenv("CONVEYOR_HOME", str(home))
    yield rx, events, notifier
    server.stop()
    notifier.stop()
    rx.stop()
    events.close()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["notify", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def settle(notifier: Notifier, status: str) -> list[dict]:
    for _ in range(400):
        rows = [d for d in notifier.deliveries() if d["status"] == status]
        if rows:
            return rows
        threading.Event().wait(0.025)
    raise AssertionError(f"no {status} delivery")


def test_ls_shows_each_rule_its_filters_and_targets(setup, capsys):
    rx = setup[0]
    code, out, _ = run(capsys, "ls")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["RULE", "EVENTS", "FILTERS", "TARGETS"]
    assert lines[1].split()[:4] == ["orders/ops", "pipeline-execution-failed", "severity>=warning", "FULL"]
    assert rx.url in lines[1]
    assert "(aws: arn:aws:sns:eu-west-1:123456789012:t)" in lines[2]
    code, out, _ = run(capsys, "ls", "--json")
    assert [r["name"] for r in json.loads(out)] == ["ops", "aws-only"]


def test_test_reports_each_target_and_fails_when_one_refuses(setup, capsys):
    rx = setup[0]
    code, out, _ = run(capsys, "test", "ops")
    assert code == 0 and "targets[0] webhook: ok (HTTP 200" in out
    rx.fail_next(1, status=404)
    code, out, _ = run(capsys, "test", "orders/ops")
    assert code == 1 and "targets[0] webhook: FAILED: " in out and "404" in out and "dead-lettered" in out
    code, _, err = run(capsys, "test", "nope")
    assert code == 2 and "no notification rule 'nope'" in err and "conveyor notify ls" in err
    code, _, err = run(capsys, "test", "aws-only")
    assert code == 2 and "has no local targets" in err


def test_deliveries_failed_and_redeliver(setup, capsys):
    rx, events, notifier = setup
    rx.fail_next(1, status=503)  # max_attempts 1: dead after this
    events.take("pipeline", [(1, Event("pipeline-execution-failed", 1.0, Subject(pipeline="orders",
                                                                                 execution_id="1a2b"), {}, "boom"))])
    (dead,) = settle(notifier, "dead")
    code, out, _ = run(capsys, "deliveries", "--failed")
    assert code == 0 and dead["id"] in out and "dead" in out and "503" in out
    code, out, _ = run(capsys, "deliveries", "--json")
    assert [d["id"] for d in json.loads(out)] == [dead["id"]]
    code, out, _ = run(capsys, "redeliver", dead["id"][:10])
    assert code == 0 and f"delivery {dead['id']} will be sent again now" in out
    (got,) = rx.wait_for(1)
    assert got.delivery_id == dead["id"]
    settle(notifier, "delivered")
    code, out, _ = run(capsys, "deliveries", "--failed")
    assert out.strip() == "no failed deliveries"
    code, _, err = run(capsys, "redeliver", "dlv-nosuch")
    assert code == 2 and "no notification delivery 'dlv-nosuch'" in err
