"""A buildspec report group read from disk: its `files` globs under its base directory, each
matching file parsed as the group's `file-format`, into one result that keeps the good reports
and lists every problem (a glob matching nothing, a malformed file) without stopping.

    result = parse_group("build", ["reports/**/*.xml"], "JUNITXML")
    result.total, result.failed, result.status      # summed over every file read
    result.problems                                  # ['reports/broken.xml:3: not well-formed XML: …']

CodeBuild makes one report per group per build from all its files; its status is FAILED when a
test case failed or errored, INCOMPLETE when no file could be read, else SUCCEEDED.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from conveyor.glob_engine import GlobError, parse
from conveyor.paths import is_inside, path_problem
from conveyor.reports.model import (
    ERROR,
    FAILED,
    SKIPPED,
    SUCCEEDED,
    TEST_CASE_STATUSES,
    TEST_FORMATS,
    UNKNOWN,
    CoverageReport,
    MalformedReport,
    TestCase,
    TestReport,
    percent,
)
from conveyor.reports.parse import normalize_format, parse_report

INCOMPLETE = "INCOMPLETE"
# "A test report can have a maximum of 500 test case results … CodeBuild prioritizes tests with the
# status FAILED and truncates the test case results." (CodeBuild User Guide, Test report statuses)
MAX_REPORT_TEST_CASES = 500


@dataclass(frozen=True)
class ReportGroupResult:
    format: str
    reports: tuple[TestReport | CoverageReport, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def type(self) -> str:
        """CodeBuild's ReportType."""
        return "TEST" if self.format in TEST_FORMATS else "CODE_COVERAGE"

    def _tests(self) -> list[TestReport]:
        return [r for r in self.reports if isinstance(r, TestReport)]

    def _coverage(self) -> list[CoverageReport]:
        return [r for r in self.reports if isinstance(r, CoverageReport)]

    @property
    def status_counts(self) -> dict[str, int]:
        return {s: sum(r.count(s) for r in self._tests()) for s in TEST_CASE_STATUSES}

    @property
    def total(self) -> int:
        return sum(r.total for r in self._tests())

    @property
    def passed(self) -> int:
        return self.status_counts[SUCCEEDED]

    @property
    def failed(self) -> int:
        return self.status_counts[FAILED]

    @property
    def errors(self) -> int:
        return self.status_counts[ERROR]

    @property
    def skipped(self) -> int:
        return self.status_counts[SKIPPED]

    @property
    def unknown(self) -> int:
        return self.status_counts[UNKNOWN]

    @property
    def duration_seconds(self) -> float:
        return round(sum(r.duration_seconds for r in self._tests()), 6)

    @property
    def lines_covered(self) -> int:
        return sum(r.lines_covered for r in self._coverage())

    @property
    def lines_missed(self) -> int:
        return sum(r.lines_missed for r in self._coverage())

    @property
    def branches_covered(self) -> int:
        return sum(r.branches_covered for r in self._coverage())

    @property
    def branches_missed(self) -> int:
        return sum(r.branches_missed for r in self._coverage())

    @property
    def line_coverage_percent(self) -> float | None:
        return percent(self.lines_covered, self.lines_missed)

    @property
    def branch_coverage_percent(self) -> float | None:
        return percent(self.branches_covered, self.branches_missed)

    @property
    def status(self) -> str:
        if not self.reports:
            return INCOMPLETE
        if self.type == "TEST" and (self.failed or self.errors):
            return FAILED
        return SUCCEEDED

    def cases(self, limit: int = MAX_REPORT_TEST_CASES) -> list[TestCase]:
        """The test cases CodeBuild would keep: failed ones first, at most `limit`."""
        every = [case for report in self._tests() for case in report.cases]
        rank = {FAILED: 0, ERROR: 1}
        return sorted(every, key=lambda c: rank.get(c.status, 2))[:limit]


def find_files(base_dir: str | Path, files_globs: list[str],
               root: str | Path | None = None) -> tuple[list[Path], list[str]]:
    """The files the globs match under base_dir, sorted, each once; and a problem per glob that
    matches nothing, is absolute, goes up with `..`, or matches a symlink whose target is outside
    `root` (default: base_dir). Globs are the buildspec language (conveyor.build.artifacts, linear
    time); directories are walked without following symlinks."""

    base = Path(base_dir)
    if not base.is_dir():
        return [], [f"{base}: the base directory does not exist"]
    fence = Path(root) if root is not None else base
    listing = sorted(_walk(base))
    found: dict[Path, None] = {}
    problems = []
    for pattern in files_globs:
        if not pattern or Path(pattern).is_absolute():
            problems.append(f"{pattern!r}: report file globs are relative to the base directory")
            continue
        if path_problem(pattern):
            problems.append(f"{pattern!r}: report file globs cannot leave the base directory ('..')")
            continue
        try:
            glob = parse(pattern.removeprefix("./"), zero_dirs=True)
        except GlobError as exc:
            problems.append(f"{pattern!r}: not a usable glob ({exc.problem} at position {exc.position})")
            continue
        matched, refused = False, False
        for rel in listing:
            if not glob.fullmatch(rel):
                continue
            path = base / rel
            if not is_inside(fence, path):
                problems.append(f"{pattern!r}: {path} is a symbolic link to outside the base directory {fence}")
                refused = True
                continue
            if not path.is_file():
                continue
            matched = True
            found.setdefault(path, None)
        if not matched and not refused:
            problems.append(f"{pattern!r}: no files match under {base}")
    return list(found), problems


def _walk(base: Path) -> list[str]:
    """Every non-directory under `base`, relative and `/`-separated (symlinked dirs not entered)."""
    out = []
    for dirpath, _dirs, names in os.walk(base):
        for name in names:
            out.append(Path(os.path.relpath(os.path.join(dirpath, name), base)).as_posix())
    return out


def parse_group(base_dir: str | Path, files_globs: list[str], file_format: str,
                root: str | Path | None = None) -> ReportGroupResult:
    """Every file the globs match, parsed; malformed ones become problems, never exceptions.
    `root`: what symlinked report files must stay inside (default: base_dir)."""
    fmt = normalize_format(file_format)
    files, problems = find_files(base_dir, files_globs, root)
    fence = Path(root) if root is not None else Path(base_dir)
    reports = []
    for path in files:
        label = path.relative_to(base_dir).as_posix()
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            problems.append(f"{label}: cannot be read: {exc.strerror}")
            continue
        try:
            # the file actually opened must still be inside: the build may swap a file for a
            # symlink between the listing and now; /proc/self/fd/N reopens that same file
            if not is_inside(fence, Path(os.readlink(f"/proc/self/fd/{fd}"))):
                problems.append(f"{label}: is a symbolic link to outside the base directory {fence}")
                continue
            reports.append(parse_report(f"/proc/self/fd/{fd}", fmt, label=label))
        except MalformedReport as exc:
            problems.append(str(exc))
        finally:
            os.close(fd)
    return ReportGroupResult(fmt, tuple(reports), tuple(problems))
