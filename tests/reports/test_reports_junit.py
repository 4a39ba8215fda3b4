"""JUNITXML read from what real runners wrote (fixtures/README.md says how each was made)."""

from pathlib import Path

import pytest

from conveyor.reports import ERROR, FAILED, SKIPPED, SUCCEEDED, parse_report

FIXTURES = Path(__file__).parent / "fixtures"


def read(name):
    return parse_report(FIXTURES / name, "JUNITXML", label=name)


def rows(report):
    return [(c.name, c.status, c.file, c.line) for c in report.cases]


def test_pytest_xunit1_statuses_messages_and_locations():
    report = read("pytest-junit-xunit1.xml")
    assert (report.format, report.file, report.status) == ("JUNITXML", "pytest-junit-xunit1.xml", FAILED)
    assert (report.total, report.passed, report.failed, report.errors, report.skipped) == (6, 2, 2, 1, 1)
    assert report.status_counts == {"SUCCEEDED": 2, "FAILED": 2, "ERROR": 1, "SKIPPED": 1, "UNKNOWN": 0}
    assert report.duration_seconds == 0.031
    # Passing and skipped tests: where pytest says they are declared (its 0-based line, made 1-based).
    # Failures: the frame in the test module (test_divide_by_zero_unexpected raised in calc/ops.py:7).
    assert rows(report) == [
        ("test_add", SUCCEEDED, "tests/test_ops.py", 11),
        ("test_classify_negative", SUCCEEDED, "tests/test_ops.py", 16),
        ("test_divide_wrong", FAILED, "tests/test_ops.py", 21),
        ("test_needs_db", ERROR, "tests/test_ops.py", 8),
        ("test_skipped", SKIPPED, "tests/test_ops.py", 28),
        ("test_divide_by_zero_unexpected", FAILED, "tests/test_ops.py", 34),
    ]
    cases = {c.name: c for c in report.cases}
    assert cases["test_divide_wrong"].message == "assert 0.25 == 0.5\n +  where 0.25 = divide(1, 4)"
    assert cases["test_divide_wrong"].details.endswith("tests/test_ops.py:21: AssertionError")
    assert cases["test_needs_db"].message == 'failed on setup with "RuntimeError: database not reachable"'
    assert cases["test_skipped"].message == "not implemented yet"
    assert cases["test_divide_by_zero_unexpected"].message == "ZeroDivisionError: division by zero"
    assert (cases["test_add"].suite, cases["test_add"].prefix) == ("pytest", "tests.test_ops")
    assert "adding 2 and 3" in cases["test_add"].output


def test_pytest_xunit2_has_no_file_attributes_so_only_failures_are_located():
    report = read("pytest-junit-xunit2.xml")
    assert (report.total, report.passed, report.failed, report.errors, report.skipped) == (6, 2, 2, 1, 1)
    assert rows(report) == [
        ("test_add", SUCCEEDED, None, None),
        ("test_classify_negative", SUCCEEDED, None, None),
        ("test_divide_wrong", FAILED, "tests/test_ops.py", 21),
        ("test_needs_db", ERROR, "tests/test_ops.py", 8),
        ("test_skipped", SKIPPED, None, None),
        ("test_divide_by_zero_unexpected", FAILED, "tests/test_ops.py", 34),
    ]
    assert report.cases[0].duration_seconds == 0.001
    assert report.duration_seconds == 0.057


def test_jest_junit_counts_the_todo_case_it_writes_without_a_result_as_passed():
    report = read("jest-junit.xml")
    # jest-junit says tests="5" (todo left out) but writes 6 <testcase>s; the todo one has no child.
    assert (report.total, report.passed, report.failed, report.errors, report.skipped) == (6, 3, 2, 0, 1)
    assert report.duration_seconds == 0.336
    assert rows(report) == [
        ("cart total sums price times quantity", SUCCEEDED, "__tests__/cart.test.js", None),
        ("cart total empty cart is zero", SUCCEEDED, "__tests__/cart.test.js", None),
        ("discount HALF halves the amount", FAILED, "__tests__/cart.test.js", 15),
        ("discount TENOFF takes ten off", SKIPPED, "__tests__/cart.test.js", None),
        ("discount stacks codes", SUCCEEDED, "__tests__/cart.test.js", None),
        ("discount throws on null code", FAILED, "__tests__/cart.test.js", 26),
    ]
    failed = report.cases[2]
    assert failed.message == "Error: expect(received).toBe(expected) // Object.is equality"  # no message=: first line
    assert "Expected: 40\nReceived: 50" in failed.details


def test_junit_platform_console_surefire_style_report():
    report = read("junit5-console.xml")
    assert (report.total, report.passed, report.failed, report.errors, report.skipped) == (5, 1, 1, 1, 2)
    assert report.duration_seconds == 0.049
    assert [(c.name, c.status, c.message, c.file, c.line) for c in report.cases] == [
        ("loadsWarehouse()", ERROR, 'Cannot invoke "Object.toString()" because "<local1>" is null',
         "com/example/inventory/StockTest.java", 24),
        ("reservesItems()", SUCCEEDED, None, None, None),
        ("onlyOnCi()", SKIPPED, "org.opentest4j.TestAbortedException: Assumption failed: CI_ONLY_FLAG not set",
         None, None),
        ("syncsWithWarehouse()", SKIPPED, "warehouse API not ready", None, None),
        ("rejectsOverReservation()", FAILED, "stock never negative ==> expected: <0> but was: <1>",
         "com/example/inventory/StockTest.java", 18),
    ]
    assert {(c.suite, c.prefix) for c in report.cases} == {("JUnit Jupiter", "com.example.inventory.StockTest")}
    assert report.cases[0].output.startswith("unique-id: [engine:junit-jupiter]")


def test_testng_junit_reporter_with_a_testsuite_root():
    report = read("testng-junitreport.xml")
    assert (report.total, report.passed, report.failed, report.errors, report.skipped) == (5, 1, 1, 1, 2)
    assert [(c.name, c.status, c.file, c.line) for c in report.cases] == [
        ("labelsAreWip", SKIPPED, None, None),
        ("totalSumsPrices", SUCCEEDED, None, None),
        ("unknownCodeThrows", ERROR, "com/example/shop/PriceCalculatorTest.java", 24),
        ("stackedCodes", SKIPPED, None, None),
        ("halfCodeHalvesAmount", FAILED, "com/example/shop/PriceCalculatorTest.java", 18),
    ]
    assert {c.suite for c in report.cases} == {"com.example.shop.PriceCalculatorTest"}


def test_unittest_xml_reporting_file_and_line_attributes_are_one_based():
    report = read("unittest-xmlrunner.xml")
    assert [(c.name, c.status, c.message, c.file, c.line) for c in report.cases] == [
        ("test_count", SUCCEEDED, None, "test_inventory.py", 5),
        ("test_restock", FAILED, "3 != 4 : restock total", "test_inventory.py", 9),
        ("test_lookup", ERROR, "'missing-sku'", "test_inventory.py", 12),
        ("test_sync", SKIPPED, "warehouse offline", "test_inventory.py", 14),
    ]


@pytest.mark.parametrize("name", ["pytest-junit-xunit1.xml", "jest-junit.xml", "junit5-console.xml"])
def test_durations_in_nanoseconds_for_codebuild(name):
    report = read(name)
    assert all(c.duration_ns == round(c.duration_seconds * 1e9) for c in report.cases)


def test_nested_suites_and_thousands_separators(tmp_path):
    path = tmp_path / "nested.xml"
    path.write_text('<testsuites><testsuite name="outer" time="1,234.5"><testsuite name="inner">'
                    '<testcase name="a" classname="x.A" time="1,200.25"/></testsuite></testsuite></testsuites>')
    report = parse_report(path, "JUNITXML")
    assert [(c.name, c.suite, c.duration_seconds) for c in report.cases] == [("a", "inner", 1200.25)]
    assert report.duration_seconds == 1234.5
