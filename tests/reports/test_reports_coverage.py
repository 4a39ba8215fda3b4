"""Coverage formats read from real tools: coverage.py and istanbul (Cobertura), istanbul (Clover),
JaCoCo 0.8.6, simplecov 0.22."""

from pathlib import Path

import pytest

from conveyor.reports import CoverageReport, FileCoverage, parse_report

FIXTURES = Path(__file__).parent / "fixtures"


def summary(report: CoverageReport):
    return (report.lines_covered, report.lines_missed, report.line_coverage_percent,
            report.branches_covered, report.branches_missed, report.branch_coverage_percent)


def test_coverage_py_cobertura():
    report = parse_report(FIXTURES / "coveragepy-cobertura.xml", "COBERTURAXML", label="coverage.xml")
    assert (report.format, report.file) == ("COBERTURAXML", "coverage.xml")
    # coverage.py: lines-valid="14" lines-covered="10" branches-valid="6" branches-covered="3"
    assert summary(report) == (10, 4, 71.43, 3, 3, 50.0)
    assert report.files == (FileCoverage("calc/__init__.py"), FileCoverage("calc/ops.py", 10, 4, 3, 3))
    assert report.files[0].line_coverage_percent is None  # an empty module measures nothing


def test_istanbul_cobertura_counts_class_lines_not_method_repeats():
    report = parse_report(FIXTURES / "jest-cobertura.xml", "COBERTURAXML")
    assert summary(report) == (7, 4, 63.64, 1, 3, 25.0)
    assert report.files == (FileCoverage("src/cart.js", 7, 4, 1, 3),)


def test_istanbul_clover_statements_are_lines():
    report = parse_report(FIXTURES / "jest-clover.xml", "CLOVERXML")
    assert summary(report) == (7, 4, 63.64, 1, 3, 25.0)  # the same run as jest-cobertura.xml
    assert report.files == (FileCoverage("/tmp/conveyor-report-fixtures/js/src/cart.js", 7, 4, 1, 3),)


def test_jacoco_report_counters():
    report = parse_report(FIXTURES / "jacoco.xml", "JACOCOXML")
    assert summary(report) == (7, 6, 53.85, 3, 5, 37.5)
    assert report.files == (FileCoverage("com/example/shop/PriceCalculator.java", 7, 6, 3, 5),)


def test_simplecov_coverage_json_leaves_out_nocov_lines():
    report = parse_report(FIXTURES / "simplecov-coverage.json", "SIMPLECOV")
    # simplecov printed "8 / 11 LOC (72.73%) covered"; .last_run.json said branch 66.66.
    assert summary(report) == (8, 3, 72.73, 6, 3, 66.67)
    assert [f.path for f in report.files] == ["/tmp/conveyor-report-fixtures/ruby/lib/shipping.rb"]


def test_simplecov_resultset_is_raw_coverage_with_nocov_lines_counted():
    report = parse_report(FIXTURES / "simplecov-resultset.json", "SIMPLECOV")
    assert summary(report) == (9, 4, 69.23, 6, 3, 66.67)


def test_simplecov_resultset_merges_commands(tmp_path):
    path = tmp_path / ".resultset.json"
    path.write_text('{"RSpec": {"coverage": {"a.rb": {"lines": [1, 0, null, 0]}}, "timestamp": 1},'
                    ' "Cucumber": {"coverage": {"a.rb": {"lines": [0, 2, null, 0]}, "b.rb": [0]}, "timestamp": 2}}')
    report = parse_report(path, "SIMPLECOV")
    assert report.files == (FileCoverage("a.rb", 2, 1), FileCoverage("b.rb", 0, 1))


def test_cobertura_without_root_totals_sums_files_and_merges_classes_of_one_file(tmp_path):
    path = tmp_path / "coverage.xml"
    path.write_text("""<coverage line-rate="0.5"><packages><package name="p"><classes>
      <class name="A" filename="src/A.java"><lines>
        <line number="1" hits="3"/><line number="2" hits="0" branch="true" condition-coverage="50% (1/2)"/>
      </lines></class>
      <class name="A$Inner" filename="src/A.java"><lines>
        <line number="2" hits="1"/><line number="5" hits="0"/>
      </lines></class>
    </classes></package></packages></coverage>""")
    report = parse_report(path, "COBERTURAXML")
    assert report.files == (FileCoverage("src/A.java", 2, 1, 1, 1),)
    assert summary(report) == (2, 1, 66.67, 1, 1, 50.0)


@pytest.mark.parametrize(("fixture", "fmt"), [("jacoco.xml", "JACOCOXML"), ("jest-clover.xml", "CLOVERXML")])
def test_percentages_are_what_codebuild_computes(fixture, fmt):
    report = parse_report(FIXTURES / fixture, fmt)
    lines = report.lines_covered + report.lines_missed
    assert report.line_coverage_percent == round(100 * report.lines_covered / lines, 2)
