"""The load balancer data plane: one HAProxy per environment, steered through its runtime API.

    model.py     listeners, target groups, health checks, target health (pure, ALB semantics)
    config.py    haproxy.cfg and the weight maps, built as text (pure)
    health.py    HAProxy's server state → ALB target states and reason codes (pure)
    state.py     state.json: the intent a dead HAProxy is rebuilt from
    runtime.py   the admin socket: commands and parsers
    instance.py  the HAProxy process: start, adopt, seamless reload, stop
    haproxy.py   LoadBalancer: apply, register, deregister, drained, remove, weights, targets
"""

from conveyor.lb.errors import (
           InvalidLoadBalancer,
           LoadBalancerError,
           UnknownTargetGroup,
)
from conveyor.lb.haproxy import LoadBalancer
from conveyor.lb.model import HealthCheck, Listener, TargetGroup, TargetHealth

__all__ = ["HealthCheck", "InvalidLoadBalancer", "Listener", "LoadBalancer",
           "LoadBalancerError", "TargetGroup", "TargetHealth", "UnknownTargetGroup"]
