"""Bounding what builds leave in the host engine's image store: the local copies of pushed images
(`000000000000.dkr.ecr.us-east-1.localhost:5000/orders-service:<sha>`, one per build) and the
dangling images left when a later build took their tag.

Which images are this daemon's: those whose every name is under a host name its running
registry answers for (the ECR-style `000000000000.dkr.ecr.us-east-1.localhost:PORT`,
127.0.0.1:PORT, localhost:PORT, an ECR alias). Another data directory's daemon (another port)
prunes its own; a left-over name of a registry that no longer runs is not touched. An image
with any other name (`localhost/conveyor/*` base images, anything a user pulled or tagged) is
never touched. A dangling image (no names) is Conveyor's only when podman's name
history says its last name was such a name; build-stage intermediates without a name history
cannot be told from a user's own and are left alone (counted in the report).

Kept: the newest `keep` per repository (default 3), and every image a container (running or
stopped: a task's pod, a build container) uses.

    selection = select_prunes(images, keep=3, hosts={"127.0.0.1:5000"})
    selection.remove      # [HostImage, …]
    prune(engine, selection)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from conveyor.providers.local import process
from conveyor.providers.local.process import Command

DEFAULT_KEEP = 3


@dataclass(frozen=True)
class HostImage:
    id: str
    names: tuple[str, ...]
    created: float
    size: int
    containers: int = 0
    names_history: tuple[str, ...] = ()

    @classmethod
    def from_podman(cls, row: dict) -> HostImage:
        return cls(str(row.get("Id") or ""), tuple(row.get("Names") or ()), float(row.get("Created") or 0),
                   int(row.get("Size") or 0), int(row.get("Containers") or 0), tuple(row.get("History") or ()))


@dataclass
class PruneSelection:
    remove: list[tuple[HostImage, str]] = field(default_factory=list)  # (image, why)
    kept: list[tuple[HostImage, str]] = field(default_factory=list)
    foreign_dangling: list[HostImage] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"remove": [_row(i, why) for i, why in self.remove], "kept": [_row(i, why) for i, why in self.kept],
                "danglingNotOurs": len(self.foreign_dangling),
                "danglingNotOursBytes": sum(i.size for i in self.foreign_dangling),
                "bytesRemovable": sum(i.size for i, _ in self.remove)}


def _row(image: HostImage, why: str) -> dict:
    return {"id": image.id[:12], "names": list(image.names) or list(image.names_history[:1]), "size": image.size,
            "why": why}


def split_name(name: str) -> tuple[str, str]:
    """`host/repo:tag` → (host, repo)."""
    host, _, rest = name.partition("/")
    repo = rest.rsplit("@", 1)[0]
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:
        repo = repo.rpartition(":")[0]
    return host, repo


def is_local_name(name: str, hosts: Iterable[str]) -> bool:
    host, repo = split_name(name)
    return bool(repo) and host.lower() in {h.lower() for h in hosts}


def select_prunes(images: Sequence[HostImage], *, keep: int = DEFAULT_KEEP, hosts: Iterable[str] = (),
                  in_use: Iterable[str] = (), now: float = 0.0, min_age: float = 0.0) -> PruneSelection:
    """Pure: which host images to remove. `in_use` are image ids containers use; an image created
    less than `min_age` seconds before `now` is kept (a build may be about to push or run it)."""
    hosts, used = set(hosts), set(in_use)
    out = PruneSelection()
    by_repo: dict[str, list[HostImage]] = {}
    for image in images:
        if not image.names:
            if image.names_history and is_local_name(image.names_history[0], hosts):
                if image.containers or image.id in used:
                    out.kept.append((image, "a container uses it"))
                elif min_age > 0 and now - image.created < min_age:
                    out.kept.append((image, "created recently"))
                else:
                    out.remove.append((image, f"dangling: its name {image.names_history[0]} moved to a newer build"))
            else:
                out.foreign_dangling.append(image)
            continue
        if not all(is_local_name(n, hosts) for n in image.names):
            continue  # not Conveyor's: not even listed
        for name in image.names:
            by_repo.setdefault(split_name(name)[1], []).append(image)
    newest: dict[str, str] = {}  # image id → why kept as newest
    for repo, members in by_repo.items():
        unique = {i.id: i for i in members}.values()
        for rank, image in enumerate(sorted(unique, key=lambda i: (-i.created, i.id))):
            if rank < keep:
                newest.setdefault(image.id, f"one of the {keep} newest of {repo}")
    seen: set[str] = set()
    for members in by_repo.values():
        for image in members:
            if image.id in seen:
                continue
            seen.add(image.id)
            if image.containers or image.id in used:
                out.kept.append((image, "a container uses it"))
            elif image.id in newest:
                out.kept.append((image, newest[image.id]))
            elif min_age > 0 and now - image.created < min_age:
                out.kept.append((image, "created recently"))
            else:
                _, repo = split_name(image.names[0])
                out.remove.append((image, f"older than the {keep} newest of {repo}"))
    return out


def list_images(engine: str = "podman",
                run: Callable[[Command], process.Completed] | None = None) -> tuple[list[HostImage], set[str]]:
    """The engine's images and the ids its containers use."""
    run = run or process.run
    images = [HostImage.from_podman(r) for r in json.loads(
        run(Command([engine, "images", "--format", "json"], timeout=120)).stdout or "[]")]
    containers = json.loads(run(Command([engine, "ps", "-a", "--format", "json"], timeout=120)).stdout or "[]")
    return images, {str(c.get("ImageID") or "") for c in containers}


def prune(selection: PruneSelection, engine: str = "podman",
          run: Callable[[Command], process.Completed] | None = None) -> dict:
    """Remove the selected images by their names (never --force: an image a container started
    using meanwhile is refused by the engine and kept)."""
    run = run or (lambda cmd: process.run(cmd, check=False))
    removed: list[HostImage] = []
    failed: list[HostImage] = []
    for image, _why in selection.remove:
        done = run(Command([engine, "rmi", *(image.names or (image.id,))], timeout=120))
        (removed if done.ok else failed).append(image)
    return {"removed": len(removed), "bytesRemoved": sum(i.size for i in removed),
            "failed": [f"{i.id[:12]}" for i in failed]}
