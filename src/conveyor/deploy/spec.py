"""A service as conveyor.yml declares it (`environments.<env>.services.<name>`), with ECS's and
Conveyor's local defaults filled in. conveyor/config/environments.py validates the same keys
with positions; this module only turns a valid mapping into values.

    >>> s = ServiceSpec.from_config("staging", "orders", {"taskDefinition": "taskdef.json",
    ...     "desiredCount": 2, "loadBalancer": {"port": 8081, "container": "api", "containerPort": 8080}})
    >>> s.load_balancer.health_check.interval, s.rolling.minimum_healthy_percent, s.circuit_breaker.enable
    (2.0, 100, False)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from conveyor.config import ecs_deployment
from conveyor.lb.model import HealthCheck, Listener, TargetGroup

#: Local defaults, faster than AWS's (ALB: interval 30 s, healthy threshold 5, delay 300 s),
#: so that a deploy takes seconds. The AWS values are one line away in conveyor.yml.
LOCAL_DEREGISTRATION_DELAY = 5.0
#: ECS: a task with neither a load balancer nor a container health check counts as healthy
#: 40 seconds after it reached RUNNING (aws-semantics §4.3).
NO_HEALTH_CHECK_SETTLE_SECONDS = 40.0


@dataclass(frozen=True)
class LoadBalancerSpec:
    port: int
    container: str
    container_port: int
    bind: str = "127.0.0.1"
    test_port: int | None = None
    deregistration_delay: float = LOCAL_DEREGISTRATION_DELAY
    health_check: HealthCheck = field(default_factory=HealthCheck)

    @classmethod
    def from_config(cls, raw: dict[str, Any]) -> "LoadBalancerSpec":
        hc = raw.get("healthCheck") or {}
        port = hc.get("port", "traffic-port")
        interval = float(hc.get("intervalSeconds", HealthCheck.interval))
        check = HealthCheck(
            path=hc.get("path", "/"),
            port=None if port in (None, "traffic-port") else int(port),
            interval=interval,
            # the default timeout must stay below a short interval (ALB requires timeout < interval)
            timeout=float(hc.get("timeoutSeconds", min(HealthCheck.timeout, interval / 2))),
            healthy_threshold=int(hc.get("healthyThresholdCount", HealthCheck.healthy_threshold)),
            unhealthy_threshold=int(hc.get("unhealthyThresholdCount", HealthCheck.unhealthy_threshold)),
            matcher=str(hc.get("matcher", HealthCheck.matcher)))
        return cls(port=int(raw["port"]), container=str(raw["container"]),
                   container_port=int(raw["containerPort"]), bind=str(raw.get("bind", "127.0.0.1")),
                   test_port=int(raw["testPort"]) if raw.get("testPort") is not None else None,
                   deregistration_delay=float(raw.get("deregistrationDelaySeconds",
                                                      LOCAL_DEREGISTRATION_DELAY)),
                   health_check=check)


@dataclass(frozen=True)
class RollingSpec:
    minimum_healthy_percent: int = ecs_deployment.DEFAULT_MINIMUM_HEALTHY_PERCENT
    maximum_percent: int = ecs_deployment.DEFAULT_MAXIMUM_PERCENT


@dataclass(frozen=True)
class CircuitBreakerSpec:
    enable: bool = False
    rollback: bool = False
    threshold_type: str = "BOUNDED_PERCENT"
    threshold_value: float = ecs_deployment.CIRCUIT_BREAKER_PERCENT
    reset_on_healthy_task: bool = True

    def threshold(self, desired: int) -> int:
        return ecs_deployment.circuit_breaker_threshold(desired, self.threshold_type, self.threshold_value)


@dataclass(frozen=True)
class ServiceSpec:
    environment: str
    name: str
    task_definition: str  # path of taskdef.json in the repository
    desired_count: int = 1
    health_check_grace_period: float = 0.0
    load_balancer: LoadBalancerSpec | None = None
    controller: str = "ECS"
    rolling: RollingSpec = field(default_factory=RollingSpec)
    circuit_breaker: CircuitBreakerSpec = field(default_factory=CircuitBreakerSpec)
    deployment: dict[str, Any] = field(default_factory=dict, compare=False)  # the raw block (CODE_DEPLOY keys)
    #: `environments.<env>.alarms`: the alarms a CODE_DEPLOY deployment block may name.
    environment_alarms: dict[str, Any] = field(default_factory=dict, compare=False)
    #: `environments.<env>.target`: the backend the service runs on (local | aws).
    target: str = "local"
    #: The environment's backend settings (for aws: region, profile, roleArn, cluster, …).
    environment_settings: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_config(cls, environment: str, name: str, raw: dict[str, Any],
                    environment_alarms: dict[str, Any] | None = None, target: str = "local",
                    environment_settings: dict[str, Any] | None = None) -> "ServiceSpec":
        dep = raw.get("deployment") or {}
        cb = dep.get("circuitBreaker") or {}
        threshold = cb.get("threshold") or {}
        lb = raw.get("loadBalancer")
        return cls(
            environment=environment, name=name,
            task_definition=str(raw.get("taskDefinition", "taskdef.json")),
            desired_count=int(raw.get("desiredCount", 1)),
            health_check_grace_period=float(raw.get("healthCheckGracePeriodSeconds", 0)),
            load_balancer=LoadBalancerSpec.from_config(lb) if lb else None,
            controller=str(dep.get("controller", "ECS")),
            rolling=RollingSpec(int(dep.get("minimumHealthyPercent", ecs_deployment.DEFAULT_MINIMUM_HEALTHY_PERCENT)),
                                int(dep.get("maximumPercent", ecs_deployment.DEFAULT_MAXIMUM_PERCENT))),
            circuit_breaker=CircuitBreakerSpec(
                enable=bool(cb.get("enable", False)), rollback=bool(cb.get("rollback", False)),
                threshold_type=str(threshold.get("type", "BOUNDED_PERCENT")),
                threshold_value=float(threshold.get("value", ecs_deployment.CIRCUIT_BREAKER_PERCENT)),
                reset_on_healthy_task=bool(cb.get("resetOnHealthyTask", True))),
            deployment=dict(dep), environment_alarms=dict(environment_alarms or {}), target=target,
            environment_settings=dict(environment_settings or {}))

    @property
    def blue_green(self) -> bool:
        return self.controller == "CODE_DEPLOY"

    @property
    def target_group(self) -> TargetGroup | None:
        """The service's target group (rolling), or the first of its pair (blue/green)."""
        if self.load_balancer is None:
            return None
        return self.target_groups[0]

    @property
    def target_groups(self) -> list[TargetGroup]:
        """One target group, or for CODE_DEPLOY the pair whose roles swap on every deployment
        (aws-semantics §5.1: targetGroupPairInfoList)."""
        if self.load_balancer is None:
            return []
        names = ([f"{target_group_name(self.environment, self.name)}-{n}" for n in (1, 2)] if self.blue_green
                 else [target_group_name(self.environment, self.name)])
        return [TargetGroup(name=n, health_check=self.load_balancer.health_check,
                            deregistration_delay=self.load_balancer.deregistration_delay) for n in names]

    def target_group_named(self, name: str | None) -> TargetGroup | None:
        return next((tg for tg in self.target_groups if tg.name == name), self.target_group)

    @property
    def listeners(self) -> list[Listener]:
        """The production listener and, for blue/green with a testPort, the test listener. Both
        default to the first target group; a deployment routes them with forward weights."""
        if self.load_balancer is None:
            return []
        lb, first = self.load_balancer, self.target_groups[0].name
        out = [Listener(port=lb.port, target_group=first, bind=lb.bind)]
        if self.blue_green and lb.test_port:
            out.append(Listener(port=lb.test_port, target_group=first, bind=lb.bind))
        return out

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ServiceSpec":
        lb = data.get("load_balancer")
        return cls(
            environment=data["environment"], name=data["name"], task_definition=data["task_definition"],
            desired_count=data["desired_count"], health_check_grace_period=data["health_check_grace_period"],
            load_balancer=(LoadBalancerSpec(**{**lb, "health_check": HealthCheck(**lb["health_check"])})
                           if lb else None),
            controller=data["controller"], rolling=RollingSpec(**data["rolling"]),
            circuit_breaker=CircuitBreakerSpec(**data["circuit_breaker"]),
            deployment=data.get("deployment") or {}, environment_alarms=data.get("environment_alarms") or {},
            target=data.get("target") or "local", environment_settings=data.get("environment_settings") or {})


def target_group_name(environment: str, service: str) -> str:
    """One target group per service and environment (blue/green adds a second one)."""
    return f"{environment}-{service}"


def service_specs(environments: dict[str, Any], environment: str) -> dict[str, ServiceSpec]:
    env = (environments or {}).get(environment) or {}
    alarms = env.get("alarms") if isinstance(env.get("alarms"), dict) else {}
    target = str(env.get("target") or "local")
    settings = {k: v for k, v in env.items() if k not in ("target", "services", "alarms")}
    return {name: ServiceSpec.from_config(environment, name, body or {}, alarms, target, settings)
            for name, body in (env.get("services") or {}).items()}
