"""The JSON shape of an execution, as the API returns it and `status --json` prints it."""

from __future__ import annotations

from typing import Any

from conveyor.engine import states as S
from conveyor.engine.view import ExecutionView


def summary(view: ExecutionView) -> dict[str, Any]:
    commit = next((r.get("commit") for r in view.row.revisions.values()), None)
    waiting = view.next_stage()  # None unless InProgress between stages
    approvals = [r for r in view.running_actions() if "token" in r.detail]
    end = view.ended_at or view.updated_at
    return {
        "id": view.id,
        "seq": view.row.seq,
        "pipeline": view.pipeline,
        "status": view.status,
        "trigger": view.row.trigger,
        "commit": commit,
        "startedAt": view.started_at,
        "updatedAt": view.updated_at,
        "endedAt": view.ended_at,
        "duration": round(end - view.started_at, 3) if view.started_at else 0,
        "currentStage": view.current,
        "waitingFor": waiting,
        "awaitingApproval": [f"{r.stage}.{r.action}" for r in approvals],
        "approvals": _decisions(view),
        "reason": view.detail.get("reason") or _first_error(view),
    }


def describe(view: ExecutionView) -> dict[str, Any]:
    out = summary(view)
    out["revisions"] = view.row.revisions
    out["variables"] = view.row.variables
    out["executionMode"] = view.definition.execution_mode
    stages = []
    for stage_def in view.definition.stages:
        run = view.stages.get(stage_def.name)
        actions = []
        for a in stage_def.actions:
            ar = run.actions.get(a.name) if run else None
            entry: dict[str, Any] = {"name": a.name, "provider": a.provider, "category": a.category,
                                     "runOrder": a.run_order, "status": None}
            if ar is not None:
                entry.update({
                    "status": "Pending" if ar.interrupted else ar.status,
                    "attempt": ar.attempt,
                    "startedAt": ar.started_at,
                    "endedAt": ar.ended_at,
                    "summary": ar.detail.get("summary"),
                    "error": ar.detail.get("error") or (ar.detail.get("reason") if ar.status == S.ABANDONED else None),
                    "variables": ar.detail.get("variables"),
                    "artifacts": ar.detail.get("artifacts"),
                    "reports": ar.detail.get("reports"),
                })
                if a.provider == "Manual":
                    entry["approval"] = {k: ar.detail.get(k) for k in (
                        "token", "expires", "customData", "externalEntityLink", "decision", "by", "comment",
                        "decidedAt")}
            actions.append(entry)
        stages.append({
            "name": stage_def.name,
            "status": run.status if run else None,
            "attempt": run.attempt if run else 0,
            "startedAt": run.started_at if run else None,
            "endedAt": run.ended_at if run else None,
            "actions": actions,
        })
    out["stages"] = stages
    out["events"] = [{"seq": t.seq, "at": t.at, "scope": t.scope, "stage": t.stage, "action": t.action,
                      "attempt": t.attempt, "status": t.status,
                      **{k: t.detail[k] for k in ("by", "reason", "comment", "decision", "retry", "error")
                         if t.detail.get(k)}}
                     for t in view.events]
    return out


def _first_error(view: ExecutionView) -> str | None:
    if view.status not in (S.FAILED, S.STOPPED):
        return None
    for stage in view.stages.values():
        for run in stage.actions.values():
            if run is not None and run.detail.get("error"):
                return f"{stage.name}.{run.action}: {run.detail['error']}"
    return None


def _decisions(view: ExecutionView) -> list[dict[str, Any]]:
    """Who approved or rejected what, when, and why: for history and audit."""
    return [{"action": f"{stage.name}.{run.action}", "decision": run.detail["decision"], "by": run.detail.get("by"),
             "comment": run.detail.get("comment"), "at": run.detail.get("decidedAt")}
            for stage in view.stages.values() for run in stage.history if run.detail.get("decision")]
