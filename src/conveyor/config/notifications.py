"""conveyor.yml's `notifications:`: which events go where, checked with every other key.

    notifications:
      - name: production                  # optional: default the mapping key, or rule-<n>
        events: [pipeline-execution-failed, manual-approval-needed, deployment-*]
        environments: [production]        # optional filters, each narrowing only the events
        services: [web]                   #   that name that field (a pipeline event has no
        stages: [Deploy]                  #   environment: the filter lets it through)
        severity: warning                 # optional: the lowest severity (warning = warning, error)
        detailType: FULL                  # BASIC (type, subject, summary) | FULL (also the detail)
        targets:                          # local delivery: one-key mappings (notification_targets)
          - webhook: {url: "http://127.0.0.1:9100/hook", secret: receiver-hmac}
        target: arn:aws:sns:eu-west-1:123456789012:team   # used only by `conveyor aws export`

or the same entries under names (`notifications: {production: {events: [...]}}`). An event is a
type name of conveyor.events.types, with or without CodeStar Notifications'
`codepipeline-pipeline-` prefix, or a glob with `*` that must match at least one type.

A rule is trusted like the rest of the file: the daemon reads it from the pipeline's governing
definition (the protected branch, conveyor.engine.definitions), and a `command` target runs on
the host, so it needs `allowHostCommands: true` like a Command action without an image.

    >>> [r.name for r in rules_from_data({"notifications": {"ops": {"events": ["deployment-*"]}}})]
    ['ops']
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any

from conveyor.config.notification_targets import TargetDef, check_target
from conveyor.config.trust import HOST_COMMAND_HINT
from conveyor.documents.checker import Checker
from conveyor.documents.located import Document, KeyPath
from conveyor.events.types import EVENT_TYPES, SEVERITIES

EVENT_PREFIX = "codepipeline-pipeline-"
DETAIL_TYPES = ("FULL", "BASIC")
RULE_KEYS = ("name", "events", "environments", "services", "stages", "severity", "detailType", "targets",
             "target")
RULE_NAME = r"[A-Za-z0-9._@-]+"
RULE_NAME_LIMIT = 64
MAX_RULES = 50
MAX_TARGETS = 10
ARN = re.compile(r"arn:aws[\w-]*:(sns:[\w-]+:\d{12}:[\w-]+|chatbot::\d{12}:chat-configuration/slack-channel/.+)")


@dataclass(frozen=True)
class NotificationRule:
    """One rule of a pipeline. `events` are type names or globs without the prefix; a filter that
    is None does not narrow."""

    name: str
    events: tuple[str, ...]
    environments: tuple[str, ...] | None = None
    services: tuple[str, ...] | None = None
    stages: tuple[str, ...] | None = None
    severity: str | None = None
    detail_type: str = "FULL"
    targets: tuple[TargetDef, ...] = ()
    arn: str | None = None           # the AWS export's target; no local delivery

    def wants(self, event_type: str) -> bool:
        return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in self.events)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "events": list(self.events), "environments": _list(self.environments),
                "services": _list(self.services), "stages": _list(self.stages), "severity": self.severity,
                "detailType": self.detail_type,
                "targets": [{"kind": t.kind, "describe": t.describe()} for t in self.targets],
                "target": self.arn}


def _list(value: tuple[str, ...] | None) -> list[str] | None:
    return None if value is None else list(value)


def entries(raw: Any) -> list[tuple[KeyPath, str | None, Any]]:
    """(key path, name from the mapping key, entry) for a list or a mapping of entries."""
    if isinstance(raw, list):
        return [(("notifications", i), None, e) for i, e in enumerate(raw)]
    if isinstance(raw, dict):
        return [(("notifications", k), str(k), e) for k, e in raw.items()]
    return []


def check_notifications(chk: Checker) -> tuple[NotificationRule, ...]:
    """Check `notifications:` of the document in `chk` (every problem reported) and return the
    rules that are valid."""
    raw = chk.get((), "notifications", (dict, list), what="a list of rules or a mapping of rule names to rules")
    found = entries(raw)
    if len(found) > MAX_RULES:
        chk.error(("notifications",), f"at most {MAX_RULES} rules, got {len(found)}")
    data = chk.doc.data if isinstance(chk.doc.data, dict) else {}
    allow_host = data.get("allowHostCommands") is True
    known = _known_names(data)
    rules: list[NotificationRule] = []
    names: dict[str, KeyPath] = {}
    for n, (path, key_name, entry) in enumerate(found, start=1):
        rule = _check_rule(chk, path, key_name or f"rule-{n}", entry, allow_host, known)
        if rule is None:
            continue
        if rule.name in names:
            chk.error(path + ("name",) if key_name is None else path,
                      f"duplicate rule name '{rule.name}' (also {_where(names[rule.name])})")
            continue
        names[rule.name] = path
        rules.append(rule)
    return tuple(rules)


def rules_from_data(data: Any) -> tuple[NotificationRule, ...]:
    """The rules of an already validated conveyor.yml mapping (an execution's stored definition)."""
    return check_notifications(Checker(Document("conveyor.yml", data)))


def _where(path: KeyPath) -> str:
    return f"notifications[{path[1]}]" if isinstance(path[1], int) else f"notifications.{path[1]}"


def _known_names(data: dict) -> dict[str, set[str] | None]:
    """The environments, services and stages the file defines (None: the key is not a mapping or
    list, so nothing to compare with)."""
    envs = data.get("environments")
    services: set[str] = set()
    for env in (envs.values() if isinstance(envs, dict) else ()):
        svcs = env.get("services") if isinstance(env, dict) else None
        services.update(str(s) for s in (svcs if isinstance(svcs, dict) else ()))
    pipe = data.get("pipeline")
    stages = pipe.get("stages") if isinstance(pipe, dict) else None
    return {
        "environments": {str(e) for e in envs} if isinstance(envs, dict) else set(),
        "services": services,
        "stages": ({str(s["name"]) for s in stages if isinstance(s, dict) and "name" in s}
                   if isinstance(stages, list) else None),
    }


def _check_rule(chk: Checker, path: KeyPath, default_name: str, entry: Any, allow_host: bool,
                known: dict[str, set[str] | None]) -> NotificationRule | None:
    if not chk.is_type(path, entry, dict, "a rule (a mapping with events:, targets:, ...)"):
        return None
    before = len(chk.errors)
    chk.keys(path, RULE_KEYS, "rule key")
    name = chk.get(path, "name", str, default=default_name)
    if "name" in entry:
        chk.name(path + ("name",), name, RULE_NAME, RULE_NAME_LIMIT, "rule name")
    events = _check_events(chk, path)
    filters: dict[str, tuple[str, ...] | None] = {}
    for key in ("environments", "services", "stages"):
        filters[key] = _check_filter(chk, path, key, known[key])
    severity = chk.get(path, "severity", str)
    if severity is not None:
        chk.one_of(path + ("severity",), severity, SEVERITIES, "severity")
    detail = chk.get(path, "detailType", str, default="FULL")
    if "detailType" in entry and chk.one_of(path + ("detailType",), str(detail).upper(), DETAIL_TYPES, "detailType"):
        detail = str(detail).upper()
    arn = chk.get(path, "target", str)
    if arn is not None and not ARN.fullmatch(arn):
        chk.error(path + ("target",), f"expected an SNS topic or AWS Chatbot Slack channel ARN (the AWS export's "
                                      f"target), got '{arn}'; local delivery goes under `targets:`")
    targets: list[TargetDef] = []
    raw_targets = chk.get(path, "targets", list) or []
    if len(raw_targets) > MAX_TARGETS:
        chk.error(path + ("targets",), f"at most {MAX_TARGETS} targets, got {len(raw_targets)}")
    for i, raw in enumerate(raw_targets):
        target = check_target(chk, path + ("targets", i), raw)
        if target is None:
            continue
        if target.kind == "command" and not allow_host:
            chk.error(path + ("targets", i), "a command target runs on the host as the daemon's user; "
                      + HOST_COMMAND_HINT.split(", or give it")[0])
            continue
        targets.append(target)
    if len(chk.errors) > before:
        return None
    return NotificationRule(name, events, filters["environments"], filters["services"], filters["stages"],
                            severity, str(detail), tuple(targets), arn)


def _check_events(chk: Checker, path: KeyPath) -> tuple[str, ...]:
    raw = chk.get(path, "events", list, required=True, what="a list of event types")
    if raw is None:
        return ()
    if not raw:
        chk.error(path + ("events",), "expected at least one event type, e.g. [pipeline-execution-failed]")
    out: list[str] = []
    for i, item in enumerate(raw):
        where = path + ("events", i)
        if not chk.is_type(where, item, str, "an event type"):
            continue
        short = item.removeprefix(EVENT_PREFIX)
        if "*" in short:
            if not any(fnmatch.fnmatchcase(t, short) for t in EVENT_TYPES) or re.search(r"[?\[\]]", short):
                chk.error(where, f"'{item}' matches no event type (a glob uses * only, e.g. deployment-*)")
                continue
        elif not chk.one_of(where, short, EVENT_TYPES, "event type"):
            continue
        if short not in out:
            out.append(short)
    return tuple(out)


def _check_filter(chk: Checker, path: KeyPath, key: str, known: set[str] | None) -> tuple[str, ...] | None:
    raw = chk.get(path, key, list, what=f"a list of {key[:-1]} names")
    if raw is None:
        return None
    out: list[str] = []
    for i, item in enumerate(raw):
        if not chk.is_type(path + (key, i), item, str, f"a {key[:-1]} name"):
            continue
        if known is not None and item not in known:
            choices = f" (defined: {', '.join(sorted(known))})" if known else f" (this file defines no {key})"
            chk.error(path + (key, i), f"unknown {key[:-1]} '{item}'{choices}")
            continue
        out.append(item)
    return tuple(out)
