"""Merging podman settings into containers.conf (TOML) without losing what is already there.

    >>> print(merge_settings("[engine]\\nevents_logger = \\"file\\"\\n", {"engine": {"runtime": '"runc"'}}))
    [engine]
    events_logger = "file"
    runtime = "runc"
    <BLANKLINE>

Comments, ordering and unrelated keys are kept. A key already set to the wanted value is left
alone; set to another value it is replaced in place (the probe has shown the value breaks
podman here). Missing tables are appended at the end.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping

from conveyor.errors import UserError

_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\"]+)\s*\]\s*(#.*)?$")
_ARRAY_TABLE = re.compile(r"^\s*\[\[")


def _key_pattern(key: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")


def missing_settings(text: str, settings: Mapping[str, Mapping[str, str]],
                     source: str = "containers.conf") -> dict[str, dict[str, str]]:
    """The settings (table → key → TOML value) not yet in effect in `text` (read from `source`)."""
    current = _parse(text, source)
    missing: dict[str, dict[str, str]] = {}
    for table, keys in settings.items():
        for key, value in keys.items():
            have = current.get(table, {})
            if not isinstance(have, dict) or key not in have or have[key] != _value(value):
                missing.setdefault(table, {})[key] = value
    return missing


def merge_settings(text: str, settings: Mapping[str, Mapping[str, str]],
                   source: str = "containers.conf") -> str:
    """`text` with every setting in effect; returns `text` unchanged if nothing was missing."""
    todo = missing_settings(text, settings, source)
    if not todo:
        return text
    lines = text.splitlines()
    for table, keys in todo.items():
        for key, value in keys.items():
            lines = _set(lines, table, key, value)
    merged = "\n".join(lines) + "\n"
    if missing_settings(merged, settings):  # pragma: no cover - a bug in this module
        raise AssertionError(f"merging {settings} into containers.conf failed")
    return merged


def _set(lines: list[str], table: str, key: str, value: str) -> list[str]:
    start, end = _table_span(lines, table)
    entry = f"{key} = {value}"
    if start is None:
        block = [f"[{table}]", entry]
        return [*lines, "", *block] if lines and lines[-1].strip() else [*lines, *block]
    pattern = _key_pattern(key)
    for i in range(start + 1, end):
        if pattern.match(lines[i]):
            stop = _value_end(lines, i, end)
            return [*lines[:i], entry, *lines[stop:]]
    # Append after the table's last non-blank line so the key stays inside it.
    insert = end
    while insert > start + 1 and not lines[insert - 1].strip():
        insert -= 1
    return [*lines[:insert], entry, *lines[insert:]]


def _table_span(lines: list[str], table: str) -> tuple[int | None, int]:
    """Index of `[table]`'s header line and of the line where its body ends."""
    start = None
    for i, line in enumerate(lines):
        header = _TABLE.match(line)
        if start is None:
            if header and header.group(1).replace('"', "") == table:
                start = i
        elif header or _ARRAY_TABLE.match(line):
            return start, i
    return start, len(lines)


def _value_end(lines: list[str], i: int, end: int) -> int:
    """The line after a value that may span lines (a multi-line array)."""
    depth = 0
    for j in range(i, end):
        depth += _brackets(lines[j] if j > i else lines[j].split("=", 1)[1])
        if depth <= 0:
            return j + 1
    return end


def _brackets(fragment: str) -> int:
    code = re.sub(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'', "", fragment).split("#", 1)[0]
    return code.count("[") - code.count("]")


def _parse(text: str, source: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{source} is not valid TOML: {exc}",
                        hint="fix or move the file, then run `conveyor setup` again") from exc


def _value(toml_value: str):
    return tomllib.loads(f"v = {toml_value}")["v"]
