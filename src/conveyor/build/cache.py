"""The build's LOCAL cache (buildspec `cache:`): tars of the cached paths kept per key in a
directory of the data directory, mounted into the build container at CACHE_MOUNT; restored
before INSTALL, saved after a successful build. The runner (build.runner) owns the shell it
runs its tar commands in."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor.build import artifacts as A
from conveyor.build import environment as E
from conveyor.build.buildlog import BuildLog
from conveyor.config.buildspec_model import BuildSpec
from conveyor.paths import is_inside

if TYPE_CHECKING:
    from conveyor.build.runner import BuildRequest, BuildShell

CACHE_MOUNT = "/codebuild/local-cache"  # the LOCAL cache's copies, one tar per key


def list_files(root: Path) -> list[str]:
    found = []
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            found.append(os.path.relpath(os.path.join(dirpath, name), root))
    return found


#: The LOCAL caches of all projects together are kept under this many bytes (least recently used
#: copies go first); CONVEYOR_BUILD_CACHE_MAX overrides it in the daemon.
DEFAULT_MAX_BYTES = 2 * 1024 ** 3


def used_marker(tar: Path) -> Path:
    """When a copy was last restored: a marker's mtime (the tar's own mtime orders fallback-keys
    by save time and must not move)."""
    return tar.with_name(f".{tar.name[:-4]}.used")


def mark_used(tar: Path) -> None:
    try:
        used_marker(tar).touch()
    except OSError:
        pass


@dataclass(frozen=True)
class CacheCopy:
    path: Path
    size: int
    last_used: float


def cache_copies(root: Path) -> list[CacheCopy]:
    """Every saved copy under `root` (<home>/cache/<project>/<key>.tar)."""
    out = []
    for tar in sorted(Path(root).glob("*/*.tar")):
        try:
            st = tar.stat()
        except OSError:
            continue
        try:
            used = max(st.st_mtime, used_marker(tar).stat().st_mtime)
        except OSError:
            used = st.st_mtime
        out.append(CacheCopy(tar, st.st_size, used))
    return out


def select_evictions(copies: list[CacheCopy], max_bytes: int) -> list[CacheCopy]:
    """The least recently used copies to remove so the rest fit in `max_bytes`."""
    total = sum(c.size for c in copies)
    evict = []
    for copy in sorted(copies, key=lambda c: (c.last_used, str(c.path))):
        if total <= max_bytes:
            break
        evict.append(copy)
        total -= copy.size
    return evict


def bound_caches(root: Path, max_bytes: int = DEFAULT_MAX_BYTES, *, dry_run: bool = False) -> dict:
    """Keep the LOCAL caches under `max_bytes`: the least recently used copies are removed (a
    build restoring one meanwhile keeps reading it: an open file outlives its unlink)."""
    copies = cache_copies(root)
    evict = select_evictions(copies, max_bytes)
    if not dry_run:
        for copy in evict:
            copy.path.unlink(missing_ok=True)
            used_marker(copy.path).unlink(missing_ok=True)
    total = sum(c.size for c in copies)
    return {"root": str(root), "maxBytes": max_bytes, "bytesBefore": total,
            "bytesAfter": total - sum(c.size for c in evict), "copies": len(copies),
            "removed": [{"path": str(c.path.relative_to(root)), "bytes": c.size, "lastUsed": c.last_used}
                        for c in evict]}


class BuildCache:
    """`cache:` (aws-semantics §1.10) as CodeBuild's LOCAL cache: paths are saved as one tar per
    key after a successful build and restored before INSTALL; a key's copy is never overwritten;
    fallback-keys pick the newest copy whose key they prefix. Without `key`, one copy per project."""

    DEFAULT_KEY = "default"

    def __init__(self, spec: BuildSpec, req: BuildRequest, log: BuildLog, *, source_mount: str):
        self.spec, self.req, self.log = spec, req, log
        self.source_mount = source_mount
        self.enabled = spec.cache is not None and req.cache_dir is not None
        self.directory = req.cache_dir
        self.key = self.DEFAULT_KEY
        if self.enabled:
            assert spec.cache is not None and self.directory is not None
            self.directory.mkdir(parents=True, exist_ok=True)
            if spec.cache.key:
                self.key = A.cache_key(spec.cache.key, self._hash_files)
            if "/" in self.key or "\0" in self.key or self.key.startswith("."):  # one file of the cache dir
                log.raw(f"[Container] {E.timestamp(req.clock())} Cache key {self.key!r} cannot name a cache file "
                        f"(it holds '/' or starts with '.'); the cache is not used")
                self.enabled = False

    def _hash_files(self, globs: list[str]) -> str:
        import hashlib

        h = hashlib.sha256()
        root = self.req.source_dir
        for rel in sorted(f for f in list_files(root) if any(A.artifact_match(g, f) for g in globs)):
            if not is_inside(root, root / rel) or not (root / rel).is_file():
                continue  # a symlink out of the source: a host file's hash would show in the cache key
            h.update(rel.encode() + b"\0" + (root / rel).read_bytes())
        return h.hexdigest()

    def _stored(self) -> list[str]:
        assert self.directory is not None
        files = sorted(self.directory.glob("*.tar"), key=lambda p: p.stat().st_mtime, reverse=True)
        return [p.name[:-4] for p in files]

    def _run(self, shell: "BuildShell", command: str) -> int:
        if not shell.alive:
            shell.start()
        assert shell.session is not None
        return shell.session.run(command)

    def restore(self, shell: "BuildShell") -> None:
        if not self.enabled:
            return
        assert self.spec.cache is not None
        if self.spec.cache.action == "save":
            return
        stored = self._stored()
        if self.spec.cache.key:
            chosen = A.choose_cache(self.key, A.check_fallback_keys(self.spec.cache.fallback_keys, self.key), stored)
        else:
            chosen = self.key if self.key in stored else None
        if chosen is None:
            self.log.raw(f"[Container] {E.timestamp(self.req.clock())} No cache found for key {self.key}")
            return
        self.log.raw(f"[Container] {E.timestamp(self.req.clock())} Restoring cache from key {chosen}")
        if self.directory is not None:
            mark_used(self.directory / f"{chosen}.tar")
        self._run(shell, f"tar -xf {shlex.quote(f'{CACHE_MOUNT}/{chosen}.tar')} -C / 2>&1 | tail -n 3")

    def save(self, shell: "BuildShell") -> None:
        if not self.enabled:
            return
        assert self.spec.cache is not None and self.directory is not None
        if self.spec.cache.action == "restore":
            return
        if self.spec.cache.key and self.key in self._stored():
            self.log.raw(f"[Container] {E.timestamp(self.req.clock())} Cache for key {self.key} exists; "
                         f"not saved again")
            return
        roots = []
        for pattern in self.spec.cache.paths:
            root = pattern.split("/**", 1)[0].rstrip("/*") or "/"
            roots.append(root if root.startswith("/") else f"{self.source_mount}/{root}")
        target = f"{CACHE_MOUNT}/{self.key}.tar"
        quoted = " ".join(shlex.quote(r) for r in roots)
        script = (f'set --; for p in {quoted}; do [ -e "$p" ] && set -- "$@" "${{p#/}}"; done; '
                  f'[ $# -eq 0 ] || (cd / && tar -cf {shlex.quote(target + ".tmp")} "$@" && '
                  f'mv {shlex.quote(target + ".tmp")} {shlex.quote(target)})')
        if self._run(shell, script) == 0:
            self.log.raw(f"[Container] {E.timestamp(self.req.clock())} Saved cache for key {self.key}")
        else:
            self.log.raw(f"[Container] {E.timestamp(self.req.clock())} Could not save the cache for key {self.key}")
