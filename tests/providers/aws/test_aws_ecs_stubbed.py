"""AwsEcs where ECS's behaviour matters and moto does not model it, with botocore's Stubber:
deployments ECS stops listing, a FAILED revision deployed again, container logs, the rollback
target without service deployment records, tasks and unhealthy targets."""

from __future__ import annotations

import pytest
from aws_ecs_support import (
    ACCOUNT,
    CLUSTER,
    REGION,
    at,
    deployment,
    describe_services,
    service,
    steady,
    task_definition,
    td_arn,
)

from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import NotFound, UserError
from conveyor.providers.aws.ecs import AwsEcs

SERVICE = {"cluster": CLUSTER, "services": ["orders"]}
TG = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/production-orders/73e2d6bc24d8a067"
LB = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/orders/50dc6c495c0c9188"


@pytest.fixture
def stub(stubbed):
    return stubbed("ecs")


@pytest.fixture
def ecs(stubbed):
    return AwsEcs(stubbed.apis)


def task(ident: str, taskdef: str, started_by: str, **extra) -> dict:
    return {"taskArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{CLUSTER}/{ident}", "taskDefinitionArn": td_arn(taskdef),
            "startedBy": started_by, "lastStatus": "RUNNING", "desiredStatus": "RUNNING", "healthStatus": "UNKNOWN",
            "createdAt": at(0), "startedAt": at(5),
            "containers": [{"name": "api", "networkBindings": [{"hostPort": 32768, "containerPort": 8080}]}], **extra}


def test_a_deployment_ecs_no_longer_lists_is_inactive_with_its_last_rollout_state(ecs, stub):
    rolling = service([deployment("ecs-svc/2", "orders:2", rollout="COMPLETED", running=2, updated=90),
                       deployment("ecs-svc/1", "orders:1", status="ACTIVE", rollout="COMPLETED", created=-600)])
    stub.add_response("describe_services", describe_services(rolling), SERVICE)
    assert ecs.describe_deployment("production", "orders", "ecs-svc/1").status == "ACTIVE"
    stub.add_response("describe_services", describe_services(steady("orders:2", "ecs-svc/2")), SERVICE)
    gone = ecs.describe_deployment("production", "orders", "ecs-svc/1")
    assert (gone.status, gone.rollout_state, gone.outcome, gone.task_definition) == (
        "INACTIVE", "COMPLETED", "Succeeded", "orders:1")
    stub.add_response("describe_services", describe_services(steady("orders:2", "ecs-svc/2")), SERVICE)
    with pytest.raises(NotFound, match="no deployment ecs-svc/0 of production/orders"):
        ecs.describe_deployment("production", "orders", "ecs-svc/0")


def test_a_deployment_replaced_before_it_completed_is_stopped_once_ecs_drops_it(ecs, stub):
    stub.add_response("describe_services", describe_services(service([deployment("ecs-svc/2", "orders:2")])), SERVICE)
    assert ecs.describe_deployment("production", "orders", "ecs-svc/2").outcome == "InProgress"
    stub.add_response("describe_services", describe_services(steady("orders:3", "ecs-svc/3")), SERVICE)
    assert ecs.describe_deployment("production", "orders", "ecs-svc/2").outcome == "Stopped"


def test_updating_to_the_revision_that_runs_starts_nothing_unless_it_failed(ecs, stub):
    spec = ServiceSpec.from_config("production", "orders", {"desiredCount": 2}, target="aws")
    stub.add_response("describe_services", describe_services(steady("orders:2", "ecs-svc/2")), SERVICE)
    adopted = ecs.update_service(spec, task_definition="orders:2", client_token="k", origin={})
    assert (adopted.id, adopted.outcome) == ("ecs-svc/2", "Succeeded")
    failed = service([deployment("ecs-svc/2", "orders:2", rollout="FAILED", failed=3, reason="circuit breaker")])
    stub.add_response("describe_services", describe_services(failed), SERVICE)
    again = service([deployment("ecs-svc/3", "orders:2", pending=2, created=100),
                     deployment("ecs-svc/2", "orders:2", status="ACTIVE", rollout="FAILED")])
    stub.add_response("update_service", {"service": again}, {
        "cluster": CLUSTER, "service": "orders", "taskDefinition": "orders:2", "forceNewDeployment": True,
        "deploymentConfiguration": {"minimumHealthyPercent": 100, "maximumPercent": 200,
                                    "deploymentCircuitBreaker": {"enable": False, "rollback": False}}})
    redeployed = ecs.update_service(spec, task_definition="orders:2", client_token="k2", origin={"by": "ana"})
    assert (redeployed.id, redeployed.origin) == ("ecs-svc/3", {"by": "ana"})


def test_a_rolling_spec_is_refused_for_another_controller_before_anything_is_asked(ecs):
    spec = ServiceSpec.from_config("production", "orders", {"deployment": {"controller": "CODE_DEPLOY"}}, target="aws")
    with pytest.raises(UserError, match="uses the CODE_DEPLOY deployment controller"):
        ecs.update_service(spec, task_definition="orders:2", client_token=None, origin={})


def test_logs_are_read_from_cloudwatch_logs_where_awslogs_sends_them(ecs, stub, stubbed):
    logs = stubbed("logs")
    stub.add_response("describe_services", describe_services(steady()), SERVICE)
    stub.add_response("list_tasks", {"taskArns": [task("t1", "orders:1", "ecs-svc/1")["taskArn"]]},
                      {"cluster": CLUSTER, "serviceName": "orders", "desiredStatus": "RUNNING"})
    stub.add_response("describe_tasks", {"tasks": [task("t1", "orders:1", "ecs-svc/1")], "failures": []})
    body = task_definition("orders:1", "orders:v1")
    api = body["taskDefinition"]["containerDefinitions"][0]
    api["logConfiguration"] = {"logDriver": "awslogs", "options": {
        "awslogs-group": "/ecs/orders", "awslogs-region": REGION, "awslogs-stream-prefix": "ecs"}}
    body["taskDefinition"]["containerDefinitions"] += [
        {"name": "proxy", "image": "envoy", "logConfiguration": {"logDriver": "splunk"}},
        {"name": "worker", "image": "w", "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": "/ecs/orders", "awslogs-stream-prefix": "ecs"}}}]
    stub.add_response("describe_task_definition", body, {"taskDefinition": td_arn("orders:1")})
    logs.add_response("get_log_events", {"events": [{"timestamp": 1, "message": "started\n"},
                                                    {"timestamp": 2, "message": "GET / 200"}]},
                      {"logGroupName": "/ecs/orders", "logStreamName": "ecs/api/t1", "limit": 50,
                       "startFromHead": False})
    logs.add_client_error("get_log_events", service_error_code="ResourceNotFoundException",
                          service_message="The specified log stream does not exist.")
    out = {c.container: c.text for c in ecs.service_logs("production", "orders", 50)}
    assert out == {"api": "started\nGET / 200",
                   "proxy": "this container logs with the splunk driver; Conveyor reads awslogs (CloudWatch Logs) "
                            "only",
                   "worker": "no log stream ecs/worker/t1 in CloudWatch Logs group /ecs/orders (yet)"}


def test_without_service_deployment_records_a_rollback_goes_to_the_previous_revision(ecs, stub):
    stub.add_response("describe_services", describe_services(steady("orders:5", "ecs-svc/5")), SERVICE)
    stub.add_response("list_service_deployments", {"serviceDeployments": []})
    stub.add_response("list_task_definitions", {"taskDefinitionArns": [td_arn(f"orders:{n}") for n in (5, 3, 2)]},
                      {"familyPrefix": "orders", "status": "ACTIVE", "sort": "DESC"})
    back = service([deployment("ecs-svc/6", "orders:3", pending=2)])
    stub.add_response("update_service", {"service": back},
                      {"cluster": CLUSTER, "service": "orders", "taskDefinition": "orders:3"})
    d = ecs.roll_back_service("production", "orders", who="ana", reason="")
    assert (d.id, d.task_definition, d.origin["to"]) == ("ecs-svc/6", "orders:3", "orders:3")


def test_with_nothing_before_the_current_revision_there_is_no_rollback(ecs, stub):
    stub.add_response("describe_services", describe_services(steady("orders:1")), SERVICE)
    stub.add_response("list_service_deployments", {"serviceDeployments": []})
    stub.add_response("list_task_definitions", {"taskDefinitionArns": [td_arn("orders:1")]})
    with pytest.raises(UserError, match="production/orders runs orders:1 and has no earlier revision to roll back to"):
        ecs.roll_back_service("production", "orders", who="ana", reason="")


def test_a_description_has_the_tasks_and_the_targets_with_their_reason_codes(ecs, stub, stubbed):
    elb = stubbed("elbv2")
    rolling = service([deployment("ecs-svc/2", "orders:2", running=1, pending=1),
                       deployment("ecs-svc/1", "orders:1", status="ACTIVE", rollout="COMPLETED", running=2)],
                      load_balancers=[{"targetGroupArn": TG, "containerName": "api", "containerPort": 8080}])
    stub.add_response("describe_services", describe_services(rolling), SERVICE)
    running = [task("new1", "orders:2", "ecs-svc/2"), task("old1", "orders:1", "ecs-svc/1", healthStatus="HEALTHY")]
    stopped = task("new0", "orders:2", "ecs-svc/2", lastStatus="STOPPED", stopCode="ServiceSchedulerInitiated",
                   stoppedReason="Task failed ELB health checks in (target-group production-orders)", stoppedAt=at(60))
    stub.add_response("list_tasks", {"taskArns": [t["taskArn"] for t in running]})
    stub.add_response("list_tasks", {"taskArns": [stopped["taskArn"]]},
                      {"cluster": CLUSTER, "serviceName": "orders", "desiredStatus": "STOPPED"})
    stub.add_response("describe_tasks", {"tasks": running + [stopped], "failures": []})
    elb.add_response("describe_target_groups", {"TargetGroups": [
        {"TargetGroupArn": TG, "TargetGroupName": "production-orders", "LoadBalancerArns": [LB]}]},
        {"TargetGroupArns": [TG]})
    elb.add_response("describe_target_health", {"TargetHealthDescriptions": [
        {"Target": {"Id": "10.0.1.7", "Port": 8080}, "TargetHealth": {
            "State": "unhealthy", "Reason": "Target.ResponseCodeMismatch",
            "Description": "Health checks failed with these codes: [502]"}},
        {"Target": {"Id": "10.0.1.5", "Port": 8080}, "TargetHealth": {"State": "healthy"}}]}, {"TargetGroupArn": TG})
    elb.add_response("describe_load_balancers", {"LoadBalancers": [
        {"LoadBalancerArn": LB, "DNSName": "orders-1.eu-west-1.elb.amazonaws.com"}]}, {"LoadBalancerArns": [LB]})
    elb.add_response("describe_listeners", {"Listeners": [
        {"ListenerArn": "arn:l/1", "Port": 443, "Protocol": "HTTPS",
         "DefaultActions": [{"Type": "forward", "TargetGroupArn": TG}]}]}, {"LoadBalancerArn": LB})
    d = ecs.describe_service("production", "orders")
    assert [(t.id, t.deployment_id, t.taskdef, t.last_status, t.host_port) for t in d.tasks] == [
        ("new1", "ecs-svc/2", "orders:2", "RUNNING", 32768), ("old1", "ecs-svc/1", "orders:1", "RUNNING", 32768),
        ("new0", "ecs-svc/2", "orders:2", "STOPPED", 32768)]
    assert d.tasks[2].stopped_reason == "Task failed ELB health checks in (target-group production-orders)"
    assert d.load_balancer is not None and d.load_balancer.url == "https://orders-1.eu-west-1.elb.amazonaws.com/"
    assert [(t.address, t.state, t.reason) for t in d.load_balancer.targets] == [
        ("10.0.1.7:8080", "unhealthy", "Target.ResponseCodeMismatch"), ("10.0.1.5:8080", "healthy", None)]
    assert (d.summary.healthy_count, d.summary.running_count, d.summary.url) == (
        1, 3, "https://orders-1.eu-west-1.elb.amazonaws.com/")
