"""A collector of diagnostics over a located Document: the small vocabulary every file validator
(conveyor.yml, CodePipeline JSON, buildspec, taskdef…) speaks, so their messages read alike.

    chk = Checker(doc)
    stages = chk.get(("pipeline",), "stages", list, required=True)
    chk.keys(("pipeline",), {"stages", "executionMode"})      # unknown keys, with "did you mean"
    chk.raise_if_errors()
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Iterable

from conveyor.documents.located import Document, KeyPath
from conveyor.errors import ConfigError, Diagnostic

TYPE_NAMES = {dict: "a mapping", list: "a list", str: "a string", int: "an integer", bool: "true or false",
              float: "a number"}


def type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    for t, name in ((bool, "a boolean"), (dict, "a mapping"), (list, "a list"), (str, "a string"),
                    (int, "an integer"), (float, "a number")):
        if isinstance(value, t):
            return name
    return type(value).__name__


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    choices = list(choices)
    lower = {c.lower(): c for c in choices}
    if word.lower() in lower:
        return f" (did you mean '{lower[word.lower()]}'?)"
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class Checker:
    def __init__(self, doc: Document):
        self.doc = doc
        self.diagnostics: list[Diagnostic] = []

    # -- reporting
    def error(self, path: KeyPath, message: str) -> None:
        self.diagnostics.append(self.doc.diagnostic(path, message))

    def warning(self, path: KeyPath, message: str) -> None:
        self.diagnostics.append(self.doc.diagnostic(path, message, "warning"))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise ConfigError(self.diagnostics)

    # -- checks
    def is_type(self, path: KeyPath, value: Any, expected: type | tuple[type, ...], what: str | None = None) -> bool:
        types = expected if isinstance(expected, tuple) else (expected,)
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if not ok:
            want = what or " or ".join(TYPE_NAMES.get(t, t.__name__) for t in types)
            self.error(path, f"expected {want}, got {type_name(value)}")
        return ok

    def get(self, path: KeyPath, key: str, expected: type | tuple[type, ...], *, required: bool = False,
            default: Any = None, what: str | None = None) -> Any:
        """Value of `key` in the mapping at `path` if it has the expected type, else `default`."""
        mapping = self.at(path)
        if not isinstance(mapping, dict) or key not in mapping:
            if required and isinstance(mapping, dict):
                self.error(path, f"missing required key '{key}'")
            return default
        value = mapping[key]
        if self.is_type(path + (key,), value, expected, what):
            return value
        return default

    def keys(self, path: KeyPath, allowed: Iterable[str], what: str = "key") -> None:
        mapping = self.at(path)
        if not isinstance(mapping, dict):
            return
        allowed = list(allowed)
        for key in mapping:
            if key not in allowed:
                self.error(path + (key,), f"unknown {what} '{key}'{did_you_mean(key, allowed)}")

    def one_of(self, path: KeyPath, value: Any, choices: Iterable[str], what: str = "value") -> bool:
        choices = list(choices)
        if value in choices:
            return True
        hint = did_you_mean(str(value), choices)
        self.error(path, f"unknown {what} '{value}'" + (hint or f"; expected one of {', '.join(choices)}"))
        return False

    def name(self, path: KeyPath, value: Any, pattern: str, limit: int, what: str) -> bool:
        if not isinstance(value, str):
            self.is_type(path, value, str)
            return False
        if not (1 <= len(value) <= limit) or not re.fullmatch(pattern, value):
            self.error(path, f"invalid {what} '{value}': expected 1-{limit} characters matching {pattern}")
            return False
        return True

    def at(self, path: KeyPath) -> Any:
        node = self.doc.data
        for part in path:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return None
        return node
