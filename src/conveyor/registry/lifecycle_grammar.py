"""An ECR lifecycle policy document: its model and its validation (aws-semantics §6.2, checked
against the ECR user guide's "Lifecycle policy properties" page for the newer archive fields).

    policy = parse_policy(text)            # ConfigError listing every problem, else:
    policy.rules[0].selection.count_type   # 'imageCountMoreThan'

Messages read `lifecycle policy rules[1].selection.countUnit: required when countType is
sinceImagePushed; …` (list indexes are 0-based, as in every Conveyor key path).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from conveyor.documents.checker import did_you_mean, type_name
from conveyor.documents.json_limited import scan_json
from conveyor.errors import ConfigError, Diagnostic
from conveyor.registry.mutability import wildcard

DEFAULT_SOURCE = "lifecycle policy"
TAG_STATUSES = ("tagged", "untagged", "any")
COUNT_TYPES = ("imageCountMoreThan", "sinceImagePushed", "sinceImagePulled", "sinceImageTransitioned")
SINCE_COUNT_TYPES = COUNT_TYPES[1:]
COUNT_UNITS = ("days",)
STORAGE_CLASSES = ("standard", "archive")
DEFAULT_STORAGE_CLASS = "standard"  # [doc] "If you omit this, the value of standard will be used"
ACTION_TYPES = ("expire", "transition")
TARGET_STORAGE_CLASSES = ("archive",)
MAX_WILDCARDS = 4  # [doc] "maximum limit of four wildcards (*) per string"
MAX_RULES = 50  # ECR service quota "Rules per lifecycle policy"
POLICY_TEXT_LENGTH = (100, 30720)  # [api] PutLifecyclePolicy.lifecyclePolicyText
MIN_ARCHIVE_DAYS = 90  # [doc] archived images cannot be expired by a policy before 90 days in archive

TOP_KEYS = ("rules",)
RULE_KEYS = ("rulePriority", "description", "selection", "action")
SELECTION_KEYS = ("tagStatus", "tagPrefixList", "tagPatternList", "storageClass", "countType", "countUnit",
                  "countNumber")
ACTION_KEYS = ("type", "targetStorageClass")


@dataclass(frozen=True)
class Selection:
    tag_status: str
    count_type: str
    count_number: int
    count_unit: str | None = None
    tag_prefixes: tuple[str, ...] = ()
    tag_patterns: tuple[str, ...] = ()
    storage_class: str = DEFAULT_STORAGE_CLASS
    _compiled: tuple[re.Pattern[str], ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", tuple(wildcard(p) for p in self.tag_patterns))

    def matches_tags(self, tags: tuple[str, ...]) -> bool:
        """The tag part of the selection. Every list entry must match at least one of the image's
        tags (AND across entries: an image must carry a tag for each prefix/pattern)."""
        if self.tag_status == "any":
            return True
        if self.tag_status == "untagged":
            return not tags
        if self.tag_prefixes:
            return all(any(t.startswith(p) for t in tags) for p in self.tag_prefixes)
        return bool(tags) and all(any(rx.fullmatch(t) for t in tags) for rx in self._compiled)


@dataclass(frozen=True)
class Rule:
    priority: int
    selection: Selection
    action: str = "expire"
    target_storage_class: str | None = None
    description: str = ""
    index: int = 0  # position in the document's rules list, for messages


@dataclass(frozen=True)
class LifecyclePolicy:
    rules: tuple[Rule, ...]  # ascending rulePriority: the order they are applied in


def show(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (str, int, float, bool, type(None))) else type_name(value)


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


class _Checker:
    def __init__(self, source: str):
        self.source = source
        self.diagnostics: list[Diagnostic] = []

    def error(self, path: str, message: str) -> None:
        self.diagnostics.append(Diagnostic(self.source, 0, 0, path, message))

    def obj(self, path: str, value: Any, keys: tuple[str, ...], what: str) -> bool:
        if not isinstance(value, dict):
            self.error(path, f"expected {what}, got {type_name(value)}")
            return False
        for key in value:
            if key not in keys:
                hint = did_you_mean(str(key), keys) or f"; expected one of {', '.join(keys)}"
                self.error(path, f"unknown key '{key}'{hint}")
        return True

    def choice(self, path: str, mapping: dict, key: str, choices: tuple[str, ...], required: str | None) -> Any:
        if key not in mapping:
            if required is not None:
                self.error(f"{path}.{key}", required)
            return None
        if mapping[key] not in choices:
            value = mapping[key]
            hint = did_you_mean(value, choices) if isinstance(value, str) else ""
            self.error(f"{path}.{key}", f"must be one of {', '.join(choices)}; got {show(value)}{hint}")
            return None
        return mapping[key]


def parse_policy(text: str, source: str = DEFAULT_SOURCE) -> LifecyclePolicy:
    """The policy text as PutLifecyclePolicy receives it."""
    low, high = POLICY_TEXT_LENGTH
    length_error = None
    if not low <= len(text) <= high:
        length_error = Diagnostic(source, 0, 0, "", f"policy text must be {low} to {high} characters long, "
                                                    f"got {len(text)}")
    try:
        scan_json(text, source)  # nesting and number length first: json.loads has no position for those
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError([Diagnostic(source, 0, 0, "", f"not valid JSON: {exc.msg} at line {exc.lineno} "
                                                        f"column {exc.colno}")]) from None
    try:
        policy = validate_policy(data, source)
    except ConfigError as exc:
        raise ConfigError(exc.diagnostics + ([length_error] if length_error else [])) from None
    if length_error:
        raise ConfigError([length_error])
    return policy


def validate_policy(data: Any, source: str = DEFAULT_SOURCE) -> LifecyclePolicy:
    chk = _Checker(source)
    rules: list[Rule] = []
    if chk.obj("", data, TOP_KEYS, "an object with a 'rules' list"):
        raw = data.get("rules")
        if "rules" not in data:
            chk.error("rules", f"required: a list of 1 to {MAX_RULES} rules")
        elif not isinstance(raw, list):
            chk.error("rules", f"expected a list of rules, got {type_name(raw)}")
        elif not raw:
            chk.error("rules", "must hold at least one rule")
        elif len(raw) > MAX_RULES:
            chk.error("rules", f"at most {MAX_RULES} rules are allowed, got {len(raw)}")
        else:
            for i, item in enumerate(raw):
                rule = _rule(chk, i, item)
                if rule is not None:
                    rules.append(rule)
            _across_rules(chk, rules)
    if chk.diagnostics:
        raise ConfigError(chk.diagnostics)
    return LifecyclePolicy(tuple(sorted(rules, key=lambda r: r.priority)))


def _rule(chk: _Checker, i: int, item: Any) -> Rule | None:
    path = f"rules[{i}]"
    before = len(chk.diagnostics)
    if not chk.obj(path, item, RULE_KEYS, "an object with rulePriority, selection and action"):
        return None
    priority = item.get("rulePriority")
    if "rulePriority" not in item:
        chk.error(f"{path}.rulePriority", "required: an integer of 1 or more, unique across rules")
    elif not is_int(priority) or priority < 1:
        chk.error(f"{path}.rulePriority", f"must be an integer of 1 or more, got {show(priority)}")
    description = item.get("description", "")
    if not isinstance(description, str):
        chk.error(f"{path}.description", f"must be a string, got {type_name(description)}")
    selection = None
    if "selection" not in item:
        chk.error(f"{path}.selection", "required: which images the rule applies to (tagStatus, countType, …)")
    elif chk.obj(f"{path}.selection", item["selection"], SELECTION_KEYS, "an object"):
        selection = _selection(chk, f"{path}.selection", item["selection"])
    action, target = None, None
    if "action" not in item:
        chk.error(f"{path}.action", 'required: {"type": "expire"}')
    elif chk.obj(f"{path}.action", item["action"], ACTION_KEYS, 'an object such as {"type": "expire"}'):
        action, target = _action(chk, f"{path}.action", item["action"], selection)
    if len(chk.diagnostics) > before or selection is None or action is None:
        return None
    return Rule(priority, selection, action, target, description, i)


def _tag_list(chk: _Checker, path: str, value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        got = "an empty list" if value == [] else type_name(value)
        chk.error(path, f"must be a non-empty list of {what}, got {got}")
        return ()
    for j, entry in enumerate(value):
        if not isinstance(entry, str) or not entry:
            chk.error(f"{path}[{j}]", f"must be a non-empty string, got {show(entry)}")
        elif what == "patterns" and entry.count("*") > MAX_WILDCARDS:
            chk.error(f"{path}[{j}]", f"'{entry}' has {entry.count('*')} wildcards (*); at most {MAX_WILDCARDS} "
                                      "are allowed")
    return tuple(e for e in value if isinstance(e, str))


def _selection(chk: _Checker, path: str, sel: dict) -> Selection | None:
    before = len(chk.diagnostics)
    status = chk.choice(path, sel, "tagStatus", TAG_STATUSES, "required: tagged, untagged or any")
    prefixes = _tag_list(chk, f"{path}.tagPrefixList", sel["tagPrefixList"], "prefixes") \
        if "tagPrefixList" in sel else ()
    patterns = _tag_list(chk, f"{path}.tagPatternList", sel["tagPatternList"], "patterns") \
        if "tagPatternList" in sel else ()
    if status == "tagged" and "tagPrefixList" not in sel and "tagPatternList" not in sel:
        chk.error(path, "tagStatus tagged requires a tagPatternList or a tagPrefixList; to select every image "
                        "use tagStatus any")
    elif status == "tagged" and "tagPrefixList" in sel and "tagPatternList" in sel:
        chk.error(path, "give either tagPatternList or tagPrefixList, not both")
    elif status in ("untagged", "any"):
        for key in ("tagPrefixList", "tagPatternList"):
            if key in sel:
                chk.error(f"{path}.{key}", f"only allowed when tagStatus is tagged, not {status}; remove it or "
                                           "set tagStatus to tagged")
    count_type = chk.choice(path, sel, "countType", COUNT_TYPES, "required: " + ", ".join(COUNT_TYPES))
    unit = sel.get("countUnit")
    if count_type in SINCE_COUNT_TYPES and "countUnit" not in sel:
        chk.error(f"{path}.countUnit", f'required when countType is {count_type}; add "countUnit": "days"')
    elif count_type == "imageCountMoreThan" and "countUnit" in sel:
        chk.error(f"{path}.countUnit", "only allowed when countType is sinceImagePushed, sinceImagePulled or "
                                       "sinceImageTransitioned; remove it (imageCountMoreThan counts images)")
    elif "countUnit" in sel and unit not in COUNT_UNITS:
        chk.error(f"{path}.countUnit", f"must be days, got {show(unit)}")
    number = sel.get("countNumber")
    if "countNumber" not in sel:
        chk.error(f"{path}.countNumber", "required: a positive integer (images to keep, or days)")
    elif not is_int(number) or number < 1:
        chk.error(f"{path}.countNumber", f"must be a positive integer (0 is not accepted), got {show(number)}")
    storage = chk.choice(path, sel, "storageClass", STORAGE_CLASSES, None) or DEFAULT_STORAGE_CLASS
    if count_type == "sinceImageTransitioned":
        if "storageClass" not in sel:
            chk.error(f"{path}.storageClass", "required when countType is sinceImageTransitioned; set it to archive")
        elif storage != "archive" and sel.get("storageClass") in STORAGE_CLASSES:
            chk.error(f"{path}.storageClass", "must be archive when countType is sinceImageTransitioned (only "
                                              "archived images have a transition time)")
        elif is_int(number) and 1 <= number < MIN_ARCHIVE_DAYS:
            chk.error(f"{path}.countNumber", f"archived images must stay in archive at least {MIN_ARCHIVE_DAYS} "
                                             f"days before a lifecycle policy may expire them; use {MIN_ARCHIVE_DAYS} "
                                             "or more")
    elif storage == "archive" and count_type is not None:
        chk.error(f"{path}.storageClass", f"archive is only allowed with countType sinceImageTransitioned, not "
                                          f"{count_type}; use standard or remove it")
    if len(chk.diagnostics) > before or status is None or count_type is None or not is_int(number):
        return None  # (a countNumber that is not an int has its diagnostic)
    return Selection(status, count_type, number, unit, prefixes, patterns, storage)


def _action(chk: _Checker, path: str, act: dict, sel: Selection | None) -> tuple[str | None, str | None]:
    before = len(chk.diagnostics)
    kind_ = chk.choice(path, act, "type", ACTION_TYPES, "required: expire or transition")
    target = act.get("targetStorageClass")
    if kind_ == "transition":
        if "targetStorageClass" not in act:
            chk.error(f"{path}.targetStorageClass", "required when type is transition; set it to archive")
        elif target not in TARGET_STORAGE_CLASSES:
            chk.error(f"{path}.targetStorageClass", f"must be archive, got {show(target)}")
        if sel is not None and sel.storage_class == "archive":
            chk.error(f"{path}.type", "images already in archive can only be expired; use expire")
    elif kind_ == "expire" and "targetStorageClass" in act:
        chk.error(f"{path}.targetStorageClass", "only allowed when type is transition; remove it")
    # [doc, inferred] sinceImagePulled rules are documented only as archiving ("…are archived").
    if kind_ == "expire" and sel is not None and sel.count_type == "sinceImagePulled":
        chk.error(f"{path}.type", "countType sinceImagePulled can only transition images to archive; use "
                                  "transition (targetStorageClass archive) and expire them later with a "
                                  "sinceImageTransitioned rule")
    return (kind_, target) if len(chk.diagnostics) == before else (None, None)


def _across_rules(chk: _Checker, rules: list[Rule]) -> None:
    """Uniqueness and ordering rules; ECR scopes all but rulePriority to one storage class."""
    by_priority: dict[int, Rule] = {}
    for rule in rules:
        if rule.priority in by_priority:
            chk.error(f"rules[{rule.index}].rulePriority", f"{rule.priority} is already used by "
                                                           f"rules[{by_priority[rule.priority].index}]; give each "
                                                           "rule its own rulePriority")
        by_priority.setdefault(rule.priority, rule)
    for storage in STORAGE_CLASSES:
        same = [r for r in rules if r.selection.storage_class == storage]
        top = max((r.priority for r in same), default=0)
        untagged: Rule | None = None
        prefixes: dict[str, Rule] = {}
        for rule in same:
            sel, path = rule.selection, f"rules[{rule.index}]"
            if sel.tag_status == "any" and rule.priority < top:
                chk.error(f"{path}.rulePriority", f"a rule with tagStatus any must have the highest rulePriority "
                                                  f"(it is applied last), but {rule.priority} is below {top}; "
                                                  f"give it a rulePriority above {top}")
            if sel.tag_status == "untagged":
                if untagged is not None:
                    chk.error(f"{path}.selection.tagStatus", f"only one rule per storage class may select untagged "
                                                             f"images, and rules[{untagged.index}] already does; "
                                                             "merge the two rules")
                untagged = untagged or rule
            for j, prefix in enumerate(sel.tag_prefixes):
                other = prefixes.setdefault(prefix, rule)
                if other is not rule:
                    chk.error(f"{path}.selection.tagPrefixList[{j}]", f"prefix '{prefix}' is already used by "
                                                                      f"rules[{other.index}]; a tag prefix may "
                                                                      "appear in only one rule per storage class")
