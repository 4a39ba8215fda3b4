"""Pushes, tags and pull requests into executions: what the git hook, the poller and inbound
webhooks report goes through here. Each event is matched against the triggers of the protected
branch's definition of every pipeline registered for the repository (conveyor.engine.definitions:
what a pushed commit holds never widens what runs); the commit is always taken from the
registered repository's mirror, so a webhook's claim is checked against the real repository.

    pushes = Pushes(store, lock, mirrors, definitions, start=service.start_execution,
                    record_failed=service._failed_push, stop=stop_event)
    pushes.on_push("/srv/git/orders.git", "refs/heads/main", before, after)
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable

from conveyor.config.model import PipelineDef
from conveyor.engine.definitions import Definitions, Governing
from conveyor.engine.trigger_match import pull_request_matches, push_matches, tag_matches
from conveyor.errors import ConfigError, ConveyorError
from conveyor.providers.local.git import ZERO, GitMirrors, normalize
from conveyor.store.db import DEFAULT_PROTECTED_BRANCHES, Store

log = logging.getLogger("conveyor.service")

DEFAULT_CONFIG_PATH = "conveyor.yml"
#: A row in the refs table saying the repository's tags were recorded once (polled tags are new after it).
TAGS_BASELINE = "conveyor/tags-recorded"


class Pushes:
    def __init__(self, store: Store, lock: Any, mirrors: GitMirrors, definitions: Definitions, *,
                 start: Callable[..., dict], record_failed: Callable[[str, dict, dict, str], dict],
                 stop: threading.Event):
        self.store = store
        self.lock = lock  # the engine's: the refs table and the registrations are read under it
        self.mirrors = mirrors
        self.definitions = definitions
        self.start = start  # Service.start_execution
        self.record_failed = record_failed  # a Failed execution saying why the event started nothing
        self._stop = stop

    def on_push(self, repository: str, ref: str, before: str, after: str, source: str = "GitPush") -> list[dict]:
        """A branch or a tag moved. Every pipeline of the repository whose (protected)
        definition's triggers match starts an execution; a push that cannot be handled (its
        definition cannot be read or is invalid, or the execution cannot start) becomes a Failed
        execution with the reason, never a silently dropped push. A tag push (refs/tags/X) builds
        the tag's commit and starts only pipelines with a matching tag trigger; its definition is
        the protected branch's, whatever the tagged commit holds."""
        repository = normalize(repository)
        tag = ref.removeprefix("refs/tags/") if ref.startswith("refs/tags/") else None
        if not (ref.startswith("refs/heads/") or tag) or after == ZERO:
            return []
        mirror = self.mirrors.fetch(repository)  # before marking seen: a failed fetch is retried
        commit = mirror.commit(after) if tag or source == "Webhook" else after
        if commit is None:  # a webhook's claim the repository does not bear out
            log.warning("%s push to %s %s names %s, which the repository does not have: ignored",
                        source, repository, ref, after[:12])
            return []
        with self.lock:
            if self.store.ref(repository, ref) == after:
                return []
            self.store.set_ref(repository, ref, after)
        branch = None if tag else ref.removeprefix("refs/heads/")
        registered = [p for p in self.store.pipelines() if p["repository"] == repository]
        if not registered and not tag:
            registered = [{"name": None, "repository": repository, "config_path": DEFAULT_CONFIG_PATH,
                           "protected_branches": list(DEFAULT_PROTECTED_BRANCHES)}]
        started = []
        for reg in registered:
            trigger = {"type": source, "ref": ref, "before": before, "after": after, **({"tag": tag} if tag else {})}
            revision = {"repository": repository, "branch": branch or ref, "commit": commit}
            protected = tuple(reg["protected_branches"]) or DEFAULT_PROTECTED_BRANCHES
            try:
                gov = self.definitions.governing(mirror, protected, reg["config_path"], branch, commit)
            except Exception as exc:  # noqa: BLE001 - the push is seen: record it, whatever went wrong
                what = "is invalid" if isinstance(exc, ConfigError) else "cannot be read"
                if not isinstance(exc, ConveyorError):
                    log.exception("reading the definition for a push to %s %s", repository, ref)
                started.append(self.record_failed(reg["name"] or _repository_name(repository), revision, trigger,
                                                 f"the pipeline definition {what}:\n{exc}"))
                continue
            own = self._own_sources(gov.definition, repository)
            if not (tag_matches(gov.definition, own, tag) if tag else
                    push_matches(gov.definition, own, str(branch), mirror.changed_paths(before, after)
                                 if gov.definition.triggers else None)):
                continue
            started += self._start_matched(gov, repository, commit, branch, reg["config_path"], trigger, revision)
        return started

    def on_pull_request(self, repository: str, *, number: int, event: str, source_branch: str,
                        target_branch: str, head: str, base: str | None = None, head_ref: str | None = None,
                        source: str = "Webhook") -> list[dict]:
        """A pull request was opened, updated or closed (event OPEN, UPDATED or CLOSED): the
        pipelines with a matching pullRequest trigger start at its head commit, found in the
        registered repository (its `head_ref`, e.g. refs/pull/7/head, when the commit came from
        a fork). What runs is the protected branch's definition, never the pull request's."""
        repository = normalize(repository)
        mirror = self.mirrors.fetch(repository)
        commit = mirror.commit(head) or (mirror.commit(head_ref) if head_ref else None)
        if commit is None:
            log.warning("pull request #%s of %s names head %s, which the repository does not have: ignored",
                        number, repository, head[:12])
            return []
        base_commit = mirror.commit(base) if base else None
        fork_point = mirror.merge_base(base_commit, commit) if base_commit else None
        changed = mirror.changed_paths(fork_point, commit) if fork_point else None
        trigger = {"type": "PullRequest", "number": number, "event": event, "sourceBranch": source_branch,
                   "targetBranch": target_branch, "commit": commit, "via": source}
        started = []
        for reg in [p for p in self.store.pipelines() if p["repository"] == repository]:
            revision = {"repository": repository, "branch": source_branch, "commit": commit}
            protected = tuple(reg["protected_branches"]) or DEFAULT_PROTECTED_BRANCHES
            try:
                gov = self.definitions.governing(mirror, protected, reg["config_path"], None, commit)
            except Exception as exc:  # noqa: BLE001 - as for a push: recorded, never dropped
                started.append(self.record_failed(reg["name"], revision, trigger,
                                                 f"the pipeline definition cannot be read:\n{exc}"))
                continue
            if pull_request_matches(gov.definition, self._own_sources(gov.definition, repository), event,
                                    target_branch, changed):
                started += self._start_matched(gov, repository, commit, None, reg["config_path"], trigger, revision)
        return started

    def _start_matched(self, gov: Governing, repository: str, commit: str, branch: str | None, config_path: str,
                       trigger: dict, revision: dict) -> list[dict]:
        try:
            return [self.start(repository=repository, commit=commit, branch=branch,
                                         config_path=config_path, trigger=trigger)]
        except Exception as exc:  # noqa: BLE001 - whatever it was, the event is recorded as Failed
            log.warning("%s on %s did not start %s: %s", trigger.get("type"), repository, gov.definition.name, exc)
            return [self.record_failed(gov.definition.name, revision, {**trigger, **gov.trigger_fields()},
                                      f"the execution could not start: {exc}")]

    def _own_sources(self, definition: PipelineDef, repository: str) -> dict:
        """The definition's Git sources that read `repository` itself (name -> ActionDef)."""
        return {s.name: s for s in definition.sources()
                if source_repository(repository, s.configuration.get("repository", ".")) == repository}

    def poll_loop(self) -> None:
        last: dict[str, float] = {}
        while not self._stop.wait(1.0):
            intervals: dict[str, float] = {}  # a repository shared by pipelines: the shortest wins
            for reg in self.store.pipelines():
                if reg["poll_interval"] > 0:
                    intervals[reg["repository"]] = min(reg["poll_interval"], intervals.get(reg["repository"], 1e9))
            for repo, interval in intervals.items():
                if time.time() - last.get(repo, 0) < interval:
                    continue
                last[repo] = time.time()
                try:
                    self.poll(repo)
                except Exception as exc:
                    log.warning("polling %s failed: %s", repo, exc)

    def poll(self, repository: str) -> list[dict]:
        """Catch up with the repository: every branch and tag that moved since it was last seen
        (a missed hook or webhook delivery) is handled as a push. Tags seen for the first time
        in a repository are only recorded: an upgrade does not build every old tag."""
        mirror = self.mirrors.fetch(repository)
        started = []
        tags = mirror.tags()
        if self.store.ref(mirror.repository, TAGS_BASELINE) is None:
            self.baseline_tags(mirror.repository, tags)
        for ref, sha in {**mirror.heads(), **tags}.items():
            seen = self.store.ref(mirror.repository, ref)
            if seen != sha:
                started += self.on_push(mirror.repository, ref, seen or ZERO, sha, source="PollForSourceChanges")
        return started

    def baseline_tags(self, repository: str, tags: dict[str, str]) -> None:
        """Record the tags a repository has now as seen: only tags that appear later are built."""
        for ref, sha in tags.items():
            if self.store.ref(repository, ref) is None:
                self.store.set_ref(repository, ref, sha)
        self.store.set_ref(repository, TAGS_BASELINE, ZERO)


def source_repository(registered: str, configured: str) -> str:
    """The repository a Git source action reads: its `repository:` (a URL or absolute path), or
    a path relative to the registered one (`.`: the registered repository itself)."""
    if configured in (".", ""):
        return registered
    if "://" in configured or configured.startswith("git@") or configured.startswith("/"):
        return normalize(configured)
    return normalize(str(Path(registered) / configured))


def _repository_name(repository: str) -> str:
    """A name for the Failed execution of a push to a repository no pipeline is registered for."""
    return Path(repository.rstrip("/")).name.removesuffix(".git") or "unregistered"
