"""The report model's rules, and the fixtures' bookkeeping."""

from pathlib import Path

from conveyor.config.buildspec_model import REPORT_FORMATS
from conveyor.reports import (
    COVERAGE_FORMATS,
    ERROR,
    FAILED,
    SKIPPED,
    SUCCEEDED,
    TEST_FORMATS,
    UNKNOWN,
    CoverageReport,
    TestCase,
    TestReport,
)
from conveyor.reports.model import MAX_TEXT_CHARS, clip, percent
from conveyor.reports.parse import PARSERS

FIXTURES = Path(__file__).parent / "fixtures"


def report(*statuses):
    return TestReport("JUNITXML", "r.xml", tuple(TestCase(f"t{i}", s) for i, s in enumerate(statuses)))


def test_a_report_fails_on_a_failed_or_errored_case_only():
    assert report(SUCCEEDED, SKIPPED, UNKNOWN).status == SUCCEEDED
    assert report(SUCCEEDED, FAILED).status == FAILED
    assert report(SUCCEEDED, ERROR).status == FAILED
    assert report().status == SUCCEEDED


def test_status_counts_name_every_codebuild_status():
    assert report(FAILED, FAILED, UNKNOWN).status_counts == {
        "SUCCEEDED": 0, "FAILED": 2, "ERROR": 0, "SKIPPED": 0, "UNKNOWN": 1}


def test_percentages():
    assert percent(2, 1) == 66.67
    assert percent(0, 0) is None
    assert CoverageReport("JACOCOXML", "j.xml", lines_covered=3, lines_missed=1).line_coverage_percent == 75.0


def test_text_is_clipped():
    assert clip("  \n ") is None
    long = clip("x" * (MAX_TEXT_CHARS + 10))
    assert long.startswith("x" * MAX_TEXT_CHARS) and long.endswith("(10 more characters)")


def test_every_buildspec_format_has_a_parser():
    assert set(TEST_FORMATS + COVERAGE_FORMATS) == set(REPORT_FORMATS) == set(PARSERS)


def test_fixtures_are_small_and_each_is_described_in_the_readme():
    readme = (FIXTURES / "README.md").read_text()
    fixtures = [p for p in FIXTURES.iterdir() if p.suffix in (".xml", ".json", ".trx")]
    assert len(fixtures) == 17
    for path in fixtures:
        assert path.stat().st_size < 50 * 1024, path.name
        assert f"`{path.name}`" in readme, path.name
