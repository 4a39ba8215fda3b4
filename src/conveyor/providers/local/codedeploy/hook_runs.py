"""Lifecycle hook executions for the deploy controller (aws-semantics §5.4, §4.7): each hook
runs on a worker thread (conveyor.providers.local.codedeploy.hooks), its result is written to the lifecycle
event's row, InProgress answers are polled again after their callBackDelay, and a hook that
answered Pending waits for PutLifecycleEventHookExecutionStatus through the API. A hook whose
worker died with the daemon is invoked again (the next attempt) when the daemon is back.

Mixed into DeployController (store, lock, clock, mask, _pool, _hooks, _fail, _wait, _log, _wake).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from conveyor.config.codedeploy_group import hook_for
from conveyor.config.codedeploy_model import DeploymentGroup
from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import NotFound, UserError
from conveyor.providers.local.codedeploy.hooks import (
    HookContext,
    invoke_hook,
    new_execution_id,
)
from conveyor.providers.local.codedeploy.store import (
    EV_FAILED,
    EV_IN_PROGRESS,
    EV_SUCCEEDED,
    CodeDeployment,
)

log = logging.getLogger("conveyor.codedeploy")


class HookRuns:
    def put_hook_status(self, deployment_id: str, execution_id: str, status: str) -> dict:
        """PutLifecycleEventHookExecutionStatus: a hook reports Succeeded or Failed."""
        if status not in (EV_SUCCEEDED, EV_FAILED):
            raise UserError(f"status {status!r} is not Succeeded or Failed")
        with self.lock:
            ev = self.store.find_execution(execution_id)
            if ev is None or ev["deployment_id"] != deployment_id:
                raise NotFound(f"no lifecycle event hook execution {execution_id} in deployment {deployment_id}")
            if ev["status"] != EV_IN_PROGRESS:
                raise UserError(f"lifecycle event {ev['name']} is already {ev['status']}")
            self.store.transition_event(deployment_id, ev["name"], status, ended_at=self.clock(),
                                        message=f"reported {status} through the API")
        self._wake()
        return {"lifecycleEventHookExecutionId": execution_id}

    def _run_hook(self, d: CodeDeployment, group: DeploymentGroup, spec: ServiceSpec, event: str,
                  function: str, ev: dict | None) -> None:
        hook = hook_for(group, function)
        key = (d.id, event)
        now = self.clock()
        if ev is None or ev["status"] not in (EV_IN_PROGRESS,):
            execution = new_execution_id()
            self.store.transition_event(d.id, event, EV_IN_PROGRESS, why=f"hook {function}", started_at=now,
                                        hook=function, execution_id=execution, attempts=0, next_attempt_at=now)
            self._log(d, f"{event}: invoking hook {function} ({hook.kind}).")
            ev = self.store.lifecycle_event(d.id, event)
        if now - (ev["started_at"] or now) > hook.timeout:
            self._fail(d, "HOOK_EXECUTION_FAILURE", f"{event} hook {function} did not report within "
                                                    f"{hook.timeout:g} s")
            return
        running = self._hooks.get(key)
        if running and not running[0].done():
            self._wait(d, f"{event} hook {function} running (attempt {ev['attempts']})")
            return
        if ev["next_attempt_at"] is None:
            self._wait(d, f"{event} hook {function}: waiting for it to report its status "
                          "(POST /api/v1/deployments/ID/hooks/EXECUTION)")
            return
        if now < ev["next_attempt_at"]:
            self._wait(d, f"{event} hook {function} asked to be polled again in "
                          f"{ev['next_attempt_at'] - now:.0f} s")
            return
        lb = spec.load_balancer
        ctx = HookContext(deployment_id=d.id, execution_id=ev["execution_id"], lifecycle_event=event,
                          environment=d.environment, service=d.service,
                          test_url=f"http://{lb.bind}:{lb.test_port}/" if lb.test_port else "",
                          production_url=f"http://{lb.bind}:{lb.port}/",
                          workdir=Path(d.workdir) if d.workdir and Path(d.workdir).is_dir() else None,
                          attempt=ev["attempts"] + 1, details=ev["details"])
        # next_attempt_at stays due while the attempt runs: if the daemon dies with it, the next
        # daemon invokes the hook again (NULL would mean "waiting for its callback").
        self.store.event(d.id, event, attempts=ev["attempts"] + 1, next_attempt_at=now)
        cancel = threading.Event()
        left = max(1.0, hook.timeout - (now - (ev["started_at"] or now)))
        future = self._pool.submit(self._hook_worker, d.id, event, hook, ctx, left, cancel)
        self._hooks[key] = (future, cancel)

    def _hook_worker(self, dep_id: str, event: str, hook, ctx: HookContext, timeout: float,
                     cancel: threading.Event) -> None:
        try:
            result = invoke_hook(hook, ctx, timeout=timeout, cancel=cancel, mask=self.mask)
        except Exception as exc:  # a bug in a hook runner is a failed hook, not a dead controller
            log.exception("hook %s of %s failed to run", event, dep_id)
            with self.lock:
                ev = self.store.lifecycle_event(dep_id, event)
                if ev is not None and ev["status"] == EV_IN_PROGRESS:  # (not when it was reported or ended meanwhile)
                    self.store.transition_event(dep_id, event, EV_FAILED, ended_at=self.clock(),
                                                message=f"internal error: {exc}")
            self._wake()
            return
        with self.lock:
            ev = self.store.lifecycle_event(dep_id, event)
            if ev is None or ev["status"] != EV_IN_PROGRESS or cancel.is_set():
                return
            now = self.clock()
            if result.status in (EV_SUCCEEDED, EV_FAILED):
                self.store.transition_event(dep_id, event, result.status, ended_at=now, message=result.message,
                                            log_tail=result.log_tail, details=result.details)
            elif result.status == "InProgress":
                self.store.event(dep_id, event, next_attempt_at=now + result.callback_delay, details=result.details,
                                 message=result.message, log_tail=result.log_tail)
            else:  # Pending: the hook calls back through the API
                self.store.event(dep_id, event, next_attempt_at=None, message=result.message,
                                 log_tail=result.log_tail)
            d = self.store.get(dep_id)
            if d is not None:
                self._log(d, f"{event}: hook {ev['hook']} → {result.status}" + (f": {result.message}"
                                                                              if result.message else ""))
        self._wake()

    def _stop_hooks(self, d: CodeDeployment) -> None:
        for key, (future, cancel) in list(self._hooks.items()):
            if key[0] == d.id:
                cancel.set()
                self._hooks.pop(key, None)
