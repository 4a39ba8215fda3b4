"""ELBv2 and CloudWatch on AWS, read only (conveyor.backend.interface.LoadBalancerReads and
AlarmReads): target health and listener weights, the alarms guarding a service with their
history, and the load balancer metrics they judge.

    AwsLoadBalancers(apis).target_health("production", "production-orders")
    AwsAlarms(apis).describe_alarms("production", "orders")       # [AlarmView(…, history=(…))]

AWS calls per method:
    target_health     elasticloadbalancing:DescribeTargetGroups (by name), DescribeTargetHealth
    listener_weights  ecs:ListServices, ecs:DescribeServices; elasticloadbalancing:DescribeTargetGroups,
                      DescribeLoadBalancers, DescribeListeners
    describe_alarms   ecs:DescribeServices; for a CODE_DEPLOY service codedeploy:GetDeploymentGroup;
                      cloudwatch:DescribeAlarms, cloudwatch:DescribeAlarmHistory (per alarm)
    get_metrics       ecs:DescribeServices, elasticloadbalancing:DescribeTargetGroups,
                      cloudwatch:GetMetricData
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from conveyor.backend.types import (
    CODE_DEPLOY,
    ECS,
    AlarmHistoryItem,
    AlarmView,
    MetricSeries,
    ServiceMetrics,
    TargetHealth,
)
from conveyor.errors import NotFound
from conveyor.providers.aws import ecs_reasons as reasons
from conveyor.providers.aws.api import AwsApi
from conveyor.providers.aws.apis import AwsApis
from conveyor.providers.aws.ecs_services import cluster_services, find_service
from conveyor.providers.aws.ecs_views import resource_name, timestamp
from conveyor.providers.aws.elbv2 import Elbv2, forward_weights

#: Alarm state changes shown per alarm (DescribeAlarmHistory's MaxRecords: 1-100).
ALARM_HISTORY = 20
#: ALB metrics have 60-second granularity (aws-semantics §8).
METRIC_PERIOD = 60
NAMESPACE = "AWS/ApplicationELB"
#: Per target group: the metrics the local sampler records too, with the statistic that reads them.
TARGET_GROUP_METRICS = (("RequestCount", "Sum"), ("HTTPCode_Target_2XX_Count", "Sum"),
                        ("HTTPCode_Target_3XX_Count", "Sum"), ("HTTPCode_Target_4XX_Count", "Sum"),
                        ("HTTPCode_Target_5XX_Count", "Sum"), ("TargetConnectionErrorCount", "Sum"),
                        ("TargetResponseTime", "Average"), ("HealthyHostCount", "Minimum"),
                        ("UnHealthyHostCount", "Maximum"))
#: Per load balancer: what the load balancer answers itself (502/503 with no healthy target).
LOAD_BALANCER_METRICS = (("HTTPCode_ELB_5XX_Count", "Sum"),)


class AwsLoadBalancers:
    def __init__(self, apis: AwsApis):
        self._apis = apis

    def target_health(self, environment: str, target_group: str) -> list[TargetHealth]:
        """The targets of the target group named `target_group`, with ALB's states and reason codes."""
        elb = Elbv2(self._apis.api(environment))
        return elb.target_health(str(elb.target_group_named(target_group)["TargetGroupArn"]))

    def listener_weights(self, environment: str, port: int) -> dict[str, int]:
        """Target group name → weight of the forward action of the listener on `port`, on the
        load balancers in front of the environment's services."""
        api = self._apis.api(environment)
        elb = Elbv2(api)
        arns = [str(lb["targetGroupArn"]) for s in cluster_services(api) for lb in s.get("loadBalancers") or []
                if lb.get("targetGroupArn")]
        balancers = {str(a) for g in elb.target_groups(arns) for a in g.get("LoadBalancerArns") or []}
        weights: dict[str, int] = {}
        found = False
        for lb in elb.load_balancers(sorted(balancers)):
            for listener in elb.listeners(str(lb["LoadBalancerArn"])):
                if listener.get("Port") != port:
                    continue
                found = True
                for action in listener.get("DefaultActions") or []:
                    weights.update({resource_name(a): w for a, w in forward_weights(action).items()})
        if not found:
            raise NotFound(f"no listener on port {port} of the load balancers of environment {environment}'s services",
                           hint=reasons.PROVISION_HINT)
        return weights


class AwsAlarms:
    def __init__(self, apis: AwsApis, *, clock: Callable[[], float] = time.time):
        self._apis = apis
        self._clock = clock

    def describe_alarms(self, environment: str, service: str) -> list[AlarmView]:
        """The CloudWatch alarms guarding the service's deployments: ECS's deployment alarms
        for a rolling service, its CodeDeploy deployment group's alarmConfiguration for a
        CODE_DEPLOY one (application AwsEnvironment.codedeploy_application, group = service)."""
        api = self._apis.api(environment)
        raw = find_service(api, service)
        names = self._alarm_names(api, service, raw)
        if not names:
            return []
        found = {str(a["AlarmName"]): a for a in api.pages("cloudwatch", "DescribeAlarms", "MetricAlarms",
                                                          AlarmNames=names, AlarmTypes=["MetricAlarm"])}
        return [self._view(api, found[n]) if n in found else missing_alarm(n, api.env.region) for n in names]

    def get_metrics(self, environment: str, service: str, seconds: int) -> ServiceMetrics:
        """The ALB metrics of the service's target groups over the last `seconds` (at least one
        60-second period), scoped `tg:NAME` as locally, and the load balancer's own `lb:NAME`."""
        api = self._apis.api(environment)
        raw = find_service(api, service)
        arns = [str(lb["targetGroupArn"]) for lb in raw.get("loadBalancers") or [] if lb.get("targetGroupArn")]
        queries: list[dict[str, Any]] = []
        keys: dict[str, tuple[str, str]] = {}  # query id -> (scope, metric)
        scopes: list[str] = []

        def add(scope: str, metric: str, statistic: str, dimensions: dict[str, str]) -> None:
            ident = f"m{len(queries)}"
            keys[ident] = (scope, metric)
            queries.append({"Id": ident, "ReturnData": True, "MetricStat": {
                "Metric": {"Namespace": NAMESPACE, "MetricName": metric,
                           "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()]},
                "Period": METRIC_PERIOD, "Stat": statistic}})

        balancers: dict[str, str] = {}
        for group in Elbv2(api).target_groups(arns):
            lbs = group.get("LoadBalancerArns") or []
            if not lbs:  # not behind a load balancer: ALB publishes nothing for it
                continue
            scope, lb = f"tg:{group['TargetGroupName']}", dimension(str(lbs[0]))
            scopes.append(scope)
            balancers[lb] = f"lb:{resource_name(str(lbs[0]))}"
            for metric, statistic in TARGET_GROUP_METRICS:
                add(scope, metric, statistic, {"TargetGroup": dimension(str(group["TargetGroupArn"])),
                                               "LoadBalancer": lb})
        for lb, scope in balancers.items():
            scopes.append(scope)
            for metric, statistic in LOAD_BALANCER_METRICS:
                add(scope, metric, statistic, {"LoadBalancer": lb})
        if not queries:
            return ServiceMetrics(environment, service, seconds, tuple(scopes))
        end = self._clock()
        start = end - max(seconds, METRIC_PERIOD)
        points: dict[str, list[tuple[float, float]]] = {}
        for result in api.pages("cloudwatch", "GetMetricData", "MetricDataResults", MetricDataQueries=queries,
                                StartTime=datetime.fromtimestamp(start, timezone.utc),
                                EndTime=datetime.fromtimestamp(end, timezone.utc), ScanBy="TimestampAscending"):
            points.setdefault(str(result["Id"]), []).extend(  # one value per timestamp
                (timestamp(t), float(v)) for t, v in zip(result.get("Timestamps") or [], result.get("Values") or [],
                                                         strict=True))
        series = tuple(MetricSeries(keys[i][0], keys[i][1], tuple(sorted(p))) for i, p in points.items() if p)
        return ServiceMetrics(environment, service, seconds, tuple(scopes), series)

    def _alarm_names(self, api: AwsApi, service: str, raw: Mapping[str, Any]) -> list[str]:
        controller = str((raw.get("deploymentController") or {}).get("type") or ECS)
        if controller == CODE_DEPLOY:
            group = api.call("codedeploy", "GetDeploymentGroup", applicationName=api.env.codedeploy_application,
                             deploymentGroupName=service)["deploymentGroupInfo"]
            return [str(a["name"]) for a in (group.get("alarmConfiguration") or {}).get("alarms") or []]
        return [str(n) for n in ((raw.get("deploymentConfiguration") or {}).get("alarms") or {}).get("alarmNames")
                or []]

    def _view(self, api: AwsApi, alarm: Mapping[str, Any]) -> AlarmView:
        name = str(alarm["AlarmName"])
        items = api.call("cloudwatch", "DescribeAlarmHistory", AlarmName=name, HistoryItemType="StateUpdate",
                         MaxRecords=ALARM_HISTORY, ScanBy="TimestampDescending").get("AlarmHistoryItems") or []
        scope, watching = scope_of(alarm.get("Dimensions") or [])
        periods = int(alarm.get("EvaluationPeriods") or 1)
        return AlarmView(
            name=name, metric=str(alarm.get("MetricName") or "(metric math)"), scope=scope, watching=watching,
            statistic=str(alarm.get("Statistic") or alarm.get("ExtendedStatistic") or ""),
            period=int(alarm.get("Period") or 0), evaluation_periods=periods,
            datapoints_to_alarm=int(alarm.get("DatapointsToAlarm") or periods),
            threshold=float(alarm.get("Threshold") or 0.0), comparison=str(alarm.get("ComparisonOperator") or ""),
            treat_missing_data=str(alarm.get("TreatMissingData") or "missing"), state=str(alarm.get("StateValue")),
            reason=str(alarm.get("StateReason") or ""), history=tuple(history_item(i) for i in items))


def dimension(arn: str) -> str:
    """The CloudWatch dimension value of an ELBv2 ARN: what follows `:loadbalancer/` or `:`.

    >>> dimension("arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/orders/50dc6c495c0c9188")
    'app/orders/50dc6c495c0c9188'
    >>> dimension("arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/production-orders/73e2d6bc24d8a067")
    'targetgroup/production-orders/73e2d6bc24d8a067'
    """
    tail = arn.rpartition(":")[2]
    return tail.partition("/")[2] if tail.startswith("loadbalancer/") else tail


def scope_of(dimensions: list[Mapping[str, Any]]) -> tuple[str, str | None]:
    """What an alarm watches, from its dimensions: a target group (`tg:NAME`, as the local
    backend names it), a load balancer (`lb:NAME`), or other dimensions as they are.

    >>> scope_of([{"Name": "TargetGroup", "Value": "targetgroup/production-orders/73e2"},
    ...           {"Name": "LoadBalancer", "Value": "app/orders/50dc"}])
    ('target-group', 'tg:production-orders')
    """
    dims = {str(d.get("Name")): str(d.get("Value")) for d in dimensions}
    if "TargetGroup" in dims:
        return "target-group", f"tg:{dims['TargetGroup'].split('/')[1]}"
    if "LoadBalancer" in dims:
        return "load-balancer", f"lb:{dims['LoadBalancer'].split('/')[1]}"
    return "metric", ",".join(f"{k}={v}" for k, v in sorted(dims.items())) or None


def history_item(item: Mapping[str, Any]) -> AlarmHistoryItem:
    """DescribeAlarmHistory's StateUpdate: the new state and its reason (HistoryData's JSON)."""
    try:
        data = json.loads(str(item.get("HistoryData") or "{}"))
    except ValueError:
        data = {}
    new = data.get("newState") if isinstance(data, dict) else None
    new = new if isinstance(new, dict) else {}
    return AlarmHistoryItem(at=timestamp(item.get("Timestamp")) or None, state=str(new.get("stateValue") or ""),
                            reason=str(new.get("stateReason") or item.get("HistorySummary") or ""))


def missing_alarm(name: str, region: str) -> AlarmView:
    """A deployment names an alarm CloudWatch does not have: shown, so that it gets provisioned."""
    return AlarmView(name=name, metric="", scope="", watching=None, statistic="", period=0, evaluation_periods=0,
                     datapoints_to_alarm=0, threshold=0.0, comparison="", treat_missing_data="", state="MISSING",
                     reason=reasons.no_alarm(name, region))

