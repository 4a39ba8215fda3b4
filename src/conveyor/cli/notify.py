"""`conveyor notify ls | test RULE | deliveries [--failed] | redeliver ID`: the notification rules
the daemon runs and what became of each delivery (GET/POST /api/v1/notifications/...).

`test` sends a synthetic event of the rule to each of its targets now and exits 1 if any target
refused it; `redeliver` sends a delivery again (dead or not) with a fresh retry budget, under the
same delivery id, so a receiver that already has it can drop it.
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import quote, urlencode

from conveyor.cli import render
from conveyor.cli.client import Client
from conveyor.cli.commands import who
from conveyor.cli.render import echo

BASE = "/api/v1/notifications"


def add_command(cmd) -> None:
    sp = cmd("notify", notify, "notification rules and their deliveries: ls | test RULE | deliveries | redeliver ID")
    sub = sp.add_subparsers(dest="notify_command", metavar="ls|test|deliveries|redeliver",
                            parser_class=type(sp), required=True)
    ns = sub.add_parser("ls", help="every pipeline's rules: events, filters, targets")
    ns.add_argument("--json", action="store_true")
    ns = sub.add_parser("test", help="send a test event of RULE to its targets now and show what each said")
    ns.add_argument("rule", metavar="RULE", help="a rule name, or PIPELINE/RULE when several pipelines have it")
    ns.add_argument("--json", action="store_true")
    ns = sub.add_parser("deliveries", help="recent deliveries, newest first")
    ns.add_argument("--failed", action="store_true", help="only dead ones and pending ones that have failed")
    ns.add_argument("--limit", type=_positive, default=50, metavar="N")
    ns.add_argument("--json", action="store_true")
    ns = sub.add_parser("redeliver", help="send a delivery again now (a fresh retry budget, the same id)")
    ns.add_argument("id", metavar="ID", help="a delivery id, or a unique prefix of at least 6 characters")
    ns.add_argument("--json", action="store_true")


def notify(args) -> int:
    client = Client.connect()
    if args.notify_command == "ls":
        return _ls(client.get(BASE + "/rules"), args.json)
    if args.notify_command == "test":
        answer = client.post(f"{BASE}/rules/{quote(args.rule, safe='')}/test", {"by": who()})
        return _test(answer, args.json)
    if args.notify_command == "deliveries":
        query = urlencode({"failed": "true" if args.failed else "false", "limit": args.limit})
        return _deliveries(client.get(f"{BASE}/deliveries?{query}"), args.json, args.failed)
    answer = client.post(f"{BASE}/deliveries/{quote(args.id, safe='')}/redeliver", {"by": who()})
    if args.json:
        render.as_json(answer)
    else:
        echo(f"delivery {answer['id']} will be sent again now (rule {answer['rule']}, {answer['target']}); "
             f"`conveyor notify deliveries` shows how it went")
    return 0


def _ls(rules: list[dict[str, Any]], as_json: bool) -> int:
    if as_json:
        render.as_json(rules)
    elif not rules:
        echo("no notification rules — add `notifications:` to conveyor.yml on the protected branch")
    else:
        render.table(([f"{r['pipeline']}/{r['name']}", ",".join(r["events"]), _filters(r),
                       "; ".join(t["describe"] for t in r["targets"]) or (f"(aws: {r['target']})" if r["target"]
                                                                           else "(none)")]
                      for r in rules), ["RULE", "EVENTS", "FILTERS", "TARGETS"])
    return 0


def _filters(rule: dict[str, Any]) -> str:
    parts = [f"{k}={','.join(rule[k])}" for k in ("environments", "services", "stages") if rule.get(k) is not None]
    if rule.get("severity"):
        parts.append(f"severity>={rule['severity']}")
    parts.append(rule["detailType"])
    return " ".join(parts)


def _test(answer: dict[str, Any], as_json: bool) -> int:
    failed = [r for r in answer["results"] if not r["ok"]]
    if as_json:
        render.as_json(answer)
    else:
        echo(f"rule {answer['pipeline']}/{answer['rule']}: sent a test {answer['event']['type']} event")
        for r in answer["results"]:
            if r["ok"]:
                echo(f"  targets[{r['target']}] {r['kind']}: ok ({r['receipt']})")
            else:
                again = "; would be retried" if r.get("retryable") else "; would be dead-lettered"
                echo(f"  targets[{r['target']}] {r['kind']}: FAILED: {r['error']}{again}")
    return 1 if failed else 0


def _deliveries(rows: list[dict[str, Any]], as_json: bool, failed: bool) -> int:
    if as_json:
        render.as_json(rows)
    elif not rows:
        echo("no failed deliveries" if failed else "no deliveries yet")
    else:
        render.table(([r["id"], r["status"], r["attempts"], f"{r['pipeline']}/{r['rule']}", r["eventType"],
                       r["target"], render.clock(r["updatedAt"]), _last(r)] for r in rows),
                     ["ID", "STATUS", "ATTEMPTS", "RULE", "EVENT", "TARGET", "UPDATED", "RESULT"])
    return 0


def _last(row: dict[str, Any]) -> str:
    if row["status"] == "delivered":
        return row.get("receipt") or ""
    text = row.get("lastError") or ""
    if row["status"] == "pending" and row.get("nextAttemptAt"):
        text = f"{text} (next try {render.clock(row['nextAttemptAt'])})".strip()
    return text[:100]


def _positive(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError("must be between 1 and 1000")
    return value
