"""The load balancers of a data directory: one per environment, made once; the topology applied
only when it changed; the seams the controller depends on (TaskRuntime, TaskBalancer) match what
implements them for real."""

from __future__ import annotations

import inspect

from ecs_fakes import FakeBalancer, FakeClock, spec

from conveyor.lb.haproxy import LoadBalancer
from conveyor.providers.local.ecs.balancers import LoadBalancers, TaskBalancer
from conveyor.providers.local.ecs.runtime import TaskRuntime
from conveyor.providers.local.ecs.tasks import PodRuntime


def _registry(tmp_path):
    made: list[str] = []

    def factory(directory, environment):
        made.append(environment)
        return FakeBalancer(FakeClock())

    return LoadBalancers(tmp_path / "lb", factory), made


def test_one_load_balancer_per_environment_made_on_first_use(tmp_path):
    balancers, made = _registry(tmp_path)
    assert balancers.get("staging") is balancers.get("staging")
    balancers.get("production")
    assert made == ["staging", "production"]
    assert balancers.all() == {}  # none has a topology yet


def test_the_topology_is_applied_only_when_it_changes(tmp_path):
    balancers, _ = _registry(tmp_path)
    orders, billing = spec(), spec(name="billing")
    balancers.apply("staging", [orders])
    balancers.apply("staging", [orders])
    assert len(balancers.get("staging").applied) == 1
    balancers.apply("staging", [orders, billing])
    listeners, groups = balancers.get("staging").applied[-1]
    assert [g.name for g in groups] == ["staging-orders", "staging-billing"]
    assert list(balancers.all()) == ["staging"]


def test_services_without_a_load_balancer_apply_nothing_and_have_no_targets(tmp_path):
    balancers, made = _registry(tmp_path)
    balancers.apply("staging", [spec(lb=False)])
    assert made == [] and balancers.targets(spec(lb=False)) == []
    assert balancers.targets(spec()) == []  # never applied, no directory: nothing is made to ask
    assert made == []


def test_stop_all_stops_what_was_made(tmp_path):
    balancers, _ = _registry(tmp_path)
    balancers.apply("staging", [spec()])
    balancers.stop_all()
    assert balancers.get("staging").stopped


def _same_methods(protocol: type, implementation: type) -> list[str]:
    wrong = []
    for name, member in vars(protocol).items():
        if name.startswith("_") or not callable(member):
            continue
        want = inspect.signature(member)
        have = inspect.signature(getattr(implementation, name))
        params = list(have.parameters.values())[:len(want.parameters)]
        if [p.name for p in params] != list(want.parameters):  # extra optional parameters are fine
            wrong.append(f"{name}{have} vs {want}")
    return wrong


def test_pod_runtime_is_a_task_runtime_and_haproxy_a_task_balancer():
    assert _same_methods(TaskRuntime, PodRuntime) == []
    assert _same_methods(TaskBalancer, LoadBalancer) == []
