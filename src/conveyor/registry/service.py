"""The distribution registry (`docker-registry serve`), supervised: config written from data,
started, health-checked, restarted with backoff when it dies, stopped.

    service = RegistryService(home)
    service.start()            # returns once GET /v2/ answers on the backend socket
    service.backend.ping()     # -> True
    service.stop()

Layout under home/registry/: config.yml (0600), data/ (the storage root), registry.log,
registry.pid, backend.sock, token. The backend has no auth of its own: it listens on a UNIX
socket in this 0700 directory, so only the proxy (proxy.py), which authenticates, reaches it.

States: stopped → starting → running ⇄ restarting → stopped. A registry left running by a daemon
that was killed is recognised by its pid file and command line, and stopped before a new start.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from conveyor.errors import ConveyorError
from conveyor.providers.local import process
from conveyor.providers.local.process import Command
from conveyor.registry.backend import Backend

log = logging.getLogger("conveyor.registry")

REGISTRY_BINARY = "docker-registry"
#: How long a start may take before it is reported as failed (it takes ~0.1 s here).
START_TIMEOUT = 15.0
#: How often the supervisor looks at the process.
MONITOR_INTERVAL = 0.5
#: Waits before restart n (the last repeats); reset once it has run for STABLE_AFTER seconds.
RESTART_BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
STABLE_AFTER = 60.0
#: A live process that fails this many health checks in a row (one per interval) is restarted
#: (ALB's default unhealthy threshold is 2 of 30 s; a local registry answers in milliseconds).
HEALTH_CHECK_INTERVAL = 5.0
UNHEALTHY_THRESHOLD = 3
#: Where sun_path's 108 bytes cannot hold home's socket path, it goes to a short private dir.
MAX_SOCKET_PATH = 100
#: The ECR login user name (`aws ecr get-login-password | docker login --username AWS`).
LOGIN_USER = "AWS"


class RegistryFailed(ConveyorError):
    pass


def registry_dir(home: Path) -> Path:
    return home / "registry"


def token_path(home: Path) -> Path:
    return registry_dir(home) / "token"


def read_or_create_token(home: Path) -> str:
    """The registry password (user AWS): generated once, stored 0600, never logged."""
    path = token_path(home)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists():
        return path.read_text().strip()
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


class SecretFilter(logging.Filter):
    """Masks secrets (and their Basic-auth encoding) in every record of a handler it is on."""

    def __init__(self, *secrets: str):
        super().__init__()
        forms = set()
        for secret in filter(None, secrets):
            forms |= {secret, base64.b64encode(f"{LOGIN_USER}:{secret}".encode()).decode()}
        self.forms = sorted(forms, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for form in self.forms:
            text = text.replace(form, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def login_command(host: str, token: str, engine: str = "podman") -> Command:
    """`podman login` (or docker's) with the password on stdin, never in argv or logs."""
    tls = ["--tls-verify=false"] if os.path.basename(engine) == "podman" else []
    return Command([engine, "login", *tls, "--username", LOGIN_USER, "--password-stdin", host],
                   input=token.encode(), redact=(token,))


def config_text(root: Path, socket_path: Path, http_secret: str) -> str:
    """distribution's config.yml (docs: distribution/docs/configuration.md, v2.8)."""
    return (
        "version: 0.1\n"
        "log:\n  level: info\n  accesslog:\n    disabled: true\n"
        "storage:\n"
        f"  filesystem:\n    rootdirectory: {root}\n"
        "  delete:\n    enabled: true\n"
        "http:\n  net: unix\n"
        f"  addr: {socket_path}\n"
        # Signs upload-session state; fixed so an upload survives a restart of the registry.
        f"  secret: {http_secret}\n"
    )


def socket_path_for(directory: Path) -> Path:
    path = directory / "backend.sock"
    if len(str(path)) <= MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(directory).encode()).hexdigest()[:12]
    short = Path(tempfile.gettempdir()) / f"conveyor-registry-{digest}"
    short.mkdir(mode=0o700, exist_ok=True)
    return short / "backend.sock"


class RegistryService:
    def __init__(self, home: Path, binary: str = REGISTRY_BINARY):
        self.dir = registry_dir(Path(home))
        self.binary = binary
        self.config_path = self.dir / "config.yml"
        self.data_dir = self.dir / "data"
        self.log_path = self.dir / "registry.log"
        self.pid_path = self.dir / "registry.pid"
        self.socket_path = socket_path_for(self.dir)
        self.backend = Backend(self.socket_path)
        self.state = "stopped"
        self.restarts = 0
        self._proc: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._monitor: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Write the config, start the registry, wait until healthy, then supervise it."""
        if self._monitor is not None:
            return
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.dir, 0o700)
        self.data_dir.mkdir(exist_ok=True)
        self._stop_leftover()
        self._write_config()
        self._stopping.clear()
        self.state = "starting"
        self._spawn()
        if not self._wait_healthy(timeout):
            self._kill()
            self.state = "stopped"
            raise RegistryFailed(f"the registry did not become healthy within {timeout:g} s: "
                                 f"{process.tail(self._log_tail())}",
                                 hint=f"see {self.log_path}")
        self.state = "running"
        self._monitor = threading.Thread(target=self._supervise, name="registry-supervisor",
                                         daemon=True)
        self._monitor.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._monitor is not None:
            self._monitor.join()
            self._monitor = None
        self._kill()
        self.state = "stopped"

    # -- supervision
    def _supervise(self) -> None:
        failures = unhealthy = 0
        up_since = checked = time.monotonic()
        while not self._stopping.wait(MONITOR_INTERVAL):
            with self._lock:
                proc = self._proc
            if proc is not None and proc.poll() is None:
                now = time.monotonic()
                if failures and now - up_since >= STABLE_AFTER:
                    failures = 0
                if now - checked >= HEALTH_CHECK_INTERVAL:
                    checked = now
                    unhealthy = 0 if self.backend.ping() else unhealthy + 1
                    if unhealthy >= UNHEALTHY_THRESHOLD:
                        log.warning("registry failed %d health checks; restarting it", unhealthy)
                        unhealthy = 0
                        process.terminate(proc)
                continue
            delay = RESTART_BACKOFF[min(failures, len(RESTART_BACKOFF) - 1)]
            code = proc.returncode if proc else None
            log.warning("registry exited (code %s); restarting in %.1f s: %s", code, delay,
                        process.tail(self._log_tail(), 2))
            self.state = "restarting"
            failures += 1
            if self._stopping.wait(delay):
                return
            try:
                self._spawn()
            except ConveyorError as exc:  # binary removed, etc.: keep trying with backoff
                log.error("registry restart failed: %s", exc)
                continue
            if self._wait_healthy(START_TIMEOUT):
                self.restarts += 1
                self.state = "running"
                up_since = time.monotonic()
                log.info("registry restarted (restart %d)", self.restarts)

    def _spawn(self) -> None:
        if self.socket_path.exists():  # Go's listener refuses an existing socket file
            self.socket_path.unlink()
        cmd = Command([self.binary, "serve", str(self.config_path)])
        with self._lock:
            self._proc = process.start(cmd, log_path=str(self.log_path))
        self.pid_path.write_text(f"{self._proc.pid}\n")

    def _wait_healthy(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.backend.ping():
                return True
            if self._proc is not None and self._proc.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def _kill(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is not None:
            process.terminate(proc)
        self.pid_path.unlink(missing_ok=True)

    def _stop_leftover(self) -> None:
        """A registry of ours still running from a daemon that died: stop it by its pid."""
        try:
            pid = int(self.pid_path.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return
        if str(self.config_path).encode() not in cmdline:
            return  # the pid was reused by something else
        log.info("stopping registry pid %d left over from an earlier run", pid)
        try:
            os.killpg(pid, signal.SIGTERM)
        except OSError:
            return
        deadline = time.monotonic() + process.DEFAULT_KILL_GRACE
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass

    def _write_config(self) -> None:
        secret_path = self.dir / "http-secret"
        if not secret_path.exists():
            fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        text = config_text(self.data_dir, self.socket_path, secret_path.read_text().strip())
        fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)

    def _log_tail(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(0, os.path.getsize(self.log_path) - 4096))
                return f.read().decode(errors="replace")
        except OSError:
            return ""


def _alive(pid: int) -> bool:
    """Running (a zombie only waits for its parent to collect it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
