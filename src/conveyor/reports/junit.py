"""JUNITXML: the Ant/Surefire JUnit XML that most runners write — pytest (`--junitxml`, xunit1 and
xunit2), Maven Surefire and the JUnit Platform console, TestNG's JUnitReportReporter, jest-junit,
unittest-xml-reporting…

    <testsuites>                                  (or a single <testsuite> as the root)
      <testsuite name time>                       (suites may nest)
        <testcase name classname time [file line]>
          <failure message type>text</failure>    → FAILED
          <error message type>text</error>        → ERROR
          <skipped message/>                      → SKIPPED   (none of these → SUCCEEDED)
          <system-out/> <system-err/>

Counts come from the test cases, not from the suites' tests=/failures= attributes, which
generators disagree on (jest-junit leaves `test.todo` out of tests= but writes its <testcase>).
Times are seconds.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from conveyor.reports.locations import failure_location
from conveyor.reports.model import ERROR, FAILED, SKIPPED, SUCCEEDED, TestCase, TestReport, clip, first_line
from conveyor.reports.safexml import XmlDocument, expect_root, number, read_xml, text

FORMAT = "JUNITXML"
_OUTCOMES = (("failure", FAILED), ("error", ERROR), ("skipped", SKIPPED))


def parse_junit(path: str | Path, label: str | None = None) -> TestReport:
    doc = read_xml(path, label)
    expect_root(doc, ("testsuites", "testsuite"), "JUnit XML")
    cases: list[TestCase] = []
    top_suite = doc.root.get("name") if doc.root.tag == "testsuite" else None
    _collect(doc, doc.root, top_suite, _written_by_pytest(doc.root), cases)
    return TestReport(FORMAT, doc.file, tuple(cases), _duration(doc, cases))


def _written_by_pytest(root: ET.Element) -> bool:
    names = [root.get("name", "")] + [s.get("name", "") for s in root.iter("testsuite")]
    return any(name in ("pytest", "pytest tests") for name in names)


def _collect(doc: XmlDocument, element: ET.Element, suite: str | None, pytest: bool, out: list[TestCase]) -> None:
    for child in element:
        if child.tag in ("testsuite", "testsuites"):
            _collect(doc, child, child.get("name") or suite, pytest, out)
        elif child.tag == "testcase":
            out.append(_case(doc, child, suite, pytest))


def _case(doc: XmlDocument, element: ET.Element, suite: str | None, pytest: bool) -> TestCase:
    classname = element.get("classname") or element.get("class") or None
    status, outcome = SUCCEEDED, None
    for tag, outcome_status in _OUTCOMES:
        outcome = element.find(tag)
        if outcome is not None:
            status = outcome_status
            break
    details = clip(text(outcome))
    message = (clip(outcome.get("message")) or first_line(details)) if outcome is not None else None
    output = "\n".join(t for t in (clip(text(o)) for o in element if o.tag in ("system-out", "system-err")) if t)

    file = element.get("file") or None
    line = _line(doc, element, pytest)
    if status in (FAILED, ERROR):
        found = failure_location(details or message, classname, file)
        if found:
            file, line = found
    return TestCase(
        name=element.get("name") or "(unnamed)",
        status=status,
        suite=suite,
        prefix=classname,
        duration_seconds=number(doc, element, "time"),
        message=message,
        details=details,
        output=clip(output),
        file=file,
        line=line,
    )


def _line(doc: XmlDocument, element: ET.Element, pytest: bool) -> int | None:
    value = number(doc, element, "line")
    if value is None:
        return None
    # pytest writes the test's 0-based line (Item.location; _pytest/junitxml.py), others 1-based.
    return int(value) + 1 if pytest else int(value)


def _duration(doc: XmlDocument, cases: list[TestCase]) -> float:
    """The run's time as the file states it (root, else its suites), else the cases' sum."""
    stated = number(doc, doc.root, "time")
    if stated is None:
        suites = [number(doc, s, "time") for s in doc.root if s.tag == "testsuite"]
        stated = sum(t for t in suites if t is not None) if suites and None not in suites else None
    if stated is None:
        stated = sum(c.duration_seconds or 0.0 for c in cases)
    return round(stated, 6)
