"""The local backend: the backend interface (conveyor.backend.interface) over what runs on this
machine — the service controller (ECS: podman pods, HAProxy), the deploy controller (CodeDeploy:
task sets, traffic shifting, hooks, alarms on sampled HAProxy metrics) and the local registry.

    local = LocalBackend(home, secrets=secrets, mask=masker.mask, registry=registry)
    local.start()                        # the control loops
    local.backend.ecs.describe_service("staging", "orders")
    local.shutdown()                     # the loops stop; tasks and HAProxy keep serving

Each part is a thin translation: the controllers do the work and return the neutral types.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conveyor.backend.interface import Backend
from conveyor.lb.haproxy import LoadBalancer
from conveyor.passes import PassTimer
from conveyor.providers.local.backend.codedeploy import LocalCodeDeploy
from conveyor.providers.local.backend.ecs import LocalEcs
from conveyor.providers.local.backend.reads import LocalAlarms, LocalLoadBalancers
from conveyor.providers.local.backend.registry import LocalImageRegistry
from conveyor.providers.local.codedeploy.controller import DeployController
from conveyor.providers.local.ecs.balancers import LoadBalancers
from conveyor.providers.local.ecs.controller import ServiceController


class LocalBackend:
    """The local backend with the control loops behind it, started and stopped together."""

    def __init__(self, home: str | Path, *, secrets: Any = None, mask: Callable[[str], str] | None = None,
                 clock: Callable[[], float] = time.time, registry: Any = None):
        self.home = Path(home)
        #: Each environment's HAProxy, shared by both controllers and the ELBv2 reads.
        self.balancers = LoadBalancers(self.home / "lb", LoadBalancer)
        self.services = ServiceController(self.home, balancers=self.balancers, secrets=secrets, clock=clock)
        self.deploys = DeployController(self.home, self.services.task_sets, load_balancer=self.balancers.get,
                                        load_balancers=self.balancers.all, clock=clock, mask=mask)
        self.backend = Backend(
            name="local", registry=LocalImageRegistry(registry, self.home) if registry is not None else None,
            ecs=LocalEcs(self.services), codedeploy=LocalCodeDeploy(self.deploys),
            load_balancers=LocalLoadBalancers(self.balancers), alarms=LocalAlarms(self.deploys))

    def start(self) -> None:
        self.services.start()
        self.deploys.start()

    def shutdown(self) -> None:
        """Stop steering; the data plane (tasks, HAProxy) keeps serving."""
        self.deploys.shutdown()
        self.services.shutdown()

    def loops(self) -> dict[str, PassTimer]:
        return {"services": self.services.passes, "deploys": self.deploys.passes}
