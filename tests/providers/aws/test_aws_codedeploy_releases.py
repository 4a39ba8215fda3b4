"""Blue/green releases on AWS, end to end through the release service: a CODE_DEPLOY service of a
`target: aws` environment, CodeDeploy (and ECS) answering from recorded sequences (botocore's
Stubber), every request checked against the service model (the aws_log fixture). Each test reads
as a scenario; the call counts it asserts are what bench/aws_calls.py and the IAM policy use."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from aws_codedeploy_fixtures import (
    APP,
    CLUSTER,
    GROUP,
    IN_FLIGHT,
    TASKDEF,
    AwsEcsFake,
    add,
    appspec,
    info,
    now,
    rev_arn,
    sd_arn,
    service_deployment,
    service_revision,
    spec,
    target,
    td_arn,
)

from conveyor.backend.fake import FakeReads
from conveyor.backend.interface import Backend
from conveyor.deploy.spec import ServiceSpec
from conveyor.providers.aws.codedeploy import KEY_WINDOW, AwsCodeDeploy
from conveyor.providers.aws.codedeploy_revision import key_marker
from conveyor.release.service import DeployRequest, ReleaseService
from conveyor.release.store import ReleaseStore

KEY = "ex-1/Deploy/Deploy/1"
DEP = "d-AAAAAAAA1"
CLOCK = now(120)


class Aws:
    """The release service over an AWS backend whose CodeDeploy (and ECS) answer from stubs."""

    def __init__(self, stubbed: Any, store: ReleaseStore | None = None, ecs: AwsEcsFake | None = None):
        self.stubbed = stubbed
        self.ecs = ecs or AwsEcsFake()
        self.codedeploy = AwsCodeDeploy(stubbed.apis, self.ecs, clock=lambda: CLOCK)
        reads = FakeReads()
        backend = Backend(name="aws", registry=None, ecs=self.ecs, codedeploy=self.codedeploy,
                          load_balancers=reads, alarms=reads)
        self.releases = ReleaseService({"aws": backend}, store or ReleaseStore(":memory:"), poll_seconds=0.001)
        self.heard: list[str] = []

    def wait(self, release_id: str) -> Any:
        return self.releases.wait(release_id, cancel=threading.Event(), timeout=30, progress=self.heard.append)


def request(service: ServiceSpec, **extra: Any) -> DeployRequest:
    return DeployRequest("production", "orders", service, taskdef=TASKDEF, creator="CodePipeline", key=KEY, **extra)


def expect_key_lookup(cd: Any, found: list[dict[str, Any]] | None = None) -> None:
    """What create_deployment reads first: the group's deployments in flight and of the last week."""
    ids = [i["deploymentId"] for i in found or []]
    add(cd, "ListDeployments", {"deployments": ids}, {
        "applicationName": APP, "deploymentGroupName": GROUP, "includeOnlyStatuses": IN_FLIGHT})
    add(cd, "ListDeployments", {"deployments": ids}, {
        "applicationName": APP, "deploymentGroupName": GROUP,
        "createTimeRange": {"start": dt.datetime.fromtimestamp(CLOCK - KEY_WINDOW, dt.timezone.utc)}})
    if ids:
        add(cd, "BatchGetDeployments", {"deploymentsInfo": found}, {"deploymentIds": ids})


def expect_create(cd: Any, task_definition: str = "orders:1") -> None:
    add(cd, "CreateDeployment", {"deploymentId": DEP}, {
        "applicationName": APP, "deploymentGroupName": GROUP,
        "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": default_appspec(task_definition)}},
        "description": f"Conveyor: {task_definition} (CodePipeline) {key_marker(KEY)}"})


def default_appspec(task_definition: str) -> str:
    return ("version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n"
            f"        TaskDefinition: {td_arn(task_definition)}\n        LoadBalancerInfo:\n"
            "          ContainerName: api\n          ContainerPort: 8080\n")


def expect_get(cd: Any, deployment: dict[str, Any], ecs_target: dict[str, Any] | None = None, *,
               list_targets: bool = False) -> None:
    add(cd, "GetDeployment", {"deploymentInfo": deployment}, {"deploymentId": deployment["deploymentId"]})
    if list_targets:
        add(cd, "ListDeploymentTargets", {"targetIds": [f"{CLUSTER}:orders"]},
                        {"deploymentId": deployment["deploymentId"]})
    if ecs_target is not None:
        add(cd, "GetDeploymentTarget", {"deploymentTarget": {"deploymentTargetType": "ECSTarget",
                                                                      "ecsTarget": ecs_target}},
                        {"deploymentId": deployment["deploymentId"], "targetId": f"{CLUSTER}:orders"})


def mine(task_definition: str = "orders:1", **kw: Any) -> dict[str, Any]:
    return info(DEP, task_definition=task_definition,
                description=f"Conveyor: {task_definition} (CodePipeline) {key_marker(KEY)}", **kw)


def test_a_blue_green_release_succeeds_and_wait_hears_every_phase(stubbed, aws_log):
    aws = Aws(stubbed)
    cd = stubbed("codedeploy")
    expect_key_lookup(cd)
    expect_create(cd)
    expect_get(cd, mine(status="Created"))
    release = aws.releases.deploy(request(spec()))
    assert (release.id, release.deployment.status, release.waiting_for) == (DEP, "Created",
                                                                           "Start: CodeDeploy is starting it")
    assert release.deployment.creator == "CodePipeline" and release.deployment.task_definition == "orders:1"

    expect_get(cd, mine(), target(DEP, done=1, running="Install", green_running=1), list_targets=True)
    expect_get(cd, mine(), target(DEP, done=4, running="AfterAllowTestTraffic"))
    expect_get(cd, mine(), target(DEP, done=6, running="AllowTraffic", green=0.0))
    expect_get(cd, mine(), target(DEP, done=6, running="AllowTraffic", green=100.0))
    expect_get(cd, mine(termination_started=True), target(DEP, done=8, green=100.0))
    expect_get(cd, mine(status="Succeeded", completed=400, termination_started=True),
               target(DEP, done=8, green=100.0, status="Succeeded"))
    final = aws.wait(DEP)

    assert (final.outcome, final.deployment.phase, final.deployment.traffic) == ("Succeeded", "End", 100)
    assert aws.heard == [
        "Install: replacement task set 1/2 tasks running in (target-group orders-prod-2)",
        "AfterAllowTestTraffic",
        "AllowTraffic: 0% of production on green (CodeDeployDefault.ECSAllAtOnce)",
        "AllowTraffic: 100% of production on green (CodeDeployDefault.ECSAllAtOnce)",
        "TerminationWait: termination wait: blue (target-group orders-prod-1) stays warm for 270 s more; "
        "`conveyor rollback` returns traffic to it at once"]
    d = final.deployment
    assert [(e.name, e.status) for e in d.lifecycle_events][-2:] == [("AllowTraffic", "Succeeded"),
                                                                     ("AfterAllowTraffic", "Succeeded")]
    assert (d.task_sets["original"].task_definition, d.task_sets["replacement"].task_definition) == (
        "orders:6", "orders:1")
    assert d.history[0].message == f"Deployment {DEP} created by CodePipeline for orders:1."
    assert d.history[-1].message == f"Deployment {DEP} succeeded."
    assert aws.releases.store.request(KEY).release_id == DEP
    # the calls one blue/green release costs: 4 to create, 2 per poll once it runs
    assert stubbed.apis.log.counts() == {"codedeploy:ListDeployments": 2, "codedeploy:CreateDeployment": 1,
                                         "codedeploy:GetDeployment": 7, "codedeploy:ListDeploymentTargets": 1,
                                         "codedeploy:GetDeploymentTarget": 6}


def test_an_alarm_stops_the_release_and_wait_returns_the_reason_and_the_rollback(stubbed, aws_log):
    aws = Aws(stubbed)
    cd = stubbed("codedeploy")
    expect_key_lookup(cd)
    expect_create(cd)
    expect_get(cd, mine(status="Created"))
    aws.releases.deploy(request(spec()))

    canary = "CodeDeployDefault.ECSCanary10Percent5Minutes"  # the group's own config
    expect_get(cd, mine(config=canary), target(DEP, done=6, running="AllowTraffic", green=10.0), list_targets=True)
    rollback = {"rollbackDeploymentId": "d-RRRRRRRR1", "rollbackMessage": "Deployment rolled back by d-RRRRRRRR1."}
    stopped = mine(config=canary, status="Stopped", completed=200, rollback=rollback,
                   error=("ALARM_ACTIVE", "One or more alarms have been activated according to the Amazon CloudWatch "
                                          "metrics you selected, and the affected deployments have been stopped. "
                                          "Activated alarms: <orders-5xx>"))
    expect_get(cd, stopped, target(DEP, done=6, failed="AllowTraffic", green=0.0, status="Failed"))
    final = aws.wait(DEP)

    assert (final.outcome, final.deployment.phase) == ("Stopped", "AllowTraffic")
    assert final.deployment.reason.startswith("ALARM_ACTIVE: One or more alarms have been activated")
    assert final.deployment.rollback_info["rollbackDeploymentId"] == "d-RRRRRRRR1"
    assert final.to_json()["rollbackInfo"] == rollback
    assert aws.heard == ["AllowTraffic: 10% of production on green (CodeDeployDefault.ECSCanary10Percent5Minutes)"]
    assert final.deployment.history[-1].message == (
        f"Deployment {DEP} stopped: ALARM_ACTIVE: {stopped['errorInformation']['message']}; rollback deployment "
        "d-RRRRRRRR1.")


def test_a_predefined_config_of_conveyor_yml_is_passed_to_create_deployment(stubbed, aws_log):
    aws = Aws(stubbed)
    cd = stubbed("codedeploy")
    expect_key_lookup(cd)
    add(cd, "CreateDeployment", {"deploymentId": DEP}, {
        "applicationName": APP, "deploymentGroupName": GROUP,
        "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": default_appspec("orders:1")}},
        "description": f"Conveyor: orders:1 (CodePipeline) {key_marker(KEY)}",
        "deploymentConfigName": "CodeDeployDefault.ECSLinear10PercentEvery1Minutes"})
    expect_get(cd, mine(status="Created"))
    aws.releases.deploy(request(spec(config="CodeDeployDefault.ECSLinear10PercentEvery1Minutes")))


def test_a_manual_rollback_in_the_termination_wait_stops_with_rollback(stubbed, aws_log):
    aws = Aws(stubbed)
    aws.ecs.declare_service(spec(), task_definition="orders:1")
    cd = stubbed("codedeploy")
    expect_key_lookup(cd)
    expect_create(cd)
    expect_get(cd, mine(status="Created"))
    aws.releases.deploy(request(spec()))
    waiting = mine(termination_started=True)
    expect_get(cd, waiting, target(DEP, done=8, green=100.0), list_targets=True)
    assert aws.releases.get(DEP).waiting_for.startswith("TerminationWait: termination wait: blue")

    add(cd, "ListDeployments", {"deployments": [DEP]}, {
        "applicationName": APP, "deploymentGroupName": GROUP, "includeOnlyStatuses": IN_FLIGHT})
    add(cd, "BatchGetDeployments", {"deploymentsInfo": [waiting]}, {"deploymentIds": [DEP]})
    add(cd, "StopDeployment", {"status": "Pending", "statusMessage": "Stopping"},
                    {"deploymentId": DEP, "autoRollbackEnabled": True})
    expect_get(cd, waiting, target(DEP, done=8, green=100.0))
    rolled = aws.releases.rollback("production", "orders", who="ana", reason="p99 up")
    assert rolled.id == DEP and not rolled.done

    rollback = {"rollbackDeploymentId": "d-RRRRRRRR1", "rollbackMessage": "Deployment rolled back by d-RRRRRRRR1."}
    expect_get(cd, mine(status="Stopped", termination_started=True, completed=300, rollback=rollback,
                        error=("MANUAL_STOP", "The deployment was stopped by the user.")),
               target(DEP, done=8, green=0.0, status="Failed"))
    final = aws.wait(DEP)
    assert (final.outcome, final.deployment.reason) == ("Stopped",
                                                        "MANUAL_STOP: The deployment was stopped by the user.")
    assert final.deployment.rollback_info["rollbackDeploymentId"] == "d-RRRRRRRR1"
    actions = [(h.who, h.message) for h in final.deployment.history if h.kind == "action"]
    assert actions == [("ana", "rollback by ana: p99 up")]
    assert aws.heard == [f"rollback by ana: p99 up (deployment {DEP})"]


def test_after_a_daemon_restart_the_same_key_finds_the_deployment_by_its_description(stubbed, aws_log):
    """The first daemon created the deployment and died before recording it; the second one
    (a new backend, the same releases.db) re-runs the request with the same key."""
    store, ecs = ReleaseStore(":memory:"), AwsEcsFake()
    first = Aws(stubbed, store, ecs)
    cd = stubbed("codedeploy")
    expect_key_lookup(cd)
    expect_create(cd)
    expect_get(cd, mine(status="Created"))
    store.intend(KEY, "production", "orders")
    revision = ecs.register_task_definition("production", TASKDEF)
    first.codedeploy.create_deployment(spec(), task_definition=revision.name, appspec=None,
                                       appspec_source="appspec.yaml", client_token=KEY, creator="CodePipeline",
                                       origin={}, workdir=None)

    second = Aws(stubbed, store, ecs)
    running = mine(termination_started=False)
    other = info("d-BBBBBBBB2", status="Succeeded", task_definition="orders:0", completed=-100,
                 description="Conveyor: orders:0 (CodePipeline) [conveyor:0000000000000000]")
    add(cd, "ListDeployments", {"deployments": [DEP]}, {
        "applicationName": APP, "deploymentGroupName": GROUP, "includeOnlyStatuses": IN_FLIGHT})
    add(cd, "ListDeployments", {"deployments": [DEP, "d-BBBBBBBB2"]}, {
        "applicationName": APP, "deploymentGroupName": GROUP,
        "createTimeRange": {"start": dt.datetime.fromtimestamp(CLOCK - KEY_WINDOW, dt.timezone.utc)}})
    add(cd, "BatchGetDeployments", {"deploymentsInfo": [other, running]},
                    {"deploymentIds": [DEP, "d-BBBBBBBB2"]})
    add(cd, "ListDeploymentTargets", {"targetIds": [f"{CLUSTER}:orders"]}, {"deploymentId": DEP})
    add(cd, "GetDeploymentTarget", {"deploymentTarget": {"deploymentTargetType": "ECSTarget",
                                                                  "ecsTarget": target(DEP, done=6,
                                                                                      running="AllowTraffic")}},
                    {"deploymentId": DEP, "targetId": f"{CLUSTER}:orders"})
    adopted = second.releases.deploy(request(spec()))
    assert (adopted.id, adopted.deployment.phase) == (DEP, "AllowTraffic")
    assert store.request(KEY).release_id == DEP

    expect_get(cd, mine(status="Succeeded", completed=400, termination_started=True),
               target(DEP, done=8, green=100.0, status="Succeeded"))
    assert second.wait(DEP).outcome == "Succeeded"
    assert stubbed.apis.log.counts()["codedeploy:CreateDeployment"] == 1


def test_a_second_release_while_one_is_in_flight_is_refused_naming_it(stubbed, aws_log):
    aws = Aws(stubbed)
    cd = stubbed("codedeploy")
    running = info("d-CCCCCCCC3", task_definition="orders:0")
    expect_key_lookup(cd, [running])
    add(cd, "ListDeploymentTargets", {"targetIds": [f"{CLUSTER}:orders"]}, {"deploymentId": "d-CCCCCCCC3"})
    add(cd, "GetDeploymentTarget", {"deploymentTarget": {
        "deploymentTargetType": "ECSTarget", "ecsTarget": target("d-CCCCCCCC3", done=6, running="AllowTraffic")}},
        {"deploymentId": "d-CCCCCCCC3", "targetId": f"{CLUSTER}:orders"})
    from conveyor.backend.errors import DeploymentLimitExceeded

    with pytest.raises(DeploymentLimitExceeded) as caught:
        aws.releases.deploy(request(spec()))
    assert str(caught.value) == "deployment d-CCCCCCCC3 is already in progress for production/orders (AllowTraffic)"
    assert caught.value.hint == "wait for it, or `conveyor deploy stop` / `conveyor rollback` it"
    assert "codedeploy:CreateDeployment" not in stubbed.apis.log.counts()


# -- ECS-native (strategy) ------------------------------------------------------------------------
CANARY = {"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 10, "canaryBakeTimeInMinutes": 5},
          "bakeTimeInMinutes": 10}
HOOKS = [{"targetType": "AWS_LAMBDA", "hookTargetArn": "arn:aws:lambda:eu-west-1:123456789012:function:smoke",
          "roleArn": "arn:aws:iam::123456789012:role/ecs-hooks", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}]


def native_service(ecs: AwsEcsFake) -> None:
    ecs.raw[("production", "orders")] = {
        "serviceName": "orders", "deploymentController": {"type": "ECS"}, "taskDefinition": td_arn("orders:6"),
        "currentServiceDeployment": sd_arn("old"),
        "deploymentConfiguration": {"strategy": "ROLLING", "maximumPercent": 200, "minimumHealthyPercent": 100,
                                    "lifecycleHooks": HOOKS}}


def expect_describe(ecs: Any, sd: dict[str, Any]) -> None:
    add(ecs, "DescribeServiceDeployments", {"serviceDeployments": [sd]},
                     {"serviceDeploymentArns": [sd["serviceDeploymentArn"]]})


def start_canary(stubbed: Any, aws: Aws) -> Any:
    native_service(aws.ecs)
    ecs = stubbed("ecs")
    expect_describe(ecs, service_deployment("old", "SUCCESSFUL", target_rev="r6", source_rev="r5", green=100.0))
    add(ecs, "UpdateService", {"service": {"serviceName": "orders", "currentServiceDeployment": sd_arn()}}, {
        "cluster": CLUSTER, "service": "orders", "taskDefinition": td_arn("orders:1"),
        "deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 100, "lifecycleHooks": HOOKS,
                                    "strategy": "CANARY", "bakeTimeInMinutes": 10,
                                    "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 5}}})
    expect_describe(ecs, service_deployment(status="PENDING"))
    add(ecs, "DescribeServiceRevisions", {"serviceRevisions": [service_revision("r6", "orders:6"),
                                                                        service_revision("r7", "orders:1")]},
                     {"serviceRevisionArns": [rev_arn("r6"), rev_arn("r7")]})
    release = aws.releases.deploy(request(spec(**CANARY)))
    assert (release.id, release.deployment.status, release.deployment.task_definition) == (sd_arn(), "Created",
                                                                                         "orders:1")
    return ecs


def test_an_ecs_native_canary_succeeds_through_its_lifecycle_stages(stubbed, aws_log):
    aws = Aws(stubbed)
    ecs = start_canary(stubbed, aws)
    expect_describe(ecs, service_deployment(stage="SCALE_UP", green_running=1))
    expect_describe(ecs, service_deployment(stage="PRODUCTION_TRAFFIC_SHIFT", green=10.0))
    expect_describe(ecs, service_deployment(stage="BAKE_TIME", green=100.0))
    expect_describe(ecs, service_deployment(status="SUCCESSFUL", stage="CLEAN_UP", green=100.0, finished=900))
    final = aws.wait(sd_arn())

    assert (final.outcome, final.deployment.phase, final.deployment.traffic) == ("Succeeded", "End", 100)
    assert aws.heard == [
        "SCALE_UP: green revision 1/2 tasks running",
        "PRODUCTION_TRAFFIC_SHIFT: 10% of production on green (CANARY)",
        "BAKE_TIME: bake time: blue stays up for 10 min after the shift; `conveyor rollback` returns traffic to it "
        "at once"]
    sets = final.deployment.task_sets
    assert (sets["original"].task_definition, sets["replacement"].task_definition) == ("orders:6", "orders:1")
    assert stubbed.apis.log.counts() == {"ecs:DescribeServiceDeployments": 6, "ecs:UpdateService": 1,
                                         "ecs:DescribeServiceRevisions": 1}


def test_an_alarm_rolls_an_ecs_native_canary_back(stubbed, aws_log):
    aws = Aws(stubbed)
    ecs = start_canary(stubbed, aws)
    rollback = {"reason": "Alarm orders-5xx in ALARM", "startedAt": now(200), "serviceRevisionArn": rev_arn("r6")}
    alarms = {"status": "TRIGGERED", "alarmNames": ["orders-5xx"], "triggeredAlarmNames": ["orders-5xx"]}
    expect_describe(ecs, service_deployment(status="ROLLBACK_IN_PROGRESS", stage="PRODUCTION_TRAFFIC_SHIFT", green=10.0,
                                            rollback=rollback, alarms=alarms))
    expect_describe(ecs, service_deployment(status="ROLLBACK_SUCCESSFUL", stage="CLEAN_UP", green=0.0,
                                            rollback=rollback, alarms=alarms, finished=260))
    final = aws.wait(sd_arn())
    assert (final.outcome, final.deployment.reason) == ("Stopped", "ALARM_ACTIVE: alarm orders-5xx went into ALARM")
    assert final.deployment.rollback_info["rollbackMessage"] == "Alarm orders-5xx in ALARM"
    assert aws.heard == ["PRODUCTION_TRAFFIC_SHIFT: rolling back: Alarm orders-5xx in ALARM"]


def test_an_ecs_native_deployment_with_appspec_hooks_is_refused(stubbed, aws_log):
    aws = Aws(stubbed)
    native_service(aws.ecs)
    from conveyor.errors import UserError

    text = appspec("orders:1", {"AfterAllowTestTraffic": "smoke"}).replace(td_arn("orders:1"), "<TASK_DEFINITION>")
    with pytest.raises(UserError, match=r"appspec.yaml: Hooks \(AfterAllowTestTraffic\) are CodeDeploy hooks"):
        aws.releases.deploy(request(spec(**CANARY), appspec=text))
