"""Finding ECS services in an environment's cluster: one by name, or all of them. Shared by
AwsEcs, the task definitions' pruning and the ELBv2/CloudWatch reads.

    find_service(apis.api("production"), "orders")     # DescribeServices' service
    cluster_services(apis.api("production"))            # every service of the cluster

AWS calls: ecs:DescribeServices; cluster_services ecs:ListServices first.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conveyor.errors import NotFound
from conveyor.providers.aws import ecs_reasons as reasons
from conveyor.providers.aws.api import AwsApi

#: DescribeServices takes at most 10 services.
DESCRIBE_SERVICES_BATCH = 10
INACTIVE = "INACTIVE"


def batches(items: list[str], size: int) -> Iterator[list[str]]:
    """Consecutive slices of at most `size` items.

    >>> list(batches(["a", "b", "c"], 2))
    [['a', 'b'], ['c']]
    """
    for i in range(0, len(items), size):
        yield items[i:i + size]


def find_service(api: AwsApi, service: str) -> dict[str, Any]:
    """DescribeServices' service in the environment's cluster; NotFound naming the cluster or
    the service that is missing (DescribeServices reports a missing service as a failure)."""
    cluster = api.env.cluster
    try:
        answer = api.call("ecs", "DescribeServices", cluster=cluster, services=[service])
    except NotFound as exc:  # ClusterNotFoundException
        raise NotFound(reasons.no_cluster(api.env.name, cluster), hint=reasons.PROVISION_HINT) from exc
    found = [s for s in answer.get("services") or [] if s.get("status") != INACTIVE]
    if not found:
        raise NotFound(reasons.no_service(api.env.name, cluster, service), hint=reasons.PROVISION_HINT)
    return dict(found[0])


def cluster_services(api: AwsApi) -> list[dict[str, Any]]:
    """Every service of the environment's cluster (NotFound naming the cluster if it is missing)."""
    cluster = api.env.cluster
    try:
        arns = list(api.pages("ecs", "ListServices", "serviceArns", cluster=cluster))
    except NotFound as exc:
        raise NotFound(reasons.no_cluster(api.env.name, cluster), hint=reasons.PROVISION_HINT) from exc
    out: list[dict[str, Any]] = []
    for batch in batches(arns, DESCRIBE_SERVICES_BATCH):
        out += api.call("ecs", "DescribeServices", cluster=cluster, services=batch)["services"]
    return out
