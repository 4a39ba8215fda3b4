"""The load balancers of a data directory: one per environment (an HAProxy under `lb/ENV`),
holding the listeners and target groups of that environment's services (a pair for a
blue/green service). One LoadBalancers object owns them all and the topology last applied to
each; the service controller registers its tasks through it, the deploy controller moves
listener weights through it, and the backend's ELBv2 reads go through it too.

    balancers = LoadBalancers(home / "lb", LoadBalancer)
    balancers.apply("staging", [orders_spec, billing_spec])   # listeners + target groups (reload if changed)
    balancers.get("staging").register("staging-orders", "t1", "127.0.0.1", 43121)
    balancers.targets(orders_spec)                            # TargetHealth of its target groups
    balancers.all()                                           # {"staging": LoadBalancer, ...}
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from conveyor.deploy.spec import ServiceSpec
from conveyor.lb.model import Listener, TargetGroup, TargetHealth

log = logging.getLogger("conveyor.services")


class TaskBalancer(Protocol):
    """What the service controller asks of one environment's load balancer
    (conveyor.lb.haproxy.LoadBalancer has it all)."""

    def apply(self, listeners: list[Listener], target_groups: list[TargetGroup]) -> None: ...

    def ensure_running(self) -> bool:
        """Start it again if it died; True when it had to."""
        ...

    def register(self, target_group: str, target_id: str, host: str, port: int) -> None: ...

    def deregister(self, target_group: str, target_id: str) -> None:
        """Draining: no new requests; drained() says when it is done."""
        ...

    def drained(self, target_group: str, target_id: str) -> bool: ...

    def remove(self, target_group: str, target_id: str) -> None: ...

    def targets(self, target_group: str) -> list[TargetHealth]: ...

    def stop(self) -> None: ...


Balancer = TypeVar("Balancer", bound=TaskBalancer, covariant=True)
Topology = tuple[tuple[Listener, ...], tuple[TargetGroup, ...]]


class LoadBalancers(Generic[Balancer]):
    """Every environment's load balancer, made on first use by `factory(directory, environment)`."""

    def __init__(self, root: Path, factory: Callable[[Path, str], Balancer]):
        self.root = Path(root)
        self._factory = factory
        self._balancers: dict[str, Balancer] = {}
        self._topology: dict[str, Topology] = {}
        self._lock = threading.Lock()

    def get(self, environment: str) -> Balancer:
        """The environment's load balancer (made, with its directory, on first use)."""
        with self._lock:
            if environment not in self._balancers:
                self._balancers[environment] = self._factory(self.root / environment, environment)
            return self._balancers[environment]

    def all(self) -> Mapping[str, Balancer]:
        """The load balancers of environments whose services have one (for the metrics sampler)."""
        with self._lock:
            environments = list(self._topology)
        return {env: self.get(env) for env in environments}

    def apply(self, environment: str, specs: list[ServiceSpec]) -> None:
        """Give the environment's load balancer the listeners and target groups of `specs` (its
        services): a reload only when they changed; otherwise restart it if it died. Raises what
        the load balancer refuses (conveyor.lb.errors)."""
        listeners: list[Listener] = []
        groups: list[TargetGroup] = []
        for spec in specs:
            groups += spec.target_groups
            listeners += spec.listeners
        if not groups:
            return
        topology = (tuple(listeners), tuple(groups))
        balancer = self.get(environment)
        if self._topology.get(environment) != topology:
            balancer.apply(listeners, groups)
            self._topology[environment] = topology
        elif balancer.ensure_running():
            log.warning("HAProxy of environment %s was down: restarted with its targets", environment)

    def targets(self, spec: ServiceSpec) -> list[TargetHealth]:
        """The targets of the service's target groups; none while its load balancer is down or
        was never made (no directory is made for asking)."""
        if spec.target_group is None or spec.environment not in self._topology and not (
                self.root / spec.environment).exists():
            return []
        out: list[TargetHealth] = []
        for tg in spec.target_groups:
            try:
                out += self.get(spec.environment).targets(tg.name)
            except Exception:  # HAProxy down: the next pass restarts it
                pass
        return out

    def stop_all(self) -> None:
        """Stop every load balancer made so far (`conveyor down --all`)."""
        with self._lock:
            balancers = list(self._balancers.values())
        for balancer in balancers:
            balancer.stop()
