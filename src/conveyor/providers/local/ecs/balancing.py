"""Each environment's load balancer as the service controller drives it: one HAProxy per
environment with the listeners and target groups of its services (a pair for blue/green), and
the targets a service's tasks are registered as.

Mixed into ServiceController (home, _lbs, _topology, store).
"""

from __future__ import annotations

import logging

from conveyor.deploy.spec import ServiceSpec
from conveyor.lb.haproxy import LoadBalancer
from conveyor.providers.local.ecs.store import Task

log = logging.getLogger("conveyor.services")


class LoadBalancing:
    def _lb(self, environment: str) -> LoadBalancer:
        if environment not in self._lbs:
            self._lbs[environment] = LoadBalancer(self.home / "lb" / environment, environment)
        return self._lbs[environment]

    def load_balancer(self, environment: str) -> LoadBalancer:
        """The environment's load balancer (HAProxy), for the deploy controller and the sampler."""
        return self._lb(environment)

    def load_balancers(self) -> dict[str, LoadBalancer]:
        """Load balancers of environments that have one."""
        return {env: self._lb(env) for env in self._topology}

    def _task_target_group(self, task: Task, spec: ServiceSpec):
        if not spec.blue_green:
            return spec.target_group
        dep = self.store.deployment(task.deployment_id)
        return spec.target_group_named(dep.target_group if dep else None)

    def _apply_load_balancer(self, environment: str, rows: list) -> None:
        listeners, groups = [], []
        for row in rows:
            spec = ServiceSpec.from_json(row.spec)
            groups += spec.target_groups
            listeners += spec.listeners
        if not groups:
            return
        topology = (tuple(listeners), tuple(groups))
        lb = self._lb(environment)
        if self._topology.get(environment) != topology:
            lb.apply(listeners, groups)
            self._topology[environment] = topology
        elif lb.ensure_running():
            log.warning("HAProxy of environment %s was down: restarted with its targets", environment)

    def _targets(self, spec: ServiceSpec) -> list:
        if spec.target_group is None or spec.environment not in self._topology and not (
                self.home / "lb" / spec.environment).exists():
            return []
        out = []
        for tg in spec.target_groups:
            try:
                out += self._lb(spec.environment).targets(tg.name)
            except Exception:  # HAProxy down: the next pass restarts it
                pass
        return out
