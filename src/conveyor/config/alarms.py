"""Validation of alarms in conveyor.yml (CloudWatch PutMetricAlarm semantics, aws-semantics §8):
the environment's named alarms (`environments.<env>.alarms.<name>`) and a CODE_DEPLOY deployment
group's `alarms:` list, which names them or defines one inline (CodeDeploy alarmConfiguration,
§5.5). conveyor.config.codedeploy_group builds AlarmSpecs from the same mappings.

    names = check_alarm_definitions(chk, ("environments", "production"), aws=False)
    check_group_alarms(chk, ("environments", "production", "services", "orders", "deployment"), names, aws=False)

Locally an alarm's period may be any whole number of seconds, so that a 1-second alarm can catch
a bad release within seconds; in a `target: aws` environment it must be one CloudWatch accepts.
"""

from __future__ import annotations

import math
from typing import Any

from conveyor.config.codedeploy_configs import parse_duration
from conveyor.config.codedeploy_group import ALARM_KEYS, DEFAULT_ALARM_PERIOD
from conveyor.documents.checker import Checker, did_you_mean, type_name
from conveyor.documents.located import KeyPath, format_path
from conveyor.metrics.vocabulary import COMPARISONS, METRICS, MISSING_DATA, SCOPES, STATISTICS

ALARM_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
ALARM_NAME_LIMIT = 255                 # CloudWatch AlarmName
MAX_GROUP_ALARMS = 10                  # CodeDeploy alarmConfiguration.alarms
AWS_SHORT_PERIODS = (10, 20, 30)       # high resolution; otherwise a multiple of 60
# CloudWatch: period x evaluationPeriods at most 1 day when period < 1 hour, else at most 7 days.
MAX_WINDOW_SHORT_PERIOD = 86400
MAX_WINDOW = 604800


def check_alarm_definitions(chk: Checker, env_path: KeyPath, *, aws: bool) -> set[str]:
    """`alarms:` of one environment; returns the names defined there (valid or not, so that a
    reference to a broken alarm is not reported twice)."""
    alarms = chk.get(env_path, "alarms", dict)
    for name, body in (alarms or {}).items():
        ap = env_path + ("alarms", name)
        chk.name(ap, name, ALARM_NAME, ALARM_NAME_LIMIT, "alarm name")
        if chk.is_type(ap, body, dict, "an alarm: a mapping with metric, threshold and comparisonOperator"):
            check_alarm(chk, ap, aws=aws)
    return {str(n) for n in alarms or {}}


def check_alarm(chk: Checker, ap: KeyPath, *, aws: bool, inline: bool = False) -> None:
    """One alarm's keys (`name` too when it is defined inline in a deployment group)."""
    chk.keys(ap, ALARM_KEYS + (("name",) if inline else ()))
    metric = chk.get(ap, "metric", str, required=True, what="a metric name")
    if metric is not None:
        chk.one_of(ap + ("metric",), metric, METRICS, "metric")
    for key, choices, what in (("scope", SCOPES, "scope"), ("statistic", STATISTICS, "statistic"),
                               ("comparisonOperator", COMPARISONS, "comparisonOperator"),
                               ("treatMissingData", MISSING_DATA, "treatMissingData")):
        value = chk.get(ap, key, str, required=key == "comparisonOperator")
        if value is not None:
            chk.one_of(ap + (key,), value, choices, what)
    threshold = chk.get(ap, "threshold", (int, float), required=True, what="a number")
    if isinstance(threshold, float) and not math.isfinite(threshold):
        chk.error(ap + ("threshold",), f"expected a finite number, got {threshold}")
    period = _period(chk, ap, aws)
    evaluations = _at_least_one(chk, ap, "evaluationPeriods")
    datapoints = _at_least_one(chk, ap, "datapointsToAlarm")
    n = 1 if evaluations is None else evaluations
    if datapoints is not None and datapoints > n:
        chk.error(ap + ("datapointsToAlarm",), f"datapointsToAlarm must be between 1 and evaluationPeriods ({n}"
                                               f"{'' if evaluations is not None else ', the default'}), got "
                                               f"{datapoints}: the alarm fires when M of the last N periods breach")
    if period is not None and evaluations is not None:
        limit = MAX_WINDOW_SHORT_PERIOD if period < 3600 else MAX_WINDOW
        if period * evaluations > limit:
            when = "when period is under an hour" if period < 3600 else "in all"
            chk.error(ap + ("evaluationPeriods",), f"period x evaluationPeriods must be at most {limit} seconds {when} "
                                                   f"(CloudWatch), got {period} x {evaluations} = "
                                                   f"{period * evaluations}")


def _period(chk: Checker, ap: KeyPath, aws: bool) -> int | None:
    mapping = chk.at(ap)
    if "period" not in mapping:
        return DEFAULT_ALARM_PERIOD
    raw = mapping["period"]
    try:
        seconds = parse_duration(raw, "s")
    except ValueError as exc:
        chk.error(ap + ("period",), str(exc))
        return None
    if seconds < 1 or seconds != int(seconds):
        chk.error(ap + ("period",), f"period must be a whole number of seconds, at least 1, got {_shown(raw)}")
        return None
    if aws and not (seconds in AWS_SHORT_PERIODS or seconds % 60 == 0):
        chk.error(ap + ("period",), f"CloudWatch accepts a period of 10, 20, 30 or a multiple of 60 seconds, got "
                                   f"{_shown(raw)} (this environment has target: aws)")
    return int(seconds)


def _at_least_one(chk: Checker, ap: KeyPath, key: str) -> int | None:
    value = chk.get(ap, key, int)
    if value is not None and value < 1:
        chk.error(ap + (key,), f"{key} must be at least 1, got {value}")
        return None
    return value


def _shown(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value)


def check_group_alarms(chk: Checker, dp: KeyPath, defined: set[str], *, aws: bool, env_path: KeyPath) -> None:
    """A deployment group's `alarms:` list: names of the environment's alarms (in `target: aws`
    also CloudWatch alarms that exist only there), or inline definitions with a name."""
    items = chk.get(dp, "alarms", list)
    if items is None:
        return
    if len(items) > MAX_GROUP_ALARMS:
        chk.error(dp + ("alarms",), f"at most {MAX_GROUP_ALARMS} alarms per deployment group (CodeDeploy "
                                    f"alarmConfiguration), got {len(items)}")
    where = format_path(env_path + ("alarms",))
    seen: set[str] = set()
    for i, item in enumerate(items):
        ip = dp + ("alarms", i)
        if isinstance(item, dict) and set(item) != {"name"}:
            name = chk.get(ip, "name", str, required=True, what="an alarm name")
            if name is not None and chk.name(ip + ("name",), name, ALARM_NAME, ALARM_NAME_LIMIT, "alarm name") \
                    and name in defined:
                chk.error(ip + ("name",), f"alarm '{name}' is already defined in {where}: list it by name, or give "
                                          "this one another name")
            check_alarm(chk, ip, aws=aws, inline=True)
        elif isinstance(item, (str, dict)):
            name = item if isinstance(item, str) else item["name"]
            np_ = ip if isinstance(item, str) else ip + ("name",)
            if not chk.is_type(np_, name, str, "an alarm name"):
                continue
            if name not in defined and not aws:
                known = f" (defined: {', '.join(sorted(defined))})" if defined else ""
                hint = did_you_mean(name, defined) or known
                chk.error(np_, f"alarm '{name}' is not defined: define it in {where} or inline here "
                               f"({{name, metric, threshold, comparisonOperator}}){hint}")
        else:
            chk.error(ip, f"expected an alarm name, got {type_name(item)} (or an inline alarm: a mapping with name, "
                          "metric, threshold and comparisonOperator)")
            continue
        if isinstance(name, str):
            if name in seen:
                chk.error(ip, f"alarm '{name}' is listed twice")
            seen.add(name)
