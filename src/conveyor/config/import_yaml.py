"""Write YAML that a person will read and edit: keys in the order given, short lists in flow style,
comments at the end of a line or between list items. yaml.safe_dump cannot place comments, so the
importer builds Block/Items trees and this module renders them.

    root = Block().add("name", "orders").add("pipeline", Block().add("executionMode", "QUEUED", "AWS default"))
    render(root)   # 'name: orders\\npipeline:\\n  executionMode: QUEUED                 # AWS default\\n'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

COMMENT_COLUMN = 48
MAX_IMPLICIT_KEY = 1000  # YAML limits an implicit key to 1024 characters; longer ones are written "? key"
_PLAIN = re.compile(r"[A-Za-z0-9_./][A-Za-z0-9_./@ +=()*:-]*")


@dataclass
class Block:
    """A mapping whose entries may carry an end-of-line comment."""

    entries: list[tuple[str, Any, str | None]] = field(default_factory=list)

    def add(self, key: str, value: Any, comment: str | None = None) -> Block:
        if value is not None:
            self.entries.append((key, value, comment))
        return self

    def __bool__(self) -> bool:
        return bool(self.entries)


@dataclass
class Items:
    """A block sequence of Blocks; a str item is written as a comment line in its place."""

    items: list[Block | str] = field(default_factory=list)
    spaced: bool = False  # a blank line between items

    def __bool__(self) -> bool:
        return bool(self.items)


def scalar(value: Any, flow: bool = False) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    plain = (_PLAIN.fullmatch(text) is not None and not text.endswith((" ", ":")) and ": " not in text
             and " #" not in text and not (flow and ":" in text))
    if plain:
        try:
            plain = yaml.safe_load(text) == text
        except yaml.YAMLError:
            plain = False
    return text if plain else json.dumps(text, ensure_ascii=False)


def _with_comment(line: str, comment: str | None) -> str:
    if not comment:
        return line
    return f"{line.ljust(COMMENT_COLUMN - 1)} # {comment}" if len(line) < COMMENT_COLUMN - 1 else f"{line}  # {comment}"


def render(root: Block) -> str:
    lines: list[str] = []
    _block(root, 0, lines)
    return "\n".join(lines) + "\n"


def _block(block: Block, indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for n, (key, value, comment) in enumerate(block.entries):
        if indent == 0 and n and isinstance(value, (Block, Items, dict)):
            lines.append("")  # top-level sections stand apart
        key_text = scalar(key)
        if len(key_text) > MAX_IMPLICIT_KEY:
            lines.append(f"{pad}? {key_text}")
            key_text = ""
        head = f"{pad}{key_text}:"
        if isinstance(value, dict):
            value = Block([(k, v, None) for k, v in value.items()])
        if isinstance(value, Block):
            if not value:
                lines.append(_with_comment(head + " {}", comment))
            else:
                lines.append(_with_comment(head, comment))
                _block(value, indent + 2, lines)
        elif isinstance(value, Items):
            lines.append(_with_comment(head + ("" if value else " []"), comment))
            _items(value, indent + 2, lines)
        elif isinstance(value, list):
            lines.append(_with_comment(f"{head} [{', '.join(scalar(v, flow=True) for v in value)}]", comment))
        else:
            lines.append(_with_comment(f"{head} {scalar(value)}", comment))


def _items(items: Items, indent: int, lines: list[str]) -> None:
    pad = " " * indent
    previous: str | None = None
    for item in items.items:
        kind = "comment" if isinstance(item, str) else "block"
        if items.spaced and previous is not None and "block" in (previous, kind):
            lines.append("")
        previous = kind
        if isinstance(item, str):
            lines.append(f"{pad}# {item}")
            continue
        start = len(lines)
        _block(item, indent + 2, lines)
        if len(lines) > start:
            lines[start] = f"{pad}- {lines[start][indent + 2:]}"
