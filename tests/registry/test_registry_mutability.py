"""conveyor.registry.mutability: which pushes ECR refuses (aws-semantics §6.1), over the full matrix
of mutability settings × tag kinds × whether the tag already points elsewhere."""

from __future__ import annotations

import pytest

from conveyor.errors import Conflict, UserError
from conveyor.registry.mutability import (
    DEFAULT_MUTABILITY,
    ExclusionFilter,
    Mutability,
    Rejection,
    TagPolicy,
    check_push,
    wildcard,
)

OLD, NEW = "sha256:" + "a" * 64, "sha256:" + "b" * 64
EXISTING = {"v1": OLD, "latest": OLD, "dev-42": OLD, "release-3": OLD}


def policy(mode: str, *filters: str) -> TagPolicy:
    return TagPolicy.from_api({"imageTagMutability": mode,
                               "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": f}
                                                                      for f in filters]})


MUTABLE = policy("MUTABLE")
IMMUTABLE = policy("IMMUTABLE")
IMMUTABLE_EXCEPT = policy("IMMUTABLE_WITH_EXCLUSION", "latest", "dev-*")
MUTABLE_EXCEPT = policy("MUTABLE_WITH_EXCLUSION", "release-*")

# (policy, tag, refused when the tag already points at another digest?)
MATRIX = [
    (MUTABLE, "v1", False), (MUTABLE, "latest", False),
    (IMMUTABLE, "v1", True), (IMMUTABLE, "latest", True),
    (IMMUTABLE_EXCEPT, "v1", True), (IMMUTABLE_EXCEPT, "latest", False), (IMMUTABLE_EXCEPT, "dev-42", False),
    (IMMUTABLE_EXCEPT, "release-3", True),
    (MUTABLE_EXCEPT, "v1", False), (MUTABLE_EXCEPT, "latest", False), (MUTABLE_EXCEPT, "release-3", True),
]


@pytest.mark.parametrize("pol, tag, refused", MATRIX, ids=[f"{p.mutability.value}-{t}" for p, t, _ in MATRIX])
def test_moving_an_existing_tag(pol, tag, refused):
    result = check_push(pol, EXISTING, tag, NEW)
    assert (result is not None) == refused
    if refused:
        assert isinstance(result, Rejection) and result.code == "ImageTagAlreadyExistsException"


@pytest.mark.parametrize("pol", [MUTABLE, IMMUTABLE, IMMUTABLE_EXCEPT, MUTABLE_EXCEPT],
                         ids=lambda p: p.mutability.value)
def test_new_tags_and_same_digest_pushes_are_always_allowed(pol):
    assert check_push(pol, EXISTING, "v2", NEW) is None
    assert check_push(pol, EXISTING, "release-9", NEW) is None
    assert check_push(pol, EXISTING, "v1", OLD) is None  # re-pushing the same image is not a change
    assert check_push(pol, {}, "v1", NEW) is None


def test_immutable_message_is_ecrs_and_says_what_to_do():
    r = check_push(IMMUTABLE, EXISTING, "v1", NEW, repository="orders")
    assert r.message == ("The image tag 'v1' already exists in the 'orders' repository and cannot be overwritten "
                         "because the repository is immutable.")
    assert r.hint == (f"push under a new tag (for example the commit id); 'v1' still points at {OLD}. To move it, "
                      "delete that image's tag first, or make the repository MUTABLE (or IMMUTABLE_WITH_EXCLUSION "
                      "with a filter for this tag)")
    assert r.registry_code == "TAG_INVALID"
    err = r.to_error()
    assert isinstance(err, Conflict) and err.exit_code == 2
    assert str(err) == "ImageTagAlreadyExistsException: " + r.message and err.hint == r.hint


def test_exclusion_modes_name_the_tag_and_the_filter_to_change():
    r = check_push(IMMUTABLE_EXCEPT, EXISTING, "v1", NEW)
    assert r.message == "The image tag 'v1' already exists and cannot be overwritten because the tag is immutable."
    assert r.hint.endswith("or add an exclusion filter matching 'v1' to keep it mutable")
    r = check_push(MUTABLE_EXCEPT, EXISTING, "release-3", NEW, repository="web")
    assert r.message == ("The image tag 'release-3' already exists in the 'web' repository and cannot be "
                         "overwritten because the tag is immutable.")
    assert r.hint.endswith("or remove the exclusion filter that matches 'release-3'")


@pytest.mark.parametrize("pattern, tag, matches", [
    ("latest", "latest", True), ("latest", "latest-1", False), ("dev-*", "dev-", True), ("dev-*", "dev-42", True),
    ("dev-*", "xdev-42", False), ("*-rc", "1.0-rc", True), ("*", "anything", True), ("a*b*c", "aXXbYYc", True),
    ("a*b*c", "acb", False), ("v1.0", "v1x0", False),  # '.' is literal
])
def test_wildcard_filters(pattern, tag, matches):
    assert ExclusionFilter(pattern).matches(tag) is matches
    assert (wildcard(pattern).fullmatch(tag) is not None) is matches


def test_defaults():
    assert DEFAULT_MUTABILITY is Mutability.MUTABLE
    assert TagPolicy() == TagPolicy.from_api({}) == MUTABLE


@pytest.mark.parametrize("settings, message", [
    ({"imageTagMutability": "immutable"},
     "invalid tag mutability settings: imageTagMutability: 'immutable' is not one of MUTABLE, IMMUTABLE, "
     "IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION"),
    ({"imageTagMutability": "IMMUTABLE", "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD",
                                                                                 "filter": "latest"}]},
     "invalid tag mutability settings: imageTagMutabilityExclusionFilters: only allowed with "
     "IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION, not IMMUTABLE; remove the filters"),
    ({"imageTagMutability": "IMMUTABLE_WITH_EXCLUSION"},
     "invalid tag mutability settings: imageTagMutabilityExclusionFilters: IMMUTABLE_WITH_EXCLUSION needs 1 to 5 "
     "filters, got 0"),
    ({"imageTagMutability": "MUTABLE_WITH_EXCLUSION",
      "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": f"r{i}*"} for i in range(6)]},
     "invalid tag mutability settings: imageTagMutabilityExclusionFilters: MUTABLE_WITH_EXCLUSION needs 1 to 5 "
     "filters, got 6"),
    ({"imageTagMutability": "MUTABLE_WITH_EXCLUSION",
      "imageTagMutabilityExclusionFilters": [{"filterType": "REGEX", "filter": "release-.*"}]},
     "invalid tag mutability settings: imageTagMutabilityExclusionFilters[0].filterType: must be WILDCARD, "
     "got 'REGEX'"),
    ({"imageTagMutability": "MUTABLE_WITH_EXCLUSION",
      "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "release/+"}]},
     "invalid tag mutability settings: imageTagMutabilityExclusionFilters[0].filter: 'release/+' must be 1 to "
     "128 of the characters a-z A-Z 0-9 . _ - and * (the wildcard)"),
    ({"imageTagMutability": "MUTABLE_WITH_EXCLUSION", "imageTagMutabilityExclusionFilters": "release-*"},
     "invalid tag mutability settings: imageTagMutabilityExclusionFilters: expected a list of "
     '{"filterType": "WILDCARD", "filter": "<tag pattern>"}'),
])
def test_invalid_settings(settings, message):
    with pytest.raises(UserError) as exc:
        TagPolicy.from_api(settings)
    assert str(exc.value) == message


def test_filter_length_limit():
    assert policy("MUTABLE_WITH_EXCLUSION", "x" * 128).is_immutable("x" * 128)
    with pytest.raises(UserError):
        policy("MUTABLE_WITH_EXCLUSION", "x" * 129)
