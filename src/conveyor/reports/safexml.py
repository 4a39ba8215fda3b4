"""Reading a report's XML without trusting it: expat fed in chunks, building an ElementTree, with
every element's line number kept for messages.

    doc = read_xml("build/junit.xml")
    doc.root.tag, doc.line(doc.root)        # 'testsuites', 2

Refused, as MalformedReport: an empty file, XML that is not well-formed (with expat's reason and
line), a special file (FIFO, device) or one over REPORT_LIMITS' bytes, elements nested deeper than
MAX_XML_DEPTH, and a DOCTYPE with an internal subset — where entity declarations live, and with them the
"billion laughs" expansion bomb and external entities. A bare external DOCTYPE is allowed, because
real generators write one (istanbul's Cobertura and JaCoCo's XML name their DTD); expat never
fetches it. Namespace prefixes are dropped from tag and attribute names: TRX's default namespace
and NUnit's none read the same.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from xml.parsers import expat

from conveyor.documents.source import open_regular
from conveyor.errors import ConfigError
from conveyor.reports.model import MAX_XML_DEPTH, REPORT_LIMITS, MalformedReport

CHUNK_BYTES = 64 * 1024


class _Refused(Exception):
    pass


@dataclass
class XmlDocument:
    file: str
    root: ET.Element
    lines: dict[int, int]

    def line(self, element: ET.Element) -> int | None:
        return self.lines.get(id(element))

    def malformed(self, element: ET.Element | None, reason: str) -> MalformedReport:
        return MalformedReport(self.file, reason, self.line(element) if element is not None else None)


def local(name: str) -> str:
    """`ns:tag` → `tag`; expat without namespace processing hands over qualified names."""
    return name.rsplit(":", 1)[-1]


def read_xml(path: str | Path, label: str | None = None) -> XmlDocument:
    """The parsed document, or MalformedReport naming the file (as `label`) and the line."""
    label = label or str(path)
    builder = ET.TreeBuilder()
    lines: dict[int, int] = {}
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    depth = 0

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth
        depth += 1
        if depth > MAX_XML_DEPTH:
            raise _Refused(f"elements nested more than {MAX_XML_DEPTH} deep")
        element = builder.start(local(name), {local(k): v for k, v in attrs.items() if not k.startswith("xmlns")})
        lines[id(element)] = parser.CurrentLineNumber

    def doctype(name: str, system_id: str | None, public_id: str | None, has_internal_subset: int) -> None:
        if has_internal_subset:
            raise _Refused("DOCTYPE with an internal subset (entity declarations) is not accepted in a report")

    def entity(*_args: object) -> None:
        raise _Refused("entity declarations are not accepted in a report")

    parser.StartElementHandler = start
    def end(name: str) -> None:
        nonlocal depth
        depth -= 1
        builder.end(local(name))

    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    parser.UnparsedEntityDeclHandler = entity
    try:
        fd = open_regular(path, label, REPORT_LIMITS)
    except ConfigError as exc:
        raise MalformedReport(label, exc.diagnostics[0].message) from exc
    try:
        with os.fdopen(fd, "rb") as stream:
            empty, read = True, 0
            while chunk := stream.read(CHUNK_BYTES):
                read += len(chunk)
                if read > REPORT_LIMITS.max_bytes:
                    raise MalformedReport(label, f"the file is over {REPORT_LIMITS.max_bytes:,} bytes")
                empty = empty and not chunk.strip()
                parser.Parse(chunk, False)
            if empty:
                raise MalformedReport(label, "the file is empty")
            parser.Parse(b"", True)
    except expat.ExpatError as exc:
        reason = expat.errors.messages.get(exc.code, str(exc)) if exc.code else str(exc)
        raise MalformedReport(label, f"not well-formed XML: {reason}", exc.lineno) from exc
    except _Refused as exc:
        raise MalformedReport(label, str(exc), parser.CurrentLineNumber) from exc
    return XmlDocument(label, builder.close(), lines)


def text(element: ET.Element | None) -> str | None:
    """All the text inside an element (CDATA included), or None."""
    if element is None:
        return None
    return "".join(element.itertext()) or None


def number(doc: XmlDocument, element: ET.Element, name: str, default: float | None = None) -> float | None:
    """A numeric attribute, or MalformedReport naming it. Thousands separators are dropped: old
    Surefire versions wrote time="1,234.5"."""
    raw = element.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return float(raw.replace(",", ""))
    except ValueError:
        raise doc.malformed(element, f"<{element.tag}> attribute {name}={raw!r} is not a number") from None


def count(doc: XmlDocument, element: ET.Element, name: str) -> int:
    """A non-negative whole-number attribute (0 when absent), or MalformedReport naming it."""
    value = number(doc, element, name, 0.0)
    if value is None or value < 0 or value != int(value):
        raise doc.malformed(element, f"<{element.tag}> attribute {name}={element.get(name)!r} is not a count")
    return int(value)


def expect_root(doc: XmlDocument, names: tuple[str, ...], format_name: str) -> None:
    if doc.root.tag not in names:
        wanted = " or ".join(f"<{n}>" for n in names)
        raise doc.malformed(doc.root, f"not a {format_name} report: the root element is <{doc.root.tag}>, "
                                      f"expected {wanted}")
