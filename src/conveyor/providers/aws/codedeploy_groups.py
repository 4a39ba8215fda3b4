"""Finding CodeDeploy deployments: a deployment group's (ListDeployments in flight or created since a
time, then BatchGetDeployments, newest first), and the environment a deployment id or an ECS
service deployment ARN belongs to when this process did not create it (after a restart).

    groups = GroupDeployments(apis)
    groups.infos(api, env, "orders", statuses=IN_FLIGHT)      # [deploymentInfo, …] newest first
    groups.locate("d-ABCDEFGH1")                              # ('production', deploymentInfo)

A call that names a missing application, group or config says which one, and that Conveyor does
not create them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from conveyor.errors import ConveyorError, NotFound, UserError
from conveyor.providers.aws import codedeploy_reasons as reasons
from conveyor.providers.aws.api import AwsApi
from conveyor.providers.aws.apis import AwsApis
from conveyor.providers.aws.ecs_native import parse_service_deployment_arn
from conveyor.providers.aws.settings import AwsEnvironment

#: BatchGetDeployments takes at most 25 ids.
IDS_PER_BATCH = 25
#: At most this many ids are read per listing (two BatchGetDeployments).
SCAN_CAP = 50


class GroupDeployments:
    def __init__(self, apis: AwsApis):
        self._apis = apis
        #: deployment id (or service deployment ARN) → its environment
        self.where: dict[str, str] = {}

    def call(self, api: AwsApi, env: AwsEnvironment, group: str, operation: str, **params: Any) -> dict[str, Any]:
        """A CodeDeploy call about the group; a missing application, group or config is named."""
        try:
            return api.call("codedeploy", operation, **params)
        except NotFound as exc:
            what = reasons.missing_resource(aws_code(exc), env.codedeploy_application, group,
                                            params.get("deploymentConfigName"))
            if what is None:
                raise
            raise NotFound(reasons.missing_codedeploy(env.codedeploy_application, group, env.name, env.region, what),
                           hint=reasons.HINT_MISSING_CODEDEPLOY) from exc

    def ids(self, api: AwsApi, env: AwsEnvironment, group: str, *, statuses: tuple[str, ...] = (),
            since: float | None = None) -> list[str]:
        """ListDeployments of the group (in flight, or created since), at most SCAN_CAP ids."""
        params: dict[str, Any] = {"applicationName": env.codedeploy_application, "deploymentGroupName": group}
        if statuses:
            params["includeOnlyStatuses"] = list(statuses)
        if since is not None:
            params["createTimeRange"] = {"start": dt.datetime.fromtimestamp(since, dt.timezone.utc)}
        ids: list[str] = []
        while len(ids) < SCAN_CAP:
            page = self.call(api, env, group, "ListDeployments", **params)
            ids += [str(i) for i in page.get("deployments") or []]
            if not page.get("nextToken"):
                break
            params["nextToken"] = page["nextToken"]
        return ids[:SCAN_CAP]

    def batch(self, api: AwsApi, ids: list[str]) -> list[dict[str, Any]]:
        """BatchGetDeployments, newest first (ListDeployments promises no order)."""
        infos: list[dict[str, Any]] = []
        for i in range(0, len(ids), IDS_PER_BATCH):
            infos += api.call("codedeploy", "BatchGetDeployments",
                              deploymentIds=ids[i:i + IDS_PER_BATCH]).get("deploymentsInfo") or []
        return sorted(infos, key=_created, reverse=True)

    def infos(self, api: AwsApi, env: AwsEnvironment, group: str, *,
              statuses: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        return self.batch(api, self.ids(api, env, group, statuses=statuses))

    def locate(self, deployment_id: str) -> tuple[str, dict[str, Any]]:
        """The environment of a deployment this process did not create: GetDeployment once per
        region and credentials, then the environment whose application it belongs to."""
        tried: set[tuple[str, str | None, str | None]] = set()
        for name in self._apis.names():
            env = self._apis.environment(name)
            if env.credentials_key in tried:
                continue
            tried.add(env.credentials_key)
            try:
                info = self._apis.api(name).call("codedeploy", "GetDeployment",
                                                 deploymentId=deployment_id)["deploymentInfo"]
            except NotFound:
                continue
            except UserError as exc:  # InvalidDeploymentIdException: not an id CodeDeploy makes
                if aws_code(exc) == "InvalidDeploymentIdException":
                    break
                raise
            for other in self._apis.names():
                candidate = self._apis.environment(other)
                if (candidate.credentials_key == env.credentials_key
                        and candidate.codedeploy_application == info.get("applicationName")):
                    self.where[deployment_id] = other
                    return other, info
        raise NotFound(reasons.no_deployment(deployment_id))

    def environment_of_arn(self, arn: str) -> str:
        """The environment of an ECS service deployment: the one with its region and cluster."""
        known = self.where.get(arn)
        if known is not None:
            return known
        parsed = parse_service_deployment_arn(arn)
        for name in self._apis.names():
            env = self._apis.environment(name)
            if parsed is not None and (env.region, env.cluster) == parsed[:2]:
                self.where[arn] = name
                return name
        raise NotFound(reasons.no_deployment(arn))


def aws_code(exc: ConveyorError) -> str:
    """The AWS error code behind a translated error ("" when there is none)."""
    cause = exc.__cause__
    return str(getattr(cause, "response", {}).get("Error", {}).get("Code", "")) if cause is not None else ""


def _created(info: Mapping[str, Any]) -> float:
    value = info.get("createTime")
    return value.timestamp() if isinstance(value, dt.datetime) else float(value or 0)
