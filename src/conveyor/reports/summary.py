"""Report groups as JSON: the summary stored with an action and the details `conveyor report`
shows. One shape for the runner, the API and the CLI."""

from __future__ import annotations

from typing import Any

from conveyor.reports.group import ReportGroupResult


def summary(name: str, group: ReportGroupResult) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "type": group.type, "format": group.format, "status": group.status,
                           "files": [r.file for r in group.reports], "problems": list(group.problems)}
    if group.type == "TEST":
        out.update(total=group.total, passed=group.passed, failed=group.failed, errors=group.errors,
                   skipped=group.skipped, unknown=group.unknown, durationSeconds=group.duration_seconds)
    else:
        out.update(lineCoveragePercent=group.line_coverage_percent, linesCovered=group.lines_covered,
                   linesMissed=group.lines_missed, branchCoveragePercent=group.branch_coverage_percent,
                   branchesCovered=group.branches_covered, branchesMissed=group.branches_missed)
    return out


def details(name: str, group: ReportGroupResult) -> dict[str, Any]:
    out = summary(name, group)
    if group.type == "TEST":
        out["cases"] = [{"name": c.name, "prefix": c.prefix, "status": c.status,
                         "durationSeconds": c.duration_seconds, "message": c.message,
                         "file": c.file, "line": c.line} for c in group.cases()]
    else:
        out["coverageFiles"] = [{"path": f.path, "linesCovered": f.lines_covered, "linesMissed": f.lines_missed,
                                 "lineCoveragePercent": f.line_coverage_percent}
                                for r in group.reports for f in getattr(r, "files", ())]
    return out


def one_line(s: dict[str, Any]) -> str:
    if s["type"] == "TEST":
        text = (f"{s['name']}: {s['status']} — {s['total']} tests, {s['passed']} passed, {s['failed']} failed"
                + (f", {s['errors']} errors" if s["errors"] else "")
                + (f", {s['skipped']} skipped" if s["skipped"] else ""))
    else:
        pct = s["lineCoveragePercent"]
        text = f"{s['name']}: line coverage {pct:.1f}%" if pct is not None else f"{s['name']}: no lines measured"
    if s["problems"]:
        text += f" ({len(s['problems'])} problem(s): {s['problems'][0]})"
    return text
