"""The data directory through the real daemon and CLI: private from `conveyor up` on (an older
world-readable install is tightened), and `conveyor down --all` stops the engine API service that
builds use even when the daemon that started it was killed."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap

import pytest
from e2e_support import pipeline_repo, wait_until
from stack_support import stack_missing

from conveyor.providers.local import containers


def loose(root) -> list[str]:
    """Entries under `root` that group or others may use. Not counted: symbolic links, artifacts
    (0755/0444 on purpose: containers running as another user read them) and git objects
    hard-linked from the source repository by a local clone (their mode is the original's)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == str(root):
            dirnames.remove("artifacts")
        for path in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
            st = os.lstat(path)
            shared = stat.S_ISREG(st.st_mode) and st.st_nlink > 1
            if not stat.S_ISLNK(st.st_mode) and not shared and stat.S_IMODE(st.st_mode) & 0o077:
                out.append(f"{os.path.relpath(path, root)} {stat.S_IMODE(st.st_mode):o}")
    return out


def test_the_data_directory_is_private_after_up_and_a_run(tmp_path, conveyor):
    home = conveyor.home
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    (home / "from-an-older-version.db").write_text("x")
    os.chmod(home / "from-an-older-version.db", 0o644)
    conveyor("up")
    conveyor("secret", "set", "db/password", input="s3cr3t-Value-42")
    repo = pipeline_repo(tmp_path / "repo", textwrap.dedent("""\
        name: private
        pipeline:
          pollIntervalSeconds: 0
          stages:
            - name: Source
              actions:
                - {name: Source, provider: Git, outputArtifacts: [src]}
            - name: Wait
              actions:
                - {name: Wait, provider: Wait, seconds: 0}
        """))
    ex = conveyor.json("run", "--repo", str(repo))
    wait_until(lambda: conveyor.execution(ex["id"])["status"] == "Succeeded", 60, what="the run")
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for name in ("token", "daemon.log", "daemon.pid", "conveyor.db", "secrets.db", "secrets.key"):
        assert stat.S_IMODE((home / name).stat().st_mode) == 0o600, name
    assert loose(home) == []
    frozen = [p for p in (home / "artifacts").rglob("*") if p.is_file()]
    assert frozen and all(stat.S_IMODE(p.stat().st_mode) in (0o444, 0o555) for p in frozen)


def _podman_ready() -> None:
    try:
        subprocess.run(["podman", "version"], check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        stack_missing(f"podman unusable ({exc})")


ORPHAN = """\
import sys
from conveyor.providers.local.containers import ContainerEngine, ensure_api_service
service = ensure_api_service(ContainerEngine("podman"), sys.argv[1])
print(service.proc.pid)
"""  # and exits without stopping it, as a daemon killed with -9 would


@pytest.mark.podman
def test_down_all_stops_an_engine_api_service_left_by_a_killed_daemon(conveyor):
    _podman_ready()
    engine = conveyor.home / "engine"
    started = subprocess.run([sys.executable, "-c", ORPHAN, str(engine)], capture_output=True, text=True,
                             check=True, timeout=120, env=conveyor.env)
    pid = int(started.stdout)
    sock = str(engine / containers.PODMAN_API_SOCKET)
    assert containers.api_answers(sock)  # its starter is gone; the service is not
    assert stat.S_IMODE((engine / containers.PODMAN_API_PID).stat().st_mode) == 0o600

    done = conveyor("down", "--all")
    assert f"the engine API service for builds (pid {pid}) is down" in done.stdout
    assert not os.path.exists(f"/proc/{pid}") or _zombie(pid)
    assert not os.path.exists(sock) and not (engine / containers.PODMAN_API_PID).exists()
    again = conveyor("down", "--all")
    assert "engine API service" not in again.stdout


def test_a_reused_pid_is_not_stopped(tmp_path):
    """The pid file names a process that is not the service (the pid was reused): left alone."""
    other = subprocess.Popen(["sleep", "60"])
    try:
        (tmp_path / containers.PODMAN_API_PID).write_text(f"{other.pid}\n")
        assert containers.stop_api_service(str(tmp_path)) is None
        assert other.poll() is None
        assert not (tmp_path / containers.PODMAN_API_PID).exists()
    finally:
        other.kill()
        other.wait()


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[-1][:1] == "Z"
    except OSError:
        return True
