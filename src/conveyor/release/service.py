"""The release service: every deployment, from a pipeline action, the API or the CLI, goes
through here. It picks the backend of the service's environment (`target:` in conveyor.yml)
and the controller of the service (rolling ECS or blue/green CodeDeploy), prepares the task
definition revision, creates the deployment idempotently, and answers for it afterwards
(status, wait, continue, stop, promote, rollback) whichever backend runs it.

    releases = ReleaseService({"local": local.backend}, ReleaseStore(home / "releases.db"))
    r = releases.deploy(DeployRequest(spec, taskdef=body, images=(ImageDefinition("api", uri),),
                                      key="ex-1/Deploy/Deploy/1"))
    releases.wait(r.id, cancel=threading.Event(), timeout=600)
    releases.rollback("production", "orders", who="ana", reason="p99 up")
"""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from conveyor.backend.errors import BackendUnavailable, TransientBackendError
from conveyor.backend.interface import Backend, ImageRegistry
from conveyor.backend.types import (
    CODE_DEPLOY,
    AlarmView,
    CodeDeployDeployment,
    ContainerLog,
    EcsDeployment,
    ServiceDescription,
    ServiceMetrics,
    ServiceSummary,
)
from conveyor.config.imagedefs import ImageDefinition
from conveyor.config.taskdef import TaskDefinition, parse_taskdef
from conveyor.deploy.revisions import prepare_revision
from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import NotFound, UserError
from conveyor.faults import crash_point
from conveyor.release.store import ReleaseRecord, ReleaseStore

Deployment = EcsDeployment | CodeDeployDeployment

#: How often wait() looks at a deployment in flight.
POLL_SECONDS = 0.25


@dataclass(frozen=True)
class DeployRequest:
    """One deployment to make. `spec` None deploys the service as last declared."""

    environment: str
    service: str
    spec: ServiceSpec | None = None
    taskdef: dict[str, Any] | None = None  # None: the revision the service runs now (images replaced)
    images: tuple[ImageDefinition, ...] = ()
    appspec: str | None = None  # blue/green only; None: the service's container and port, no hooks
    taskdef_source: str = "taskdef.json"
    images_source: str = "imagedefinitions.json"
    appspec_source: str = "appspec.yaml"
    creator: str = "user"
    origin: Mapping[str, object] = field(default_factory=dict[str, Any])
    workdir: str | None = None  # where blue/green hook commands run
    key: str | None = None  # idempotency key: the same key deploys once


@dataclass(frozen=True)
class Release:
    """A deployment of either kind, with what it waits for in words."""

    deployment: Deployment
    waiting_for: str = ""

    @property
    def id(self) -> str:
        return self.deployment.id

    @property
    def done(self) -> bool:
        return self.deployment.done

    @property
    def outcome(self) -> str:
        return self.deployment.outcome

    def to_json(self) -> dict[str, Any]:
        return {**self.deployment.to_json(), "waitingFor": self.waiting_for}


class ReleaseService:
    def __init__(self, backends: Mapping[str, Backend], store: ReleaseStore, *,
                 poll_seconds: float | None = None):
        self.backends = dict(backends)
        self.store = store
        self.poll_seconds = poll_seconds

    # -- picking the backend and the controller
    def backend(self, target: str) -> Backend:
        found = self.backends.get(target)
        if found is None:
            if target == "aws" and importlib.util.find_spec("boto3") is None:
                raise BackendUnavailable("target 'aws' needs the AWS backend, and boto3 is not installed",
                                         hint="pip install 'conveyor[aws]' (or: pip install boto3), then restart "
                                              "the daemon")
            have = ", ".join(sorted(self.backends)) or "none"
            raise BackendUnavailable(f"target '{target}' has no backend in this daemon (available: {have})",
                                     hint="use `target: local`, or a daemon with that backend installed")
        return found

    def _backend_of(self, environment: str) -> Backend:
        return self.backend(self.store.target(environment) or "local")

    def _spec(self, environment: str, service: str) -> ServiceSpec:
        spec = self.store.declared(environment, service)
        if spec is None:
            raise NotFound(f"no service '{service}' in environment '{environment}'",
                           hint="declare it under environments: in conveyor.yml and deploy it from a pipeline, "
                                "or run `conveyor deploy` where that conveyor.yml is")
        return spec

    def _controller(self, backend: Backend, environment: str, service: str) -> str:
        """As conveyor.yml declared it (an ECS-native blue/green service is ECS to ECS itself), else
        as the backend reports it."""
        spec = self.store.declared(environment, service)
        if spec is not None:
            return spec.controller
        return backend.ecs.describe_service(environment, service).summary.controller

    # -- registries
    def registry_for(self, settings: Mapping[str, Any] | None) -> ImageRegistry | None:
        """Where builds of a pipeline push: conveyor.yml's `registry:` (default: the local one)."""
        settings = dict(settings or {})
        backend = self.backend(str(settings.get("target") or "local"))
        if backend.registries is not None:
            return backend.registries(settings)
        return backend.registry

    # -- services
    def services(self) -> list[ServiceSummary]:
        return [s for backend in self.backends.values() for s in backend.ecs.list_services()]

    def describe(self, environment: str, service: str) -> ServiceDescription:
        return self._backend_of(environment).ecs.describe_service(environment, service)

    def scale(self, environment: str, service: str, count: int, *, by: str) -> ServiceDescription:
        if not 0 <= count <= 100:
            raise UserError(f"desired count {count} is out of range", hint="use 0-100")
        return self._backend_of(environment).ecs.scale_service(environment, service, count, by=by)

    def logs(self, environment: str, service: str, tail: int = 100) -> list[ContainerLog]:
        return self._backend_of(environment).ecs.service_logs(environment, service, tail)

    # -- deploying
    def deploy(self, request: DeployRequest) -> Release:
        """Register the revision and create the deployment (rolling or blue/green, as the
        service declares). With a key, a second call (a re-run after a crash) returns the
        deployment the first one created instead of creating another."""
        spec = request.spec or self._spec(request.environment, request.service)
        backend = self.backend(spec.target)
        self.store.remember_environment(spec)
        if request.key:
            known = self.store.request(request.key)
            if known is not None and known.release_id:
                return self.get(known.release_id)
        revision = backend.ecs.register_task_definition(spec.environment, prepare_revision(
            spec, taskdef=request.taskdef, current=self._current_revision(backend, spec), images=request.images,
            source=request.taskdef_source, images_source=request.images_source).raw)
        if request.key:
            self.store.intend(request.key, spec.environment, spec.name)
            crash_point("release.intended")
        created: Deployment
        if spec.blue_green:
            created = backend.codedeploy.create_deployment(
                spec, task_definition=revision.name, appspec=request.appspec, appspec_source=request.appspec_source,
                client_token=request.key, creator=request.creator, origin=request.origin, workdir=request.workdir)
        else:
            created = backend.ecs.update_service(spec, task_definition=revision.name, client_token=request.key,
                                                 origin=request.origin)
        crash_point("release.created")
        record = ReleaseRecord(created.id, spec.environment, spec.name, spec.controller, backend.name)
        if request.key:
            self.store.created(request.key, record)
        else:
            self.store.record(record)
        self.store.declare(spec)
        return self._release(backend, created)

    def _current_revision(self, backend: Backend, spec: ServiceSpec) -> TaskDefinition | None:
        """The revision the service runs now: the base when no task definition is given, and
        where `<IMAGE1_NAME>`-style placeholders the images leave open take their image from."""
        try:
            name = backend.ecs.describe_service(spec.environment, spec.name).summary.task_definition
        except NotFound:
            return None
        revision = backend.ecs.describe_task_definition(spec.environment, name)
        if revision is None:
            return None
        td, _ = parse_taskdef(revision.body, revision.name)
        return td

    # -- following a deployment
    def get(self, release_id: str) -> Release:
        record = self.store.release(release_id)
        if record is not None:
            backend = self.backend(record.target)
            if record.controller == CODE_DEPLOY:
                return self._release(backend, backend.codedeploy.get_deployment(release_id))
            # The service's latest deployment comes with what it waits for: one look, not two.
            rollout = backend.ecs.describe_rollout(record.environment, record.service)
            if rollout.deployment is not None and rollout.deployment.id == release_id:
                return Release(rollout.deployment, "" if rollout.deployment.done else rollout.waiting_for)
            return self._release(backend, backend.ecs.describe_deployment(record.environment, record.service,
                                                                          release_id))
        for backend in self.backends.values():  # CodeDeploy ids are unique across groups
            try:
                return self._release(backend, backend.codedeploy.get_deployment(release_id))
            except NotFound:
                continue
        raise NotFound(f"no deployment {release_id}")

    def _release(self, backend: Backend, deployment: Deployment) -> Release:
        if deployment.done:
            return Release(deployment, "")
        if isinstance(deployment, CodeDeployDeployment):
            text = f"{deployment.phase}: {deployment.waiting}" if deployment.waiting else deployment.phase
            return Release(deployment, text)
        rollout = backend.ecs.describe_rollout(deployment.environment, deployment.service)
        mine = rollout.deployment is not None and rollout.deployment.id == deployment.id
        return Release(deployment, rollout.waiting_for if mine else "")

    def wait(self, release_id: str, *, cancel: threading.Event, timeout: float,
             progress: Callable[[str], None] | None = None) -> Release:
        """Until the deployment is done (returned), the timeout passes (TimeoutError) or
        `cancel` is set (InterruptedError). `progress` hears what it waits for as it changes,
        and every person's action on it (who continued, stopped or rolled back, and why).

        The backend is asked every `poll_seconds`, less often (up to `max_poll_seconds`) while
        nothing changes; a transient error (throttling, a 5xx) is reported and asked again."""
        deadline = time.monotonic() + timeout
        first, ceiling = self._poll_bounds(release_id)
        interval, last, actions_seen = first, "", 0
        while True:
            try:
                release = self.get(release_id)
            except TransientBackendError as exc:
                release = None
                if progress is not None:
                    progress(f"{exc} (asking again in {interval:g} s)")
            if release is not None:
                if progress is not None:
                    actions = [h for h in getattr(release.deployment, "history", ()) if h.kind == "action"]
                    for h in actions[actions_seen:]:
                        progress(f"{h.message} (deployment {release_id})")
                    actions_seen = len(actions)
                    if release.waiting_for and release.waiting_for != last and not release.done:
                        progress(release.waiting_for)
                if release.done:
                    return release
                interval = first if release.waiting_for != last else min(ceiling, interval * 1.5)
                last = release.waiting_for
            else:
                interval = min(ceiling, interval * 2)
            if time.monotonic() > deadline:
                raise TimeoutError(release_id)
            if cancel.wait(interval):
                raise InterruptedError(release_id)

    def _poll_bounds(self, release_id: str) -> tuple[float, float]:
        if self.poll_seconds is not None:
            return self.poll_seconds, self.poll_seconds
        record = self.store.release(release_id)
        backend = self.backends.get(record.target) if record is not None else None
        if backend is None:
            return POLL_SECONDS, POLL_SECONDS
        return backend.poll_seconds, max(backend.poll_seconds, backend.max_poll_seconds)

    def status(self, environment: str, service: str) -> dict[str, Any]:
        """`conveyor deploy status`: the latest deployment, what it waits for, and around it."""
        backend = self._backend_of(environment)
        summary = backend.ecs.describe_service(environment, service).summary
        spec = self.store.declared(environment, service)
        controller = spec.controller if spec is not None else summary.controller
        lb = spec.load_balancer if spec is not None else None
        out: dict[str, Any] = {"environment": environment, "service": service, "controller": controller,
                     "target": backend.name, "productionUrl": summary.url,
                     "testUrl": f"http://{lb.bind}:{lb.test_port}/" if lb and lb.test_port else None,
                     "desiredCount": summary.desired_count}
        if controller == CODE_DEPLOY:
            deployments = backend.codedeploy.list_deployments(environment, service, 10)
            # A deployment proper carries an AppSpec; the rollback deployments that only clean up do not.
            main = next((d for d in deployments if d.has_appspec), None)
            out.update(deployment=self._release(backend, main).to_json() if main else None,
                       rollbacks=[{k: v for k, v in d.to_json().items() if k not in ("history", "lifecycleEvents")}
                                  for d in deployments if not d.has_appspec][:3],
                       recent=[{"id": d.id, "status": d.status, "taskdef": d.task_definition, "creator": d.creator,
                                "createdAt": d.created_at, "errorCode": d.error_code} for d in deployments],
                       alarms=[a.to_json() for a in backend.alarms.describe_alarms(environment, service)],
                       events=[], waitingFor=_blue_green_waiting(main))
            return out
        rollout = backend.ecs.describe_rollout(environment, service)
        latest = (Release(rollout.deployment, "" if rollout.deployment.done else rollout.waiting_for)
                  if rollout.deployment else None)
        out.update(deployment=latest.to_json() if latest else None,
                   waitingFor=rollout.waiting_for, newTasks={"running": rollout.new_running,
                                                             "healthy": rollout.new_healthy},
                   oldTasks=rollout.old_tasks, draining=rollout.draining,
                   events=[e.to_json() for e in rollout.events], alarms=[], rollbacks=[], recent=[])
        return out

    # -- people acting on a deployment
    def continue_deployment(self, environment: str, service: str, *, who: str, reason: str = "",
                            wait_type: str | None = None) -> Release:
        backend = self._blue_green(environment, service, "deploy continue")
        return self._release(backend, backend.codedeploy.continue_deployment(
            environment, service, who=who, reason=reason, wait_type=wait_type))

    def promote(self, environment: str, service: str, *, who: str, reason: str = "") -> Release:
        backend = self._blue_green(environment, service, "deploy promote")
        return self._release(backend, backend.codedeploy.promote(environment, service, who=who, reason=reason))

    def stop(self, environment: str, service: str, *, who: str, reason: str = "",
             rollback: bool | None = None) -> Release:
        backend = self._blue_green(environment, service, "deploy stop")
        return self._release(backend, backend.codedeploy.stop_deployment(environment, service, who=who,
                                                                         reason=reason, rollback=rollback))

    def rollback(self, environment: str, service: str, *, who: str, reason: str = "") -> Release:
        """Production back on the previous revision: instant while blue runs (blue/green),
        else a deployment of the previous revision."""
        backend = self._backend_of(environment)
        controller = self._controller(backend, environment, service)
        created: Deployment
        if controller == CODE_DEPLOY:
            created = backend.codedeploy.roll_back(environment, service, who=who, reason=reason)
        else:
            created = backend.ecs.roll_back_service(environment, service, who=who, reason=reason)
        self.store.record(ReleaseRecord(created.id, environment, service, controller, backend.name))
        return self._release(backend, created)

    def put_hook_status(self, deployment_id: str, execution_id: str, status: str) -> dict[str, Any]:
        """PutLifecycleEventHookExecutionStatus, routed to the backend that runs the deployment."""
        record = self.store.release(deployment_id)
        backends: Sequence[Backend] = ([self.backend(record.target)] if record is not None
                                       else list(self.backends.values()))
        for backend in backends:
            try:
                backend.codedeploy.get_deployment(deployment_id)
            except NotFound:
                continue
            return {"lifecycleEventHookExecutionId": backend.codedeploy.put_lifecycle_event_hook_execution_status(
                deployment_id, execution_id, status)}
        raise NotFound(f"no lifecycle event hook execution {execution_id} in deployment {deployment_id}")

    def _blue_green(self, environment: str, service: str, verb: str) -> Backend:
        backend = self._backend_of(environment)
        controller = self._controller(backend, environment, service)
        if controller != CODE_DEPLOY:
            raise UserError(f"`conveyor {verb}` applies to blue/green services; {environment}/{service} uses the "
                            f"{controller} (rolling) controller", hint="`conveyor rollback` works for both")
        return backend

    # -- alarms and metrics
    def alarms(self, environment: str, service: str) -> list[AlarmView]:
        return self._backend_of(environment).alarms.describe_alarms(environment, service)

    def metrics(self, environment: str, service: str, seconds: int = 60) -> ServiceMetrics:
        return self._backend_of(environment).alarms.get_metrics(environment, service, seconds)


def _blue_green_waiting(main: CodeDeployDeployment | None) -> str:
    if main is None:
        return "no blue/green deployment yet"
    if main.done:
        return f"nothing: deployment {main.id} {main.status}" + (
            f" ({main.error_code}: {main.error_message})" if main.error_code else "")
    return f"{main.phase}: {main.waiting}" if main.waiting else main.phase
