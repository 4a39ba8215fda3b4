"""TESTNGXML: TestNG's testng-results.xml (org.testng.reporters.XMLReporter).

    <testng-results total passed failed skipped>
      <suite name duration-ms>
        <test name>
          <class name="com.shop.CartTest">
            <test-method name status="PASS|FAIL|SKIP" duration-ms [is-config="true"]>
              <exception class><message/><full-stacktrace/></exception>

Configuration methods (@BeforeClass…) are not test cases: TestNG leaves them out of its own
totals too. Durations are milliseconds.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from conveyor.reports.locations import failure_location
from conveyor.reports.model import FAILED, SKIPPED, SUCCEEDED, UNKNOWN, TestCase, TestReport, clip
from conveyor.reports.safexml import XmlDocument, expect_root, number, read_xml, text

FORMAT = "TESTNGXML"
_STATUSES = {"PASS": SUCCEEDED, "FAIL": FAILED, "SKIP": SKIPPED}


def parse_testng(path: str | Path, label: str | None = None) -> TestReport:
    doc = read_xml(path, label)
    expect_root(doc, ("testng-results",), "TestNG XML")
    cases: list[TestCase] = []
    suite_ms = 0.0
    for suite in doc.root.iter("suite"):
        suite_ms += number(doc, suite, "duration-ms", 0.0) or 0.0
        for cls in suite.iter("class"):
            for method in cls.iter("test-method"):
                if method.get("is-config", "").lower() != "true":
                    cases.append(_case(doc, method, suite.get("name"), cls.get("name")))
    return TestReport(FORMAT, doc.file, tuple(cases), round(suite_ms / 1000.0, 6))


def _case(doc: XmlDocument, method: ET.Element, suite: str | None, classname: str | None) -> TestCase:
    status = _STATUSES.get((method.get("status") or "").upper(), UNKNOWN)
    exception = method.find("exception")
    message = details = None
    file = line = None
    if exception is not None:
        details = clip(text(exception.find("full-stacktrace")))
        message = clip(text(exception.find("message"))) or exception.get("class")
        if status == FAILED:
            found = failure_location(details, classname)
            if found:
                file, line = found
    output = clip(text(method.find("reporter-output")))
    millis = number(doc, method, "duration-ms")
    return TestCase(
        name=method.get("name") or "(unnamed)",
        status=status,
        suite=suite,
        prefix=classname,
        duration_seconds=None if millis is None else millis / 1000.0,
        message=message,
        details=details,
        output=output,
        file=file,
        line=line,
    )
