"""The load balancer of an environment and the network around its services (aws-semantics §7):
one internet-facing Application Load Balancer for the environment's services, a listener per
`loadBalancer.port` (and `testPort` for blue/green), the target group of each service (the pair
`<env>-<service>-1`/`-2` for blue/green, the names Conveyor and the AWS backend use), their
health checks and deregistration delay; security groups: the load balancer's open on its
listener ports to AllowedCidr, each service's open only to the load balancer on its container
port (and health-check port).

ECS-native blue/green, canary and linear need listener *rules* (ECS rewrites their weights):
each listener of such a service answers 404 by default and has one rule forwarding every path to
the pair, 100/0. CodeDeploy rewrites the listeners' default actions instead.

    add_network(ctx)          # security groups, load balancer, target groups, listeners
    target_group_ids(svc)     # ['OrdersTargetGroup1', 'OrdersTargetGroup2']
"""

from __future__ import annotations

from typing import Any

from conveyor.config.codedeploy_configs import number_text
from conveyor.export.context import NATIVE, EnvironmentExport, ServiceExport
from conveyor.export.naming import target_group_name
from conveyor.export.parameters import ALLOWED_CIDR, PUBLIC_SUBNETS, VPC_ID
from conveyor.export.rounding import alb_health_check, whole_seconds
from conveyor.export.template import GetAtt, Ref, Sub
from conveyor.lb.model import HealthCheck

LOAD_BALANCER = "LoadBalancer"
LOAD_BALANCER_SECURITY_GROUP = "LoadBalancerSecurityGroup"
#: ALB's default deregistration delay (aws-semantics §7.2), for the note when Conveyor's applies.
ALB_DEREGISTRATION_DELAY = 300
HTTPS_PORT = 443


def target_group_ids(svc: ServiceExport) -> list[str]:
    if svc.spec.load_balancer is None:
        return []
    return [svc.id("TargetGroup")] if len(svc.spec.target_groups) == 1 else [svc.id("TargetGroup1"),
                                                                            svc.id("TargetGroup2")]


def listener_id(svc: ServiceExport, test: bool = False) -> str:
    return svc.id("TestListener" if test else "Listener")


def listener_rule_id(svc: ServiceExport, test: bool = False) -> str:
    return svc.id("TestListenerRule" if test else "ListenerRule")


def has_test_listener(svc: ServiceExport) -> bool:
    lb = svc.spec.load_balancer
    return lb is not None and svc.spec.blue_green and lb.test_port is not None


def task_security_group_id(svc: ServiceExport) -> str:
    return svc.id("TaskSecurityGroup")


def add_network(ctx: EnvironmentExport) -> None:
    for svc in ctx.services:
        _task_security_group(ctx, svc)
    if not ctx.load_balanced:
        return
    t = ctx.template
    ingress, egress = [], []
    for svc in ctx.load_balanced:
        lb = svc.spec.load_balancer
        assert lb is not None
        for port, what in ((lb.port, "production"), (lb.test_port if has_test_listener(svc) else None, "test")):
            if port is not None:
                ingress.append({"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "CidrIp": Ref(ALLOWED_CIDR),
                                "Description": f"{svc.name} {what} listener"})
        for port in _task_ports(svc):
            egress.append({"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                           "DestinationSecurityGroupId": GetAtt(task_security_group_id(svc), "GroupId"),
                           "Description": f"to {svc.name}'s tasks"})
    t.resource(LOAD_BALANCER_SECURITY_GROUP, "AWS::EC2::SecurityGroup", {
        "GroupDescription": f"{ctx.environment}: the load balancer, open on its listener ports",
        "VpcId": Ref(VPC_ID), "SecurityGroupIngress": ingress, "SecurityGroupEgress": egress},
        source=ctx.at("services"))
    t.resource(LOAD_BALANCER, "AWS::ElasticLoadBalancingV2::LoadBalancer", {
        "Type": "application", "Scheme": "internet-facing", "Subnets": Ref(PUBLIC_SUBNETS),
        "SecurityGroups": [GetAtt(LOAD_BALANCER_SECURITY_GROUP, "GroupId")]}, source=ctx.at("services"))
    t.output("LoadBalancerDnsName", GetAtt(LOAD_BALANCER, "DNSName"), "The load balancer's DNS name")
    for svc in ctx.load_balanced:
        _target_groups(ctx, svc)
        _listeners(ctx, svc)


def _task_ports(svc: ServiceExport) -> list[int]:
    lb = svc.spec.load_balancer
    if lb is None:
        return []
    port = lb.health_check.port
    return [lb.container_port] + ([port] if port is not None and port != lb.container_port else [])


def _task_security_group(ctx: EnvironmentExport, svc: ServiceExport) -> None:
    t = ctx.template
    what = "open to the load balancer only" if svc.spec.load_balancer else "no inbound traffic"
    t.resource(task_security_group_id(svc), "AWS::EC2::SecurityGroup", {
        "GroupDescription": f"{ctx.environment}/{svc.name}: the tasks, {what}", "VpcId": Ref(VPC_ID)},
        source=svc.at())
    for port in _task_ports(svc):
        suffix = "" if port == _task_ports(svc)[0] else "HealthCheck"
        t.resource(svc.id(f"TaskIngress{suffix}"), "AWS::EC2::SecurityGroupIngress", {
            "GroupId": GetAtt(task_security_group_id(svc), "GroupId"), "IpProtocol": "tcp", "FromPort": port,
            "ToPort": port, "SourceSecurityGroupId": GetAtt(LOAD_BALANCER_SECURITY_GROUP, "GroupId"),
            "Description": "from the load balancer"}, source=svc.at("loadBalancer", "containerPort"))


def _target_groups(ctx: EnvironmentExport, svc: ServiceExport) -> None:
    lb = svc.spec.load_balancer
    assert lb is not None
    check = _health_check(ctx, svc, lb.health_check)
    delay = _deregistration_delay(ctx, svc, lb.deregistration_delay)
    for logical_id, group in zip(target_group_ids(svc), svc.spec.target_groups, strict=True):
        name = target_group_name(group.name)
        if name != group.name:
            ctx.notes.add(svc.at("loadBalancer"), f"target group {group.name} (Conveyor's name: environment-service)",
                          f"named {name}: ELBv2 takes 1-32 letters, digits and hyphens. The AWS backend looks "
                          f"target groups up by Conveyor's name: rename the environment or the service")
        ctx.template.resource(logical_id, "AWS::ElasticLoadBalancingV2::TargetGroup", {
            "Name": name, "TargetType": "ip", "Protocol": "HTTP", "Port": lb.container_port, "VpcId": Ref(VPC_ID),
            **check, "TargetGroupAttributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": str(delay)}]},
            source=svc.at("loadBalancer"))


def _health_check(ctx: EnvironmentExport, svc: ServiceExport, hc: HealthCheck) -> dict[str, Any]:
    given = svc.load_balancer_raw.get("healthCheck") or {}
    interval, timeout = alb_health_check(hc.interval, hc.timeout)
    for key, local, aws, bounds in (("intervalSeconds", hc.interval, interval, "5-300 s"),
                                    ("timeoutSeconds", hc.timeout, timeout, "2-120 s, less than the interval")):
        if aws != local:
            default = "" if key in given else " (Conveyor's local default)"
            ctx.notes.add(svc.at("loadBalancer", "healthCheck", key), f"{number_text(local)} s{default}",
                          f"{aws} s (ALB: {bounds}, whole seconds)")
    return {"HealthCheckEnabled": True, "HealthCheckProtocol": "HTTP", "HealthCheckPath": hc.path,
            "HealthCheckPort": "traffic-port" if hc.port is None else str(hc.port),
            "HealthCheckIntervalSeconds": interval, "HealthCheckTimeoutSeconds": timeout,
            "HealthyThresholdCount": hc.healthy_threshold, "UnhealthyThresholdCount": hc.unhealthy_threshold,
            "Matcher": {"HttpCode": hc.matcher}}


def _deregistration_delay(ctx: EnvironmentExport, svc: ServiceExport, delay: float) -> int:
    seconds = whole_seconds(delay)
    where = svc.at("loadBalancer", "deregistrationDelaySeconds")
    if "deregistrationDelaySeconds" not in svc.load_balancer_raw:
        ctx.notes.add(where, f"not set: Conveyor's local default, {number_text(delay)} s",
                      f"{seconds} s kept (ALB's default is {ALB_DEREGISTRATION_DELAY} s: set it for long requests)")
    elif seconds != delay:
        ctx.notes.add(where, f"{number_text(delay)} s", f"{seconds} s (ALB takes whole seconds)")
    return seconds


def _listeners(ctx: EnvironmentExport, svc: ServiceExport) -> None:
    lb = svc.spec.load_balancer
    assert lb is not None
    if "bind" in svc.load_balancer_raw:
        ctx.notes.add(svc.at("loadBalancer", "bind"), f"listeners bound to {lb.bind} on this machine",
                      "the internet-facing load balancer in PublicSubnetIds, reachable from AllowedCidr")
    groups = target_group_ids(svc)
    for test, port in ((False, lb.port), (True, lb.test_port if has_test_listener(svc) else None)):
        if port is None:
            continue
        key = "testPort" if test else "port"
        if port == HTTPS_PORT:
            ctx.notes.add(svc.at("loadBalancer", key), "port 443 (Conveyor's listeners are plain HTTP)",
                          "an HTTP listener on 443: add a certificate and Protocol HTTPS for TLS")
        if svc.kind == NATIVE:
            default: dict[str, Any] = {"Type": "fixed-response", "FixedResponseConfig": {
                "StatusCode": "404", "ContentType": "text/plain", "MessageBody": "no rule matched"}}
        else:
            default = {"Type": "forward", "TargetGroupArn": Ref(groups[0])}
        what = "test listener: green before it gets traffic" if test else "production listener"
        ctx.template.resource(listener_id(svc, test), "AWS::ElasticLoadBalancingV2::Listener", {
            "LoadBalancerArn": Ref(LOAD_BALANCER), "Port": port, "Protocol": "HTTP", "DefaultActions": [default]},
            source=svc.at("loadBalancer", key))
        ctx.template.output(svc.id("TestUrl" if test else "Url"), Sub(f"http://${{{LOAD_BALANCER}.DNSName}}:{port}/"),
                            f"{svc.name}: {what}")
        if svc.kind == NATIVE:
            ctx.template.resource(listener_rule_id(svc, test), "AWS::ElasticLoadBalancingV2::ListenerRule", {
                "ListenerArn": Ref(listener_id(svc, test)), "Priority": 1,
                "Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}],
                "Actions": [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
                    {"TargetGroupArn": Ref(groups[0]), "Weight": 100},
                    {"TargetGroupArn": Ref(groups[1]), "Weight": 0}]}}]},
                source=svc.at("deployment", "strategy"))
