"""ELBv2 reads that ECS and the reads share: a service's target groups, their targets' health,
the load balancers in front of them, and the listener (hence the URL) that forwards to them.
Read only: Conveyor does not create or change load balancers.

    elb = Elbv2(apis.api("production"))
    group = elb.target_group_named("production-orders")
    elb.target_health(group["TargetGroupArn"])       # [TargetHealth(…, state="healthy"), …]
    elb.url(group)                                   # 'http://orders-123.eu-west-1.elb.amazonaws.com/'

AWS calls: elasticloadbalancing:DescribeTargetGroups, DescribeTargetHealth, DescribeLoadBalancers,
DescribeListeners.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from conveyor.backend.types import TargetHealth
from conveyor.errors import NotFound
from conveyor.providers.aws import ecs_reasons as reasons
from conveyor.providers.aws.api import AwsApi

#: DescribeLoadBalancers takes at most 20 ARNs.
LOAD_BALANCERS_BATCH = 20
DEFAULT_PORTS = {"http": 80, "https": 443}


def target_view(description: Mapping[str, Any]) -> TargetHealth:
    """DescribeTargetHealth's TargetHealthDescription, with ALB's state and reason code."""
    target, health = description.get("Target") or {}, description.get("TargetHealth") or {}
    ident, port = str(target.get("Id", "")), target.get("Port")
    return TargetHealth(target_id=ident, address=f"{ident}:{port}" if port else ident,
                        state=str(health.get("State", "unavailable")), reason=health.get("Reason"),
                        description=health.get("Description"))


def forwards_to(action: Mapping[str, Any], target_group_arn: str) -> bool:
    """Whether a listener action forwards (some of) its traffic to the target group.

    >>> forwards_to({"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": "tg-a"}]}}, "tg-a")
    True
    """
    if action.get("Type") != "forward":
        return False
    return action.get("TargetGroupArn") == target_group_arn or target_group_arn in forward_weights(action)


def forward_weights(action: Mapping[str, Any]) -> dict[str, int]:
    """A forward action's target group ARN → weight (a lone TargetGroupArn weighs 1, as ELB
    reports a single-group forward).

    >>> forward_weights({"Type": "forward", "ForwardConfig": {"TargetGroups": [
    ...     {"TargetGroupArn": "tg-blue", "Weight": 90}, {"TargetGroupArn": "tg-green", "Weight": 10}]}})
    {'tg-blue': 90, 'tg-green': 10}
    """
    groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
    if groups:
        return {str(g["TargetGroupArn"]): int(g.get("Weight", 1)) for g in groups}
    return {str(action["TargetGroupArn"]): 1} if action.get("TargetGroupArn") else {}


def url(load_balancer: Mapping[str, Any], listener: Mapping[str, Any]) -> str:
    """The URL a listener of a load balancer serves (the port left out when it is the scheme's).

    >>> url({"DNSName": "orders-1.eu-west-1.elb.amazonaws.com"}, {"Protocol": "HTTP", "Port": 8080})
    'http://orders-1.eu-west-1.elb.amazonaws.com:8080/'
    """
    scheme = "https" if str(listener.get("Protocol", "HTTP")).upper() in ("HTTPS", "TLS") else "http"
    port = int(listener.get("Port") or DEFAULT_PORTS[scheme])
    host = str(load_balancer["DNSName"])
    return f"{scheme}://{host}/" if port == DEFAULT_PORTS[scheme] else f"{scheme}://{host}:{port}/"


class Elbv2:
    """ELBv2 reads for one operation: load balancers and listeners are asked for once per
    instance (a listing's services often share a load balancer)."""

    def __init__(self, api: AwsApi):
        self.api = api
        self._load_balancers: dict[str, dict[str, Any]] = {}
        self._listeners: dict[str, list[dict[str, Any]]] = {}

    def target_group_named(self, name: str) -> dict[str, Any]:
        try:
            found = self.api.call("elbv2", "DescribeTargetGroups", Names=[name])["TargetGroups"]
        except NotFound:
            found = []
        if not found:
            env = self.api.env
            raise NotFound(reasons.no_target_group(env.name, env.region, name), hint=reasons.PROVISION_HINT)
        return dict(found[0])

    def target_groups(self, arns: Iterable[str]) -> list[dict[str, Any]]:
        wanted = list(dict.fromkeys(arns))
        if not wanted:
            return []
        return list(self.api.pages("elbv2", "DescribeTargetGroups", "TargetGroups", TargetGroupArns=wanted))

    def target_health(self, target_group_arn: str) -> list[TargetHealth]:
        answer = self.api.call("elbv2", "DescribeTargetHealth", TargetGroupArn=target_group_arn)
        return [target_view(d) for d in answer.get("TargetHealthDescriptions") or []]

    def load_balancers(self, arns: Iterable[str]) -> list[dict[str, Any]]:
        wanted = list(dict.fromkeys(arns))
        missing = [a for a in wanted if a not in self._load_balancers]
        for i in range(0, len(missing), LOAD_BALANCERS_BATCH):
            for lb in self.api.pages("elbv2", "DescribeLoadBalancers", "LoadBalancers",
                                     LoadBalancerArns=missing[i:i + LOAD_BALANCERS_BATCH]):
                self._load_balancers[str(lb["LoadBalancerArn"])] = lb
        return [self._load_balancers[a] for a in wanted if a in self._load_balancers]

    def listeners(self, load_balancer_arn: str) -> list[dict[str, Any]]:
        if load_balancer_arn not in self._listeners:
            self._listeners[load_balancer_arn] = list(self.api.pages("elbv2", "DescribeListeners", "Listeners",
                                                                     LoadBalancerArn=load_balancer_arn))
        return self._listeners[load_balancer_arn]

    def url(self, target_group: Mapping[str, Any]) -> str | None:
        """The URL of the first listener whose default action forwards to the target group,
        on the first of its load balancers; None when no listener does (rules are not read)."""
        arn = str(target_group["TargetGroupArn"])
        for lb in self.load_balancers(target_group.get("LoadBalancerArns") or []):
            for listener in self.listeners(str(lb["LoadBalancerArn"])):
                if any(forwards_to(a, arn) for a in listener.get("DefaultActions") or []):
                    return url(lb, listener)
        return None
