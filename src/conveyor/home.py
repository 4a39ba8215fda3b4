"""Where Conveyor keeps its state: $CONVEYOR_HOME, else ~/.conveyor. One data directory is one
daemon: its database, artifacts, logs, git mirrors, API token and pid file.

It holds the API token, the secrets and their key, build logs and artifacts: only its owner may
read it. The directory is 0700 and what Conveyor writes in it 0600 (directories 0700): `prepare`
makes it so (and fixes an install made before, once), the daemon runs with umask DAEMON_UMASK,
and files that must never be readable are created with their mode (`write_private`).

    root = prepare(home())                         # 0700; an older 0755 tree is tightened once
    write_private(root / "daemon.pid", "4242\n")   # 0600 from the start, also when it existed
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

DEFAULT_PORT = 7878
DEFAULT_HOST = "127.0.0.1"
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
#: The daemon's umask: files and directories it (and the tools it runs) creates are its own.
DAEMON_UMASK = 0o077


def home() -> Path:
    value = os.environ.get("CONVEYOR_HOME")
    return Path(value).expanduser().resolve() if value else Path.home() / ".conveyor"


def prepare(root: Path) -> Path:
    """Create the data directory 0700, or make an existing one 0700. One that was open to others
    (made by an older Conveyor, 0755 with 0644 files) has group and other permissions removed
    from everything in it, once: afterwards the directory itself is 0700 and the walk is skipped."""
    root.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    if stat.S_IMODE(root.stat().st_mode) & 0o077:
        secure_tree(root)
    return root


#: Left readable inside the private directory: artifacts are mounted into containers that may run
#: as another user (engine/artifacts.py makes them 0755/0444).
SHARED_SUBDIRS = ("artifacts",)


def secure_tree(root: Path) -> int:
    """Remove group and other permissions from `root` and everything under it, except
    SHARED_SUBDIRS, symbolic links (not followed) and files hard-linked from elsewhere (git's
    local clones share the source repository's objects: their mode is the original's); how many
    entries changed. Entries that vanish meanwhile (a running build's files) are skipped."""
    changed = 0
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == str(root):
            dirnames[:] = [d for d in dirnames if d not in SHARED_SUBDIRS]
        for path in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
            try:
                st = os.lstat(path)
                shared = stat.S_ISREG(st.st_mode) and st.st_nlink > 1
                if not stat.S_ISLNK(st.st_mode) and not shared and stat.S_IMODE(st.st_mode) & 0o077:
                    os.chmod(path, stat.S_IMODE(st.st_mode) & ~0o077)
                    changed += 1
            except FileNotFoundError:
                pass
    return changed


def write_private(path: Path | str, text: str) -> None:
    """Write `text` to `path`, readable by its owner only (0600 also when the file existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), PRIVATE_FILE_MODE)
        f.write(text)


def open_private_log(path: Path) -> int:
    """A file descriptor appending to `path`, created 0600 (a daemon's or service's log)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE)
    os.fchmod(fd, PRIVATE_FILE_MODE)
    return fd


def token_path(root: Path) -> Path:
    return root / "token"


def read_or_create_token(root: Path) -> str:
    """The API token: generated at first start, stored 0600, never printed."""
    prepare(root)
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


def engine_path(root: Path) -> Path:
    """The directory of the engine API service builds use: its socket, log and pid file."""
    return root / "engine"


def log_path(root: Path) -> Path:
    return root / "daemon.log"
