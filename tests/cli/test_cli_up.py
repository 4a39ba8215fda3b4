"""`conveyor up --host`: the API stays on loopback unless told otherwise in so many words; a
non-loopback address needs --allow-remote and says what it exposes; --allow-host names go to
the daemon's Host allow-list. The client reaches a daemon bound to every interface over
loopback, which its allow-list always takes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conveyor.cli.client import connect_host
from conveyor.cli.daemonctl import bind_scope
from conveyor.errors import UserError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args: str, home: Path, port: int | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "CONVEYOR_HOME": str(home), "CONVEYOR_PORT": str(port or free_port()),
           "CONVEYOR_REGISTRY_PORT": str(free_port())}
    return subprocess.run([sys.executable, "-m", "conveyor.cli.main", *args], cwd=home.parent, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("host, remote", [
    ("127.0.0.1", False), ("127.0.0.2", False), ("::1", False), ("[::1]", False), ("localhost", False),
    ("0.0.0.0", True), ("::", True), ("10.1.2.3", True), ("192.0.2.7", True),
])
def test_which_addresses_expose_the_api(host, remote):
    assert bind_scope(host) is remote


@pytest.mark.parametrize("host", ["a b", "http://x", "x/y", "", "name.invalid"])
def test_an_address_that_is_no_address_is_a_user_error(host):
    with pytest.raises(UserError):
        bind_scope(host)


def test_the_client_reaches_a_wildcard_bind_over_loopback():
    assert [connect_host(h) for h in ("0.0.0.0", "::", "127.0.0.1", "::1", "ci.example")] == [
        "127.0.0.1", "[::1]", "127.0.0.1", "[::1]", "ci.example"]


def test_a_non_loopback_host_without_allow_remote_is_refused_and_starts_nothing(tmp_path):
    home = tmp_path / "home"
    done = cli("up", "--host", "0.0.0.0", home=home)
    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == (
        "conveyor: --host 0.0.0.0 is not a loopback address: the API, with its token sent over plain HTTP, "
        "would be reachable from the network")
    assert "--allow-remote" in done.stderr
    assert not (home / "daemon.pid").exists() and not (home / "daemon.json").exists()


def test_a_bad_allow_host_is_refused(tmp_path):
    done = cli("up", "--allow-host", "evil.example/path", home=tmp_path / "home")
    assert (done.returncode, done.stderr.splitlines()[0]) == (
        2, "conveyor: --allow-host 'evil.example/path' is not a host name")


def test_allow_remote_binds_says_what_it_exposes_and_answers_the_allowed_names(tmp_path):
    home, port = tmp_path / "home", free_port()
    done = cli("up", "--no-poll", "--host", "0.0.0.0", "--allow-remote", "--allow-host", "ci.example.internal",
               home=home, port=port)
    try:
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"Conveyor is up: http://0.0.0.0:{port}")
        assert "warning: the API listens on 0.0.0.0" in done.stderr and "over plain HTTP" in done.stderr
        assert f"holds the token in {home / 'token'}" in done.stderr
        assert "ci.example.internal" in done.stderr
        assert json.loads((home / "daemon.json").read_text())["host"] == "0.0.0.0"
        assert cli("status", home=home, port=port).returncode == 0  # the CLI, over 127.0.0.1

        def health(host_header: str) -> int:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/health", headers={"Host": host_header})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return response.status
            except urllib.error.HTTPError as exc:
                return exc.code

        assert [health(h) for h in ("ci.example.internal", f"192.0.2.9:{port}", "localhost", "evil.example")] == [
            200, 200, 200, 421]
    finally:
        assert cli("down", home=home, port=port).returncode == 0
