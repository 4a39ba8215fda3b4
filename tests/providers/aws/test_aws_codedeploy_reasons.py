"""The AWS CodeDeploy backend's catalog: every text reads as written here, the texts the local backend
also writes read the same, and the backend's modules build no message of their own."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_codedeploy_fixtures import inline_texts

from conveyor.providers.aws import codedeploy_reasons as R
from conveyor.providers.local.codedeploy import reasons as local

AWS = Path(R.__file__).parent
MODULES = ("codedeploy.py", "codedeploy_groups.py", "codedeploy_journal.py", "codedeploy_revision.py",
           "codedeploy_views.py", "ecs_native.py", "ecs_native_views.py")

TEXTS = [
    (R.ALARM_ACTIVE, "ALARM_ACTIVE"), (R.HOOK_EXECUTION_FAILURE, "HOOK_EXECUTION_FAILURE"),
    (R.ECS_UPDATE_ERROR, "ECS_UPDATE_ERROR"), (R.MANUAL_STOP, "MANUAL_STOP"),
    # refusals
    (R.not_code_deploy("orders", "production", "ECS"), "service orders in production uses the ECS controller"),
    (R.HINT_NOT_CODE_DEPLOY, "blue/green deployments need deployment.controller: CODE_DEPLOY"),
    (R.no_load_balancer("orders", "production"), "service orders in production has no loadBalancer"),
    (R.HINT_NO_LOAD_BALANCER, "a CODE_DEPLOY service needs a load balancer to shift traffic"),
    (R.appspec_properties("appspec.yaml"), "appspec.yaml: Resources[0].TargetService.Properties"),
    (R.appspec_other_container("W", "web", 80, "api", 8080),
     "W.LoadBalancerInfo names container web:80, but the service's loadBalancer sends traffic to api:8080"),
    (R.HINT_SAME_CONTAINER, "make them the same container and port"),
    (R.appspec_other_revision("W", "arn:…/orders:6", "orders:7"),
     "W.TaskDefinition is arn:…/orders:6, not the revision being deployed (orders:7)"),
    (R.HINT_TASK_DEFINITION_PLACEHOLDER, "write TaskDefinition: <TASK_DEFINITION> and let Conveyor fill it in"),
    (R.custom_config_without_name("production", "orders"),
     "environments.production.services.orders.deployment.config is a custom config without a name; on AWS a "
     "deployment names a deployment config that exists in the account"),
    (R.HINT_CUSTOM_CONFIG, "create it with CreateDeploymentConfig (compute platform ECS) and give its name as "
                           "config.name, or use a CodeDeployDefault.ECS* config"),
    (R.missing_codedeploy("orders", "api", "production", "eu-west-1", "CodeDeploy application 'orders'"),
     "CodeDeploy application 'orders' does not exist in eu-west-1 (environment production: CodeDeploy application "
     "'orders', deployment group 'api')"),
    (R.missing_resource("ApplicationDoesNotExistException", "orders", "api", None), "CodeDeploy application 'orders'"),
    (R.missing_resource("DeploymentGroupDoesNotExistException", "orders", "api", None),
     "deployment group 'api' of CodeDeploy application 'orders'"),
    (R.missing_resource("DeploymentConfigDoesNotExistException", "orders", "api", "fast"), "deployment config 'fast'"),
    (R.missing_resource("ThrottlingException", "orders", "api", None), None),
    (R.HINT_MISSING_CODEDEPLOY, "Conveyor does not create AWS resources: create the CodeDeploy application (compute "
                                "platform ECS) and a blue/green deployment group named after the service, or name the "
                                "application in environments.ENV.codeDeployApplication"),
    (R.deployment_limit_exceeded("d-1", "production", "orders", "AllowTraffic"),
     "deployment d-1 is already in progress for production/orders (AllowTraffic)"),
    (R.HINT_DEPLOYMENT_LIMIT, "wait for it, or `conveyor deploy stop` / `conveyor rollback` it"),
    (R.not_waiting("d-1", "Install", None), "deployment d-1 is in Install, not waiting"),
    (R.not_waiting("d-1", "ReadyWait", "TERMINATION_WAIT"),
     "deployment d-1 is in ReadyWait, not waiting in TERMINATION_WAIT"),
    (R.HINT_CONTINUE, "continue applies to a STOP_DEPLOYMENT ready wait or the termination wait"),
    (R.none_in_progress("production", "orders"), "no deployment in progress for production/orders"),
    (R.no_deployment("d-1"), "no deployment d-1"),
    (R.no_earlier_revision("production", "orders"), "production/orders has no earlier revision to roll back to"),
    (R.HINT_NO_EARLIER_REVISION, "it has run only one revision so far"),
    (R.no_appspec_content("d-1"), "deployment d-1 has no AppSpec content to deploy again (its revision is not "
                                  "AppSpecContent)"),
    (R.cannot_promote("d-1", "AllowTraffic", "CodeDeployDefault.ECSCanary10Percent5Minutes"),
     "CodeDeploy shifts traffic only as deployment d-1's config CodeDeployDefault.ECSCanary10Percent5Minutes says and "
     "has no call to skip its steps (it is in AllowTraffic)"),
    (R.HINT_PROMOTE, "`conveyor deploy continue` ends a ready wait or the termination wait; `conveyor rollback` "
                     "returns traffic to blue; deploy with config CodeDeployDefault.ECSAllAtOnce to shift everything "
                     "at once"),
    (R.hook_status_not_final("InProgress"), "status 'InProgress' is not Succeeded or Failed"),
    # ECS-native
    (R.native_appspec_hooks("appspec.yaml", ["AfterInstall", "AfterAllowTestTraffic"]),
     "appspec.yaml: Hooks (AfterInstall, AfterAllowTestTraffic) are CodeDeploy hooks; an ECS-native deployment "
     "(strategy) runs the service's deploymentConfiguration.lifecycleHooks instead"),
    (R.HINT_NATIVE_HOOKS, "remove Hooks from the AppSpec and register the functions as lifecycleHooks of the ECS "
                          "service"),
    (R.native_not_paused("arn:sd", "BAKE_TIME"), "service deployment arn:sd is in BAKE_TIME, not paused at a PAUSE "
                                                 "lifecycle hook"),
    (R.HINT_NATIVE_CONTINUE, "continue resolves a PAUSE hook of the service's lifecycleHooks; the bake time runs its "
                             "course"),
    (R.native_stop_without_rollback("arn:sd"), "ECS stops service deployment arn:sd only by rolling it back "
                                               "(StopServiceDeployment stopType ROLLBACK)"),
    (R.HINT_NATIVE_STOP, "`conveyor deploy stop` without --no-rollback, or `conveyor rollback`"),
    (R.native_cannot_promote("arn:sd", "BAKE_TIME", "CANARY"),
     "ECS moves traffic as strategy CANARY says and has no call to skip its steps (service deployment arn:sd is in "
     "BAKE_TIME)"),
    (R.HINT_NATIVE_PROMOTE, "`conveyor deploy continue` resolves a PAUSE hook; `conveyor rollback` returns traffic to "
                            "blue"),
    (R.native_hook_status("arn:sd"), "service deployment arn:sd is ECS-native: its lifecycle hooks answer ECS with "
                                     "the Lambda function's hookStatus, not through "
                                     "PutLifecycleEventHookExecutionStatus"),
    (R.HINT_NATIVE_HOOK_STATUS, "return {hookStatus: SUCCEEDED | FAILED | IN_PROGRESS} from the hook's Lambda "
                                "function"),
    (R.native_no_previous("production", "orders"),
     "production/orders has no earlier successful service deployment to roll back to"),
    # actions
    (R.ACTION_PROMOTE, "promote"), (R.ACTION_ROLLBACK, "rollback"),
    (R.action_continue("READY_WAIT"), "continue (READY_WAIT)"), (R.PAUSE_HOOK, "PAUSE hook"),
    (R.action_stop(True), "stop with rollback"), (R.action_stop(False), "stop without rollback"),
    (R.action_redeploy("orders:6"), "rollback: redeploy orders:6 (blue is no longer running)"),
    (R.action_line("promote", "ana", ""), "promote by ana"),
    (R.action_line("promote", "ana", "p99 fine"), "promote by ana: p99 fine"),
    (R.description("orders:7", "CodePipeline"), "Conveyor: orders:7 (CodePipeline)"),
    # history
    (R.created("d-1", "user", "orders:7", [("AfterInstall", "smoke")]),
     "Deployment d-1 created by user for orders:7 (hooks: AfterInstall=smoke)."),
    (R.created("d-1", "user", "orders:7", []), "Deployment d-1 created by user for orders:7."),
    (R.event_ended("AfterInstall", "Failed", "3 of 10 failed"), "AfterInstall: Failed: 3 of 10 failed."),
    (R.event_ended("Install", "Succeeded", ""), "Install: Succeeded."),
    (R.ended("d-1", "Stopped", "ALARM_ACTIVE", "p99", "d-2"),
     "Deployment d-1 stopped: ALARM_ACTIVE: p99; rollback deployment d-2."),
    (R.ended("d-1", "Succeeded", None, None, None), "Deployment d-1 succeeded."),
    # waiting
    (R.waiting_start("Created"), "CodeDeploy is starting it"),
    (R.waiting_start("Queued"), "queued behind another deployment of the group"),
    (R.waiting_ready(40.4), "manual reroute (`conveyor deploy continue`); stops in 40 s"),
    (R.waiting_ready(None), "manual reroute (`conveyor deploy continue`)"),
    (R.waiting_termination("tg-1", 100.0), "termination wait: blue (target-group tg-1) stays warm for 100 s more; "
                                           "`conveyor rollback` returns traffic to it at once"),
    (R.waiting_termination("tg-1", None), "termination wait: blue (target-group tg-1) stays warm; `conveyor "
                                          "rollback` returns traffic to it at once"),
    (R.waiting_hook("AfterInstall", "smoke"), "AfterInstall hook smoke (Lambda) running; CodeDeploy waits up to an "
                                              "hour for it to report through PutLifecycleEventHookExecutionStatus"),
    (R.waiting_replacement(1, 2, "tg-2"), "replacement task set 1/2 tasks running in (target-group tg-2)"),
    (R.waiting_test_traffic("tg-2"), "test listener → (target-group tg-2)"),
    (R.waiting_traffic(10, "C"), "10% of production on green (C)"),
    (R.native_waiting_pending(), "ECS is starting the service deployment"),
    (R.native_waiting_paused("POST_SCALE_UP", "h-1", 30.0),
     "paused at POST_SCALE_UP (hook h-1): `conveyor deploy continue` goes on, `conveyor rollback` goes back; the hook "
     "times out in 30 s"),
    (R.native_waiting_hook("PRE_SCALE_UP", "fn"), "PRE_SCALE_UP: lifecycle hook fn running"),
    (R.native_waiting_scale_up(1, 2), "green revision 1/2 tasks running"),
    (R.native_waiting_traffic(5, "CANARY"), "5% of production on green (CANARY)"),
    (R.native_waiting_bake(None), "bake time: blue stays up after the shift; `conveyor rollback` returns traffic to "
                                  "it at once"),
    (R.native_waiting_rollback(""), "rolling back"),
    (R.NATIVE_WAITING_STOPPING, "stopping"),
    (R.native_alarm(["a", "b"]), "alarm a, b went into ALARM"),
    (R.native_circuit_breaker(3, 3), "the deployment circuit breaker tripped: 3 failed tasks (threshold 3)"),
    (R.native_hook_failed("fn", "FAILED"), "lifecycle hook fn failed"),
    (R.native_rollback_failed(""), "the rollback failed"),
]


@pytest.mark.parametrize("text,expected", TEXTS, ids=range(len(TEXTS)))
def test_each_text_reads_exactly_so(text, expected):
    assert text == expected


def test_every_text_of_the_catalog_is_asserted():
    names = [name for name, value in vars(R).items() if not name.startswith("_")
             and ((name.isupper() and isinstance(value, str))
                  or (callable(value) and getattr(value, "__module__", "") == R.__name__))]
    source = Path(__file__).read_text(encoding="utf-8")
    missing = [name for name in names if f"R.{name}" not in source]
    assert not missing, f"catalog entries without an asserted text: {missing}"


@pytest.mark.parametrize("ours,theirs", [
    (R.action_line(R.action_stop(True), "ana", "p99"), local.action_line(local.action_stop(True), "ana", "p99")),
    (R.action_line(R.action_continue("READY_WAIT"), "ana", ""),
     local.action_line(local.action_continue("READY_WAIT"), "ana", "")),
    (R.action_line(R.ACTION_ROLLBACK, "ana", "x"), local.action_line(local.ACTION_ROLLBACK, "ana", "x")),
    (R.action_redeploy("orders:6"), local.action_redeploy("orders:6")),
    (R.deployment_limit_exceeded("d-1", "p", "o", "Install"),
     local.deployment_limit_exceeded("d-1", "p", "o", "Install")),
    (R.not_waiting("d-1", "Install", None), local.not_waiting("d-1", "Install", None)),
    (R.waiting_ready(12.0), local.waiting_ready(12.0)),
    (R.waiting_termination("tg", 12.0), local.waiting_termination("tg", 12.0)),
    (R.waiting_replacement(1, 2, "tg").replace("running", "healthy"), local.waiting_replacement(1, 2, "tg")),
])
def test_what_both_backends_say_reads_the_same(ours, theirs):
    assert ours == theirs


def test_the_scan_finds_inline_messages():
    assert inline_texts('def f(d):\n    """Docs are fine."""\n    log(f"Deployment {d} started.")\n') == [
        (3, "Deployment x started.")]
    assert inline_texts('key = f"tg:{name}"\nurl = f"http://{host}:{port}/"\n') == []


def test_the_backend_modules_hold_no_inline_message():
    found = [f"{name}:{line}: {text!r}" for name in MODULES
             for line, text in inline_texts((AWS / name).read_text("utf-8"))]
    assert not found, "messages outside the catalog (conveyor.providers.aws.codedeploy_reasons):\n" + "\n".join(found)
