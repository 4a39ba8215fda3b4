"""The `CodeDeployToECS` deploy action (CodePipeline's "Amazon ECS (Blue/Green)", aws-semantics
§3.5): read the task definition template and the AppSpec from input artifacts, put each
Image<N>ArtifactName's imageDetail.json ImageURI where the template says `<Image<N>ContainerName>`,
register the revision, put its ARN where the AppSpec says `<TASK_DEFINITION>`, create a CodeDeploy
deployment and wait for it. The action succeeds only when the deployment Succeeded, which is
after the termination wait and blue's removal, as on AWS.

Hook commands run in the AppSpec's artifact directory (a build output usually carries the smoke
tests next to appspec.yaml).
"""

from __future__ import annotations

from pathlib import Path

from conveyor.actions.base import ActionContext, ActionFailed, ActionResult
from conveyor.deploy.spec import service_specs
from conveyor.deploy.substitute import (
    image_artifacts,
    read_image_detail,
    substitute_images,
    unreplaced_placeholders,
)
from conveyor.documents.located import loads_limited
from conveyor.documents.source import read_text_file
from conveyor.errors import ConfigError, ConveyorError
from conveyor.paths import PathEscape, resolve_inside
from conveyor.release.service import DeployRequest


class CodeDeployToEcsAction:
    def run(self, ctx: ActionContext) -> ActionResult:
        conf = ctx.configuration
        env, name = conf["environment"], conf["service"]
        releases = ctx.releases
        if releases is None:
            raise ActionFailed("the CodeDeployToECS action needs the Conveyor daemon's release service")
        specs = service_specs(getattr(ctx.definition, "environments", {}) or {}, env)
        spec = specs.get(name)
        if spec is None:
            raise ActionFailed(f"service '{name}' is not declared under environments.{env}.services in conveyor.yml "
                               f"(declared there: {', '.join(specs) or 'none'})")
        if not spec.blue_green:
            raise ActionFailed(f"service {name} in {env} uses deployment controller {spec.controller}; the "
                               "CodeDeployToECS action needs controller: CODE_DEPLOY (use the ECS action for "
                               "rolling updates)")
        try:
            taskdef_dir = self._artifact(ctx, conf.get("taskDefinitionTemplateArtifact"))
            taskdef_name = conf.get("taskDefinitionTemplatePath") or "taskdef.json"
            appspec_dir = self._artifact(ctx, conf.get("appSpecTemplateArtifact"))
            appspec_name = conf.get("appSpecTemplatePath") or "appspec.yaml"
            text = self._read(taskdef_dir, taskdef_name, "TaskDefinitionTemplate")
            images = {}
            for _, artifact, placeholder in image_artifacts(conf):
                images[placeholder] = read_image_detail(self._artifact(ctx, artifact), artifact)
            text = substitute_images(text, images)
            left = unreplaced_placeholders(text)
            if left:
                raise ActionFailed(f"{taskdef_name}: image placeholder(s) {', '.join(left)} were not replaced; "
                                   "map each with Image<N>ArtifactName + Image<N>ContainerName")
            try:
                taskdef = loads_limited(text, taskdef_name)
            except ConfigError as exc:
                raise ActionFailed(str(exc)) from None
            appspec = self._read(appspec_dir, appspec_name, "AppSpecTemplate")
            d = releases.deploy(DeployRequest(
                environment=env, service=name, spec=spec, taskdef=taskdef, appspec=appspec,
                appspec_source=appspec_name, taskdef_source=taskdef_name, images_source="imageDetail.json",
                creator="CodePipeline", origin={"execution": ctx.execution_id, "pipeline": ctx.pipeline,
                                                "stage": ctx.stage, "action": ctx.action.name},
                workdir=str(appspec_dir), key=ctx.idempotency_key or None)).deployment
        except ConveyorError as exc:
            raise ActionFailed(str(exc)) from exc
        ctx.log(f"deployment {d.id}: {env}/{name} → {d.task_definition} (blue/green)")
        try:
            final = releases.wait(d.id, cancel=ctx.cancel, timeout=ctx.timeout,
                                  progress=lambda text: ctx.log(f"{name}: {text}")).deployment
        except TimeoutError:
            raise ActionFailed(f"deployment {d.id} did not finish within the action's timeout") from None
        except InterruptedError:
            raise ActionFailed(f"stopped while deployment {d.id} was in progress (it continues; see "
                               f"`conveyor deploy status {env} {name}`)") from None
        details = {"deploymentId": final.id, "taskDefinition": final.task_definition, "timings": final.timings,
                   "status": final.status}
        if final.outcome != "Succeeded":
            info = dict(getattr(final, "rollback_info", {}) or {})
            raise ActionFailed(f"deployment {final.id} {final.status}: {final.reason}"
                               + (f" (rolled back by {info['rollbackDeploymentId']})"
                                  if info.get("rollbackDeploymentId") else ""), {**details, "rollbackInfo": info})
        lb = spec.load_balancer
        assert lb is not None  # a CODE_DEPLOY service has one (conveyor.config.deployment_group requires it)
        url = f"http://{lb.bind}:{lb.port}/"
        ctx.log(f"{name} in {env} is serving {final.task_definition} at {url}")
        return ActionResult(summary=f"{env}/{name} → {final.task_definition} (blue/green, {url})", details=details)

    def _artifact(self, ctx: ActionContext, name: str | None) -> Path:
        if not name:
            path = ctx.primary_input
            if path is None:
                raise ActionFailed("the action has no input artifact")
            return path
        if name not in ctx.inputs:
            raise ActionFailed(f"input artifact '{name}' is not an input of this action "
                               f"(inputs: {', '.join(ctx.inputs) or 'none'})")
        return ctx.inputs[name]

    def _read(self, directory: Path, name: str, what: str) -> str:
        try:
            path = resolve_inside(directory, name, f"{what} file")
        except PathEscape as exc:
            raise ActionFailed(str(exc)) from None
        if not path.is_file():
            held = sorted(p.name for p in directory.iterdir())[:10]
            raise ActionFailed(f"{what} file {name} not found in its input artifact (it holds: "
                               f"{', '.join(held) or 'nothing'})")
        try:
            return read_text_file(path, name)
        except ConfigError as exc:
            raise ActionFailed(str(exc)) from None

    def cleanup(self, run_dir: Path) -> None:
        """Nothing to kill: the deployment belongs to the backend, which carries on; a re-run of
        the action (same idempotency key) adopts it instead of creating another."""
