"""The local ECS's reasons catalog: the exact texts users see (service events, stoppedReason,
stopCode, the circuit breaker's reason, history reasons, API refusals), and that no other module
of the package builds one inline."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conveyor.deploy.rolling import STUCK
from conveyor.providers.local.ecs import reasons as r

PACKAGE = Path(r.__file__).parent

EXACT = [
    # service events
    (r.steady_state("orders"), "(service orders) has reached a steady state."),
    (r.deployment_completed("orders", "ecs-svc/1"), "(service orders) (deployment ecs-svc/1) deployment completed."),
    (r.deployment_failed("orders", "ecs-svc/1", "why"),
     "(service orders) (deployment ecs-svc/1) deployment failed: why"),
    (r.started_task("orders", "t1"), "(service orders) has started 1 tasks: (task t1)."),
    (r.stopped_failed_task("orders", "t1", "Task failed container health checks"),
     "(service orders) has stopped 1 running tasks: (task t1) Task failed container health checks."),
    (r.draining("orders", "t1"), "(service orders) has begun draining connections on 1 tasks: (task t1)."),
    (r.failed_to_start("orders", "t1", "CannotPullContainerError: x"),
     "(service orders) failed to start task t1: CannotPullContainerError: x"),
    (r.cannot_move("orders", STUCK, 100, 100),
     "(service orders) is unable to start or stop tasks: minimumHealthyPercent 100% and maximumPercent 100% "
     "allow no task to be started or stopped."),
    (r.desired_count_set("orders", 3), "(service orders) desired count set to 3."),
    (r.desired_count_set("orders", 0, "ana"), "(service orders) desired count set to 0 by ana."),
    (r.load_balancer_problem("orders", "port 8080 is taken"),
     "(service orders) load balancer problem: port 8080 is taken"),
    (r.deployment_started("orders", "ecs-svc/2", "orders:7"),
     "(service orders) started deployment ecs-svc/2 of orders:7."),
    (r.rollback_requested("orders", "orders:6", "ana", "", "ecs-svc/3"),
     "(service orders) rollback to orders:6 by ana (deployment ecs-svc/3)."),
    (r.rollback_requested("orders", "orders:6", "ana", "p99 up", "ecs-svc/3"),
     "(service orders) rollback to orders:6 by ana: p99 up (deployment ecs-svc/3)."),
    (r.circuit_breaker_rolling_back("orders", "ecs-svc/1"),
     "(service orders) ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1."),
    (r.circuit_breaker_nothing_to_roll_back("orders"),
     "(service orders) ECS deployment circuit breaker: no completed deployment to roll back to."),
    (r.task_set_created("orders", "ecs-svc/4", "orders:7", "production-orders-2", 100),
     "(service orders) created task set ecs-svc/4 of orders:7 in (target-group production-orders-2) at 100% scale."),
    (r.task_set_scaled("orders", "ecs-svc/4", 0), "(service orders) task set ecs-svc/4 scaled to 0%."),
    (r.task_set_primary("orders", "ecs-svc/4", "orders:7"),
     "(service orders) task set ecs-svc/4 (orders:7) is now PRIMARY."),
    (r.task_set_inactive("orders", "ecs-svc/4"), "(service orders) task set ecs-svc/4 has no tasks left: INACTIVE."),
    (r.task_set_steady("orders", "ecs-svc/4"), "(service orders) task set ecs-svc/4 has reached a steady state."),
    # deployment failure reason
    (r.circuit_breaker_tripped(3, 3, "Essential container in task exited: container api exited with code 1"),
     "ECS deployment circuit breaker: 3 task(s) failed (threshold 3); last: Essential container in task exited: "
     "container api exited with code 1"),
    # stoppedReason
    (r.CONTAINER_HEALTH_CHECKS_FAILED, "Task failed container health checks"),
    (r.DESIRED_COUNT_LOWERED, "Service desired count lowered"),
    (r.PROVISIONING_INTERRUPTED, "Task provisioning was interrupted (the daemon restarted)"),
    (r.essential_container_exited("api", 137),
     "Essential container in task exited: container api exited with code 137"),
    (r.essential_container_exited("api", None),
     "Essential container in task exited: container api exited with code None"),
    (r.elb_health_checks_failed("production-orders", "Health checks failed with these codes: [503]"),
     "Task failed ELB health checks in (target-group production-orders): Health checks failed with these codes: [503]"),
    (r.scaling_by_deployment("ecs-svc/1"), "Scaling activity initiated by (deployment ecs-svc/1)"),
    (r.scaling_by_task_set("ecs-svc/4", 0), "Scaling activity initiated by (task set ecs-svc/4) scaled to 0%"),
    (r.cannot_pull_container("manifest unknown"), "CannotPullContainerError: manifest unknown"),
    (r.cannot_start_container("boom"), "CannotStartContainerError: boom"),
    (r.secrets_unavailable("no secret db/password"),
     "ResourceInitializationError: unable to pull secrets: no secret db/password"),
    (r.dependency_exited("init", 2), "dependency init exited with code 2 (condition SUCCESS)"),
    (r.dependency_timed_out("app", "db", "HEALTHY"), "container app: dependency db did not reach HEALTHY in time"),
    (r.depends_on_cycle(("a", "b", "a")), "dependsOn cycle: a -> b -> a"),
    (r.environment_name_invalid("A\nB", "holds a newline, which would start another variable in the env-file"),
     "environment variable 'A\\nB' holds a newline, which would start another variable in the env-file"),
    (r.environment_value_with_nul("KEY"),
     "environment variable KEY: a value with a NUL byte cannot be passed to the container"),
    (r.environment_value_with_newline("KEY"),
     "environment variable KEY: a value with a newline cannot be passed to the container"),
    # stopCode
    (r.STOP_CODE_FAILED_TO_START, "TaskFailedToStart"),
    (r.STOP_CODE_SCHEDULER, "ServiceSchedulerInitiated"),
    (r.STOP_CODE_TASK_FAILED, "TaskFailed"),
    # status history
    (r.HISTORY_ADOPTED, "adopted by a restarted daemon"),
    (r.HISTORY_STARTED, "started"),
    (r.HISTORY_DRAINED, "drained"),
    (r.HISTORY_STOPPED, "stopped"),
    (r.HISTORY_STEADY, "steady state"),
    (r.HISTORY_NO_TASKS_LEFT, "no tasks left"),
    (r.HISTORY_TASK_SET_EMPTY, "scaled to 0 and no tasks left"),
    (r.HISTORY_CREATED, "created"),
    (r.HISTORY_CREATED_AGAIN, "created again"),
    (r.HISTORY_PROMOTED, "promoted"),
    (r.history_deployment_of("orders:7"), "deployment of orders:7"),
    (r.history_task_set_of("orders:7", "production-orders-2"), "task set of orders:7 in production-orders-2"),
    (r.history_replaced_by("ecs-svc/2"), "replaced by deployment ecs-svc/2"),
    (r.history_task_set_promoted("ecs-svc/4"), "task set ecs-svc/4 promoted"),
    (r.history_task_of("ecs-svc/2"), "deployment ecs-svc/2"),
    # what a rollout waits for
    (r.NO_DEPLOYMENT_YET, "no deployment yet"),
    (r.WAITING_FOR_NOTHING, "nothing: the deployment is complete"),
    (r.waiting_for_nothing_failed("ECS deployment circuit breaker: 3 task(s) failed (threshold 3); last: x"),
     "nothing: the deployment failed (ECS deployment circuit breaker: 3 task(s) failed (threshold 3); last: x)"),
    (r.new_tasks_healthy(1, 2), "1/2 new tasks healthy"),
    (r.task_waiting("t1", "starting"), "task t1 starting"),
    (r.old_tasks_serving(2), "2 old task(s) still serving"),
    (r.tasks_draining(1), "1 task(s) draining/stopping"),
    (r.TASK_STARTING, "starting"),
    (r.TASK_NOT_REGISTERED, "not yet registered with the load balancer"),
    (r.TASK_AWAITING_CHECKS, "waiting for health checks"),
    (r.failing_health_checks(["target unhealthy: Health checks failed with these codes: [503] on /health",
                              r.container_check_failing("api", "")]),
     "failing health check: target unhealthy: Health checks failed with these codes: [503] on /health; "
     "api: no result yet"),
    (r.target_unhealthy("initial", "Elb.InitialHealthChecking", "/health"),
     "target initial: Elb.InitialHealthChecking on /health"),
    (r.target_unhealthy("initial", "Elb.InitialHealthChecking", None), "Elb.InitialHealthChecking"),
    (r.container_check_failing("api", "curl: (7) refused"), "api: curl: (7) refused"),
    # API refusals
    (r.desired_count_out_of_range(101), "desired count 101 is out of range"),
    (r.DESIRED_COUNT_HINT, "use 0-100"),
    (r.unknown_service("staging", "orders", []), "no service 'orders' in environment 'staging' (services: none yet)"),
    (r.unknown_service("staging", "orders", ["staging/billing", "production/orders"]),
     "no service 'orders' in environment 'staging' (services: staging/billing, production/orders)"),
    (r.not_rolling("production", "orders", "CODE_DEPLOY"),
     "service orders in production uses the CODE_DEPLOY deployment controller"),
    (r.ROLLING_ONLY_HINT, "a rolling deployment needs controller: ECS; CODE_DEPLOY services are deployed by the "
                          "CodeDeployToECS action"),
    (r.nothing_to_roll_back_to("staging", "orders"),
     "staging/orders has no earlier completed revision to roll back to"),
    (r.unknown_task_set("ecs-svc/9"), "no task set ecs-svc/9"),
    (r.unknown_deployment("staging", "orders", "ecs-svc/9"), "no deployment ecs-svc/9 of staging/orders"),
    (r.no_secret_store("/app/url"), "no secret store to resolve /app/url"),
    (r.service_not_found("staging", "orders"), "no service 'orders' in environment 'staging'"),
    (r.deployment_not_found("ecs-svc/9"), "no deployment ecs-svc/9"),
    (r.task_not_found("t9"), "no task t9"),
    # summaries of the stream's events
    (r.event_deployment("staging", "orders", "ecs-svc/1"), "staging/orders: rolling deployment ecs-svc/1"),
    (r.event_started("D", "orders:3", None), "D of orders:3 started"),
    (r.event_started("D", "orders:2", "ecs-svc/1"), "D of orders:2 started (rolling back ecs-svc/1)"),
    (r.event_succeeded("D", "orders:3"), "D of orders:3 completed"),
    (r.event_rolled_back("D", "orders:2", "ecs-svc/1"), "D completed: orders:2 serves again (ecs-svc/1 rolled back)"),
    (r.event_rolled_back("D", "orders:2", None), "D completed: orders:2 serves again"),
    (r.event_failed("D", "ECS deployment circuit breaker: 3 task(s) failed"),
     "D failed: ECS deployment circuit breaker: 3 task(s) failed"),
    (r.event_circuit_breaker("D", 3), "D: the deployment circuit breaker tripped after 3 failed task(s)"),
    (r.event_unhealthy("staging", "orders", "t1", "Task failed container health checks"),
     "staging/orders: task t1 failed: Task failed container health checks"),
    (r.event_steady("staging", "orders"), "staging/orders has reached a steady state"),
]


@pytest.mark.parametrize("text,expected", EXACT, ids=[e[1][:40] for e in EXACT])
def test_exact_text(text, expected):
    assert text == expected


def test_every_catalog_entry_is_asserted():
    """A new entry in the catalog comes with its exact text above."""
    public = [n for n in vars(r) if not n.startswith("_") and n != "annotations"]
    constants = {n for n in public if isinstance(getattr(r, n), str)}
    functions = {n for n in public if callable(getattr(r, n))}
    source = Path(__file__).read_text(encoding="utf-8")
    missing = sorted(n for n in constants | functions if f"r.{n}" not in source)
    assert not missing, missing


# --- no other module of the package builds these texts --------------------------------------------

#: Modules that hold no controller text: the catalog itself and the transition tables.
EXEMPT = {"reasons.py", "states.py"}
#: Fragments only an event, a stoppedReason or a failure reason contains.
MARKERS = ("(service ", "(task ", "(deployment ", "(target-group ", "circuit breaker", "Essential container",
           "Scaling activity", "ContainerError", "ResourceInitializationError", "steady state", "health checks",
           "desired count", "deploymentId", "roll back", "rolling back", "task set ", "exited with code")
#: Keyword arguments that carry a reason, and calls whose message is one.
REASON_KEYWORDS = {"why", "stopped_reason", "stop_code", "reason", "hint"}
MESSAGE_CALLS = {"event": 2, "service_event": 2, "UserError": 0, "NotFound": 0, "TaskStartError": 0,
                 "ConveyorError": 0, "_begin_stop": 2, "begin_stop": 2, "_finish_stop": 1, "finish_stop": 1,
                 "_start_failed": 2, "start_failed": 2, "_record": 5}
CATALOG_CONSTANTS = {v for n, v in vars(r).items() if n.isupper() and isinstance(v, str)}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.glob("*.py") if p.name not in EXEMPT and p.name != "__init__.py")


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def _literals(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _has_text(node: ast.AST) -> bool:
    return any(isinstance(n, ast.JoinedStr) or isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value
               for n in ast.walk(node))


def _inline_texts(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        where = f"{path.name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            if any(m in node.value for m in MARKERS) or node.value in CATALOG_CONSTANTS:
                found.append(f"{where} {node.value!r}")
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            for kw in node.keywords:
                if kw.arg in REASON_KEYWORDS and _has_text(kw.value):
                    found.append(f"{where} {kw.arg}= {ast.unparse(kw.value)}")
            position = MESSAGE_CALLS.get(name)
            if position is not None and len(node.args) > position and _has_text(node.args[position]):
                found.append(f"{where} {name}({ast.unparse(node.args[position])})")
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_no_inline_event_text(path):
    assert _inline_texts(path) == []


def test_the_scan_finds_an_inline_text(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('def f(store, s):\n    store.event("e", s, f"(service {s}) went away.")\n'
                   '    store.transition_task("t", "STOPPED", why="gone")\n', encoding="utf-8")
    assert len(_inline_texts(bad)) == 3  # the marker, the event's message, the why=
