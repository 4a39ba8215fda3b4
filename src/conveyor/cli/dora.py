"""`conveyor dora [--pipeline P] [--service S] [--environment E] [--days N] [--json]`: the DORA
metrics the daemon computes from its history (GET /api/v1/dora; definitions in docs/dora.md).

One row for all production deployments matching the filters, then one per pipeline and one per
service. On a terminal the table is drawn with rich; otherwise (a pipe, a file) it is plain
aligned text, one row a line. --json prints the API's answer as is.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any
from urllib.parse import urlencode

from conveyor.cli import render
from conveyor.cli.client import Client

MAX_DAYS = 365
HEADERS = ["scope", "deploys/day", "deploys/week", "lead p50", "lead p90", "failure rate", "restore p50", "band"]


def days_arg(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--days takes a whole number of days, not {value!r}") from None
    if not 1 <= days <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"--days must be 1-{MAX_DAYS}, not {days}")
    return days


def add_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--pipeline", default=None, help="only deployments this pipeline made")
    sp.add_argument("--service", default=None, help="only this service")
    sp.add_argument("--environment", default=None,
                    help="count this environment (default: the production ones, see docs/dora.md)")
    sp.add_argument("--days", type=days_arg, default=30, help="the window, 1-365 days back from now (default 30)")
    sp.add_argument("--json", action="store_true", help="the API's answer as JSON")


def dora(args: argparse.Namespace) -> int:
    query = {k: v for k, v in (("pipeline", args.pipeline), ("service", args.service),
                               ("environment", args.environment)) if v}
    report = Client.connect().get("/api/v1/dora?" + urlencode({**query, "days": args.days}))
    if args.json:
        render.as_json(report)
        return 0
    rows = table_rows(report)
    title = f"DORA metrics, last {report['window']['days']} days"
    if sys.stdout.isatty():
        _rich(title, rows)
    else:
        render.echo(title)
        render.table(rows, HEADERS)
    if not report["summary"]["deployments"]["finished"] and not report["summary"]["deployments"]["succeeded"]:
        render.echo("no production deployment finished in the window "
                    "(production: environments named production or prod, or `production: true`)")
    return 0


def table_rows(report: dict[str, Any]) -> list[list[str]]:
    rows = [_row("all", report["summary"])]
    rows += [_row(f"pipeline {g['pipeline']}", g["metrics"]) for g in report["pipelines"]]
    rows += [_row(f"service {g['environment']}/{g['service']}", g["metrics"]) for g in report["services"]]
    return rows


def _row(scope: str, m: dict[str, Any]) -> list[str]:
    freq, lead, cfr, ttr = (m["deploymentFrequency"], m["leadTime"], m["changeFailureRate"], m["timeToRestore"])
    rate = "-" if cfr["rate"] is None else f"{cfr['rate'] * 100:.0f}% ({cfr['failures']}/{cfr['deployments']})"
    restore = render.duration(ttr["medianSeconds"])
    if ttr["unrestored"]:
        restore += f" ({ttr['unrestored']} open)"
    return [scope, f"{freq['perDay']:.2f}", f"{freq['perWeek']:.1f}", render.duration(lead["medianSeconds"]),
            render.duration(lead["p90Seconds"]), rate, restore, m["band"]["overall"] or "-"]


def _rich(title: str, rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for i, header in enumerate(HEADERS):
        table.add_column(header, justify="right" if 0 < i < len(HEADERS) - 1 else "left")
    for row in rows:
        table.add_row(*row)
    Console().print(table)
