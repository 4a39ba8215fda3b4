"""`conveyor secret set NAME | ls | rm NAME`. The value comes from standard input only, so it
never lands in shell history or in the process list."""

from __future__ import annotations

import getpass
import sys
from urllib.parse import quote

from conveyor.cli import render
from conveyor.cli.client import Client
from conveyor.cli.commands import who
from conveyor.cli.render import echo
from conveyor.errors import UserError


def read_value() -> str:
    if sys.stdin.isatty():
        value = getpass.getpass("value (input hidden): ")
    else:
        value = sys.stdin.read()
        if value.endswith("\n"):  # `echo x | conveyor secret set` adds one; keep any other
            value = value[:-1]
            if value.endswith("\r"):
                value = value[:-1]
    if not value:
        raise UserError("no value on standard input", hint="printf %s \"$VALUE\" | conveyor secret set NAME")
    return value


def secret(args) -> int:
    client = Client.connect()
    if args.secret_command == "set":
        value = read_value()
        client.post("/api/v1/secrets", {"name": args.name, "value": value, "by": who()})
        echo(f"secret {args.name} set")
    elif args.secret_command == "ls":
        rows = client.get("/api/v1/secrets")
        if args.json:
            render.as_json(rows)
        elif not rows:
            echo("no secrets yet — `printf %s VALUE | conveyor secret set NAME`")
        else:
            render.table(([r["name"], render.clock(r["createdAt"]), render.clock(r["updatedAt"])] for r in rows),
                         ["NAME", "CREATED", "UPDATED"])
    else:
        client.delete(f"/api/v1/secrets/{quote(args.name, safe='')}?by={quote(who())}")
        echo(f"secret {args.name} removed")
    return 0
