"""ECS-native blue/green, canary and linear deployments on AWS (aws-semantics §4.7): a CODE_DEPLOY
service of conveyor.yml whose `deployment:` block names a `strategy` is deployed by ECS itself,
without CodeDeploy. The deployment is the ECS service deployment UpdateService starts; its ARN is
the deployment id the release service keeps.

    create   UpdateService(taskDefinition, deploymentConfiguration {strategy, bakeTimeInMinutes,
             canaryConfiguration | linearConfiguration, alarms}, deploymentController ECS)
    get      DescribeServiceDeployments (+ DescribeServiceRevisions once per revision: immutable)
    continue ContinueServiceDeployment(hookId of the PAUSE hook awaiting action, CONTINUE)
    stop     StopServiceDeployment(stopType ROLLBACK: the only stop ECS offers)
    rollback StopServiceDeployment(ROLLBACK) in flight; else UpdateService to the revision before
             the last successful deployment

CreateService/UpdateService take no client token: a deployment of the revision the service
already deploys (or deployed, successfully) returns that deployment instead of starting another,
which is what a re-run after a crash needs.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from conveyor.backend.errors import DeploymentLimitExceeded, DeploymentNotReady
from conveyor.backend.types import CodeDeployDeployment
from conveyor.config.appspec import TASK_DEFINITION_TOKEN
from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import NotFound, UserError
from conveyor.providers.aws import codedeploy_reasons as reasons
from conveyor.providers.aws.api import AwsApi
from conveyor.providers.aws.apis import AwsApis
from conveyor.providers.aws.codedeploy_journal import DeploymentJournal
from conveyor.providers.aws.codedeploy_revision import parse_checked
from conveyor.providers.aws.ecs_native_views import (
    IN_FLIGHT,
    deployment_configuration,
    service_deployment_view,
)

#: DescribeServiceDeployments and DescribeServiceRevisions take at most 20 ARNs.
ARNS_PER_CALL = 20
#: How many successful deployments a rollback looks back through.
ROLLBACK_SCAN = 20
#: arn:PARTITION:ecs:REGION:ACCOUNT:service-deployment/CLUSTER/SERVICE/ID
SERVICE_DEPLOYMENT_ARN = re.compile(
    r"arn:[a-z-]+:ecs:(?P<region>[a-z0-9-]+):\d{12}:service-deployment/(?P<cluster>[^/]+)/(?P<service>[^/]+)/[^/]+")


class EcsServices(Protocol):
    """What the CodeDeploy backend uses of the AWS ECS backend (conveyor.providers.aws.ecs.AwsEcs)."""

    def task_definition_arn(self, environment: str, name: str) -> str: ...

    def describe_raw_service(self, environment: str, service: str) -> dict[str, Any]: ...


def parse_service_deployment_arn(arn: str) -> tuple[str, str, str] | None:
    """(region, cluster, service) of a service deployment ARN, None for anything else.

    >>> parse_service_deployment_arn("arn:aws:ecs:eu-west-1:123456789012:service-deployment/prod/orders/Ab12")
    ('eu-west-1', 'prod', 'orders')
    """
    match = SERVICE_DEPLOYMENT_ARN.fullmatch(arn)
    return (match["region"], match["cluster"], match["service"]) if match else None


class EcsNative:
    def __init__(self, apis: AwsApis, ecs: EcsServices, journal: DeploymentJournal,
                 clock: Callable[[], float] = time.time):
        self._apis = apis
        self._ecs = ecs
        self._journal = journal
        self._clock = clock
        #: service revision ARN → DescribeServiceRevisions' entry (revisions never change)
        self._revisions: dict[str, dict[str, Any]] = {}
        #: deployment ARN → (creator, origin) as create() was told (ECS keeps neither)
        self._made: dict[str, tuple[str, dict[str, Any]]] = {}

    # -- creating
    def create(self, spec: ServiceSpec, *, task_definition: str, appspec: str | None, appspec_source: str,
               creator: str, origin: Mapping[str, object]) -> CodeDeployDeployment:
        env, api = self._apis.environment(spec.environment), self._apis.api(spec.environment)
        arn = self._ecs.task_definition_arn(spec.environment, task_definition)
        if appspec is not None:
            hooks = parse_checked(appspec.replace(TASK_DEFINITION_TOKEN, arn), appspec_source).hooks
            if hooks:
                raise UserError(reasons.native_appspec_hooks(appspec_source, [event for event, _ in hooks]),
                                hint=reasons.HINT_NATIVE_HOOKS)
        service = self._ecs.describe_raw_service(spec.environment, spec.name)
        current = self._current_of(api, service)
        if current is not None and service.get("taskDefinition") == arn and current.get("status") in (
                *IN_FLIGHT, "SUCCESSFUL"):
            return self._view(spec.environment, api, current)
        if current is not None and current.get("status") in IN_FLIGHT:
            stage = str(current.get("lifecycleStage") or current.get("status"))
            raise DeploymentLimitExceeded(reasons.deployment_limit_exceeded(
                str(current["serviceDeploymentArn"]), spec.environment, spec.name, stage),
                hint=reasons.HINT_DEPLOYMENT_LIMIT)
        params: dict[str, Any] = {
            "cluster": env.cluster, "service": spec.name, "taskDefinition": arn,
            "deploymentConfiguration": deployment_configuration(spec.deployment,
                                                                service.get("deploymentConfiguration") or {})}
        if (service.get("deploymentController") or {}).get("type", "ECS") != "ECS":
            params["deploymentController"] = {"type": "ECS"}
        dep_arn = self._update(api, env.cluster, spec.name, params)
        self._made[dep_arn] = (creator, dict(origin))
        return self.get(spec.environment, dep_arn)

    def _update(self, api: AwsApi, cluster: str, service: str, params: dict[str, Any]) -> str:
        """UpdateService; the ARN of the service deployment it started."""
        started = api.call("ecs", "UpdateService", **params)["service"].get("currentServiceDeployment")
        if started:
            return str(started)
        listed = api.call("ecs", "ListServiceDeployments", cluster=cluster, service=service,
                          status=["PENDING", "IN_PROGRESS"]).get("serviceDeployments") or []
        if not listed:
            raise NotFound(reasons.none_in_progress(cluster, service))
        return str(max(listed, key=lambda d: d.get("createdAt") or 0)["serviceDeploymentArn"])

    # -- reading
    def get(self, environment: str, arn: str) -> CodeDeployDeployment:
        api = self._apis.api(environment)
        found = self._describe(api, [arn])
        if not found:
            raise NotFound(reasons.no_deployment(arn))
        return self._view(environment, api, found[0])

    def list_deployments(self, environment: str, service: str, limit: int) -> list[CodeDeployDeployment]:
        env, api = self._apis.environment(environment), self._apis.api(environment)
        listed = api.call("ecs", "ListServiceDeployments", cluster=env.cluster, service=service,
                          maxResults=min(max(limit, 1), 100)).get("serviceDeployments") or []
        found = self._describe(api, [str(d["serviceDeploymentArn"]) for d in listed])
        found.sort(key=lambda d: d.get("createdAt") or 0, reverse=True)
        return [self._view(environment, api, sd) for sd in found[:limit]]

    # -- people acting on the deployment in flight
    def continue_(self, environment: str, service: dict[str, Any], *, who: str, reason: str,
                  wait_type: str | None) -> CodeDeployDeployment:
        api = self._apis.api(environment)
        sd = self._in_flight(environment, api, service)
        arn = str(sd["serviceDeploymentArn"])
        paused = next((h for h in sd.get("lifecycleHookDetails") or []
                       if h.get("targetType") == "PAUSE" and h.get("status") == "AWAITING_ACTION"), None)
        if paused is None or wait_type == "TERMINATION_WAIT":
            raise DeploymentNotReady(reasons.native_not_paused(arn, str(sd.get("lifecycleStage") or sd.get("status"))),
                                     hint=reasons.HINT_NATIVE_CONTINUE)
        api.call("ecs", "ContinueServiceDeployment", serviceDeploymentArn=arn, hookId=str(paused["hookId"]),
                 action="CONTINUE")
        self._journal.record(arn, who, reasons.action_continue(reasons.PAUSE_HOOK), reason)
        return self.get(environment, arn)

    def stop(self, environment: str, service: dict[str, Any], *, who: str, reason: str,
             rollback: bool | None) -> CodeDeployDeployment:
        api = self._apis.api(environment)
        sd = self._in_flight(environment, api, service)
        arn = str(sd["serviceDeploymentArn"])
        if rollback is False:
            raise UserError(reasons.native_stop_without_rollback(arn), hint=reasons.HINT_NATIVE_STOP)
        api.call("ecs", "StopServiceDeployment", serviceDeploymentArn=arn, stopType="ROLLBACK")
        self._journal.record(arn, who, reasons.action_stop(True), reason)
        return self.get(environment, arn)

    def promote(self, environment: str, service: dict[str, Any]) -> CodeDeployDeployment:
        sd = self._in_flight(environment, self._apis.api(environment), service)
        strategy = str((sd.get("deploymentConfiguration") or {}).get("strategy") or "")
        raise UserError(reasons.native_cannot_promote(str(sd["serviceDeploymentArn"]),
                                                      str(sd.get("lifecycleStage") or sd.get("status")), strategy),
                        hint=reasons.HINT_NATIVE_PROMOTE)

    def roll_back(self, environment: str, service: dict[str, Any], *, who: str, reason: str) -> CodeDeployDeployment:
        env, api = self._apis.environment(environment), self._apis.api(environment)
        name = str(service.get("serviceName") or "")
        current = self._current_of(api, service)
        if current is not None and current.get("status") in IN_FLIGHT:
            arn = str(current["serviceDeploymentArn"])
            api.call("ecs", "StopServiceDeployment", serviceDeploymentArn=arn, stopType="ROLLBACK")
            self._journal.record(arn, who, reasons.ACTION_ROLLBACK, reason)
            return self.get(environment, arn)
        running = str(service.get("taskDefinition") or "")
        previous = self._previous_task_definition(api, env.cluster, name, running)
        if previous is None:
            raise UserError(reasons.native_no_previous(environment, name), hint=reasons.HINT_NO_EARLIER_REVISION)
        arn = self._update(api, env.cluster, name, {"cluster": env.cluster, "service": name,
                                                    "taskDefinition": previous})
        self._made[arn] = ("codeDeployRollback", {"by": who})
        self._journal.record(arn, who, reasons.action_redeploy(previous.rsplit("/", 1)[-1]), reason)
        return self.get(environment, arn)

    def _previous_task_definition(self, api: AwsApi, cluster: str, service: str, running: str) -> str | None:
        """The task definition ARN of the revision before the one running, from the service's
        successful deployments (their source revisions, then their targets), newest first."""
        listed = api.call("ecs", "ListServiceDeployments", cluster=cluster, service=service, status=["SUCCESSFUL"],
                          maxResults=ROLLBACK_SCAN).get("serviceDeployments") or []
        found = sorted(self._describe(api, [str(d["serviceDeploymentArn"]) for d in listed]),
                       key=lambda d: d.get("createdAt") or 0, reverse=True)
        candidates = [str(r["arn"]) for sd in found[:1] for r in sd.get("sourceServiceRevisions") or []]
        candidates += [str((sd.get("targetServiceRevision") or {}).get("arn")) for sd in found[1:]]
        self._ensure_revisions(api, candidates)
        for arn in candidates:
            task_definition = str((self._revisions.get(arn) or {}).get("taskDefinition") or "")
            if task_definition and task_definition != running:
                return task_definition
        return None

    # -- helpers
    def _current_of(self, api: AwsApi, service: Mapping[str, Any]) -> dict[str, Any] | None:
        arn = service.get("currentServiceDeployment")
        found = self._describe(api, [str(arn)]) if arn else []
        return found[0] if found else None

    def _in_flight(self, environment: str, api: AwsApi, service: Mapping[str, Any]) -> dict[str, Any]:
        current = self._current_of(api, service)
        if current is None or current.get("status") not in IN_FLIGHT:
            raise DeploymentNotReady(reasons.none_in_progress(environment, str(service.get("serviceName") or "")))
        return current

    def _describe(self, api: AwsApi, arns: list[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i in range(0, len(arns), ARNS_PER_CALL):
            out += api.call("ecs", "DescribeServiceDeployments",
                            serviceDeploymentArns=arns[i:i + ARNS_PER_CALL]).get("serviceDeployments") or []
        return out

    def _ensure_revisions(self, api: AwsApi, arns: list[str]) -> None:
        missing = sorted({a for a in arns if a and a not in self._revisions})
        for i in range(0, len(missing), ARNS_PER_CALL):
            for rev in api.call("ecs", "DescribeServiceRevisions",
                                serviceRevisionArns=missing[i:i + ARNS_PER_CALL]).get("serviceRevisions") or []:
                self._revisions[str(rev["serviceRevisionArn"])] = rev

    def _view(self, environment: str, api: AwsApi, sd: dict[str, Any]) -> CodeDeployDeployment:
        arn = str(sd["serviceDeploymentArn"])
        revisions = [str((sd.get("targetServiceRevision") or {}).get("arn") or "")]
        revisions += [str(r.get("arn")) for r in sd.get("sourceServiceRevisions") or []]
        self._ensure_revisions(api, revisions)
        parsed = parse_service_deployment_arn(arn)
        service = parsed[2] if parsed else str(sd.get("serviceArn") or "").rsplit("/", 1)[-1]
        creator, origin = self._made.get(arn, ("user", {}))
        return service_deployment_view(sd, self._revisions, environment=environment, service=service, creator=creator,
                                       actions=self._journal.entries(arn), now=self._clock(), origin=origin)

