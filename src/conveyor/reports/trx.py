"""VISUALSTUDIOTRX: Visual Studio / vstest `.trx` files (schema vstst.xsd, namespace
http://microsoft.com/schemas/VisualStudio/TeamTest/2010), as `dotnet test --logger trx` and the
jest/karma/mocha TRX reporters write them.

    <TestRun>
      <TestDefinitions><UnitTest id storage><TestMethod className name codeBase/></UnitTest>
      <Results>
        <UnitTestResult testId testName outcome duration="hh:mm:ss.fffffff">
          <Output><StdOut/><ErrorInfo><Message/><StackTrace/></ErrorInfo></Output>

Outcomes (vstst.xsd TestOutcome): Passed and PassedButRunAborted are SUCCEEDED; Failed and
Timeout FAILED; Error, Aborted and NotRunnable ERROR; NotExecuted SKIPPED; the rest
(Inconclusive, Warning, Pending…) UNKNOWN.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from conveyor.reports.locations import failure_location
from conveyor.reports.model import ERROR, FAILED, SKIPPED, SUCCEEDED, UNKNOWN, TestCase, TestReport, clip, first_line
from conveyor.reports.safexml import XmlDocument, expect_root, read_xml, text

FORMAT = "VISUALSTUDIOTRX"
_STATUSES = {"passed": SUCCEEDED, "passedbutrunaborted": SUCCEEDED, "failed": FAILED, "timeout": FAILED,
             "error": ERROR, "aborted": ERROR, "notrunnable": ERROR, "notexecuted": SKIPPED}
# .NET TimeSpan as written in TRX: [d.]hh:mm:ss[.fffffff]
_TIMESPAN = re.compile(r"^(?:(?P<d>\d+)\.)?(?P<h>\d+):(?P<m>\d+):(?P<s>\d+(?:\.\d+)?)$")


def parse_trx(path: str | Path, label: str | None = None) -> TestReport:
    doc = read_xml(path, label)
    expect_root(doc, ("TestRun",), "Visual Studio TRX")
    definitions = {u.get("id"): u for u in doc.root.iter("UnitTest")}
    cases = []
    for results in doc.root.findall("Results"):
        for result in results:
            if result.tag.endswith("TestResult"):  # UnitTestResult, and other test types alike
                cases.append(_case(doc, result, definitions.get(result.get("testId"))))
    return TestReport(FORMAT, doc.file, tuple(cases), round(sum(c.duration_seconds or 0.0 for c in cases), 7))


def timespan(doc: XmlDocument, element: ET.Element, name: str) -> float | None:
    raw = element.get(name)
    if raw is None:
        return None
    match = _TIMESPAN.match(raw.strip())
    if not match:
        raise doc.malformed(element, f"<{element.tag}> attribute {name}={raw!r} is not a duration (hh:mm:ss.fffffff)")
    days = int(match["d"] or 0)
    return days * 86400 + int(match["h"]) * 3600 + int(match["m"]) * 60 + float(match["s"])


def _case(doc: XmlDocument, result: ET.Element, definition: ET.Element | None) -> TestCase:
    status = _STATUSES.get((result.get("outcome") or "").lower(), UNKNOWN)
    method = definition.find("TestMethod") if definition is not None else None
    classname = method.get("className") if method is not None else None
    storage = definition.get("storage") if definition is not None else None
    output = result.find("Output")
    error = output.find("ErrorInfo") if output is not None else None
    message = clip(text(error.find("Message"))) if error is not None else None
    details = clip(text(error.find("StackTrace"))) if error is not None else None
    captured = "\n".join(t for t in (clip(text(output.find(tag))) for tag in ("StdOut", "StdErr"))
                         if t) if output is not None else ""
    file = line = None
    if status in (FAILED, ERROR):
        test_file = storage if storage and not storage.lower().endswith((".dll", ".exe")) else None
        found = failure_location(details, classname, test_file) or failure_location(message, classname, test_file)
        if found:
            file, line = found
        if details is None and message and "\n" in message:
            # Reporters without a StackTrace element (jest's) put the trace under the message.
            details, message = message, first_line(message)
    return TestCase(
        name=result.get("testName") or (method.get("name") if method is not None else None) or "(unnamed)",
        status=status,
        suite=classname,
        prefix=classname,
        duration_seconds=timespan(doc, result, "duration"),
        message=message,
        details=details,
        output=clip(captured),
        file=file,
        line=line,
    )
