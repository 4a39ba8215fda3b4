"""The `CodeBuild` action: the buildspec runner (conveyor.build.runner) with CodePipeline's
wiring (aws-semantics §2.10): the primary input is CODEBUILD_SRC_DIR and the buildspec is read
from it; other inputs are CODEBUILD_SRC_DIR_<name>; the primary artifact becomes the first
output artifact and secondary artifacts go to the output artifacts of the same name;
exported-variables become the action's output variables (`#{BuildVars.IMAGE_TAG}`).
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from pathlib import Path

from conveyor.actions.base import (
    ActionContext,
    ActionFailed,
    ActionResult,
    EngineUser,
    writable_copy,
)
from conveyor.actions.command import container_name
from conveyor.build.image_runtimes import image_catalog
from conveyor.build.runner import DEFAULT_REGION, BuildRequest, run_build
from conveyor.config.buildspec import load_buildspec
from conveyor.config.providers import project_name
from conveyor.errors import ConfigError, UserError
from conveyor.home import engine_path
from conveyor.images import BUILD_IMAGE
from conveyor.paths import PathEscape, resolve_inside
from conveyor.providers.local.containers import (
    ApiService,
    ContainerEngine,
    engine_access,
    ensure_api_service,
)
from conveyor.providers.local.process import run
from conveyor.registry.local import registry_env
from conveyor.reports.summary import one_line
from conveyor.secrets.masking import default_masker

#: Logged when a build without privilegedMode fails and its buildspec calls a container engine.
UNPRIVILEGED_HINT = ("[Conveyor] this build has no access to the container engine: set `privilegedMode: true` on "
                     "the CodeBuild action in conveyor.yml on a protected branch (CodeBuild's privilegedMode is a "
                     "project setting, not a buildspec one)")
_ENGINE_WORDS = re.compile(r"\b(docker|podman|buildah)\b")


def uses_engine(buildspec: Path) -> bool:
    """Does the buildspec mention a container engine's CLI? (a hint only; never a permission)"""
    try:
        return bool(_ENGINE_WORDS.search(buildspec.read_text(errors="replace")[:1 << 20]))
    except OSError:
        return False


class CodeBuildAction(EngineUser):
    def __init__(self, engine: ContainerEngine | None = None):
        super().__init__(engine)
        self._services: dict[Path, ApiService] = {}
        self._lock = threading.Lock()

    def run(self, ctx: ActionContext) -> ActionResult:
        conf = ctx.configuration
        primary_name = conf.get("primarySource") or next(iter(ctx.inputs))
        sources: dict[str, Path] = {}
        for name, path in ctx.inputs.items():
            sources[name] = writable_copy(path, ctx.run_dir / "src" / name)
        primary = sources.pop(primary_name)
        try:
            buildspec_path = resolve_inside(primary, conf.get("buildspec", "buildspec.yml"), "buildspec")
        except PathEscape as exc:
            raise ActionFailed(str(exc)) from None
        try:
            spec = load_buildspec(buildspec_path, f"{primary_name}/{conf.get('buildspec', 'buildspec.yml')}")
        except ConfigError as exc:
            for d in exc.diagnostics:
                ctx.log(str(d))
            raise ActionFailed(f"the buildspec is invalid ({exc.error_count} error(s)); see the log") from None
        for warning in spec.warnings:
            ctx.log(str(warning))
        store = None
        if ctx.home is not None:
            from conveyor.secrets.store import SecretStore

            store = SecretStore(ctx.home)
        mounts, extra_env, region = [], {}, None
        privileged = conf.get("privilegedMode") is True
        if ctx.home is not None:
            if privileged:  # only the registered definition can ask for it, never the buildspec
                access = engine_access(self._api_service(ctx.home).socket)
                mounts, extra_env = list(access.mounts), dict(access.env)
            login = ctx.registry.login().env if ctx.registry is not None else registry_env(ctx.home)
            registry, region = split_region(login)
            extra_env.update(registry)
        commit = ctx.configuration.get("sourceVersion") or (ctx.revision or {}).get("commit")
        artifacts_dir = ctx.run_dir / "artifacts"
        image = conf.get("image") or BUILD_IMAGE
        try:
            runtimes = image_catalog(self.engine, image)  # what runtime-versions can select in it
        except UserError as exc:
            raise ActionFailed(str(exc)) from None
        req = BuildRequest(
            source_dir=primary, image=image, engine=self.engine, runtimes=runtimes,
            project=conf.get("projectName") or ctx.pipeline, initiator=f"codepipeline/{ctx.pipeline}",
            secondary_sources=sources,
            overrides={str(k): str(v) for k, v in (conf.get("environmentVariables") or {}).items()},
            timeout_minutes=ctx.timeout / 60, cancel=ctx.cancel, artifacts_dir=artifacts_dir,
            resolve_secret=store.resolve_reference if store else None, on_secret=default_masker().add,
            extra_mounts=mounts, extra_env=extra_env, container_name=container_name(ctx.run_dir),
            resolved_source_version=commit, source_version=commit,
            cache_dir=cache_directory(ctx.home, conf.get("projectName") or ctx.pipeline) if ctx.home else None,
            region=region or DEFAULT_REGION)
        result = run_build(spec, req, ctx.log)
        reports = [{k: v for k, v in r.items() if k not in ("cases", "coverageFiles")} for r in result.reports.values()]
        if result.reports:
            (ctx.run_dir / "reports.json").write_text(json.dumps(list(result.reports.values())))
        if result.status != "SUCCEEDED":
            failed = next((p for p in reversed(result.phases) if p.status != "SUCCEEDED"), None)
            where = (f" in {failed.phase}" + (f": {failed.context}" if failed and failed.context else "")
                     if failed else "")
            if not privileged and uses_engine(buildspec_path):
                ctx.log(UNPRIVILEGED_HINT)
            raise ActionFailed(f"build {result.status}{where}", details={"reports": reports})
        outputs = {}
        names = list(ctx.action.output_artifacts)
        if names and "" in result.artifacts:
            outputs[names[0]] = self._stage(ctx, result.artifacts[""])
        for ident, path in result.artifacts.items():
            if ident and ident in names:
                outputs[ident] = self._stage(ctx, path)
        missing = [n for n in names if n not in outputs]
        if missing:
            raise ActionFailed(f"output artifact(s) {', '.join(missing)} were not produced: the buildspec needs "
                               "`artifacts` (for the first) or `secondary-artifacts` named like them")
        failing = [r for r in reports if r["type"] == "TEST" and r["status"] != "SUCCEEDED"]
        if ctx.action.category == "Test" and failing:  # a Test action's reports gate the stage
            raise ActionFailed("; ".join(one_line(r) for r in failing), details={"reports": reports})
        tests = [r for r in reports if r["type"] == "TEST"]
        text = f"build {result.status}" + (f", {sum(r['passed'] for r in tests)}/{sum(r['total'] for r in tests)} "
                                           "tests passed" if tests else "")
        return ActionResult(outputs=outputs, variables=result.exported, summary=text, details={"reports": reports})

    def _api_service(self, home: Path) -> ApiService:
        """The engine's API socket for this data dir: started once, stopped by `close`."""
        with self._lock:
            service = self._services.get(home)
            if service is None or not Path(service.socket).exists():
                service = self._services[home] = ensure_api_service(self.engine, str(engine_path(home)))
            return service

    def close(self, home: Path | None = None) -> None:
        """Stop the engine API services this runner started (all, or the one of `home`)."""
        with self._lock:
            for key in [k for k in self._services if home is None or k == home]:
                self._services.pop(key).stop()

    def _stage(self, ctx: ActionContext, path: Path) -> Path:
        out = ctx.new_output()
        shutil.copytree(path, out, dirs_exist_ok=True, symlinks=True)
        return out

    def cleanup(self, run_dir: Path) -> None:
        try:
            run(self.engine.rm(container_name(run_dir)), check=False)
        except Exception:  # no engine: nothing can be left running in it
            pass


def cache_directory(home: Path, project: str) -> Path:
    """The project's LOCAL cache directory, `<home>/cache/<project>`. The name comes from
    conveyor.yml (projectName, else the pipeline name), and the directory is mounted read-write
    into the build: a `../` in it would hand the build any directory of the host."""
    if not project or project in (".", "..") or any(c in project for c in "/\\\0"):
        raise ActionFailed(f"projectName '{project}' cannot name a cache directory: "
                           f"{project_name(project) or 'it is . or ..'}")
    try:
        return resolve_inside(home / "cache", project, "projectName")
    except PathEscape as exc:
        raise ActionFailed(str(exc)) from None


def split_region(env: dict[str, str]) -> tuple[dict[str, str], str | None]:
    """`env` without AWS_DEFAULT_REGION/AWS_REGION, and that region: passed as the build's region
    rather than as extra variables, it yields to a buildspec's or an override's own value."""
    rest = {k: v for k, v in env.items() if k not in ("AWS_DEFAULT_REGION", "AWS_REGION")}
    return rest, env.get("AWS_DEFAULT_REGION")
