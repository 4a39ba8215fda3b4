"""The service scheduler's loop: every pass observes the world (the engine's tasks, the load
balancers' targets, container health), compares it with the desired state in the store and
takes each service's next step, persisting every change. A pass may be interrupted anywhere: a
restarted daemon adopts the running tasks, never restarts them.

    reconciler = ServiceReconciler(store, runtime, balancers, observer, rolling_update, task_set_scaling,
                                   workers, state)
    reconciler.reconcile()      # one pass (tests step these)
    reconciler.start()          # passes on a thread: fast while something moves, slow when steady
"""

from __future__ import annotations

import functools
import logging
import threading
import time

from conveyor.errors import ConveyorError
from conveyor.passes import PassTimer
from conveyor.providers.local.ecs import reasons
from conveyor.providers.local.ecs.balancers import LoadBalancers, TaskBalancer
from conveyor.providers.local.ecs.observer import TaskObserver
from conveyor.providers.local.ecs.queries import spec_of
from conveyor.providers.local.ecs.rolling_update import RollingUpdate
from conveyor.providers.local.ecs.runtime import PodState, TaskRuntime
from conveyor.providers.local.ecs.scheduler import SchedulerState
from conveyor.providers.local.ecs.store import ACTIVE, EcsStore, ServiceRow
from conveyor.providers.local.ecs.task_set_scaling import TaskSetScaling
from conveyor.providers.local.ecs.workers import TaskWorkers

log = logging.getLogger("conveyor.services")

#: How often the loop passes while something moves, and while all is steady.
BUSY_INTERVAL = 0.25
IDLE_INTERVAL = 1.0
#: How long shutdown waits for a pass under way.
SHUTDOWN_TIMEOUT = 10.0


class ServiceReconciler:
    def __init__(self, store: EcsStore, runtime: TaskRuntime, balancers: LoadBalancers[TaskBalancer],
                 observer: TaskObserver, rolling_update: RollingUpdate, task_set_scaling: TaskSetScaling,
                 workers: TaskWorkers, state: SchedulerState):
        self._store = store
        self._runtime = runtime
        self._balancers = balancers
        self._observer = observer
        self._rolling_update = rolling_update
        self._task_set_scaling = task_set_scaling
        self._workers = workers
        self._state = state
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Whether the last pass left something moving (the next one comes sooner).
        self.moving = False
        self.passes = PassTimer()

    # -- one pass
    def reconcile(self) -> None:
        with self._state.lock:
            rows = self._store.services()
            if not rows:  # nothing deployed from this data directory: nothing to watch
                self.moving = False
                return
            pods = self._runtime.observe()
            moving = False
            for env in {r.environment for r in rows}:
                in_env = [r for r in rows if r.environment == env]
                try:
                    self._balancers.apply(env, [spec_of(r) for r in in_env])
                except ConveyorError as exc:  # e.g. a listener port taken: say so where users look
                    log.error("load balancer of environment %s: %s", env, exc)
                    for r in in_env:
                        self._store.event(env, r.name, reasons.load_balancer_problem(r.name, exc))
            for row in rows:
                if row.status != ACTIVE:
                    continue
                moving |= self._reconcile_service(row, pods)
            live = self._store.live_task_ids()
            for task_id in pods:
                if task_id not in live and not self._workers.busy(task_id):  # left over by a crash
                    log.info("removing task %s: no longer known", task_id)
                    self._workers.submit(task_id, functools.partial(self._runtime.remove, task_id))
            self.moving = moving or self._workers.any_busy()

    def _reconcile_service(self, row: ServiceRow, pods: dict[str, PodState]) -> bool:
        env, name = row.environment, row.name
        spec = spec_of(row)
        targets = {t.target_id: t for t in self._balancers.targets(spec)}
        for task in self._store.tasks(env, name):
            self._observer.observe(task, pods.get(task.id), targets, spec)
        tasks = self._store.tasks(env, name)
        deployments = self._store.deployments(env, name, live_only=True)
        if spec.blue_green:
            return self._task_set_scaling.reconcile(spec, row.desired_count, deployments, tasks)
        return self._rolling_update.reconcile(spec, row.desired_count, deployments, tasks)

    # -- the loop
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="services", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        """Stop passing; what runs keeps running."""
        self._stop.set()
        self._state.wake()
        if self._thread:
            self._thread.join(timeout=SHUTDOWN_TIMEOUT)

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.reconcile()
            except Exception:  # a bug must not stop the control plane; the next pass retries
                log.exception("service reconcile pass failed")
            self.passes.record(time.monotonic() - started)
            self._state.sleep(BUSY_INTERVAL if self.moving else IDLE_INTERVAL)
