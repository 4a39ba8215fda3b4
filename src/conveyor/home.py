"""Where Conveyor keeps its state: $CONVEYOR_HOME, else ~/.conveyor. One data directory is one
daemon: its database, artifacts, logs, git mirrors, API token and pid file."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

DEFAULT_PORT = 7878
DEFAULT_HOST = "127.0.0.1"


def home() -> Path:
    value = os.environ.get("CONVEYOR_HOME")
    return Path(value).expanduser().resolve() if value else Path.home() / ".conveyor"


def token_path(root: Path) -> Path:
    return root / "token"


def read_or_create_token(root: Path) -> str:
    """The API token: generated at first start, stored 0600, never printed."""
    root.mkdir(parents=True, exist_ok=True)
    path = token_path(root)
    if path.exists():
        return path.read_text().strip()
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


def pid_path(root: Path) -> Path:
    return root / "daemon.pid"


def endpoint_path(root: Path) -> Path:
    return root / "daemon.json"


def log_path(root: Path) -> Path:
    return root / "daemon.log"
