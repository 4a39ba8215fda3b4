"""The Slack target: a Block Kit message to an incoming webhook.

    payload = slack_payload(message)      # {"text": fallback, "blocks": [...]}
    SlackTarget(spec, credentials).send(message)   # "Slack: ok"

The message, top to bottom: a header (status emoji and what happened), the one-line summary,
fields (pipeline, execution, stage/action or environment/service, commit and branch, who), for an
approval request or a deployment waiting for a person what to run to act on it, and a context line
with the other links (the CLI command, the dashboard page) and the delivery id.

Block Kit limits kept (Slack's reference): header text at most 150 characters, section text at
most 3000, at most 10 fields of at most 2000 each, at most 10 context elements; longer values are
cut with "…". Text from events is escaped (&, <, >) so an event cannot inject a mention or link.

The webhook URL is a credential (whoever holds it can post to the channel), read from the secret
store at each send and never shown. Slack answers 200 "ok"; otherwise a short error code in the
body (invalid_payload, invalid_token, no_service, channel_not_found, channel_is_archived…):
4xx gives up, 429 and 5xx try again.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any, Mapping

from conveyor.events.types import ERROR, WARNING
from conveyor.notify.target import DeliveryError, Message
from conveyor.notify.targets import facts
from conveyor.notify.targets.credentials import Credentials
from conveyor.notify.targets.http import HttpResult, post

HEADER_LIMIT, SECTION_LIMIT, FIELD_LIMIT, MAX_FIELDS, MAX_CONTEXT = 150, 3000, 2000, 10, 10
SLACK_ERROR_CODE = re.compile(r"[a-z_]{1,64}")


def emoji(event_type: str, severity: str) -> str:
    if event_type == "manual-approval-needed":
        return ":raised_hand:"
    if event_type == "deployment-waiting":
        return ":hourglass_flowing_sand:"
    if severity == ERROR:
        return ":x:"
    if event_type.endswith("rolled-back"):
        return ":leftwards_arrow_with_hook:"
    if severity == WARNING:
        return ":warning:"
    if event_type.endswith(("-succeeded", "-steady-state")):
        return ":white_check_mark:"
    return ":arrow_forward:" if event_type.endswith("-started") else ":information_source:"


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _field(label: str, value: str) -> dict[str, str]:
    shown = f"`{escape(value)}`" if label == "Commit" else escape(value)
    return {"type": "mrkdwn", "text": cut(f"*{label}*\n{shown}", FIELD_LIMIT)}


def _link(value: str) -> str:
    if value.startswith(("https://", "http://")):
        return f"<{escape(value)}|open>"
    return f"`{escape(value)}`"


def action_text(message: Message) -> str | None:
    """For an event a person must act on: what to run."""
    head = facts.call_to_act(message)
    if head is None:
        return None
    lines = [f"• to {what}: {_link(link)}" for what, link in facts.actions(message)]
    text = "\n".join([f"*{head}*", *lines]) if lines else f"*{head}* See `conveyor describe` for how to act."
    return cut(text, SECTION_LIMIT)


def slack_payload(message: Message, spec: Mapping[str, Any] | None = None) -> dict[str, Any]:
    event = message.event
    head = cut(f"{emoji(event.type, event.severity)} {facts.title(event.type)}", HEADER_LIMIT)
    summary = event.summary or facts.title(event.type)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": head, "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": cut(escape(summary), SECTION_LIMIT)}},
    ]
    field_list = [_field(label, value) for label, value in facts.facts(message)][:MAX_FIELDS]
    if field_list:
        blocks.append({"type": "section", "fields": field_list})
    act = action_text(message)
    if act:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": act}})
    context = [{"type": "mrkdwn", "text": cut(f"{escape(key)}: {_link(value)}", FIELD_LIMIT)}
               for key, value in facts.others(message)]
    when = datetime.fromtimestamp(event.at, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    context.append({"type": "mrkdwn", "text": cut(f"{event.severity} · {when} · rule {escape(message.rule)} · "
                                                  f"delivery {escape(message.delivery_id)}", FIELD_LIMIT)})
    blocks.append({"type": "context", "elements": context[-MAX_CONTEXT:]})
    payload: dict[str, Any] = {"text": cut(escape(summary), SECTION_LIMIT), "blocks": blocks}
    for key in ("channel", "username"):
        if spec and spec.get(key):
            payload[key] = spec[key]
    return payload


def slack_error(result: HttpResult) -> str:
    """Slack's error code (`no_service`), when the body is one; nothing else from the body."""
    code = result.text.strip()
    return code if SLACK_ERROR_CODE.fullmatch(code) else ""


class SlackTarget:
    kind = "slack"

    def __init__(self, spec: Mapping[str, Any], credentials: Credentials):
        self.spec = spec
        self.credentials = credentials

    def send(self, message: Message) -> str:
        url = self.credentials.get(self.spec["url"], "the Slack webhook URL")
        if not url.startswith(("https://", "http://")):
            raise DeliveryError(f"secret '{self.spec['url']}' does not hold a URL (expected the incoming-webhook "
                                "URL Slack gave you)", retry=False)
        body = json.dumps(slack_payload(message, self.spec)).encode()
        try:
            result = post(url, body, {"Content-Type": "application/json"},
                          timeout=float(self.spec.get("timeoutSeconds", 10)), explain=slack_error)
        except DeliveryError as exc:
            raise self.credentials.error(exc) from None
        return self.credentials.mask(f"Slack: {result.text.strip()[:40] or 'HTTP ' + str(result.status)}")
