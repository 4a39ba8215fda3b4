"""Containers that a build's `docker run --rm` left behind.

The docker wrapper in the build image starts `docker run --rm` without the engine's auto-removal
(podman 4.3's API would lose the exit status) and removes the container itself once it exited;
such a container carries REMOVE_LABEL (stack/docker_wrapper/runs.py). A build killed meanwhile
(SIGKILL, a stopped daemon, a reboot) never gets there: the container stays, exited, and keeps
its image from being pruned. A lifecycle run removes every container with that label that
exited more than `min_age` seconds ago. Running ones are left alone: a live build may be
attached to one.

    rows = list_labelled("podman")
    selection = select_leftovers(rows, now=time.time())
    remove(selection, "podman")
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from conveyor.providers.local import process
from conveyor.providers.local.process import Command
from conveyor.stack.docker_wrapper.runs import REMOVE_LABEL

#: The wrapper removes its container within moments of the exit; five minutes is no race.
DEFAULT_MIN_AGE = 300.0


@dataclass(frozen=True)
class Leftover:
    id: str
    name: str
    image: str
    state: str
    exited_at: float  # 0: not exited

    @classmethod
    def from_podman(cls, row: dict) -> Leftover:
        names = row.get("Names") or [""]
        return cls(str(row.get("Id") or ""), str(names[0]), str(row.get("Image") or ""),
                   str(row.get("State") or ""), float(row.get("ExitedAt") or 0) if row.get("Exited") else 0.0)

    def to_json(self, why: str) -> dict:
        return {"id": self.id[:12], "name": self.name, "image": self.image, "state": self.state, "why": why}


@dataclass
class LeftoverSelection:
    remove: list[Leftover] = field(default_factory=list)
    kept: list[tuple[Leftover, str]] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"remove": [c.to_json("its build ended without removing it") for c in self.remove],
                "kept": [c.to_json(why) for c, why in self.kept]}


def select_leftovers(containers: Iterable[Leftover], *, now: float,
                     min_age: float = DEFAULT_MIN_AGE) -> LeftoverSelection:
    """Pure: which labelled containers to remove (exited `min_age` seconds before `now`)."""
    out = LeftoverSelection()
    for c in containers:
        if c.state != "exited" or not c.exited_at:
            out.kept.append((c, f"{c.state or 'not exited'}: a build may still use it"))
        elif now - c.exited_at < min_age:
            out.kept.append((c, "exited moments ago: its build may be removing it"))
        else:
            out.remove.append(c)
    return out


def list_labelled(engine: str = "podman",
                  run: Callable[[Command], process.Completed] | None = None) -> list[Leftover]:
    """Every container with REMOVE_LABEL, running or not."""
    run = run or process.run
    done = run(Command([engine, "ps", "-a", "--filter", f"label={REMOVE_LABEL}=true", "--format", "json"],
                       timeout=120))
    return [Leftover.from_podman(row) for row in json.loads(done.stdout or "[]")]


def remove(selection: LeftoverSelection, engine: str = "podman",
           run: Callable[[Command], process.Completed] | None = None) -> dict:
    """Remove the selected containers (never --force: one that was started again is refused)."""
    run = run or (lambda cmd: process.run(cmd, check=False))
    removed: list[str] = []
    failed: list[str] = []
    for c in selection.remove:
        done = run(Command([engine, "rm", c.id], timeout=120))
        (removed if done.ok else failed).append(c.id[:12])
    return {"removed": len(removed), "failed": failed}
