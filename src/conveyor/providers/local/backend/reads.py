"""ELBv2 and CloudWatch reads over the local HAProxy and the sampled metrics."""

from __future__ import annotations

from conveyor.backend.types import (
    AlarmHistoryItem,
    AlarmView,
    MetricSeries,
    ServiceMetrics,
    TargetHealth,
)
from conveyor.lb.haproxy import LoadBalancer
from conveyor.providers.local.codedeploy.controller import (
    DeployController,
)
from conveyor.providers.local.ecs.balancers import LoadBalancers
from conveyor.providers.local.ecs.views import target_view


class LocalLoadBalancers:
    def __init__(self, balancers: LoadBalancers[LoadBalancer]):
        self._balancers = balancers

    def target_health(self, environment: str, target_group: str) -> list[TargetHealth]:
        return [target_view(t) for t in self._balancers.get(environment).targets(target_group)]

    def listener_weights(self, environment: str, port: int) -> dict[str, int]:
        return self._balancers.get(environment).weights(port)


class LocalAlarms:
    def __init__(self, deploys: DeployController):
        self._deploys = deploys

    def describe_alarms(self, environment: str, service: str) -> list[AlarmView]:
        return [AlarmView(
            name=a["name"], metric=a["metric"], scope=a["scope"], watching=a["watching"], statistic=a["statistic"],
            period=a["period"], evaluation_periods=a["evaluationPeriods"], datapoints_to_alarm=a["datapointsToAlarm"],
            threshold=a["threshold"], comparison=a["comparisonOperator"], treat_missing_data=a["treatMissingData"],
            state=a["state"], reason=a["reason"], datapoints=tuple(tuple(p) for p in a["datapoints"]),
            history=tuple(AlarmHistoryItem(h.get("at"), h.get("state", ""), h.get("reason", "")) for h in a["history"]))
            for a in self._deploys.alarms_view(environment, service)]

    def get_metrics(self, environment: str, service: str, seconds: int) -> ServiceMetrics:
        view = self._deploys.metrics_view(environment, service, seconds)
        return ServiceMetrics(environment, service, seconds, tuple(view["scopes"]), tuple(
            MetricSeries(scope, metric, tuple(tuple(p) for p in points))
            for scope, series in view["scopes"].items() for metric, points in series.items()))
