"""The load balancer's errors, under conveyor.errors:

    ConveyorError
    ├── LoadBalancerError          HAProxy would not start, reload or take a command
    ├── UserError
    │   ├── InvalidLoadBalancer    a listener, target group, target or weight HAProxy/ALB refuses
    │   └── NotFound
    │       └── UnknownTargetGroup
"""

from __future__ import annotations

from conveyor.errors import ConveyorError, NotFound, UserError


class LoadBalancerError(ConveyorError):
    pass


class InvalidLoadBalancer(UserError):
    pass


class UnknownTargetGroup(NotFound):
    def __init__(self, name: str, known: list[str]):
        self.name = name
        super().__init__(f"unknown target group '{name}'",
                         hint=f"declare it with apply(); known: {', '.join(known) or 'none'}")
