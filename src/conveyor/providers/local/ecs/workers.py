"""The slow effects of the service scheduler (starting a pod, stopping one after its drain,
running a container health check) on worker threads. At most one worker per task is under way;
the task's row says what it does (PENDING, STOPPING), so a worker lost in a crash is finished
by the next pass. A worker's end wakes the loop.

    workers = TaskWorkers(state)
    workers.submit(task.id, lambda: runtime.stop(task.id, 30))   # ignored while one runs for task.id
    workers.busy(task.id)                                        # True until it ends
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor

from conveyor.providers.local.ecs.scheduler import SchedulerState

log = logging.getLogger("conveyor.services")

#: Worker threads for task starts, stops and health checks.
WORKERS = 8


class TaskWorkers:
    def __init__(self, state: SchedulerState, executor: Executor | None = None):
        self._state = state
        self._executor = executor or ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="task")
        self._busy: dict[str, Future[None]] = {}

    def submit(self, task_id: str, work: Callable[[], None]) -> None:
        """Run `work` for the task on a worker, unless one already runs for it. Call with the
        scheduler's lock held."""
        if task_id in self._busy:
            return

        def run() -> None:
            try:
                work()
            except Exception:
                log.exception("task worker %s failed", task_id)
            finally:
                with self._state.lock:
                    self._busy.pop(task_id, None)
                self._state.wake()

        self._busy[task_id] = self._executor.submit(run)

    def run(self, work: Callable[[], None]) -> None:
        """Run `work` on a worker, not tied to a task's one-at-a-time (a health check)."""
        self._executor.submit(work)

    def busy(self, task_id: str) -> bool:
        return task_id in self._busy

    def any_busy(self) -> bool:
        return bool(self._busy)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
