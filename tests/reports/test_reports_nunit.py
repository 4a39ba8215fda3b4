"""NUNITXML from a real nunit-console 2.6.4 run on Mono; NUNIT3XML from pytest-nunit, plus the
nunit3-console labels no generator here writes."""

from pathlib import Path

from conveyor.reports import ERROR, FAILED, SKIPPED, SUCCEEDED, UNKNOWN, parse_report

FIXTURES = Path(__file__).parent / "fixtures"


def test_nunit2_console():
    report = parse_report(FIXTURES / "nunit2-console.xml", "NUNITXML", label="nunit2-console.xml")
    assert (report.format, report.status, report.duration_seconds) == ("NUNITXML", FAILED, 0.053)
    assert report.status_counts == {"SUCCEEDED": 1, "FAILED": 1, "ERROR": 1, "SKIPPED": 1, "UNKNOWN": 1}
    source = "/tmp/conveyor-report-fixtures/nunit/InvoiceTests.cs"
    assert [(c.name, c.status, c.message, c.file, c.line) for c in report.cases] == [
        ("ConvertsCurrency", SKIPPED, "currency rules pending", None, None),
        ("GrossAddsTax", SUCCEEDED, None, None, None),
        ("GrossWithZeroRate", FAILED, "zero rate keeps net\n  Expected: 99m\n  But was:  100m", source, 24),
        ("LoadsCustomer", ERROR, "System.NullReferenceException : Object reference not set to an instance of an object",
         source, 32),
        ("RoundingIsUndecided", UNKNOWN, "rounding mode not agreed", None, None),
    ]
    assert {(c.suite, c.prefix) for c in report.cases} == {("InvoiceTests", "Billing.Tests.InvoiceTests")}
    assert [c.duration_seconds for c in report.cases] == [None, 0.012, 0.005, 0.001, 0.0]


def test_pytest_nunit3_status_comes_from_result_not_from_its_empty_failure_elements():
    report = parse_report(FIXTURES / "pytest-nunit3.xml", "NUNIT3XML", label="pytest-nunit3.xml")
    # pytest-nunit writes an empty <failure> into passing cases and result="Passed" on the run.
    assert (report.format, report.status, report.duration_seconds) == ("NUNIT3XML", FAILED, 0.014995)
    assert [(c.name, c.status, c.file, c.line) for c in report.cases] == [
        ("tests/test_ops.py::test_add", SUCCEEDED, None, None),
        ("tests/test_ops.py::test_classify_negative", SUCCEEDED, None, None),
        ("tests/test_ops.py::test_divide_wrong", FAILED, "tests/test_ops.py", 21),
        ("tests/test_ops.py::test_needs_db", FAILED, None, None),
        ("tests/test_ops.py::test_skipped", SKIPPED, None, None),
        ("tests/test_ops.py::test_divide_by_zero_unexpected", FAILED,
         "/tmp/conveyor-report-fixtures/py/calc/ops.py", 7),
    ]
    assert report.cases[4].message == "Skipped: not implemented yet"
    assert report.cases[2].duration_seconds == 0.010378


# Hand-written to the NUnit 3 result schema (docs.nunit.org "Test Result XML Format"): no .NET SDK
# or nunit3-console is installable here, so the labels only nunit3-console writes are shown this way.
NUNIT3_CONSOLE = """<?xml version="1.0" encoding="utf-8" standalone="no"?>
<test-run id="0" runstate="Runnable" testcasecount="6" result="Failed" total="6" passed="1" failed="3"
          inconclusive="1" skipped="1" asserts="3" engine-version="3.16.3.0" duration="0.250">
  <test-suite type="Assembly" id="0-1008" name="Billing.Tests.dll" fullname="/src/Billing.Tests.dll"
              result="Failed" duration="0.200" total="6" passed="1" failed="3">
    <test-suite type="TestFixture" id="0-1001" name="InvoiceTests" fullname="Billing.Tests.InvoiceTests"
                classname="Billing.Tests.InvoiceTests" result="Failed" duration="0.150">
      <test-case id="0-1002" name="GrossAddsTax" fullname="Billing.Tests.InvoiceTests.GrossAddsTax"
                 methodname="GrossAddsTax" classname="Billing.Tests.InvoiceTests" result="Passed" duration="0.012"/>
      <test-case id="0-1003" name="GrossWithZeroRate" fullname="Billing.Tests.InvoiceTests.GrossWithZeroRate"
                 classname="Billing.Tests.InvoiceTests" result="Failed" duration="0.020">
        <failure>
          <message><![CDATA[  zero rate keeps net
  Expected: 99m
  But was:  100m
]]></message>
          <stack-trace><![CDATA[   at Billing.Tests.InvoiceTests.GrossWithZeroRate() \
in /src/Billing.Tests/InvoiceTests.cs:line 24
]]></stack-trace>
        </failure>
      </test-case>
      <test-case id="0-1004" name="LoadsCustomer" fullname="Billing.Tests.InvoiceTests.LoadsCustomer"
                 classname="Billing.Tests.InvoiceTests" result="Failed" label="Error" duration="0.004">
        <failure>
          <message><![CDATA[System.NullReferenceException : Object reference not set to an instance \
of an object.]]></message>
          <stack-trace><![CDATA[   at Billing.Tests.InvoiceTests.LoadsCustomer() \
in /src/Billing.Tests/InvoiceTests.cs:line 32
]]></stack-trace>
        </failure>
        <output><![CDATA[loading customer 42
]]></output>
      </test-case>
      <test-case id="0-1005" name="BadSignature" fullname="Billing.Tests.InvoiceTests.BadSignature"
                 classname="Billing.Tests.InvoiceTests" runstate="NotRunnable" result="Failed" label="Invalid">
        <reason><message><![CDATA[Method has non-void return value, but no result is expected]]></message></reason>
      </test-case>
      <test-case id="0-1006" name="ConvertsCurrency" fullname="Billing.Tests.InvoiceTests.ConvertsCurrency"
                 classname="Billing.Tests.InvoiceTests" runstate="Ignored" result="Skipped" label="Ignored">
        <reason><message><![CDATA[currency rules pending]]></message></reason>
      </test-case>
      <test-case id="0-1007" name="RoundingIsUndecided" fullname="Billing.Tests.InvoiceTests.RoundingIsUndecided"
                 classname="Billing.Tests.InvoiceTests" result="Inconclusive" duration="0.001">
        <reason><message><![CDATA[rounding mode not agreed]]></message></reason>
      </test-case>
    </test-suite>
  </test-suite>
</test-run>
"""


def test_nunit3_console_labels(tmp_path):
    path = tmp_path / "TestResult.xml"
    path.write_text(NUNIT3_CONSOLE)
    report = parse_report(path, "NUNIT3XML", label="TestResult.xml")
    assert report.duration_seconds == 0.25
    assert [(c.name, c.status, c.message, c.file, c.line) for c in report.cases] == [
        ("GrossAddsTax", SUCCEEDED, None, None, None),
        ("GrossWithZeroRate", FAILED, "zero rate keeps net\n  Expected: 99m\n  But was:  100m",
         "/src/Billing.Tests/InvoiceTests.cs", 24),
        ("LoadsCustomer", ERROR,
         "System.NullReferenceException : Object reference not set to an instance of an object.",
         "/src/Billing.Tests/InvoiceTests.cs", 32),
        ("BadSignature", ERROR, "Method has non-void return value, but no result is expected", None, None),
        ("ConvertsCurrency", SKIPPED, "currency rules pending", None, None),
        ("RoundingIsUndecided", UNKNOWN, "rounding mode not agreed", None, None),
    ]
    assert report.cases[2].output == "loading customer 42"
    assert {(c.suite, c.prefix) for c in report.cases} == {("InvoiceTests", "Billing.Tests.InvoiceTests")}
