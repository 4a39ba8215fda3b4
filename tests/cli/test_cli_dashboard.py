"""`conveyor dashboard` against the real HTTP API and dashboard served in-process: it prints a
one-time login link made for the given name (the link logs in as that name, once), opens it
with --open, and says so when no daemon runs."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from conveyor.backend.fake import FakeBackend
from conveyor.cli import dashboard as dashboard_cli
from conveyor.cli.main import main
from conveyor.engine.service import Service
from conveyor.hostcheck import allowed_hosts
from conveyor.release.service import ReleaseService
from conveyor.release.store import ReleaseStore
from conveyor.server.api import Api
from conveyor.server.asgi import create_app
from conveyor.server.dashboard import Dashboard
from conveyor.server.serve import ApiServer


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def daemon(tmp_path, monkeypatch):
    service = Service(tmp_path / "data")
    api = Api(service, ReleaseService({"local": FakeBackend().backend}, ReleaseStore(tmp_path / "releases.db")), "tok")
    board = Dashboard(tmp_path / "data" / "dashboard.db", api)
    server = ApiServer(create_app(api, allowed_hosts("127.0.0.1"), dashboard=board), "127.0.0.1", 0)
    board.base_url = f"http://127.0.0.1:{server.address[1]}"
    server.start()
    home = tmp_path / "home"
    home.mkdir()
    (home / "token").write_text("tok\n")
    (home / "daemon.json").write_text(json.dumps({"host": "127.0.0.1", "port": server.address[1]}))
    monkeypatch.setenv("CONVEYOR_HOME", str(home))
    yield board
    board.shutdown()
    server.stop()
    board.close()
    service.store.close()


def visit(url: str):
    opener = urllib.request.build_opener(NoRedirect)
    try:
        return opener.open(url, timeout=10)
    except urllib.error.HTTPError as exc:
        return exc


def test_it_prints_a_one_time_link_for_the_name(daemon, capsys):
    assert main(["dashboard", "--name", "dana"]) == 0
    out, err = capsys.readouterr()
    url = out.strip()
    assert url.startswith(daemon.base_url + "/login/link?code=") and "tok" not in url.split("code=")[0]
    assert "one use, valid 10 minutes" in err
    first = visit(url)
    assert first.status == 303 and first.headers["Location"] == "/ui/"
    sid = first.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    assert daemon.sessions.get(sid).actor == "dana"
    assert visit(url).status == 401


def test_open_hands_the_link_to_a_browser(daemon, capsys, monkeypatch):
    opened: list[str] = []
    monkeypatch.setattr(dashboard_cli.webbrowser, "open", lambda url: opened.append(url) or True)
    assert main(["dashboard", "--open"]) == 0
    out, _ = capsys.readouterr()
    assert opened == [out.strip()]


def test_without_a_daemon_it_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CONVEYOR_HOME", str(tmp_path / "nowhere"))
    assert main(["dashboard"]) == 3
    assert "the Conveyor daemon is not running" in capsys.readouterr().err
