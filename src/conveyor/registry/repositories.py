"""Repositories and images of the local registry (ECR's model, aws-semantics §6), in SQLite.

Its own file (home/registry.db), so the registry does not depend on the engine's schema. The
current state is three small tables (repositories, images, tags); every push, refused push and
delete is also appended to `image_actions`, shaped like ECR's "ECR Image Action" event (§9.2),
and written to the outbox in the same transaction, as an `image-*` event for the daemon's stream.

    store = RepositoryStore(home / "registry.db", backend=Backend(socket_path))
    store.declare("orders", "IMMUTABLE")                   # from conveyor.yml
    store.record_push("orders", "v1", "sha256:…", size=2_130_000)   # the proxy, after the PUT
    [i.to_json() for i in store.images("orders")]          # `conveyor image ls orders --json`
    store.delete_image("orders", "sha256:…")               # lifecycle expiry
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conveyor.errors import NotFound, UserError
from conveyor.events.outbox import OUTBOX_SCHEMA, OutboxTransactions
from conveyor.events.types import IMAGE_ACTIONS, Event, Subject
from conveyor.registry.backend import Backend
from conveyor.registry.mutability import DEFAULT_MUTABILITY, TagPolicy

#: [api ecr] RepositoryName: 2-256 characters, lower-case path components.
REPOSITORY_NAME = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
REPOSITORY_NAME_LENGTH = (2, 256)
#: Seconds within which a refusal like the one before it is the same push retried (one event).
RETRY_WINDOW = 30.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS repositories (
    name TEXT PRIMARY KEY,
    image_tag_mutability TEXT NOT NULL,
    exclusion_filters TEXT NOT NULL DEFAULT '[]',
    lifecycle_policy TEXT,
    declared INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS images (
    repository TEXT NOT NULL REFERENCES repositories (name) ON DELETE CASCADE,
    digest TEXT NOT NULL,
    media_type TEXT,
    size INTEGER,
    pushed_at REAL NOT NULL,
    PRIMARY KEY (repository, digest)
);
CREATE TABLE IF NOT EXISTS tags (
    repository TEXT NOT NULL,
    tag TEXT NOT NULL,
    digest TEXT NOT NULL,
    tagged_at REAL NOT NULL,
    PRIMARY KEY (repository, tag),
    FOREIGN KEY (repository, digest) REFERENCES images (repository, digest) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS image_actions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    repository TEXT NOT NULL,
    action_type TEXT NOT NULL CHECK (action_type IN ('PUSH', 'DELETE')),
    result TEXT NOT NULL CHECK (result IN ('SUCCESS', 'FAILURE')),
    digest TEXT,
    tag TEXT,
    message TEXT,
    at REAL NOT NULL
);
""" + OUTBOX_SCHEMA


def check_repository_name(name: str) -> str:
    low, high = REPOSITORY_NAME_LENGTH
    if not (low <= len(name) <= high and REPOSITORY_NAME.fullmatch(name)):
        raise UserError(f"invalid repository name '{name}'",
                        hint=f"use {low}-{high} lower-case letters, digits and . _ - separators, "
                             "with / between path components (ECR's rule)")
    return name


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Repository:
    name: str
    mutability: str
    exclusion_filters: tuple[Mapping[str, str], ...]
    lifecycle_policy: Mapping[str, Any] | None
    declared: bool
    created_at: float

    @property
    def policy(self) -> TagPolicy:
        return TagPolicy.from_api({"imageTagMutability": self.mutability,
                                   "imageTagMutabilityExclusionFilters": list(self.exclusion_filters)})

    def to_json(self) -> dict:
        return {"repositoryName": self.name, "imageTagMutability": self.mutability,
                "imageTagMutabilityExclusionFilters": [dict(f) for f in self.exclusion_filters],
                "lifecyclePolicy": self.lifecycle_policy, "declared": self.declared,
                "createdAt": iso(self.created_at)}


@dataclass(frozen=True)
class Image:
    repository: str
    digest: str
    tags: tuple[str, ...]
    pushed_at: float
    size: int | None = None
    media_type: str | None = None

    def to_json(self) -> dict:
        """ECR's DescribeImages imageDetail keys."""
        return {"repositoryName": self.repository, "imageDigest": self.digest,
                "imageTags": list(self.tags), "imagePushedAt": iso(self.pushed_at),
                "imageSizeInBytes": self.size, "imageManifestMediaType": self.media_type}


def image_size(manifest: bytes) -> int | None:
    """Sum of the (compressed) layer sizes, as ECR's imageSizeInBytes; None for an index."""
    try:
        layers = json.loads(manifest).get("layers")
        return sum(int(layer["size"]) for layer in layers) if isinstance(layers, list) else None
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


class RepositoryStore:
    def __init__(self, path: str | Path, backend: Backend | None = None, clock=time.time):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.backend = backend
        self.clock = clock
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None,
                                   timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self._lock:
            self._db.executescript(SCHEMA)
        self.outbox = OutboxTransactions(self._db, self._lock)  # its on_events: the relay's wake (daemon.py)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- repositories
    def declare(self, name: str, mutability: str = DEFAULT_MUTABILITY.value,
                exclusion_filters: Iterable[Mapping[str, str]] = (),
                lifecycle_policy: Mapping[str, Any] | None = None) -> Repository:
        """Create or update a repository from conveyor.yml; its images are kept."""
        check_repository_name(name)
        filters = [dict(f) for f in exclusion_filters]
        TagPolicy.from_api({"imageTagMutability": mutability,
                            "imageTagMutabilityExclusionFilters": filters})  # validates
        policy_json = json.dumps(lifecycle_policy) if lifecycle_policy is not None else None
        with self._lock:
            self._db.execute(
                "INSERT INTO repositories (name, image_tag_mutability, exclusion_filters, "
                "lifecycle_policy, declared, created_at) VALUES (?, ?, ?, ?, 1, ?) "
                "ON CONFLICT (name) DO UPDATE SET image_tag_mutability = excluded.image_tag_mutability,"
                " exclusion_filters = excluded.exclusion_filters,"
                " lifecycle_policy = excluded.lifecycle_policy, declared = 1",
                (name, mutability, json.dumps(filters), policy_json, self.clock()))
        return self.get(name)

    def ensure(self, name: str) -> Repository:
        """The repository, created with ECR's defaults (MUTABLE, no policy) if it is new."""
        check_repository_name(name)
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO repositories (name, image_tag_mutability, "
                             "created_at) VALUES (?, ?, ?)",
                             (name, DEFAULT_MUTABILITY.value, self.clock()))
        return self.get(name)

    def repository(self, name: str) -> Repository | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM repositories WHERE name = ?", (name,)).fetchone()
        return _repository(row) if row else None

    def get(self, name: str) -> Repository:
        repo = self.repository(name)
        if repo is None:
            raise NotFound(f"repository '{name}' does not exist",
                           hint="declare it under `repositories:` in conveyor.yml, or push to it")
        return repo

    def repositories(self) -> list[Repository]:
        with self._lock:
            return [_repository(r) for r in self._db.execute("SELECT * FROM repositories ORDER BY name")]

    # -- images
    def record_push(self, name: str, tag: str | None, digest: str, *, media_type: str | None = None,
                    size: int | None = None, at: float | None = None) -> Image:
        """An accepted manifest PUT: the image exists (first push time kept), `tag` points at it."""
        at = self.clock() if at is None else at
        with self.outbox.transaction():
            self._db.execute("INSERT OR IGNORE INTO repositories (name, image_tag_mutability, "
                             "created_at) VALUES (?, ?, ?)", (name, DEFAULT_MUTABILITY.value, at))
            self._db.execute(
                "INSERT INTO images (repository, digest, media_type, size, pushed_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (repository, digest) DO UPDATE SET "
                "media_type = COALESCE(excluded.media_type, media_type), "
                "size = COALESCE(excluded.size, size)", (name, digest, media_type, size, at))
            if tag is not None:
                self._db.execute(
                    "INSERT INTO tags (repository, tag, digest, tagged_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest, tagged_at = "
                    "excluded.tagged_at WHERE digest != excluded.digest", (name, tag, digest, at))
            self._action(name, "PUSH", "SUCCESS", digest, tag, None, at)
        return self.image(name, digest)

    def record_rejection(self, name: str, tag: str, digest: str, message: str) -> None:
        with self.outbox.transaction():
            self._action(name, "PUSH", "FAILURE", digest, tag, message, self.clock())

    def image(self, name: str, digest: str) -> Image:
        found = [i for i in self.images(name) if i.digest == digest]
        if not found:
            raise NotFound(f"image {name}@{digest} does not exist")
        return found[0]

    def images(self, name: str) -> list[Image]:
        """Every image of `name`, newest push first, tags sorted (`image ls`)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT i.*, (SELECT json_group_array(tag) FROM (SELECT tag FROM tags t WHERE "
                "t.repository = i.repository AND t.digest = i.digest ORDER BY tag)) AS tag_list "
                "FROM images i WHERE repository = ? ORDER BY pushed_at DESC, digest",
                (name,)).fetchall()
        return [Image(r["repository"], r["digest"], tuple(json.loads(r["tag_list"])),
                      r["pushed_at"], r["size"], r["media_type"]) for r in rows]

    def tags(self, name: str) -> dict[str, str]:
        with self._lock:
            rows = self._db.execute("SELECT tag, digest FROM tags WHERE repository = ?", (name,))
            return {r["tag"]: r["digest"] for r in rows}

    def forget_image(self, name: str, digest: str, message: str | None = None) -> None:
        """Record a delete that already happened in the registry (the image and its tags)."""
        with self.outbox.transaction():
            self._db.execute("DELETE FROM images WHERE repository = ? AND digest = ?", (name, digest))
            self._action(name, "DELETE", "SUCCESS", digest, None, message, self.clock())

    def record_delete_failure(self, name: str, digest: str, message: str) -> None:
        """A delete that was attempted and failed (the lifecycle's, say): kept in the history."""
        with self.outbox.transaction():
            self._action(name, "DELETE", "FAILURE", digest, None, message, self.clock())

    def delete_image(self, name: str, digest: str) -> bool:
        """Delete a manifest through the registry API and forget it; False if it was not there.
        (Blobs stay until the registry's garbage collection, as ECR frees storage later.)"""
        if self.backend is None:
            raise RuntimeError("RepositoryStore was built without a backend; cannot delete")
        existed = self.backend.delete_manifest(name, digest)
        self.forget_image(name, digest, None if existed else "not in the registry")
        return existed

    def actions(self, name: str | None = None) -> list[dict]:
        """The push/delete history, oldest first."""
        sql = "SELECT * FROM image_actions"
        args: tuple[str, ...] = ()
        if name is not None:
            sql, args = sql + " WHERE repository = ?", (name,)
        with self._lock:
            return [dict(r) for r in self._db.execute(sql + " ORDER BY seq", args)]

    def _action(self, name: str, action: str, result: str, digest: str | None, tag: str | None,
                message: str | None, at: float) -> None:
        """Inside a transaction: the history row and its event. A push by digest alone (each
        platform's manifest of a multi-platform image, before its tagged index) is history only:
        the tagged push that follows is the event. So is a refusal repeating the one before it
        within RETRY_WINDOW: the client retrying the same push in other manifest formats (podman
        tries up to four) is one refused push."""
        retried = result == "FAILURE" and self._repeats(name, action, result, tag, message, at)
        self._db.execute("INSERT INTO image_actions (repository, action_type, result, digest, tag, "
                         "message, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (name, action, result, digest, tag, message, at))
        if (action != "PUSH" or tag is not None) and not retried:
            self.outbox.write(self._db, [image_event(name, action, result, digest, tag, message, at)])

    def _repeats(self, name: str, action: str, result: str, tag: str | None, message: str | None,
                 at: float) -> bool:
        """The repository's last action was this one, less than RETRY_WINDOW ago."""
        last = self._db.execute("SELECT action_type, result, tag, message, at FROM image_actions "
                                "WHERE repository = ? ORDER BY seq DESC LIMIT 1", (name,)).fetchone()
        same = last is not None and (last["action_type"], last["result"], last["tag"], last["message"]) == (
            action, result, tag, message)
        return same and at - last["at"] < RETRY_WINDOW


def image_event(name: str, action: str, result: str, digest: str | None, tag: str | None,
                message: str | None, at: float) -> Event:
    """An image action as a stream event; `detail` has ECR's "ECR Image Action" fields.

    >>> e = image_event("orders", "PUSH", "SUCCESS", "sha256:" + "ab" * 32, "v1", None, 1.0)
    >>> e.type, e.summary
    ('image-pushed', 'orders:v1 pushed (sha256:ababababab)')
    """
    kind = IMAGE_ACTIONS[(action, result)]
    short = digest[:17] if digest else "?"
    shown = f"{name}:{tag}" if tag else f"{name}@{short}"
    what = {"image-pushed": "pushed", "image-push-failed": "push refused", "image-deleted": "deleted",
            "image-delete-failed": "delete failed"}[kind]
    detail: dict[str, Any] = {"action-type": action, "result": result, "repository-name": name}
    if digest:
        detail["image-digest"] = digest
    if tag:
        detail["image-tag"] = tag
    if message:
        detail["message"] = message
    summary = f"{shown} {what} ({short})" if tag else f"{shown} {what}"
    return Event(kind, at, Subject(repository=name), detail, summary + (f": {message}" if message else ""))


def _repository(row: sqlite3.Row) -> Repository:
    policy = row["lifecycle_policy"]
    return Repository(row["name"], row["image_tag_mutability"],
                      tuple(json.loads(row["exclusion_filters"])),
                      json.loads(policy) if policy else None, bool(row["declared"]),
                      row["created_at"])
