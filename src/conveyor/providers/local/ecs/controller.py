"""The service controller: ECS's scheduler for local environments, assembled from its parts.

    API          deployments    register_taskdef, update_service, declare_service, scale, roll_back_to_previous
                 task_sets      the task-set API CodeDeploy uses (task_set_api.TaskSetApi)
                 views          describe, services, deployment_status, deployment_view, logs
    scheduler    reconciler     the loop: each pass observes and steps every service
                   observer       one task against its pod, checks and target
                   rolling_update / task_set_scaling   a service's next step
                   lifecycle      starting and stopping tasks; failures → back-off, circuit breaker
                   health         container health checks
    shared       state          the lock, the loop's wake-up, steady states, back-offs
                 workers        slow effects on threads, one per task at a time
                 store, taskdefs, balancers (injected: one per data directory), runtime

Every part gets what it uses, typed, in its constructor; none reaches another through this
object. The loop and the API share `state.lock`.

    services = ServiceController(home, balancers=LoadBalancers(home / "lb", LoadBalancer), secrets=store)
    services.start()
    services.deployments.update_service(spec, task_definition="orders:7")
    services.views.describe("staging", "orders")
    services.shutdown()            # the loop stops; tasks and HAProxy keep serving
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path

from conveyor.passes import PassTimer
from conveyor.providers.local.ecs.balancers import LoadBalancers, TaskBalancer
from conveyor.providers.local.ecs.circuit_breaker import CircuitBreaker
from conveyor.providers.local.ecs.deployments import Deployments
from conveyor.providers.local.ecs.lifecycle import SecretReferences, TaskLifecycle, secret_resolver
from conveyor.providers.local.ecs.observer import TaskObserver
from conveyor.providers.local.ecs.reconciler import ServiceReconciler
from conveyor.providers.local.ecs.rolling_update import RollingUpdate
from conveyor.providers.local.ecs.runtime import TaskRuntime
from conveyor.providers.local.ecs.scheduler import SchedulerState
from conveyor.providers.local.ecs.store import EcsStore
from conveyor.providers.local.ecs.task_health import ContainerHealthChecks
from conveyor.providers.local.ecs.task_set_scaling import TaskSetScaling
from conveyor.providers.local.ecs.task_sets import TaskSets
from conveyor.providers.local.ecs.taskdefs import TaskDefinitions
from conveyor.providers.local.ecs.tasks import PodRuntime
from conveyor.providers.local.ecs.views import ServiceViews
from conveyor.providers.local.ecs.workers import TaskWorkers


class ServiceController:
    def __init__(self, home: str | Path, *, balancers: LoadBalancers[TaskBalancer],
                 secrets: SecretReferences | None = None, clock: Callable[[], float] = time.time,
                 runtime: TaskRuntime | None = None, executor: Executor | None = None):
        self.home = Path(home)
        self.store = EcsStore(self.home / "services.db", clock=clock)
        self.balancers = balancers
        self.runtime: TaskRuntime = runtime or PodRuntime(self.home)
        self.state = SchedulerState()
        self.workers = TaskWorkers(self.state, executor)
        self.taskdefs = TaskDefinitions(self.store)
        self.health = ContainerHealthChecks(self.runtime, self.workers, self.state, clock)
        breaker = CircuitBreaker(self.store, self.state, clock)
        self.lifecycle = TaskLifecycle(self.store, self.runtime, balancers, self.taskdefs, self.workers, self.health,
                                       breaker, self.state, secret_resolver(secrets), clock)
        observer = TaskObserver(self.store, balancers, self.taskdefs, self.health, self.lifecycle, self.workers,
                                clock)
        self.reconciler = ServiceReconciler(
            self.store, self.runtime, balancers, observer, RollingUpdate(self.store, self.lifecycle, self.state, clock),
            TaskSetScaling(self.store, self.lifecycle, self.state, clock), self.workers, self.state)
        self.deployments = Deployments(self.store, self.taskdefs, balancers, self.state)
        self.task_sets = TaskSets(self.store, self.deployments, self.state)
        self.views = ServiceViews(self.store, balancers, self.health, self.runtime, self.taskdefs)

    @property
    def passes(self) -> PassTimer:
        return self.reconciler.passes

    def start(self) -> None:
        self.reconciler.start()

    def shutdown(self) -> None:
        """Stop steering; the data plane (tasks, HAProxy) keeps serving."""
        self.reconciler.shutdown()
        self.workers.shutdown()
        self.store.close()

    def remove_all(self) -> None:
        """Take the whole data plane of this data directory down (`conveyor down --all`)."""
        self.runtime.remove_all()
        self.balancers.stop_all()
