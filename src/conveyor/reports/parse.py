"""One entry point for one report file: `parse_report(path, file_format)`.

    report = parse_report("build/junit.xml", "junitxml")       # file-format is case-insensitive
    report = parse_report("coverage.xml", "COBERTURAXML")       # → CoverageReport

Whatever is wrong with the file — missing, unreadable, empty, not well-formed, not the declared
format, numbers that are not numbers — comes out as MalformedReport saying which file, what, and
where when known. Nothing else escapes for a bad file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conveyor.errors import UserError
from conveyor.reports.coverage_formats import parse_clover, parse_cobertura, parse_jacoco
from conveyor.reports.cucumber import parse_cucumber
from conveyor.reports.junit import parse_junit
from conveyor.reports.model import COVERAGE_FORMATS, TEST_FORMATS, CoverageReport, MalformedReport, TestReport
from conveyor.reports.nunit import parse_nunit2, parse_nunit3
from conveyor.reports.simplecov import parse_simplecov
from conveyor.reports.testng import parse_testng
from conveyor.reports.trx import parse_trx

Parser = Callable[[Path, str], "TestReport | CoverageReport"]

PARSERS: dict[str, Parser] = {
    "JUNITXML": parse_junit,
    "CUCUMBERJSON": parse_cucumber,
    "TESTNGXML": parse_testng,
    "VISUALSTUDIOTRX": parse_trx,
    "NUNITXML": parse_nunit2,
    "NUNIT3XML": parse_nunit3,
    "CLOVERXML": parse_clover,
    "COBERTURAXML": parse_cobertura,
    "JACOCOXML": parse_jacoco,
    "SIMPLECOV": parse_simplecov,
}


def normalize_format(file_format: str) -> str:
    """The upper-case format name, or UserError listing the formats there are."""
    name = (file_format or "").strip().upper()
    if name not in PARSERS:
        raise UserError(f"unknown report file-format {file_format!r}",
                        hint=f"use one of {', '.join(TEST_FORMATS + COVERAGE_FORMATS)}")
    return name


def parse_report(path: str | Path, file_format: str, label: str | None = None) -> TestReport | CoverageReport:
    """The report in `path`, read as `file_format`; `label` is how messages and the report name
    the file (default: the path as given)."""
    fmt = normalize_format(file_format)
    label = label or str(path)
    hint = f"the report group's file-format is {fmt}; check that the file is written in that format"
    file = Path(path)
    try:
        if not file.exists():
            raise MalformedReport(label, "no such file")
        if file.is_dir():
            raise MalformedReport(label, "is a directory, not a report file")
        return PARSERS[fmt](file, label)
    except MalformedReport as exc:
        if exc.hint is None:
            exc.hint = hint
        raise
    except OSError as exc:
        raise MalformedReport(label, f"cannot be read: {exc.strerror or exc}", hint=hint) from exc
    except (RecursionError, ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        # A shape no parser anticipated: still the file's problem, reported as such.
        raise MalformedReport(label, f"unexpected content ({type(exc).__name__}: {exc})", hint=hint) from exc
