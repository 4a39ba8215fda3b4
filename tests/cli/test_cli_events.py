"""`conveyor events` against the real HTTP API served in-process over a real event stream:
the newest events, --after, filters, --json lines, --follow until Ctrl-C, and the usual errors."""

from __future__ import annotations

import json
import sqlite3

import pytest

from conveyor.backend.fake import FakeBackend
from conveyor.cli.client import Client
from conveyor.cli.main import main
from conveyor.cli.render import clock
from conveyor.events.outbox import OUTBOX_SCHEMA, write_events
from conveyor.events.stream import EventLog, Relay
from conveyor.events.types import Event, Subject
from conveyor.hostcheck import allowed_hosts
from conveyor.release.service import ReleaseService
from conveyor.release.store import ReleaseStore
from conveyor.server.api import Api
from conveyor.server.asgi import create_app
from conveyor.server.serve import ApiServer

AT = 1_700_000_000.0


class Stream:
    """A pipeline store's outbox, relayed into the daemon's stream."""

    def __init__(self, tmp_path):
        self.log = EventLog(tmp_path / "events.db")
        self.db = sqlite3.connect(str(tmp_path / "conveyor.db"), isolation_level=None, check_same_thread=False)
        self.db.executescript(OUTBOX_SCHEMA)
        self.relay = Relay(self.log, {"pipeline": tmp_path / "conveyor.db"})

    def emit(self, kind: str, summary: str, **subject: str) -> None:
        write_events(self.db, [Event(kind, AT, Subject(**subject), {}, summary)])
        self.relay.pump()


@pytest.fixture
def stream(tmp_path, monkeypatch):
    stream = Stream(tmp_path)
    releases = ReleaseService({"local": FakeBackend().backend}, ReleaseStore(tmp_path / "releases.db"))
    app = create_app(Api(None, releases, "tok", events=stream.log), allowed_hosts("127.0.0.1"))  # type: ignore[arg-type]
    server = ApiServer(app, "127.0.0.1", 0)
    server.start()
    home = tmp_path / "home"
    home.mkdir()
    (home / "token").write_text("tok\n")
    (home / "daemon.json").write_text(json.dumps({"host": "127.0.0.1", "port": server.address[1]}))
    monkeypatch.setenv("CONVEYOR_HOME", str(home))
    yield stream
    server.stop()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["events", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def line(severity: str, kind: str, subject: str, summary: str) -> str:
    return f"{clock(AT)}  {severity:<7}  {kind:<29}  {subject:<24}  {summary}"


def test_the_newest_events_one_line_each(stream, capsys):
    stream.emit("pipeline-execution-started", "orders #1: execution started", pipeline="orders", execution_id="e1")
    stream.emit("stage-execution-failed", "orders #1: stage Deploy failed: boom", pipeline="orders",
                execution_id="e1", stage="Deploy")
    stream.emit("deployment-succeeded", "prod/web deployed", environment="prod", service="web")
    code, out, err = run(capsys)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        line("info", "pipeline-execution-started", "orders", "orders #1: execution started"),
        line("error", "stage-execution-failed", "orders/Deploy", "orders #1: stage Deploy failed: boom"),
        line("info", "deployment-succeeded", "prod/web", "prod/web deployed")]
    code, out, _ = run(capsys, "--limit", "1")
    assert out.splitlines() == [line("info", "deployment-succeeded", "prod/web", "prod/web deployed")]


def test_after_filters_and_json_lines(stream, capsys):
    for n in range(1, 4):
        stream.emit("pipeline-execution-started", f"orders #{n}", pipeline="orders", execution_id=f"e{n}")
    stream.emit("pipeline-execution-started", "billing #1", pipeline="billing", execution_id="b1")
    code, out, _ = run(capsys, "--after", "1", "--pipeline", "orders", "--json")
    assert code == 0
    rows = [json.loads(x) for x in out.splitlines()]
    assert [(r["id"], r["seq"], r["summary"]) for r in rows] == [("pipeline-2", 2, "orders #2"),
                                                                  ("pipeline-3", 3, "orders #3")]
    code, out, _ = run(capsys, "--after", "0", "--type", "pipeline-execution-failed", "--type",
                       "pipeline-execution-started", "--limit", "2", "--json")
    assert [json.loads(x)["seq"] for x in out.splitlines()] == [1, 2]


def test_follow_prints_new_events_and_ends_quietly_on_ctrl_c(stream, capsys, monkeypatch):
    stream.emit("pipeline-execution-started", "orders #1", pipeline="orders", execution_id="e1")
    real = Client.get
    polls: list[str] = []

    def get(self, path):
        if "wait=" in path:
            polls.append(path)
            if len(polls) == 1:  # while the CLI waits, the pipeline goes on
                stream.emit("pipeline-execution-succeeded", "orders #1 done", pipeline="orders", execution_id="e1")
            else:
                raise KeyboardInterrupt
        return real(self, path)

    monkeypatch.setattr(Client, "get", get)
    code, out, err = run(capsys, "--follow")
    assert (code, err) == (0, "")
    assert out.splitlines() == [line("info", "pipeline-execution-started", "orders", "orders #1"),
                                line("info", "pipeline-execution-succeeded", "orders", "orders #1 done")]
    assert "after=1&" in polls[0] and "after=2&" in polls[1]


def test_an_unknown_type_is_a_usage_error(stream, capsys):
    code, _, err = run(capsys, "--type", "pipeline-exploded")
    assert code == 2
    assert "unknown event type(s) pipeline-exploded" in err


def test_without_a_daemon_it_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CONVEYOR_HOME", str(tmp_path / "nowhere"))
    code, out, err = run(capsys, "--follow")
    assert code == 3 and out == ""
    assert "the Conveyor daemon is not running" in err
