"""The HAProxy process of one load balancer: start, adopt, seamless reload, stop.

HAProxy runs in master-worker mode (`-W`) in its own session, so nothing that happens to the
process that started it (even `kill -9`) reaches it. The master holds the listening sockets:
a reload (SIGUSR2) starts a new worker on the same sockets and lets the old one finish its
requests, so no connection is refused. A new `HAProxyInstance` on the same directory adopts a
running HAProxy through its pid file and admin socket.

    haproxy = HAProxyInstance(Path("/lb"))
    haproxy.start(config_text, {"listener-8080.map": ""})
    haproxy.reload(new_config_text, maps)
    haproxy.stop()
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from pathlib import Path

from conveyor.lb import config as cfg
from conveyor.lb.errors import LoadBalancerError
from conveyor.lb.runtime import RuntimeAPI, RuntimeUnavailable, parse_proc
from conveyor.providers.local import process
from conveyor.providers.local.process import CommandFailed

log = logging.getLogger("conveyor.lb")

START_TIMEOUT = 10.0
RELOAD_TIMEOUT = 10.0
STOP_GRACE = 5.0
ORPHAN_GRACE = 2.0
POLL = 0.02
LOG_TAIL_LINES = 5


class HAProxyInstance:
    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.api = RuntimeAPI(self.directory / cfg.ADMIN_SOCKET)
        self.master = RuntimeAPI(self.directory / cfg.MASTER_SOCKET)
        self._proc: subprocess.Popen | None = None

    @property
    def log_path(self) -> Path:
        return self.directory / cfg.LOG_FILE

    def pid(self) -> int | None:
        """The master's pid if our HAProxy is alive (a zombie or a recycled pid is not)."""
        self._reap()
        try:
            pid = int((self.directory / cfg.PID_FILE).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if _is_our_haproxy(pid, self.directory) else None

    def running(self) -> bool:
        return self.pid() is not None and self.api.alive()

    def worker_pid(self) -> int | None:
        try:
            return int(self.api.info().get("Pid", ""))
        except (RuntimeUnavailable, ValueError):
            return None

    def old_workers(self) -> list[int]:
        """Workers of previous configurations still finishing their requests."""
        try:
            return parse_proc(self.master.send("show proc")).get("old workers", [])
        except RuntimeUnavailable:
            return []

    def write_map(self, name: str, text: str) -> None:
        _atomic_write(self.directory / name, text)

    def write(self, config_text: str, maps: dict[str, str]) -> None:
        """Write the map files and the configuration, the configuration only once `haproxy -c`
        accepts it (the running HAProxy re-reads it on reload)."""
        for name, text in maps.items():
            _atomic_write(self.directory / name, text)
        candidate = f".{cfg.CONFIG_FILE}.new"
        _atomic_write(self.directory / candidate, config_text)
        try:
            process.run(cfg.check_command(candidate, cwd=str(self.directory)), dry_run=False)
        except CommandFailed as exc:
            raise LoadBalancerError(f"HAProxy rejected the generated configuration "
                                    f"{self.directory / candidate}: {exc.stderr_tail}") from exc
        os.replace(self.directory / candidate, self.directory / cfg.CONFIG_FILE)

    def start(self, config_text: str, maps: dict[str, str]) -> None:
        """Start HAProxy and return once its admin socket answers."""
        self._end_orphans()
        # No saved server state on a fresh start (only the format version line: HAProxy warns
        # about a missing or empty file).
        _atomic_write(self.directory / cfg.SERVER_STATE_FILE, "1\n")
        self.write(config_text, maps)
        log_size = _size(self.log_path)
        proc = process.start(cfg.start_command(cwd=str(self.directory)),
                             log_path=str(self.log_path))
        self._proc = proc
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise LoadBalancerError(f"HAProxy exited with code {proc.returncode} at start: "
                                        f"{self._log_tail(log_size)}",
                                        hint=f"see {self.log_path}")
            if self.pid() == proc.pid and self.api.alive():
                log.info("HAProxy started (master %s) in %s", proc.pid, self.directory)
                return
            time.sleep(POLL)
        self._kill(proc.pid)
        raise LoadBalancerError(f"HAProxy did not answer on {self.api.path} within "
                                f"{START_TIMEOUT:g} s: {self._log_tail(log_size)}")

    def reload(self, config_text: str, maps: dict[str, str]) -> None:
        """Seamless reload: dump the servers' state (health, drain, weights) for the new worker
        to load, write the new configuration, SIGUSR2 the master, wait for the new worker."""
        master = self.pid()
        if master is None:
            raise LoadBalancerError("HAProxy is not running; nothing to reload")
        _atomic_write(self.directory / cfg.SERVER_STATE_FILE, self.api.send("show servers state"))
        self.write(config_text, maps)
        before = self.worker_pid()
        failures = self._failed_reloads()
        log_size = _size(self.log_path)
        os.kill(master, signal.SIGUSR2)
        deadline = time.monotonic() + RELOAD_TIMEOUT
        while time.monotonic() < deadline:
            worker = self.worker_pid()
            if worker is not None and worker != before:
                log.info("HAProxy reloaded (worker %s -> %s)", before, worker)
                return
            if self._failed_reloads() > failures:
                break
            time.sleep(POLL)
        raise LoadBalancerError(f"HAProxy did not reload: {self._log_tail(log_size)}",
                                hint=f"the previous configuration keeps serving; "
                                     f"see {self.log_path}")

    def stop(self, grace: float = STOP_GRACE) -> None:
        pid = self.pid()
        if pid is not None:
            self._kill(pid, grace)
            log.info("HAProxy stopped (master %s)", pid)
        self._end_orphans(signal.SIGTERM)
        (self.directory / cfg.PID_FILE).unlink(missing_ok=True)
        self._proc = None

    def _end_orphans(self, sig: int | None = None) -> None:
        """Workers of a dead master exit by themselves within moments; a new HAProxy must not
        share the listening ports with one (SO_REUSEPORT would let it)."""
        for pid in _haproxy_pids(self.directory):
            self._kill(pid, grace=ORPHAN_GRACE, sig=sig)

    def _kill(self, pid: int, grace: float = STOP_GRACE, sig: int | None = signal.SIGTERM
              ) -> None:
        """Signal `pid` (None: just wait for it), SIGKILL it after `grace`, collect it."""
        if sig is not None:
            _signal(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _alive(pid):
            self._reap(pid)
            time.sleep(POLL)
        if _alive(pid):
            _signal(pid, signal.SIGKILL)
            while _alive(pid):
                self._reap(pid)
                time.sleep(POLL)
        self._reap(pid)

    def _reap(self, pid: int | None = None) -> None:
        """Collect our own exited HAProxy, so that it is not mistaken for a live one."""
        if self._proc is not None:
            self._proc.poll()
        if pid is not None:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass

    def _failed_reloads(self) -> int:
        try:
            answer = self.master.send("show proc")
        except RuntimeUnavailable:
            return 0
        for line in answer.splitlines():
            if "master" in line and "[failed:" in line:
                try:
                    return int(line.split("[failed:")[1].split("]")[0])
                except ValueError:
                    return 0
        return 0

    def _log_tail(self, offset: int) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                text = f.read().decode(errors="replace")
        except OSError:
            return "(no log)"
        lines = [ln.strip() for ln in text.splitlines()
                 if "[ALERT]" in ln or "[WARNING]" in ln or "rror" in ln]
        return " | ".join(lines[-LOG_TAIL_LINES:]) or "(nothing in the log)"


def _is_our_haproxy(pid: int, directory: Path) -> bool:
    """The pid is alive (not a zombie), is haproxy, and runs in our directory."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            try:
                os.waitpid(pid, os.WNOHANG)  # ours: collect it
            except ChildProcessError:
                pass
            return False
        if b"haproxy" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return False
    except (OSError, IndexError):
        return False
    try:
        return os.path.samefile(os.readlink(f"/proc/{pid}/cwd"), directory)
    except PermissionError:
        return True  # another user's process: trust the pid file and the socket
    except OSError:
        return False


def _haproxy_pids(directory: Path) -> list[int]:
    """Live haproxy processes running in `directory` (ours: HAProxy runs there)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _alive(int(entry.name)):
            try:
                if (b"haproxy" in (entry / "cmdline").read_bytes()
                        and os.path.samefile(os.readlink(entry / "cwd"), directory)):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
