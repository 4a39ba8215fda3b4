"""The supervised distribution registry: config, start, health, restart after a crash, stop;
the registry token; the login command. Runs the real `docker-registry`."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import time
from pathlib import Path

import pytest
from stack_support import needs

from conveyor.registry import service as svc
from conveyor.registry.service import RegistryService

needs_registry = needs(shutil.which(svc.REGISTRY_BINARY) is None, "docker-registry is not installed")


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def service(tmp_path):
    s = RegistryService(tmp_path / "home")
    yield s
    s.stop()


def test_config_text_is_a_unix_socket_backend_with_deletes():
    text = svc.config_text(Path("/h/registry/data"), Path("/h/registry/backend.sock"), "s3cr3t")
    assert text == (
        "version: 0.1\n"
        "log:\n  level: info\n  accesslog:\n    disabled: true\n"
        "storage:\n  filesystem:\n    rootdirectory: /h/registry/data\n"
        "  delete:\n    enabled: true\n"
        "http:\n  net: unix\n  addr: /h/registry/backend.sock\n  secret: s3cr3t\n")


def test_long_home_paths_get_a_short_private_socket(tmp_path):
    deep = tmp_path / ("d" * 120)
    path = svc.socket_path_for(deep)
    try:
        assert len(str(path)) <= svc.MAX_SOCKET_PATH
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert svc.socket_path_for(deep) == path  # stable for one home
    finally:
        path.parent.rmdir()
    assert svc.socket_path_for(tmp_path) == tmp_path / "backend.sock"


def test_token_is_created_once_and_private(tmp_path):
    token = svc.read_or_create_token(tmp_path)
    assert len(token) >= 40
    assert svc.read_or_create_token(tmp_path) == token
    assert stat.S_IMODE(svc.token_path(tmp_path).stat().st_mode) == 0o600


def test_login_command_keeps_the_token_out_of_argv_and_display():
    cmd = svc.login_command("127.0.0.1:5000", "tok3n")
    assert cmd.argv == ["podman", "login", "--tls-verify=false", "--username", "AWS",
                        "--password-stdin", "127.0.0.1:5000"]
    assert cmd.input == b"tok3n"
    assert "tok3n" not in cmd.display()
    docker = svc.login_command("localhost:5000", "tok3n", engine="docker")
    assert docker.argv == ["docker", "login", "--username", "AWS", "--password-stdin",
                           "localhost:5000"]


@needs_registry
def test_start_serves_v2_on_the_socket_with_private_files(service):
    service.start()
    assert service.state == "running"
    assert service.backend.ping()
    status, headers, _ = service.backend.request("GET", "/v2/")
    assert (status, headers["docker-distribution-api-version"]) == (200, "registry/2.0")
    assert stat.S_IMODE(service.dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(service.config_path.stat().st_mode) == 0o600
    assert service.pid_path.read_text().strip() == str(service.pid)
    assert service.data_dir.is_dir()


@needs_registry
def test_a_killed_registry_is_restarted(service):
    service.start()
    first = service.pid
    os.kill(first, signal.SIGKILL)
    assert wait_for(lambda: service.restarts == 1 and service.backend.ping()), service.state
    assert service.pid != first
    assert service.state == "running"


@needs_registry
def test_stop_ends_the_process_and_the_socket_stops_answering(service):
    service.start()
    pid = service.pid
    service.stop()
    assert service.state == "stopped"
    assert not Path(f"/proc/{pid}").exists() or _zombie(pid)
    assert not service.backend.ping()
    assert not service.pid_path.exists()


@needs_registry
def test_a_registry_left_over_by_a_dead_daemon_is_stopped_on_start(tmp_path):
    first = RegistryService(tmp_path / "home")
    first.start()
    orphan = first.pid
    first._stopping.set()  # the daemon "dies": its supervisor stops, the process stays
    first._monitor.join()
    second = RegistryService(tmp_path / "home")
    try:
        second.start()
        assert second.pid != orphan
        assert wait_for(lambda: not Path(f"/proc/{orphan}").exists() or _zombie(orphan))
        assert second.backend.ping()
    finally:
        second.stop()
        first._kill()


@needs_registry
def test_a_registry_that_cannot_start_is_reported_with_its_log(tmp_path):
    s = RegistryService(tmp_path / "home", binary="false")
    with pytest.raises(svc.RegistryFailed, match="did not become healthy"):
        s.start(timeout=2)
    assert s.state == "stopped"


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True
