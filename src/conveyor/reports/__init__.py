"""CodeBuild test and code coverage reports (buildspec `reports:`, aws-semantics §1.8): report
files read into CodeBuild's model, one module per file-format family.

    from conveyor.reports import parse_group, parse_report

    report = parse_report("build/junit.xml", "JUNITXML")          # TestReport
    report.status, report.status_counts                           # 'FAILED', {'SUCCEEDED': 2, …}
    coverage = parse_report("coverage.xml", "COBERTURAXML")       # CoverageReport
    coverage.line_coverage_percent                                # 71.43

    group = parse_group("build", ["reports/**/*.xml"], "JUNITXML")
    group.reports, group.problems                                 # the good files; what was wrong

    model.py             TestReport/TestCase, CoverageReport/FileCoverage, MalformedReport, statuses
    parse.py, group.py   parse_report (one file), parse_group (a report group's globs)
    junit.py             JUNITXML            cucumber.py   CUCUMBERJSON     testng.py   TESTNGXML
    nunit.py             NUNITXML, NUNIT3XML trx.py        VISUALSTUDIOTRX
    coverage_formats.py  COBERTURAXML, CLOVERXML, JACOCOXML            simplecov.py SIMPLECOV
    safexml.py, safejson.py, locations.py    reading untrusted files; failure file:line from traces
"""

from conveyor.reports.group import MAX_REPORT_TEST_CASES, ReportGroupResult, find_files, parse_group
from conveyor.reports.model import (
                                    COVERAGE_FORMATS,
                                    ERROR,
                                    FAILED,
                                    SKIPPED,
                                    SUCCEEDED,
                                    TEST_CASE_STATUSES,
                                    TEST_FORMATS,
                                    UNKNOWN,
                                    CoverageReport,
                                    FileCoverage,
                                    MalformedReport,
                                    TestCase,
                                    TestReport,
)
from conveyor.reports.parse import normalize_format, parse_report

__all__ = [
    "COVERAGE_FORMATS", "ERROR", "FAILED", "MAX_REPORT_TEST_CASES", "SKIPPED", "SUCCEEDED", "TEST_CASE_STATUSES",
    "TEST_FORMATS", "UNKNOWN", "CoverageReport", "FileCoverage", "MalformedReport", "ReportGroupResult", "TestCase",
    "TestReport", "find_files", "normalize_format", "parse_group", "parse_report",
]
