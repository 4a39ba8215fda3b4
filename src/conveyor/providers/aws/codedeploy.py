"""CodeDeployApi on AWS: blue/green deployments of CODE_DEPLOY services through CodeDeploy
(aws-semantics §5), or, when the service's `deployment:` block names a `strategy`, through ECS
itself (§4.7, conveyor.providers.aws.ecs_native). The application is the environment's
`codeDeployApplication`, the deployment group is the service's name; Conveyor creates neither.

    cd = AwsCodeDeploy(apis, ecs)                            # ecs: AwsEcs (task_definition_arn, describe_raw_service)
    d = cd.create_deployment(spec, task_definition="orders:7", appspec=None, appspec_source="appspec.yaml",
                             client_token="ex-1/Deploy/Deploy/1", creator="CodePipeline", origin={}, workdir=None)
    cd.get_deployment(d.id).phase                            # 'Install', 'AllowTraffic', …
    cd.stop_deployment("production", "orders", who="ana", reason="p99", rollback=True)

Idempotency: CreateDeployment has no client token, so the key (hashed) goes into the deployment's
description; before creating, the group's deployments in flight and those of the last week are
read and the one carrying the key is returned. People's actions go to a journal (who, when, why),
shown in each deployment's history.

    codedeploy_revision.py  the AppSpec sent, the config named, the description with the key
    codedeploy_views.py     GetDeployment + GetDeploymentTarget → CodeDeployDeployment (pure)
    codedeploy_groups.py    a group's deployments; the environment of a deployment id
    codedeploy_journal.py   people's actions        codedeploy_reasons.py   every text
    ecs_native.py, ecs_native_views.py              the same protocol over ECS service deployments
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from conveyor.backend.errors import DeploymentLimitExceeded, DeploymentNotReady
from conveyor.backend.types import CodeDeployDeployment
from conveyor.config.codedeploy_model import DEPLOYMENT_STOP_ON_REQUEST
from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import NotFound, UserError
from conveyor.providers.aws import codedeploy_reasons as reasons
from conveyor.providers.aws.api import AwsApi
from conveyor.providers.aws.apis import AwsApis
from conveyor.providers.aws.codedeploy_groups import SCAN_CAP, GroupDeployments
from conveyor.providers.aws.codedeploy_journal import DeploymentJournal, MemoryJournal
from conveyor.providers.aws.codedeploy_revision import (
    carries_key,
    deployment_config_name,
    deployment_description,
    prepare_appspec,
)
from conveyor.providers.aws.codedeploy_views import (
    AWS_ROLLBACK_CREATOR,
    IN_FLIGHT,
    appspec_content,
    deployment_view,
    task_definition_of,
)
from conveyor.providers.aws.ecs_native import EcsNative, EcsServices, parse_service_deployment_arn
from conveyor.providers.aws.ecs_native_views import is_native
from conveyor.providers.aws.settings import AwsEnvironment

#: What can be a CodeDeploy deployment id ("d-" and nine capitals or digits on AWS; moto makes
#: UUIDs): anything else (an ECS deployment "ecs-svc/…", an ARN) is not asked about.
DEPLOYMENT_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
#: A re-run finds its deployment among those created this long ago at most (the longest an ECS
#: deployment can be in flight: a 120 h ready wait plus a 48 h termination wait, §5.8).
KEY_WINDOW = 7 * 24 * 3600.0
#: list_deployments reads the deployments of this period (ListDeployments has no documented order).
LIST_WINDOW = 30 * 24 * 3600.0
ROLLBACK_CREATOR = "codeDeployRollback"
FINAL_HOOK_STATUSES = ("Succeeded", "Failed")


class AwsCodeDeploy:
    def __init__(self, apis: AwsApis, ecs: EcsServices, *, journal: DeploymentJournal | None = None,
                 clock: Callable[[], float] = time.time):
        self._apis = apis
        self._ecs = ecs
        self._journal: DeploymentJournal = journal if journal is not None else MemoryJournal(clock)
        self._clock = clock
        self._native = EcsNative(apis, ecs, self._journal, clock)
        self._groups = GroupDeployments(apis)
        self._targets: dict[str, str] = {}  # deployment id → its ECS target id
        self._ended: dict[str, dict[str, Any]] = {}  # deployment id → its target once the deployment ended
        self._origins: dict[str, dict[str, Any]] = {}
        self._native_services: dict[tuple[str, str], bool] = {}

    # -- creating
    def create_deployment(self, spec: ServiceSpec, *, task_definition: str, appspec: str | None,
                          appspec_source: str, client_token: str | None, creator: str,
                          origin: Mapping[str, object], workdir: str | None) -> CodeDeployDeployment:
        if not spec.blue_green:
            raise UserError(reasons.not_code_deploy(spec.name, spec.environment, spec.controller),
                            hint=reasons.HINT_NOT_CODE_DEPLOY)
        if "strategy" in spec.deployment:
            made = self._native.create(spec, task_definition=task_definition, appspec=appspec,
                                       appspec_source=appspec_source, creator=creator, origin=origin)
            self._native_services[(spec.environment, spec.name)] = True
            self._groups.where[made.id] = spec.environment
            return made
        env, api = self._apis.environment(spec.environment), self._apis.api(spec.environment)
        arn = self._ecs.task_definition_arn(spec.environment, task_definition)
        content, _ = prepare_appspec(spec, appspec, appspec_source, task_definition, arn)
        config = deployment_config_name(spec)
        in_flight: list[dict[str, Any]] = []
        if client_token:
            found, in_flight = self._find_key(api, env, spec.name, client_token)
            if found is not None:
                return self._view(env.name, api, found)
        if in_flight:
            raise self._limit(api, env, spec.name, in_flight[0])
        params: dict[str, Any] = {
            "applicationName": env.codedeploy_application, "deploymentGroupName": spec.name,
            "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": content}},
            "description": deployment_description(task_definition, creator, client_token)}
        if config is not None:
            params["deploymentConfigName"] = config
        dep_id = self._create(api, env, spec.name, params)
        self._native_services[(spec.environment, spec.name)] = False
        self._origins[dep_id] = dict(origin)
        return self.get_deployment(dep_id)

    def _create(self, api: AwsApi, env: AwsEnvironment, group: str, params: dict[str, Any]) -> str:
        try:
            dep_id = str(self._groups.call(api, env, group, "CreateDeployment", **params)["deploymentId"])
        except DeploymentLimitExceeded:
            running = self._groups.infos(api, env, group, statuses=IN_FLIGHT)
            if not running:
                raise
            raise self._limit(api, env, group, running[0]) from None
        self._groups.where[dep_id] = env.name
        return dep_id

    def _find_key(self, api: AwsApi, env: AwsEnvironment, group: str,
                  key: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The deployment the key created (in flight, or created in the last KEY_WINDOW), and the
        deployments in flight."""
        running = self._groups.ids(api, env, group, statuses=IN_FLIGHT)
        recent = self._groups.ids(api, env, group, since=self._clock() - KEY_WINDOW)
        infos = self._groups.batch(api, list(dict.fromkeys(running + recent))[:SCAN_CAP])
        found = next((i for i in infos if carries_key(i.get("description"), key)), None)
        return found, [i for i in infos if i.get("status") in IN_FLIGHT]

    def _limit(self, api: AwsApi, env: AwsEnvironment, group: str, running: dict[str, Any]) -> DeploymentLimitExceeded:
        view = self._view(env.name, api, running)
        return DeploymentLimitExceeded(reasons.deployment_limit_exceeded(view.id, env.name, group, view.phase),
                                       hint=reasons.HINT_DEPLOYMENT_LIMIT)

    # -- reading
    def get_deployment(self, deployment_id: str) -> CodeDeployDeployment:
        if parse_service_deployment_arn(deployment_id) is not None:
            return self._native.get(self._groups.environment_of_arn(deployment_id), deployment_id)
        if not DEPLOYMENT_ID.fullmatch(deployment_id):
            raise NotFound(reasons.no_deployment(deployment_id))
        environment = self._groups.where.get(deployment_id)
        if environment is None:
            environment, info = self._groups.locate(deployment_id)
        else:
            info = self._apis.api(environment).call("codedeploy", "GetDeployment",
                                                    deploymentId=deployment_id)["deploymentInfo"]
        return self._view(environment, self._apis.api(environment), info)

    def list_deployments(self, environment: str, service: str, limit: int = 10) -> list[CodeDeployDeployment]:
        if self._native_service(environment, service) is not None:
            return self._native.list_deployments(environment, service, limit)
        env, api = self._apis.environment(environment), self._apis.api(environment)
        ids = (self._groups.ids(api, env, service, since=self._clock() - LIST_WINDOW)
               or self._groups.ids(api, env, service))
        infos = self._groups.batch(api, ids)[:limit]
        # Lifecycle events (two calls each) for the newest and those in flight; the others as listed.
        return [self._view(environment, api, info, target=i == 0 or info.get("status") in IN_FLIGHT)
                for i, info in enumerate(infos)]

    # -- people acting on the deployment in flight
    def continue_deployment(self, environment: str, service: str, *, who: str, reason: str,
                            wait_type: str | None = None) -> CodeDeployDeployment:
        native = self._native_service(environment, service)
        if native is not None:
            return self._native.continue_(environment, native, who=who, reason=reason, wait_type=wait_type)
        env, api = self._apis.environment(environment), self._apis.api(environment)
        info = self._current(api, env, service)
        dep_id = str(info["deploymentId"])
        waiting_in = ("READY_WAIT" if info.get("status") == "Ready"
                      else "TERMINATION_WAIT" if info.get("instanceTerminationWaitTimeStarted") else None)
        if waiting_in is None or (wait_type is not None and wait_type != waiting_in):
            phase = self._view(environment, api, info).phase
            raise DeploymentNotReady(reasons.not_waiting(dep_id, phase, wait_type), hint=reasons.HINT_CONTINUE)
        api.call("codedeploy", "ContinueDeployment", deploymentId=dep_id, deploymentWaitType=waiting_in)
        self._journal.record(dep_id, who, reasons.action_continue(waiting_in), reason)
        return self.get_deployment(dep_id)

    def stop_deployment(self, environment: str, service: str, *, who: str, reason: str,
                        rollback: bool | None) -> CodeDeployDeployment:
        native = self._native_service(environment, service)
        if native is not None:
            return self._native.stop(environment, native, who=who, reason=reason, rollback=rollback)
        env, api = self._apis.environment(environment), self._apis.api(environment)
        dep_id = str(self._current(api, env, service)["deploymentId"])
        if rollback is None:
            group = self._groups.call(api, env, service, "GetDeploymentGroup",
                                      applicationName=env.codedeploy_application,
                                      deploymentGroupName=service)["deploymentGroupInfo"]
            auto = group.get("autoRollbackConfiguration") or {}
            rollback = bool(auto.get("enabled")) and DEPLOYMENT_STOP_ON_REQUEST in (auto.get("events") or [])
        api.call("codedeploy", "StopDeployment", deploymentId=dep_id, autoRollbackEnabled=rollback)
        self._journal.record(dep_id, who, reasons.action_stop(rollback), reason)
        return self.get_deployment(dep_id)

    def promote(self, environment: str, service: str, *, who: str, reason: str) -> CodeDeployDeployment:
        """CodeDeploy and ECS shift traffic only as their configs say: there is nothing to call."""
        native = self._native_service(environment, service)
        if native is not None:
            return self._native.promote(environment, native)
        env, api = self._apis.environment(environment), self._apis.api(environment)
        info = self._current(api, env, service)
        view = self._view(environment, api, info)
        raise UserError(reasons.cannot_promote(view.id, view.phase, str(info.get("deploymentConfigName") or "")),
                        hint=reasons.HINT_PROMOTE)

    def roll_back(self, environment: str, service: str, *, who: str, reason: str) -> CodeDeployDeployment:
        """In flight: StopDeployment with rollback (traffic back to blue). Else: the previous
        successful revision's AppSpec deployed again."""
        native = self._native_service(environment, service)
        if native is not None:
            return self._native.roll_back(environment, native, who=who, reason=reason)
        env, api = self._apis.environment(environment), self._apis.api(environment)
        running = self._groups.infos(api, env, service, statuses=IN_FLIGHT)
        own = [i for i in running if i.get("creator") != AWS_ROLLBACK_CREATOR]
        if own:
            dep_id = str(own[0]["deploymentId"])
            api.call("codedeploy", "StopDeployment", deploymentId=dep_id, autoRollbackEnabled=True)
            self._journal.record(dep_id, who, reasons.ACTION_ROLLBACK, reason)
            return self.get_deployment(dep_id)
        if running:  # CodeDeploy is rolling back already: production is on its way to blue
            return self._view(environment, api, running[0])
        succeeded = self._groups.infos(api, env, service, statuses=("Succeeded",))
        current = task_definition_of(succeeded[0]) if succeeded else None
        previous = next((i for i in succeeded[1:] if task_definition_of(i) != current), None)
        if previous is None:
            raise UserError(reasons.no_earlier_revision(environment, service), hint=reasons.HINT_NO_EARLIER_REVISION)
        task_definition = task_definition_of(previous)
        content = self._appspec_of(api, env, service, previous)
        dep_id = self._create(api, env, service, {
            "applicationName": env.codedeploy_application, "deploymentGroupName": service,
            "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": content}},
            "description": deployment_description(task_definition, ROLLBACK_CREATOR, None)})
        self._origins[dep_id] = {"rollbackOf": str(succeeded[0]["deploymentId"]), "by": who}
        self._journal.record(dep_id, who, reasons.action_redeploy(task_definition), reason)
        return self.get_deployment(dep_id)

    def _appspec_of(self, api: AwsApi, env: AwsEnvironment, group: str, info: Mapping[str, Any]) -> str:
        content = appspec_content(info.get("revision"))
        if content is None and info.get("revision"):
            answer = self._groups.call(api, env, group, "GetApplicationRevision",
                                       applicationName=env.codedeploy_application, revision=info["revision"])
            content = appspec_content(answer.get("revision"))
        if content is None:
            raise UserError(reasons.no_appspec_content(str(info["deploymentId"])))
        return content

    def put_lifecycle_event_hook_execution_status(self, deployment_id: str, execution_id: str,
                                                  status: str) -> str:
        if status not in FINAL_HOOK_STATUSES:
            raise UserError(reasons.hook_status_not_final(status))
        if parse_service_deployment_arn(deployment_id) is not None:
            raise UserError(reasons.native_hook_status(deployment_id), hint=reasons.HINT_NATIVE_HOOK_STATUS)
        if not DEPLOYMENT_ID.fullmatch(deployment_id):
            raise NotFound(reasons.no_deployment(deployment_id))
        environment = self._groups.where.get(deployment_id) or self._groups.locate(deployment_id)[0]
        answer = self._apis.api(environment).call("codedeploy", "PutLifecycleEventHookExecutionStatus",
                                                  deploymentId=deployment_id,
                                                  lifecycleEventHookExecutionId=execution_id, status=status)
        return str(answer.get("lifecycleEventHookExecutionId") or execution_id)

    # -- helpers: finding deployments
    def _native_service(self, environment: str, service: str) -> dict[str, Any] | None:
        """The ECS service when it is deployed ECS-natively (strategy), else None (CodeDeploy)."""
        if self._native_services.get((environment, service)) is False:
            return None
        raw = self._ecs.describe_raw_service(environment, service)
        self._native_services[(environment, service)] = is_native(raw)
        return raw if is_native(raw) else None

    def _current(self, api: AwsApi, env: AwsEnvironment, group: str) -> dict[str, Any]:
        running = self._groups.infos(api, env, group, statuses=IN_FLIGHT)
        if not running:
            raise DeploymentNotReady(reasons.none_in_progress(env.name, group))
        return running[0]

    # -- helpers: views
    def _view(self, environment: str, api: AwsApi, info: dict[str, Any], *,
              target: bool = True) -> CodeDeployDeployment:
        dep_id = str(info["deploymentId"])
        self._groups.where.setdefault(dep_id, environment)
        ecs_target = self._ended.get(dep_id)
        if ecs_target is None and target and info.get("status") not in ("Created", "Queued"):
            ecs_target = self._target(api, dep_id)
            if ecs_target is not None and info.get("status") not in IN_FLIGHT:
                self._ended[dep_id] = ecs_target
        return deployment_view(info, ecs_target, environment=environment, actions=self._journal.entries(dep_id),
                               now=self._clock(), origin=self._origins.get(dep_id))

    def _target(self, api: AwsApi, dep_id: str) -> dict[str, Any] | None:
        """The deployment's ECS target (ListDeploymentTargets once, then GetDeploymentTarget)."""
        target_id = self._targets.get(dep_id)
        if target_id is None:
            ids = api.call("codedeploy", "ListDeploymentTargets", deploymentId=dep_id).get("targetIds") or []
            if not ids:
                return None
            target_id = self._targets[dep_id] = str(ids[0])
        found = api.call("codedeploy", "GetDeploymentTarget", deploymentId=dep_id, targetId=target_id)
        ecs: dict[str, Any] | None = (found.get("deploymentTarget") or {}).get("ecsTarget")
        return ecs
