"""Load YAML or JSON into plain Python data plus the position of every key path, so that every
validation message can say `file:line:column key.path: what was expected`.

    doc = load_text(text, "conveyor.yml")
    doc.data["pipeline"]["stages"][0]["name"]
    doc.where(("pipeline", "stages", 0, "name"))     # -> (line, column), 1-based

A path is a tuple of mapping keys (str) and list indexes (int). Positions of mapping entries point
at the key; positions of list items at the item. A broken file raises ConfigError with a single
diagnostic naming the position, never a parser traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from conveyor.errors import ConfigError, Diagnostic

KeyPath = tuple[str | int, ...]


def format_path(path: KeyPath) -> str:
    """('pipeline', 'stages', 1, 'name') -> 'pipeline.stages[1].name'"""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


@dataclass
class Document:
    file: str
    data: Any
    positions: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: KeyPath) -> tuple[int, int]:
        """Position of `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.positions:
                return self.positions[path]
            path = path[:-1]
        return self.positions.get((), (1, 1))

    def diagnostic(self, path: KeyPath, message: str, severity: str = "error") -> Diagnostic:
        line, col = self.where(path)
        return Diagnostic(self.file, line, col, format_path(path), message, severity)


def load_file(path: str | Path, display: str | None = None) -> Document:
    p = Path(path)
    name = display or str(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError([Diagnostic(name, 0, 0, "", "file not found")]) from None
    except IsADirectoryError:
        raise ConfigError([Diagnostic(name, 0, 0, "", "is a directory, expected a file")]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError([Diagnostic(name, 0, 0, "", f"not UTF-8 text (byte {exc.start})")]) from None
    if p.suffix.lower() == ".json":
        return load_json(text, name)
    return load_yaml(text, name)


def load_text(text: str, file: str) -> Document:
    if file.lower().endswith(".json"):
        return load_json(text, file)
    return load_yaml(text, file)


# --- YAML ---------------------------------------------------------------------------------------


def load_yaml(text: str, file: str) -> Document:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ConfigError([Diagnostic(file, 1, 1, "", "the file is empty; expected a YAML mapping")])
        doc = Document(file, None)
        doc.data = _construct(loader, node, (), doc)
        return doc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "malformed YAML"
        raise ConfigError([Diagnostic(file, line, col, "", f"malformed YAML: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Diagnostic(file, 1, 1, "", f"malformed YAML: {exc}")]) from None
    finally:
        loader.dispose()


def _construct(loader: yaml.SafeLoader, node: yaml.Node, path: KeyPath, doc: Document) -> Any:
    doc.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                mark = key_node.start_mark
                raise ConfigError([Diagnostic(doc.file, mark.line + 1, mark.column + 1, format_path(path),
                                              "mapping keys must be plain scalars")])
            key = str(key) if not isinstance(key, str) else key
            child = path + (key,)
            if key in out:
                mark = key_node.start_mark
                first = doc.positions.get(child, (0, 0))[0]
                raise ConfigError([Diagnostic(doc.file, mark.line + 1, mark.column + 1, format_path(child),
                                              f"duplicate key '{key}' (first defined on line {first})")])
            doc.positions[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = _construct(loader, value_node, child, doc)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(loader, item, path + (i,), doc) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


# --- JSON ---------------------------------------------------------------------------------------


def load_json(text: str, file: str) -> Document:
    """Strict JSON (RFC 8259) with positions. Errors carry the position json reports."""
    if not text.strip():
        raise ConfigError([Diagnostic(file, 1, 1, "", "the file is empty; expected a JSON object")])
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError([Diagnostic(file, exc.lineno, exc.colno, "", f"malformed JSON: {exc.msg}")]) from None
    doc = Document(file, None)
    parser = _JsonPositions(text, doc)
    doc.data = parser.value(())
    return doc


class _JsonPositions:
    """A small recursive-descent reader that runs after json.loads accepted the text, so it only
    has to record where each value starts; values themselves are decoded with the json module."""

    _decoder = json.JSONDecoder()

    def __init__(self, text: str, doc: Document):
        self.text = text
        self.doc = doc
        self.i = 0
        # line starts, for offset -> (line, column)
        self.starts = [0]
        for n, ch in enumerate(text):
            if ch == "\n":
                self.starts.append(n + 1)

    def _pos(self, offset: int) -> tuple[int, int]:
        import bisect

        line = bisect.bisect_right(self.starts, offset) - 1
        return line + 1, offset - self.starts[line] + 1

    def _ws(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in " \t\r\n":
            self.i += 1

    def value(self, path: KeyPath) -> Any:
        self._ws()
        self.doc.positions.setdefault(path, self._pos(self.i))
        ch = self.text[self.i]
        if ch == "{":
            self.i += 1
            out: dict = {}
            self._ws()
            if self.text[self.i] == "}":
                self.i += 1
                return out
            while True:
                self._ws()
                key_at = self.i
                key, self.i = self._decoder.raw_decode(self.text, self.i)
                child = path + (key,)
                if key in out:
                    line, col = self._pos(key_at)
                    first = self.doc.positions.get(child, (0, 0))[0]
                    raise ConfigError([Diagnostic(self.doc.file, line, col, format_path(child),
                                                  f"duplicate key '{key}' (first defined on line {first})")])
                self.doc.positions[child] = self._pos(key_at)
                self._ws()
                self.i += 1  # ':'
                out[key] = self.value(child)
                self._ws()
                sep = self.text[self.i]
                self.i += 1
                if sep == "}":
                    return out
        if ch == "[":
            self.i += 1
            items: list = []
            self._ws()
            if self.text[self.i] == "]":
                self.i += 1
                return items
            while True:
                items.append(self.value(path + (len(items),)))
                self._ws()
                sep = self.text[self.i]
                self.i += 1
                if sep == "]":
                    return items
        val, self.i = self._decoder.raw_decode(self.text, self.i)
        return val
