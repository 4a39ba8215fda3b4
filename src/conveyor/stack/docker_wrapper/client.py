"""Running the real docker client: exec'd for what is not taken over, or waited for when the
wrapper has more to do after it."""

from __future__ import annotations

import os
import sys

#: The real docker client; CONVEYOR_DOCKER_CLIENT overrides it (tests).
REAL_CLIENT = "/usr/local/libexec/docker-client"
CLIENT_ENV = "CONVEYOR_DOCKER_CLIENT"


def client_path(env: dict[str, str]) -> str:
    return env.get(CLIENT_ENV) or REAL_CLIENT


def run_real_client(argv: list[str], env: dict[str, str]) -> None:
    client = client_path(env)
    try:
        os.execve(client, ["docker", *argv], env)
    except OSError as exc:
        sys.stderr.write(f"docker: cannot run the docker client {client}: {exc.strerror}\n")
        sys.exit(127)


def call_client(argv: list[str], env: dict[str, str], quiet: bool = False) -> int:
    """Run the real client and wait, passing SIGINT, SIGTERM and SIGHUP on to it (a stopped
    build reaches the container behind it, and the wrapper still cleans up after)."""
    import signal
    import subprocess

    client = client_path(env)
    out = subprocess.DEVNULL if quiet else None
    try:
        child = subprocess.Popen(["docker", *argv], executable=client, env=env, stdout=out,
                                 stderr=out)
    except OSError as exc:
        sys.stderr.write(f"docker: cannot run the docker client {client}: {exc.strerror}\n")
        return 127
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, lambda number, frame: child.send_signal(number))
                for s in signals}
    try:
        while True:
            try:
                return child.wait()
            except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for clarity
                continue
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)

def write_notes(notes: list[str]) -> None:
    seen: set[str] = set()
    for line in notes:
        if line not in seen:
            seen.add(line)
            sys.stderr.write(line)
    sys.stderr.flush()

