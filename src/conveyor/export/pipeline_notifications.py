"""conveyor.yml's `notifications:` rules (conveyor.config.notifications) as
AWS::CodeStarNotifications::NotificationRule resources on the pipeline.

    notifications:
      - name: failures                                    # names the rule (default: the key, or n)
        events: [pipeline-execution-failed, manual-approval-*]
        target: arn:aws:sns:eu-west-1:123456789012:team   # an SNS topic or AWS Chatbot Slack channel
                                                          # ARN; default the approval topic
        detailType: BASIC                                 # BASIC | FULL (default)
        targets: [{webhook: {url: ...}}]                  # local delivery: not exported

or the same entries under names (`notifications: {failures: {events: [...]}}`). An event is a
type name with or without CodeStar Notifications' `codepipeline-pipeline-` prefix, or a glob
with `*`; the pipeline's own types become EventTypeIds, deployment and service events (which
CodeStar Notifications does not have for a pipeline) are left out with a note. A rule's filters
(environments, services, stages, severity) have no equivalent in a rule on one pipeline: the
exported rule takes every such event of the pipeline, with a note. An entry with local
`targets:` and no `target` ARN is Conveyor's delivery only and exports nothing (with a note).
An entry targeting the approval topic gives CodeStar Notifications the right to publish to it.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from conveyor.export.pipeline_context import APPROVAL_TOPIC, PIPELINE, ExportContext
from conveyor.export.template import Ref, Sub

EVENT_PREFIX = "codepipeline-pipeline-"
EVENTS = tuple(f"{kind}-{what}" for kind, whats in (
    ("action-execution", ("succeeded", "failed", "canceled", "started")),
    ("stage-execution", ("started", "succeeded", "resumed", "canceled", "failed")),
    ("pipeline-execution", ("failed", "canceled", "started", "resumed", "succeeded", "superseded")),
    ("manual-approval", ("failed", "needed", "succeeded"))) for what in whats)
DETAIL_TYPES = ("FULL", "BASIC")
FILTERS = ("environments", "services", "stages", "severity")
RULE_NAME_LIMIT = 64  # NotificationRule Name: 1-64 characters of A-Z a-z 0-9 - _ and space
_TARGETS = (("SNS", re.compile(r"arn:aws[\w-]*:sns:[\w-]+:\d{12}:[\w-]+")),
            ("AWSChatbotSlack", re.compile(r"arn:aws[\w-]*:chatbot::\d{12}:chat-configuration/slack-channel/.+")))


def notification_rules(ctx: ExportContext) -> bool:
    """Add a rule per entry that reads as one; True when a rule publishes to the approval topic."""
    raw = ctx.definition.raw.get("notifications")
    entries: list[tuple[str, str | None, Any]] = []
    if isinstance(raw, list):
        entries = [(f"notifications[{i}]", None, e) for i, e in enumerate(raw)]
    elif isinstance(raw, dict):
        entries = [(f"notifications.{k}", str(k), e) for k, e in raw.items()]
    to_topic = False
    for n, (key, name, entry) in enumerate(entries, start=1):
        rule = _rule(ctx, key, name, entry, n)
        if rule is not None:
            to_topic |= rule["Targets"][0]["TargetAddress"] == Ref(APPROVAL_TOPIC)
    return to_topic


def _rule(ctx: ExportContext, key: str, name: str | None, entry: Any, n: int) -> dict[str, Any] | None:
    expected = "left out (expected {events: [...], target, name, detailType}; see the export's documentation)"
    if not isinstance(entry, dict) or not isinstance(entry.get("events"), list):
        ctx.notes.add(key, "a notification entry that is not understood", expected)
        return None
    target = entry.get("target")
    if target is None and entry.get("targets"):
        ctx.notes.add(key, "a rule with local targets only (webhook, Slack, email, command)",
                      "not exported: Conveyor delivers it; add `target:` (an SNS or Chatbot ARN) for AWS")
        return None
    filters = [k for k in FILTERS if entry.get(k) is not None]
    if filters:
        ctx.notes.add(key, f"the filter(s) {', '.join(filters)}, which a CodeStar Notifications rule on one pipeline "
                           "cannot express", "left out: the rule takes every such event of the pipeline")
    if entry.get("targets"):
        ctx.notes.add(f"{key}.targets", "local targets (webhook, Slack, email, command)",
                      "left out: only `target` is exported")
    unknown = [k for k in entry if k not in ("events", "target", "name", "detailType", "targets", *FILTERS)]
    if unknown:
        ctx.notes.add(key, f"notification setting(s) {', '.join(map(str, unknown))}", "left out")
    events: list[str] = []
    for event in entry["events"]:
        short = str(event).removeprefix(EVENT_PREFIX)
        matched = [e for e in EVENTS if fnmatch.fnmatchcase(e, short)] if "*" in short else \
            [short] if short in EVENTS else []
        if matched:
            events.extend(EVENT_PREFIX + e for e in matched)
        else:
            ctx.notes.add(f"{key}.events", f"event '{event}', not a pipeline event of CodeStar Notifications",
                          "left out")
    kind = "SNS" if target is None else next((k for k, p in _TARGETS if p.fullmatch(str(target))), None)
    if kind is None:
        ctx.notes.add(f"{key}.target", f"target '{target}', neither an SNS topic nor an AWS Chatbot Slack channel ARN",
                      "left out")
    detail = str(entry.get("detailType") or "FULL").upper()
    if detail not in DETAIL_TYPES:
        ctx.notes.add(f"{key}.detailType", f"detailType '{entry.get('detailType')}'", "FULL")
        detail = "FULL"
    if not events or kind is None:
        return None
    label = str(entry.get("name") or name or n)
    rule_name = re.sub(r"[^A-Za-z0-9_ -]", "-", f"{ctx.definition.name}-{label}")[:RULE_NAME_LIMIT]
    props = {
        "Name": rule_name,
        "DetailType": detail,
        "EventTypeIds": sorted(set(events), key=events.index),
        "Resource": Sub(f"arn:${{AWS::Partition}}:codepipeline:${{AWS::Region}}:${{AWS::AccountId}}:${{{PIPELINE}}}"),
        "Status": "ENABLED",
        "Targets": [{"TargetType": kind, "TargetAddress": Ref(APPROVAL_TOPIC) if target is None else str(target)}],
    }
    ctx.template.resource(ctx.logical_id("Notification", label, "Rule"), "AWS::CodeStarNotifications::NotificationRule",
                          props, source=key)
    return props
