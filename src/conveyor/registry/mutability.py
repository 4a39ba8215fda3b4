"""Tag mutability, as ECR applies it when a tag is pushed (aws-semantics §6.1).

    policy = TagPolicy.from_api({"imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
                                 "imageTagMutabilityExclusionFilters": [
                                     {"filterType": "WILDCARD", "filter": "latest"}]})
    check_push(policy, {"v1": "sha256:aaa"}, "v1", "sha256:bbb", repository="web")
    # -> Rejection(code='ImageTagAlreadyExistsException', message="The image tag 'v1' already …")
    check_push(policy, {"latest": "sha256:aaa"}, "latest", "sha256:bbb")   # -> None: moves the tag

IMMUTABLE_WITH_EXCLUSION: every tag is immutable except those matching a filter.
MUTABLE_WITH_EXCLUSION: every tag is mutable except those matching a filter.
Pushing a tag that already points at the same digest is not a change, so it is always allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Mapping

from conveyor.errors import Conflict, UserError


class Mutability(str, Enum):
    MUTABLE = "MUTABLE"
    IMMUTABLE = "IMMUTABLE"
    IMMUTABLE_WITH_EXCLUSION = "IMMUTABLE_WITH_EXCLUSION"
    MUTABLE_WITH_EXCLUSION = "MUTABLE_WITH_EXCLUSION"


DEFAULT_MUTABILITY = Mutability.MUTABLE  # [api] CreateRepository.imageTagMutability default
EXCLUSION_FILTERS = (1, 5)  # [api] imageTagMutabilityExclusionFilters, min/max items
FILTER_RE = re.compile(r"[0-9a-zA-Z._*-]{1,128}")  # [api] ImageTagMutabilityExclusionFilter.filter
FILTER_TYPES = ("WILDCARD",)
WITH_EXCLUSION = (Mutability.IMMUTABLE_WITH_EXCLUSION, Mutability.MUTABLE_WITH_EXCLUSION)

TAG_ALREADY_EXISTS = "ImageTagAlreadyExistsException"
REGISTRY_ERROR_CODE = "TAG_INVALID"  # what the registry API (docker push) reports for the same refusal


def wildcard(pattern: str) -> re.Pattern[str]:
    """ECR's tag wildcard, for exclusion filters and lifecycle tagPatternList: `*` matches any run
    of characters (also none), everything else is literal, and the pattern must match the whole
    tag (`prod*` matches prod, prod1 and production-team1; `*prod*` also repo-production)."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


@dataclass(frozen=True)
class ExclusionFilter:
    filter: str
    filter_type: str = "WILDCARD"

    def matches(self, tag: str) -> bool:
        return wildcard(self.filter).fullmatch(tag) is not None


@dataclass(frozen=True)
class TagPolicy:
    mutability: Mutability = DEFAULT_MUTABILITY
    exclusion_filters: tuple[ExclusionFilter, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "mutability", Mutability(self.mutability))
        problems = policy_problems(self)
        if problems:
            raise UserError(f"invalid tag mutability settings: {problems[0]}",
                            hint="see `imageTagMutability` in the ECR API reference")

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> TagPolicy:
        """From the CreateRepository / PutImageTagMutability request shape."""
        raw = data.get("imageTagMutability", DEFAULT_MUTABILITY.value)
        if raw not in {m.value for m in Mutability}:
            raise UserError(f"invalid tag mutability settings: imageTagMutability: '{raw}' is not one of "
                            + ", ".join(m.value for m in Mutability))
        items = data.get("imageTagMutabilityExclusionFilters") or ()
        if not isinstance(items, (list, tuple)) or not all(isinstance(f, Mapping) for f in items):
            raise UserError("invalid tag mutability settings: imageTagMutabilityExclusionFilters: expected a "
                            'list of {"filterType": "WILDCARD", "filter": "<tag pattern>"}')
        filters = tuple(ExclusionFilter(str(f.get("filter", "")), str(f.get("filterType", ""))) for f in items)
        return cls(Mutability(raw), filters)

    def is_immutable(self, tag: str) -> bool:
        excluded = any(f.matches(tag) for f in self.exclusion_filters)
        if self.mutability is Mutability.IMMUTABLE:
            return True
        if self.mutability is Mutability.IMMUTABLE_WITH_EXCLUSION:
            return not excluded
        if self.mutability is Mutability.MUTABLE_WITH_EXCLUSION:
            return excluded
        return False


def policy_problems(policy: TagPolicy) -> list[str]:
    filters = policy.exclusion_filters
    if policy.mutability not in WITH_EXCLUSION:
        return ([f"imageTagMutabilityExclusionFilters: only allowed with IMMUTABLE_WITH_EXCLUSION or "
                 f"MUTABLE_WITH_EXCLUSION, not {policy.mutability.value}; remove the filters"] if filters else [])
    low, high = EXCLUSION_FILTERS
    if not low <= len(filters) <= high:
        return [f"imageTagMutabilityExclusionFilters: {policy.mutability.value} needs {low} to {high} "
                f"filters, got {len(filters)}"]
    out = []
    for i, f in enumerate(filters):
        where = f"imageTagMutabilityExclusionFilters[{i}]"
        if not f.filter_type:
            out.append(f"{where}.filterType: required: WILDCARD")
        elif f.filter_type not in FILTER_TYPES:
            out.append(f"{where}.filterType: must be WILDCARD, got '{f.filter_type}'")
        if not FILTER_RE.fullmatch(f.filter):
            out.append(f"{where}.filter: '{f.filter}' must be 1 to 128 of the characters "
                       "a-z A-Z 0-9 . _ - and * (the wildcard)")
    return out


@dataclass(frozen=True)
class Rejection:
    """Why a push was refused: ECR's exception name and message, plus what to do next."""

    message: str
    hint: str
    code: str = TAG_ALREADY_EXISTS
    registry_code: str = REGISTRY_ERROR_CODE

    def to_error(self) -> Conflict:
        return Conflict(f"{self.code}: {self.message}", hint=self.hint)


def check_push(policy: TagPolicy, existing_tags: Mapping[str, str], tag: str, new_digest: str,
               *, repository: str | None = None) -> Rejection | None:
    """None if `tag` may point at `new_digest`; else the Rejection, and the tag stays where it is."""
    current = existing_tags.get(tag)
    if current is None or current == new_digest or not policy.is_immutable(tag):
        return None
    where = f" in the '{repository}' repository" if repository else ""
    # ECR's wording: a fully IMMUTABLE repository says so; the exclusion modes name the tag instead.
    because = "the repository is immutable" if policy.mutability is Mutability.IMMUTABLE else "the tag is immutable"
    message = f"The image tag '{tag}' already exists{where} and cannot be overwritten because {because}."
    if policy.mutability is Mutability.MUTABLE_WITH_EXCLUSION:
        change = f"or remove the exclusion filter that matches '{tag}'"
    elif policy.mutability is Mutability.IMMUTABLE_WITH_EXCLUSION:
        change = f"or add an exclusion filter matching '{tag}' to keep it mutable"
    else:
        change = "or make the repository MUTABLE (or IMMUTABLE_WITH_EXCLUSION with a filter for this tag)"
    hint = (f"push under a new tag (for example the commit id); '{tag}' still points at {current}. "
            f"To move it, delete that image's tag first, {change}")
    return Rejection(message, hint)
