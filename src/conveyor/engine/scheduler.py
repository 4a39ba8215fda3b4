"""The scheduler: one loop that looks at every active execution, compares it with its pipeline
definition and takes the next steps (enter a stage, start actions, finish a stage). Each step is
a checked transition appended to the store before anything else happens, so the loop can be
killed at any point and picks up from the rows when it starts again (`recover`).

Stage locking follows CodePipeline (aws-semantics §2.4): in SUPERSEDED and QUEUED mode one
execution holds a stage at a time; SUPERSEDED keeps only the newest execution waiting in front
of a busy stage, QUEUED lets them in oldest first; PARALLEL never locks.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.actions.base import ActionContext, ActionFailed, ActionRunner
from conveyor.actions.registry import RUNNERS
from conveyor.config.model import ActionDef, PipelineDef, StageDef
from conveyor.config.providers import (
    ACTION_TIMEOUT_DEFAULT_MINUTES,
    MANUAL_TIMEOUT_DEFAULT_MINUTES,
)
from conveyor.elapsed import Elapsed
from conveyor.engine import states as S
from conveyor.engine.artifacts import ArtifactStore
from conveyor.engine.events import revision_for, transition_events
from conveyor.engine.variables import UnresolvedVariables, resolve
from conveyor.engine.view import ActionRun, ExecutionView
from conveyor.providers.local.git import GitMirrors
from conveyor.providers.local.process import LinePart
from conveyor.secrets.masking import default_masker
from conveyor.secrets.stream import MaskedLines
from conveyor.store.db import Store, Transition

if TYPE_CHECKING:
    from conveyor.backend.interface import ImageRegistry
    from conveyor.release.service import ReleaseService

log = logging.getLogger("conveyor.engine")

TICK_SECONDS = 1.0  # the loop also wakes at once on any event; this bounds timeout checks


class Scheduler:
    def __init__(self, home: Path, store: Store, *, runners: dict[str, ActionRunner] | None = None,
                 clock=time.time):
        self.home = Path(home)
        self.store = store
        self.artifacts = ArtifactStore(self.home / "artifacts")
        self.mirrors = GitMirrors(self.home / "git")
        self.releases: ReleaseService | None = None  # what deploy actions go through (set by the daemon)
        #: The registry a pipeline's builds log in to and push to, from its definition's `registry:`
        #: (set by the daemon; None: builds find the local registry themselves).
        self.registry_for: Callable[[PipelineDef], ImageRegistry | None] = lambda definition: None
        self.runners = runners if runners is not None else RUNNERS
        self.clock = clock
        self.elapsed = Elapsed(clock)  # action timeouts: immune to wall-clock steps (conveyor.elapsed)
        self.lock = threading.RLock()
        self.views: dict[str, ExecutionView] = {}  # active executions (InProgress / Stopping)
        # What changed since the last pass: only these executions are advanced, and only these
        # pipelines re-examine their stage locks, so a pass costs what changed, not what exists.
        self._dirty: set[str] = set()
        self._dirty_pipelines: set[str] = set()
        self._last_sweep = 0.0
        self._to_start: list[threading.Thread] = []
        # Finished actions, handed over by their worker threads and recorded by the next pass, so
        # that a burst of completions costs one commit and no contention on the engine lock.
        self._completed: list[tuple] = []
        self._completed_lock = threading.Lock()
        self._taken: list[tuple] = []  # results the current pass took from _completed
        self.workers: dict[tuple[str, str, str, int], threading.Event] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listeners: list = []  # callables(view, transition), e.g. live progress

    # -- lifecycle
    def start(self) -> None:
        self.recover()
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop scheduling and cancel running actions without recording their end: the next
        start finds them InProgress and runs them again, exactly as after a crash."""
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)
        with self.lock:
            cancels = list(self.workers.values())
        for cancel in cancels:
            cancel.set()
        deadline = time.monotonic() + timeout
        for thread in threading.enumerate():
            if thread.name.startswith("action-"):
                thread.join(max(0.0, deadline - time.monotonic()))

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(TICK_SECONDS)
            self._wake.clear()
            try:
                self.tick()
            except Exception:  # a bug must not stop every pipeline; it is logged loudly
                log.error("scheduler tick failed:\n%s", traceback.format_exc())

    def recover(self) -> None:
        """Rebuild active executions from the rows. An action that was running when the daemon
        died is marked interrupted and will run again; a waiting approval simply keeps waiting."""
        with self.lock:
            for view in self._load_active():
                self.track(view)
                for run in view.running_actions():
                    if self._action_def(view, run.stage, run.action).provider == "Manual":
                        continue
                    runner = self.runners.get(self._action_def(view, run.stage, run.action).provider)
                    run_dir = self.run_dir(view.id, run.stage, run.action, run.attempt)
                    if runner is not None and hasattr(runner, "cleanup"):
                        try:
                            runner.cleanup(run_dir)
                        except Exception:
                            log.warning("cleanup of %s failed:\n%s", run_dir, traceback.format_exc())
                    self._transition(view, "action", S.ABANDONED, run.stage, run.action, run.attempt,
                                     {"interrupted": True, "reason": "the daemon stopped while this action ran; "
                                                                     "it runs again"})
        self.wake()

    # -- the reconcile pass
    def track(self, view: ExecutionView) -> None:
        """Hand an active execution (new, retried or recovered) to the loop."""
        with self.lock:
            self.views[view.id] = view
            self._dirty.add(view.id)
            self._dirty_pipelines.add(view.pipeline)
        self.wake()

    def tick(self) -> None:
        try:
            self._pass()
        finally:
            with self.lock:
                threads, self._to_start = self._to_start, []
            for thread in threads:
                thread.start()

    def _pass(self) -> None:
        with self.lock:
            try:
                with self.store.transaction():
                    self._reconcile()
            except Exception:
                # The rows were rolled back: what is in memory may be ahead of them. Start over
                # from the rows, as after a restart, start nothing this pass decided, and hand
                # the action results it had taken back to the next pass.
                self._to_start.clear()
                with self._completed_lock:
                    self._completed = self._taken + self._completed
                self._reload()
                raise
            self._taken = []

    def _load_active(self) -> list[ExecutionView]:
        views = (ExecutionView.build(row, self.store.transitions(row.id))
                 for row in self.store.executions(active_only=True, limit=100_000))
        return [v for v in views if v.status in S.ACTIVE_EXECUTION]

    def _reload(self) -> None:
        self.views.clear()
        for view in self._load_active():
            self.track(view)
        running = {(v.id, r.stage, r.action, r.attempt) for v in self.views.values() for r in v.running_actions()}
        for key in [k for k in self.workers if k not in running]:
            self.workers.pop(key).set()

    def _reconcile(self) -> None:
        with self._completed_lock:
            completed, self._completed = self._completed, []
        self._taken = completed
        for execution_id, stage, action, attempt, status, detail in completed:
            self.workers.pop((execution_id, stage, action, attempt), None)
            view = self.views.get(execution_id)
            if view is None:
                continue
            current = view.stages[stage].actions.get(action)
            if current is not None and current.attempt == attempt and current.status == S.IN_PROGRESS:
                self._transition(view, "action", status, stage, action, attempt, detail)
        now = time.monotonic()
        if now - self._last_sweep >= TICK_SECONDS:  # timeouts: look at whatever is running
            self._last_sweep = now
            self._dirty |= {v.id for v in self.views.values() if v.running_actions()}
        for _ in range(10_000):  # bounded: each pass either changes something or we stop
            dirty, self._dirty = self._dirty, set()
            pipelines, self._dirty_pipelines = self._dirty_pipelines, set()
            if not dirty and not pipelines:
                return
            for view in sorted((self.views[i] for i in dirty if i in self.views), key=lambda v: v.row.seq):
                self._advance(view)
            for pipeline in pipelines:
                views = sorted((v for v in self.views.values() if v.pipeline == pipeline), key=lambda v: v.row.seq)
                self._admit(views, dirty)
            for vid in [v for v in dirty | self._dirty if v in self.views
                        and self.views[v].status not in S.ACTIVE_EXECUTION]:
                del self.views[vid]

    def _admit(self, views: list[ExecutionView], dirty: set[str]) -> None:
        """Let waiting executions into their next stage, honouring the execution mode. In
        PARALLEL mode nothing waits on anyone, so only executions that changed can move."""
        waiting: dict[str, list[ExecutionView]] = {}
        for view in views:
            if view.definition.execution_mode == "PARALLEL" and view.id not in dirty:
                continue
            nxt = view.next_stage()
            if nxt is not None:
                waiting.setdefault(nxt, []).append(view)
        for stage, queue in waiting.items():
            mode = queue[-1].definition.execution_mode
            if mode == "PARALLEL":
                for view in queue:
                    self._enter(view, stage)
                continue
            if mode == "SUPERSEDED" and len(queue) > 1:
                newest = queue[-1]
                for old in queue[:-1]:
                    self._transition(old, "execution", S.SUPERSEDED, detail={
                        "reason": f"superseded by execution {newest.id} while waiting for stage {stage}",
                        "supersededBy": newest.id})
                queue = [newest]
            if any(v.holds(stage) for v in views):
                continue
            self._enter(queue[0], stage)

    def _enter(self, view: ExecutionView, stage: str) -> None:
        self._transition(view, "stage", S.IN_PROGRESS, stage)

    def _advance(self, view: ExecutionView) -> bool:
        if view.status == S.STOPPING:
            return self._settle_stop(view)
        if view.status != S.IN_PROGRESS or view.current is None:
            return False
        run = view.stages[view.current]
        stage_def = view.definition.stage(view.current)
        if run.status == S.SUCCEEDED:
            if view.definition.stages[-1].name == stage_def.name:
                self._transition(view, "execution", S.SUCCEEDED)
                return True
            return False
        if run.status != S.IN_PROGRESS:
            return False
        changed = self._check_timeouts(view, stage_def)
        for order in stage_def.run_orders():
            group = [a for a in stage_def.actions if a.run_order == order]
            statuses = [run.action_status(a.name) for a in group]
            if all(s == S.SUCCEEDED for s in statuses):
                continue
            failed = [a for a, s in zip(group, statuses, strict=True) if s in (S.FAILED, S.ABANDONED)]
            running = any(s == S.IN_PROGRESS for s in statuses)
            if failed and not running:
                why = "; ".join(f"{a.name}: {_failure(run.actions[a.name])}" for a in failed)
                self._transition(view, "stage", S.FAILED, stage_def.name,
                                 detail={"failedActions": [a.name for a in failed]})
                self._transition(view, "execution", S.FAILED, detail={
                    "reason": f"stage {stage_def.name} failed: {why}", "stage": stage_def.name})
                return True
            if not failed:
                for action, status in zip(group, statuses, strict=True):
                    if status is None:
                        self._start_action(view, stage_def, action)
                        changed = True
            return changed
        self._transition(view, "stage", S.SUCCEEDED, stage_def.name)
        if view.definition.stages[-1].name == stage_def.name:
            self._transition(view, "execution", S.SUCCEEDED)
        return True

    def _settle_stop(self, view: ExecutionView) -> bool:
        if view.current is not None:
            stage = view.stages[view.current]
            for act in list(stage.actions.values()):
                if act is not None and act.status == S.IN_PROGRESS and \
                        self._action_def(view, act.stage, act.action).provider == "Manual":
                    self._transition(view, "action", S.ABANDONED, act.stage, act.action, act.attempt,
                                     {"reason": "the execution was stopped"})
        if view.running_actions():
            return False
        if view.current is not None and view.stages[view.current].status == S.STOPPING:
            self._transition(view, "stage", S.STOPPED, view.current)
        self._transition(view, "execution", S.STOPPED)
        return True

    def _check_timeouts(self, view: ExecutionView, stage_def: StageDef) -> bool:
        changed = False
        run = view.stages[stage_def.name]
        for act in stage_def.actions:
            ar = run.actions.get(act.name)
            if ar is None or ar.status != S.IN_PROGRESS:
                continue
            if self.elapsed.since(ar.started_at) < timeout_minutes(act) * 60:
                continue
            reason = ("approval timed out" if act.provider == "Manual"
                      else f"timed out after {timeout_minutes(act):g} minutes")
            cancel = self.workers.get((view.id, stage_def.name, act.name, ar.attempt))
            if cancel is not None:
                cancel.set()
            self._transition(view, "action", S.FAILED, stage_def.name, act.name, ar.attempt, {"error": reason})
            changed = True
        return changed

    # -- actions
    def _start_action(self, view: ExecutionView, stage: StageDef, action: ActionDef) -> None:
        attempt = view.stages[stage.name].last_attempt.get(action.name, 0) + 1
        if action.provider == "Manual":
            token = str(uuid.uuid4())
            minutes = timeout_minutes(action)
            try:
                conf = resolve(action.configuration, view.variables(), action.name)
            except UnresolvedVariables as exc:
                self._transition(view, "action", S.IN_PROGRESS, stage.name, action.name, attempt, {})
                self._transition(view, "action", S.FAILED, stage.name, action.name, attempt, {"error": str(exc)})
                return
            self._transition(view, "action", S.IN_PROGRESS, stage.name, action.name, attempt, {
                "token": token, "expires": self.clock() + minutes * 60,
                "customData": conf.get("customData"), "externalEntityLink": conf.get("externalEntityLink")})
            return
        idempotency_key = _idempotency_key(view, stage.name, action.name, attempt)
        self._transition(view, "action", S.IN_PROGRESS, stage.name, action.name, attempt,
                         {"idempotencyKey": idempotency_key})
        namespaces = view.variables()
        inputs = {name: view.artifact(name) for name in action.input_artifacts}
        cancel = threading.Event()
        key = (view.id, stage.name, action.name, attempt)
        self.workers[key] = cancel
        # Started by tick() after its commit and outside the lock: Thread.start() waits for the
        # new thread to be scheduled, which under load is long enough to stall every execution.
        self._to_start.append(threading.Thread(
            target=self._work, args=(view, stage, action, attempt, idempotency_key, cancel, namespaces, inputs),
            name=f"action-{view.id[:8]}-{action.name}", daemon=True))

    def _work(self, view: ExecutionView, stage: StageDef, action: ActionDef, attempt: int, idempotency_key: str,
              cancel: threading.Event, namespaces: dict, digests: dict) -> None:
        run_dir = self.run_dir(view.id, stage.name, action.name, attempt)
        run_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_path(view.id, stage.name, action.name, attempt)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        staged: list[Path] = []
        masker = default_masker()
        with open(log_path, "a", encoding="utf-8", errors="replace") as log_file:
            def write(line: str) -> None:
                log_file.write(line + "\n")
                log_file.flush()

            sink = MaskedLines(write, masker)

            def emit(line: str) -> None:
                # The parts of an over-long line are masked together: a secret may straddle two.
                sink.part(line) if isinstance(line, LinePart) else sink.line(line)

            try:
                inputs = {}
                for name, digest in digests.items():
                    if digest is None:
                        raise ActionFailed(f"input artifact '{name}' has not been produced")
                    inputs[name] = self.artifacts.path(digest)
                conf = resolve(action.configuration, namespaces, action.name)
                runner = self.runners.get(action.provider)
                if runner is None:
                    raise ActionFailed(f"provider '{action.provider}' is not available in this version of Conveyor")

                def new_output() -> Path:
                    staged.append(self.artifacts.staging())
                    return staged[-1]

                ctx = ActionContext(view.id, view.pipeline, stage.name, action, attempt, conf, inputs, run_dir,
                                    emit, cancel, timeout_minutes(action) * 60,
                                    revision=revision_for(view, action), new_output=new_output,
                                    mirrors=self.mirrors, home=self.home, releases=self.releases,
                                    registry=self.registry_for(view.definition), definition=view.definition,
                                    idempotency_key=idempotency_key)
                result = runner.run(ctx)
                artifacts = {name: self.artifacts.put(path) for name, path in result.outputs.items()}
                detail: dict[str, Any] = {**result.details, "artifacts": artifacts, "variables": result.variables,
                                          "summary": result.summary}
                status = S.SUCCEEDED
            except ActionFailed as exc:
                detail, status = {**exc.details, "error": str(exc)}, S.FAILED
            except UnresolvedVariables as exc:
                detail, status = {"error": str(exc)}, S.FAILED
            except Exception as exc:
                sink.close()  # a line cut short stays a line of its own
                emit(traceback.format_exc())
                log.error("action %s/%s failed internally:\n%s", stage.name, action.name,
                          masker.mask(traceback.format_exc()))  # whatever handler the daemon log has
                detail, status = {"error": f"internal error: {exc}"}, S.FAILED
            sink.close()
            if status == S.FAILED:
                # An exception's text may quote a secret; it is stored in the database and shown.
                detail["error"] = masker.mask(str(detail["error"]))
                emit(f"[conveyor] {detail['error']}")
        if self._stop.is_set():
            return  # shutting down: the attempt stays InProgress and is re-run at next start
        with self._completed_lock:
            self._completed.append((view.id, stage.name, action.name, attempt, status, detail))
        self.wake()

    # -- helpers
    def _transition(self, view: ExecutionView, scope: str, status: str, stage: str | None = None,
                    action: str | None = None, attempt: int = 0, detail: dict | None = None) -> Transition:
        if scope == "execution":
            current = view.status
        elif scope == "stage":
            current = view.stages[stage].status if stage in view.stages else None
        else:
            run = view.stages[stage].actions.get(action) if stage in view.stages and action is not None else None
            current = run.status if run is not None and run.attempt == attempt else None
        S.check_transition(scope, current, status)
        proposed = Transition(view.id, scope, status, stage, action, attempt, detail or {}, self.clock())
        t = self.store.append(proposed, transition_events(view, proposed))  # the view is still before it
        view.apply(t)
        self._dirty.add(view.id)
        self._dirty_pipelines.add(view.pipeline)
        for listener in self.listeners:
            listener(view, t)
        return t

    def _action_def(self, view: ExecutionView, stage: str, action: str) -> ActionDef:
        return view.definition.stage(stage).action(action)

    def run_dir(self, execution_id: str, stage: str, action: str, attempt: int) -> Path:
        return self.home / "runs" / execution_id / stage / action / str(attempt)

    def log_path(self, execution_id: str, stage: str, action: str, attempt: int) -> Path:
        return self.home / "logs" / execution_id / stage / f"{action}.{attempt}.log"


def _failure(run: ActionRun | None) -> str:
    """What went wrong in a failed action (whose run is always there)."""
    return (run.detail.get("error") if run is not None else None) or "failed"


def timeout_minutes(action: ActionDef) -> float:
    if action.timeout_minutes is not None:
        return float(action.timeout_minutes)
    return float(MANUAL_TIMEOUT_DEFAULT_MINUTES if action.provider == "Manual" else ACTION_TIMEOUT_DEFAULT_MINUTES)


def _idempotency_key(view: ExecutionView, stage: str, action: str, attempt: int) -> str:
    """EXECUTION/STAGE/ACTION/N: N is this attempt, unless the previous one was interrupted by a
    daemon crash: then its key, since what it created (a deployment) belongs to this one too.
    A retry after a failure gets a new key and creates anew."""
    previous = view.stages[stage].actions.get(action) if stage in view.stages else None
    if previous is not None and previous.interrupted and previous.detail.get("idempotencyKey"):
        return str(previous.detail["idempotencyKey"])
    return f"{view.id}/{stage}/{action}/{attempt}"
