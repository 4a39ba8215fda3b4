"""Which events a pipeline transition gives: CodePipeline's notification taxonomy, mapped from the
engine's transition rows. Pure: the caller passes the execution as it was just BEFORE the
transition (so "first InProgress" and "back to InProgress after a failure" can be told apart),
and writes the result in the transaction of the transition row (Store.append(t, events)).

    execution  (none) -> InProgress              pipeline-execution-started
               Failed|Stopped -> InProgress      pipeline-execution-resumed        (a retry)
               -> Succeeded|Failed|Superseded    pipeline-execution-<same>
               -> Stopped|Cancelled              pipeline-execution-canceled       (Stopping: nothing)
    stage      (none) -> InProgress              stage-execution-started
               Failed|Stopped -> InProgress      stage-execution-resumed
               -> Succeeded|Failed               stage-execution-<same>
               -> Stopped|Cancelled              stage-execution-canceled          (Stopping: nothing)
    action     -> InProgress                     action-execution-started          (every attempt)
               -> Succeeded|Failed               action-execution-<same>
               -> Abandoned                      action-execution-canceled         (stopped, or the
                                                                                    daemon died under it)
    Manual     -> InProgress                     + manual-approval-needed
               -> Succeeded                      manual-approval-succeeded + action-execution-succeeded
               -> Failed (rejected, expired)     manual-approval-failed + action-execution-failed

A Manual action whose configuration could not be resolved never waited for anyone: it gives the
action events only. An execution born Failed (a push whose definition could not be read) gives
pipeline-execution-failed alone.
"""

from __future__ import annotations

from typing import Any

from conveyor.config.model import ActionDef
from conveyor.engine import states as S
from conveyor.engine.view import ActionRun, ExecutionView
from conveyor.events.types import Event, Subject
from conveyor.store.db import Transition

_EXECUTION_END = {S.SUCCEEDED: "pipeline-execution-succeeded", S.FAILED: "pipeline-execution-failed",
                  S.SUPERSEDED: "pipeline-execution-superseded", S.STOPPED: "pipeline-execution-canceled",
                  S.CANCELLED: "pipeline-execution-canceled"}
_STAGE_END = {S.SUCCEEDED: "stage-execution-succeeded", S.FAILED: "stage-execution-failed",
              S.STOPPED: "stage-execution-canceled", S.CANCELLED: "stage-execution-canceled"}
_ACTION_END = {S.SUCCEEDED: "action-execution-succeeded", S.FAILED: "action-execution-failed",
               S.ABANDONED: "action-execution-canceled"}
_RETRIED = (S.FAILED, S.STOPPED)
#: Longest error text carried in a summary line (the detail has it whole).
SUMMARY_ERROR = 300


def transition_events(view: ExecutionView, t: Transition) -> list[Event]:
    """The events of transition `t` of `view`, where `view` does not yet include `t`."""
    if t.scope == "execution":
        return _execution(view, t)
    if t.scope == "stage":
        return _stage(view, t)
    return _action(view, t)


def _execution(view: ExecutionView, t: Transition) -> list[Event]:
    name = f"{view.pipeline} #{view.row.seq}"
    detail = _base(view)
    if t.status == S.IN_PROGRESS:
        if view.status in _RETRIED:
            who = t.detail.get("by")
            detail["retry"] = {"mode": t.detail.get("retry"), "by": who}
            return [_event(view, t, "pipeline-execution-resumed", Subject(view.pipeline, view.id),
                           f"{name}: execution resumed" + (f" by {who}" if who else ""), detail)]
        return [_event(view, t, "pipeline-execution-started", Subject(view.pipeline, view.id),
                       f"{name}: execution started{_started_by(view)}", detail)]
    kind = _EXECUTION_END.get(t.status)
    if kind is None:
        return []  # Stopping: the end (Stopped) is the event
    text = {S.SUCCEEDED: "execution succeeded", S.FAILED: "execution failed", S.SUPERSEDED: "execution superseded",
            S.STOPPED: "execution canceled", S.CANCELLED: "execution canceled"}[t.status]
    if t.status == S.FAILED:
        reason = str(t.detail.get("reason") or "")
        detail["error"] = reason
        if t.detail.get("stage"):
            detail["stage"] = t.detail["stage"]
        text += f": {_short(reason)}" if reason else ""
    elif t.status == S.SUPERSEDED:
        detail["supersededBy"] = t.detail.get("supersededBy")
        text += f" by execution {str(t.detail.get('supersededBy') or '')[:8]}".rstrip()
    elif t.status == S.STOPPED:
        asked = view.detail  # the Stopping transition says who stopped it and why
        detail["stoppedBy"] = asked.get("by") or None
        detail["reason"] = asked.get("reason") or None
        detail["abandon"] = bool(asked.get("abandon"))
        text += (f" by {asked['by']}" if asked.get("by") else "") + (f": {asked['reason']}" if asked.get("reason")
                                                                     else "")
    return [_event(view, t, kind, Subject(view.pipeline, view.id), f"{name}: {text}", detail)]


def _stage(view: ExecutionView, t: Transition) -> list[Event]:
    assert t.stage is not None  # a stage transition names its stage
    name = f"{view.pipeline} #{view.row.seq}"
    subject = Subject(view.pipeline, view.id, stage=t.stage)
    run = view.stages.get(t.stage)
    before = run.status if run is not None else None
    detail = _base(view)
    if t.status == S.IN_PROGRESS:
        if before in _RETRIED:
            detail["retry"] = {"mode": t.detail.get("retry"), "by": t.detail.get("by"),
                               "actions": list(t.detail.get("reset") or ())}
            return [_event(view, t, "stage-execution-resumed", subject, f"{name}: stage {t.stage} resumed", detail)]
        return [_event(view, t, "stage-execution-started", subject, f"{name}: stage {t.stage} started", detail)]
    kind = _STAGE_END.get(t.status)
    if kind is None:
        return []
    text = f"stage {t.stage} " + ("canceled" if kind == "stage-execution-canceled" else t.status.lower())
    if t.status == S.FAILED:
        failed = [str(a) for a in t.detail.get("failedActions") or ()]
        errors = {a: _error(run.actions.get(a) if run is not None else None) for a in failed}
        detail["failedActions"] = failed
        detail["error"] = "; ".join(f"{a}: {e}" for a, e in errors.items())
        text += f": {_short(detail['error'])}" if failed else ""
    return [_event(view, t, kind, subject, f"{name}: {text}", detail)]


def _action(view: ExecutionView, t: Transition) -> list[Event]:
    assert t.stage is not None and t.action is not None  # an action transition names both
    name = f"{view.pipeline} #{view.row.seq}"
    subject = Subject(view.pipeline, view.id, stage=t.stage, action=t.action)
    action = view.definition.stage(t.stage).action(t.action)
    run = view.stages[t.stage].actions.get(t.action) if t.stage in view.stages else None
    if run is not None and run.attempt != t.attempt:
        run = None
    detail = {**_base(view, action), "provider": action.provider, "category": action.category, "attempt": t.attempt}
    label = f"{t.stage}.{t.action}"
    manual = action.provider == "Manual"
    if t.status == S.IN_PROGRESS:
        out = [_event(view, t, "action-execution-started", subject, f"{name}: action {label} started", detail)]
        if manual and t.detail.get("token"):
            approval = {**detail, "approval": _approval(t.detail)}
            out.append(_event(view, t, "manual-approval-needed", subject,
                              f"{name}: approval {label} needed" + _custom(t.detail), approval))
        return out
    kind = _ACTION_END.get(t.status)
    if kind is None:
        return []
    text = f"action {label} " + ("canceled" if t.status == S.ABANDONED else t.status.lower())
    if t.status == S.FAILED:
        detail["error"] = str(t.detail.get("error") or "failed")
        text += f": {_short(detail['error'])}"
    elif t.status == S.ABANDONED:
        detail["reason"] = t.detail.get("reason")
        detail["interrupted"] = bool(t.detail.get("interrupted"))
        text += f": {_short(str(t.detail['reason']))}" if t.detail.get("reason") else ""
    out = []
    waited = manual and run is not None and bool(run.detail.get("token"))
    if waited and t.status in (S.SUCCEEDED, S.FAILED):
        out.append(_decision(view, t, subject, detail, name, label))
    out.append(_event(view, t, kind, subject, f"{name}: {text}", detail))
    return out


def _decision(view: ExecutionView, t: Transition, subject: Subject, detail: dict[str, Any], name: str,
              label: str) -> Event:
    """manual-approval-succeeded or -failed: approved, rejected, or expired (no decision came)."""
    decision = t.detail.get("decision")
    by, comment = t.detail.get("by") or None, t.detail.get("comment") or None
    approval = {"decision": decision or "Expired", "by": by, "comment": comment}
    if decision is None:
        approval["error"] = t.detail.get("error")
    body = {k: v for k, v in detail.items() if k != "error"}
    body["approval"] = approval
    if decision == "Approved":
        kind, text = "manual-approval-succeeded", f"approval {label} approved" + (f" by {by}" if by else "")
    elif decision == "Rejected":
        kind, text = "manual-approval-failed", f"approval {label} rejected" + (f" by {by}" if by else "")
    else:
        kind, text = "manual-approval-failed", f"approval {label} expired: {_short(str(t.detail.get('error') or ''))}"
    if comment and decision:
        text += f": {_short(comment)}"
    return _event(view, t, kind, subject, f"{name}: {text}", body)


def _approval(detail: dict[str, Any]) -> dict[str, Any]:
    return {k: detail[k] for k in ("customData", "externalEntityLink", "expires") if detail.get(k) is not None}


def _custom(detail: dict[str, Any]) -> str:
    return f": {_short(str(detail['customData']))}" if detail.get("customData") else ""


def _event(view: ExecutionView, t: Transition, kind: str, subject: Subject, summary: str,
           detail: dict[str, Any]) -> Event:
    return Event(kind, t.at, subject, detail, summary)


def _base(view: ExecutionView, action: ActionDef | None = None) -> dict[str, Any]:
    """What every pipeline event carries: which execution, which commit, what started it."""
    detail: dict[str, Any] = {"execution": {"id": view.id, "number": view.row.seq}}
    revision = revision_for(view, action)
    if revision:
        detail["revision"] = {k: revision.get(k) for k in ("repository", "branch", "commit")}
    trigger = view.row.trigger or {}
    detail["trigger"] = {k: trigger[k] for k in ("type", "by", "ref") if trigger.get(k)}
    return detail


def _started_by(view: ExecutionView) -> str:
    trigger = view.row.trigger or {}
    revision = revision_for(view, None) or {}
    parts = []
    if trigger.get("by"):
        parts.append(f"by {trigger['by']}")
    elif trigger.get("type"):
        parts.append(f"by {trigger['type']}")
    if revision.get("commit"):
        parts.append(f"at {revision.get('branch') or '?'}@{str(revision['commit'])[:7]}")
    return f" ({', '.join(parts)})" if parts else ""


def _error(run: ActionRun | None) -> str:
    if run is None:
        return "failed"
    return str(run.detail.get("error") or run.detail.get("reason") or "failed")


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= SUMMARY_ERROR else line[:SUMMARY_ERROR - 1] + "…"


def revision_for(view: ExecutionView, action: ActionDef | None) -> dict | None:
    """A source's own revision; for other actions, the revision of the source that produced
    their primary input (CODEBUILD_RESOLVED_SOURCE_VERSION), else the pipeline's first source.
    For the execution itself (`action` None): its first source's."""
    revisions = view.row.revisions
    if action is None:
        for source in view.definition.sources():
            if source.name in revisions:
                return revisions[source.name]
        return next(iter(revisions.values()), None)
    if action.name in revisions and action.provider == "Git":
        return revisions[action.name]
    primary = action.configuration.get("primarySource") or next(iter(action.input_artifacts), None)
    for source in view.definition.sources():
        if primary in source.output_artifacts and source.name in revisions:
            return revisions[source.name]
    return next(iter(revisions.values()), None)
