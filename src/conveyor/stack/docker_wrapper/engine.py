"""The engine behind the client: asked directly over its socket (is it podman? which of this
container's paths are bind mounts?)."""

from __future__ import annotations

import os

DEFAULT_HOST = "unix:///var/run/docker.sock"


def engine_get(path: str, options: dict[str, str], env: dict[str, str],
               timeout: float = 5.0) -> tuple[int, dict[str, str], bytes] | None:
    """(status, headers with lower-cased names, body) of `GET path` on the engine the client
    talks to (-H, DOCKER_HOST, else the default socket); None when it does not answer."""
    import socket

    host = options.get("-H") or options.get("--host") or env.get("DOCKER_HOST") or DEFAULT_HOST
    try:
        if host.startswith("unix://"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(host.removeprefix("unix://"))
        elif host.startswith("tcp://"):
            name, _, port = host.removeprefix("tcp://").partition("/")[0].rpartition(":")
            sock = socket.create_connection((name, int(port)), timeout=timeout)
        else:
            return None
        with sock:
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
            data = b""
            while len(data) < (8 << 20):  # HTTP/1.0: the engine closes after the answer
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except (OSError, ValueError):
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split()
    if len(status) < 2 or not status[0].startswith("HTTP/") or not status[1].isdigit():
        return None
    headers = {name.strip().lower(): value.strip()
               for name, sep, value in (line.partition(":") for line in lines[1:]) if sep}
    return int(status[1]), headers, body


def engine_headers(options: dict[str, str], env: dict[str, str]) -> dict[str, str] | None:
    """The headers of the engine's `GET /_ping`, None when it does not answer. Podman's API
    says `Libpod-Api-Version`; Docker's does not."""
    answer = engine_get("/_ping", options, env)
    return answer[1] if answer is not None and answer[0] == 200 else None


def own_mounts(options: dict[str, str], env: dict[str, str]) -> dict[str, str] | None:
    """This container's bind mounts as {path here: path on the engine's host}, asked of the
    engine: a container's hostname is its ID unless someone chose another (then None)."""
    import json
    import socket

    answer = engine_get(f"/containers/{socket.gethostname()}/json", options, env)
    if answer is None or answer[0] != 200:
        return None
    try:
        mounts = json.loads(answer[2]).get("Mounts") or []
    except (ValueError, AttributeError):
        return None
    return {os.path.normpath(m["Destination"]): m["Source"] for m in mounts
            if isinstance(m, dict) and m.get("Type") == "bind"
            and str(m.get("Destination", "")).startswith("/")
            and str(m.get("Source", "")).startswith("/")}


def podman_version(headers: dict[str, str] | None) -> str | None:
    """`podman 4.3.1` when the engine is podman's Docker-compatible API, else None.

    >>> podman_version({"libpod-api-version": "4.3.1", "api-version": "1.41"})
    'podman 4.3.1'
    >>> podman_version({"api-version": "1.43", "builder-version": "2"}) is None
    True
    """
    if headers is None or "libpod-api-version" not in headers:
        return None
    return f"podman {headers['libpod-api-version']}".strip()

