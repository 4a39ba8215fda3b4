"""`conveyor dora` against the real HTTP API served in-process over a real event stream: the plain
table when not on a terminal, --json as the API answers it, the filters reaching the API, and the
exit codes (0, 2 for bad usage or input, 3 without a daemon)."""

from __future__ import annotations

import json
import time

import pytest
from dora_history import D, History

from conveyor.backend.fake import FakeBackend
from conveyor.cli.main import main
from conveyor.events.stream import EventLog
from conveyor.hostcheck import allowed_hosts
from conveyor.release.service import ReleaseService
from conveyor.release.store import ReleaseStore
from conveyor.server.api import Api
from conveyor.server.asgi import create_app
from conveyor.server.dora_routes import REPORT
from conveyor.server.schema import problems
from conveyor.server.serve import ApiServer


@pytest.fixture
def daemon(tmp_path, monkeypatch):
    log = EventLog(tmp_path / "events.db")
    base = time.time() - 3 * D
    h = History()
    h.deployed("A", base, base + 120, env="production", service="orders", pipeline="orders")
    h.add("deployment-started", base + D, "B", service="orders", pipeline="orders")
    h.add("deployment-failed", base + D + 60, "B", service="orders", pipeline="orders")
    h.deployed("C", base + D + 600, base + D + 660, service="orders", pipeline="orders")
    h.deployed("S", base, base + 10, env="staging", service="orders")
    log.take("test", [(e.seq, e) for e in h.events])
    releases = ReleaseService({"local": FakeBackend().backend}, ReleaseStore(tmp_path / "releases.db"))
    app = create_app(Api(None, releases, "tok", events=log), allowed_hosts("127.0.0.1"))  # type: ignore[arg-type]
    server = ApiServer(app, "127.0.0.1", 0)
    server.start()
    home = tmp_path / "home"
    home.mkdir()
    (home / "token").write_text("tok\n")
    (home / "daemon.json").write_text(json.dumps({"host": "127.0.0.1", "port": server.address[1]}))
    monkeypatch.setenv("CONVEYOR_HOME", str(home))
    yield
    server.stop()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["dora", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_plain_table_when_not_on_a_terminal(daemon, capsys):
    code, out, err = run(capsys, "--days", "7")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "DORA metrics, last 7 days"
    assert lines[1].split("  ")[0] == "scope"
    # A, B (failed, restored by C 600 s later), C: 2 successes in 7 days; 1 failure of 3
    rows = [line.split() for line in lines[2:]]
    assert rows[0][:3] == ["all", "0.29", "2.0"]
    assert "33%" in lines[2] and "(1/3)" in lines[2] and "10m00s" in lines[2]
    assert [r[0] + " " + r[1] for r in rows[1:]] == ["pipeline orders", "service production/orders"]
    assert "╭" not in out and "┃" not in out  # no rich box outside a terminal


def test_json_is_the_api_answer(daemon, capsys):
    code, out, err = run(capsys, "--json", "--days", "30", "--service", "orders", "--pipeline", "orders")
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert problems(REPORT, report) == []
    assert report["filters"] == {"pipeline": "orders", "service": "orders", "environment": None}
    assert report["window"]["days"] == 30 and len(report["summary"]["daily"]) == 30
    assert report["summary"]["deployments"] == {"succeeded": 2, "finished": 3, "failed": 1}
    assert report["summary"]["timeToRestore"]["medianSeconds"] == 600.0


def test_an_environment_by_name_and_an_empty_answer(daemon, capsys):
    code, out, _ = run(capsys, "--json", "--environment", "staging")
    assert code == 0 and json.loads(out)["summary"]["deployments"]["succeeded"] == 1
    code, out, _ = run(capsys, "--service", "nothing")
    assert code == 0 and out.splitlines()[-1].startswith("no production deployment finished in the window")


@pytest.mark.parametrize("argv", [["--days", "0"], ["--days", "366"], ["--days", "a week"], ["extra"]])
def test_bad_usage_exits_2(daemon, capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(["dora", *argv])
    assert exc.value.code == 2
    assert capsys.readouterr().err.startswith("conveyor: ")


def test_input_the_api_refuses_exits_2(daemon, capsys):
    code, _, err = run(capsys, "--service", "x" * 300)
    assert code == 2 and "query.service" in err


def test_no_daemon_exits_3(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CONVEYOR_HOME", str(tmp_path))
    code, out, err = run(capsys)
    assert (code, out) == (3, "") and "daemon is not running" in err
