"""The seam between Conveyor's release logic and what runs the containers: one protocol per AWS
service the pipeline uses, at the level of that service's API (not of pods or HAProxy), with
neutral typed answers (conveyor.backend.types).

A backend is a bundle of five parts:

    registry        ECR         repository URI, login for a build, describe images, ensure repository
    ecs             ECS         register a task definition revision, create/update/scale a service,
                                describe it with its deployments (rollout state), tasks and events
    codedeploy      CodeDeploy  create a deployment from AppSpec content, get it with its lifecycle
                                events, continue, stop (with or without rollback), a hook's status
    load_balancers  ELBv2       target health per target group, listener weights (reads only)
    alarms          CloudWatch  alarm states with history, and the metrics they judge (reads only)

`local` (conveyor.providers.local.backend: podman, HAProxy, the local registry, SQLite) and the
in-memory `fake` (conveyor.backend.fake, for unit tests) implement it; an AWS backend (boto3)
goes next to them. The release service (conveyor.release) picks the backend of each
environment's `target:`; nothing above it can tell which one it talks to.

Services are addressed by (environment, service name), as conveyor.yml names them; a backend
maps that to its own names (a local target group `staging-orders`, an ECS service ARN).
Creating calls take a `client_token`: the same token twice yields the first call's result, so a
caller that crashed between the call and recording its answer can call again safely.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from conveyor.backend.types import (
    AlarmView,
    CodeDeployDeployment,
    ContainerLog,
    EcsDeployment,
    ImageDetail,
    RegistryLogin,
    Repository,
    Rollout,
    ServiceDescription,
    ServiceMetrics,
    ServiceSummary,
    TargetHealth,
    TaskDefinitionRevision,
)
from conveyor.deploy.spec import ServiceSpec


class ImageRegistry(Protocol):
    """ECR: where images go, and what is there."""

    def repository_uri(self, repository: str) -> str:
        """The URI a build tags and pushes to (`ACCOUNT.dkr.ecr.REGION.HOST/NAME`)."""
        ...

    def login(self) -> RegistryLogin:
        """Credentials for `docker login --password-stdin` from a build (GetAuthorizationToken)."""
        ...

    def describe_repositories(self) -> list[Repository]: ...

    def describe_images(self, repository: str) -> list[ImageDetail]:
        """Images of one repository, newest first (NotFound for an unknown repository)."""
        ...

    def ensure_repository(self, name: str, *, tag_mutability: str = "MUTABLE",
                          exclusion_filters: tuple[dict[str, Any], ...] = (),
                          lifecycle_policy: dict[str, Any] | None = None, scan_on_push: bool = False) -> Repository:
        """CreateRepository, or bring an existing one's settings to these (idempotent)."""
        ...


class EcsApi(Protocol):
    """ECS: task definitions and services."""

    def register_task_definition(self, environment: str, body: dict[str, Any]) -> TaskDefinitionRevision:
        """A new revision of body's family (the latest one again when nothing changed)."""
        ...

    def describe_task_definition(self, environment: str, name: str) -> TaskDefinitionRevision | None:
        """`family:revision` → the registered revision, or None."""
        ...

    def update_service(self, spec: ServiceSpec, *, task_definition: str, client_token: str | None,
                       origin: Mapping[str, object]) -> EcsDeployment:
        """CreateService/UpdateService of a rolling (controller ECS) service: `task_definition`
        becomes its PRIMARY deployment. Updating to what already runs starts nothing and returns
        the PRIMARY deployment; the same client_token returns the deployment it created."""
        ...

    def declare_service(self, spec: ServiceSpec, *, task_definition: str) -> None:
        """CreateService of a CODE_DEPLOY service (or refresh an existing one's declaration, its
        listeners and target group pair): no deployment starts; CodeDeploy creates task sets."""
        ...

    def scale_service(self, environment: str, service: str, desired_count: int, *, by: str) -> ServiceDescription: ...

    def list_services(self) -> list[ServiceSummary]: ...

    def describe_service(self, environment: str, service: str) -> ServiceDescription:
        """The service with its latest deployments, tasks, events and targets (NotFound if none)."""
        ...

    def describe_rollout(self, environment: str, service: str) -> Rollout:
        """What the latest rolling deployment waits for, in words and counts."""
        ...

    def describe_deployment(self, environment: str, service: str, deployment_id: str) -> EcsDeployment: ...

    def roll_back_service(self, environment: str, service: str, *, who: str, reason: str) -> EcsDeployment:
        """Deploy the last revision that completed before the current one (a new deployment)."""
        ...

    def service_logs(self, environment: str, service: str, tail: int) -> list[ContainerLog]: ...


class CodeDeployApi(Protocol):
    """CodeDeploy for ECS: blue/green deployments of CODE_DEPLOY services."""

    def create_deployment(self, spec: ServiceSpec, *, task_definition: str, appspec: str | None,
                          appspec_source: str, client_token: str | None, creator: str,
                          origin: Mapping[str, object], workdir: str | None) -> CodeDeployDeployment:
        """CreateDeployment with AppSpec content (None: the service's container and port, no
        hooks). Refused with DeploymentLimitExceeded while another one is in progress, unless
        the client_token is the one that created it: then that deployment is returned."""
        ...

    def get_deployment(self, deployment_id: str) -> CodeDeployDeployment:
        """GetDeployment with its target's lifecycle events (NotFound if unknown)."""
        ...

    def list_deployments(self, environment: str, service: str, limit: int = 10) -> list[CodeDeployDeployment]:
        """The group's deployments, newest first."""
        ...

    def continue_deployment(self, environment: str, service: str, *, who: str, reason: str,
                            wait_type: str | None = None) -> CodeDeployDeployment:
        """ContinueDeployment of the deployment in progress: READY_WAIT (reroute now) or
        TERMINATION_WAIT (terminate blue now); None: whichever it waits in."""
        ...

    def stop_deployment(self, environment: str, service: str, *, who: str, reason: str,
                        rollback: bool | None) -> CodeDeployDeployment:
        """StopDeployment; rollback None follows the group's DEPLOYMENT_STOP_ON_REQUEST."""
        ...

    def promote(self, environment: str, service: str, *, who: str, reason: str) -> CodeDeployDeployment:
        """Skip the remaining traffic steps: all production traffic to green now."""
        ...

    def roll_back(self, environment: str, service: str, *, who: str, reason: str) -> CodeDeployDeployment:
        """Production back on the previous revision the fastest way there is: reroute to blue
        while it runs, else deploy the previous revision."""
        ...

    def put_lifecycle_event_hook_execution_status(self, deployment_id: str, execution_id: str,
                                                  status: str) -> str:
        """A hook reports Succeeded or Failed; returns the execution id."""
        ...


class LoadBalancerReads(Protocol):
    """ELBv2, read only: the deploy controllers own the writes."""

    def target_health(self, environment: str, target_group: str) -> list[TargetHealth]: ...

    def listener_weights(self, environment: str, port: int) -> dict[str, int]:
        """Target group name → forward weight of the listener on `port`."""
        ...


class AlarmReads(Protocol):
    """CloudWatch, read only."""

    def describe_alarms(self, environment: str, service: str) -> list[AlarmView]: ...

    def get_metrics(self, environment: str, service: str, seconds: int) -> ServiceMetrics: ...


@dataclass(frozen=True)
class Backend:
    """One backend: what `target: NAME` in conveyor.yml deploys to. Waiting for a deployment
    polls it every `poll_seconds`, backing off to `max_poll_seconds` while nothing changes."""

    name: str
    registry: ImageRegistry | None
    ecs: EcsApi
    codedeploy: CodeDeployApi
    load_balancers: LoadBalancerReads
    alarms: AlarmReads
    poll_seconds: float = 0.25
    max_poll_seconds: float = 0.25
    #: The registry for conveyor.yml `registry:` settings (region, profile, roleArn) when the
    #: backend has one per account and region (ECR); else `registry` serves every pipeline.
    registries: Callable[[Mapping[str, Any]], ImageRegistry] | None = None
