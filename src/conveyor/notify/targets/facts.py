"""What a message for people says about an event, whatever it is rendered as (Slack blocks, an
email's text and HTML parts): the labelled facts and the things a person can do next.

    facts(message)     # [("Pipeline", "orders"), ("Execution", "#12 (1a2b3c4d)"), ("Commit", "abc1234 on main")]
    actions(message)   # [("approve", "conveyor approve orders Approve/Review"), ...]
    others(message)    # the remaining links, e.g. [("cli", "conveyor describe 1a2b")]

Values come from the event's subject and from the detail keys the engine and the deploy
controllers write (`revision: {commit, branch}`, `execution: {number}`, who acted as `who`, `by`,
`actor`, `triggeredBy`, `approvedBy` or `user`), plain text: each renderer escapes for itself.
"""

from __future__ import annotations

from typing import Any, Mapping

from conveyor.notify.target import Message

#: links a person acts with, in the order shown, and what each does
ACTION_LINKS = (("approve", "approve"), ("reject", "reject"), ("continue", "continue the deployment"),
                ("retry", "retry"), ("rollback", "roll back"), ("stop", "stop"))
WHO_KEYS = ("who", "by", "actor", "triggeredBy", "approvedBy", "user")


def title(event_type: str) -> str:
    """'pipeline-execution-failed' -> 'Pipeline execution failed'"""
    return event_type.replace("-", " ").capitalize()


def commit(detail: Mapping[str, Any]) -> str | None:
    revision = detail.get("revision")
    if not isinstance(revision, Mapping) or not revision.get("commit"):
        return None
    text = str(revision["commit"])[:7]
    return text + (f" on {revision['branch']}" if revision.get("branch") else "")


def who(detail: Mapping[str, Any]) -> str | None:
    for key in WHO_KEYS:
        value = detail.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def execution(message: Message) -> str | None:
    s, detail = message.event.subject, message.event.detail
    run = detail.get("execution")
    number = run.get("number") if isinstance(run, Mapping) else None
    if number is not None and s.execution_id:
        return f"#{number} ({s.execution_id[:8]})"
    return s.execution_id


def facts(message: Message) -> list[tuple[str, str]]:
    s, detail = message.event.subject, message.event.detail
    pairs = [("Pipeline", s.pipeline), ("Execution", execution(message)), ("Stage", s.stage),
             ("Action", s.action), ("Environment", s.environment), ("Service", s.service),
             ("Deployment", s.deployment_id), ("Repository", s.repository), ("Tag", _text(detail.get("image-tag"))),
             ("Digest", _text(detail.get("image-digest"))), ("Commit", commit(detail)), ("By", who(detail))]
    return [(label, value) for label, value in pairs if value]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def actions(message: Message) -> list[tuple[str, str]]:
    return [(what, message.links[key]) for key, what in ACTION_LINKS if message.links.get(key)]


def others(message: Message) -> list[tuple[str, str]]:
    acted = {key for key, _ in ACTION_LINKS}
    return [(key, value) for key, value in message.links.items() if key not in acted]


def call_to_act(message: Message) -> str | None:
    """The line that says a person is needed, for the events that need one."""
    if message.event.type == "manual-approval-needed":
        return "Approval needed."
    if message.event.type == "deployment-waiting":
        return "The deployment is waiting for you."
    return "What you can do:" if actions(message) else None
