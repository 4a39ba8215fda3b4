"""`conveyor up` and `conveyor down`: the daemon's lifecycle, by pid file and health check."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from conveyor import home as homes
from conveyor.cli.client import Client
from conveyor.cli.render import echo
from conveyor.errors import ConveyorError, DaemonUnreachable, UserError
from conveyor.hostcheck import host_name

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
    host = args.host or homes.DEFAULT_HOST
    remote = bind_scope(host)  # before anything starts: a refused address changes nothing
    if remote and not getattr(args, "allow_remote", False):
        raise UserError(f"--host {host} is not a loopback address: the API, with its token sent over plain HTTP, "
                        "would be reachable from the network",
                        hint=f"add --allow-remote to bind {host} anyway (see docs/security.md), "
                             "or keep the default 127.0.0.1 and reach it through an SSH tunnel")
    allow = [_host_name(name) for name in getattr(args, "allow_host", None) or []]
    hooks = _webhooks(args)
    if running(root):
        endpoint = json.loads(homes.endpoint_path(root).read_text())
        echo(f"Conveyor is already up: http://{endpoint['host']}:{endpoint['port']} (data {root})")
        return 0
    start_daemon(root, port=args.port, host=host, poll=not args.no_poll, allow_hosts=allow, webhooks=hooks)
    endpoint = json.loads(homes.endpoint_path(root).read_text())
    echo(f"Conveyor is up: http://{endpoint['host']}:{endpoint['port']}  (data {root}, log {homes.log_path(root)})")
    echo("dashboard: `conveyor dashboard --open` (a one-time login link)")
    if endpoint.get("webhooks"):
        at = endpoint["webhooks"]
        echo(f"webhooks: http://{at['host']}:{at['port']}/hooks/{{github,gitlab,bitbucket,generic}} "
             "(each refuses everything until `conveyor secret set webhooks/HOST` gives it a secret)")
    if remote:
        echo(f"warning: the API listens on {endpoint['host']}:{endpoint['port']} for the network, over plain HTTP: "
             f"anyone who can reach it and holds the token in {homes.token_path(root)} can run pipelines, "
             "deploy and read logs; anyone on the path can read the token. Put TLS and a firewall in front of it.",
             err=True)
        everywhere = endpoint["host"] in ("0.0.0.0", "::")
        names = ", ".join(["localhost", "127.0.0.1", "any address of this machine" if everywhere else endpoint["host"],
                           *allow])
        echo(f"Host headers it answers: {names} (add names with --allow-host NAME)", err=True)
    return 0


def _webhooks(args) -> list[str]:
    """The daemon's webhook arguments; a listener beyond loopback needs --allow-remote as the API does."""
    listen = getattr(args, "webhooks_listen", None)
    if listen:
        from conveyor.server.hooks import parse_listen

        host, _ = parse_listen(listen)
        if bind_scope(host) and not getattr(args, "allow_remote", False):
            raise UserError(f"--webhooks-listen {listen} is not a loopback address: the webhooks would be reachable "
                            "from the network", hint="add --allow-remote to bind it anyway (each webhook is "
                                                     "verified by its secret; put TLS in front), or keep 127.0.0.1 "
                                                     "behind a reverse proxy")
        return ["--webhooks-listen", listen]
    return ["--webhooks"] if getattr(args, "webhooks", False) else []


def bind_scope(host: str) -> bool:
    """Whether binding `host` exposes the API beyond this machine: True for any address but the
    loopback ones (0.0.0.0 and :: mean every interface). A name counts as what it resolves to."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if not host or any(c.isspace() or c in "/@?#:\\" for c in host):
            raise UserError(f"--host {host!r} is neither an IP address nor a host name",
                            hint="e.g. --host 127.0.0.1 (the default) or --host 0.0.0.0 --allow-remote") from None
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise UserError(f"--host {host}: cannot resolve it ({exc})",
                            hint="give an address of this machine, e.g. 127.0.0.1") from None
        return not all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)
    return not address.is_loopback


def _host_name(name: str) -> str:
    parsed = host_name(name)
    if parsed is None:
        raise UserError(f"--allow-host {name!r} is not a host name", hint="e.g. --allow-host ci.example.internal")
    return parsed


def start_daemon(root: Path, port: int | None = None, host: str | None = None, poll: bool = True,
                 allow_hosts: list[str] | tuple[str, ...] = (), webhooks: list[str] | tuple[str, ...] = ()) -> None:
    homes.prepare(root)  # 0700; an install from before this rule is tightened once
    _clear_stale(root)
    port = port if port is not None else int(os.environ.get("CONVEYOR_PORT", homes.DEFAULT_PORT))
    argv = [sys.executable, "-m", "conveyor.server.daemon", "--home", str(root), "--port", str(port),
            "--host", host or homes.DEFAULT_HOST]
    if not poll:
        argv.append("--no-poll")
    for name in allow_hosts:
        argv += ["--allow-host", name]
    argv += list(webhooks)
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
