"""state.json: what a load balancer must look like, so a dead HAProxy can be rebuilt exactly.

Listeners, target groups, forward weights and registered targets (with their weights and when
they were registered and deregistered). Written atomically (temporary file + rename): a reader
sees the old or the new state, never half of one.

    >>> state = LBState()
    >>> state.targets.setdefault("web", {})["t1"] = TargetRecord("t1", "127.0.0.1", 8001, 100, 0.0)
    >>> LBState.from_json(state.to_json()) == state
    True
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from conveyor.lb.model import HealthCheck, Listener, TargetGroup

STATE_VERSION = 1


@dataclass
class TargetRecord:
    target_id: str
    host: str
    port: int
    weight: int
    registered_at: float  # wall clock (time.time()): it must mean the same in another process
    deregistered_at: float | None = None
    #: When HAProxy first reported it UP since it was registered: until then it is in its
    #: initial health checks (ALB's `initial`), however often a reload restarts them.
    healthy_at: float | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass
class LBState:
    listeners: list[Listener] = field(default_factory=list)
    target_groups: list[TargetGroup] = field(default_factory=list)
    #: listener port -> {target group: weight}; absent = forward to listener.target_group
    weights: dict[int, dict[str, int]] = field(default_factory=dict)
    #: target group -> target id -> record
    targets: dict[str, dict[str, TargetRecord]] = field(default_factory=dict)

    def target_group(self, name: str) -> TargetGroup | None:
        return next((tg for tg in self.target_groups if tg.name == name), None)

    def listener(self, port: int) -> Listener | None:
        return next((lst for lst in self.listeners if lst.port == port), None)

    def records(self) -> list[tuple[str, TargetRecord]]:
        return [(tg, rec) for tg, group in self.targets.items() for rec in group.values()]

    def attached(self) -> set[str]:
        """Target groups some listener forwards to (ALB reports the others' targets 'unused')."""
        names = {lst.target_group for lst in self.listeners if lst.port not in self.weights}
        for weights in self.weights.values():
            names.update(weights)
        return names

    def to_json(self) -> dict:
        return {
            "version": STATE_VERSION,
            "listeners": [asdict(lst) for lst in self.listeners],
            "target_groups": [asdict(tg) for tg in self.target_groups],
            "weights": {str(port): dict(w) for port, w in self.weights.items()},
            "targets": {tg: {tid: asdict(rec) for tid, rec in group.items()}
                        for tg, group in self.targets.items()},
        }

    @classmethod
    def from_json(cls, data: dict) -> LBState:
        return cls(
            listeners=[Listener(**lst) for lst in data.get("listeners", [])],
            target_groups=[TargetGroup(**{**tg, "health_check": HealthCheck(**tg["health_check"])})
                           for tg in data.get("target_groups", [])],
            weights={int(port): dict(w) for port, w in data.get("weights", {}).items()},
            targets={tg: {tid: TargetRecord(**rec) for tid, rec in group.items()}
                     for tg, group in data.get("targets", {}).items()},
        )


def load(path: Path) -> LBState:
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return LBState()
    return LBState.from_json(json.loads(text))


def save(path: Path, state: LBState) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as out:
        json.dump(state.to_json(), out, indent=1, sort_keys=True)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
