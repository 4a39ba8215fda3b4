"""Constructed production histories for the DORA tests: events as the local ECS and CodeDeploy
stores write them (conveyor.providers.local.*.events), with times chosen by hand."""

from __future__ import annotations

from typing import Any

from conveyor.events.types import Event, Subject

H = 3600.0
D = 86400.0
#: The end of every test window (a whole number of days after the epoch: day slots start at 00:00 UTC).
END = 20_000 * D
START = END - 7 * D
T0 = START


class History:
    """Events in the order they are added; `seq` grows with each."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def add(self, kind: str, at: float, deployment: str | None, *, env: str = "production", service: str = "orders",
            pipeline: str | None = "orders", execution: str | None = None, **detail: Any) -> "History":
        subject = Subject(pipeline=pipeline, execution_id=execution, environment=env, service=service,
                          deployment_id=deployment)
        self.events.append(Event(kind, at, subject, detail, seq=len(self.events) + 1))
        return self

    def deployed(self, dep: str, started: float, succeeded: float, **kw: Any) -> "History":
        return self.add("deployment-started", started, dep, **kw).add("deployment-succeeded", succeeded, dep, **kw)


def standard() -> tuple[History, dict[str, float], dict[str, float]]:
    """Six production changes over the week [T0, T0 + 7 d) (docs/dora.md's worked example):

    D1 succeeds; D2 is stopped on an alarm and rerouted back at once; D3 succeeds, production turns
    unhealthy, and D4 (triggered after that) fixes it forward; D5 fails on its circuit breaker
    and its rollback deployment R5 restores the previous revision; D6 fails and nothing restores it.
    Returns the history, the commit times and the trigger times of the executions."""
    h = History()
    h.deployed("D1", T0 + H, T0 + H + 600, execution="e1")
    h.add("deployment-started", T0 + D, "D2", execution="e2", creator="CodePipeline")
    h.add("deployment-alarm", T0 + D + 300, "D2", execution="e2", alarms=["orders-5xx"])
    h.add("deployment-stopped", T0 + D + 300, "D2", execution="e2")
    h.add("deployment-rolled-back", T0 + D + 360, "D2", execution="e2", how="reroute")
    h.deployed("D3", T0 + D + 4000, T0 + D + 4600, execution="e3")
    h.add("service-unhealthy", T0 + 2 * D, "D3", pipeline=None, task="t1")
    h.deployed("D4", T0 + 2 * D + 2000, T0 + 2 * D + 2600, execution="e4")
    h.add("deployment-started", T0 + 3 * D, "D5", execution="e5")
    h.add("service-circuit-breaker", T0 + 3 * D + 600, "D5", execution="e5")
    h.add("deployment-failed", T0 + 3 * D + 600, "D5", execution="e5")
    h.add("deployment-started", T0 + 3 * D + 600, "R5", pipeline=None, rollback=True, rolledBack="D5")
    h.add("deployment-rolled-back", T0 + 3 * D + 900, "R5", pipeline=None, rollback=True, rolledBack="D5")
    h.add("deployment-started", T0 + 5 * D, "D6", execution="e6")
    h.add("deployment-failed", T0 + 5 * D + 100, "D6", execution="e6")
    commits = {"e1": T0 + 0.5 * H, "e2": T0 + D - H, "e3": T0 + D + 3000, "e4": T0 + 2 * D + 1000,
               "e5": T0 + 3 * D - 500, "e6": T0 + 5 * D - 50}
    triggered = {"e1": T0 + H - 60, "e2": T0 + D - 60, "e3": T0 + D + 3600, "e4": T0 + 2 * D + 1800,
                 "e5": T0 + 3 * D - 100, "e6": T0 + 5 * D - 10}
    return h, commits, triggered
