"""The XML code coverage formats: COBERTURAXML, CLOVERXML and JACOCOXML, read into one
CoverageReport (CodeBuild: line coverage = lines covered / all lines; branch coverage = branches
covered / all branches).

    Cobertura  <coverage lines-valid lines-covered branches-valid branches-covered>
                 …<class filename><lines><line number hits [branch condition-coverage="50% (1/2)"]/>
    Clover     <coverage><project><metrics statements coveredstatements conditionals coveredconditionals/>
                 [<package>]<file path|name><metrics …/>
    JaCoCo     <report>…<package name><sourcefile name><counter type="LINE|BRANCH|…" missed covered/>
                 <counter …/> (report totals are the report's own counters)

Totals are what the file states for the whole run, when it states them; per-file rows are summed
from the file's own lines or metrics. Clover counts statements, not lines: its statements are
reported as lines.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

from conveyor.reports.model import CoverageReport, FileCoverage, summed
from conveyor.reports.safexml import XmlDocument, count, expect_root, read_xml

COBERTURA, CLOVER, JACOCO = "COBERTURAXML", "CLOVERXML", "JACOCOXML"
_CONDITION = re.compile(r"\((\d+)\s*/\s*(\d+)\)")


def parse_cobertura(path: str | Path, label: str | None = None) -> CoverageReport:
    doc = read_xml(path, label)
    expect_root(doc, ("coverage",), "Cobertura XML")
    if doc.root.find("project") is not None:
        raise doc.malformed(doc.root, "not a Cobertura XML report: <coverage><project> is Clover XML; "
                                      "declare file-format CLOVERXML")
    by_file: dict[str, dict[int, tuple[int, int, int]]] = {}
    for cls in doc.root.iter("class"):
        lines = by_file.setdefault(cls.get("filename") or cls.get("name") or "(unnamed)", {})
        for holder in cls.findall("lines"):  # the class's own lines, not its <methods>' repeats
            for line in holder.findall("line"):
                line_no = count(doc, line, "number")
                hits = count(doc, line, "hits")
                covered, total = _condition(doc, line)
                old = lines.get(line_no, (0, 0, 0))
                lines[line_no] = (max(old[0], hits), max(old[1], covered), max(old[2], total))
    files = [FileCoverage(path,
                          lines_covered=sum(1 for h, _, _ in lines.values() if h > 0),
                          lines_missed=sum(1 for h, _, _ in lines.values() if h == 0),
                          branches_covered=sum(c for _, c, _ in lines.values()),
                          branches_missed=sum(t - c for _, c, t in lines.values()))
             for path, lines in by_file.items()]
    report = summed(COBERTURA, doc.file, files)
    root = doc.root
    if root.get("lines-valid") is not None and root.get("lines-covered") is not None:
        valid, covered = count(doc, root, "lines-valid"), count(doc, root, "lines-covered")
        report = replace(report, lines_covered=covered, lines_missed=max(valid - covered, 0))
    if root.get("branches-valid") is not None and root.get("branches-covered") is not None:
        valid, covered = count(doc, root, "branches-valid"), count(doc, root, "branches-covered")
        report = replace(report, branches_covered=covered, branches_missed=max(valid - covered, 0))
    return report


def _condition(doc: XmlDocument, line: ET.Element) -> tuple[int, int]:
    """(covered, total) branches from condition-coverage="50% (1/2)"."""
    if (line.get("branch") or "").lower() != "true":
        return 0, 0
    match = _CONDITION.search(line.get("condition-coverage") or "")
    if not match:
        return 0, 0
    covered, total = int(match[1]), int(match[2])
    if covered > total:
        raise doc.malformed(line, f"<line> condition-coverage={line.get('condition-coverage')!r} covers more "
                                  "branches than there are")
    return covered, total


def parse_clover(path: str | Path, label: str | None = None) -> CoverageReport:
    doc = read_xml(path, label)
    expect_root(doc, ("coverage",), "Clover XML")
    project = doc.root.find("project")
    if project is None:
        hint = "; <coverage> with <packages> is Cobertura XML" if doc.root.find("packages") is not None else ""
        raise doc.malformed(doc.root, f"not a Clover XML report: <coverage> has no <project>{hint}")
    files = [_clover_row(doc, f.get("path") or f.get("name") or "(unnamed)", f.find("metrics"))
             for f in project.iter("file")]
    report = summed(CLOVER, doc.file, files)
    metrics = project.find("metrics")
    if metrics is not None:
        totals = _clover_row(doc, "", metrics)
        report = replace(report, lines_covered=totals.lines_covered, lines_missed=totals.lines_missed,
                         branches_covered=totals.branches_covered, branches_missed=totals.branches_missed)
    return report


def _clover_row(doc: XmlDocument, path: str, metrics: ET.Element | None) -> FileCoverage:
    if metrics is None:
        return FileCoverage(path)
    statements, covered = count(doc, metrics, "statements"), count(doc, metrics, "coveredstatements")
    conditionals, covered_conditionals = count(doc, metrics, "conditionals"), count(doc, metrics, "coveredconditionals")
    if covered > statements or covered_conditionals > conditionals:
        raise doc.malformed(metrics, "<metrics> covers more than there is")
    return FileCoverage(path, covered, statements - covered, covered_conditionals, conditionals - covered_conditionals)


def parse_jacoco(path: str | Path, label: str | None = None) -> CoverageReport:
    doc = read_xml(path, label)
    expect_root(doc, ("report",), "JaCoCo XML")
    files = []
    for package in doc.root.iter("package"):
        for source in package.findall("sourcefile"):
            name = "/".join(p for p in (package.get("name"), source.get("name")) if p)
            files.append(_jacoco_row(doc, name, source))
    totals = _jacoco_row(doc, "", doc.root)
    if not any(c.get("type") for c in doc.root.findall("counter")):
        return summed(JACOCO, doc.file, files)
    return CoverageReport(JACOCO, doc.file, totals.lines_covered, totals.lines_missed, totals.branches_covered,
                          totals.branches_missed, tuple(files))


def _jacoco_row(doc: XmlDocument, path: str, element: ET.Element) -> FileCoverage:
    counters = {c.get("type"): (count(doc, c, "covered"), count(doc, c, "missed")) for c in element.findall("counter")}
    lines, branches = counters.get("LINE", (0, 0)), counters.get("BRANCH", (0, 0))
    return FileCoverage(path, lines[0], lines[1], branches[0], branches[1])

