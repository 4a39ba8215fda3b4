"""Immutable, content-addressed artifacts: a directory tree stored under its own digest.

    store = ArtifactStore(home / "artifacts")
    digest = store.put(tmp_dir)          # moves tmp_dir in place; same content -> same digest
    store.path(digest)                   # read-only tree handed to the actions that consume it

The digest covers each entry's relative path, type, executable bit and content (or link target),
so two builds that produce the same files share one artifact.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import uuid
from pathlib import Path


class ArtifactStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        return self.root / digest

    def exists(self, digest: str) -> bool:
        return (self.root / digest).is_dir()

    def staging(self) -> Path:
        """A fresh directory to build an artifact in, on the same filesystem as the store."""
        p = self.root / ".staging" / uuid.uuid4().hex
        p.mkdir(parents=True)
        return p

    def put(self, directory: str | Path) -> str:
        src = Path(directory)
        digest = "sha256-" + tree_digest(src)
        final = self.root / digest
        if final.exists():
            shutil.rmtree(src, ignore_errors=True)
            return digest
        _freeze(src)
        try:
            os.rename(src, final)
        except OSError:
            if not final.exists():  # another writer did not win the race: a real error
                raise
            shutil.rmtree(src, ignore_errors=True)
        return digest


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
            full = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                h.update(f"L {rel}\0{os.readlink(full)}\0".encode())
            elif stat.S_ISREG(st.st_mode):
                h.update(f"F {rel}\0{1 if st.st_mode & 0o111 else 0}\0".encode())
                with open(full, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                h.update(b"\0")
        if not filenames and not dirnames and rel_dir != ".":
            h.update(f"D {rel_dir}\0".encode())
    return h.hexdigest()


def _freeze(root: Path) -> None:
    """Read-only, and readable by any user: an artifact is mounted into containers that may run
    as another user than the daemon (whose umask is 077). The data directory itself is 0700, so
    no one else on the host reaches it."""
    for dirpath, _dirs, files in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in files:
            full = os.path.join(dirpath, name)
            if not os.path.islink(full):
                mode = stat.S_IMODE(os.lstat(full).st_mode)
                os.chmod(full, (mode & ~0o222) | 0o444 | (0o111 if mode & 0o100 else 0))
