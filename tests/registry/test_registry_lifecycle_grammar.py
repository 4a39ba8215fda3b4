"""conveyor.registry.lifecycle_grammar: every validation message, exactly (aws-semantics §6.2 and the
ECR guide's "Lifecycle policy properties")."""

from __future__ import annotations

import copy
import json

import pytest

from conveyor.errors import ConfigError
from conveyor.registry.lifecycle import parse_policy, validate_policy
from conveyor.registry.lifecycle_grammar import MAX_RULES, LifecyclePolicy, Selection

P = "lifecycle policy "
BASE = {"rules": [
    {"rulePriority": 1, "description": "keep last 10 release images",
     "selection": {"tagStatus": "tagged", "tagPatternList": ["release-*"], "countType": "imageCountMoreThan",
                   "countNumber": 10},
     "action": {"type": "expire"}},
    {"rulePriority": 2,
     "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14},
     "action": {"type": "expire"}},
]}


def doc(edit=None) -> dict:
    data = copy.deepcopy(BASE)
    if edit:
        edit(data)
    return data


def problems(data) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        validate_policy(data)
    return [str(d) for d in exc.value.diagnostics]


def sel(i, **changes):
    def edit(d):
        for k, v in changes.items():
            if v is None:
                d["rules"][i]["selection"].pop(k, None)
            else:
                d["rules"][i]["selection"][k] = v
    return edit


def act(i, **changes):
    def edit(d):
        d["rules"][i]["action"] = {k: v for k, v in changes.items()}
    return edit


def top(i, key, value=None, drop=False):
    def edit(d):
        if drop:
            del d["rules"][i][key]
        else:
            d["rules"][i][key] = value
    return edit


def test_the_reference_example_is_valid():
    policy = validate_policy(doc())
    assert isinstance(policy, LifecyclePolicy)
    assert [r.priority for r in policy.rules] == [1, 2]
    assert policy.rules[0].selection == Selection("tagged", "imageCountMoreThan", 10, None, (), ("release-*",))
    assert policy.rules[1].selection.count_unit == "days"
    assert policy.rules[0].description == "keep last 10 release images"


def test_parse_policy_reads_text():
    assert parse_policy(json.dumps(doc())) == validate_policy(doc())


CASES = [
    ("countUnit missing", sel(1, countUnit=None),
     'rules[1].selection.countUnit: required when countType is sinceImagePushed; add "countUnit": "days"'),
    ("countUnit with imageCountMoreThan", sel(0, countUnit="days"),
     "rules[0].selection.countUnit: only allowed when countType is sinceImagePushed, sinceImagePulled or "
     "sinceImageTransitioned; remove it (imageCountMoreThan counts images)"),
    ("countUnit not days", sel(1, countUnit="hours"), 'rules[1].selection.countUnit: must be days, got "hours"'),
    ("countNumber 0", sel(0, countNumber=0),
     "rules[0].selection.countNumber: must be a positive integer (0 is not accepted), got 0"),
    ("countNumber string", sel(0, countNumber="5"),
     'rules[0].selection.countNumber: must be a positive integer (0 is not accepted), got "5"'),
    ("countNumber float", sel(0, countNumber=1.5),
     "rules[0].selection.countNumber: must be a positive integer (0 is not accepted), got 1.5"),
    ("countNumber bool", sel(0, countNumber=True),
     "rules[0].selection.countNumber: must be a positive integer (0 is not accepted), got true"),
    ("countNumber missing", sel(0, countNumber=None),
     "rules[0].selection.countNumber: required: a positive integer (images to keep, or days)"),
    ("countType missing", sel(0, countType=None),
     "rules[0].selection.countType: required: imageCountMoreThan, sinceImagePushed, sinceImagePulled, "
     "sinceImageTransitioned"),
    ("countType unknown", sel(0, countType="imageCountLessThan"),
     "rules[0].selection.countType: must be one of imageCountMoreThan, sinceImagePushed, sinceImagePulled, "
     "sinceImageTransitioned; got \"imageCountLessThan\" (did you mean 'imageCountMoreThan'?)"),
    ("tagStatus missing", sel(0, tagStatus=None, tagPatternList=None),
     "rules[0].selection.tagStatus: required: tagged, untagged or any"),
    ("tagStatus wrong case", sel(0, tagStatus="Tagged"),
     "rules[0].selection.tagStatus: must be one of tagged, untagged, any; got \"Tagged\" (did you mean 'tagged'?)"),
    ("tagged without lists", sel(0, tagPatternList=None),
     "rules[0].selection: tagStatus tagged requires a tagPatternList or a tagPrefixList; to select every image "
     "use tagStatus any"),
    ("both lists", sel(0, tagPrefixList=["v"]),
     "rules[0].selection: give either tagPatternList or tagPrefixList, not both"),
    ("untagged with prefixes", sel(1, tagPrefixList=["v"]),
     "rules[1].selection.tagPrefixList: only allowed when tagStatus is tagged, not untagged; remove it or set "
     "tagStatus to tagged"),
    ("any with patterns", sel(0, tagStatus="any"),
     "rules[0].selection.tagPatternList: only allowed when tagStatus is tagged, not any; remove it or set "
     "tagStatus to tagged"),
    ("five wildcards", sel(0, tagPatternList=["*test*1*2*3", "test*1*2*3*4*5*6"]),
     "rules[0].selection.tagPatternList[1]: 'test*1*2*3*4*5*6' has 6 wildcards (*); at most 4 are allowed"),
    ("empty pattern list", sel(0, tagPatternList=[]),
     "rules[0].selection.tagPatternList: must be a non-empty list of patterns, got an empty list"),
    ("prefix list not a list", sel(0, tagPatternList=None, tagPrefixList="prod"),
     "rules[0].selection.tagPrefixList: must be a non-empty list of prefixes, got a string"),
    ("empty prefix entry", sel(0, tagPatternList=None, tagPrefixList=["prod", ""]),
     'rules[0].selection.tagPrefixList[1]: must be a non-empty string, got ""'),
    ("storageClass missing for sinceImageTransitioned", sel(1, tagStatus="any", countType="sinceImageTransitioned",
                                                            countNumber=90),
     "rules[1].selection.storageClass: required when countType is sinceImageTransitioned; set it to archive"),
    ("storageClass standard for sinceImageTransitioned",
     sel(1, tagStatus="any", countType="sinceImageTransitioned", storageClass="standard", countNumber=90),
     "rules[1].selection.storageClass: must be archive when countType is sinceImageTransitioned (only archived "
     "images have a transition time)"),
    ("archive for sinceImagePushed", sel(1, storageClass="archive"),
     "rules[1].selection.storageClass: archive is only allowed with countType sinceImageTransitioned, not "
     "sinceImagePushed; use standard or remove it"),
    ("unknown storage class", sel(1, storageClass="glacier"),
     'rules[1].selection.storageClass: must be one of standard, archive; got "glacier"'),
    ("archive expiry under 90 days",
     sel(1, tagStatus="any", countType="sinceImageTransitioned", storageClass="archive", countNumber=89),
     "rules[1].selection.countNumber: archived images must stay in archive at least 90 days before a lifecycle "
     "policy may expire them; use 90 or more"),
    ("action missing", top(0, "action", drop=True), 'rules[0].action: required: {"type": "expire"}'),
    ("action type missing", act(0), "rules[0].action.type: required: expire or transition"),
    ("action type unknown", act(0, type="delete"),
     'rules[0].action.type: must be one of expire, transition; got "delete"'),
    ("transition without target", act(0, type="transition"),
     "rules[0].action.targetStorageClass: required when type is transition; set it to archive"),
    ("transition to glacier", act(0, type="transition", targetStorageClass="glacier"),
     'rules[0].action.targetStorageClass: must be archive, got "glacier"'),
    ("null target", act(0, type="transition", targetStorageClass=None),
     "rules[0].action.targetStorageClass: must be archive, got null"),
    ("expire with target", act(0, type="expire", targetStorageClass="archive"),
     "rules[0].action.targetStorageClass: only allowed when type is transition; remove it"),
    ("sinceImagePulled expire (assumed)", sel(1, countType="sinceImagePulled"),
     "rules[1].action.type: countType sinceImagePulled can only transition images to archive; use transition "
     "(targetStorageClass archive) and expire them later with a sinceImageTransitioned rule"),
    ("rulePriority missing", top(0, "rulePriority", drop=True),
     "rules[0].rulePriority: required: an integer of 1 or more, unique across rules"),
    ("rulePriority 0", top(0, "rulePriority", 0), "rules[0].rulePriority: must be an integer of 1 or more, got 0"),
    ("rulePriority duplicate", top(1, "rulePriority", 1),
     "rules[1].rulePriority: 1 is already used by rules[0]; give each rule its own rulePriority"),
    ("description not a string", top(0, "description", 5), "rules[0].description: must be a string, got an integer"),
    ("selection missing", top(0, "selection", drop=True),
     "rules[0].selection: required: which images the rule applies to (tagStatus, countType, …)"),
    ("selection not an object", top(0, "selection", []), "rules[0].selection: expected an object, got a list"),
    ("unknown rule key", top(0, "priority", 1), "rules[0]: unknown key 'priority' (did you mean 'rulePriority'?)"),
    ("unknown selection key", sel(0, tagPatterns=["x"]),
     "rules[0].selection: unknown key 'tagPatterns' (did you mean 'tagPatternList'?)"),
    ("any not last", sel(0, tagStatus="any", tagPatternList=None),
     "rules[0].rulePriority: a rule with tagStatus any must have the highest rulePriority (it is applied last), "
     "but 1 is below 2; give it a rulePriority above 2"),
    ("two untagged rules", lambda d: d["rules"].append({**copy.deepcopy(d["rules"][1]), "rulePriority": 3}),
     "rules[2].selection.tagStatus: only one rule per storage class may select untagged images, and rules[1] "
     "already does; merge the two rules"),
    ("prefix reused", lambda d: d["rules"].extend([
        {"rulePriority": 5, "selection": {"tagStatus": "tagged", "tagPrefixList": ["prod", "v"],
                                          "countType": "imageCountMoreThan", "countNumber": 1},
         "action": {"type": "expire"}},
        {"rulePriority": 6, "selection": {"tagStatus": "tagged", "tagPrefixList": ["dev", "prod"],
                                          "countType": "imageCountMoreThan", "countNumber": 1},
         "action": {"type": "expire"}}]),
     "rules[3].selection.tagPrefixList[1]: prefix 'prod' is already used by rules[2]; a tag prefix may appear "
     "in only one rule per storage class"),
]


@pytest.mark.parametrize("edit, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_problem_has_one_exact_message(edit, message):
    assert problems(doc(edit)) == [P + message]


def test_document_shape_errors():
    assert problems([]) == [P.rstrip() + ": expected an object with a 'rules' list, got a list"]
    assert problems({}) == [P + "rules: required: a list of 1 to 50 rules"]
    assert problems({"rules": {}}) == [P + "rules: expected a list of rules, got a mapping"]
    assert problems({"rules": []}) == [P + "rules: must hold at least one rule"]
    too_many = {"rules": [doc()["rules"][0]] * (MAX_RULES + 1)}
    assert problems(too_many) == [P + "rules: at most 50 rules are allowed, got 51"]
    assert problems({"rules": ["x"]}) == [
        P + "rules[0]: expected an object with rulePriority, selection and action, got a string"]
    assert problems({**doc(), "version": 1}) == [P.rstrip() + ": unknown key 'version'; expected one of rules"]


def test_every_problem_is_reported_at_once_sorted_by_path():
    got = problems(doc(lambda d: (sel(1, countUnit=None)(d), top(0, "rulePriority", 0)(d))))
    assert got == [P + "rules[0].rulePriority: must be an integer of 1 or more, got 0",
                   P + 'rules[1].selection.countUnit: required when countType is sinceImagePushed; '
                       'add "countUnit": "days"']


def test_rules_scoped_to_a_storage_class_do_not_clash_with_the_other():
    # the guide's archive example: an `any` rule below an archive-class rule, the same pattern twice,
    # and an untagged rule in each class
    policy = validate_policy({"rules": [
        {"rulePriority": 1, "selection": {"tagStatus": "any", "countType": "sinceImagePulled", "countUnit": "days",
                                          "countNumber": 90},
         "action": {"type": "transition", "targetStorageClass": "archive"}},
        {"rulePriority": 2, "selection": {"tagStatus": "any", "storageClass": "archive",
                                          "countType": "sinceImageTransitioned", "countUnit": "days",
                                          "countNumber": 365},
         "action": {"type": "expire"}},
    ]})
    assert [r.selection.storage_class for r in policy.rules] == ["standard", "archive"]
    untagged_each = {"rules": [
        {"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
                                          "countUnit": "days", "countNumber": 7},
         "action": {"type": "transition", "targetStorageClass": "archive"}},
        {"rulePriority": 2, "selection": {"tagStatus": "tagged", "tagPrefixList": ["v"],
                                          "countType": "sinceImagePushed",
                                          "countUnit": "days", "countNumber": 7},
         "action": {"type": "transition", "targetStorageClass": "archive"}},
        {"rulePriority": 3, "selection": {"tagStatus": "untagged", "storageClass": "archive",
                                          "countType": "sinceImageTransitioned", "countUnit": "days",
                                          "countNumber": 90}, "action": {"type": "expire"}},
        {"rulePriority": 4, "selection": {"tagStatus": "tagged", "tagPrefixList": ["v"], "storageClass": "archive",
                                          "countType": "sinceImageTransitioned", "countUnit": "days",
                                          "countNumber": 90}, "action": {"type": "expire"}},
    ]}
    assert len(validate_policy(untagged_each).rules) == 4


def test_four_wildcards_are_allowed():
    validate_policy(doc(sel(0, tagPatternList=["*test*1*2*3", "test*1*2*3*"])))


def test_archived_images_can_only_be_expired():
    edit = lambda d: d["rules"].append(  # noqa: E731
        {"rulePriority": 3, "selection": {"tagStatus": "tagged", "tagPrefixList": ["v"], "storageClass": "archive",
                                          "countType": "sinceImageTransitioned", "countUnit": "days",
                                          "countNumber": 90},
         "action": {"type": "transition", "targetStorageClass": "archive"}})
    assert problems(doc(edit)) == [
        P + "rules[2].action.type: images already in archive can only be expired; use expire"]


def test_policy_text_errors():
    with pytest.raises(ConfigError) as exc:
        parse_policy('{"rules": [')
    assert str(exc.value) == "lifecycle policy: not valid JSON: Expecting value at line 1 column 12"
    with pytest.raises(ConfigError) as exc:
        parse_policy('{"rules": []}', source="lifecycle.json")
    assert [str(d) for d in exc.value.diagnostics] == [
        "lifecycle.json: policy text must be 100 to 30720 characters long, got 13",
        "lifecycle.json rules: must hold at least one rule"]
    long = json.dumps(doc(top(0, "description", "x" * 30720)))
    with pytest.raises(ConfigError) as exc:
        parse_policy(long)
    assert str(exc.value) == f"lifecycle policy: policy text must be 100 to 30720 characters long, got {len(long)}"
