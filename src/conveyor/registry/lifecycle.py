"""ECR lifecycle policies: which images a policy expires (or archives), and why — pure, with the
clock passed in (aws-semantics §6.3; the ECR guide's "Lifecycle policy evaluation rules").

    policy = parse_policy(text)
    result = evaluate(policy, [Image("sha256:a", ("v1",), pushed_at=t1), …], now=clock())
    result.expire          # [("sha256:a", 1), …]  (digest, rulePriority), in the order applied
    result.explanations["sha256:a"]   # 'expired by rule 1 (…): 3rd newest of 3 selected, …'

The evaluation rules, as ECR states them:
1. every rule picks its images against the whole repository, as if no other rule existed;
2. rules are applied in ascending rulePriority, and an image is acted on by at most one rule;
3. a rule may not act on an image whose tags match a higher-priority rule's selection — even when
   that rule keeps it — but it still counts that image in its own "N newest" window;
4. imageCountMoreThan sorts its images newest first by push time and acts on those beyond N;
   the since* count types act on images older than N days (strictly more than N × 24 h).

Two choices ECR does not document (tests mark them "assumed"): images pushed at the same instant
are ordered by their position in `images` (later = newer, as a registry lists them in push order),
and an archived image without a transition time ages from its push time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterator, Sequence

from conveyor.registry.lifecycle_grammar import (  # noqa: F401  (re-exported: the grammar lives there)
    DEFAULT_SOURCE,
    LifecyclePolicy,
    Rule,
    Selection,
    parse_policy,
    validate_policy,
)

DAY = timedelta(days=1)
VERBS = {"expire": "expired", "transition": "archived"}


@dataclass(frozen=True)
class Image:
    """One manifest in a repository, with what the lifecycle rules look at."""

    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime
    last_pulled_at: datetime | None = None
    storage_class: str = "standard"  # or "archive"
    transitioned_at: datetime | None = None  # when it moved to archive (ECR: last_archived_at)
    last_activated_at: datetime | None = None  # when it was last restored from archive
    referenced_by: tuple[str, ...] = ()  # digests of image indexes (manifest lists) that list it

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", tuple(self.tags))
        object.__setattr__(self, "referenced_by", tuple(self.referenced_by))


@dataclass(frozen=True)
class Verdict:
    digest: str
    action: str  # "expire", "transition" or "keep"
    rule_priority: int | None  # the rule that acted; None when kept
    explanation: str


@dataclass(frozen=True)
class Evaluation:
    verdicts: tuple[Verdict, ...]  # one per image, in the order the images were given
    applied: tuple[Verdict, ...] = field(default=())  # the acted-on ones, in the order ECR applies them

    @property
    def expire(self) -> list[tuple[str, int]]:
        return self._acted("expire")

    @property
    def transition(self) -> list[tuple[str, int]]:
        return self._acted("transition")

    def _acted(self, action: str) -> list[tuple[str, int]]:
        # only a "keep" verdict has no rule priority
        return [(v.digest, v.rule_priority) for v in self.applied
                if v.action == action and v.rule_priority is not None]

    @property
    def keep(self) -> list[str]:
        return [v.digest for v in self.verdicts if v.action == "keep"]

    @property
    def explanations(self) -> dict[str, str]:
        return {v.digest: v.explanation for v in self.verdicts}

    def preview_results(self, images: Sequence[Image]) -> list[dict]:
        """GetLifecyclePolicyPreview's `previewResults` for the images acted on."""
        by_digest = {img.digest: img for img in images}
        return [{"imageTags": list(by_digest[v.digest].tags), "imageDigest": v.digest,
                 "imagePushedAt": by_digest[v.digest].pushed_at.isoformat(), "action": {"type": v.action},
                 "appliedRulePriority": v.rule_priority, "storageClass": by_digest[v.digest].storage_class}
                for v in self.applied]


def describe(rule: Rule) -> str:
    sel = rule.selection
    tags = sel.tag_status
    tags += f" prefix {', '.join(sel.tag_prefixes)}" if sel.tag_prefixes else ""
    tags += f" pattern {', '.join(sel.tag_patterns)}" if sel.tag_patterns else ""
    about = f' "{rule.description}"' if rule.description else ""
    unit = f" {sel.count_unit}" if sel.count_unit else ""
    return f"rule {rule.priority}{about} ({tags}, {sel.count_type} {sel.count_number}{unit})"


def selects(rule: Rule, image: Image) -> bool:
    return image.storage_class == rule.selection.storage_class and rule.selection.matches_tags(image.tags)


def age_anchor(image: Image) -> datetime:
    """What "pushed at" means for ordering: a restored image counts from its restore."""
    return image.last_activated_at or image.pushed_at


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def days(count: float | timedelta) -> str:
    n = count / DAY if isinstance(count, timedelta) else count
    text = f"{n:.2f}".rstrip("0").rstrip(".")
    return f"{text} day" if text == "1" else f"{text} days"


def judge(rule: Rule, chosen: list[Image], now: datetime,
          position: dict[str, int]) -> Iterator[tuple[Image, bool, str]]:
    """(image, would act on it, why) for every image the rule selects, oldest first."""
    sel, n = rule.selection, rule.selection.count_number
    oldest_first = sorted(chosen, key=lambda img: (age_anchor(img), position[img.digest]))
    if sel.count_type == "imageCountMoreThan":
        total = len(oldest_first)
        for i, img in enumerate(oldest_first):
            rank = total - i
            where = "beyond" if rank > n else "within"
            yield img, rank > n, f"{ordinal(rank)} newest of {total} selected, {where} the {n} kept"
        return
    for img in oldest_first:
        if sel.count_type == "sinceImagePushed":
            since, what = age_anchor(img), "pushed"
        elif sel.count_type == "sinceImagePulled":
            pulls = [t for t in (img.last_pulled_at, img.last_activated_at) if t is not None]
            since = max(pulls) if pulls else img.pushed_at
            what = "last pulled" if img.last_pulled_at is not None else "never pulled; pushed"
        else:  # sinceImageTransitioned
            since, what = img.transitioned_at or img.pushed_at, "archived"
        age = now - since
        more = age > n * DAY
        yield img, more, f"{what} {days(age)} ago, {'more' if more else 'not more'} than {days(n)}"


def evaluate(policy: LifecyclePolicy, images: Sequence[Image], now: datetime) -> Evaluation:
    position = {img.digest: i for i, img in enumerate(images)}
    if len(position) != len(images):
        raise ValueError("evaluate: each image digest must appear once")
    acted: dict[str, tuple[Rule, str]] = {}
    first_selected: dict[str, tuple[Rule, str]] = {}  # the highest-priority rule selecting each image
    spared: dict[str, str] = {}  # why a rule that would act on an image may not
    order: list[str] = []
    for rule in policy.rules:
        chosen = [img for img in images if selects(rule, img)]
        for img, would_act, why in judge(rule, chosen, now, position):
            d = img.digest
            if would_act and d not in acted:
                holder = first_selected.get(d)
                index = next((ref for ref in img.referenced_by if ref in position), None)
                if holder is not None:
                    spared.setdefault(d, f"rule {rule.priority} would {rule.action} it ({why}), but "
                                         f"rule {holder[0].priority} selects it first")
                elif index is not None:
                    spared.setdefault(d, f"rule {rule.priority} would {rule.action} it ({why}), but image "
                                         f"index {index} still lists it; it is eligible once that index is gone")
                else:
                    acted[d] = (rule, why)
                    order.append(d)
            first_selected.setdefault(d, (rule, why))
    verdicts = {img.digest: _verdict(img.digest, acted, first_selected, spared) for img in images}
    return Evaluation(tuple(verdicts.values()), tuple(verdicts[d] for d in order))


def _verdict(d: str, acted: dict, first_selected: dict, spared: dict) -> Verdict:
    if d in acted:
        rule, why = acted[d]
        return Verdict(d, rule.action, rule.priority, f"{VERBS[rule.action]} by {describe(rule)}: {why}")
    if d not in first_selected:
        return Verdict(d, "keep", None, "kept: no rule selects it")
    rule, why = first_selected[d]
    text = f"kept by {describe(rule)}: {why}"
    return Verdict(d, "keep", None, text + (f"; {spared[d]}" if d in spared else ""))
