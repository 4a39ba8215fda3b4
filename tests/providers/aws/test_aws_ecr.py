"""ECR on AWS (AwsRegistry) against moto: repositories made and brought to their settings, read
back; the login a build gets; images. The order of images by push time comes from a Stubber
(moto stamps pushes made within a second alike)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from aws_ecs_support import ACCOUNT, REGION

from conveyor.errors import NotFound
from conveyor.providers.aws.ecr import AwsRegistry

HOST = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
LIFECYCLE = {"rules": [{"rulePriority": 1, "description": "untagged after 14 days",
                        "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                                      "countNumber": 14}, "action": {"type": "expire"}}]}


@pytest.fixture
def ecr(moto_aws):
    return AwsRegistry(moto_aws.api("production"))


def operations(aws_log, *names):
    return [o for _, o, _ in aws_log.calls if o in names]


def test_a_new_repository_gets_its_settings_and_reads_them_back(ecr, moto_aws):
    made = ecr.ensure_repository("orders", tag_mutability="IMMUTABLE", scan_on_push=True, lifecycle_policy=LIFECYCLE)
    assert (made.uri, made.tag_mutability, made.scan_on_push, made.lifecycle_policy) == (
        f"{HOST}/orders", "IMMUTABLE", True, LIFECYCLE)
    [listed] = ecr.describe_repositories()
    assert (listed.name, listed.tag_mutability, listed.scan_on_push, listed.lifecycle_policy, listed.declared) == (
        "orders", "IMMUTABLE", True, LIFECYCLE, True)
    raw = moto_aws.api("production").call("ecr", "GetLifecyclePolicy", repositoryName="orders")
    assert json.loads(raw["lifecyclePolicyText"]) == LIFECYCLE


def test_an_existing_repository_is_brought_to_the_settings_and_left_alone_when_it_has_them(ecr, aws_log):
    ecr.ensure_repository("orders")
    changed = ecr.ensure_repository("orders", tag_mutability="IMMUTABLE", scan_on_push=True,
                                    lifecycle_policy=LIFECYCLE)
    assert (changed.tag_mutability, changed.scan_on_push, changed.lifecycle_policy) == ("IMMUTABLE", True, LIFECYCLE)
    assert operations(aws_log, "CreateRepository", "PutImageTagMutability", "PutImageScanningConfiguration",
                      "PutLifecyclePolicy") == ["CreateRepository", "PutImageTagMutability",
                                                "PutImageScanningConfiguration", "PutLifecyclePolicy"]
    aws_log.calls.clear()
    again = ecr.ensure_repository("orders", tag_mutability="IMMUTABLE", scan_on_push=True, lifecycle_policy=LIFECYCLE)
    assert again == changed
    assert operations(aws_log, "CreateRepository", "PutImageTagMutability", "PutImageScanningConfiguration",
                      "PutLifecyclePolicy") == []
    [listed] = ecr.describe_repositories()
    assert (listed.tag_mutability, listed.scan_on_push) == ("IMMUTABLE", True)


def test_exclusion_filters_go_with_the_tag_mutability(stubbed):
    stub = stubbed("ecr")
    filters = ({"filterType": "WILDCARD", "filter": "latest"},)
    stub.add_client_error("describe_repositories", service_error_code="RepositoryNotFoundException",
                          service_message="no such repository", expected_params={"repositoryNames": ["orders"]})
    stub.add_response("create_repository", {"repository": {
        "repositoryName": "orders", "repositoryUri": f"{HOST}/orders", "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
        "imageTagMutabilityExclusionFilters": list(filters), "imageScanningConfiguration": {"scanOnPush": False}}},
        {"repositoryName": "orders", "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
         "imageScanningConfiguration": {"scanOnPush": False}, "imageTagMutabilityExclusionFilters": list(filters)})
    stub.add_client_error("get_lifecycle_policy", service_error_code="LifecyclePolicyNotFoundException",
                          service_message="none", expected_params={"repositoryName": "orders"})
    made = AwsRegistry(stubbed.apis.api("production")).ensure_repository(
        "orders", tag_mutability="IMMUTABLE_WITH_EXCLUSION", exclusion_filters=filters)
    assert (made.tag_mutability, made.exclusion_filters, made.lifecycle_policy) == (
        "IMMUTABLE_WITH_EXCLUSION", filters, None)


def test_a_build_logs_in_with_the_token_and_gets_the_variables_the_local_registry_gives(ecr):
    login = ecr.login()
    assert (login.server, login.username, login.password) == (HOST, "AWS", f"{ACCOUNT}-auth-token")
    assert login.env == {"CONVEYOR_REGISTRY": HOST, "CONVEYOR_REGISTRY_ADDRESS": HOST,
                         "CONVEYOR_REGISTRY_PASSWORD": f"{ACCOUNT}-auth-token", "AWS_ACCOUNT_ID": ACCOUNT,
                         "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}


def test_the_account_is_asked_once(ecr, aws_log):
    assert ecr.repository_uri("orders") == f"{HOST}/orders"
    assert ecr.repository_uri("billing") == f"{HOST}/billing"
    assert operations(aws_log, "GetCallerIdentity") == ["GetCallerIdentity"]


def test_images_are_listed_with_their_tags(ecr, moto_aws):
    ecr.ensure_repository("orders")
    api = moto_aws.api("production")
    for tag, digest in (("v1", "a"), ("v2", "b")):
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "config": {"digest": "sha256:" + digest * 64, "size": 1,
                               "mediaType": "application/vnd.docker.container.image.v1+json"}, "layers": []}
        api.call("ecr", "PutImage", repositoryName="orders", imageManifest=json.dumps(manifest), imageTag=tag)
    images = ecr.describe_images("orders")
    assert sorted(i.tags for i in images) == [("v1",), ("v2",)]
    assert all(i.repository == "orders" and i.digest.startswith("sha256:") and i.pushed_at for i in images)


def test_images_come_newest_first(stubbed):
    stub = stubbed("ecr")
    pushed = [datetime(2026, 12, 1, h, tzinfo=timezone.utc) for h in (9, 11, 10)]
    stub.add_response("describe_images", {"imageDetails": [
        {"repositoryName": "orders", "imageDigest": f"sha256:{i}", "imageTags": [f"v{i}"], "imagePushedAt": t,
         "imageSizeInBytes": 100 + i} for i, t in enumerate(pushed)]}, {"repositoryName": "orders"})
    images = AwsRegistry(stubbed.apis.api("production")).describe_images("orders")
    assert [i.tags for i in images] == [("v1",), ("v2",), ("v0",)]
    assert images[0].pushed_at == "2026-12-01T11:00:00+00:00"


def test_images_of_an_unknown_repository_are_not_found(ecr):
    with pytest.raises(NotFound, match="no repository 'ghost' in ECR \\(eu-west-1\\)"):
        ecr.describe_images("ghost")
