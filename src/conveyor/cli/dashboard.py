"""`conveyor dashboard [--open] [--name NAME]`: a one-time login link for the web dashboard.

The link logs one browser in (a session cookie) and then is spent; it is good for 10 minutes.
It is how someone at the daemon's machine gets in without typing the token: the token itself
never travels in a URL. Actions taken in the dashboard are recorded under NAME (default: the
login name of whoever runs this command).
"""

from __future__ import annotations

import getpass
import webbrowser

from conveyor.cli.client import Client
from conveyor.cli.render import echo


def link(name: str | None = None, client: Client | None = None) -> str:
    """A fresh one-time login URL from the running daemon."""
    client = client or Client.connect()
    return str(client.post("/api/v1/dashboard/links", {"name": name or _user()})["url"])


def dashboard(args) -> int:
    url = link(args.name)
    echo(url)
    echo("  one use, valid 10 minutes; it logs one browser in", err=True)
    if args.open and not webbrowser.open(url):
        echo("  no browser could be started here: open the link yourself", err=True)
    return 0


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment or the password database
        return "cli"
