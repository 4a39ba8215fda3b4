"""Task definitions on ECS: registering a revision (or finding that the latest one is already
it), describing one, and pruning a family's old revisions.

    taskdefs = TaskDefinitions(apis)
    taskdefs.register("production", body)      # TaskDefinitionRevision("orders:8", arn, body)
    taskdefs.describe("production", "orders:7")

AWS calls:
    register   ecs:ListTaskDefinitions (the family's ACTIVE revisions), ecs:DescribeTaskDefinition
               (the latest, with its tags), ecs:RegisterTaskDefinition (+ ecs:TagResource, which
               AWS requires for tags given at registration) unless the latest is the same body;
               pruning: ecs:ListServices, ecs:DescribeServices, ecs:ListServiceDeployments,
               ecs:DescribeServiceRevisions, ecs:DeregisterTaskDefinition
    describe   ecs:DescribeTaskDefinition

Registering the same body twice gives the same revision: each revision Conveyor registers carries
a tag with the SHA-256 of its request, compared with the latest revision's. So a deployment
re-run after a crash finds the revision the first run registered, and the PRIMARY deployment
already on it (AwsEcs.update_service's adoption).

Pruning keeps a family's newest KEEP_REVISIONS ACTIVE revisions and deregisters older ones,
except those a service of the cluster runs (any of its deployments) and those a rollback would
go back to (its latest successful service deployments'): ECS cannot start a new deployment of
an INACTIVE revision.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from conveyor.backend.types import TaskDefinitionRevision
from conveyor.errors import ConveyorError, NotFound, UserError
from conveyor.providers.aws import ecs_reasons
from conveyor.providers.aws.api import AwsApi
from conveyor.providers.aws.apis import AwsApis
from conveyor.providers.aws.ecs_services import cluster_services
from conveyor.providers.aws.ecs_views import name_of, timestamp
from conveyor.providers.aws.errors import AwsPermissionDenied

log = logging.getLogger(__name__)

#: ACTIVE revisions kept per family (older ones are deregistered: INACTIVE, still describable).
KEEP_REVISIONS = 20
#: The tag holding the SHA-256 of the registered request (without this tag).
FINGERPRINT_TAG = "conveyor:fingerprint"
#: DescribeServiceRevisions takes at most 20 revisions.
SERVICE_REVISIONS_BATCH = 20


def fingerprint(request: Mapping[str, Any]) -> str:
    """The SHA-256 of a RegisterTaskDefinition request, keys sorted, without Conveyor's tag.

    >>> fingerprint({"family": "orders", "containerDefinitions": []})[:12]
    '3c6b95a7c8fe'
    """
    body = {k: v for k, v in request.items() if k != "tags"}
    tags = [t for t in request.get("tags") or [] if t.get("key") != FINGERPRINT_TAG]
    if tags:
        body["tags"] = tags
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def revision_of(arn: str) -> int:
    """The revision number of a task definition ARN or name.

    >>> revision_of("arn:aws:ecs:eu-west-1:123456789012:task-definition/orders:12")
    12
    """
    return int(name_of(arn).rpartition(":")[2])


class TaskDefinitions:
    def __init__(self, apis: AwsApis, *, keep: int = KEEP_REVISIONS):
        self._apis = apis
        self.keep = keep

    def register(self, environment: str, body: Mapping[str, Any]) -> TaskDefinitionRevision:
        """A new revision of body's family, or the latest one when it was registered from the
        same body. Read-only fields of DescribeTaskDefinition output (and anything else
        RegisterTaskDefinition does not take) are dropped."""
        api = self._apis.api(environment)
        request = registrable(api, body)
        family = str(request.get("family") or "")
        if not family:
            raise UserError("the task definition has no family", hint="add \"family\": NAME to taskdef.json")
        digest = fingerprint(request)
        active = self.active_revisions(api, family)
        if active:
            latest = api.call("ecs", "DescribeTaskDefinition", taskDefinition=active[0], include=["TAGS"])
            if any(t.get("key") == FINGERPRINT_TAG and t.get("value") == digest for t in latest.get("tags") or []):
                return revision(api, latest["taskDefinition"])
        tags = [t for t in request.get("tags") or [] if t.get("key") != FINGERPRINT_TAG]
        registered = api.call("ecs", "RegisterTaskDefinition",
                              **{**request, "tags": tags + [{"key": FINGERPRINT_TAG, "value": digest}]})
        made = revision(api, registered["taskDefinition"])
        self.prune(environment, family, [made.arn] + active)
        return made

    def describe(self, environment: str, name: str) -> TaskDefinitionRevision | None:
        """`family:revision` (or an ARN) → the revision, INACTIVE ones included; None if ECS has none."""
        api = self._apis.api(environment)
        try:
            found = api.call("ecs", "DescribeTaskDefinition", taskDefinition=name)
        except AwsPermissionDenied:
            raise
        except UserError:  # ECS answers ClientException "Unable to describe task definition."
            return None
        return revision(api, found["taskDefinition"])

    def arn(self, environment: str, name: str) -> str:
        if name.startswith("arn:"):
            return name
        found = self.describe(environment, name)
        if found is None:
            raise NotFound(ecs_reasons.unknown_task_definition(environment, name))
        return found.arn

    def active_revisions(self, api: AwsApi, family: str) -> list[str]:
        """The family's ACTIVE revision ARNs, newest first. ListTaskDefinitions matches a
        prefix (`orders` finds `orders-worker`): only the family itself is kept."""
        arns = api.pages("ecs", "ListTaskDefinitions", "taskDefinitionArns", familyPrefix=family, status="ACTIVE",
                         sort="DESC")
        mine = [a for a in arns if name_of(a).rpartition(":")[0] == family]
        return sorted(mine, key=revision_of, reverse=True)

    def prune(self, environment: str, family: str, active: list[str]) -> list[str]:
        """Deregister the family's ACTIVE revisions beyond the newest `keep`, except the ones
        services need; returns the deregistered names. Housekeeping: a failure is logged, the
        registration it follows stands."""
        if len(active) <= self.keep:
            return []
        api = self._apis.api(environment)
        try:
            needed = self.needed(api, family)
            gone = []
            for arn in active[self.keep:]:
                if name_of(arn) in needed:
                    continue
                api.call("ecs", "DeregisterTaskDefinition", taskDefinition=arn)
                gone.append(name_of(arn))
            return gone
        except ConveyorError as exc:
            log.warning("pruning the old revisions of task definition %s in %s: %s", family, environment, exc)
            return []

    def needed(self, api: AwsApi, family: str) -> set[str]:
        """The family's revisions (`family:N`) that the cluster's services run or would roll back to."""
        needed: set[str] = set()
        for service in cluster_services(api):
            running = {name_of(str(d.get("taskDefinition") or "")) for d in service.get("deployments") or []}
            running.add(name_of(str(service.get("taskDefinition") or "")))
            if any(n.rpartition(":")[0] == family for n in running):
                needed |= running | set(successful_revisions(api, str(service["serviceName"])))
        return {n for n in needed if n.rpartition(":")[0] == family}


def registrable(api: AwsApi, body: Mapping[str, Any]) -> dict[str, Any]:
    """What RegisterTaskDefinition takes of `body` (its input shape's members, from botocore's model)."""
    members = api.client("ecs").meta.service_model.operation_model("RegisterTaskDefinition").input_shape.members
    return {k: v for k, v in body.items() if k in members and v is not None}


def revision(api: AwsApi, task_definition: Mapping[str, Any]) -> TaskDefinitionRevision:
    arn = str(task_definition["taskDefinitionArn"])
    return TaskDefinitionRevision(name_of(arn), arn, registrable(api, task_definition))


def successful_revisions(api: AwsApi, service: str, limit: int = SERVICE_REVISIONS_BATCH) -> list[str]:
    """The task definitions (`family:N`) of the service's latest successful service deployments,
    newest first: ListServiceDeployments (status SUCCESSFUL), then DescribeServiceRevisions of
    their target revisions."""
    answer = api.call("ecs", "ListServiceDeployments", cluster=api.env.cluster, service=service,
                      status=["SUCCESSFUL"], maxResults=limit)
    briefs = sorted(answer.get("serviceDeployments") or [], key=_finished, reverse=True)
    wanted = [str(b["targetServiceRevisionArn"]) for b in briefs if b.get("targetServiceRevisionArn")]
    if not wanted:
        return []
    revisions = api.call("ecs", "DescribeServiceRevisions", serviceRevisionArns=wanted[:limit])
    by_arn = {str(r["serviceRevisionArn"]): name_of(str(r.get("taskDefinition") or ""))
              for r in revisions.get("serviceRevisions") or []}
    return _unique(by_arn[a] for a in wanted if by_arn.get(a))


def _finished(brief: Mapping[str, Any]) -> float:
    return timestamp(brief.get("finishedAt") or brief.get("startedAt") or brief.get("createdAt"))


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))
