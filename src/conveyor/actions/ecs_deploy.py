"""The `ECS` deploy action (CodePipeline's standard Amazon ECS action, aws-semantics §3): read
imagedefinitions.json from the input artifact, register a task definition revision with those
images, make it the service's PRIMARY deployment, and wait for the rolling update.

The action succeeds when the service reaches steady state on the new revision, and fails as
soon as the outcome is known: the circuit breaker tripped (and maybe rolled back), or a newer
deployment replaced this one. AWS keeps the action In Progress until its timeout in that case
(aws/containers-roadmap#1399); failing fast is deliberate.

Where the task definition comes from differs from AWS on purpose: AWS copies the revision the
service runs now; Conveyor reads the service's `taskDefinition` file from the commit being
deployed, so a change to taskdef.json ships with the code. Deploying the same content again
registers nothing new.
"""

from __future__ import annotations

from pathlib import Path

from conveyor.actions.base import ActionContext, ActionFailed, ActionResult
from conveyor.config.imagedefs import parse_imagedefinitions
from conveyor.deploy.spec import service_specs
from conveyor.documents.located import loads_limited
from conveyor.documents.source import read_text_file
from conveyor.errors import ConfigError, ConveyorError
from conveyor.paths import PathEscape, resolve_inside
from conveyor.release.service import DeployRequest

#: ECS action's ceiling: 60 minutes unless DeploymentTimeout (minutes) shortens it.
MAX_TIMEOUT_MINUTES = 60


class EcsDeployAction:
    def run(self, ctx: ActionContext) -> ActionResult:
        conf = ctx.configuration
        env, name = conf["environment"], conf["service"]
        releases = ctx.releases
        if releases is None:
            raise ActionFailed("the ECS action needs the Conveyor daemon's release service")
        specs = service_specs(getattr(ctx.definition, "environments", {}) or {}, env)
        spec = specs.get(name)
        if spec is None:
            known = ", ".join(specs) or "none"
            raise ActionFailed(f"service '{name}' is not declared under environments.{env}.services in conveyor.yml "
                               f"(declared there: {known})")
        if spec.controller != "ECS":
            raise ActionFailed(f"service {name} in {env} uses the {spec.controller} deployment controller; the ECS "
                               "action makes rolling deployments (controller: ECS); use the CodeDeployToECS action")
        file_name = conf.get("file") or "imagedefinitions.json"
        source = ctx.primary_input
        try:
            path = resolve_inside(source, file_name, "file") if source else None
        except PathEscape as exc:
            raise ActionFailed(str(exc)) from None
        if path is None or not path.is_file():
            raise ActionFailed(f"{file_name} not found in input artifact {next(iter(ctx.inputs), '?')}"
                               + _listing(source))
        try:
            images = parse_imagedefinitions(read_text_file(path, file_name), file_name)
            release = releases.deploy(DeployRequest(
                environment=env, service=name, spec=spec, taskdef=self._taskdef(ctx, spec.task_definition),
                images=tuple(images), taskdef_source=spec.task_definition, images_source=file_name,
                creator="CodePipeline", origin={"execution": ctx.execution_id, "pipeline": ctx.pipeline,
                                                "stage": ctx.stage, "action": ctx.action.name},
                key=ctx.idempotency_key or None))
        except ConveyorError as exc:
            raise ActionFailed(str(exc)) from exc
        dep = release.deployment
        ctx.log(f"deployment {dep.id}: service {name} in {env} → {dep.task_definition}")
        minutes = min(MAX_TIMEOUT_MINUTES, float(conf.get("deploymentTimeout") or MAX_TIMEOUT_MINUTES))
        try:
            final = releases.wait(dep.id, cancel=ctx.cancel, timeout=min(ctx.timeout, minutes * 60),
                                  progress=lambda text: ctx.log(f"{name}: {text}")).deployment
        except TimeoutError:
            raise ActionFailed(f"deployment {dep.id} did not reach steady state within {minutes:g} minutes: "
                               + releases.get(dep.id).waiting_for) from None
        except InterruptedError:  # the execution was stopped: the deployment itself carries on
            raise ActionFailed(f"stopped while deployment {dep.id} was in progress (it continues; "
                               f"see `conveyor deploy status {env} {name}`)") from None
        details = {"deploymentId": final.id, "taskDefinition": final.task_definition, "timings": final.timings}
        if final.outcome != "Succeeded":
            raise ActionFailed(f"deployment {final.id} failed: {final.reason}", details)
        url = releases.describe(env, name).summary.url
        ctx.log(f"{name} in {env} is serving {final.task_definition}" + (f" at {url}" if url else ""))
        return ActionResult(summary=f"{env}/{name} → {final.task_definition}" + (f" ({url})" if url else ""),
                            details=details)

    def _taskdef(self, ctx: ActionContext, path: str) -> dict | None:
        """The task definition file at the deployed commit, or None: then the service's current
        revision is the base (AWS's behaviour)."""
        rev = ctx.revision or {}
        if not rev.get("commit") or ctx.mirrors is None:
            return None
        text = ctx.mirrors.mirror(rev["repository"]).show(rev["commit"], path)
        if text is None:
            raise ActionFailed(f"task definition file {path} not found at commit {rev['commit'][:7]}")
        try:
            return loads_limited(text, path)
        except ConfigError as exc:
            raise ActionFailed(str(exc)) from None

    def cleanup(self, run_dir: Path) -> None:
        """Nothing to kill: the deployment belongs to the backend, which carries on; a re-run of
        the action (same idempotency key) finds it and waits for it."""


def _listing(directory: Path | None) -> str:
    if directory is None:
        return " (the action has no input artifact)"
    names = sorted(p.name for p in directory.iterdir())[:10]
    return f" (it holds: {', '.join(names) or 'nothing'})"
