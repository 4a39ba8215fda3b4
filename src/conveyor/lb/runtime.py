"""HAProxy's runtime API over its UNIX socket: one command per connection, newline ended.

    api = RuntimeAPI(Path("/lb/admin.sock"))
    api.call("set server web/t1 weight 50")
    # -> ''
    api.servers_state("web")[0]["srv_op_state"]
    # -> '2'

HAProxy answers every command with free text: `call` raises RuntimeCommandFailed unless the
answer is empty or one of the success lines the command is known to print. Parsers for
`show servers state`, `show stat` and `show info` are pure functions.
"""

from __future__ import annotations

import csv
import io
import os
import socket
from pathlib import Path

from conveyor.lb.errors import LoadBalancerError

#: Longest UNIX socket path the kernel takes (sun_path is 108 bytes with the NUL).
MAX_SOCKET_PATH = 107
COMMAND_TIMEOUT = 5.0
#: Success lines some commands print (everything else non-empty is an error message).
OK_ANSWERS = ("New server registered.", "Server deleted.", "New version created:")


class RuntimeUnavailable(LoadBalancerError):
    """The socket does not answer (HAProxy is not running, or is restarting)."""


class RuntimeCommandFailed(LoadBalancerError):
    def __init__(self, command: str, answer: str):
        self.command, self.answer = command, answer.strip()
        super().__init__(f"HAProxy refused `{command}`: {self.answer}")


class RuntimeAPI:
    def __init__(self, path: Path, timeout: float = COMMAND_TIMEOUT):
        self.path = Path(path)
        self.timeout = timeout

    def send(self, command: str) -> str:
        """The raw answer to one command."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            _connect(sock, self.path)
            sock.sendall(command.encode() + b"\n")
            sock.shutdown(socket.SHUT_WR)  # the master CLI answers only after end of input
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except OSError as exc:
            raise RuntimeUnavailable(f"HAProxy's socket {self.path} does not answer: {exc}",
                                     hint="ensure_running() restarts it") from exc
        finally:
            sock.close()
        return b"".join(chunks).decode(errors="replace")

    def call(self, command: str, *, accept: tuple[str, ...] = ()) -> str:
        """Send a command that changes something; raise RuntimeCommandFailed on an error
        message (an answer starting with one of `accept` is also an error-free answer)."""
        answer = self.send(command)
        text = answer.strip()
        if text and not text.startswith(OK_ANSWERS + accept):
            raise RuntimeCommandFailed(command, text)
        return answer

    def alive(self) -> bool:
        try:
            return "Pid:" in self.send("show info")
        except RuntimeUnavailable:
            return False

    def info(self) -> dict[str, str]:
        return parse_info(self.send("show info"))

    def servers_state(self, backend: str | None = None) -> list[dict[str, str]]:
        answer = self.send(f"show servers state {backend}" if backend else "show servers state")
        if answer.startswith("Can't find backend"):
            return []
        return parse_servers_state(answer)

    def stat(self, backend: str | None = None) -> list[dict[str, str]]:
        """`show stat` rows; for one backend only its servers (type 4)."""
        answer = self.send(f"show stat {backend} 4 -1" if backend else "show stat")
        return parse_stat(answer)


def _connect(sock: socket.socket, path: Path) -> None:
    if len(str(path)) <= MAX_SOCKET_PATH:
        sock.connect(str(path))
        return
    # A long directory: reach the socket through a short /proc path to the directory.
    fd = os.open(path.parent, os.O_PATH)
    try:
        sock.connect(f"/proc/self/fd/{fd}/{path.name}")
    finally:
        os.close(fd)


def parse_servers_state(text: str) -> list[dict[str, str]]:
    """`show servers state` (format 1: version line, '# header' line, rows) as dicts.

    >>> parse_servers_state("1\\n# be_id be_name srv_name\\n3 web t1\\n")
    [{'be_id': '3', 'be_name': 'web', 'srv_name': 't1'}]
    """
    header: list[str] = []
    rows = []
    for line in text.splitlines():
        if line.startswith("#"):
            header = line[1:].split()
        elif header and line.strip():
            rows.append(dict(zip(header, line.split(), strict=False)))
    return rows


def parse_stat(text: str) -> list[dict[str, str]]:
    """`show stat` CSV ('# pxname,svname,…' header) as dicts.

    >>> parse_stat("# pxname,svname,scur,\\nweb,t1,3,\\n")
    [{'pxname': 'web', 'svname': 't1', 'scur': '3'}]
    """
    if not text.startswith("# "):
        return []
    reader = csv.reader(io.StringIO(text[2:]))
    header = next(reader, [])
    rows = []
    for values in reader:
        if values:
            rows.append({k: v for k, v in zip(header, values, strict=False) if k})
    return rows


def parse_info(text: str) -> dict[str, str]:
    """`show info` ('Name: value' lines) as a dict.

    >>> parse_info("Pid: 42\\nUptime_sec: 7\\n")["Pid"]
    '42'
    """
    info = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info


def parse_proc(text: str) -> dict[str, list[int]]:
    """The master's `show proc`: pids by section ('master', 'workers', 'old workers').

    >>> parse_proc("#<PID> <type>\\n10 master 0\\n# workers\\n12 worker 1\\n"
    ...            "# old workers\\n11 worker 2\\n# programs\\n")
    {'master': [10], 'workers': [12], 'old workers': [11]}
    """
    sections: dict[str, list[int]] = {"master": []}
    current = "master"
    for line in text.splitlines():
        if line.startswith("#<"):
            continue
        if line.startswith("#"):
            current = line[1:].strip()
            sections.setdefault(current, [])
        elif line.split() and line.split()[0].isdigit():
            sections.setdefault(current, []).append(int(line.split()[0]))
    return {k: v for k, v in sections.items() if v}
