"""CUCUMBERJSON: the JSON of Cucumber's `json` formatter (cucumber-js, cucumber-ruby, cucumber-jvm).

    [ {uri, name, keyword: "Feature", elements: [
        {type: "scenario" | "background", name, line, before?: [hook], after?: [hook],
         steps: [ {keyword, name, line, hidden?, result: {status, duration (ns), error_message?}} ]} ]} ]

One test case per scenario (each example row of an outline is its own scenario). A scenario is
FAILED when a step or hook failed; UNKNOWN when a step is undefined, pending or ambiguous (none of
CodeBuild's other statuses); SKIPPED when every step was skipped; else SUCCEEDED. Background
elements (cucumber-ruby writes them apart) count towards the scenario that follows them. The
location is the feature file and the line of the step that decided the status.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conveyor.reports.model import (
    FAILED,
    SKIPPED,
    SUCCEEDED,
    UNKNOWN,
    MalformedReport,
    TestCase,
    TestReport,
    clip,
    first_line,
)
from conveyor.reports.safejson import kind, read_json

FORMAT = "CUCUMBERJSON"
NS_PER_SECOND = 1e9
_UNKNOWN_STEP = ("undefined", "pending", "ambiguous")
_FEATURE_KEYS = ("uri", "elements", "keyword")


def parse_cucumber(path: str | Path, label: str | None = None) -> TestReport:
    label = label or str(path)
    data = read_json(path, label)
    if not isinstance(data, list):
        raise MalformedReport(label, f"not a Cucumber JSON report: expected an array of features, found {kind(data)}")
    cases: list[TestCase] = []
    for index, feature in enumerate(data):
        if not isinstance(feature, dict) or not any(key in feature for key in _FEATURE_KEYS):
            raise MalformedReport(label, f"not a Cucumber JSON report: item {index} is {kind(feature)} "
                                         f"without uri, keyword or elements, not a feature")
        cases.extend(_scenarios(label, index, feature))
    return TestReport(FORMAT, label, tuple(cases), round(sum(c.duration_seconds or 0.0 for c in cases), 9))


def _list(label: str, value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise MalformedReport(label, f"not a Cucumber JSON report: {where} is not an array of objects")
    return value


def _scenarios(label: str, index: int, feature: dict[str, Any]) -> list[TestCase]:
    uri = feature.get("uri") if isinstance(feature.get("uri"), str) else None
    name = str(feature.get("name") or uri or f"feature {index + 1}")
    background: list[dict[str, Any]] = []
    cases = []
    for number, element in enumerate(_list(label, feature.get("elements"), f"features[{index}].elements")):
        where = f"features[{index}].elements[{number}]"
        hooks = [*_list(label, element.get("before"), f"{where}.before"),
                 *_list(label, element.get("after"), f"{where}.after")]
        steps = _list(label, element.get("steps"), f"{where}.steps")
        if element.get("type") == "background":
            background = hooks + steps
            continue
        cases.append(_scenario(element, name, uri, background + steps, hooks))
        background = []
    return cases


def _status_of(step: dict[str, Any]) -> str:
    result = step.get("result")
    status = result.get("status") if isinstance(result, dict) else None
    return status.lower() if isinstance(status, str) else "unknown"


def _scenario(element: dict[str, Any], feature: str, uri: str | None,
              steps: list[dict[str, Any]], hooks: list[dict[str, Any]]) -> TestCase:
    all_steps = hooks + steps
    visible = [s for s in steps if not s.get("hidden")]
    statuses = [_status_of(s) for s in all_steps]
    deciding: dict[str, Any] | None = None
    if "failed" in statuses:
        status, deciding = FAILED, all_steps[statuses.index("failed")]
    elif any(s in _UNKNOWN_STEP for s in statuses):
        status = UNKNOWN
        deciding = next(s for s in all_steps if _status_of(s) in _UNKNOWN_STEP)
    elif visible and all(_status_of(s) == "skipped" for s in visible):
        status = SKIPPED
    elif any(s not in ("passed", "skipped") for s in statuses):
        status = UNKNOWN
        deciding = next(s for s in all_steps if _status_of(s) not in ("passed", "skipped"))
    else:
        status = SUCCEEDED

    message = details = None
    line = element.get("line") if isinstance(element.get("line"), int) else None
    if deciding is not None:
        raw_result = deciding.get("result")
        result: dict[str, Any] = raw_result if isinstance(raw_result, dict) else {}
        error = result.get("error_message") if isinstance(result.get("error_message"), str) else None
        details = clip(error)
        step_text = f"{deciding.get('keyword') or ''}{deciding.get('name') or ''}".strip() or "hook"
        step_status = _status_of(deciding)
        message = (first_line(error) if step_status == "failed" and error
                   else f"{step_status.capitalize()} step: {step_text}")
        if isinstance(deciding.get("line"), int):
            line = deciding["line"]
    return TestCase(
        name=str(element.get("name") or element.get("id") or "(unnamed scenario)"),
        status=status,
        suite=feature,
        prefix=uri,
        duration_seconds=_seconds(all_steps),
        message=message,
        details=details,
        file=uri,
        line=line,
    )


def _seconds(steps: list[dict[str, Any]]) -> float:
    total: float = 0
    for step in steps:
        result = step.get("result")
        duration = result.get("duration") if isinstance(result, dict) else None
        if isinstance(duration, (int, float)) and not isinstance(duration, bool) and duration > 0:
            total += duration
    return total / NS_PER_SECOND
