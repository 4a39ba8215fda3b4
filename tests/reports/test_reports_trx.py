"""VISUALSTUDIOTRX from a real jest run (jest-trx-results-processor), plus vstest's own shape."""

from pathlib import Path

import pytest

from conveyor.reports import ERROR, FAILED, SKIPPED, SUCCEEDED, UNKNOWN, parse_report
from conveyor.reports.safexml import read_xml
from conveyor.reports.trx import timespan

FIXTURES = Path(__file__).parent / "fixtures"


def test_jest_trx():
    report = parse_report(FIXTURES / "jest.trx", "VISUALSTUDIOTRX", label="jest.trx")
    assert (report.format, report.status, report.duration_seconds) == ("VISUALSTUDIOTRX", FAILED, 0.003)
    # jest's test.todo is NotExecuted here (SKIPPED), where jest-junit wrote it as a plain <testcase>.
    assert [(c.name, c.status, c.prefix, c.file, c.line) for c in report.cases] == [
        ("cart total / sums price times quantity", SUCCEEDED, "cart total", None, None),
        ("cart total / empty cart is zero", SUCCEEDED, "cart total", None, None),
        ("discount / HALF halves the amount", FAILED, "discount", "__tests__/cart.test.js", 15),
        ("discount / TENOFF takes ten off", SKIPPED, "discount", None, None),
        ("discount / stacks codes", SKIPPED, "discount", None, None),
        ("discount / throws on null code", FAILED, "discount", "__tests__/cart.test.js", 26),
    ]
    failed = report.cases[2]
    # The reporter writes no <StackTrace>: the trace under <Message> becomes the details.
    assert failed.message == "Error: expect(received).toBe(expected) // Object.is equality"
    assert "at Object.toBe (/tmp/conveyor-report-fixtures/js/__tests__/cart.test.js:15:35)" in failed.details


# Hand-written to vstst.xsd as `dotnet test --logger trx` writes it (no .NET SDK installable here).
VSTEST = """<?xml version="1.0" encoding="utf-8"?>
<TestRun id="6f1c" name="ci@build 2024-05-01 10:00:00" xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">
  <Results>
    <UnitTestResult executionId="e1" testId="t1" testName="GrossAddsTax" duration="00:00:00.0123400" outcome="Passed">
      <Output><StdOut>computing gross</StdOut></Output>
    </UnitTestResult>
    <UnitTestResult executionId="e2" testId="t2" testName="GrossWithZeroRate" duration="00:00:01.5000000"
                    outcome="Failed">
      <Output>
        <ErrorInfo>
          <Message>Assert.AreEqual failed. Expected:&lt;99&gt;. Actual:&lt;100&gt;. zero rate keeps net</Message>
          <StackTrace>   at Billing.Tests.InvoiceTests.GrossWithZeroRate() in /src/Billing.Tests/InvoiceTests.cs:line 24
</StackTrace>
        </ErrorInfo>
      </Output>
    </UnitTestResult>
    <UnitTestResult executionId="e3" testId="t3" testName="SlowImport" duration="1.00:00:00" outcome="Timeout"/>
    <UnitTestResult executionId="e4" testId="t4" testName="Crashes" duration="00:00:00.0010000" outcome="Error"/>
    <UnitTestResult executionId="e5" testId="t5" testName="ConvertsCurrency" outcome="NotExecuted"/>
    <UnitTestResult executionId="e6" testId="t6" testName="Rounding" duration="00:00:00" outcome="Inconclusive"/>
  </Results>
  <TestDefinitions>
    <UnitTest name="GrossAddsTax" storage="/src/bin/Billing.Tests.dll" id="t1">
      <TestMethod codeBase="/src/bin/Billing.Tests.dll" className="Billing.Tests.InvoiceTests" name="GrossAddsTax"/>
    </UnitTest>
    <UnitTest name="GrossWithZeroRate" storage="/src/bin/Billing.Tests.dll" id="t2">
      <TestMethod codeBase="/src/bin/Billing.Tests.dll" className="Billing.Tests.InvoiceTests"
                  name="GrossWithZeroRate"/>
    </UnitTest>
  </TestDefinitions>
  <ResultSummary outcome="Failed"><Counters total="6" executed="5" passed="1" failed="1" error="1"
                                            timeout="1"/></ResultSummary>
</TestRun>
"""


def test_vstest_outcomes_stack_trace_and_output(tmp_path):
    path = tmp_path / "run.trx"
    path.write_text(VSTEST)
    report = parse_report(path, "VISUALSTUDIOTRX")
    assert [(c.name, c.status, c.duration_seconds) for c in report.cases] == [
        ("GrossAddsTax", SUCCEEDED, 0.01234),
        ("GrossWithZeroRate", FAILED, 1.5),
        ("SlowImport", FAILED, 86400.0),
        ("Crashes", ERROR, 0.001),
        ("ConvertsCurrency", SKIPPED, None),
        ("Rounding", UNKNOWN, 0.0),
    ]
    failed = report.cases[1]
    assert (failed.prefix, failed.file, failed.line) == (
        "Billing.Tests.InvoiceTests", "/src/Billing.Tests/InvoiceTests.cs", 24)
    assert failed.message == "Assert.AreEqual failed. Expected:<99>. Actual:<100>. zero rate keeps net"
    assert report.cases[0].output == "computing gross"


@pytest.mark.parametrize(("raw", "seconds"), [("00:00:00.0123400", 0.01234), ("01:02:03", 3723.0),
                                             ("2.00:00:01.5", 172801.5)])
def test_timespans(tmp_path, raw, seconds):
    path = tmp_path / "t.xml"
    path.write_text(f'<r duration="{raw}"/>')
    doc = read_xml(path)
    assert timespan(doc, doc.root, "duration") == pytest.approx(seconds)
