"""GetDeployment for the local CodeDeploy: a deployment row with its lifecycle events (and the
hook executions behind them), its history (what happened; who did what, when and why) and both
task sets, as the backend's neutral type."""

from __future__ import annotations

from conveyor.backend.types import (
    CodeDeployDeployment,
    HistoryEntry,
    LifecycleEvent,
    TaskSet,
)
from conveyor.errors import NotFound
from conveyor.providers.local.codedeploy.store import CodeDeployment, DeploymentStore


def deployment_view(store: DeploymentStore, task_set, d: CodeDeployment, *, full: bool = True) -> CodeDeployDeployment:
    """`task_set(id)` gives a task set's TaskSet (NotFound once its row is gone)."""
    events: tuple[LifecycleEvent, ...] = ()
    history: tuple[HistoryEntry, ...] = ()
    task_sets: dict[str, TaskSet | None] = {}
    if full:
        events = tuple(LifecycleEvent(name=e["name"], status=e["status"], start_time=e["started_at"],
                                      end_time=e["ended_at"], hook=e["hook"], execution_id=e["execution_id"],
                                      attempts=e["attempts"], message=e["message"], log_tail=e["log_tail"])
                       for e in store.events(d.id))
        history = tuple(HistoryEntry(at=h["at"], kind=h["kind"], message=h["message"], who=h["who"])
                        for h in store.history(d.id))
        for role, ident in (("original", d.original_task_set), ("replacement", d.replacement_task_set)):
            if ident:
                try:
                    task_sets[role] = task_set(ident)
                except NotFound:  # a task set row that is gone: show what the deployment knew
                    task_sets[role] = None
    return CodeDeployDeployment(
        id=d.id, environment=d.environment, service=d.service, task_definition=d.taskdef, status=d.status,
        phase=d.phase, creator=d.creator, traffic=d.traffic, waiting=d.waiting, error_code=d.error_code,
        error_message=d.error_message, rollback_info=dict(d.rollback_info or {}), origin=dict(d.origin or {}),
        original_task_set=d.original_task_set, replacement_task_set=d.replacement_task_set,
        original_target_group=d.original_tg, replacement_target_group=d.replacement_tg, created_at=d.created_at,
        updated_at=d.updated_at, completed_at=d.completed_at, timings=dict(d.timings), has_appspec=bool(d.appspec),
        lifecycle_events=events, history=history, task_sets=task_sets)
