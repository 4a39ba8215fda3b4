"""TEMPORARY stand-in for helper D's module (same signature); replaced at the merge of i13D.

    target = check_target(chk, ("notifications", 0, "targets", 0), {"webhook": {"url": "http://x"}})
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from conveyor.documents.checker import Checker
from conveyor.documents.located import KeyPath

KINDS = ("webhook", "slack", "email", "command")


@dataclass(frozen=True)
class TargetDef:
    kind: str
    spec: Mapping[str, Any]


def check_target(chk: Checker, path: KeyPath, value: Any) -> TargetDef | None:
    if not chk.is_type(path, value, dict, "a mapping with one key: " + ", ".join(KINDS)):
        return None
    if len(value) != 1:
        chk.error(path, "expected exactly one key: " + ", ".join(KINDS))
        return None
    kind, spec = next(iter(value.items()))
    if not chk.one_of(path + (kind,), kind, KINDS, "target kind"):
        return None
    if not chk.is_type(path + (kind,), spec, dict):
        return None
    return TargetDef(str(kind), dict(spec))
