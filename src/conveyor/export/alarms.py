"""CloudWatch alarms from conveyor.yml (aws-semantics §8): the environment's `alarms:` and those a
service's `deployment.alarms` defines inline, each named as in conveyor.yml (the names
CodeDeploy's alarmConfiguration and ECS's deployment alarms list, and `conveyor alarms` reads).

An alarm watches AWS/ApplicationELB metrics of the target groups of the services that list it.
CloudWatch cannot say everything a local scope says, so some alarms watch more than their scope
(each with a note):

    one rolling service, scope green or production      its target group (exact)
    a blue/green service, any scope                     both target groups of its pair: CodeDeploy
                                                        and ECS swap them on every deployment, and
                                                        ALB metrics have no listener dimension
    listed by several services / by none                the target groups of all of them / of every
                                                        service of the environment
    HTTPCode_ELB_5XX_Count                              the load balancer (its only dimension)

Several target groups make a metric-math alarm: SUM for counts (and host counts), MAX for
Maximum, MIN for Minimum, and for Average the worse of the groups (MAX when the alarm fires
above its threshold, MIN below). Periods become multiples of 60 s, as ALB publishes its metrics.

    refs = add_alarms(ctx)       # alarm name -> its value in the template (a Ref or the name)
"""

from __future__ import annotations

from typing import Any

from conveyor.config.codedeploy_configs import number_text
from conveyor.config.codedeploy_group import alarm_spec
from conveyor.export.context import ROLLING, EnvironmentExport, ServiceExport
from conveyor.export.naming import logical_ids
from conveyor.export.network import LOAD_BALANCER, target_group_ids
from conveyor.export.rounding import alarm_period, max_evaluation_periods
from conveyor.export.template import GetAtt, Ref
from conveyor.metrics.vocabulary import AlarmSpec

NAMESPACE = "AWS/ApplicationELB"
LOAD_BALANCER_METRICS = ("HTTPCode_ELB_5XX_Count",)
HOST_COUNTS = ("HealthyHostCount", "UnHealthyHostCount")
#: CloudWatch: a metric-math alarm takes at most 10 metrics.
MAX_ALARM_METRICS = 10


def listed_alarms(svc: ServiceExport) -> list[tuple[str, dict[str, Any] | None, str]]:
    """(name, inline definition or None, key path) of each alarm the service's deployment lists."""
    out: list[tuple[str, dict[str, Any] | None, str]] = []
    for i, item in enumerate(svc.deployment_raw.get("alarms") or []):
        where = f"{svc.at('deployment', 'alarms')}[{i}]"
        if isinstance(item, dict) and set(item) != {"name"}:
            out.append((str(item["name"]), dict(item), where))
        else:
            out.append((str(item["name"] if isinstance(item, dict) else item), None, where))
    return out


def add_alarms(ctx: EnvironmentExport) -> dict[str, Any]:
    """Every alarm conveyor.yml defines in the environment; returns name -> Ref for those created
    (and the bare name for one a service lists without defining: it must exist in CloudWatch)."""
    definitions: dict[str, tuple[AlarmSpec, str]] = {}
    for name, body in (ctx.raw.get("alarms") or {}).items():
        definitions[str(name)] = (alarm_spec(str(name), body), ctx.at("alarms", str(name)))
    users: dict[str, list[ServiceExport]] = {}
    for svc in ctx.services:
        for name, inline, where in listed_alarms(svc):
            users.setdefault(name, []).append(svc)
            if inline is None:
                continue
            spec = alarm_spec(name, inline)
            if name not in definitions:
                definitions[name] = (spec, where)
            elif definitions[name][0] != spec:
                ctx.notes.add(where, f"alarm {name} defined again, differently",
                              f"one CloudWatch alarm of that name, as {definitions[name][1]} defines it")
    ids = logical_ids(definitions)
    refs: dict[str, Any] = {}
    for name, (spec, where) in definitions.items():
        if _alarm(ctx, ids[name] + "Alarm", spec, where, users.get(name, [])):
            refs[name] = Ref(ids[name] + "Alarm")
    for svc in ctx.services:
        for name, _, where in listed_alarms(svc):
            if name not in definitions:
                ctx.notes.add(where, f"alarm {name}, not defined in conveyor.yml",
                              "referenced by name: it must exist in CloudWatch")
            refs.setdefault(name, name)
    return refs


def _alarm(ctx: EnvironmentExport, logical_id: str, spec: AlarmSpec, where: str,
           users: list[ServiceExport]) -> bool:
    watched = _watched(ctx, spec, where, users)
    if watched is None:
        return False
    period = alarm_period(spec.period)
    if period != spec.period:
        ctx.notes.add(where + ".period", f"{spec.period} s", f"{period} s (ALB publishes its metrics every 60 s; "
                                                            "CloudWatch takes 10-30 s periods only for "
                                                            "high-resolution metrics)")
    evaluations = min(spec.evaluation_periods, max_evaluation_periods(period))
    if evaluations != spec.evaluation_periods:
        ctx.notes.add(where + ".evaluationPeriods", f"{spec.evaluation_periods} periods of {period} s",
                      f"{evaluations} (CloudWatch looks back at most a day under hour-long periods, else a week)")
    properties: dict[str, Any] = {
        "AlarmName": spec.name, "AlarmDescription": f"conveyor.yml {where} (scope {spec.scope})",
        "ComparisonOperator": spec.comparison, "Threshold": _number(spec.threshold),
        "EvaluationPeriods": evaluations, "DatapointsToAlarm": min(spec.datapoints_to_alarm, evaluations),
        "TreatMissingData": spec.treat_missing_data}
    if len(watched) == 1:
        properties.update({"Namespace": NAMESPACE, "MetricName": spec.metric, "Dimensions": watched[0],
                           "Statistic": spec.statistic, "Period": period})
    else:
        queries: list[dict[str, Any]] = [{"Id": f"m{i}", "ReturnData": False, "MetricStat": {
            "Metric": {"Namespace": NAMESPACE, "MetricName": spec.metric, "Dimensions": dims},
            "Period": period, "Stat": spec.statistic}} for i, dims in enumerate(watched, 1)]
        ids = ", ".join(q["Id"] for q in queries)
        queries.append({"Id": "watched", "Expression": f"{aggregate(spec)}([{ids}])",
                        "Label": f"{spec.metric} {spec.statistic}, {aggregate(spec)} of {len(watched)} target groups",
                        "ReturnData": True})
        properties["Metrics"] = queries
    ctx.template.resource(logical_id, "AWS::CloudWatch::Alarm", properties, source=where)
    return True


def aggregate(spec: AlarmSpec) -> str:
    """How several target groups' datapoints make one.

    >>> aggregate(AlarmSpec("a", "TargetResponseTime", statistic="Average", comparison="GreaterThanThreshold"))
    'MAX'
    """
    if spec.statistic in ("Sum", "SampleCount") or spec.metric in HOST_COUNTS:
        return "SUM"
    if spec.statistic == "Maximum":
        return "MAX"
    if spec.statistic == "Minimum":
        return "MIN"
    return "MAX" if spec.comparison.startswith("Greater") else "MIN"


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _watched(ctx: EnvironmentExport, spec: AlarmSpec, where: str,
             users: list[ServiceExport]) -> list[list[dict[str, Any]]] | None:
    """The Dimensions of each metric the alarm watches; None (noted) when there is none."""
    balancer = {"Name": "LoadBalancer", "Value": GetAtt(LOAD_BALANCER, "LoadBalancerFullName")}
    behind = [s for s in users if s.spec.load_balancer is not None] or ([] if users else ctx.load_balanced)
    if not behind:
        whose = "its services have" if users else "the environment has"
        ctx.notes.add(where, f"alarm {spec.name} on {spec.metric}", f"left out: {whose} no load balancer to measure")
        return None
    if spec.metric in LOAD_BALANCER_METRICS:
        if spec.scope != "production" or len(ctx.load_balanced) > 1:
            ctx.notes.add(where, f"alarm {spec.name}: scope {spec.scope}",
                          f"the environment's load balancer ({spec.metric} exists per load balancer only)")
        return [[balancer]]
    groups = [g for s in behind for g in target_group_ids(s)]
    reasons = []
    if not users:
        reasons.append("no service lists it")
    elif len(behind) > 1:
        reasons.append("several services list it")
    unbalanced = [s.name for s in users if s.spec.load_balancer is None]
    if unbalanced:
        reasons.append(f"{', '.join(unbalanced)} ha{'s' if len(unbalanced) == 1 else 've'} no load balancer")
    if any(s.kind != ROLLING for s in behind):
        reasons.append("CloudWatch cannot follow the pair's swap on every deployment, and ALB metrics have no "
                       "listener dimension")
    elif spec.scope in ("blue", "test"):
        reasons.append("a rolling service has one target group")
    if len(groups) > MAX_ALARM_METRICS:
        ctx.notes.add(where, f"alarm {spec.name} on {len(groups)} target groups",
                      f"left out: a CloudWatch alarm takes at most {MAX_ALARM_METRICS} metrics")
        return None
    if reasons:
        how = "" if len(groups) == 1 else f", {aggregate(spec)} of their {spec.statistic}"
        ctx.notes.add(where, f"alarm {spec.name}: scope {spec.scope}",
                      f"watches {number_text(len(groups))} target group{'s' if len(groups) > 1 else ''} "
                      f"({', '.join(groups)}{how}): {'; '.join(reasons)}")
    return [[{"Name": "TargetGroup", "Value": GetAtt(g, "TargetGroupFullName")}, balancer] for g in groups]
