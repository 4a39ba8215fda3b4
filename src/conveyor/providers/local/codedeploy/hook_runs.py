"""Lifecycle hook executions (aws-semantics §5.4, §4.7): each hook runs on a worker of a small
pool (conveyor.providers.local.codedeploy.hooks invokes it once), its answer is written to the
lifecycle event's row, InProgress answers are invoked again after their callBackDelay, and a hook
that answered Pending waits for PutLifecycleEventHookExecutionStatus through the API. A hook
whose worker died with the daemon is invoked again (the next attempt) when the daemon is back.

    runs = HookRuns(store, journal, lock=lock, clock=time.time, wake=loop.wake)
    decision = runs.step(d, hook, spec, "AfterAllowTestTraffic", "smoke", event_row)  # Wait, Fail or None
    runs.put_status(d.id, execution_id, "Succeeded")                                 # the callback
    runs.stop(d.id)                                                                  # the deployment ended
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path

from conveyor.config.codedeploy_model import HookSpec
from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import NotFound, UserError
from conveyor.providers.local.codedeploy import reasons
from conveyor.providers.local.codedeploy.hooks import HookContext, HookResult, invoke_hook, new_execution_id
from conveyor.providers.local.codedeploy.hooks_contract import IN_PROGRESS as ANSWER_IN_PROGRESS
from conveyor.providers.local.codedeploy.journal import Journal
from conveyor.providers.local.codedeploy.revision import load_balancer_of
from conveyor.providers.local.codedeploy.states import EV_FAILED, EV_IN_PROGRESS, EV_SUCCEEDED
from conveyor.providers.local.codedeploy.steps import Decision, Fail, Wait
from conveyor.providers.local.codedeploy.store import CodeDeployment, DeploymentStore

log = logging.getLogger("conveyor.codedeploy")

#: Hooks of all deployments run on this many threads.
HOOK_WORKERS = 4

Invoke = Callable[..., HookResult]  # conveyor.providers.local.codedeploy.hooks.invoke_hook's signature


class HookRuns:
    def __init__(self, store: DeploymentStore, journal: Journal, *, lock: threading.RLock,
                 clock: Callable[[], float] = time.time, wake: Callable[[], None] = lambda: None,
                 mask: Callable[[str], str] | None = None, invoke: Invoke = invoke_hook,
                 executor: Executor | None = None):
        self._store = store
        self._journal = journal
        self._lock = lock  # the controller's: a worker's write and a pass never interleave
        self._clock = clock
        self._wake = wake
        self._mask = mask or (lambda text: text)
        self._invoke = invoke
        self._pool = executor or ThreadPoolExecutor(max_workers=HOOK_WORKERS, thread_name_prefix="hook")
        self._running: dict[tuple[str, str], tuple[Future, threading.Event]] = {}

    def put_status(self, dep_id: str, execution_id: str, status: str) -> dict:
        """PutLifecycleEventHookExecutionStatus: a hook reports Succeeded or Failed."""
        if status not in (EV_SUCCEEDED, EV_FAILED):
            raise UserError(reasons.hook_status_not_final(status))
        with self._lock:
            ev = self._store.find_execution(execution_id)
            if ev is None or ev["deployment_id"] != dep_id:
                raise NotFound(reasons.no_hook_execution(execution_id, dep_id))
            if ev["status"] != EV_IN_PROGRESS:
                raise UserError(reasons.event_already_completed(ev["name"], ev["status"]))
            self._store.transition_event(dep_id, ev["name"], status, ended_at=self._clock(),
                                         message=reasons.reported(status))
        self._wake()
        return {"lifecycleEventHookExecutionId": execution_id}

    def step(self, d: CodeDeployment, hook: HookSpec, spec: ServiceSpec, event: str, function: str,
             ev: dict | None) -> Decision:
        """Start the event's hook, invoke it again when due, or say what it waits for; Fail when
        it did not report within its timeout. None: an attempt was just submitted."""
        now = self._clock()
        if ev is None or ev["status"] != EV_IN_PROGRESS:
            ev = self._store.transition_event(d.id, event, EV_IN_PROGRESS, why=reasons.why_hook(function),
                                              started_at=now, hook=function, execution_id=new_execution_id(),
                                              attempts=0, next_attempt_at=now)
            self._journal.log(d, reasons.invoking(event, function, hook.kind))
        if now - (ev["started_at"] or now) > hook.timeout:
            return Fail(reasons.HOOK_EXECUTION_FAILURE, reasons.hook_timeout(event, function, hook.timeout))
        running = self._running.get((d.id, event))
        if running and not running[0].done():
            return Wait(reasons.waiting_hook_running(event, function, ev["attempts"]))
        if ev["next_attempt_at"] is None:
            return Wait(reasons.waiting_hook_callback(event, function))
        if now < ev["next_attempt_at"]:
            return Wait(reasons.waiting_hook_poll(event, function, ev["next_attempt_at"] - now))
        self._submit(d, hook, spec, event, ev, now)
        return None

    def _submit(self, d: CodeDeployment, hook: HookSpec, spec: ServiceSpec, event: str, ev: dict, now: float) -> None:
        lb = load_balancer_of(spec)
        ctx = HookContext(deployment_id=d.id, execution_id=ev["execution_id"], lifecycle_event=event,
                          environment=d.environment, service=d.service,
                          test_url=f"http://{lb.bind}:{lb.test_port}/" if lb.test_port else "",
                          production_url=f"http://{lb.bind}:{lb.port}/",
                          workdir=Path(d.workdir) if d.workdir and Path(d.workdir).is_dir() else None,
                          attempt=ev["attempts"] + 1, details=ev["details"])
        # next_attempt_at stays due while the attempt runs: if the daemon dies with it, the next
        # daemon invokes the hook again (NULL would mean "waiting for its callback").
        self._store.event(d.id, event, attempts=ev["attempts"] + 1, next_attempt_at=now)
        cancel = threading.Event()
        left = max(1.0, hook.timeout - (now - (ev["started_at"] or now)))
        future = self._pool.submit(self._worker, d.id, event, hook, ctx, left, cancel)
        self._running[(d.id, event)] = (future, cancel)

    def _worker(self, dep_id: str, event: str, hook: HookSpec, ctx: HookContext, timeout: float,
                cancel: threading.Event) -> None:
        try:
            result = self._invoke(hook, ctx, timeout=timeout, cancel=cancel, mask=self._mask)
        except Exception as exc:  # a bug in a hook runner is a failed hook, not a dead controller
            log.exception(reasons.LOG_HOOK_CRASHED, event, dep_id)
            with self._lock:
                ev = self._store.lifecycle_event(dep_id, event)
                if ev is not None and ev["status"] == EV_IN_PROGRESS:  # (not when it was reported or ended meanwhile)
                    self._store.transition_event(dep_id, event, EV_FAILED, ended_at=self._clock(),
                                                 message=reasons.hook_internal_error(exc))
            self._wake()
            return
        with self._lock:
            ev = self._store.lifecycle_event(dep_id, event)
            if ev is None or ev["status"] != EV_IN_PROGRESS or cancel.is_set():
                return
            self._record(dep_id, event, result)
            d = self._store.get(dep_id)
            if d is not None:
                self._journal.log(d, reasons.hook_answered(event, ev["hook"], result.status, result.message))
        self._wake()

    def _record(self, dep_id: str, event: str, result: HookResult) -> None:
        now = self._clock()
        if result.status in (EV_SUCCEEDED, EV_FAILED):
            self._store.transition_event(dep_id, event, result.status, ended_at=now, message=result.message,
                                         log_tail=result.log_tail, details=result.details)
        elif result.status == ANSWER_IN_PROGRESS:
            self._store.event(dep_id, event, next_attempt_at=now + result.callback_delay, details=result.details,
                              message=result.message, log_tail=result.log_tail)
        else:  # Pending: the hook calls back through the API
            self._store.event(dep_id, event, next_attempt_at=None, message=result.message, log_tail=result.log_tail)

    def stop(self, dep_id: str) -> None:
        """Cancel the deployment's running hooks (it ended)."""
        for key, (_, cancel) in list(self._running.items()):
            if key[0] == dep_id:
                cancel.set()
                self._running.pop(key, None)

    def shutdown(self) -> None:
        for _, cancel in self._running.values():
            cancel.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
