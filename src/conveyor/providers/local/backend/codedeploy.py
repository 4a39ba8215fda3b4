"""CodeDeploy over the local deploy controller (task sets, traffic shifting, hooks, alarms)."""

from __future__ import annotations

from collections.abc import Mapping

from conveyor.backend.types import (
    CodeDeployDeployment,
)
from conveyor.deploy.spec import ServiceSpec
from conveyor.providers.local.codedeploy.controller import (
    DeployController,
)


class LocalCodeDeploy:
    def __init__(self, deploys: DeployController):
        self._deploys = deploys

    def create_deployment(self, spec: ServiceSpec, *, task_definition: str, appspec: str | None,
                          appspec_source: str, client_token: str | None, creator: str,
                          origin: Mapping[str, object], workdir: str | None) -> CodeDeployDeployment:
        d = self._deploys.create(spec, task_definition=task_definition, appspec_text=appspec,
                                 appspec_source=appspec_source, creator=creator, origin=dict(origin),
                                 workdir=workdir, client_token=client_token)
        return self._deploys.view(d.id)

    def get_deployment(self, deployment_id: str) -> CodeDeployDeployment:
        return self._deploys.view(deployment_id)

    def list_deployments(self, environment: str, service: str, limit: int = 10) -> list[CodeDeployDeployment]:
        return self._deploys.views(environment, service, limit)

    def continue_deployment(self, environment: str, service: str, *, who: str, reason: str,
                            wait_type: str | None = None) -> CodeDeployDeployment:
        d = self._deploys.continue_deployment(environment, service, who=who, reason=reason, wait_type=wait_type)
        return self._deploys.view(d.id)

    def stop_deployment(self, environment: str, service: str, *, who: str, reason: str,
                        rollback: bool | None) -> CodeDeployDeployment:
        d = self._deploys.stop(environment, service, who=who, reason=reason, rollback=rollback)
        return self._deploys.view(d.id)

    def promote(self, environment: str, service: str, *, who: str, reason: str) -> CodeDeployDeployment:
        return self._deploys.view(self._deploys.promote(environment, service, who=who, reason=reason).id)

    def roll_back(self, environment: str, service: str, *, who: str, reason: str) -> CodeDeployDeployment:
        return self._deploys.view(self._deploys.rollback(environment, service, who=who, reason=reason).id)

    def put_lifecycle_event_hook_execution_status(self, deployment_id: str, execution_id: str,
                                                  status: str) -> str:
        return self._deploys.put_hook_status(deployment_id, execution_id, status)["lifecycleEventHookExecutionId"]
