"""The CLI's only way to the daemon: JSON over HTTP on 127.0.0.1 with the token from the data dir.

    client = Client.connect()             # raises DaemonUnreachable with the next step to take
    client.post("/api/v1/executions", {"repository": "."})
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from conveyor import home as homes
from conveyor.errors import (
    ConfigError,
    Conflict,
    ConveyorError,
    DaemonUnreachable,
    Diagnostic,
    NotFound,
    UserError,
)

TIMEOUT = 60.0


class Client:
    def __init__(self, base_url: str, token: str):
        self.base_url = base_url.rstrip("/")
        self.token = token

    @classmethod
    def connect(cls, root: Path | None = None) -> "Client":
        root = root or homes.home()
        try:
            endpoint = json.loads(homes.endpoint_path(root).read_text())
            token = homes.token_path(root).read_text().strip()
        except (OSError, ValueError):
            raise DaemonUnreachable(f"the Conveyor daemon is not running (data dir {root})") from None
        client = cls(f"http://{connect_host(str(endpoint['host']))}:{endpoint['port']}", token)
        return client

    def get(self, path: str) -> Any:
        return self._call("GET", path, None)

    def post(self, path: str, body: dict | None = None) -> Any:
        return self._call("POST", path, body or {})

    def delete(self, path: str) -> Any:
        return self._call("DELETE", path, None)

    def _call(self, method: str, path: str, body: dict | None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                payload = json.loads(exc.read())
            except ValueError:
                payload = {"error": {"message": f"HTTP {exc.code}"}}
            raise _translate(exc.code, payload) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            raise DaemonUnreachable(f"cannot reach the Conveyor daemon at {self.base_url} ({_reason(exc)})") from None


def connect_host(bound: str) -> str:
    """Where to reach a daemon bound to `bound`: over loopback when it listens on every address
    (its Host allow-list always takes the loopback names), an IPv6 literal in brackets."""
    if bound in ("0.0.0.0", ""):
        return "127.0.0.1"
    if bound == "::":
        return "[::1]"
    return f"[{bound}]" if ":" in bound else bound


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "reason", exc))


def _translate(status: int, payload: dict) -> ConveyorError:
    err = payload.get("error") or {}
    message, hint = err.get("message", f"HTTP {status}"), err.get("hint")
    if payload.get("diagnostics"):
        diags = [Diagnostic(d["file"], d["line"], d["column"], d["path"], d["message"], d.get("severity", "error"))
                 for d in payload["diagnostics"]]
        return ConfigError(diags)
    if status == 404:
        return NotFound(message, hint)
    if status == 409:
        return Conflict(message, hint)
    if status in (400, 401, 403, 405, 408, 411, 413, 421):
        return UserError(message, hint)
    return ConveyorError(message, hint)
