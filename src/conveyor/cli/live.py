"""Live views of long commands on a terminal (rich): `run --follow` and `retry --follow` as a table
of stages and actions redrawn in place, `deploy` as its phases, traffic split and task sets,
`setup` as its steps with a spinner on the one running.

Only the looks live here; the commands keep their loops and decide nothing from what is drawn.
Each view has a plain twin that prints exactly the lines the commands printed before (scripts and
tests read them), and which one a command gets is decided once, by `wanted()`:

- live only when standard output is a terminal, TERM is not `dumb`, and neither `--plain` nor
  CONVEYOR_PLAIN=1 asks for lines;
- NO_COLOR (any non-empty value) keeps the live view but drops colours (rich honours it).

    with execution_view(quiet=args.json) as view:
        view.update(execution_json)       # redraws (live) or prints the changes (plain)
        view.note("waiting for approval — …")
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol, TextIO

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from conveyor.cli import render
from conveyor.cli.render import STATUS_MARK, echo

STYLE = {"Succeeded": "green", "Failed": "bold red", "InProgress": "yellow", "Stopped": "magenta",
         "Stopping": "magenta", "Abandoned": "magenta", "Superseded": "dim", "Cancelled": "dim",
         "COMPLETED": "green", "FAILED": "bold red", "IN_PROGRESS": "yellow", "Created": "dim", "Queued": "dim",
         "Ready": "cyan", "Baking": "cyan", "Pending": "dim", "Skipped": "dim"}
REFRESH_PER_SECOND = 8
#: Set by `--plain` (cli/main.py) before a command runs.
PLAIN_ENV = "CONVEYOR_PLAIN"


def wanted(stream: TextIO | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether to draw live: a terminal that can take cursor movements, and nobody asked for lines."""
    env = os.environ if environ is None else environ
    if env.get(PLAIN_ENV, "") not in ("", "0") or env.get("TERM", "").lower() in ("dumb", "unknown"):
        return False
    out = stream or sys.stdout
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


def make_console(stream: TextIO | None = None) -> Console:
    return Console(file=stream or sys.stdout, highlight=False)


def styled(status: str | None, text: str | None = None) -> Text:
    shown = text if text is not None else (status or "-")
    return Text(shown, style=STYLE.get(status or "", ""))


# --- executions ---------------------------------------------------------------------------------

def execution_table(ex: Mapping[str, Any], now: float | None = None) -> Table:
    """Every stage's actions with their status, time and what they say, one row per action."""
    now = time.time() if now is None else now
    took = ex.get("duration")
    if took is None and ex.get("startedAt"):
        took = now - ex["startedAt"]
    head = f"execution {render.short(ex['id'])} of {ex['pipeline']} (commit {render.commit_of(dict(ex))})  "
    title = Text.assemble(head, styled(ex["status"]), f"  {render.duration(took)}")
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in ("STAGE", "ACTION", "PROVIDER", "STATUS", "TIME", "DETAIL"):
        table.add_column(name, no_wrap=name != "DETAIL", overflow="fold" if name == "DETAIL" else "ellipsis")
    for stage in ex.get("stages") or []:
        actions = stage.get("actions") or [{}]
        for i, a in enumerate(actions):
            status = a.get("status")
            spent = None
            if a.get("startedAt"):
                spent = (a.get("endedAt") or now) - a["startedAt"]
            attempt = f" (attempt {a['attempt']})" if (a.get("attempt") or 1) > 1 else ""
            detail = a.get("error") or a.get("summary") or ""
            if status == "InProgress" and (a.get("approval") or {}).get("customData"):
                detail = "waiting for approval: " + a["approval"]["customData"]
            table.add_row(Text(stage["name"] if i == 0 else "", style="bold"), a.get("name", ""),
                          a.get("provider", ""), styled(status, f"{STATUS_MARK.get(status, '·')} {status or '-'}"),
                          render.duration(spent) if spent is not None else "", (detail + attempt).strip())
    return table


class ExecutionView(Protocol):
    def update(self, ex: Mapping[str, Any]) -> None: ...
    def note(self, text: str) -> None: ...


class PlainExecution:
    """The lines `conveyor run --follow` has always printed (conveyor.cli.render.Progress)."""

    def __init__(self, quiet: bool = False):
        self.progress = render.Progress()
        self.quiet = quiet

    def update(self, ex: Mapping[str, Any]) -> None:
        if not self.quiet:
            self.progress.update(dict(ex))

    def note(self, text: str) -> None:
        if not self.quiet:
            echo(text)


class LiveExecution:
    """The table, redrawn in place; once it ends the last table stays, then the closing line."""

    def __init__(self, console: Console, clock: Callable[[], float] = time.time):
        self.console = console
        self.clock = clock
        self.live = Live(console=console, refresh_per_second=REFRESH_PER_SECOND, auto_refresh=False,
                         transient=False)
        self.last: Mapping[str, Any] | None = None
        self.notes: list[str] = []

    def __enter__(self) -> LiveExecution:
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()
        ex = self.last
        if ex is not None and ex["status"] != "InProgress":
            self.console.print(Text.assemble(f"execution {render.short(ex['id'])} ", styled(ex["status"]),
                                             f" in {render.duration(ex.get('duration'))}"
                                             + (f" — {ex['reason']}" if ex.get("reason") else "")))
        for text in self.notes:
            self.console.print(Text(text))

    def update(self, ex: Mapping[str, Any]) -> None:
        self.last = ex
        self.live.update(execution_table(ex, self.clock()), refresh=True)

    def note(self, text: str) -> None:
        self.notes.append(text)


@contextmanager
def execution_view(quiet: bool = False, console: Console | None = None) -> Iterator[ExecutionView]:
    """The live table on a terminal, else the plain lines (nothing at all when `quiet`: --json)."""
    if quiet or (console is None and not wanted()):
        yield PlainExecution(quiet)
        return
    with LiveExecution(console or make_console()) as view:
        yield view


# --- deployments --------------------------------------------------------------------------------

def traffic_split(d: Mapping[str, Any]) -> Table | None:
    """Blue and green target groups with their share of production traffic (blue/green only)."""
    if "traffic" not in d or d.get("traffic") is None:
        return None
    green = int(d["traffic"])
    table = Table.grid(padding=(0, 1))
    for role, tg, share, style in (("blue ", d.get("original_tg"), 100 - green, "blue"),
                                   ("green", d.get("replacement_tg"), green, "green")):
        table.add_row(Text(role, style=style), ProgressBar(total=100, completed=share, width=30,
                                                           complete_style=style, finished_style=style),
                      f"{share:>3}%", tg or "")
    return table


def deployment_panel(d: Mapping[str, Any], now: float | None = None) -> RenderableType:
    """A deployment as it goes: state, what it waits for, traffic, lifecycle phases, task sets."""
    now = time.time() if now is None else now
    created = d.get("createdAt") or d.get("created_at")
    took = d.get("duration")
    if took is None and created:
        took = now - created
    state = d.get("phase") or d.get("rolloutState") or ""
    parts: list[RenderableType] = [
        Text.assemble(f"deployment {d['id']}  {d['environment']}/{d['service']} → {d['taskDefinition']}  ",
                      styled(d.get("status")), f"  {state}  {render.duration(took)}")]
    if d.get("waitingFor") and not d.get("done"):
        parts.append(Text(f"waiting for: {d['waitingFor']}", style="cyan"))
    split = traffic_split(d)
    if split is not None:
        parts.append(split)
    events = d.get("lifecycleEvents") or []
    if events:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for name in ("PHASE", "STATUS", "TIME", "HOOK"):
            table.add_column(name, no_wrap=name != "HOOK")
        for e in events:
            start, end = e.get("startTime"), e.get("endTime")
            spent = ((end or now) - start) if start else None
            hook = f"{e['hook']} (attempt {e.get('attempts', 1)})" if e.get("hook") else ""
            table.add_row(e["lifecycleEventName"], styled(e["status"]),
                          render.duration(spent) if spent is not None else "",
                          hook + (f" — {e['message']}" if e.get("message") else ""))
        parts.append(table)
    for role, ts in (d.get("taskSets") or {}).items():
        if "desired" in ts:
            parts.append(Text(f"{role} task set {ts['id']} {ts['status']} {ts['taskDefinition']} in "
                              f"{ts['targetGroup']}: {ts['healthy']}/{ts['desired']} healthy"))
    if "runningCount" in d and "traffic" not in d:
        parts.append(Text(f"tasks: {d['runningCount']} running, {d.get('pendingCount', 0)} pending"
                          + (f", {d['failedTasks']} failed" if d.get("failedTasks") else "")))
    return Group(*parts)


class DeploymentView(Protocol):
    def update(self, d: Mapping[str, Any]) -> None: ...


class PlainDeployment:
    """The lines `conveyor deploy` has always printed: each new thing it waits for, once."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.last = ""

    def update(self, d: Mapping[str, Any]) -> None:
        text = d.get("waitingFor") or ""
        if not self.quiet and text and text != self.last and not d["done"]:
            echo(f"  {text}" + (f" (production traffic on green: {d['traffic']}%)" if d.get("traffic") else ""))
            self.last = text


class LiveDeployment:
    def __init__(self, console: Console, clock: Callable[[], float] = time.time):
        self.console = console
        self.clock = clock
        self.live = Live(console=console, refresh_per_second=REFRESH_PER_SECOND, auto_refresh=False)

    def __enter__(self) -> LiveDeployment:
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()

    def update(self, d: Mapping[str, Any]) -> None:
        self.live.update(deployment_panel(d, self.clock()), refresh=True)


@contextmanager
def deployment_view(quiet: bool = False, console: Console | None = None) -> Iterator[DeploymentView]:
    if quiet or (console is None and not wanted()):
        yield PlainDeployment(quiet)
        return
    with LiveDeployment(console or make_console()) as view:
        yield view


# --- setup --------------------------------------------------------------------------------------

class LiveSetup:
    """`conveyor setup`'s lines, coloured, with a spinner and the time spent on the step that is
    running (a line starting with →) until the next line says how it went."""

    def __init__(self, console: Console, clock: Callable[[], float] = time.monotonic):
        self.console = console
        self.clock = clock
        self.done = 0
        self.status: Any = None
        self.started = 0.0

    def __call__(self, line: str) -> None:
        self._stop()
        mark = line[:1]
        style = {"✓": "green", "✗": "bold red", "→": "cyan", "$": "dim"}.get(mark, "")
        self.console.print(Text(line, style=style), soft_wrap=True)  # a fix command stays one line to copy
        if mark == "✓":
            self.done += 1
        if mark == "→":
            self.started = self.clock()
            self.status = self.console.status(Text(line[1:].strip(), style="cyan"), spinner="dots")
            self.status.start()

    def _stop(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None
            self.console.print(Text(f"  ({self.clock() - self.started:.0f} s)", style="dim"))

    def close(self) -> None:
        self._stop()


@contextmanager
def setup_echo(console: Console | None = None) -> Iterator[Callable[[str], None]]:
    """The `echo` conveyor.stack.setup.run_setup prints with: live on a terminal, else as before."""
    if console is None and not wanted():
        yield echo
        return
    view = LiveSetup(console or make_console())
    try:
        yield view
    finally:
        view.close()
