"""Helpers for the scenarios that run the real daemon (a separate process) and the real CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

GIT_ENV = {"GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "t@example.com"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(fn, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Conveyor:
    """Runs `conveyor ...` as a user would, against its own data dir and port."""

    def __init__(self, home: Path, port: int):
        self.home = home
        # Each daemon gets its own registry port, so test daemons never fight over the default one.
        self.env = {**os.environ, "CONVEYOR_HOME": str(home), "CONVEYOR_PORT": str(port),
                    "CONVEYOR_REGISTRY_PORT": str(free_port()), **GIT_ENV}

    def __call__(self, *args: str, check: bool = True, cwd: Path | None = None, input: str | None = None):
        done = subprocess.run([sys.executable, "-m", "conveyor.cli.main", *args], env=self.env, cwd=cwd,
                              capture_output=True, text=True, input=input, timeout=120)
        if check and done.returncode != 0:
            raise AssertionError(f"conveyor {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def json(self, *args: str):
        return json.loads(self(*args, "--json").stdout)

    def pid(self) -> int:
        return int((self.home / "daemon.pid").read_text())

    def kill9(self) -> None:
        pid = self.pid()
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), 10, what="daemon death")

    def execution(self, execution_id: str) -> dict:
        return self.json("status", execution_id)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1] == "Z"
    except OSError:
        return True


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **GIT_ENV})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def action(ex: dict, stage: str, name: str) -> dict:
    for s in ex["stages"]:
        if s["name"] == stage:
            for a in s["actions"]:
                if a["name"] == name:
                    return a
    raise KeyError((stage, name))


def pipeline_repo(path: Path, conveyor_yml: str) -> Path:
    """A git repository at `path` whose one commit holds `conveyor_yml`."""
    path.mkdir(parents=True)
    git("init", "--quiet", "-b", "main", cwd=path)
    (path / "conveyor.yml").write_text(conveyor_yml)
    git("add", "-A", cwd=path)
    git("commit", "--quiet", "-m", "pipeline", cwd=path)
    return path
