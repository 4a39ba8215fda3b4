"""What a CodeBuild report file says, as data: a TestReport of TestCases or a CoverageReport of
FileCoverage rows, and MalformedReport for a file that cannot be read as its declared format.

    report = parse_report("build/junit.xml", "JUNITXML")      # conveyor.reports
    report.total, report.failed, report.status                 # 6, 2, 'FAILED'
    [c.name for c in report.cases if c.status == FAILED]

The vocabulary is CodeBuild's (API TestCase, TestReportSummary, CodeCoverageReportSummary):
test case statuses SUCCEEDED, FAILED, ERROR, SKIPPED, UNKNOWN; a test report is FAILED when some
test case was not successful (a FAILED or an ERROR one; skipped and unknown cases do not fail it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conveyor.documents.limits import Limits
from conveyor.errors import UserError

TEST_FORMATS = ("JUNITXML", "CUCUMBERJSON", "TESTNGXML", "VISUALSTUDIOTRX", "NUNITXML", "NUNIT3XML")
COVERAGE_FORMATS = ("CLOVERXML", "COBERTURAXML", "JACOCOXML", "SIMPLECOV")

# Test case statuses (CodeBuild "Test report statuses"; API TestCase.status).
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
ERROR = "ERROR"  # an unexpected error, as opposed to a failed assertion
SKIPPED = "SKIPPED"
UNKNOWN = "UNKNOWN"  # any other status the runner reported (pending, inconclusive…)
TEST_CASE_STATUSES = (SUCCEEDED, FAILED, ERROR, SKIPPED, UNKNOWN)

# A test case's message, trace and captured output are cut to this many characters, so that one
# runaway log in a report cannot make the report itself enormous.
MAX_TEXT_CHARS = 64 * 1024
#: Report files are written by test tools and can be large (a JUnit file of a big suite, with its
#: captured output, runs to megabytes), so the byte cap is higher than a configuration file's; the
#: nesting and number caps are the same.
REPORT_LIMITS = Limits(max_bytes=64 * 1024 * 1024)
#: Elements inside one another in a report's XML (JUnit nests suites, a few levels in practice).
MAX_XML_DEPTH = 256


class MalformedReport(UserError):
    """A report file that cannot be read as its declared file-format.

    >>> str(MalformedReport("reports/junit.xml", "mismatched tag", line=12))
    'reports/junit.xml:12: mismatched tag'
    """

    def __init__(self, file: str, reason: str, line: int | None = None, hint: str | None = None):
        self.file = str(file)
        self.reason = reason
        self.line = line
        where = f"{self.file}:{line}" if line else self.file
        super().__init__(f"{where}: {reason}", hint)


def clip(text: str | None) -> str | None:
    """Text stripped of surrounding blank space, None when empty, cut at MAX_TEXT_CHARS."""
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    if len(text) > MAX_TEXT_CHARS:
        return text[:MAX_TEXT_CHARS] + f"\n… ({len(text) - MAX_TEXT_CHARS} more characters)"
    return text


def first_line(text: str | None) -> str | None:
    text = clip(text)
    return text.splitlines()[0].strip() if text else None


@dataclass(frozen=True)
class TestCase:
    """One test as CodeBuild shows it: `prefix` is the class (or feature file) it belongs to,
    `suite` the suite around it; `file`/`line` where it failed when the runner says, else where
    it is declared."""

    __test__ = False  # not a pytest test class

    name: str
    status: str
    suite: str | None = None
    prefix: str | None = None
    duration_seconds: float | None = None
    message: str | None = None
    details: str | None = None  # the stack trace or full failure text
    output: str | None = None  # captured standard output / error
    file: str | None = None
    line: int | None = None

    @property
    def duration_ns(self) -> int | None:
        """CodeBuild's durationInNanoSeconds."""
        return None if self.duration_seconds is None else round(self.duration_seconds * 1e9)


@dataclass(frozen=True)
class TestReport:
    __test__ = False

    format: str
    file: str
    cases: tuple[TestCase, ...] = ()
    duration_seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for case in self.cases if case.status == status)

    @property
    def total(self) -> int:
        return len(self.cases)

    @property
    def passed(self) -> int:
        return self.count(SUCCEEDED)

    @property
    def failed(self) -> int:
        return self.count(FAILED)

    @property
    def errors(self) -> int:
        return self.count(ERROR)

    @property
    def skipped(self) -> int:
        return self.count(SKIPPED)

    @property
    def unknown(self) -> int:
        return self.count(UNKNOWN)

    @property
    def status_counts(self) -> dict[str, int]:
        """CodeBuild's TestReportSummary.statusCounts: every status, zeros included."""
        return {status: self.count(status) for status in TEST_CASE_STATUSES}

    @property
    def status(self) -> str:
        """SUCCEEDED when no test case failed or errored, else FAILED."""
        return FAILED if self.failed or self.errors else SUCCEEDED


def percent(covered: int, missed: int) -> float | None:
    """Covered as a percentage of all, rounded to 2 places; None when there is nothing to cover."""
    total = covered + missed
    return round(100.0 * covered / total, 2) if total else None


@dataclass(frozen=True)
class FileCoverage:
    path: str
    lines_covered: int = 0
    lines_missed: int = 0
    branches_covered: int = 0
    branches_missed: int = 0

    @property
    def line_coverage_percent(self) -> float | None:
        return percent(self.lines_covered, self.lines_missed)

    @property
    def branch_coverage_percent(self) -> float | None:
        return percent(self.branches_covered, self.branches_missed)


@dataclass(frozen=True)
class CoverageReport:
    """CodeBuild's CodeCoverageReportSummary plus one row per source file. Percentages are None
    when the file measures no lines (or no branches) at all."""

    format: str
    file: str
    lines_covered: int = 0
    lines_missed: int = 0
    branches_covered: int = 0
    branches_missed: int = 0
    files: tuple[FileCoverage, ...] = field(default=())

    @property
    def line_coverage_percent(self) -> float | None:
        return percent(self.lines_covered, self.lines_missed)

    @property
    def branch_coverage_percent(self) -> float | None:
        return percent(self.branches_covered, self.branches_missed)


def summed(format: str, file: str, files: list[FileCoverage]) -> CoverageReport:
    """A coverage report whose totals are the sums of its files' rows."""
    return CoverageReport(
        format, file,
        lines_covered=sum(f.lines_covered for f in files),
        lines_missed=sum(f.lines_missed for f in files),
        branches_covered=sum(f.branches_covered for f in files),
        branches_missed=sum(f.branches_missed for f in files),
        files=tuple(files),
    )
