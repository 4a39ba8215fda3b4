"""Applying `repositories:` lifecycle policies to the local registry: the plan (pure: which images
the evaluator expires, minus the protected ones, each with its reason) and its application
(manifest deleted from the distribution registry, forgotten by the store, an image action
recorded as ECR's "ECR Image Action" DELETE with the lifecycle's reason).

    plan = plan_repository(repo, store.images(repo.name), protected, now=clock())
    [e.digest for e in plan.expire]        # what goes
    [p.reasons for p in plan.protected]    # what a rule would expire but the deploy state keeps
    apply_plan(plan, store)                # the deletes; blobs wait for garbage collection

`transition` (archive) rules have no local archive tier: they are reported, nothing moves.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from conveyor.errors import ConveyorError
from conveyor.registry import lifecycle
from conveyor.registry.repositories import Image, Repository, RepositoryStore, iso

log = logging.getLogger("conveyor.registry.expiry")

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")


@dataclass(frozen=True)
class Decision:
    digest: str
    tags: tuple[str, ...]
    pushed_at: float
    size: int | None
    rule_priority: int | None
    description: str
    explanation: str
    reasons: tuple[str, ...] = ()  # why it is protected (empty for an expiry)

    def to_json(self) -> dict:
        out = {"imageDigest": self.digest, "imageTags": list(self.tags), "imagePushedAt": iso(self.pushed_at),
               "imageSizeInBytes": self.size, "appliedRulePriority": self.rule_priority,
               "ruleDescription": self.description, "explanation": self.explanation}
        if self.reasons:
            out["protectedBecause"] = list(self.reasons)
        return out


@dataclass
class RepositoryPlan:
    repository: str
    policy: bool
    expire: list[Decision] = field(default_factory=list)
    protected: list[Decision] = field(default_factory=list)
    archive_ignored: list[Decision] = field(default_factory=list)
    kept: int = 0
    deleted: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"repositoryName": self.repository, "hasLifecyclePolicy": self.policy,
                "expire": [d.to_json() for d in self.expire], "protected": [d.to_json() for d in self.protected],
                "archiveNotSupported": [d.to_json() for d in self.archive_ignored], "kept": self.kept,
                "deleted": list(self.deleted), "errors": list(self.errors)}


def plan_repository(repo: Repository, images: Sequence[Image], protected: Mapping[tuple[str, str], list[str]],
                    *, now: float, children: Mapping[str, Sequence[str]] | None = None) -> RepositoryPlan:
    """What the repository's policy does to `images` at `now`. `children` maps an image index's
    digest to the manifests it lists (those are not expired while the index exists)."""
    plan = RepositoryPlan(repo.name, repo.lifecycle_policy is not None)
    if repo.lifecycle_policy is None:
        plan.kept = len(images)
        return plan
    policy = lifecycle.validate_policy(dict(repo.lifecycle_policy), f"repositories.{repo.name}.lifecyclePolicy")
    listed_by: dict[str, list[str]] = {}
    for index, kids in (children or {}).items():
        for kid in kids:
            listed_by.setdefault(kid, []).append(index)
    # the store lists newest first; the evaluator takes push order (later = newer on ties)
    ordered = sorted(images, key=lambda i: (i.pushed_at, i.digest))
    evaluated = lifecycle.evaluate(policy, [
        lifecycle.Image(i.digest, i.tags, datetime.fromtimestamp(i.pushed_at, UTC),
                        referenced_by=tuple(listed_by.get(i.digest, ()))) for i in ordered],
        datetime.fromtimestamp(now, UTC))
    rules = {r.priority: r for r in policy.rules}
    by_digest = {i.digest: i for i in images}
    acted = set()
    for verdict in evaluated.applied:
        img, rule = by_digest[verdict.digest], rules.get(verdict.rule_priority or -1)
        decision = Decision(img.digest, img.tags, img.pushed_at, img.size, verdict.rule_priority,
                            rule.description if rule else "", verdict.explanation,
                            tuple(protected.get((repo.name, img.digest), ())))
        acted.add(img.digest)
        if verdict.action != "expire":
            plan.archive_ignored.append(decision)
        elif decision.reasons:
            plan.protected.append(decision)
        else:
            plan.expire.append(decision)
    plan.kept = len(images) - len(plan.expire)
    return plan


def index_children(store: RepositoryStore, name: str, images: Sequence[Image]) -> dict[str, list[str]]:
    """The manifests each image index of `name` lists (read from the registry)."""
    backend = store.backend
    out: dict[str, list[str]] = {}
    if backend is None:
        return out
    for img in images:
        if img.media_type not in INDEX_TYPES:
            continue
        status, _, body = backend.request("GET", f"/v2/{name}/manifests/{img.digest}",
                                          {"Accept": ", ".join(INDEX_TYPES)})
        if status != 200:
            continue
        try:
            out[img.digest] = [str(m["digest"]) for m in json.loads(body).get("manifests") or []]
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return out


def apply_plan(plan: RepositoryPlan, store: RepositoryStore,
               delete: Callable[[str, str], bool] | None = None) -> RepositoryPlan:
    """Delete every planned expiry: the manifest in the registry (every tag on it goes too), the
    store's rows, and a DELETE image action whose message names the rule (ECR's lifecycle events
    read "… expired by lifecycle policy rule N")."""
    remove = delete or _backend_delete(store)
    for d in plan.expire:
        reason = f"lifecycle policy rule {d.rule_priority}: {d.explanation}"
        try:
            existed = remove(plan.repository, d.digest)
        except ConveyorError as exc:
            plan.errors.append(f"{d.digest}: {exc}")
            store.record_delete_failure(plan.repository, d.digest, f"{reason}; delete failed: {exc}")
            continue
        store.forget_image(plan.repository, d.digest, reason if existed else f"{reason} (already gone)")
        plan.deleted.append(d.digest)
        log.info("expired %s@%s (%s)", plan.repository, d.digest, reason)
    return plan


def _backend_delete(store: RepositoryStore) -> Callable[[str, str], bool]:
    backend = store.backend
    if backend is None:
        raise RuntimeError("the store has no registry backend to delete through")
    return backend.delete_manifest
