"""What a person does next, as commands for Message.links: where to look (`cli`), and for an
event that waits for someone, how to act on it (argv words joined for reading; every value is a
name Conveyor checked, so no quoting is needed). Given the daemon's own URL, also the dashboard
page of the execution or the service (`dashboard`): a plain link, no credentials in it; the
reader logs in to the dashboard as usual.

    >>> links(Event("manual-approval-needed", 0, Subject(pipeline="p", execution_id="1a2b")))["approve"]
    'conveyor approve 1a2b'
    >>> links(Event("deployment-succeeded", 0, Subject(environment="prod", service="orders")),
    ...       dashboard="http://127.0.0.1:7878")["dashboard"]
    'http://127.0.0.1:7878/ui/services/prod/orders'
"""

from __future__ import annotations

from urllib.parse import quote

from conveyor.events.types import Event, Subject  # noqa: F401  (Subject: the doctest)


def links(event: Event, dashboard: str | None = None) -> dict[str, str]:
    s = event.subject
    out: dict[str, str] = {}
    if s.execution_id:
        out["cli"] = f"conveyor status {s.execution_id}"
        if dashboard:
            out["dashboard"] = f"{dashboard}/ui/executions/{quote(s.execution_id, safe='')}"
    elif s.environment and s.service:
        out["cli"] = f"conveyor deploy status {s.environment} {s.service}"
        if dashboard:
            out["dashboard"] = f"{dashboard}/ui/services/{quote(s.environment, safe='')}/{quote(s.service, safe='')}"
    if event.type == "manual-approval-needed" and s.execution_id:
        where = ""
        if s.stage and s.action:
            where = f" --stage {s.stage} --action {s.action}"
        out["approve"] = f"conveyor approve {s.execution_id}{where}"
        out["reject"] = f"conveyor reject {s.execution_id}{where}"
    if event.type == "deployment-waiting" and s.environment and s.service:
        out["continue"] = f"conveyor deploy continue {s.environment} {s.service}"
    return out
