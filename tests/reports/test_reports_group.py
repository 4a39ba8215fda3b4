"""parse_group: a report group's globs over a build directory with good and malformed files."""

import shutil
from pathlib import Path

import pytest

from conveyor.errors import UserError
from conveyor.reports import ERROR, FAILED, SUCCEEDED, TestReport, parse_group

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def build(tmp_path: Path) -> Path:
    """A build directory as a buildspec's `reports:` would see it."""
    (tmp_path / "reports/python").mkdir(parents=True)
    (tmp_path / "reports/js").mkdir()
    (tmp_path / "coverage").mkdir()
    shutil.copy(FIXTURES / "pytest-junit-xunit1.xml", tmp_path / "reports/python/junit.xml")
    shutil.copy(FIXTURES / "jest-junit.xml", tmp_path / "reports/js/junit.xml")
    shutil.copy(FIXTURES / "junit5-console.xml", tmp_path / "reports/TEST-junit-jupiter.xml")
    text = (FIXTURES / "testng-junitreport.xml").read_text()
    (tmp_path / "reports/js/truncated.xml").write_text(text[:300])
    (tmp_path / "reports/empty.xml").write_text("")
    shutil.copy(FIXTURES / "jacoco.xml", tmp_path / "reports/python/jacoco.xml")  # a coverage file among tests
    shutil.copy(FIXTURES / "coveragepy-cobertura.xml", tmp_path / "coverage/coverage.xml")
    shutil.copy(FIXTURES / "jest-cobertura.xml", tmp_path / "coverage/cobertura-coverage.xml")
    return tmp_path


def test_good_reports_are_kept_and_every_problem_is_listed(build):
    result = parse_group(build, ["reports/**/*.xml", "missing/*.xml"], "junitxml")
    assert result.format == "JUNITXML" and result.type == "TEST"
    assert [r.file for r in result.reports] == ["reports/TEST-junit-jupiter.xml", "reports/js/junit.xml",
                                               "reports/python/junit.xml"]
    assert result.problems == (
        "'missing/*.xml': no files match under " + str(build),
        "reports/empty.xml: the file is empty",
        "reports/js/truncated.xml:4: not well-formed XML: unclosed token",
        ("reports/python/jacoco.xml:1: not a JUnit XML report: the root element is <report>, "
        "expected <testsuites> or <testsuite>"),
    )
    assert (result.total, result.passed, result.failed, result.errors, result.skipped, result.unknown) == (
        17, 6, 5, 2, 4, 0)
    assert result.status_counts == {"SUCCEEDED": 6, "FAILED": 5, "ERROR": 2, "SKIPPED": 4, "UNKNOWN": 0}
    assert result.status == FAILED
    assert result.duration_seconds == round(sum(r.duration_seconds for r in result.reports), 6)


def test_files_matched_by_two_globs_are_read_once(build):
    result = parse_group(build, ["reports/python/junit.xml", "reports/*/junit.xml"], "JUNITXML")
    assert [r.file for r in result.reports] == ["reports/python/junit.xml", "reports/js/junit.xml"]
    assert result.problems == ()


def test_coverage_group_sums_lines_and_branches(build):
    result = parse_group(build / "coverage", ["*.xml"], "COBERTURAXML")
    assert result.type == "CODE_COVERAGE"
    assert [r.file for r in result.reports] == ["cobertura-coverage.xml", "coverage.xml"]
    assert (result.lines_covered, result.lines_missed, result.branches_covered, result.branches_missed) == (17, 8, 4, 6)
    assert (result.line_coverage_percent, result.branch_coverage_percent) == (68.0, 40.0)
    assert result.status == SUCCEEDED


def test_nothing_readable_is_incomplete(build):
    result = parse_group(build, ["reports/empty.xml", "nothing/**/*"], "JUNITXML")
    assert result.reports == ()
    assert result.status == "INCOMPLETE"
    assert len(result.problems) == 2


def test_globs_stay_inside_the_base_directory(build):
    result = parse_group(build / "reports", ["../coverage/*.xml", str(build / "coverage/coverage.xml")], "COBERTURAXML")
    assert result.reports == ()
    assert result.problems == (
        "'../coverage/*.xml': report file globs cannot leave the base directory ('..')",
        f"'{build}/coverage/coverage.xml': report file globs are relative to the base directory",
    )


def test_a_symlinked_report_file_cannot_lead_outside(build, tmp_path):
    """A report file that is a symlink to a file outside the base directory is refused: its text
    would otherwise end up in the report (test names, failure messages)."""
    secret = tmp_path / "outside.xml"
    secret.write_text((build / "coverage" / "coverage.xml").read_text())
    (build / "reports" / "stolen.xml").symlink_to(secret)
    result = parse_group(build / "reports", ["*.xml"], "COBERTURAXML")
    assert all("stolen" not in r.file for r in result.reports)
    assert f"'*.xml': {build}/reports/stolen.xml is a symbolic link to outside the base directory {build}/reports" \
        in result.problems


def test_many_double_stars_match_in_linear_time(build):
    result = parse_group(build, ["**/" * 30 + "junit.xml"], "JUNITXML")
    assert result.total == parse_group(build, ["**/junit.xml"], "JUNITXML").total > 0


def test_cases_keep_failures_first_within_codebuilds_limit(build):
    result = parse_group(build, ["reports/**/junit.xml", "reports/TEST-*.xml"], "JUNITXML")
    kept = result.cases(limit=6)
    assert [c.status for c in kept] == [FAILED] * 5 + [ERROR]
    assert len(result.cases()) == 17


def test_a_missing_base_directory(tmp_path):
    result = parse_group(tmp_path / "build", ["**/*.xml"], "JUNITXML")
    assert result.problems == (f"{tmp_path}/build: the base directory does not exist",)
    assert result.status == "INCOMPLETE"


def test_an_unknown_format_is_a_user_error_not_a_problem(build):
    with pytest.raises(UserError, match="unknown report file-format 'XUNIT'"):
        parse_group(build, ["reports/**/*.xml"], "XUNIT")


def test_reports_are_test_reports_for_a_test_format(build):
    result = parse_group(build, ["reports/python/junit.xml"], "JUNITXML")
    assert all(isinstance(r, TestReport) for r in result.reports)
