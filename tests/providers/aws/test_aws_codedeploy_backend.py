"""AwsCodeDeploy call by call (botocore's Stubber, every request validated against the model): what
each method asks AWS, how AWS's refusals read, and people's actions in the journal."""

from __future__ import annotations

from typing import Any

import pytest
from aws_codedeploy_fixtures import (
    APP,
    CLUSTER,
    GROUP,
    IN_FLIGHT,
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
from botocore import xform_name
from botocore.stub import ANY

from conveyor.backend.errors import DeploymentLimitExceeded, DeploymentNotReady
from conveyor.backend.types import HistoryEntry
from conveyor.errors import NotFound, UserError
from conveyor.providers.aws.codedeploy import AwsCodeDeploy
from conveyor.providers.aws.codedeploy_journal import MemoryJournal

DEP = "d-AAAAAAAA1"


@pytest.fixture
def ecs() -> AwsEcsFake:
    return AwsEcsFake()


@pytest.fixture
def cd(stubbed: Any, ecs: AwsEcsFake) -> AwsCodeDeploy:
    return AwsCodeDeploy(stubbed.apis, ecs, journal=MemoryJournal(clock=lambda: now(100)), clock=lambda: now(120))


def in_flight(stub: Any, *infos: dict[str, Any]) -> None:
    ids = [i["deploymentId"] for i in infos]
    add(stub, "ListDeployments", {"deployments": ids},
        {"applicationName": APP, "deploymentGroupName": GROUP, "includeOnlyStatuses": IN_FLIGHT})
    if ids:
        add(stub, "BatchGetDeployments", {"deploymentsInfo": list(infos)}, {"deploymentIds": ids})


def get(stub: Any, deployment: dict[str, Any], ecs_target: dict[str, Any] | None = None, *,
        list_targets: bool = True) -> None:
    """GetDeployment, then (unless the deployment has not started) its target: none yet when
    ecs_target is None."""
    dep_id = deployment["deploymentId"]
    add(stub, "GetDeployment", {"deploymentInfo": deployment}, {"deploymentId": dep_id})
    if not list_targets or deployment["status"] in ("Created", "Queued"):
        return
    add(stub, "ListDeploymentTargets", {"targetIds": [f"{CLUSTER}:orders"] if ecs_target else []},
        {"deploymentId": dep_id})
    if ecs_target is not None:
        add(stub, "GetDeploymentTarget", {"deploymentTarget": {"deploymentTargetType": "ECSTarget",
                                                               "ecsTarget": ecs_target}},
            {"deploymentId": dep_id, "targetId": f"{CLUSTER}:orders"})


def create(cd: AwsCodeDeploy, **kw: Any) -> Any:
    return cd.create_deployment(kw.pop("service", spec()), task_definition="orders:7", appspec=kw.pop("appspec", None),
                                appspec_source="appspec.yaml", client_token=kw.pop("key", None),
                                creator="user", origin={"via": "test"}, workdir=None)


# -- creating -------------------------------------------------------------------------------------
def test_a_missing_application_is_named_with_what_to_do(stubbed, cd, aws_log):
    stub = stubbed("codedeploy")
    stub.add_client_error(xform_name("CreateDeployment"), "ApplicationDoesNotExistException",
                          "No application found for name: orders")
    with pytest.raises(NotFound) as caught:
        create(cd)
    assert str(caught.value) == ("CodeDeploy application 'orders' does not exist in eu-west-1 (environment "
                                 "production: CodeDeploy application 'orders', deployment group 'orders')")
    assert caught.value.hint.startswith("Conveyor does not create AWS resources")


def test_a_missing_group_is_named_too(stubbed, cd, aws_log):
    stub = stubbed("codedeploy")
    stub.add_client_error(xform_name("ListDeployments"), "DeploymentGroupDoesNotExistException",
                          "No deployment group found for name: orders")
    with pytest.raises(NotFound, match="^deployment group 'orders' of CodeDeploy application 'orders' does not "):
        create(cd, key="k-1")


def test_aws_refusing_a_second_deployment_is_said_with_the_one_in_flight(stubbed, cd, aws_log):
    stub = stubbed("codedeploy")
    stub.add_client_error(xform_name("CreateDeployment"), "DeploymentLimitExceededException",
                          "The Deployment Group 'orders' already has an active Deployment 'd-CCCCCCCC3'")
    running = info("d-CCCCCCCC3", status="Ready", task_definition="orders:6")
    in_flight(stub, running)
    add(stub, "ListDeploymentTargets", {"targetIds": []}, {"deploymentId": "d-CCCCCCCC3"})
    with pytest.raises(DeploymentLimitExceeded, match=r"^deployment d-CCCCCCCC3 is already in progress for "
                                                      r"production/orders \(ReadyWait\)$"):
        create(cd)


def test_the_origin_is_kept_with_the_deployment_this_process_created(stubbed, cd, aws_log):
    stub = stubbed("codedeploy")
    add(stub, "CreateDeployment", {"deploymentId": DEP}, {
        "applicationName": APP, "deploymentGroupName": GROUP, "description": "Conveyor: orders:7 (user)",
        "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": appspec("orders:7")}}})
    get(stub, info(DEP, status="Created"))
    assert create(cd).origin == {"via": "test"}


def test_a_rolling_service_is_not_deployed_blue_green(cd):
    from conveyor.deploy.spec import ServiceSpec

    with pytest.raises(UserError, match="service orders in production uses the ECS controller"):
        create(cd, service=ServiceSpec.from_config("production", "orders", {}, target="aws"))


# -- reading --------------------------------------------------------------------------------------
def test_a_deployment_made_before_a_restart_is_found_in_its_environment(stubbed, ecs, aws_log):
    """production and staging share a region and credentials: one GetDeployment finds it, and its
    application (orders) says which environment it belongs to."""
    fresh = AwsCodeDeploy(stubbed.apis, ecs, clock=lambda: now(120))
    stub = stubbed("codedeploy")
    get(stub, info(DEP, status="Succeeded", completed=400), target(DEP, done=8, green=100.0, status="Succeeded"))
    d = fresh.get_deployment(DEP)
    assert (d.environment, d.service, d.status) == ("production", "orders", "Succeeded")
    get(stub, info(DEP, status="Succeeded", completed=400), list_targets=False)  # ended: its target is not read again
    assert fresh.get_deployment(DEP).lifecycle_events == d.lifecycle_events


def test_an_unknown_deployment_is_not_found(stubbed, cd, aws_log):
    stub = stubbed("codedeploy")
    stub.add_client_error(xform_name("GetDeployment"), "DeploymentDoesNotExistException", "no such deployment")
    with pytest.raises(NotFound, match="^no deployment d-ZZZZZZZZ9$"):
        cd.get_deployment("d-ZZZZZZZZ9")
    with pytest.raises(NotFound, match="^no deployment ecs-svc/123$"):
        cd.get_deployment("ecs-svc/123")  # neither a CodeDeploy id nor a service deployment ARN: no call
    assert stubbed.apis.log.counts() == {"codedeploy:GetDeployment": 1}


def test_another_applications_deployment_is_not_ours(stubbed, cd, aws_log):
    stub = stubbed("codedeploy")
    get(stub, {**info(DEP), "applicationName": "billing"}, list_targets=False)
    with pytest.raises(NotFound):
        cd.get_deployment(DEP)


def test_the_groups_deployments_are_listed_newest_first_with_events_for_the_newest(stubbed, cd, aws_log):
    stub = stubbed("codedeploy")
    old = {**info("d-OOOOOOOO1", status="Succeeded", task_definition="orders:5", completed=50),
           "createTime": info()["createTime"].replace(year=2026, month=11)}
    new = info(DEP, status="InProgress")
    add(stub, "ListDeployments", {"deployments": ["d-OOOOOOOO1", DEP]}, {
        "applicationName": APP, "deploymentGroupName": GROUP, "createTimeRange": {"start": ANY}})
    add(stub, "BatchGetDeployments", {"deploymentsInfo": [old, new]}, {"deploymentIds": ["d-OOOOOOOO1", DEP]})
    add(stub, "ListDeploymentTargets", {"targetIds": [f"{CLUSTER}:orders"]}, {"deploymentId": DEP})
    add(stub, "GetDeploymentTarget", {"deploymentTarget": {"deploymentTargetType": "ECSTarget",
                                                           "ecsTarget": target(DEP, done=1, running="Install")}},
        {"deploymentId": DEP, "targetId": f"{CLUSTER}:orders"})
    listed = cd.list_deployments("production", "orders")
    assert [(d.id, d.phase) for d in listed] == [(DEP, "Install"), ("d-OOOOOOOO1", "End")]


# -- people acting on it --------------------------------------------------------------------------
@pytest.mark.parametrize("deployment,wait_type", [
    (info(DEP, status="Ready", ready_wait=60), "READY_WAIT"),
    (info(DEP, termination_started=True), "TERMINATION_WAIT"),
])
def test_continue_ends_the_wait_the_deployment_is_in(stubbed, cd, aws_log, deployment, wait_type):
    stub = stubbed("codedeploy")
    in_flight(stub, deployment)
    add(stub, "ContinueDeployment", {}, {"deploymentId": DEP, "deploymentWaitType": wait_type})
    get(stub, info(DEP))
    d = cd.continue_deployment("production", "orders", who="ana", reason="looks good")
    assert [h.message for h in d.history if h.kind == "action"] == [f"continue ({wait_type}) by ana: looks good"]


def test_continue_outside_a_wait_is_refused_with_the_phase(stubbed, cd, aws_log):
    stub = stubbed("codedeploy")
    in_flight(stub, info(DEP))
    add(stub, "ListDeploymentTargets", {"targetIds": [f"{CLUSTER}:orders"]}, {"deploymentId": DEP})
    add(stub, "GetDeploymentTarget", {"deploymentTarget": {"deploymentTargetType": "ECSTarget",
                                                           "ecsTarget": target(DEP, done=6, running="AllowTraffic")}},
        {"deploymentId": DEP, "targetId": f"{CLUSTER}:orders"})
    with pytest.raises(DeploymentNotReady) as caught:
        cd.continue_deployment("production", "orders", who="ana", reason="")
    assert str(caught.value) == f"deployment {DEP} is in AllowTraffic, not waiting"
    assert "codedeploy:ContinueDeployment" not in stubbed.apis.log.counts()


def test_nothing_in_flight_is_nothing_to_continue(stubbed, cd, aws_log):
    in_flight(stubbed("codedeploy"))
    with pytest.raises(DeploymentNotReady, match="^no deployment in progress for production/orders$"):
        cd.continue_deployment("production", "orders", who="ana", reason="")


@pytest.mark.parametrize("events,expected", [
    (["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"], True),
    (["DEPLOYMENT_FAILURE"], False),
])
def test_stop_without_a_choice_follows_the_groups_stop_on_request(stubbed, cd, aws_log, events, expected):
    stub = stubbed("codedeploy")
    in_flight(stub, info(DEP))
    add(stub, "GetDeploymentGroup", {"deploymentGroupInfo": {
        "applicationName": APP, "deploymentGroupName": GROUP,
        "autoRollbackConfiguration": {"enabled": True, "events": events}}},
        {"applicationName": APP, "deploymentGroupName": GROUP})
    add(stub, "StopDeployment", {"status": "Pending"}, {"deploymentId": DEP, "autoRollbackEnabled": expected})
    get(stub, info(DEP, status="Stopped", completed=130, error=("MANUAL_STOP", "stopped")))
    d = cd.stop_deployment("production", "orders", who="ana", reason="wrong image", rollback=None)
    action = "stop with rollback" if expected else "stop without rollback"
    assert [h for h in d.history if h.kind == "action"] == [
        HistoryEntry(now(100), "action", f"{action} by ana: wrong image", "ana")]


def test_promote_says_what_to_do_instead(stubbed, cd, aws_log):
    stub = stubbed("codedeploy")
    in_flight(stub, info(DEP, config="CodeDeployDefault.ECSLinear10PercentEvery3Minutes"))
    add(stub, "ListDeploymentTargets", {"targetIds": []}, {"deploymentId": DEP})
    with pytest.raises(UserError) as caught:
        cd.promote("production", "orders", who="ana", reason="")
    assert str(caught.value) == (f"CodeDeploy shifts traffic only as deployment {DEP}'s config "
                                 "CodeDeployDefault.ECSLinear10PercentEvery3Minutes says and has no call to skip its "
                                 "steps (it is in Start)")
    assert caught.value.hint.startswith("`conveyor deploy continue` ends a ready wait")


def test_rollback_after_the_end_deploys_the_previous_revisions_appspec_again(stubbed, cd, aws_log):
    stub = stubbed("codedeploy")
    in_flight(stub)
    latest = info("d-LLLLLLLL7", status="Succeeded", task_definition="orders:7", completed=100)
    failed_between = info("d-FFFFFFFF6", status="Succeeded", task_definition="orders:7", completed=50)
    previous = {**info("d-PPPPPPPP6", status="Succeeded", task_definition="orders:6", completed=20, content=False),
                "createTime": latest["createTime"].replace(day=1, hour=1)}
    failed_between["createTime"] = latest["createTime"].replace(day=1, hour=2)
    ids = ["d-LLLLLLLL7", "d-FFFFFFFF6", "d-PPPPPPPP6"]
    add(stub, "ListDeployments", {"deployments": ids}, {
        "applicationName": APP, "deploymentGroupName": GROUP, "includeOnlyStatuses": ["Succeeded"]})
    add(stub, "BatchGetDeployments", {"deploymentsInfo": [previous, latest, failed_between]}, {"deploymentIds": ids})
    add(stub, "GetApplicationRevision", {"applicationName": APP, "revision": {
        "revisionType": "AppSpecContent", "appSpecContent": {"content": appspec("orders:6")}}},
        {"applicationName": APP, "revision": previous["revision"]})
    add(stub, "CreateDeployment", {"deploymentId": "d-RRRRRRRR8"}, {
        "applicationName": APP, "deploymentGroupName": GROUP,
        "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": appspec("orders:6")}},
        "description": "Conveyor: orders:6 (codeDeployRollback)"})
    get(stub, info("d-RRRRRRRR8", status="Created", task_definition="orders:6",
                   description="Conveyor: orders:6 (codeDeployRollback)"))
    d = cd.roll_back("production", "orders", who="ana", reason="p99")
    assert (d.id, d.task_definition, d.creator, d.has_appspec) == ("d-RRRRRRRR8", "orders:6", "codeDeployRollback",
                                                                   True)
    assert d.origin == {"rollbackOf": "d-LLLLLLLL7", "by": "ana"}
    assert d.history[-1].message == "rollback: redeploy orders:6 (blue is no longer running) by ana: p99"


def test_rollback_of_a_service_that_ran_one_revision_is_refused(stubbed, cd, aws_log):
    stub = stubbed("codedeploy")
    in_flight(stub)
    only = info("d-LLLLLLLL7", status="Succeeded", completed=100)
    add(stub, "ListDeployments", {"deployments": ["d-LLLLLLLL7"]}, {
        "applicationName": APP, "deploymentGroupName": GROUP, "includeOnlyStatuses": ["Succeeded"]})
    add(stub, "BatchGetDeployments", {"deploymentsInfo": [only]}, {"deploymentIds": ["d-LLLLLLLL7"]})
    with pytest.raises(UserError, match="^production/orders has no earlier revision to roll back to$"):
        cd.roll_back("production", "orders", who="ana", reason="")


def test_a_hook_reports_its_final_status(stubbed, cd, aws_log):
    stub = stubbed("codedeploy")
    get(stub, info(DEP), list_targets=False)  # locating the deployment: this process did not create it
    add(stub, "PutLifecycleEventHookExecutionStatus", {"lifecycleEventHookExecutionId": "exec-1"},
        {"deploymentId": DEP, "lifecycleEventHookExecutionId": "exec-1", "status": "Succeeded"})
    assert cd.put_lifecycle_event_hook_execution_status(DEP, "exec-1", "Succeeded") == "exec-1"
    with pytest.raises(UserError, match="^status 'InProgress' is not Succeeded or Failed$"):
        cd.put_lifecycle_event_hook_execution_status(DEP, "exec-1", "InProgress")


def test_an_ecs_native_deployment_takes_no_hook_status(cd):
    with pytest.raises(UserError, match="is ECS-native: its lifecycle hooks answer ECS"):
        cd.put_lifecycle_event_hook_execution_status(sd_arn(), "exec-1", "Succeeded")


def test_a_rollback_while_codedeploy_rolls_back_already_is_that_rollback(stubbed, cd, aws_log):
    stub = stubbed("codedeploy")
    rolling_back = info("d-RRRRRRRR1", creator="codeDeployRollback", description="")
    in_flight(stub, rolling_back)
    add(stub, "ListDeploymentTargets", {"targetIds": []}, {"deploymentId": "d-RRRRRRRR1"})
    d = cd.roll_back("production", "orders", who="ana", reason="")
    assert (d.id, d.has_appspec) == ("d-RRRRRRRR1", False)
    assert "codedeploy:StopDeployment" not in stubbed.apis.log.counts()


class RecordingJournal:
    """A persistent journal stands in here: the backend only records and reads through it."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []

    def record(self, deployment_id: str, who: str, action: str, reason: str) -> None:
        self.rows.append((deployment_id, who, action, reason))

    def entries(self, deployment_id: str) -> list[HistoryEntry]:
        return [HistoryEntry(now(99), "action", f"{a} by {w}", w) for d, w, a, _ in self.rows if d == deployment_id]


def test_actions_go_to_the_journal_it_is_given(stubbed, ecs, aws_log):
    journal = RecordingJournal()
    cd = AwsCodeDeploy(stubbed.apis, ecs, journal=journal, clock=lambda: now(120))
    stub = stubbed("codedeploy")
    in_flight(stub, info(DEP))
    add(stub, "StopDeployment", {"status": "Succeeded"}, {"deploymentId": DEP, "autoRollbackEnabled": False})
    get(stub, info(DEP, status="Stopped", completed=130))
    d = cd.stop_deployment("production", "orders", who="ana", reason="oops", rollback=False)
    assert journal.rows == [(DEP, "ana", "stop without rollback", "oops")]
    assert [h.message for h in d.history if h.kind == "action"] == ["stop without rollback by ana"]


# -- ECS-native -----------------------------------------------------------------------------------
def native(ecs: AwsEcsFake, current: str = "new", task_definition: str = "orders:7") -> None:
    ecs.raw[("production", "orders")] = {
        "serviceName": "orders", "deploymentController": {"type": "ECS"}, "taskDefinition": td_arn(task_definition),
        "currentServiceDeployment": sd_arn(current), "deploymentConfiguration": {"strategy": "CANARY"}}


def describe(stub: Any, sd: dict[str, Any]) -> None:
    add(stub, "DescribeServiceDeployments", {"serviceDeployments": [sd]},
        {"serviceDeploymentArns": [sd["serviceDeploymentArn"]]})


def revisions(stub: Any) -> None:
    add(stub, "DescribeServiceRevisions", {"serviceRevisions": [service_revision("r6", "orders:6"),
                                                                service_revision("r7", "orders:7")]},
        {"serviceRevisionArns": [rev_arn("r6"), rev_arn("r7")]})


PAUSED = [{"hookId": "h-9", "targetType": "PAUSE", "status": "AWAITING_ACTION"}]


def test_continue_resolves_the_pause_hook_of_an_ecs_native_deployment(stubbed, cd, ecs, aws_log):
    native(ecs)
    stub = stubbed("ecs")
    describe(stub, service_deployment(stage="POST_TEST_TRAFFIC_SHIFT", hooks=PAUSED))
    add(stub, "ContinueServiceDeployment", {"serviceDeploymentArn": sd_arn()},
        {"serviceDeploymentArn": sd_arn(), "hookId": "h-9", "action": "CONTINUE"})
    describe(stub, service_deployment(stage="PRODUCTION_TRAFFIC_SHIFT", green=10.0))
    revisions(stub)
    d = cd.continue_deployment("production", "orders", who="ana", reason="test traffic fine")
    assert (d.phase, d.traffic) == ("PRODUCTION_TRAFFIC_SHIFT", 10)
    assert [h.message for h in d.history] == ["continue (PAUSE hook) by ana: test traffic fine"]


def test_an_ecs_native_deployment_not_paused_cannot_be_continued(stubbed, cd, ecs, aws_log):
    native(ecs)
    describe(stubbed("ecs"), service_deployment(stage="BAKE_TIME", green=100.0))
    with pytest.raises(DeploymentNotReady, match=f"^service deployment {sd_arn()} is in BAKE_TIME, not paused"):
        cd.continue_deployment("production", "orders", who="ana", reason="")


def test_ecs_stops_a_service_deployment_only_by_rolling_it_back(stubbed, cd, ecs, aws_log):
    native(ecs)
    stub = stubbed("ecs")
    describe(stub, service_deployment(stage="BAKE_TIME", green=100.0))
    with pytest.raises(UserError, match="only by rolling it back"):
        cd.stop_deployment("production", "orders", who="ana", reason="", rollback=False)
    describe(stub, service_deployment(stage="BAKE_TIME", green=100.0))
    add(stub, "StopServiceDeployment", {"serviceDeploymentArn": sd_arn()},
        {"serviceDeploymentArn": sd_arn(), "stopType": "ROLLBACK"})
    describe(stub, service_deployment(status="ROLLBACK_IN_PROGRESS", stage="BAKE_TIME", green=100.0))
    revisions(stub)
    d = cd.stop_deployment("production", "orders", who="ana", reason="p99", rollback=None)
    assert (d.outcome, d.waiting) == ("InProgress", "rolling back")


def test_an_ecs_native_rollback_after_the_end_updates_to_the_revision_before(stubbed, cd, ecs, aws_log):
    native(ecs)
    stub = stubbed("ecs")
    describe(stub, service_deployment(status="SUCCESSFUL", stage="CLEAN_UP", green=100.0))
    add(stub, "ListServiceDeployments", {"serviceDeployments": [{"serviceDeploymentArn": sd_arn()}]},
        {"cluster": CLUSTER, "service": "orders", "status": ["SUCCESSFUL"], "maxResults": 20})
    describe(stub, service_deployment(status="SUCCESSFUL", stage="CLEAN_UP", green=100.0))
    add(stub, "DescribeServiceRevisions", {"serviceRevisions": [service_revision("r6", "orders:6")]},
        {"serviceRevisionArns": [rev_arn("r6")]})
    add(stub, "UpdateService", {"service": {"serviceName": "orders", "currentServiceDeployment": sd_arn("back")}},
        {"cluster": CLUSTER, "service": "orders", "taskDefinition": td_arn("orders:6")})
    describe(stub, service_deployment("back", status="PENDING", target_rev="r6", source_rev="r7"))
    add(stub, "DescribeServiceRevisions", {"serviceRevisions": [service_revision("r7", "orders:7")]},
        {"serviceRevisionArns": [rev_arn("r7")]})
    d = cd.roll_back("production", "orders", who="ana", reason="p99")
    assert (d.id, d.task_definition, d.creator) == (sd_arn("back"), "orders:6", "codeDeployRollback")
    assert d.history[-1].message == "rollback: redeploy orders:6 (blue is no longer running) by ana: p99"


def test_an_ecs_native_deployment_in_flight_refuses_another_revision_and_adopts_its_own(stubbed, cd, ecs, aws_log):
    native(ecs, task_definition="orders:6")
    stub = stubbed("ecs")
    describe(stub, service_deployment(stage="BAKE_TIME", green=100.0))
    with pytest.raises(DeploymentLimitExceeded, match=r"is already in progress for production/orders \(BAKE_TIME\)"):
        create(cd, service=spec(strategy="BLUE_GREEN", bakeTimeInMinutes=5))
    native(ecs, task_definition="orders:7")
    describe(stub, service_deployment(stage="BAKE_TIME", green=100.0))
    revisions(stub)
    d = create(cd, service=spec(strategy="BLUE_GREEN", bakeTimeInMinutes=5))
    assert (d.id, d.phase) == (sd_arn(), "BAKE_TIME")
    assert "ecs:UpdateService" not in stubbed.apis.log.counts()
