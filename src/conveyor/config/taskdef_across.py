"""Rules across the containers of a task definition: unique names, at least one essential
container, dependsOn targets and conditions (no cycles), and what the containers reserve against
the task size (botocore ecs ContainerDefinition / ContainerDependency documentation)."""

from __future__ import annotations

from dataclasses import dataclass, field

from conveyor.documents.checker import Checker, did_you_mean
from conveyor.documents.located import KeyPath

FARGATE_TIMEOUT_RANGE = (2, 120)  # stopTimeout / startTimeout on Fargate


@dataclass
class ContainerFacts:
    """What the rules across containers need to know about one container."""

    path: KeyPath
    name: str | None
    essential: bool = True
    has_health_check: bool = False
    cpu: int | None = None
    memory: int | None = None
    reservation: int | None = None
    depends_on: list[tuple[KeyPath, str, str | None]] = field(default_factory=list)
    timeouts: list[tuple[KeyPath, int]] = field(default_factory=list)


def check_across(chk: Checker, P: KeyPath, containers: list[ContainerFacts], task_cpu: int | None,
                 task_memory: int | None, *, fargate: bool, task_memory_given: bool) -> None:
    by_name: dict[str, ContainerFacts] = {}
    for c in containers:
        if c.name is None:
            continue
        if c.name in by_name:
            chk.error(c.path + ("name",), f"duplicate container name '{c.name}' (also "
                                          f"containerDefinitions[{by_name[c.name].path[-1]}])")
        else:
            by_name[c.name] = c
    if containers and not any(c.essential for c in containers):
        chk.error(P + ("containerDefinitions",), "at least one container must be essential (ECS rejects a task "
                                                 "definition without one): set \"essential\": true on the main one")
    _dependencies(chk, containers, by_name)
    _resources(chk, P, containers, task_cpu, task_memory, fargate=fargate, task_memory_given=task_memory_given)
    if fargate:
        lo, hi = FARGATE_TIMEOUT_RANGE
        for c in containers:
            for path, value in c.timeouts:
                if not lo <= value <= hi:
                    chk.error(path, f"{path[-1]} must be between {lo} and {hi} seconds on FARGATE, got {value}")


def _dependencies(chk: Checker, containers: list[ContainerFacts], by_name: dict[str, ContainerFacts]) -> None:
    edges: dict[str, list[str]] = {}
    for c in containers:
        for path, target, condition in c.depends_on:
            other = by_name.get(target)
            if other is None:
                hint = did_you_mean(target, by_name) or f" (containers: {', '.join(by_name)})"
                chk.error(path + ("containerName",), f"container '{target}' does not exist in this task "
                                                     f"definition{hint}")
                continue
            if other is c:
                chk.error(path + ("containerName",), f"container '{target}' cannot depend on itself")
                continue
            if c.name is not None:
                edges.setdefault(c.name, []).append(target)
            if condition == "HEALTHY" and not other.has_health_check:
                chk.error(path + ("condition",), f"condition HEALTHY needs container '{target}' to have a "
                                                 "healthCheck (ECS requires one for this condition)")
            if condition in ("COMPLETE", "SUCCESS") and other.essential:
                chk.error(path + ("condition",), f"condition {condition} cannot be set on essential container "
                                                 f"'{target}' (the task stops when it exits): mark it "
                                                 "\"essential\": false")
    cycle = _find_cycle(edges)
    if cycle:
        chk.error(by_name[cycle[0]].path + ("dependsOn",),
                  f"dependsOn forms a cycle ({' -> '.join(cycle)}): no container could start")


def _resources(chk: Checker, P: KeyPath, containers: list[ContainerFacts], task_cpu: int | None,
               task_memory: int | None, *, fargate: bool, task_memory_given: bool) -> None:
    if not task_memory_given and not fargate:
        for c in containers:
            if c.memory is None and c.reservation is None:
                chk.warning(c.path, f"container '{c.name or c.path[-1]}' has no 'memory' or 'memoryReservation' "
                                    "(MiB) and the task no task-level 'memory': Conveyor runs it without a limit, "
                                    "ECS rejects it")
    reserved = sum((c.reservation if c.reservation is not None else c.memory) or 0 for c in containers)
    if task_memory is not None and reserved > task_memory:
        chk.error(P + ("memory",), f"the containers reserve {reserved} MiB (memoryReservation, else memory), more "
                                   f"than the task's {task_memory} MiB")
    cpu = sum(c.cpu or 0 for c in containers)
    if task_cpu is not None and cpu > task_cpu:
        chk.error(P + ("cpu",), f"the containers reserve {cpu} CPU units, more than the task's {task_cpu}")


def _find_cycle(edges: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in edges.get(node, ()):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in list(edges):
        if node not in state and (found := visit(node)):
            return found
    return None
