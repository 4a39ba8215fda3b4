"""Status transition tables as data, and the one check every status change goes through.

A table maps a current status (None: no row yet) to the statuses it may move to; anything else is
refused with InvalidTransition (a Conflict) naming the scope, the current status and the new one.
The pipeline engine (conveyor.engine.states), the local ECS controller
(conveyor.providers.local.ecs.states) and the local CodeDeploy controller
(conveyor.providers.local.codedeploy.states) each keep their tables next to their statuses; tests
walk each table's whole from/to matrix.

    >>> TASK = {None: frozenset({"PENDING"}), "PENDING": frozenset({"RUNNING"}), "RUNNING": frozenset()}
    >>> check(TASK, "task", None, "PENDING")
    >>> check(TASK, "task", "RUNNING", "PENDING")
    Traceback (most recent call last):
    ...
    conveyor.transitions.InvalidTransition: task cannot go from RUNNING to PENDING
    >>> statuses(TASK)
    ['PENDING', 'RUNNING']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set

from conveyor.errors import Conflict

#: current status (None: no row yet) → the statuses it may move to.
Table = Mapping[str | None, Set[str]]


class InvalidTransition(Conflict):
    """A status change the scope's table does not allow (a bug in the caller, or a request the
    current state does not allow)."""

    def __init__(self, scope: str, current: str | None, new: str):
        self.scope, self.current, self.new = scope, current, new
        super().__init__(f"{scope} cannot go from {current or 'nothing'} to {new}")


def check(table: Table, scope: str, current: str | None, new: str) -> None:
    """Raise InvalidTransition unless `table` allows `current` → `new` (a status the table does
    not know, as current or as new, is refused too)."""
    if new not in table.get(current, ()):
        raise InvalidTransition(scope, current, new)


def statuses(table: Table) -> list[str]:
    """Every status a table names, as source or as target, sorted."""
    found = {s for s in table if s is not None}
    for targets in table.values():
        found |= set(targets)
    return sorted(found)


def refuse_status_keys(method: str, changes: Iterable[str], keys: Iterable[str], instead: str) -> None:
    """Generic update methods must not change a status behind the table's back.

    >>> refuse_status_keys("update_task", ["health"], ["last_status"], "transition_task")
    >>> refuse_status_keys("update_task", ["last_status", "health"], ["last_status"], "transition_task")
    Traceback (most recent call last):
    ...
    TypeError: update_task cannot set last_status: use transition_task, which checks the transition table
    """
    bad = sorted(set(changes) & set(keys))
    if bad:
        raise TypeError(f"{method} cannot set {', '.join(bad)}: use {instead}, which checks the transition table")
