"""Secrets in what actions leave behind, through the real scheduler: a line longer than the 64 KiB
read chunk with the value across each boundary, and an action's error text, which is stored in the
database as well as shown."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from conveyor.actions.base import ActionFailed
from conveyor.engine.service import Service

SECRET = "tok3n-Value/42+x"
GIT_ENV = {"GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.com", "GIT_COMMITTER_NAME": "Ada",
           "GIT_COMMITTER_EMAIL": "ada@example.com", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
LONG_LINE = f"""\
name: Long
          provider: Command
          env: {{PW: "{SECRET}"}}
          command:
            - sh
            - -c
            - |
              head -c 65530 /dev/zero | tr '\\0' x; printf %s "$PW"
              head -c 65520 /dev/zero | tr '\\0' y; echo "$PW"
"""


def make_repo(path: Path, conveyor_yml: str) -> Path:
    path.mkdir(parents=True)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "initial"]):
        if args[0] == "add":
            (path / "conveyor.yml").write_text(conveyor_yml)
        subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True, env={**os.environ, **GIT_ENV})
    return path


def pipeline(action: str) -> str:
    return ("name: masked\npipeline:\n  stages:\n    - name: Source\n      actions:\n"
            "        - {name: Source, provider: Git, outputArtifacts: [src]}\n"
            f"    - name: Run\n      actions:\n        - {action}\n"
            "allowHostCommands: true\n")  # the Command actions here run on the host


def finished(svc: Service, execution_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while (d := svc.describe(execution_id))["status"] in ("InProgress", "Stopping"):
        assert time.monotonic() < deadline, "the execution did not finish"
        time.sleep(0.05)
    return d


@pytest.fixture
def svc(tmp_path):
    service = Service(tmp_path / "home")
    service.start(polling=False)
    service.secrets.set("ci/token", SECRET)  # registers the value with the process-wide masker
    yield service
    service.shutdown()


def log_text(svc: Service, execution_id: str, action: str) -> str:
    return svc.log_text(execution_id, "Run", action, 1, 0)[0]


def test_a_secret_across_each_64_kib_boundary_is_masked_in_the_log(svc, tmp_path):
    repo = make_repo(tmp_path / "repo", pipeline(LONG_LINE))
    ex = svc.start_execution(repository=str(repo))["id"]
    assert finished(svc, ex)["status"] == "Succeeded"
    text = log_text(svc, ex, "Long")
    flat = text.replace("\n", "")
    assert SECRET not in flat and "***" in text
    assert flat.count("***") == 2 and "x" * 65530 + "***" + "y" * 65520 + "***" in flat


class Raising:
    """An action that fails quoting the secret, as a tool's error message might."""

    def __init__(self, error: Exception):
        self.error = error

    def run(self, ctx):
        ctx.log(f"about to use {SECRET}")
        raise self.error

    def cleanup(self, run_dir: Path) -> None:
        pass


@pytest.mark.parametrize("error, shown", [
    (ActionFailed(f"login refused for token {SECRET}"), "login refused for token ***"),
    (RuntimeError(f"unexpected answer {SECRET!r}"), "internal error: unexpected answer '***'"),
])
def test_an_action_error_quoting_a_secret_is_masked_where_stored(svc, tmp_path, error, shown):
    svc.scheduler.runners = {**svc.scheduler.runners, "Wait": Raising(error)}
    repo = make_repo(tmp_path / "repo", pipeline("{name: Fail, provider: Wait, seconds: 0}"))
    ex = svc.start_execution(repository=str(repo))["id"]
    d = finished(svc, ex)
    assert d["status"] == "Failed"
    [run] = [a for s in d["stages"] if s["name"] == "Run" for a in s["actions"]]
    assert run["error"] == shown
    assert SECRET not in log_text(svc, ex, "Fail") and "about to use ***" in log_text(svc, ex, "Fail")
    with sqlite3.connect(svc.home / "conveyor.db") as db:
        stored = "".join(str(row) for row in db.execute("SELECT * FROM transitions"))
    assert "***" in stored and SECRET not in stored
