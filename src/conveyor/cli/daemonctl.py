"""`conveyor up` and `conveyor down`: the daemon's lifecycle, by pid file and health check."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conveyor import home as homes
from conveyor.cli.client import Client
from conveyor.cli.render import echo
from conveyor.errors import ConveyorError, DaemonUnreachable, UserError

START_TIMEOUT = 15.0
STOP_TIMEOUT = 20.0


def running(root: Path) -> Client | None:
    try:
        client = Client.connect(root)
        client.get("/api/v1/health")
        return client
    except DaemonUnreachable:
        return None


def up(args) -> int:
    root = homes.home()
    if running(root):
        endpoint = json.loads(homes.endpoint_path(root).read_text())
        echo(f"Conveyor is already up: http://{endpoint['host']}:{endpoint['port']} (data {root})")
        return 0
    start_daemon(root, port=args.port, host=args.host, poll=not args.no_poll)
    endpoint = json.loads(homes.endpoint_path(root).read_text())
    echo(f"Conveyor is up: http://{endpoint['host']}:{endpoint['port']}  (data {root}, log {homes.log_path(root)})")
    return 0


def start_daemon(root: Path, port: int | None = None, host: str | None = None, poll: bool = True) -> None:
    homes.prepare(root)  # 0700; an install from before this rule is tightened once
    _clear_stale(root)
    port = port if port is not None else int(os.environ.get("CONVEYOR_PORT", homes.DEFAULT_PORT))
    argv = [sys.executable, "-m", "conveyor.server.daemon", "--home", str(root), "--port", str(port),
            "--host", host or homes.DEFAULT_HOST]
    if not poll:
        argv.append("--no-poll")
    log = homes.open_private_log(homes.log_path(root))
    try:  # umask: what the daemon and the tools it runs create in the data directory is private
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, close_fds=True, umask=homes.DAEMON_UMASK)
    finally:
        os.close(log)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = _tail(homes.log_path(root))
            hint = "another process may use the port: `conveyor up --port N`" if "Address already in use" in tail \
                else f"see {homes.log_path(root)}"
            raise ConveyorError(f"the daemon exited at start (code {proc.returncode}): {tail.strip()[-300:]}",
                                hint=hint)
        if running(root):
            return
        time.sleep(0.1)
    raise ConveyorError("the daemon did not answer within 15 s", hint=f"see {homes.log_path(root)}")


def down(args) -> int:
    root = homes.home()
    code = _stop_daemon(root)
    if getattr(args, "all", False):
        stop_data_plane(root)
    return code


def stop_data_plane(root: Path) -> None:
    """Tasks and load balancers outlive the daemon (they serve while it is down); `down --all`
    takes them down too, and the container engine's API service started for builds, which a
    daemon that was killed leaves running (the next one reuses it without owning it)."""
    from conveyor.lb.haproxy import LoadBalancer
    from conveyor.providers.local.containers import stop_api_service
    from conveyor.providers.local.ecs.tasks import PodRuntime

    PodRuntime(root).remove_all()
    for directory in sorted((root / "lb").glob("*")):
        if directory.is_dir():
            LoadBalancer(directory, directory.name).stop()
    echo("services and load balancers of this data directory are down")
    stopped = stop_api_service(str(homes.engine_path(root)))
    if stopped is not None:
        echo(f"the engine API service for builds (pid {stopped}) is down")


def _stop_daemon(root: Path) -> int:
    pid = _pid(root)
    if pid is None:
        echo("Conveyor is not running")
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        _clear_stale(root)
        echo("Conveyor was not running (removed a stale pid file)")
        return 0
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        echo("Conveyor did not stop in time and was killed; running actions re-run at the next `conveyor up`")
    else:
        echo("Conveyor is down")
    _clear_stale(root)
    return 0


def _pid(root: Path) -> int | None:
    try:
        return int(homes.pid_path(root).read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return False


def _clear_stale(root: Path) -> None:
    pid = _pid(root)
    if pid is not None and _alive(pid):
        raise UserError(f"a daemon with pid {pid} is registered in {root} but does not answer",
                        hint=f"stop it with `conveyor down` or `kill {pid}`")
    for path in (homes.pid_path(root), homes.endpoint_path(root)):
        path.unlink(missing_ok=True)


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-2000:]
    except OSError:
        return ""
