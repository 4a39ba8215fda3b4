"""Resolution of `#{namespace.name}` references in action configuration (aws-semantics §2.7).

    resolve({"env": {"SHA": "#{Src.CommitId}"}}, {"Src": {"CommitId": "abc"}})
    # -> {"env": {"SHA": "abc"}}

References are resolved once, before the action starts; anything unresolvable fails the action
with CodePipeline's message. Only strings are touched; a string without `#{` is returned as is.
"""

from __future__ import annotations

import re
from typing import Any

REFERENCE = re.compile(r"#\{([^}]*)\}")


class UnresolvedVariables(Exception):
    def __init__(self, action: str, missing: list[str]):
        self.missing = missing
        super().__init__(
            "An action in this pipeline failed because one or more variables could not be resolved: "
            f"Action name={action} (unresolved: {', '.join('#{' + m + '}' for m in missing)})")


def resolve(value: Any, namespaces: dict[str, dict[str, str]], action: str = "") -> Any:
    missing: list[str] = []
    out = _resolve(value, namespaces, missing)
    if missing:
        raise UnresolvedVariables(action, sorted(set(missing)))
    return out


def _resolve(value: Any, namespaces: dict[str, dict[str, str]], missing: list[str]) -> Any:
    if isinstance(value, dict):
        return {k: _resolve(v, namespaces, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, namespaces, missing) for v in value]
    if not isinstance(value, str) or "#{" not in value:
        return value

    def sub(match: re.Match) -> str:
        ns, _, key = match.group(1).partition(".")
        found = namespaces.get(ns, {}).get(key)
        if found is None:
            missing.append(match.group(1))
            return match.group(0)
        return str(found)

    return REFERENCE.sub(sub, value)
