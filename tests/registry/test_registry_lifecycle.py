"""conveyor.registry.lifecycle: ECR's evaluation rules (aws-semantics §6.3), as tables of images →
the images expired and the rule that expired each. The first scenarios are the worked examples
of the ECR user guide ("Examples of lifecycle policies"), reproduced exactly."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from conveyor.registry.lifecycle import Image, evaluate, validate_policy

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def ago(days: float, seconds: float = 0) -> datetime:
    return NOW - timedelta(days=days, seconds=seconds)


def rule(priority, status="tagged", count="imageCountMoreThan", number=1, *, prefixes=None, patterns=None,
         storage=None, action="expire", description=None):
    sel = {"tagStatus": status, "countType": count, "countNumber": number}
    if count != "imageCountMoreThan":
        sel["countUnit"] = "days"
    if prefixes is not None:
        sel["tagPrefixList"] = prefixes
    if patterns is not None:
        sel["tagPatternList"] = patterns
    if storage is not None:
        sel["storageClass"] = storage
    act = {"type": action} if action == "expire" else {"type": action, "targetStorageClass": "archive"}
    out = {"rulePriority": priority, "selection": sel, "action": act}
    if description:
        out["description"] = description
    return out


def img(digest, tags=(), days=0.0, **extra) -> Image:
    return Image(digest, tuple(tags), ago(days), **extra)


def expired(rules, images) -> dict[str, int]:
    return dict(evaluate(validate_policy({"rules": rules}), images, NOW).expire)


# -- the ECR user guide's examples ---------------------------------------------------------------
BETA_PROD = [img("A", ["beta-1", "prod-1"], 10), img("B", ["beta-2", "prod-2"], 9), img("C", ["beta-3"], 8)]
ALPHA_BETA = [img("A", ["alpha-1"], 12), img("B", ["beta-1"], 11), img("C", ["alpha-2", "beta-2"], 10),
              img("D", ["alpha-3"], 4), img("E", ["beta-3"], 3), img("F", ["alpha-4", "beta-4"], 2)]
NOT_EXCLUSIVE = [img("A", ["alpha-1", "beta-1", "gamma-1"], 10), img("B", ["alpha-2", "beta-2"], 9),
                 img("C", ["alpha-3", "beta-3", "gamma-2"], 8)]
ALL_IMAGES = [img("A", ["alpha-1"], 4), img("B", ["beta-1"], 3), img("C", [], 2), img("D", ["alpha-2"], 1)]
# D and E are both "1 day ago"; E is listed later, so it counts as newer (assumed tie-break).
ALL_KINDS = [img("A", ["alpha-1", "beta-1"], 4), img("B", [], 3), img("C", ["alpha-2"], 2),
             img("D", ["git hash"], 1), img("E", [], 1)]

GUIDE = [
    ("multiple rules A: prod rule first", [rule(1, prefixes=["prod"]), rule(2, prefixes=["beta"])], BETA_PROD,
     {"A": 1}),
    ("multiple rules B: beta rule first", [rule(1, prefixes=["beta"]), rule(2, prefixes=["prod"])], BETA_PROD,
     {"A": 1, "B": 1}),
    ("multiple patterns in one rule are ANDed",
     [rule(1, count="sinceImagePushed", number=5, patterns=["alpha*", "beta*"])], ALPHA_BETA, {"C": 1}),
    ("multiple prefixes in one rule are ANDed (gotcha 19)",
     [rule(1, count="sinceImagePushed", number=5, prefixes=["alpha", "beta"])], ALPHA_BETA, {"C": 1}),
    ("tags are not exclusive", [rule(1, patterns=["alpha*", "beta*"])], NOT_EXCLUSIVE, {"A": 1, "B": 1}),
    ("any: keep the newest image only", [rule(1, "any")], ALL_IMAGES, {"A": 1, "B": 1, "C": 1}),
    ("all rule kinds together",
     [rule(1, patterns=["alpha*"]), rule(2, "untagged", "sinceImagePushed", 1), rule(3, "any")], ALL_KINDS,
     {"A": 1, "B": 2, "D": 3}),
]

# -- our own tables ------------------------------------------------------------------------------
FIVE = [img(f"i{n}", [f"v{n}"], days=10 - n) for n in range(5)]  # i4 newest … i0 oldest
EDGES = [
    ("countNumber equal to the number of images keeps all", [rule(1, prefixes=["v"], number=5)], FIVE, {}),
    ("countNumber one below expires the oldest", [rule(1, prefixes=["v"], number=4)], FIVE, {"i0": 1}),
    ("countNumber 1 keeps only the newest", [rule(1, prefixes=["v"], number=1)], FIVE,
     {"i0": 1, "i1": 1, "i2": 1, "i3": 1}),
    ("exactly N days old is not older than N days",
     [rule(1, "any", "sinceImagePushed", 14)], [img("a", ["x"], 14), img("b", ["x"], 14, )], {}),
    ("one second past N days is",
     [rule(1, "any", "sinceImagePushed", 14)], [Image("a", ("x",), ago(14, 1)), img("b", ["x"], 13.9)], {"a": 1}),
    ("ties in push time: the image listed later counts as newer (assumed)",
     [rule(1, "any")], [img("first", ["x"], 1), img("second", ["y"], 1)], {"first": 1}),
    ("untagged rules see only untagged images",
     [rule(1, "untagged")], [img("t1", ["a"], 5), img("u1", [], 4), img("u2", [], 3), img("t2", ["b"], 1)],
     {"u1": 1}),
    ("tagged rules never see untagged images", [rule(1, patterns=["*"])], [img("u", [], 9), img("t", ["x"], 1)], {}),
    ("a multi-tag image is selected when one of its tags matches the prefix",
     [rule(1, prefixes=["prod"])], [img("old", ["latest", "prod-1", "sha-1"], 2), img("new", ["prod-2"], 1)],
     {"old": 1}),
    ("a prefix is a prefix: prod matches production", [rule(1, prefixes=["prod"])],
     [img("a", ["production"], 2), img("b", ["prod"], 1)], {"a": 1}),
    ("a pattern without * matches the whole tag only", [rule(1, patterns=["prod"])],
     [img("a", ["prod"], 3), img("b", ["prod-1"], 2), img("c", ["prod"], 1)], {"a": 1}),
    ("*prod* matches anywhere", [rule(1, patterns=["*prod*"])],
     [img("a", ["repo-production"], 2), img("b", ["prod-team"], 1), img("c", ["dev"], 0)], {"a": 1}),
    # rule 1 keeps the young prod image; rule 2 may not expire it although it is beyond its window
    ("an image kept by a higher rule is protected from lower ones",
     [rule(1, "tagged", "sinceImagePushed", 30, prefixes=["prod"]), rule(2, "any")],
     [img("prod-old", ["prod-1"], 40), img("prod-young", ["prod-2"], 5), img("dev", ["dev-1"], 3),
      img("newest", ["dev-2"], 1)], {"prod-old": 1, "dev": 2}),
    # the two prod images fill rule 2's window of 2 although rule 1 acts on neither
    ("lower rules still count protected images in their window",
     [rule(1, prefixes=["prod"], number=5), rule(2, "any", number=2)],
     [img("x1", ["x1"], 5), img("x2", ["x2"], 4), img("x3", ["x3"], 3), img("p2", ["prod-2"], 2),
      img("p1", ["prod-1"], 1)], {"x1": 2, "x2": 2, "x3": 2}),
    ("an image expired by a higher rule is counted, not expired twice",
     [rule(1, prefixes=["a"]), rule(2, prefixes=["b"], number=2)],
     [img("ab1", ["a-1", "b-1"], 3), img("ab2", ["a-2", "b-2"], 2), img("b3", ["b-3"], 1)], {"ab1": 1}),
    ("a restored image orders by its restore time",
     [rule(1, "any")], [img("restored", ["r"], 30, last_activated_at=ago(0.5)), img("recent", ["n"], 1)],
     {"recent": 1}),
    ("an image still listed by an index is not expired",
     [rule(1, "untagged")], [img("child", [], 9, referenced_by=("idx",)), img("idx", ["v1"], 9),
                             img("u2", [], 5), img("u3", [], 1)], {"u2": 1}),
    ("once the index is gone its child may expire",
     [rule(1, "untagged")], [img("child", [], 9, referenced_by=("idx",)), img("u3", [], 1)], {"child": 1}),
]


@pytest.mark.parametrize("rules, images, want", [c[1:] for c in GUIDE + EDGES], ids=[c[0] for c in GUIDE + EDGES])
def test_expired_images_and_the_rule_that_expired_each(rules, images, want):
    assert expired(rules, images) == want


def test_archive_rules_transition_then_expire():
    rules = [rule(1, "any", "sinceImagePulled", 90, action="transition"),
             rule(2, "any", "sinceImageTransitioned", 365, storage="archive")]
    images = [img("never-pulled", ["a"], 100), img("pulled", ["b"], 100, last_pulled_at=ago(10)),
              img("stale-pull", ["c"], 200, last_pulled_at=ago(95)),
              img("archived-long", ["d"], 900, storage_class="archive", transitioned_at=ago(400)),
              img("archived-recently", ["e"], 900, storage_class="archive", transitioned_at=ago(100))]
    result = evaluate(validate_policy({"rules": rules}), images, NOW)
    assert result.transition == [("stale-pull", 1), ("never-pulled", 1)]
    assert result.expire == [("archived-long", 2)]
    assert result.keep == ["pulled", "archived-recently"]


def test_order_applied_is_rule_priority_then_oldest_first():
    rules = [rule(1, prefixes=["a"]), rule(2, "untagged")]
    images = [img("u-new", [], 2), img("a-mid", ["a-2"], 5), img("a-new", ["a-3"], 1), img("u-old", [], 6),
              img("u-newest", [], 0), img("a-old", ["a-1"], 9)]
    result = evaluate(validate_policy({"rules": rules}), images, NOW)
    assert result.expire == [("a-old", 1), ("a-mid", 1), ("u-old", 2), ("u-new", 2)]
    assert result.keep == ["a-new", "u-newest"]
    assert [v.digest for v in result.verdicts] == [i.digest for i in images]


def test_explanations_say_which_rule_and_why():
    rules = [rule(1, patterns=["alpha*"], description="keep one alpha"), rule(2, "untagged", "sinceImagePushed", 1),
             rule(3, "any")]
    result = evaluate(validate_policy({"rules": rules}), ALL_KINDS + [img("F", ["x"], 0, storage_class="archive")], NOW)
    assert result.explanations == {
        "A": 'expired by rule 1 "keep one alpha" (tagged pattern alpha*, imageCountMoreThan 1): '
             "2nd newest of 2 selected, beyond the 1 kept",
        "B": "expired by rule 2 (untagged, sinceImagePushed 1 days): pushed 3 days ago, more than 1 day",
        "C": 'kept by rule 1 "keep one alpha" (tagged pattern alpha*, imageCountMoreThan 1): 1st newest of 2 '
             "selected, within the 1 kept; rule 3 would expire it (3rd newest of 5 selected, beyond the 1 kept), "
             "but rule 1 selects it first",
        "D": "expired by rule 3 (any, imageCountMoreThan 1): 2nd newest of 5 selected, beyond the 1 kept",
        "E": "kept by rule 2 (untagged, sinceImagePushed 1 days): pushed 1 day ago, not more than 1 day",
        "F": "kept: no rule selects it",
    }


def test_index_explanation_and_preview_results():
    images = [img("child", [], 9, referenced_by=("idx",)), img("idx", ["v1"], 9), img("u", [], 1)]
    result = evaluate(validate_policy({"rules": [rule(1, "untagged")]}), images, NOW)
    assert result.explanations["child"].endswith(
        "rule 1 would expire it (2nd newest of 2 selected, beyond the 1 kept), but image index idx still "
        "lists it; it is eligible once that index is gone")
    assert evaluate(validate_policy({"rules": [rule(1, "any")]}), images[1:], NOW).preview_results(images) == [
        {"imageTags": ["v1"], "imageDigest": "idx", "imagePushedAt": ago(9).isoformat(),
         "action": {"type": "expire"}, "appliedRulePriority": 1, "storageClass": "standard"}]


def test_rules_apply_in_priority_order_not_document_order():
    rules = [rule(7, prefixes=["beta"]), rule(3, prefixes=["prod"])]  # same as guide example A
    assert expired(rules, BETA_PROD) == {"A": 3}


def test_duplicate_digests_are_a_programming_error():
    with pytest.raises(ValueError):
        evaluate(validate_policy({"rules": [rule(1, "any")]}), [img("a"), img("a")], NOW)
