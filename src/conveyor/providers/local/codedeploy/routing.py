"""Traffic routing of a blue/green pair (aws-semantics §5.6): the forward weights of a service's
listeners between its two target groups, and whether a target group has a healthy target.
CodeDeploy shifts traffic by rewriting the prod (and test) listener's forward action; here that
is one HAProxy runtime call per listener (no reload), so a reroute to blue takes milliseconds.

    router = TrafficRouter(services.load_balancer)
    router.point("production", 8080, blue="production-orders-1", green="production-orders-2", percent=10)
    router.healthy("production", "production-orders-1")                  # True
    router.reroute("production", (8080, 9080), to="production-orders-1", away_from="production-orders-2")
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from conveyor.errors import ConveyorError
from conveyor.lb.model import TargetHealth

HEALTHY = "healthy"


class Listeners(Protocol):
    """What routing needs of an environment's load balancer (conveyor.lb.haproxy.LoadBalancer):
    ELBv2 ModifyListener's forward weights and DescribeTargetHealth."""

    def set_weights(self, listener_port: int, weights: dict[str, int]) -> None: ...

    def targets(self, target_group: str) -> Sequence[TargetHealth]: ...


def forward_weights(blue: str | None, green: str, percent: float) -> dict[str, int]:
    """ALB ForwardConfig weights (0-999) sending `percent` % to green, in steps of 0.1 %. Both
    groups stay in the forward action (one at weight 0), so both are attached and health
    checked, as a target group pair is on ALB.

    >>> forward_weights("b", "g", 10)
    {'b': 900, 'g': 100}
    >>> forward_weights("b", "g", 100), forward_weights(None, "g", 0)
    ({'b': 0, 'g': 1}, {'g': 1})
    """
    if blue is None:
        return {green: 1}
    w = min(1000, max(0, round(percent * 10)))
    if w == 0:
        return {blue: 1, green: 0}
    if w == 1000:
        return {blue: 0, green: 1}
    return {blue: 1000 - w, green: w}


class TrafficRouter:
    def __init__(self, load_balancer: Callable[[str], Listeners], *,
                 monotonic: Callable[[], float] = time.monotonic):
        self._load_balancer = load_balancer  # environment -> its HAProxy (shared with the service controller)
        self._monotonic = monotonic

    def point(self, environment: str, port: int, *, blue: str | None, green: str, percent: float) -> None:
        """The listener on `port` sends `percent` % to green and the rest to blue."""
        self._load_balancer(environment).set_weights(port, forward_weights(blue, green, percent))

    def reroute(self, environment: str, ports: Iterable[int | None], *, to: str, away_from: str) -> float:
        """Every listener in `ports` back on `to` at once; returns the seconds it took."""
        started = self._monotonic()
        for port in filter(None, ports):
            self.point(environment, port, blue=to, green=away_from, percent=0)
        return self._monotonic() - started

    def healthy(self, environment: str, target_group: str | None) -> bool:
        """Whether the target group has a healthy target (Conveyor never routes to one without)."""
        if not target_group:
            return False
        try:
            return any(t.state == HEALTHY for t in self._load_balancer(environment).targets(target_group))
        except ConveyorError:
            return False
