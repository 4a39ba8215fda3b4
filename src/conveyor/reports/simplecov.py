"""SIMPLECOV: the JSON that Ruby's simplecov writes — CodeBuild takes simplecov's, not the
simplecov-json gem's (CodeBuild User Guide, "Create code coverage reports"). Two shapes:

    coverage/coverage.json   (simplecov's JSON formatter)
      {"meta": {...}, "coverage": {"<file>": {"lines": [1, 0, null, "ignored"…],
                                              "branches": [{"type", "start_line", "coverage"}…]}}}
    coverage/.resultset.json (simplecov's result store; one entry per test command, merged here)
      {"<command>": {"coverage": {"<file>": {"lines": […], "branches": {"[:if…]": {"[:then…]": 1}}}},
                     "timestamp": …}}

In `lines`, a count per source line: null is not code, "ignored" is excluded (:nocov:), 0 missed.
The result store is raw Ruby coverage, so :nocov: exclusions are not applied there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conveyor.reports.model import CoverageReport, FileCoverage, MalformedReport, summed
from conveyor.reports.safejson import kind, read_json

FORMAT = "SIMPLECOV"


def parse_simplecov(path: str | Path, label: str | None = None) -> CoverageReport:
    label = label or str(path)
    data = read_json(path, label)
    if not isinstance(data, dict):
        raise MalformedReport(label, f"not a SimpleCov JSON report: expected an object, found {kind(data)}")
    if "files" in data and "metrics" in data:
        raise MalformedReport(label, "not a SimpleCov JSON report: this is the simplecov-json gem's format, "
                                     "which CodeBuild does not accept; write simplecov's own coverage.json "
                                     "or .resultset.json")
    if isinstance(data.get("coverage"), dict) and ("meta" in data or "groups" in data):
        merged = _files(label, data["coverage"], "coverage")
    elif data and all(isinstance(v, dict) and isinstance(v.get("coverage"), dict) for v in data.values()):
        merged = {}
        for command, run in data.items():
            for file, (lines, branches) in _files(label, run["coverage"], f"{command}.coverage").items():
                old_lines, old_branches = merged.get(file, ([], []))
                merged[file] = (_merge(old_lines, lines), _merge(old_branches, branches))
    else:
        raise MalformedReport(label, 'not a SimpleCov JSON report: expected {"meta", "coverage"} (coverage.json) '
                                     'or {"<command>": {"coverage": …}} (.resultset.json)')
    rows = [FileCoverage(file,
                         lines_covered=sum(1 for hits in lines if hits is not None and hits > 0),
                         lines_missed=sum(1 for hits in lines if hits == 0),
                         branches_covered=sum(1 for hits in branches if hits is not None and hits > 0),
                         branches_missed=sum(1 for hits in branches if hits == 0))
            for file, (lines, branches) in merged.items()]
    return summed(FORMAT, label, rows)


def _files(label: str, coverage: dict[str, Any], where: str) -> dict[str, tuple[list[int | None], list[int | None]]]:
    out = {}
    for file, entry in coverage.items():
        if isinstance(entry, list):  # simplecov < 0.18 stored the lines array alone
            entry = {"lines": entry}
        if not isinstance(entry, dict):
            raise MalformedReport(label, f"not a SimpleCov JSON report: {where}[{file!r}] is {kind(entry)}")
        lines = entry.get("lines") or []
        if not isinstance(lines, list):
            raise MalformedReport(label, f"not a SimpleCov JSON report: {where}[{file!r}].lines is {kind(lines)}")
        out[file] = ([_hits(label, v, f"{where}[{file!r}].lines") for v in lines],
                     _branches(label, entry.get("branches"), f"{where}[{file!r}].branches"))
    return out


def _hits(label: str, value: Any, where: str) -> int | None:
    if value is None or value == "ignored":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedReport(label, f"not a SimpleCov JSON report: {where} holds {value!r}, not a hit count")
    return value


def _branches(label: str, value: Any, where: str) -> list[int | None]:
    if value is None:
        return []
    if isinstance(value, list):  # coverage.json: [{"type", "start_line", "end_line", "coverage"}]
        return [_hits(label, b.get("coverage") if isinstance(b, dict) else b, where) for b in value]
    if isinstance(value, dict):  # .resultset.json: {"[:if, …]": {"[:then, …]": hits}}
        out: list[int | None] = []
        for condition in value.values():
            if not isinstance(condition, dict):
                raise MalformedReport(label, f"not a SimpleCov JSON report: {where} holds {kind(condition)}")
            out.extend(_hits(label, hits, where) for hits in condition.values())
        return out
    raise MalformedReport(label, f"not a SimpleCov JSON report: {where} is {kind(value)}")


def _merge(old: list[int | None], new: list[int | None]) -> list[int | None]:
    """Two runs' counts for one file, added line by line (what simplecov does when merging)."""
    if not old:
        return list(new)
    longer, shorter = (old, new) if len(old) >= len(new) else (new, old)
    merged = list(longer)
    for i, hits in enumerate(shorter):
        if hits is not None:
            merged[i] = hits + (merged[i] or 0)
    return merged
