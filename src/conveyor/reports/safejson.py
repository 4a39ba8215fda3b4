"""Reading a report's JSON: MalformedReport, with the line, for a special file (FIFO, device), a
file over REPORT_LIMITS, an empty file, bad UTF-8, invalid JSON, nesting deeper than the limit and
numbers longer than it — never a raw exception, never a hang.

    data = read_json("coverage/.resultset.json")
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conveyor.documents.json_limited import scan_json
from conveyor.documents.source import read_file_bytes
from conveyor.errors import ConfigError
from conveyor.reports.model import REPORT_LIMITS, MalformedReport


def read_json(path: str | Path, label: str | None = None) -> Any:
    label = label or str(path)
    try:
        raw = read_file_bytes(path, label, REPORT_LIMITS)
        if not raw.strip():
            raise MalformedReport(label, "the file is empty")
        text = raw.decode("utf-8-sig")
        scan_json(text, label, REPORT_LIMITS)
    except UnicodeDecodeError as exc:
        raise MalformedReport(label, f"not UTF-8 text (byte {exc.start})") from exc
    except ConfigError as exc:
        first = exc.diagnostics[0]
        raise MalformedReport(label, first.message, first.line or None) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedReport(label, f"not valid JSON: {exc.msg} (column {exc.colno})", exc.lineno) from exc
    except RecursionError as exc:
        raise MalformedReport(label, "not readable JSON: nested too deeply") from exc


def kind(value: Any) -> str:
    """How a JSON value is named in messages."""
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")
