"""Which rules an event goes to: the rules of every registered pipeline, read from its latest
execution's definition, and the matching.

Where rules come from: an execution row keeps the definition it runs, and that is the governing
one (the protected branch's conveyor.yml, conveyor.engine.definitions), never the file of the
pushed branch; so the rules of pipeline P are those of P's latest execution. They are loaded when
the notifier starts and reloaded for P when P's `pipeline-execution-started` event is dispatched
(the execution row exists by then). A push to an unprotected branch therefore cannot add, drop or
redirect a notification.

Which events a rule of P takes: P's pipeline events (subject.pipeline == P), the deployment
and service events of the environments (and their services) P's conveyor.yml defines, and the
image events of the repositories it declares under `repositories:`; then the
rule's event types, its severity floor and its filters. A filter narrows only the events that
name its field: `environments: [production]` keeps production's deployments and still lets
P's `pipeline-execution-failed` (which names no environment) through.

    book = RuleBook(loader)
    for owner, rule in book.matching(event): ...
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Mapping

from conveyor.config.model import repository_settings
from conveyor.config.notifications import NotificationRule, rules_from_data
from conveyor.events.types import SEVERITIES, Event

log = logging.getLogger("conveyor.notify")


@dataclass(frozen=True)
class PipelineRules:
    """A pipeline's rules and what they need to match and to send."""

    pipeline: str
    rules: tuple[NotificationRule, ...]
    #: environment -> its service names (None: the environment lists no services mapping)
    environments: Mapping[str, frozenset[str] | None] = field(default_factory=dict)
    allow_host_commands: bool = False
    repositories: frozenset[str] = frozenset()

    @classmethod
    def from_definition(cls, pipeline: str, raw: Mapping[str, Any]) -> "PipelineRules":
        envs: dict[str, frozenset[str] | None] = {}
        raw_envs = raw.get("environments")
        for name, env in (raw_envs.items() if isinstance(raw_envs, dict) else ()):
            services = env.get("services") if isinstance(env, dict) else None
            envs[str(name)] = frozenset(str(s) for s in services) if isinstance(services, dict) else None
        return cls(pipeline, rules_from_data(dict(raw)), envs, raw.get("allowHostCommands") is True,
                   frozenset(repository_settings(raw)))

    def owns(self, event: Event) -> bool:
        """The event is this pipeline's, a deployment of an environment (and service) it defines, or
        an image action in a repository it declares."""
        subject = event.subject
        if subject.pipeline is not None and subject.pipeline == self.pipeline:
            return True
        if subject.repository is not None:
            return subject.repository in self.repositories
        if subject.environment is None or subject.environment not in self.environments:
            return False
        services = self.environments[subject.environment]
        return subject.service is None or services is None or subject.service in services

    def rule(self, name: str) -> NotificationRule | None:
        return next((r for r in self.rules if r.name == name), None)


def matches(rule: NotificationRule, event: Event) -> bool:
    """The rule's event types, severity floor and filters (each only for events naming its field)."""
    if not rule.wants(event.type):
        return False
    if rule.severity is not None and SEVERITIES.index(event.severity) < SEVERITIES.index(rule.severity):
        return False
    subject = event.subject
    for wanted, value in ((rule.environments, subject.environment), (rule.services, subject.service),
                          (rule.stages, subject.stage)):
        if wanted is not None and value is not None and value not in wanted:
            return False
    return True


#: (pipeline name) -> (latest execution id or "", its stored definition) for every registered pipeline
Loader = Callable[[], list[tuple[str, Mapping[str, Any]]]]
OneLoader = Callable[[str], Mapping[str, Any] | None]


class RuleBook:
    """Every registered pipeline's rules, reloaded wholesale by `load` and per pipeline by `refresh`."""

    def __init__(self, load_all: Loader, load_one: OneLoader):
        self._load_all = load_all
        self._load_one = load_one
        self._lock = threading.Lock()
        self._by_pipeline: dict[str, PipelineRules] = {}

    def load(self) -> None:
        found: dict[str, PipelineRules] = {}
        for pipeline, raw in self._load_all():
            parsed = _parse(pipeline, raw)
            if parsed is not None:
                found[pipeline] = parsed
        with self._lock:
            self._by_pipeline = found

    def refresh(self, pipeline: str) -> None:
        raw = self._load_one(pipeline)
        parsed = _parse(pipeline, raw) if raw is not None else None
        with self._lock:
            if parsed is None:
                self._by_pipeline.pop(pipeline, None)
            else:
                self._by_pipeline[pipeline] = parsed

    def pipelines(self) -> list[PipelineRules]:
        with self._lock:
            return sorted(self._by_pipeline.values(), key=lambda p: p.pipeline)

    def matching(self, event: Event) -> Iterator[tuple[PipelineRules, NotificationRule]]:
        for owner in self.pipelines():
            if not owner.owns(event):
                continue
            for rule in owner.rules:
                if matches(rule, event):
                    yield owner, rule

    def find(self, name: str) -> tuple[PipelineRules, NotificationRule]:
        """A rule by `PIPELINE/RULE`, or by RULE when one pipeline has it. KeyError with the reason."""
        pipeline, _, rule_name = name.rpartition("/")
        found = [(p, r) for p in self.pipelines() if not pipeline or p.pipeline == pipeline
                 for r in p.rules if r.name == rule_name]
        if not found:
            raise KeyError(f"no notification rule '{name}'")
        if len(found) > 1:
            raise KeyError(f"rule '{name}' is in several pipelines ({', '.join(p.pipeline for p, _ in found)}): "
                           f"name it PIPELINE/{rule_name}")
        return found[0]


def _parse(pipeline: str, raw: Mapping[str, Any]) -> PipelineRules | None:
    try:
        return PipelineRules.from_definition(pipeline, raw)
    except Exception:  # a definition stored by an older Conveyor: its pipeline gets no rules, the rest do
        log.exception("cannot read the notification rules of pipeline %s", pipeline)
        return None
