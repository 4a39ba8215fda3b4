"""ECS on AWS (AwsEcs) against moto, with the cluster, load balancer, target group, listener and
service made in the test as provisioning would: task definitions registered once per body and
pruned, a service's deployment settings written by update_service and read back, scaling,
listing and describing with the load balancer's view, and the messages for what is missing.

moto does not move deployments (UpdateService leaves its PRIMARY as it was), and has no
ListServiceDeployments / DescribeServiceRevisions: a PartialStubber answers those."""

from __future__ import annotations

import pytest
from aws_ecs_support import partial, provision, td_arn

from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import NotFound, UserError
from conveyor.providers.aws.ecs import AwsEcs

BODY = {"family": "orders", "containerDefinitions": [{"name": "api", "image": "orders:v1", "memory": 256,
                                                      "portMappings": [{"containerPort": 8080}]}]}
#: What DescribeTaskDefinition returns and RegisterTaskDefinition refuses (aws-semantics §4.1).
READ_ONLY = {"taskDefinitionArn": td_arn("orders:9"), "revision": 9, "status": "ACTIVE",
             "compatibilities": ["EC2"], "registeredAt": "2026-12-01T12:00:00Z", "requiresAttributes": []}


def body(image: str) -> dict:
    return {**BODY, "containerDefinitions": [{**BODY["containerDefinitions"][0], "image": image}]}


def spec(**deployment) -> ServiceSpec:
    return ServiceSpec.from_config("production", "orders", {
        "desiredCount": 3, "healthCheckGracePeriodSeconds": 30,
        "loadBalancer": {"port": 80, "container": "api", "containerPort": 8080},
        "deployment": deployment}, target="aws")


@pytest.fixture
def ecs(moto_aws):
    return AwsEcs(moto_aws)


def active(moto_aws) -> list[str]:
    arns = moto_aws.api("production").call("ecs", "ListTaskDefinitions", familyPrefix="orders",
                                           status="ACTIVE")["taskDefinitionArns"]
    return sorted((a.rpartition("/")[2] for a in arns), key=lambda n: int(n.rpartition(":")[2]))


def calls(aws_log, operation):
    return [p for _, o, p in aws_log.calls if o == operation]


# -- task definitions ------------------------------------------------------------------------------


def test_a_task_definition_is_registered_without_its_read_only_fields_and_described(ecs, aws_log):
    made = ecs.register_task_definition("production", {**BODY, **READ_ONLY})
    assert (made.name, made.family, made.revision) == ("orders:1", "orders", 1)
    assert made.arn == td_arn("orders:1")
    [sent] = calls(aws_log, "RegisterTaskDefinition")
    assert set(sent) == {"family", "containerDefinitions", "tags"}
    found = ecs.describe_task_definition("production", "orders:1")
    assert found is not None and found.body["containerDefinitions"][0]["image"] == "orders:v1"
    assert "revision" not in found.body and "status" not in found.body
    assert ecs.task_definition_arn("production", "orders:1") == made.arn


def test_the_same_body_twice_is_the_same_revision(ecs, aws_log):
    first = ecs.register_task_definition("production", body("orders:v1"))
    again = ecs.register_task_definition("production", body("orders:v1"))
    other = ecs.register_task_definition("production", body("orders:v2"))
    assert (first.name, again.name, other.name) == ("orders:1", "orders:1", "orders:2")
    assert len(calls(aws_log, "RegisterTaskDefinition")) == 2


def test_an_unknown_revision_is_none_and_has_no_arn(ecs):
    assert ecs.describe_task_definition("production", "orders:7") is None
    with pytest.raises(NotFound, match="no task definition orders:7 in environment production"):
        ecs.task_definition_arn("production", "orders:7")


def test_old_revisions_are_pruned_except_what_a_service_runs_or_would_roll_back_to(moto_aws, aws_log):
    ecs = AwsEcs(moto_aws, keep_revisions=3)
    for n in (1, 2, 3):
        ecs.register_task_definition("production", body(f"orders:v{n}"))
    api = moto_aws.api("production")
    api.call("ecs", "CreateCluster", clusterName="orders-prod")
    api.call("ecs", "CreateService", cluster="orders-prod", serviceName="orders", taskDefinition="orders:1",
             desiredCount=1)
    # The service's last successful service deployment was of orders:2 (a rollback would go there).
    stub = partial(moto_aws, "ecs", {"ListServiceDeployments", "DescribeServiceRevisions"})
    revision = "arn:aws:ecs:eu-west-1:123456789012:service-revision/orders-prod/orders/2"
    for _ in (4, 5, 6):
        stub.add_response("list_service_deployments", {"serviceDeployments": [
            {"serviceDeploymentArn": "arn:sd/2", "status": "SUCCESSFUL", "targetServiceRevisionArn": revision}]},
            {"cluster": "orders-prod", "service": "orders", "status": ["SUCCESSFUL"], "maxResults": 20})
        stub.add_response("describe_service_revisions", {"serviceRevisions": [
            {"serviceRevisionArn": revision, "taskDefinition": td_arn("orders:2")}], "failures": []},
            {"serviceRevisionArns": [revision]})
    for n in (4, 5, 6):
        ecs.register_task_definition("production", body(f"orders:v{n}"))
    stub.assert_no_pending_responses()
    assert active(moto_aws) == ["orders:1", "orders:2", "orders:4", "orders:5", "orders:6"]
    assert [p["taskDefinition"] for p in calls(aws_log, "DeregisterTaskDefinition")] == [td_arn("orders:3")]
    assert ecs.describe_task_definition("production", "orders:3") is not None  # INACTIVE, still described


def test_without_services_the_newest_revisions_are_kept(moto_aws):
    ecs = AwsEcs(moto_aws, keep_revisions=2)
    moto_aws.api("production").call("ecs", "CreateCluster", clusterName="orders-prod")
    for n in range(1, 6):
        ecs.register_task_definition("production", body(f"orders:v{n}"))
    assert active(moto_aws) == ["orders:4", "orders:5"]


# -- services --------------------------------------------------------------------------------------


def test_update_service_writes_the_deployment_settings_and_the_first_desired_count(moto_aws, ecs, aws_log):
    provision(moto_aws)
    revision = ecs.register_task_definition("production", body("orders:v2"))
    ecs.update_service(spec(minimumHealthyPercent=50, maximumPercent=150,
                            circuitBreaker={"enable": True, "rollback": True}, alarms=["orders-5xx", {"name": "slow"}],
                            autoRollback=False),
                       task_definition=revision.name, client_token="ex-1/Deploy/Deploy/1", origin={})
    raw = ecs.describe_raw_service("production", "orders")
    assert raw["deploymentConfiguration"] == {
        "minimumHealthyPercent": 50, "maximumPercent": 150,
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "alarms": {"alarmNames": ["orders-5xx", "slow"], "enable": True, "rollback": False}}
    assert (raw["healthCheckGracePeriodSeconds"], raw["desiredCount"]) == (30, 3)
    assert calls(aws_log, "UpdateService")[0]["taskDefinition"] == "orders:2"

    ecs.scale_service("production", "orders", 5, by="ana")
    # (moto's PRIMARY stays on orders:1, so orders:2 is not adopted: UpdateService again)
    ecs.update_service(spec(), task_definition="orders:2", client_token=None, origin={})
    second = calls(aws_log, "UpdateService")[-1]
    assert "desiredCount" not in second  # once the service runs, its count is scale's
    # no alarms listed any more: ECS keeps the names (it wants one or more), switched off
    assert second["deploymentConfiguration"]["alarms"] == {"alarmNames": ["orders-5xx", "slow"], "enable": False,
                                                           "rollback": False}
    assert ecs.describe_raw_service("production", "orders")["desiredCount"] == 5


def test_updating_to_what_the_primary_deployment_runs_adopts_it(moto_aws, ecs, aws_log):
    provision(moto_aws)  # moto's PRIMARY deployment runs orders:1 and is COMPLETED (desired 0)
    d = ecs.update_service(spec(), task_definition="orders:1", client_token="ex-1/Deploy/Deploy/1", origin={})
    assert (d.status, d.task_definition, d.outcome) == ("PRIMARY", "orders:1", "Succeeded")
    assert calls(aws_log, "UpdateService") == []


def test_a_code_deploy_service_is_not_updated_as_a_rolling_one(moto_aws, ecs, aws_log):
    provision(moto_aws, controller="CODE_DEPLOY")
    with pytest.raises(UserError, match="uses the CODE_DEPLOY deployment controller, but conveyor.yml deploys it "
                                        "with controller ECS"):
        ecs.update_service(spec(), task_definition="orders:1", client_token=None, origin={})
    assert calls(aws_log, "UpdateService") == []


def test_scale_sets_the_desired_count_and_describes_the_service(moto_aws, ecs):
    provision(moto_aws)
    described = ecs.scale_service("production", "orders", 4, by="ana")
    assert (described.summary.desired_count, described.summary.target, described.summary.controller) == (
        4, "aws", "ECS")


def test_services_are_listed_with_their_url_and_described_with_their_targets(moto_aws, ecs):
    made = provision(moto_aws)
    moto_aws.api("production").call("elbv2", "RegisterTargets", TargetGroupArn=made["target_group"],
                                    Targets=[{"Id": "10.0.1.5", "Port": 8080}])
    [listed] = ecs.list_services()  # staging has no cluster: nothing there, no error
    assert (listed.environment, listed.name, listed.task_definition, listed.url) == (
        "production", "orders", "orders:1", f"http://{made['dns']}/")
    described = ecs.describe_service("production", "orders")
    assert described.load_balancer is not None
    assert (described.load_balancer.url, described.load_balancer.target_group) == (
        f"http://{made['dns']}/", "production-orders")
    assert [(t.address, t.state) for t in described.load_balancer.targets] == [("10.0.1.5:8080", "healthy")]
    assert described.summary.healthy_count == 1
    assert [d.task_definition for d in described.deployments] == ["orders:1"]


def test_a_missing_cluster_or_service_is_named_with_the_hint_to_provision_it(moto_aws, ecs):
    with pytest.raises(NotFound, match="no ECS cluster 'orders-prod' for environment production") as caught:
        ecs.describe_service("production", "orders")
    assert "conveyor provision" in (caught.value.hint or "")
    moto_aws.api("production").call("ecs", "CreateCluster", clusterName="orders-prod")
    with pytest.raises(NotFound, match="no ECS service 'orders' in cluster 'orders-prod'"):
        ecs.scale_service("production", "orders", 2, by="ana")
    with pytest.raises(NotFound, match="no ECS cluster 'conveyor-staging' for environment staging"):
        ecs.describe_rollout("staging", "orders")
