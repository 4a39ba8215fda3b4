"""The validated pipeline definition: what conveyor.yml says, as immutable data.

A PipelineDef is rebuilt from the raw conveyor.yml mapping (`PipelineDef.from_data`), which is
also what an execution stores as its snapshot — so an execution keeps running the definition it
started with, even after conveyor.yml changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from conveyor.config.notifications import NotificationRule, rules_from_data
from conveyor.config.providers import ACTION_KEYS, PROVIDERS

EXECUTION_MODES = ("SUPERSEDED", "QUEUED", "PARALLEL")
DEFAULT_EXECUTION_MODE = "SUPERSEDED"  # aws-semantics §2.1: default SUPERSEDED
DEFAULT_POLL_INTERVAL_SECONDS = 15


@dataclass(frozen=True)
class ActionDef:
    name: str
    provider: str
    category: str
    run_order: int
    configuration: dict[str, Any]
    input_artifacts: tuple[str, ...] = ()
    output_artifacts: tuple[str, ...] = ()
    namespace: str | None = None
    timeout_minutes: float | None = None


@dataclass(frozen=True)
class StageDef:
    name: str
    actions: tuple[ActionDef, ...]

    def run_orders(self) -> list[int]:
        return sorted({a.run_order for a in self.actions})

    def action(self, name: str) -> ActionDef:
        for a in self.actions:
            if a.name == name:
                return a
        raise KeyError(name)


@dataclass(frozen=True)
class VariableDef:
    name: str
    default: str | None = None
    description: str = ""


Patterns = tuple[tuple[str, ...], tuple[str, ...]]  # (includes, excludes)


@dataclass(frozen=True)
class PullRequestDef:
    """`pullRequest:` of a trigger: which events (OPEN, UPDATED, CLOSED), into which target
    branches, changing which paths."""

    events: tuple[str, ...]
    branches: Patterns | None = None
    paths: Patterns | None = None


@dataclass(frozen=True)
class TriggerDef:
    """One trigger filter (conveyor.config.triggers): a branch push (branches AND paths), a tag
    push (tags) or a pull request (pull_request)."""

    source: str
    branches: Patterns | None = None
    paths: Patterns | None = None
    tags: Patterns | None = None
    pull_request: PullRequestDef | None = None

    @property
    def kind(self) -> str:
        """"push" (branches), "tag" or "pullRequest": the one kind of git event it matches."""
        if self.pull_request is not None:
            return "pullRequest"
        return "tag" if self.tags is not None else "push"


@dataclass(frozen=True)
class PipelineDef:
    name: str
    stages: tuple[StageDef, ...]
    execution_mode: str = DEFAULT_EXECUTION_MODE
    variables: tuple[VariableDef, ...] = ()
    triggers: tuple[TriggerDef, ...] = ()
    poll_interval: float = DEFAULT_POLL_INTERVAL_SECONDS
    environments: dict[str, Any] = field(default_factory=dict)
    #: `protectedBranches:` (None when not given): the branches whose conveyor.yml is trusted.
    protected_branches: tuple[str, ...] | None = None
    #: `allowHostCommands:`: Command actions and deployment hooks without an image may run on the host.
    allow_host_commands: bool = False
    #: `notifications:` (conveyor.config.notifications): which events go to which targets.
    notifications: tuple[NotificationRule, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    warnings: tuple = field(default=(), compare=False, repr=False)

    def stage(self, name: str) -> StageDef:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(name)

    def stage_index(self, name: str) -> int:
        return [s.name for s in self.stages].index(name)

    def actions(self) -> Iterator[tuple[StageDef, ActionDef]]:
        for s in self.stages:
            for a in s.actions:
                yield s, a

    def sources(self) -> list[ActionDef]:
        return [a for a in self.stages[0].actions if a.provider == "Git"] if self.stages else []

    @classmethod
    def from_data(cls, data: dict[str, Any], warnings: tuple = ()) -> "PipelineDef":
        """Build from an already validated conveyor.yml mapping."""
        p = data.get("pipeline") or {}
        stages = tuple(StageDef(s["name"], tuple(_action(a) for a in s.get("actions") or []))
                       for s in p.get("stages") or [])
        variables = tuple(VariableDef(v["name"], None if v.get("defaultValue") is None else str(v["defaultValue"]),
                                      v.get("description", "")) for v in p.get("variables") or [])
        sources = [a.name for a in stages[0].actions if a.provider == "Git"] if stages else []
        triggers = tuple(_trigger(t, sources[0] if sources else "") for t in p.get("triggers") or [])
        return cls(
            name=data["name"],
            stages=stages,
            execution_mode=p.get("executionMode", DEFAULT_EXECUTION_MODE),
            variables=variables,
            triggers=triggers,
            poll_interval=p.get("pollIntervalSeconds", DEFAULT_POLL_INTERVAL_SECONDS),
            environments=data.get("environments") or {},
            protected_branches=(tuple(str(b) for b in data["protectedBranches"])
                                if data.get("protectedBranches") else None),
            allow_host_commands=data.get("allowHostCommands") is True,
            notifications=rules_from_data(data),
            raw=data,
            warnings=warnings,
        )


def criteria(value: Any) -> Patterns | None:
    if value is None:
        return None
    if isinstance(value, list):
        return tuple(str(v) for v in value), ()
    return (tuple(str(v) for v in value.get("includes") or ()), tuple(str(v) for v in value.get("excludes") or ()))


def _trigger(raw: dict[str, Any], default_source: str) -> TriggerDef:
    from conveyor.config.triggers import pull_request_events

    pr = raw.get("pullRequest")
    pull_request = None if pr is None else PullRequestDef(
        pull_request_events(pr), criteria((pr or {}).get("branches")), criteria((pr or {}).get("paths")))
    return TriggerDef(raw.get("source") or default_source, criteria(raw.get("branches")), criteria(raw.get("paths")),
                      criteria(raw.get("tags")), pull_request)


def repository_settings(raw: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """conveyor.yml `repositories:` as name -> settings, from the mapping form or the list form
    (names, or mappings with a `name`).

    >>> repository_settings({"repositories": ["web", {"name": "api", "imageTagMutability": "IMMUTABLE"}]})
    {'web': {}, 'api': {'imageTagMutability': 'IMMUTABLE'}}
    """
    found = raw.get("repositories") or {}
    if isinstance(found, dict):
        return {str(name): dict(conf) if isinstance(conf, dict) else {} for name, conf in found.items()}
    out: dict[str, dict[str, Any]] = {}
    for item in found if isinstance(found, list) else ():
        if isinstance(item, str):
            out[item] = {}
        elif isinstance(item, dict) and "name" in item:
            out[str(item["name"])] = {k: v for k, v in item.items() if k != "name"}
    return out


def action_configuration(raw: dict[str, Any]) -> dict[str, Any]:
    """Provider settings from `configuration:` and from keys written directly on the action."""
    conf = dict(raw.get("configuration") or {})
    conf.update({k: v for k, v in raw.items() if k not in ACTION_KEYS})
    return conf


def _action(raw: dict[str, Any]) -> ActionDef:
    provider = PROVIDERS[raw["provider"]]
    conf = action_configuration(raw)
    for key, spec in provider.keys.items():
        if key not in conf and spec.default is not None:
            conf[key] = spec.default
    return ActionDef(
        name=raw["name"],
        provider=raw["provider"],
        category=raw.get("category") or provider.allowed_categories()[0],
        run_order=raw.get("runOrder", 1),
        configuration=conf,
        input_artifacts=tuple(raw.get("inputArtifacts") or ()),
        output_artifacts=tuple(raw.get("outputArtifacts") or ()),
        namespace=raw.get("namespace"),
        timeout_minutes=raw.get("timeoutInMinutes"),
    )
