"""AwsCodeDeploy against moto's CodeDeploy (applications, groups, CreateDeployment, GetDeployment,
ListDeployments, BatchGetDeployments: real requests and responses through botocore): creating,
finding a deployment again by its key after a restart, and AWS's refusals as Conveyor's errors.
moto starts no deployment (it stays Created), so the lifecycle is the Stubber tests' part."""

from __future__ import annotations

from typing import Any

import pytest
from aws_codedeploy_fixtures import APP, GROUP, AwsEcsFake, spec, td_arn

from conveyor.backend.errors import DeploymentLimitExceeded
from conveyor.errors import NotFound
from conveyor.providers.aws.codedeploy import AwsCodeDeploy

ROLE = "arn:aws:iam::123456789012:role/codedeploy-ecs"


@pytest.fixture
def codedeploy(moto_aws: Any) -> Any:
    return moto_aws.api("production").client("codedeploy")


def provision(codedeploy: Any) -> None:
    """What an operator creates once (Conveyor creates no AWS resources)."""
    codedeploy.create_application(applicationName=APP, computePlatform="ECS")
    codedeploy.create_deployment_group(
        applicationName=APP, deploymentGroupName=GROUP, serviceRoleArn=ROLE,
        deploymentConfigName="CodeDeployDefault.ECSAllAtOnce",
        deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        ecsServices=[{"serviceName": "orders", "clusterName": "orders-prod"}])


def create(cd: AwsCodeDeploy, key: str | None) -> Any:
    return cd.create_deployment(spec(), task_definition="orders:7", appspec=None, appspec_source="appspec.yaml",
                                client_token=key, creator="CodePipeline", origin={}, workdir=None)


def test_a_deployment_is_created_and_found_again_by_its_key_after_a_restart(moto_aws, codedeploy):
    provision(codedeploy)
    first = create(AwsCodeDeploy(moto_aws, AwsEcsFake()), "ex-1/Deploy/Deploy/1")
    assert (first.status, first.phase, first.task_definition, first.creator) == ("Created", "Start", "orders:7",
                                                                                 "CodePipeline")
    sent = codedeploy.get_deployment(deploymentId=first.id)["deploymentInfo"]
    assert f"TaskDefinition: {td_arn('orders:7')}" in sent["revision"]["appSpecContent"]["content"]

    again = create(AwsCodeDeploy(moto_aws, AwsEcsFake()), "ex-1/Deploy/Deploy/1")
    assert again.id == first.id
    assert codedeploy.list_deployments(applicationName=APP, deploymentGroupName=GROUP)["deployments"] == [first.id]
    assert moto_aws.log.counts()["codedeploy:CreateDeployment"] == 1


def test_another_key_while_one_is_in_flight_is_refused(moto_aws, codedeploy):
    provision(codedeploy)
    first = create(AwsCodeDeploy(moto_aws, AwsEcsFake()), "ex-1/Deploy/Deploy/1")
    with pytest.raises(DeploymentLimitExceeded, match=f"^deployment {first.id} is already in progress for "
                                                      r"production/orders \(Start\)$"):
        create(AwsCodeDeploy(moto_aws, AwsEcsFake()), "ex-2/Deploy/Deploy/1")


def test_a_deployment_is_found_by_id_alone_after_a_restart(moto_aws, codedeploy):
    provision(codedeploy)
    made = create(AwsCodeDeploy(moto_aws, AwsEcsFake()), None)
    found = AwsCodeDeploy(moto_aws, AwsEcsFake()).get_deployment(made.id)
    assert (found.environment, found.service, found.task_definition) == ("production", "orders", "orders:7")


def test_missing_application_and_group_are_named(moto_aws, codedeploy):
    with pytest.raises(NotFound, match="^CodeDeploy application 'orders' does not exist in eu-west-1"):
        create(AwsCodeDeploy(moto_aws, AwsEcsFake()), None)
    codedeploy.create_application(applicationName=APP, computePlatform="ECS")
    with pytest.raises(NotFound, match="^deployment group 'orders' of CodeDeploy application 'orders' does not "
                                       "exist in eu-west-1"):
        create(AwsCodeDeploy(moto_aws, AwsEcsFake()), None)
