"""The current state of an execution, derived by folding its transition rows in order.

Nothing here is stored: `ExecutionView.build(row, transitions)` gives the same answer after a
restart as the live engine had before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conveyor.config.model import PipelineDef
from conveyor.engine import states as S
from conveyor.store.db import ExecutionRow, Transition


@dataclass
class ActionRun:
    stage: str
    action: str
    attempt: int
    status: str
    started_at: float
    ended_at: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def interrupted(self) -> bool:
        """Abandoned because the daemon died under it: to be run again, not a failure."""
        return self.status == S.ABANDONED and bool(self.detail.get("interrupted"))


@dataclass
class StageRun:
    name: str
    status: str | None = None
    attempt: int = 0
    started_at: float | None = None
    ended_at: float | None = None
    actions: dict[str, ActionRun | None] = field(default_factory=dict)  # latest attempt; None = to (re)start
    history: list[ActionRun] = field(default_factory=list)
    last_attempt: dict[str, int] = field(default_factory=dict)

    def action_status(self, name: str) -> str | None:
        run = self.actions.get(name)
        if run is None or run.interrupted:
            return None
        return run.status


@dataclass
class ExecutionView:
    row: ExecutionRow
    definition: PipelineDef
    status: str | None = None
    started_at: float = 0.0
    updated_at: float = 0.0
    ended_at: float | None = None
    current: str | None = None  # name of the last stage entered
    stages: dict[str, StageRun] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)  # of the latest execution transition
    events: list[Transition] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.row.id

    @property
    def pipeline(self) -> str:
        return self.row.pipeline

    @classmethod
    def build(cls, row: ExecutionRow, transitions: list[Transition]) -> "ExecutionView":
        view = cls(row, PipelineDef.from_data(row.definition) if row.definition.get("pipeline") else _empty(row))
        for t in transitions:
            view.apply(t)
        return view

    def apply(self, t: Transition) -> None:
        self.updated_at = t.at
        self.events.append(t)
        if t.scope == "execution":
            if self.status is None:
                self.started_at = t.at
            self.status = t.status
            self.detail = t.detail
            self.ended_at = t.at if t.status in S.TERMINAL_EXECUTION else None
            return
        stage = self.stages.setdefault(t.stage or "", StageRun(t.stage or ""))
        if t.scope == "stage":
            stage.status = t.status
            if t.status == S.IN_PROGRESS:
                self.current = stage.name
                stage.attempt += 1
                stage.started_at = t.at
                stage.ended_at = None
                for name in t.detail.get("reset", ()):
                    stage.actions[name] = None
            elif t.status in (S.SUCCEEDED, S.FAILED, S.STOPPED, S.CANCELLED):
                stage.ended_at = t.at
            return
        name = t.action or ""
        run = stage.actions.get(name)
        if run is None or run.attempt != t.attempt:
            run = ActionRun(stage.name, name, t.attempt, t.status, t.at, detail=dict(t.detail))
            stage.actions[name] = run
            stage.history.append(run)
            stage.last_attempt[name] = max(stage.last_attempt.get(name, 0), t.attempt)
        else:
            run.status = t.status
            run.detail.update(t.detail)
        if t.status != S.IN_PROGRESS:
            run.ended_at = t.at

    # -- queries the engine asks
    def stage_run(self, name: str) -> StageRun:
        return self.stages.setdefault(name, StageRun(name))

    def next_stage(self) -> str | None:
        """The stage this execution waits to enter, if it is between stages."""
        names = [s.name for s in self.definition.stages]
        if self.status != S.IN_PROGRESS or not names:
            return None
        if self.current is None:
            return names[0]
        if self.stages[self.current].status != S.SUCCEEDED:
            return None
        i = names.index(self.current)
        return names[i + 1] if i + 1 < len(names) else None

    def holds(self, stage: str) -> bool:
        """Does this execution lock `stage`? (one execution per stage in QUEUED/SUPERSEDED)"""
        return self.current == stage and self.stages[stage].status in (S.IN_PROGRESS, S.STOPPING)

    def running_actions(self) -> list[ActionRun]:
        return [r for s in self.stages.values() for r in s.actions.values()
                if r is not None and r.status == S.IN_PROGRESS]

    def variables(self) -> dict[str, dict[str, str]]:
        """Namespace -> name -> value, for #{...} resolution."""
        out: dict[str, dict[str, str]] = {
            "codepipeline": {"PipelineExecutionId": self.id},
            "variables": {k: str(v) for k, v in self.row.variables.items()},
        }
        for stage_def, action in self.definition.actions():
            if not action.namespace:
                continue
            run = self.stages.get(stage_def.name, StageRun("")).actions.get(action.name)
            if run is not None and run.status == S.SUCCEEDED:
                out[action.namespace] = dict(run.detail.get("variables") or {})
        return out

    def artifact(self, name: str) -> str | None:
        """Digest of the latest successful output artifact `name`."""
        for stage_def, action in self.definition.actions():
            if name in action.output_artifacts:
                run = self.stages.get(stage_def.name, StageRun("")).actions.get(action.name)
                if run is not None and run.status == S.SUCCEEDED:
                    return (run.detail.get("artifacts") or {}).get(name)
        return None


def _empty(row: ExecutionRow) -> PipelineDef:
    return PipelineDef(name=row.pipeline, stages=())
