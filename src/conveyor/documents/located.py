"""Load YAML or JSON into plain Python data plus the position of every key path, so that every
validation message can say `file:line:column key.path: what was expected`.

    doc = load_text(text, "conveyor.yml")
    doc.data["pipeline"]["stages"][0]["name"]
    doc.where(("pipeline", "stages", 0, "name"))     # -> (line, column), 1-based

A path is a tuple of mapping keys (str) and list indexes (int). Positions of mapping entries point
at the key; positions of list items at the item. A broken file raises ConfigError with a single
diagnostic naming the position, never a parser traceback; so does a hostile one: everything is
read under documents/limits.py (size, nesting, expanded nodes, aliases, number length, NUL and
lone surrogates), and every value is a JSON value (str, int, float, bool, None, list, dict).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from conveyor.documents.json_limited import scan_json
from conveyor.documents.limits import DEFAULT, Limits
from conveyor.documents.source import check_characters, decode_text, first_surrogate, position, read_text_file
from conveyor.documents.yaml_limited import LimitedLoader, compose
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
    #: The text the document was read from ("" when built from data): buildspec reads it again.
    text: str = field(default="", repr=False)

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


def load_file(path: str | Path, display: str | None = None, limits: Limits = DEFAULT) -> Document:
    """The document in the file at `path`, read under `limits` (documents/source.py refuses special
    files, oversized files, bad UTF-8 and NUL characters); JSON by the `.json` suffix, else YAML."""
    name = display or str(path)
    text = read_text_file(path, name, limits)
    if Path(path).suffix.lower() == ".json":
        return load_json(text, name, limits)
    return load_yaml(text, name, limits)


def load_text(text: str, file: str, limits: Limits = DEFAULT) -> Document:
    if file.lower().endswith(".json"):
        return load_json(text, file, limits)
    return load_yaml(text, file, limits)


def loads_limited(text: str, source: str, limits: Limits = DEFAULT) -> Any:
    """json.loads under the limits, for text a user controls (an artifact, a commit's file):
    ConfigError with the position instead of RecursionError, ValueError or a huge allocation."""
    return load_json(text, source, limits).data


def parse_json_limited(raw: bytes, source: str = "request body", limits: Limits = DEFAULT) -> Any:
    """The JSON value in `raw` (an HTTP body, say) under the same limits as a file, or ConfigError
    (a UserError) with the position: for callers that hold bytes rather than a path."""
    return load_json(decode_text(raw, source, limits), source, limits).data


# --- YAML ---------------------------------------------------------------------------------------


def load_yaml(text: str, file: str, limits: Limits = DEFAULT) -> Document:
    _check_size(text, file, limits)
    check_characters(text, file)
    loader = None
    try:
        node, loader = compose(text, file, limits)
        if node is None:
            raise ConfigError([Diagnostic(file, 1, 1, "", "the file is empty; expected a YAML mapping")])
        doc = Document(file, None, text=text)
        doc.data = _construct(loader, node, (), doc)
        return doc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "malformed YAML"
        raise ConfigError([Diagnostic(file, line, col, "", f"malformed YAML: {problem}")]) from None
    except yaml.reader.ReaderError as exc:
        line, col = position(text, exc.position)
        raise ConfigError([Diagnostic(file, line, col, "", f"malformed YAML: {exc.reason}: character "
                                                           f"{exc.character!r} is not allowed")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Diagnostic(file, 1, 1, "", f"malformed YAML: {exc}")]) from None
    except RecursionError:  # the limits should make this unreachable; a last line of defence
        raise ConfigError([Diagnostic(file, 1, 1, "", "malformed YAML: nested too deeply to read")]) from None
    finally:
        if loader is not None:
            loader.dispose()


def _check_size(text: str, file: str, limits: Limits) -> None:
    if len(text) > limits.max_bytes:
        raise ConfigError([Diagnostic(file, 1, 1, "", f"the text is {len(text):,} characters; Conveyor reads "
                                                       f"configuration of at most {limits.max_bytes:,} bytes")])


def _scalar(loader: LimitedLoader, node: yaml.Node, path: KeyPath, doc: Document) -> Any:
    """A scalar's value, always JSON's kind of value (str, int, float, bool, None: a date stays
    the text written), refusing what would crash or mislead later: integers past the digit cap
    (Python refuses to convert them), !!binary, NUL and lone surrogates (written as escapes in
    double-quoted strings: the reader never sees them)."""
    mark = node.start_mark
    if node.tag == "tag:yaml.org,2002:timestamp":
        return node.value  # YAML 1.2, as AWS's parsers read it, has no dates: the text as written
    if node.tag == "tag:yaml.org,2002:binary":
        raise ConfigError([Diagnostic(doc.file, mark.line + 1, mark.column + 1, format_path(path),
                                      "!!binary values are not accepted in configuration; write the text")])
    if node.tag == "tag:yaml.org,2002:int":
        digits = sum(ch.isdigit() for ch in node.value)
        if digits > loader.limits.max_number_digits:
            raise ConfigError([Diagnostic(doc.file, mark.line + 1, mark.column + 1, format_path(path),
                                          f"an integer with {digits:,} digits; at most "
                                          f"{loader.limits.max_number_digits:,} are accepted")])
    try:
        value = loader.construct_object(node, deep=True)
    except (ValueError, OverflowError) as exc:
        raise ConfigError([Diagnostic(doc.file, mark.line + 1, mark.column + 1, format_path(path),
                                      f"cannot read {node.value[:40]!r} as {node.tag.rsplit(':', 1)[-1]}: {exc}")]
                          ) from None
    if isinstance(value, str):
        _check_string(value, doc.file, (mark.line + 1, mark.column + 1), path)
    elif isinstance(value, int) and value.bit_length() > _max_bits(loader.limits):
        # 0x… and 1:2:3 (base 60) integers: few digits written, too many to print in decimal
        raise ConfigError([Diagnostic(doc.file, mark.line + 1, mark.column + 1, format_path(path),
                                      f"an integer of more than {loader.limits.max_number_digits:,} decimal "
                                      f"digits")])
    return value


def _max_bits(limits: Limits) -> int:
    return int(limits.max_number_digits * math.log2(10))


def _check_string(value: str, file: str, where: tuple[int, int], path: KeyPath) -> None:
    if "\x00" in value:
        raise ConfigError([Diagnostic(file, where[0], where[1], format_path(path),
                                      "a NUL character is not allowed in a string")])
    bad = first_surrogate(value)
    if bad >= 0:
        raise ConfigError([Diagnostic(file, where[0], where[1], format_path(path),
                                      f"a lone surrogate (U+{ord(value[bad]):04X}) is not a character")])


def _construct(loader: LimitedLoader, node: yaml.Node, path: KeyPath, doc: Document) -> Any:
    doc.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        merged = loader.merged.get(id(node))
        if merged is None:  # first visit (an aliased mapping is visited again, already flattened)
            written = {id(k) for k, _ in node.value}
            loader.flatten_mapping(node)
            merged = loader.merged[id(node)] = {id(k) for k, _ in node.value} - written
        # keys from `<<: *anchor` may be overridden by a later merge or by a key written here
        out: dict = {}
        overridable: set[KeyPath] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                mark = key_node.start_mark
                raise ConfigError([Diagnostic(doc.file, mark.line + 1, mark.column + 1, format_path(path),
                                              "mapping keys must be plain scalars")])
            key = _scalar(loader, key_node, path, doc)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                mark = key_node.start_mark
                raise ConfigError([Diagnostic(doc.file, mark.line + 1, mark.column + 1, format_path(path),
                                              "mapping keys must be plain scalars")])
            key = str(key) if not isinstance(key, str) else key
            child = path + (key,)
            if key in out and (id(key_node) in merged or child in overridable):
                overridable.discard(child)
            elif key in out:
                mark = key_node.start_mark
                first = doc.positions.get(child, (0, 0))[0]
                raise ConfigError([Diagnostic(doc.file, mark.line + 1, mark.column + 1, format_path(child),
                                              f"duplicate key '{key}' (first defined on line {first})")])
            if id(key_node) in merged:
                overridable.add(child)
            doc.positions[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = _construct(loader, value_node, child, doc)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(loader, item, path + (i,), doc) for i, item in enumerate(node.value)]
    return _scalar(loader, node, path, doc)


# --- JSON ---------------------------------------------------------------------------------------


def load_json(text: str, file: str, limits: Limits = DEFAULT) -> Document:
    """Strict JSON (RFC 8259) with positions. Errors carry the position json reports; the limits
    are checked first (json_limited.scan_json), so json.loads never meets what it cannot handle."""
    _check_size(text, file, limits)
    check_characters(text, file)
    if not text.strip():
        raise ConfigError([Diagnostic(file, 1, 1, "", "the file is empty; expected a JSON object")])
    scan_json(text, file, limits)
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError([Diagnostic(file, exc.lineno, exc.colno, "", f"malformed JSON: {exc.msg}")]) from None
    except (ValueError, RecursionError) as exc:  # the scan should make these unreachable
        raise ConfigError([Diagnostic(file, 1, 1, "", f"malformed JSON: {exc}")]) from None
    doc = Document(file, None, text=text)
    parser = _JsonPositions(text, doc, limits.max_nodes)
    doc.data = parser.value(())
    return doc


class _JsonPositions:
    """A small recursive-descent reader that runs after json.loads accepted the text, so it only
    has to record where each value starts; values themselves are decoded with the json module."""

    _decoder = json.JSONDecoder()

    def __init__(self, text: str, doc: Document, max_nodes: int = DEFAULT.max_nodes):
        self.text = text
        self.max_nodes = max_nodes
        self.nodes = 0
        self.doc = doc
        self.i = 0
        # line starts, for offset -> (line, column)
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

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
        self.nodes += 1
        if self.nodes > self.max_nodes:
            line, col = self._pos(self.i)
            raise ConfigError([Diagnostic(self.doc.file, line, col, format_path(path),
                                          f"more than {self.max_nodes:,} values in one document")])
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
                _check_string(key, self.doc.file, self._pos(key_at), path)
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
        start = self.i
        val, self.i = self._decoder.raw_decode(self.text, self.i)
        if isinstance(val, str):
            _check_string(val, self.doc.file, self._pos(start), path)
        return val
