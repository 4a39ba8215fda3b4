"""An in-memory backend for unit tests of what sits above the seam (the release service, the
deploy actions, the API and the CLI): it keeps services and deployments in dictionaries, never
starts anything, and lets a test decide when a deployment finishes.

    fake = FakeBackend()
    releases = ReleaseService({"local": fake.backend}, ReleaseStore(":memory:"))
    r = releases.deploy(DeployRequest("staging", "orders", spec, taskdef=body))
    fake.ecs.complete(r.id)                     # or fake.ecs.fail(r.id, "circuit breaker")
    fake.calls                                  # [("update_service", "staging", "orders", "orders:1"), ...]

It follows the same contract as the local backend where a caller could tell the difference:
the same client token returns the same deployment, a second blue/green deployment in flight is
refused with DeploymentLimitExceeded, updating to the running revision starts nothing.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from conveyor.backend.errors import DeploymentLimitExceeded, DeploymentNotReady
from conveyor.backend.interface import Backend
from conveyor.backend.types import (
    AlarmView,
    CodeDeployDeployment,
    ContainerLog,
    EcsDeployment,
    HistoryEntry,
    ImageDetail,
    LoadBalancerView,
    RegistryLogin,
    Repository,
    Rollout,
    ServiceDescription,
    ServiceEvent,
    ServiceMetrics,
    ServiceSummary,
    TargetHealth,
    TaskDefinitionRevision,
)
from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import NotFound, UserError

Calls = list[tuple[Any, ...]]
#: Ids are unique across every fake in the process, as real deployment ids are across backends.
_IDS = itertools.count(1)


class FakeRegistry:
    def __init__(self, calls: Calls):
        self.calls = calls
        self.repositories: dict[str, Repository] = {}
        self.images: dict[str, list[ImageDetail]] = {}

    def repository_uri(self, repository: str) -> str:
        return f"000000000000.dkr.ecr.us-east-1.fake/{repository}"

    def login(self) -> RegistryLogin:
        return RegistryLogin("000000000000.dkr.ecr.us-east-1.fake", "AWS", "fake-password")

    def describe_repositories(self) -> list[Repository]:
        return list(self.repositories.values())

    def describe_images(self, repository: str) -> list[ImageDetail]:
        if repository not in self.repositories:
            raise NotFound(f"no repository '{repository}'")
        return list(self.images.get(repository, []))

    def ensure_repository(self, name: str, *, tag_mutability: str = "MUTABLE",
                          exclusion_filters: tuple[dict[str, Any], ...] = (),
                          lifecycle_policy: dict[str, Any] | None = None, scan_on_push: bool = False) -> Repository:
        self.calls.append(("ensure_repository", name, tag_mutability))
        self.repositories[name] = Repository(name, self.repository_uri(name), tag_mutability, exclusion_filters,
                                             lifecycle_policy, declared=True)
        return self.repositories[name]


class FakeEcs:
    def __init__(self, calls: Calls, clock: Callable[[], float], auto_complete: bool = False):
        self.calls = calls
        self.clock = clock
        self.auto_complete = auto_complete
        #: When set, every new deployment fails at once with this reason (a tripped circuit breaker).
        self.auto_fail: str | None = None
        self.taskdefs: dict[str, list[dict[str, Any]]] = {}
        self.specs: dict[tuple[str, str], ServiceSpec] = {}
        self.desired: dict[tuple[str, str], int] = {}
        self.deployments: dict[str, EcsDeployment] = {}
        self.tokens: dict[str, str] = {}
        self.events: dict[tuple[str, str], list[ServiceEvent]] = {}

    # -- what tests drive
    def complete(self, deployment_id: str) -> None:
        self._set(deployment_id, rollout_state="COMPLETED", completed_at=self.clock())

    def fail(self, deployment_id: str, reason: str) -> None:
        self._set(deployment_id, rollout_state="FAILED", rollout_state_reason=reason, completed_at=self.clock())

    # -- the API
    def register_task_definition(self, environment: str, body: dict[str, Any]) -> TaskDefinitionRevision:
        family = str(body["family"])
        revisions = self.taskdefs.setdefault(family, [])
        if not revisions or json.dumps(revisions[-1], sort_keys=True) != json.dumps(body, sort_keys=True):
            revisions.append(body)
            self.calls.append(("register_task_definition", family, len(revisions)))
        name = f"{family}:{len(revisions)}"
        return TaskDefinitionRevision(name, f"arn:aws:ecs:fake:000000000000:task-definition/{name}", revisions[-1])

    def describe_task_definition(self, environment: str, name: str) -> TaskDefinitionRevision | None:
        family, _, revision = name.rpartition(":")
        revisions = self.taskdefs.get(family, [])
        if not revision.isdigit() or not 0 < int(revision) <= len(revisions):
            return None
        return TaskDefinitionRevision(name, f"arn:aws:ecs:fake:000000000000:task-definition/{name}",
                                      revisions[int(revision) - 1])

    def update_service(self, spec: ServiceSpec, *, task_definition: str, client_token: str | None,
                       origin: Mapping[str, object]) -> EcsDeployment:
        if client_token and client_token in self.tokens:
            return self.deployments[self.tokens[client_token]]
        key = (spec.environment, spec.name)
        self.specs[key] = spec
        self.desired.setdefault(key, spec.desired_count)
        primary = self._primary(*key)
        if primary is not None and primary.task_definition == task_definition and primary.rollout_state != "FAILED":
            return primary
        if primary is not None:
            self._set(primary.id, status="ACTIVE")
        dep = EcsDeployment(id=f"ecs-svc/{next(_IDS)}", environment=spec.environment, service=spec.name,
                            status="PRIMARY", task_definition=task_definition, rollout_state="IN_PROGRESS",
                            created_at=self.clock(), updated_at=self.clock(), origin=dict(origin))
        self.deployments[dep.id] = dep
        if client_token:
            self.tokens[client_token] = dep.id
        self.calls.append(("update_service", spec.environment, spec.name, task_definition))
        if self.auto_fail is not None:
            self.fail(dep.id, self.auto_fail)
        elif self.auto_complete:
            self.complete(dep.id)
        return self.deployments[dep.id]

    def declare_service(self, spec: ServiceSpec, *, task_definition: str) -> None:
        key = (spec.environment, spec.name)
        self.specs[key] = spec
        self.desired.setdefault(key, spec.desired_count)

    def scale_service(self, environment: str, service: str, desired_count: int, *, by: str) -> ServiceDescription:
        self._spec(environment, service)
        self.desired[(environment, service)] = desired_count
        self.calls.append(("scale_service", environment, service, desired_count))
        return self.describe_service(environment, service)

    def list_services(self) -> list[ServiceSummary]:
        return [self._summary(*key) for key in sorted(self.specs)]

    def describe_service(self, environment: str, service: str) -> ServiceDescription:
        spec = self._spec(environment, service)
        lb = spec.load_balancer
        group = spec.target_group
        view = (LoadBalancerView(f"http://{lb.bind}:{lb.port}/", group.name, health_check_path=lb.health_check.path)
                if lb and group else None)
        return ServiceDescription(self._summary(environment, service), tuple(self._of(environment, service)),
                                  (), tuple(self.events.get((environment, service), [])), view)

    def describe_rollout(self, environment: str, service: str) -> Rollout:
        mine = self._of(environment, service)
        latest = mine[0] if mine else None
        waiting = ("no deployment yet" if latest is None else "fake: waiting for complete() or fail()"
                   if not latest.done else f"nothing: the deployment is {latest.rollout_state.lower()}")
        return Rollout(environment, service, latest, waiting, desired_count=self.desired.get((environment, service), 0))

    def describe_deployment(self, environment: str, service: str, deployment_id: str) -> EcsDeployment:
        dep = self.deployments.get(deployment_id)
        if dep is None or (dep.environment, dep.service) != (environment, service):
            raise NotFound(f"no deployment {deployment_id}")
        return dep

    def roll_back_service(self, environment: str, service: str, *, who: str, reason: str) -> EcsDeployment:
        primary = self._primary(environment, service)
        previous = next((d for d in self._of(environment, service)
                         if d.rollout_state == "COMPLETED" and primary
                         and d.task_definition != primary.task_definition),
                        None)
        if previous is None:
            raise UserError(f"{environment}/{service} has no earlier completed revision to roll back to")
        return self.update_service(self._spec(environment, service), task_definition=previous.task_definition,
                                   client_token=None, origin={"rollback": True, "by": who, "reason": reason})

    def service_logs(self, environment: str, service: str, tail: int) -> list[ContainerLog]:
        self._spec(environment, service)
        return [ContainerLog("task-1", "api", "fake log line")]

    # -- helpers
    def _spec(self, environment: str, service: str) -> ServiceSpec:
        spec = self.specs.get((environment, service))
        if spec is None:
            raise NotFound(f"no service '{service}' in environment '{environment}'")
        return spec

    def _of(self, environment: str, service: str) -> list[EcsDeployment]:
        return sorted((d for d in self.deployments.values() if (d.environment, d.service) == (environment, service)),
                      key=lambda d: int(d.id.rpartition("/")[2]), reverse=True)

    def _primary(self, environment: str, service: str) -> EcsDeployment | None:
        return next((d for d in self._of(environment, service) if d.status == "PRIMARY"), None)

    def _summary(self, environment: str, service: str) -> ServiceSummary:
        spec = self._spec(environment, service)
        primary = self._primary(environment, service)
        lb = spec.load_balancer
        return ServiceSummary(environment, service, "ACTIVE", spec.controller,
                              primary.task_definition if primary else "", self.desired.get((environment, service), 0),
                              rollout_state=primary.rollout_state if primary else None,
                              url=f"http://{lb.bind}:{lb.port}/" if lb else None, target=spec.target)

    def _set(self, deployment_id: str, **changes: object) -> None:
        self.deployments[deployment_id] = dataclasses.replace(self.deployments[deployment_id], updated_at=self.clock(),
                                                              **changes)  # type: ignore[arg-type]


class FakeCodeDeploy:
    def __init__(self, calls: Calls, ecs: FakeEcs, clock: Callable[[], float], auto_complete: bool = False):
        self.auto_complete = auto_complete
        self.calls = calls
        self.ecs = ecs
        self.clock = clock
        self.deployments: dict[str, CodeDeployDeployment] = {}
        self.tokens: dict[str, str] = {}
        self.hook_statuses: list[tuple[str, str, str]] = []

    # -- what tests drive
    def advance(self, deployment_id: str, phase: str, *, waiting: str = "", traffic: int | None = None) -> None:
        d = self.deployments[deployment_id]
        self._set(deployment_id, status="InProgress", phase=phase, waiting=waiting,
                  traffic=d.traffic if traffic is None else traffic)

    def succeed(self, deployment_id: str) -> None:
        self._set(deployment_id, status="Succeeded", phase="End", traffic=100, waiting="", completed_at=self.clock())

    def fail(self, deployment_id: str, code: str, message: str, *, status: str = "Failed") -> None:
        self._set(deployment_id, status=status, error_code=code, error_message=message, waiting="",
                  completed_at=self.clock())

    # -- the API
    def create_deployment(self, spec: ServiceSpec, *, task_definition: str, appspec: str | None, appspec_source: str,
                          client_token: str | None, creator: str, origin: Mapping[str, object],
                          workdir: str | None) -> CodeDeployDeployment:
        if client_token and client_token in self.tokens:
            return self.deployments[self.tokens[client_token]]
        running = self._in_flight(spec.environment, spec.name)
        if running is not None:
            raise DeploymentLimitExceeded(f"deployment {running.id} is already in progress for "
                                          f"{spec.environment}/{spec.name} ({running.phase})")
        self.ecs.declare_service(spec, task_definition=task_definition)
        d = CodeDeployDeployment(id=f"d-FAKE{next(_IDS):05d}", environment=spec.environment, service=spec.name,
                                 task_definition=task_definition, status="Created", phase="Start", creator=creator,
                                 origin=dict(origin), created_at=self.clock(), updated_at=self.clock(),
                                 has_appspec=True)
        self.deployments[d.id] = d
        if client_token:
            self.tokens[client_token] = d.id
        self.calls.append(("create_deployment", spec.environment, spec.name, task_definition))
        if self.auto_complete:
            self.succeed(d.id)
        return self.deployments[d.id]

    def get_deployment(self, deployment_id: str) -> CodeDeployDeployment:
        d = self.deployments.get(deployment_id)
        if d is None:
            raise NotFound(f"no deployment {deployment_id}")
        return d

    def list_deployments(self, environment: str, service: str, limit: int = 10) -> list[CodeDeployDeployment]:
        mine = [d for d in self.deployments.values() if (d.environment, d.service) == (environment, service)]
        return sorted(mine, key=lambda d: d.id, reverse=True)[:limit]

    def continue_deployment(self, environment: str, service: str, *, who: str, reason: str,
                            wait_type: str | None = None) -> CodeDeployDeployment:
        d = self._current(environment, service)
        if d.phase not in ("ReadyWait", "TerminationWait"):
            raise DeploymentNotReady(f"deployment {d.id} is in {d.phase}, not waiting")
        return self._act(d, who, f"continue ({wait_type or d.phase})", reason)

    def stop_deployment(self, environment: str, service: str, *, who: str, reason: str,
                        rollback: bool | None) -> CodeDeployDeployment:
        d = self._act(self._current(environment, service), who, "stop", reason)
        self.fail(d.id, "MANUAL_STOP", f"stopped by {who}", status="Stopped")
        return self.deployments[d.id]

    def promote(self, environment: str, service: str, *, who: str, reason: str) -> CodeDeployDeployment:
        return self._act(self._current(environment, service), who, "promote", reason)

    def roll_back(self, environment: str, service: str, *, who: str, reason: str) -> CodeDeployDeployment:
        d = self._act(self._current(environment, service), who, "rollback", reason)
        self.fail(d.id, "MANUAL_STOP", f"rolled back by {who}", status="Stopped")
        return self.deployments[d.id]

    def put_lifecycle_event_hook_execution_status(self, deployment_id: str, execution_id: str, status: str) -> str:
        self.get_deployment(deployment_id)
        self.hook_statuses.append((deployment_id, execution_id, status))
        return execution_id

    # -- helpers
    def _in_flight(self, environment: str, service: str) -> CodeDeployDeployment | None:
        return next((d for d in self.list_deployments(environment, service, 1000) if not d.done), None)

    def _current(self, environment: str, service: str) -> CodeDeployDeployment:
        d = self._in_flight(environment, service)
        if d is None:
            raise DeploymentNotReady(f"no deployment in progress for {environment}/{service}")
        return d

    def _act(self, d: CodeDeployDeployment, who: str, action: str, reason: str) -> CodeDeployDeployment:
        entry = HistoryEntry(self.clock(), "action", f"{action} by {who}" + (f": {reason}" if reason else ""), who)
        self._set(d.id, history=d.history + (entry,))
        self.calls.append((action, d.environment, d.service, who))
        return self.deployments[d.id]

    def _set(self, deployment_id: str, **changes: object) -> None:
        self.deployments[deployment_id] = dataclasses.replace(self.deployments[deployment_id], updated_at=self.clock(),
                                                              **changes)  # type: ignore[arg-type]


class FakeReads:
    """Load balancer and alarm reads: whatever the test puts in."""

    def __init__(self) -> None:
        self.targets: dict[tuple[str, str], list[TargetHealth]] = {}
        self.weights: dict[tuple[str, int], dict[str, int]] = {}
        self.alarm_views: dict[tuple[str, str], list[AlarmView]] = {}

    def target_health(self, environment: str, target_group: str) -> list[TargetHealth]:
        return list(self.targets.get((environment, target_group), []))

    def listener_weights(self, environment: str, port: int) -> dict[str, int]:
        return dict(self.weights.get((environment, port), {}))

    def describe_alarms(self, environment: str, service: str) -> list[AlarmView]:
        return list(self.alarm_views.get((environment, service), []))

    def get_metrics(self, environment: str, service: str, seconds: int) -> ServiceMetrics:
        return ServiceMetrics(environment, service, seconds, ())


class FakeBackend:
    """`auto_complete`: every deployment succeeds as soon as it is created."""

    def __init__(self, name: str = "local", *, clock: Callable[[], float] = time.time, auto_complete: bool = False):
        self.calls: Calls = []
        self.registry = FakeRegistry(self.calls)
        self.ecs = FakeEcs(self.calls, clock, auto_complete)
        self.codedeploy = FakeCodeDeploy(self.calls, self.ecs, clock, auto_complete)
        self.reads = FakeReads()
        self.backend = Backend(name=name, registry=self.registry, ecs=self.ecs, codedeploy=self.codedeploy,
                               load_balancers=self.reads, alarms=self.reads)
