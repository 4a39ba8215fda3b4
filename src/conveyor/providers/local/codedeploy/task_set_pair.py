"""Blue and green: which task set serves, and which target group of the pair the replacement
gets (aws-semantics §5.3, target group alternation: the replacement takes the group the PRIMARY
task set does not use). Pure: decided from DescribeTaskSets' records.

    >>> blue = TaskSetRecord("ecs-svc/1", "production", "orders", PRIMARY, "orders:1", "orders-1", 100)
    >>> plan = plan_replacement([blue], ["orders-1", "orders-2"])
    >>> plan.original_tg, plan.replacement_tg, plan.retire
    ('orders-1', 'orders-2', ())
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from conveyor.providers.local.codedeploy.store import CodeDeployment
from conveyor.providers.local.ecs.task_set_api import TaskSetRecord

#: TaskSet.status (ECS API reference, DescribeTaskSets).
PRIMARY, ACTIVE, INACTIVE = "PRIMARY", "ACTIVE", "INACTIVE"


@dataclass(frozen=True)
class ReplacementPlan:
    original: TaskSetRecord | None  # the PRIMARY task set (None: the service's first deployment)
    original_tg: str | None
    replacement_tg: str
    #: Task sets in the replacement's target group (one KEEP_ALIVE left, one a crash left): scaled to 0.
    retire: tuple[TaskSetRecord, ...]
    #: The original needs scale 100 in original_tg (a rolling deployment's tasks join the pair).
    adopt_original: bool


def plan_replacement(live: Sequence[TaskSetRecord], target_groups: Sequence[str]) -> ReplacementPlan:
    original = next((x for x in live if x.status == PRIMARY), None)
    original_tg = None
    if original is not None:  # (a service that ran rolling deployments gets the pair's first group)
        original_tg = original.target_group if original.target_group in target_groups else target_groups[0]
    replacement_tg = next(n for n in target_groups if n != original_tg)
    retire = tuple(x for x in live
                   if x.target_group == replacement_tg and x.status != INACTIVE and x is not original)
    adopt = original is not None and (original.scale is None or original.target_group != original_tg)
    return ReplacementPlan(original, original_tg, replacement_tg, retire, adopt)


def kept_alive(live: Sequence[TaskSetRecord]) -> tuple[TaskSetRecord | None, TaskSetRecord | None]:
    """(the PRIMARY task set, a scaled one KEEP_ALIVE left next to it), either None."""
    primary = next((x for x in live if x.status == PRIMARY), None)
    kept = next((x for x in live if x is not primary and x.status != INACTIVE and x.scale), None)
    return primary, kept


def primary_target_group(live: Sequence[TaskSetRecord]) -> str | None:
    """The target group production is on when no deployment runs."""
    return next((x.target_group for x in live if x.status == PRIMARY and x.target_group), None)


def replacement_tg_of(d: CodeDeployment) -> str:
    """The target group a deployment's replacement is in: Install chose it before any phase that
    routes traffic (a rollback deployment copies it from the deployment it rolls back)."""
    assert d.replacement_tg is not None
    return d.replacement_tg
