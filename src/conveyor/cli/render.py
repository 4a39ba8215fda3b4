"""All CLI output goes through here: tables, the execution view, live progress lines."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from typing import Any, Iterable

from conveyor.reports.summary import one_line

STATUS_MARK = {"Succeeded": "✓", "Failed": "✗", "InProgress": "…", "Stopped": "■", "Stopping": "■",
               "Abandoned": "■", "Superseded": "↷", "Cancelled": "■", "Pending": "·", None: "·"}


def echo(text: str = "", err: bool = False) -> None:
    stream = sys.stderr if err else sys.stdout
    stream.write(text + "\n")
    stream.flush()


def as_json(data: Any) -> None:
    echo(json.dumps(data, indent=2, default=str))


def short(execution_id: str | None) -> str:
    return (execution_id or "")[:8]


def clock(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def table(rows: Iterable[Iterable[Any]], headers: list[str]) -> None:
    cells = [[("" if c is None else str(c)) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for r in cells:
        echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def commit_of(ex: dict) -> str:
    return (ex.get("commit") or "")[:7]


def history(rows: list[dict]) -> None:
    if not rows:
        echo("no executions yet — start one with `conveyor run`")
        return
    table(([short(r["id"]), r["seq"], r["pipeline"], r["status"], r["trigger"].get("type", ""), commit_of(r),
            clock(r["startedAt"]), duration(r["duration"]), detail(r)] for r in rows),
          ["EXECUTION", "#", "PIPELINE", "STATUS", "TRIGGER", "COMMIT", "STARTED", "DURATION", "DETAIL"])


def waiting(r: dict) -> str:
    if r.get("awaitingApproval"):
        return "awaiting approval: " + ", ".join(r["awaitingApproval"])
    if r.get("waitingFor") and r["status"] == "InProgress":
        return f"waiting to enter {r['waitingFor']}"
    return ""


def detail(r: dict) -> str:
    """One line on an execution for tables: why it ended, what it waits for, or who approved."""
    decisions = "; ".join(f"{a['decision'].lower()} by {a['by'] or '?'}"
                          + (f": {a['comment']}" if a.get("comment") else "")
                          for a in r.get("approvals") or [])
    return r.get("reason") or waiting(r) or decisions


def execution(ex: dict) -> None:
    echo(f"execution {ex['id']}  (#{ex['seq']} of {ex['pipeline']}, {ex['executionMode']})")
    echo(f"status    {STATUS_MARK.get(ex['status'], '')} {ex['status']}  {duration(ex['duration'])}"
         + (f"  — {ex['reason']}" if ex.get("reason") else ""))
    trig = ex["trigger"]
    echo(f"trigger   {trig.get('type')}" + (f" {trig.get('ref')}" if trig.get("ref") else "")
         + (f" by {trig['by']}" if trig.get("by") else ""))
    if trig.get("definition"):
        echo(f"defined   {trig['definition']['branch']}@{trig['definition']['commit'][:7]} (protected)")
    if trig.get("note"):
        echo(f"note      {trig['note']}")
    for name, rev in (ex.get("revisions") or {}).items():
        echo(f"source    {name}: {rev['repository']} {rev['branch']}@{rev['commit'][:7]}")
    now = waiting(ex)
    if now:
        echo(f"now       {now}")
    echo("")
    for stage in ex["stages"]:
        span = (duration(stage["endedAt"] - stage["startedAt"]) if stage.get("endedAt") and stage.get("startedAt")
                else "")
        echo(f"{STATUS_MARK.get(stage['status'], '·')} {stage['name']:<20} {stage['status'] or '-':<11} {span}")
        for a in stage["actions"]:
            took = duration(a["endedAt"] - a["startedAt"]) if a.get("endedAt") and a.get("startedAt") else ""
            attempt = f" (attempt {a['attempt']})" if a.get("attempt", 1) > 1 else ""
            echo(f"    {STATUS_MARK.get(a['status'], '·')} {a['name']:<18} {a['provider']:<9} "
                 f"{a['status'] or '-':<11} {took:<7}{attempt} {a.get('summary') or ''}".rstrip())
            if a.get("error"):
                echo(f"        error: {a['error']}")
            for report in a.get("reports") or []:
                echo(f"        report {one_line(report)}")
            approval = a.get("approval") or {}
            if approval.get("customData") and a["status"] == "InProgress":
                echo(f"        review: {approval['customData']}")
            if approval.get("externalEntityLink") and a["status"] == "InProgress":
                echo(f"        link:   {approval['externalEntityLink']}")
            if approval.get("decision"):
                echo(f"        {approval['decision'].lower()} by {approval.get('by') or '?'} at "
                     f"{clock(approval.get('decidedAt'))}"
                     + (f": {approval['comment']}" if approval.get("comment") else ""))
    if ex["status"] == "InProgress" and ex.get("awaitingApproval"):
        echo("")
        echo(f"approve:  conveyor approve {short(ex['id'])} --comment '...'")


class Progress:
    """Prints one line per change of stage/action status while an execution runs."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, ...], Any] = {}  # (stage, action) or ("execution",) -> last shown
        self.t0 = time.time()

    def update(self, ex: dict) -> None:
        if not self.seen:
            self.t0 = ex["startedAt"] or time.time()
            echo(f"execution {short(ex['id'])} of {ex['pipeline']} (commit {commit_of(ex)})")
        for stage in ex["stages"]:
            for a in stage["actions"]:
                key: tuple[str, ...] = (stage["name"], a["name"])
                state = (a["status"], a.get("attempt"))
                if a["status"] and self.seen.get(key) != state:
                    self.seen[key] = state
                    at = (a.get("endedAt") or a.get("startedAt") or time.time()) - self.t0
                    extra = a.get("error") or a.get("summary") or ""
                    if a["status"] == "InProgress" and a.get("approval", {}).get("customData"):
                        extra = "waiting for approval: " + a["approval"]["customData"]
                    echo(f"  {_mmss(at)}  {STATUS_MARK.get(a['status'], '')} {stage['name']:<16} {a['name']:<16} "
                         f"{a['status']:<11} {extra}".rstrip())
        key = ("execution",)
        if self.seen.get(key) != ex["status"] and ex["status"] != "InProgress":
            self.seen[key] = ex["status"]
            echo(f"execution {short(ex['id'])} {ex['status']} in {duration(ex['duration'])}"
                 + (f" — {ex['reason']}" if ex.get("reason") else ""))


def _mmss(seconds: float) -> str:
    seconds = max(0.0, seconds)
    return f"{int(seconds // 60):02d}:{seconds % 60:04.1f}"


def stage_timings(ex: dict) -> None:
    rows = []
    for stage in ex["stages"]:
        took = stage["endedAt"] - stage["startedAt"] if stage.get("endedAt") and stage.get("startedAt") else None
        rows.append([stage["name"], stage["status"] or "-", duration(took)])
    table(rows, ["STAGE", "STATUS", "TOOK"])


def reports(rows: list[dict]) -> None:
    if not rows:
        echo("no test or coverage reports in this execution (buildspec `reports:` produce them)")
        return
    for r in rows:
        echo(f"{r['stage']}.{r['action']} (attempt {r['attempt']}) — {r['format']} report {one_line(r)}")
        for case in r.get("cases") or []:
            if case["status"] in ("FAILED", "ERROR"):
                where = f" ({case['file']}:{case['line']})" if case.get("file") and case.get("line") else ""
                echo(f"  ✗ {case['prefix'] + '.' if case.get('prefix') else ''}{case['name']}{where}")
                if case.get("message"):
                    echo(f"      {case['message'].splitlines()[0][:200]}")
        for problem in r.get("problems") or []:
            echo(f"  ! {problem}")
