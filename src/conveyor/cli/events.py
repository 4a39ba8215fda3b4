"""`conveyor events [--after N] [--follow] [--json] [--type T ...] [--pipeline P] [--environment E]
[--service S] [--limit N]`: the event stream, read from the daemon (GET /api/v1/events).

Without --after it shows the newest --limit events (20); with --after N, every event after N (up
to --limit). --follow then keeps waiting for new ones (a long poll of the API) until Ctrl-C.
--json prints one JSON object per line, for `jq` and scripts; its `seq` is what --after takes.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any
from urllib.parse import urlencode

from conveyor.cli import render
from conveyor.cli.client import Client
from conveyor.cli.render import echo

TAIL = 20
PAGE = 500
#: Seconds one long poll may wait (the API's maximum).
WAIT = 30


def events(args) -> int:
    client = Client.connect()
    filters = {k: v for k, v in (("type", ",".join(args.type or ())), ("pipeline", args.pipeline),
                                 ("environment", args.environment), ("service", args.service)) if v}
    show = _json_line if args.json else _line
    if args.after is None:
        answer = client.get("/api/v1/events?" + urlencode({**filters, "tail": args.limit or TAIL}))
        for event in answer["events"]:
            show(event)
        cursor = int(answer["last"])
    else:
        cursor = _page(client, filters, int(args.after), args.limit, show)
    if not args.follow:
        return 0
    try:
        while True:
            answer = client.get("/api/v1/events?" + urlencode({**filters, "after": cursor, "limit": PAGE,
                                                               "wait": WAIT}))
            for event in answer["events"]:
                show(event)
            if not answer["events"] and int(answer["last"]) == cursor:
                time.sleep(0.5)  # the daemon answered without waiting (too many followers): do not spin
            cursor = int(answer["last"])
    except KeyboardInterrupt:
        return 0


def _page(client: Client, filters: dict, after: int, limit: int | None, show) -> int:
    """Every event after `after` (at most `limit`), a page at a time; the cursor after them."""
    shown = 0
    while True:
        size = min(PAGE, limit - shown) if limit else PAGE
        answer = client.get("/api/v1/events?" + urlencode({**filters, "after": after, "limit": size}))
        for event in answer["events"]:
            show(event)
        shown += len(answer["events"])
        after = int(answer["last"])
        if len(answer["events"]) < size or (limit and shown >= limit):
            return after


def subject_text(subject: dict[str, Any]) -> str:
    """orders/Deploy.Web for a pipeline's, prod/web for a service's."""
    if subject.get("pipeline"):
        where = ".".join(p for p in (subject.get("stage"), subject.get("action")) if p)
        return subject["pipeline"] + (f"/{where}" if where else "")
    return "/".join(p for p in (subject.get("environment"), subject.get("service")) if p) or "-"


def _line(event: dict[str, Any]) -> None:
    echo(f"{render.clock(event['at'])}  {event['severity']:<7}  {event['type']:<29}  "
         f"{subject_text(event['subject']):<24}  {event.get('summary') or ''}")


def _json_line(event: dict[str, Any]) -> None:
    echo(json.dumps(event, default=str, separators=(",", ":")))


def add_command(cmd) -> None:
    sp = cmd("events", events, "the event stream: what pipelines and deployments did (--follow for new ones)")
    sp.add_argument("--after", type=int, default=None, metavar="SEQ",
                    help="events after this sequence number (default: the newest --limit)")
    sp.add_argument("--follow", "-f", action="store_true", help="keep waiting for new events until Ctrl-C")
    sp.add_argument("--type", action="append", default=[], metavar="TYPE",
                    help="only this event type (repeatable), e.g. pipeline-execution-failed")
    sp.add_argument("--pipeline", default=None)
    sp.add_argument("--environment", default=None)
    sp.add_argument("--service", default=None)
    sp.add_argument("--limit", type=_positive, default=None, metavar="N",
                    help=f"at most N events (default: the newest {TAIL}, or all after --after)")
    sp.add_argument("--json", action="store_true", help="one JSON object per line")


def _positive(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError("must be between 1 and 1000")
    return value
