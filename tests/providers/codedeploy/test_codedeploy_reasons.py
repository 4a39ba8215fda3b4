"""The local CodeDeploy's catalog of error codes and messages: the codes are CodeDeploy's, every
text is the one written here, and the controller's modules write no text of their own."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from conveyor.providers.local.codedeploy import reasons as R

PACKAGE = Path(R.__file__).parent
#: Not the controller: the catalog itself, the store (its SQL) and the hook runners, which report
#: what a hook answered (conveyor.providers.local.codedeploy.hooks*).
OUTSIDE = {"reasons.py", "store.py", "hooks.py", "hooks_command.py", "hooks_contract.py", "hooks_http.py"}
PROSE = re.compile(r"[A-Za-z] +[A-Za-z]")  # two words: a message, not a key, a path or a format


def test_the_error_codes_are_codedeploys():
    # The ErrorCode enum of the CodeDeploy API reference (API_ErrorInformation): 34 values, no repeats.
    assert len(R.ERROR_CODES) == len(set(R.ERROR_CODES)) == 34
    ecs = (R.ALARM_ACTIVE, R.HOOK_EXECUTION_FAILURE, R.ECS_UPDATE_ERROR, R.TIMEOUT, R.MANUAL_STOP, R.INTERNAL_ERROR,
           R.INVALID_ECS_SERVICE, R.ELASTIC_LOAD_BALANCING_INVALID, R.IAM_ROLE_PERMISSIONS, R.INVALID_LAMBDA_FUNCTION)
    assert set(ecs) <= set(R.ERROR_CODES)
    assert all(code == name for code, name in zip(ecs, (
        "ALARM_ACTIVE", "HOOK_EXECUTION_FAILURE", "ECS_UPDATE_ERROR", "TIMEOUT", "MANUAL_STOP", "INTERNAL_ERROR",
        "INVALID_ECS_SERVICE", "ELASTIC_LOAD_BALANCING_INVALID", "IAM_ROLE_PERMISSIONS", "INVALID_LAMBDA_FUNCTION"),
        strict=True))


TEXTS = [
    # refusals
    (R.not_code_deploy("orders", "production", "ECS"), "service orders in production uses the ECS controller"),
    (R.HINT_NOT_CODE_DEPLOY, "blue/green deployments need deployment.controller: CODE_DEPLOY"),
    (R.no_load_balancer("orders", "production"), "service orders in production has no loadBalancer"),
    (R.HINT_NO_LOAD_BALANCER, "a CODE_DEPLOY service needs a load balancer to shift traffic"),
    (R.deployment_limit_exceeded("d-1", "production", "orders", "AllowTraffic"),
     "deployment d-1 is already in progress for production/orders (AllowTraffic)"),
    (R.HINT_DEPLOYMENT_LIMIT, "wait for it, or `conveyor deploy stop` / `conveyor rollback` it"),
    (R.appspec_other_container(R.appspec_properties("appspec.yaml"), "web", 80, "api", 8081),
     "appspec.yaml: Resources[0].TargetService.Properties.LoadBalancerInfo names container web:80, but the "
     "service's loadBalancer sends traffic to api:8081"),
    (R.HINT_SAME_CONTAINER, "make them the same container and port"),
    (R.appspec_other_revision("appspec.yaml: P", "arn:…/orders:1", "orders:2"),
     "appspec.yaml: P.TaskDefinition is arn:…/orders:1, not the revision being deployed (orders:2)"),
    (R.HINT_TASK_DEFINITION_PLACEHOLDER, "write TaskDefinition: <TASK_DEFINITION> and let Conveyor fill it in"),
    (R.appspec_unknown_hook("appspec.yaml", "AfterInstall", "smoke", "production", "orders", {"b": 1, "a": 2}),
     "appspec.yaml: Hooks: AfterInstall names function 'smoke', which "
     "environments.production.services.orders.deployment.hooks does not define (defined: a, b)"),
    (R.appspec_unknown_hook("s", "AfterInstall", "f", "e", "o", {}), "s: Hooks: AfterInstall names function 'f', "
     "which environments.e.services.o.deployment.hooks does not define (defined: none)"),
    (R.HINT_DEFINE_HOOK, "define it there as a command, a container or a URL"),
    (R.not_waiting("d-1", "AllowTraffic", None), "deployment d-1 is in AllowTraffic, not waiting"),
    (R.not_waiting("d-1", "ReadyWait", "TERMINATION_WAIT"),
     "deployment d-1 is in ReadyWait, not waiting in TERMINATION_WAIT"),
    (R.HINT_CONTINUE, "continue applies to a STOP_DEPLOYMENT ready wait or the termination wait"),
    (R.nothing_to_promote("d-1", "End"), "deployment d-1 is in End: nothing left to promote"),
    (R.blue_terminating("d-1"), "deployment d-1 is terminating the original task set; blue is no longer serving"),
    (R.HINT_BLUE_TERMINATING,
     "run `conveyor rollback` again once it finished: it then redeploys the previous revision"),
    (R.nothing_to_roll_back("d-1", "Start"),
     "deployment d-1 is in Start: no replacement exists yet, so there is nothing to roll back"),
    (R.HINT_NOTHING_TO_ROLL_BACK, "`conveyor deploy stop` ends it"),
    (R.no_earlier_revision("production", "orders"), "production/orders has no earlier revision to roll back to"),
    (R.HINT_NO_EARLIER_REVISION, "it has run only one revision so far"),
    (R.no_service("production", "orders"), "no service 'orders' in environment 'production'"),
    (R.no_deployment("d-1"), "no deployment d-1"),
    (R.service_gone("production", "orders"), "service production/orders is gone"),
    (R.none_in_progress("production", "orders"), "no deployment in progress for production/orders"),
    (R.hook_status_not_final("Skipped"), "status 'Skipped' is not Succeeded or Failed"),
    (R.no_hook_execution("x-1", "d-1"), "no lifecycle event hook execution x-1 in deployment d-1"),
    (R.event_already_completed("AfterInstall", "Failed"), "lifecycle event AfterInstall is already Failed"),
    # human actions
    (R.action_continue("READY_WAIT"), "continue (READY_WAIT)"),
    (R.action_stop(True), "stop with rollback"),
    (R.action_stop(False), "stop without rollback"),
    (R.ACTION_PROMOTE, "promote"),
    (R.ACTION_ROLLBACK, "rollback"),
    (R.action_redeploy("orders:1"), "rollback: redeploy orders:1 (blue is no longer running)"),
    (R.action_to_kept("orders:1"), "rollback to orders:1 (kept alive)"),
    (R.action_line("promote", "ana", "p99 fine"), "promote by ana: p99 fine"),
    (R.action_line("promote", "ana", ""), "promote by ana"),
    (R.action_event("promote", "ana", "p99 fine"), "promote by ana: p99 fine"),
    (R.action_event("promote", "ana", ""), "promote by ana."),
    (R.service_event("orders", "d-1", "promote by ana."), "(service orders) (deployment d-1) promote by ana."),
    (R.stopped_by("ana", "wrong build"), "stopped by ana: wrong build"),
    (R.stopped_by("ana", ""), "stopped by ana"),
    (R.rolled_back_by("ana", "p99"), "rolled back by ana: p99"),
    # creating, ending, rolling back
    (R.created("d-1", "user", "orders:2", [("AfterInstall", "smoke"), ("AfterAllowTraffic", "check")]),
     "Deployment d-1 created by user for orders:2 (hooks: AfterInstall=smoke, AfterAllowTraffic=check)."),
    (R.created("d-1", "CodePipeline", "orders:2", []), "Deployment d-1 created by CodePipeline for orders:2."),
    (R.created_by("user"), "created by user"),
    (R.internal_error_after_end("boom"), "Internal error after the deployment ended: boom"),
    (R.error_why("TIMEOUT", "late"), "TIMEOUT: late"),
    (R.ended("d-1", "Stopped", "MANUAL_STOP", "stopped by ana"),
     "Deployment d-1 stopped: MANUAL_STOP: stopped by ana"),
    (R.NO_ROLLBACK, "No rollback: the replacement task set and the traffic stay as they are."),
    (R.ROLLBACK_FIRST_DEPLOYMENT,
     "Rollback: nothing to return to (the service's first deployment); the replacement stays."),
    (R.ROLLBACK_BLUE_UNHEALTHY, "Rollback: the original task set has no healthy tasks, so traffic stays where it is "
     "(Conveyor never routes to a target group without healthy targets); `conveyor rollback` redeploys the "
     "previous revision."),
    (R.rollback_message("alarm p99 is in ALARM: x"), "Rolled back: alarm p99 is in ALARM: x"),
    (R.rerouted("d-2", "orders-1", 0.0034), "Rollback d-2: production (and test) traffic back on "
     "(target-group orders-1) in 3 ms; the replacement task set is drained and removed."),
    (R.back_to_kept("ecs-svc/1"), "back to the kept task set ecs-svc/1"),
    (R.rerouted_to_kept("orders-1", 0.002, "ecs-svc/2"),
     "Rollback: traffic back on (target-group orders-1) in 2 ms; draining task set ecs-svc/2."),
    (R.WHY_REPLACEMENT_GONE, "the replacement task set is gone"),
    (R.rollback_succeeded("d-2"), "Rollback deployment d-2 succeeded: the replacement task set is gone."),
    # the lifecycle
    (R.WHY_STARTED, "started"),
    (R.started("d-1", "orders:2", "CodeDeployDefault.ECSCanary10Percent5Minutes", "10% → wait 5m → 100%"),
     "Deployment d-1 of orders:2 started (CodeDeployDefault.ECSCanary10Percent5Minutes: 10% → wait 5m → 100%)."),
    (R.replacement_created("ecs-svc/2", "orders-2", "ecs-svc/1", "orders-1"),
     "Install: replacement task set ecs-svc/2 created in (target-group orders-2); original task set ecs-svc/1 "
     "serves production from (target-group orders-1)."),
    (R.replacement_created("ecs-svc/1", "orders-1", None, None), "Install: replacement task set ecs-svc/1 created "
     "in (target-group orders-1); no original task set (the service's first deployment)."),
    (R.UNKNOWN_FAILURE, "unknown"),
    (R.tasks_failed(3, "OOM"), "3 tasks of the replacement task set failed to start or stay healthy; last: OOM"),
    (R.install_timeout(600, 1, 2), "the replacement task set was not healthy within 600 s (1/2 healthy)"),
    (R.waiting_replacement(1, 2, "orders-2"), "replacement task set 1/2 tasks healthy in (target-group orders-2)"),
    (R.replacement_healthy("ecs-svc/2", "orders:2", "orders-2", 2),
     "Replacement task set ecs-svc/2 (orders:2) is healthy in (target-group orders-2): 2 tasks."),
    (R.WHY_NO_TEST_LISTENER, "no test listener"),
    (R.test_traffic(9080, "orders-2"), "AllowTestTraffic: test listener 9080 → (target-group orders-2)."),
    (R.WHY_CONTINUED, "continued (READY_WAIT)"),
    (R.WHY_READY, "waiting for ContinueDeployment (STOP_DEPLOYMENT)"),
    (R.ready(3600, "production", "orders", "STOP_DEPLOYMENT"),
     "Ready: green is serving the test listener; waiting up to 3600 s for "
     "`conveyor deploy continue production orders` (STOP_DEPLOYMENT)."),
    (R.ready_wait_timeout(3600), "nobody continued the deployment within the ready wait of 3600 s"),
    (R.waiting_ready(12.4), "manual reroute (`conveyor deploy continue`); stops in 12 s"),
    (R.waiting_before_production("why"), "before production traffic: why"),
    (R.waiting_next_step(10, 299.6), "10% of production on green; next step in 300 s"),
    (R.shifted(10, "orders-2", "orders-1"),
     "AllowTraffic: 10% of production traffic → (target-group orders-2), 90% stays on (target-group orders-1)."),
    (R.shifted(100, "orders-2", "orders-1"), "AllowTraffic: 100% of production traffic → (target-group orders-2)."),
    (R.shifted(10, "orders-1", None), "AllowTraffic: 10% of production traffic → (target-group orders-1)."),
    (R.waiting_termination("orders-1", 42), "termination wait: blue (target-group orders-1) stays warm for 42 s "
     "more; `conveyor rollback` returns traffic to it at once"),
    (R.kept_alive("ecs-svc/1"), "Original task set ecs-svc/1 kept alive (KEEP_ALIVE), without traffic."),
    (R.terminating("ecs-svc/1"), "Terminating the original task set ecs-svc/1 (draining its tasks)."),
    (R.waiting_drain("original", "ecs-svc/1"), "original task set ecs-svc/1 draining and stopping"),
    (R.waiting_drain("replacement", "ecs-svc/2"), "replacement task set ecs-svc/2 draining and stopping"),
    (R.WHY_SUCCEEDED, "green serves production"),
    (R.succeeded("d-1", "orders:2", "orders-2", 42.04),
     "Deployment d-1 succeeded: orders:2 serves production (target-group orders-2) in 42.0 s."),
    # hooks
    (R.WHY_NO_HOOK, "no hook"),
    (R.why_hook("smoke"), "hook smoke"),
    (R.invoking("AfterInstall", "smoke", "command"), "AfterInstall: invoking hook smoke (command)."),
    (R.hook_failed("AfterInstall", "smoke", "exited with code 3"),
     "AfterInstall hook smoke failed: exited with code 3"),
    (R.hook_timeout("AfterInstall", "smoke", 3600), "AfterInstall hook smoke did not report within 3600 s"),
    (R.waiting_hook_running("AfterInstall", "smoke", 2), "AfterInstall hook smoke running (attempt 2)"),
    (R.waiting_hook_callback("AfterInstall", "smoke"), "AfterInstall hook smoke: waiting for it to report its "
     "status (POST /api/v1/deployments/ID/hooks/EXECUTION)"),
    (R.waiting_hook_poll("AfterInstall", "smoke", 29.5), "AfterInstall hook smoke asked to be polled again in 30 s"),
    (R.reported("Succeeded"), "reported Succeeded through the API"),
    (R.hook_internal_error("boom"), "internal error: boom"),
    (R.hook_answered("AfterInstall", "smoke", "InProgress", "warming"),
     "AfterInstall: hook smoke → InProgress: warming"),
    (R.hook_answered("AfterInstall", "smoke", "Succeeded", ""), "AfterInstall: hook smoke → Succeeded"),
    # alarms
    (R.alarm_in_alarm("p99", "3 of 3 breached"), "alarm p99 is in ALARM: 3 of 3 breached"),
    (R.gate_breaching("p99", 1, 3, 2), "alarm p99 saw 1 breaching datapoint(s) of green in its last 3 periods "
     "(below its 2 to alarm); waiting for a clean window"),
    (R.gate_no_traffic("orders-2", 2, 3, 10, "p99", "OK", 30, probing=False), "green (target-group orders-2) had "
     "requests in 2 of the last 3 periods of 10 s, so alarm p99 cannot vouch for it yet (OK); waiting for 30 s of "
     "traffic (deployment.probe sends synthetic requests)"),
    (R.gate_no_traffic("orders-2", 0, 3, 10, "p99", "INSUFFICIENT_DATA", 30, probing=True), "green (target-group "
     "orders-2) had requests in 0 of the last 3 periods of 10 s, so alarm p99 cannot vouch for it yet "
     "(INSUFFICIENT_DATA); waiting for 30 s of traffic"),
    # the daemon's log
    (R.LOG_PASS_FAILED, "deploy controller pass failed"),
    (R.LOG_HOOK_CRASHED, "hook %s of %s failed to run"),
    (R.LOG_HISTORY_LINE, "%s/%s %s"),
    (R.event_deployment("production", "orders", "d-ABC"), "production/orders: blue/green deployment d-ABC"),
    (R.event_started("D", "orders:7", "CodeDeployDefault.ECSAllAtOnce"),
     "D of orders:7 started (CodeDeployDefault.ECSAllAtOnce)"),
    (R.event_started("D", "orders:7", ""), "D of orders:7 started"),
    (R.event_ready("D", "conveyor deploy continue production orders"),
     "D is ready and waits for `conveyor deploy continue production orders`"),
    (R.event_alarm("D", ["orders-5xx"]), "D stopped: alarm orders-5xx in ALARM"),
    (R.event_stopped("D", "ana", "MANUAL_STOP", "stopped by ana"), "D stopped by ana: MANUAL_STOP: stopped by ana"),
    (R.event_stopped("D", None, "TIMEOUT", "late"), "D stopped: TIMEOUT: late"),
    (R.event_failed("D", "HOOK_EXECUTION_FAILURE", "hook x failed"), "D failed: HOOK_EXECUTION_FAILURE: hook x failed"),
    (R.event_succeeded("D", "orders:7"), "D of orders:7 succeeded"),
    (R.event_redeployed("D", "orders:6"), "D rolled back: the previous revision orders:6 serves production again"),
    (R.event_shifted("D", 10, "orders:7", "tg-2", "tg-1"),
     "D: 10% of production traffic on orders:7 (tg-2), 90% on tg-1"),
    (R.event_shifted("D", 100, "orders:7", "tg-2", "tg-1"), "D: 100% of production traffic on orders:7"),
    (R.event_rolled_back("D", "alarm orders-5xx is in ALARM: 3 of 3"),
     "D rolled back: alarm orders-5xx is in ALARM: 3 of 3"),
    (R.event_rolled_back_to_kept("production", "orders", "orders:6", "ana", "p99"),
     "production/orders: rolled back to orders:6 (kept alive) by ana: p99"),
    (R.event_termination_wait("D", 300, "tg-1", "conveyor deploy continue p o", "conveyor rollback p o"),
     "D waits 300 s before terminating tg-1; `conveyor deploy continue p o` ends the wait, "
     "`conveyor rollback p o` goes back"),
]


@pytest.mark.parametrize("text,expected", TEXTS, ids=range(len(TEXTS)))
def test_each_text_reads_exactly_so(text, expected):
    assert text == expected


def test_every_text_of_the_catalog_is_asserted():
    texts = [name for name, value in vars(R).items() if not name.startswith("_") and name.isupper()
             and isinstance(value, str) and value not in R.ERROR_CODES]
    functions = [name for name, value in vars(R).items() if callable(value) and not name.startswith("_")
                 and getattr(value, "__module__", "") == R.__name__]
    source = Path(__file__).read_text(encoding="utf-8")
    missing = [name for name in texts + functions if f"R.{name}" not in source]
    assert not missing, f"catalog entries without an asserted text: {missing}"


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(
                    first.value.value, str):
                out.add(id(first.value))
    return out


def inline_texts(source: str) -> list[tuple[int, str]]:
    """String literals and f-strings that read as prose (docstrings aside); an f-string's
    fields read as "x"."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skip.update(id(part) for part in node.values)
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        elif isinstance(node, ast.JoinedStr):
            text = "".join(p.value if isinstance(p, ast.Constant) else "x" for p in node.values)
        else:
            continue
        if PROSE.search(text):
            found.append((node.lineno, text))
    return found


def test_the_scan_finds_inline_messages():
    assert inline_texts('def f(d):\n    """Docs are fine."""\n    log(f"Deployment {d} started.")\n') == [
        (3, "Deployment x started.")]
    assert inline_texts('key = f"tg:{name}"\nurl = f"http://{host}:{port}/"\nfmt = "%s/%s %s"\n') == []


def test_the_controller_modules_hold_no_inline_message():
    modules = sorted(p for p in PACKAGE.glob("*.py") if p.name not in OUTSIDE)
    assert {p.name for p in modules} >= {"controller.py", "lifecycle.py", "hook_runs.py", "alarms.py", "outcomes.py",
                                         "rollback.py", "routing.py", "journal.py", "steps.py", "gates.py"}
    found = [f"{p.name}:{line}: {text!r}" for p in modules for line, text in inline_texts(p.read_text("utf-8"))]
    assert not found, "messages outside the catalog (conveyor.providers.local.codedeploy.reasons):\n" + "\n".join(found)
