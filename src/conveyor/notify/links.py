"""What a person does next, as commands for Message.links: where to look (`cli`), and for an
event that waits for someone, how to act on it (argv words joined for reading; every value is a
name Conveyor checked, so no quoting is needed).

    >>> links(Event("manual-approval-needed", 0, Subject(pipeline="p", execution_id="1a2b")))["approve"]
    'conveyor approve 1a2b'
"""

from __future__ import annotations

from conveyor.events.types import Event, Subject  # noqa: F401  (Subject: the doctest)


def links(event: Event) -> dict[str, str]:
    s = event.subject
    out: dict[str, str] = {}
    if s.execution_id:
        out["cli"] = f"conveyor status {s.execution_id}"
    elif s.environment and s.service:
        out["cli"] = f"conveyor deploy status {s.environment} {s.service}"
    if event.type == "manual-approval-needed" and s.execution_id:
        where = ""
        if s.stage and s.action:
            where = f" --stage {s.stage} --action {s.action}"
        out["approve"] = f"conveyor approve {s.execution_id}{where}"
        out["reject"] = f"conveyor reject {s.execution_id}{where}"
    if event.type == "deployment-waiting" and s.environment and s.service:
        out["continue"] = f"conveyor deploy continue {s.environment} {s.service}"
    return out
