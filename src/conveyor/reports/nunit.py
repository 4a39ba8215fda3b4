"""NUNITXML (NUnit 2.x `<test-results>`, nunit-console 2.x) and NUNIT3XML (NUnit 3 `<test-run>`,
nunit3-console and `dotnet test --logger nunit`). Both nest <test-suite> elements (assembly,
namespace, fixture…) around <test-case> elements:

    NUnit 2: <test-case name="Ns.Fixture.Method" executed result="Success|Failure|Error|Ignored|
               Inconclusive|NotRunnable|Skipped|Cancelled" time (s)>
               <failure><message/><stack-trace/></failure>  <reason><message/></reason>
    NUnit 3: <test-case name classname fullname result="Passed|Failed|Skipped|Inconclusive|Warning"
               label="Error|Invalid|Ignored|Explicit|Cancelled…" duration (s)>
               <failure><message/><stack-trace/></failure>  <reason><message/></reason>  <output/>

Errors (an exception rather than a failed assertion) and not-runnable tests are ERROR;
inconclusive and warning results are UNKNOWN.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from conveyor.reports.locations import failure_location
from conveyor.reports.model import ERROR, FAILED, SKIPPED, SUCCEEDED, UNKNOWN, TestCase, TestReport, clip
from conveyor.reports.safexml import XmlDocument, expect_root, number, read_xml, text

NUNIT2, NUNIT3 = "NUNITXML", "NUNIT3XML"
_V2_STATUSES = {"success": SUCCEEDED, "failure": FAILED, "error": ERROR, "ignored": SKIPPED, "skipped": SKIPPED,
                "notrunnable": ERROR, "inconclusive": UNKNOWN, "cancelled": FAILED}
_V3_STATUSES = {"passed": SUCCEEDED, "failed": FAILED, "skipped": SKIPPED, "inconclusive": UNKNOWN,
                "warning": UNKNOWN}
_V3_ERROR_LABELS = ("error", "invalid")
_ROOTS = {NUNIT2: ("test-results", "NUnit 2 XML"), NUNIT3: ("test-run", "NUnit 3 XML")}


def parse_nunit2(path: str | Path, label: str | None = None) -> TestReport:
    return _parse(path, label, NUNIT2)


def parse_nunit3(path: str | Path, label: str | None = None) -> TestReport:
    return _parse(path, label, NUNIT3)


def _parse(path: str | Path, label: str | None, fmt: str) -> TestReport:
    doc = read_xml(path, label)
    root_tag, name = _ROOTS[fmt]
    other = NUNIT3 if fmt == NUNIT2 else NUNIT2
    if doc.root.tag == _ROOTS[other][0]:
        raise doc.malformed(doc.root, f"not an {name} report: <{doc.root.tag}> is the root of {_ROOTS[other][1]}; "
                                      f"declare file-format {other}")
    expect_root(doc, (root_tag,), name)
    cases: list[TestCase] = []
    _collect(doc, doc.root, None, fmt, cases)
    return TestReport(fmt, doc.file, tuple(cases), _duration(doc, fmt, cases))


def _collect(doc: XmlDocument, element: ET.Element, suite: str | None, fmt: str, out: list[TestCase]) -> None:
    for child in element:
        if child.tag == "test-suite":
            _collect(doc, child, child.get("name") or suite, fmt, out)
        elif child.tag == "results":
            _collect(doc, child, suite, fmt, out)
        elif child.tag == "test-case":
            out.append(_case_v2(doc, child, suite) if fmt == NUNIT2 else _case_v3(doc, child, suite))


def _case_v2(doc: XmlDocument, element: ET.Element, suite: str | None) -> TestCase:
    full = element.get("name") or "(unnamed)"
    base = full.split("(", 1)[0]
    prefix = base.rsplit(".", 1)[0] if "." in base else None
    result = (element.get("result") or "").lower()
    if result:
        status = _V2_STATUSES.get(result, UNKNOWN)
    elif (element.get("executed") or "").lower() == "false":
        status = SKIPPED  # NUnit 2.2 wrote executed/success only
    else:
        status = SUCCEEDED if (element.get("success") or "").lower() == "true" else FAILED
    return _case(doc, element, full[len(prefix) + 1:] if prefix else full, status, suite, prefix, "time")


def _case_v3(doc: XmlDocument, element: ET.Element, suite: str | None) -> TestCase:
    status = _V3_STATUSES.get((element.get("result") or "").lower(), UNKNOWN)
    if status == FAILED and (element.get("label") or "").lower() in _V3_ERROR_LABELS:
        status = ERROR
    prefix = element.get("classname") or None
    return _case(doc, element, element.get("name") or element.get("fullname") or "(unnamed)", status, suite,
                 prefix, "duration")


def _case(doc: XmlDocument, element: ET.Element, name: str, status: str, suite: str | None,
          prefix: str | None, time_attr: str) -> TestCase:
    message = details = file = line = None
    if status != SUCCEEDED:
        failure, reason = element.find("failure"), element.find("reason")
        details = clip(text(failure.find("stack-trace"))) if failure is not None else None
        for holder in (failure, reason):
            if holder is not None and message is None:
                message = clip(text(holder.find("message")))
        if status in (FAILED, ERROR):
            hint = prefix if prefix and "/" in prefix else None  # pytest-nunit's classname is the file
            found = failure_location(details, prefix, hint) or failure_location(message, prefix, hint)
            if found:
                file, line = found
    return TestCase(
        name=name,
        status=status,
        suite=suite,
        prefix=prefix,
        duration_seconds=number(doc, element, time_attr),
        message=message,
        details=details,
        output=clip(text(element.find("output"))),
        file=file,
        line=line,
    )


def _duration(doc: XmlDocument, fmt: str, cases: list[TestCase]) -> float:
    stated = number(doc, doc.root, "duration") if fmt == NUNIT3 else None
    if not stated:
        attr = "duration" if fmt == NUNIT3 else "time"
        suites = [number(doc, s, attr) for s in doc.root if s.tag == "test-suite"]
        stated = sum(t for t in suites if t is not None) if suites and None not in suites else None
    if stated is None:
        stated = sum(c.duration_seconds or 0.0 for c in cases)
    return round(stated, 6)
