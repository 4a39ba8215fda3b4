"""Reading a report's JSON: MalformedReport, with the line, for an empty file, bad UTF-8, invalid
JSON and nesting too deep to read — never a raw exception.

    data = read_json("coverage/.resultset.json")
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conveyor.reports.model import MalformedReport


def read_json(path: str | Path, label: str | None = None) -> Any:
    label = label or str(path)
    with open(path, "rb") as stream:
        raw = stream.read()
    if not raw.strip():
        raise MalformedReport(label, "the file is empty")
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise MalformedReport(label, f"not UTF-8 text (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise MalformedReport(label, f"not valid JSON: {exc.msg} (column {exc.colno})", exc.lineno) from exc
    except RecursionError as exc:
        raise MalformedReport(label, "not readable JSON: nested too deeply") from exc


def kind(value: Any) -> str:
    """How a JSON value is named in messages."""
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")
