"""The CodeBuild-compatible runner: a buildspec run for real in a container, phase by phase, with
CodeBuild's transitions (build.phases), environment (build.environment), log lines and artifact
rules (build.artifacts), in one shell instance (build.shell).

    result = run_build(load_buildspec("buildspec.yml"), BuildRequest(source_dir=Path("."), ...), print)
    result.status            # SUCCEEDED | FAILED | TIMED_OUT | STOPPED | FAULT
    result.exported          # env.exported-variables, read from the shell after the build phases

runtime-versions (install) is resolved against the image's catalog (req.runtimes, build.runtimes)
and applied in the shell at DOWNLOAD_SOURCE, where CodeBuild does it.

Layout: the source is bind-mounted read-write at SOURCE_MOUNT (CODEBUILD_SRC_DIR); secondary
sources at SOURCE_MOUNT_<name>. Variables (including resolved secrets) reach the shell through
its standard input, never through argv, so `ps` does not show them.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from conveyor.build import artifacts as A
from conveyor.build import environment as E
from conveyor.build import phases as P
from conveyor.build import runtimes as R
from conveyor.build.buildlog import BuildLog
from conveyor.build.cache import CACHE_MOUNT, BuildCache, list_files
from conveyor.build.runtime_catalog import Catalog, CatalogError
from conveyor.build.shell import CANCELLED, TIMED_OUT, ShellGone, ShellSession
from conveyor.config.buildspec_model import BuildSpec, Phase
from conveyor.errors import ConveyorError, UserError
from conveyor.names import check_shell_env_name
from conveyor.paths import PathEscape, is_inside, resolve_inside
from conveyor.providers.local.containers import ContainerEngine, Mount

SOURCE_MOUNT = "/codebuild/output/src/src"  # CodeBuild: /codebuild/output/src<N>/src/<host>/<repo>
DEFAULT_REGION = "us-east-1"
DEFAULT_PROJECT = "conveyor-local"
DEFAULT_SHELL = "sh"  # aws-semantics §1.3: the Linux default is sh
#: Secondary artifact identifiers name a directory under the artifacts dir; CodePipeline output
#: artifact names (which they must match) are [a-zA-Z0-9_\-]+ (ArtifactDeclaration.name).
SECONDARY_IDENTIFIER = re.compile(r"[A-Za-z0-9_\-]{1,100}")
_BUILDSPEC_NAMES = {phase: name for name, phase in P.BUILDSPEC_NAMES.items()}


@dataclass
class BuildRequest:
    source_dir: Path  # a writable copy: the build changes it, as CodeBuild's does
    image: str
    engine: ContainerEngine
    project: str = DEFAULT_PROJECT
    build_number: int = 1
    region: str = DEFAULT_REGION
    initiator: str = "conveyor"
    source_version: str | None = None
    resolved_source_version: str | None = None
    secondary_sources: dict[str, Path] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)  # StartBuild environmentVariablesOverride
    timeout_minutes: float = P.DEFAULT_BUILD_TIMEOUT_MINUTES
    cancel: threading.Event = field(default_factory=threading.Event)
    resolve_secret: Callable[[str, str], str] | None = None  # (reference, kind) -> value
    # register a value for masking (what it returns is ignored: Masker.add says if it was new)
    on_secret: Callable[[str], object] = lambda value: None
    artifacts_dir: Path | None = None  # where UPLOAD_ARTIFACTS writes; None: no upload
    extra_mounts: list[Mount] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. DOCKER_HOST for the engine socket
    container_name: str | None = None  # known name, so a crashed daemon's build can be removed
    cache_dir: Path | None = None  # where `cache:` copies live between builds (LOCAL cache); None: off
    # what the image provides for runtime-versions (its io.conveyor.runtimes label, image_catalog());
    # None: an image without runtime selection (CodeBuild's custom image), runtime-versions is skipped
    runtimes: Catalog | None = None
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)


@dataclass
class PhaseRecord:
    phase: str
    status: str
    started: float
    ended: float
    attempt: int = 1
    context: str = ""


@dataclass
class BuildResult:
    build_id: str
    status: str
    phases: list[PhaseRecord]
    exported: dict[str, str]
    artifacts: dict[str, Path]  # "" is the primary artifact, else the secondary identifier
    duration: float
    reports: dict[str, dict] = field(default_factory=dict)  # report group -> details (reports.summary)


class BuildFault(ConveyorError):
    pass


class RuntimeSelectionFailed(Exception):
    """runtime-versions names what the image cannot provide: the phase fails (YAML_FILE_ERROR)."""


class _Interrupted(Exception):
    """The build timed out or was stopped while a non-command phase ran a shell command."""

    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


def run_build(spec: BuildSpec, req: BuildRequest, on_line: Callable[[str], None]) -> BuildResult:
    build_uuid = str(uuid.uuid4())
    build_id = E.build_id(req.project, build_uuid)
    started_at = req.clock()
    t0 = time.monotonic()
    deadline = t0 + req.timeout_minutes * 60
    log = BuildLog(on_line, req.clock)
    env_error: UserError | None = None
    try:
        env = _environment(spec, req, build_id, started_at)
    except UserError as exc:  # an invalid name or an unresolvable secret: PROVISIONING fails with it
        env, env_error = {}, exc
    records: list[PhaseRecord] = []
    exported: dict[str, str] = {}
    uploaded: dict[str, Path] = {}
    reports: dict[str, dict] = {}
    cache = BuildCache(spec, req, log, source_mount=SOURCE_MOUNT)
    shell = BuildShell(spec, req, env, on_line, cache)
    phase, attempt, verdict = P.SUBMITTED, 1, P.SUCCEEDED
    while phase != P.COMPLETED:
        began = time.monotonic()
        log.line("entering_phase", phase=phase)
        outcome, context, code = P.SUCCEEDED, "", ""
        try:
            if phase == P.PROVISIONING:
                log.line("processing_env")
                if env_error is not None:
                    raise env_error
                shell.start()
            elif phase == P.DOWNLOAD_SOURCE:
                log.line("src_dir", path=SOURCE_MOUNT)
                log.line("yaml_location", path=spec.source_file)
                _select_runtimes(shell, spec, req, env, log, deadline)
                cache.restore(shell)
            elif phase in P.COMMAND_PHASES:
                outcome, context = _command_phase(shell, spec, phase, verdict, deadline, req, log)
                if phase == P.POST_BUILD:
                    exported = _exported(shell, spec)
            elif phase == P.UPLOAD_ARTIFACTS:
                if not exported and outcome not in P.INTERRUPTIONS:
                    exported = _exported(shell, spec)
                reports = _reports(spec, req, log)  # a report never fails the build (CodeBuild)
                if verdict == P.SUCCEEDED:
                    cache.save(shell)
                if req.artifacts_dir is not None:
                    uploaded = _upload(spec, req, log)
            elif phase == P.FINALIZING:
                shell.close()
        except A.ArtifactError as exc:
            outcome, context, code = P.FAILED, str(exc), A.CLIENT_ERROR
        except RuntimeSelectionFailed as exc:
            outcome, context, code = P.FAILED, str(exc), R.STATUS_CODE
        except _Interrupted as exc:
            outcome = exc.outcome
        except (BuildFault, ShellGone, UserError) as exc:
            outcome, context, code = P.FAULT, str(exc), "CLIENT_ERROR" if isinstance(exc, UserError) else "FAULT"
        if phase not in P.COMMAND_PHASES or outcome == P.FAULT:  # command phases print their own end
            log.line("phase_complete", phase=phase, status=outcome)
            log.line("phase_context", code=code, message=context)
        records.append(PhaseRecord(phase, outcome, began, time.monotonic(), attempt, context))
        on_failure = _on_failure(spec.phases.get(_buildspec_name(phase)))
        step = P.next_phase(phase, outcome, on_failure, attempt, message=context, verdict=verdict)
        if step.phase in P.COMMAND_PHASES:
            shell.setenv("CODEBUILD_BUILD_SUCCEEDING", step.succeeding)
        phase, attempt, verdict = step.phase, step.attempt, step.verdict
    shell.close()
    return BuildResult(build_id, verdict, records, exported, uploaded, time.monotonic() - t0, reports)


# --- phases -------------------------------------------------------------------------------------

def _command_phase(shell: BuildShell, spec: BuildSpec, phase: str, verdict: str, deadline: float,
                   req: BuildRequest, log: BuildLog) -> tuple[str, str]:
    """Run a buildspec phase's commands, then its `finally`; (outcome, phase-context message)."""
    definition = spec.phases.get(_buildspec_name(phase))
    if definition is None:
        for text in E.phase_end_lines(req.clock(), phase, P.SUCCEEDED):
            log.raw(text)
        return P.SUCCEEDED, ""
    if definition.run_as:
        log.raw(f"[Container] {E.timestamp(req.clock())} run-as {definition.run_as}: not supported locally, "
                "running as the image's user")
    commands_outcome, failed, status = _run_commands(shell, spec, definition.commands, deadline, req, log)
    finally_outcome = None
    if definition.finally_ and P.runs_finally(commands_outcome):
        finally_outcome, f_failed, f_status = _run_commands(shell, spec, definition.finally_, deadline, req, log)
        if failed is None and f_failed is not None:
            failed, status = f_failed, f_status
    outcome = P.phase_outcome(commands_outcome, finally_outcome)
    message = E.command_error_message(failed, status) if failed is not None and status is not None else ""
    log.line("phase_complete", phase=phase, status=outcome)
    log.line("phase_context", code=E.COMMAND_EXECUTION_ERROR if message else "", message=message)
    return outcome, message


def _select_runtimes(shell: BuildShell, spec: BuildSpec, req: BuildRequest, env: dict[str, str],
                     log: BuildLog, deadline: float) -> None:
    """install's runtime-versions, where CodeBuild handles it: at DOWNLOAD_SOURCE, after the
    variables are processed (a version may be `$VAR`). Every listed runtime is logged as
    selected, then either the phase fails with every problem (nothing is applied), or each
    version's PATH and variables are set in the build shell, so every later phase sees them."""
    install = spec.phases.get("install")
    requested = install.runtime_versions if install is not None else {}
    if not requested:
        return
    if req.runtimes is None:
        log.raw(f"[Container] {E.timestamp(req.clock())} {R.SKIP_WARNING}")
        return
    selection = R.select(requested, req.runtimes, env)
    for runtime, version in selection.listed:
        log.line("selecting_runtime", runtime=runtime, version=version)
    if not selection.ok:
        raise RuntimeSelectionFailed(selection.message)
    try:
        commands = [command for chosen in selection.chosen for command in R.install_commands(chosen)]
    except CatalogError as exc:
        raise UserError(f"image {req.image}: {exc}", hint="rebuild the image with `conveyor setup`") from None
    path = R.path_command(selection.chosen)
    for command in commands + ([path] if path else []):
        log.line("running_command", command=command)
        rc = shell.run(command, timeout=max(0.0, deadline - time.monotonic()), cancel=req.cancel)
        if rc in (TIMED_OUT, CANCELLED):
            raise _Interrupted(P.TIMED_OUT if rc == TIMED_OUT else P.STOPPED)
        if rc != 0:
            raise BuildFault(f"selecting runtime versions failed: {command} exit status {rc}")


def _run_commands(shell: BuildShell, spec: BuildSpec, commands: tuple[str, ...], deadline: float,
                  req: BuildRequest, log: BuildLog) -> tuple[str, str | None, int | None]:
    for command in commands:
        log.line("running_command", command=command)
        text = f"( {command}\n)" if spec.separate_shells else command  # 0.1: each command its own shell
        rc = shell.run(text, timeout=max(0.0, deadline - time.monotonic()), cancel=req.cancel)
        if rc == TIMED_OUT:
            log.raw(f"[Container] {E.timestamp(req.clock())} Build timed out after {req.timeout_minutes:g} minutes")
            return P.TIMED_OUT, command, None
        if rc == CANCELLED:
            return P.STOPPED, command, None
        if rc != 0:
            log.line("command_failed", command=command, exit_status=rc)
            return P.FAILED, command, rc
    return P.SUCCEEDED, None, None


def _buildspec_name(phase: str) -> str:
    return _BUILDSPEC_NAMES.get(phase, "")


def _on_failure(definition: Phase | None) -> P.OnFailureSpec | None:
    if definition is None or definition.on_failure is None:
        return None
    o = definition.on_failure
    return P.OnFailureSpec(o.mode, o.count if o.count is not None else P.DEFAULT_RETRY_COUNT,
                           o.regex or P.DEFAULT_RETRY_REGEX)


def _exported(shell: BuildShell, spec: BuildSpec) -> dict[str, str]:
    names = list(spec.env.exported_variables)
    return shell.variables(names) if names else {}


# --- environment and shell ----------------------------------------------------------------------

def _environment(spec: BuildSpec, req: BuildRequest, build_id: str, started_at: datetime) -> dict[str, str]:
    builtin = E.builtin_variables(
        build_id=build_id, build_number=req.build_number, source_dir=SOURCE_MOUNT, region=req.region,
        start_time=started_at, initiator=req.initiator, image=req.image, source_version=req.source_version,
        resolved_source_version=req.resolved_source_version,
        secondary_sources={name: f"{SOURCE_MOUNT}_{name}" for name in req.secondary_sources})
    variables = dict(spec.env.variables)
    for name, ref in spec.env.parameter_store.items():
        variables[name] = _secret(req, ref, "parameter-store")
    for name, ref in spec.env.secrets_manager.items():
        variables[name] = _secret(req, ref, "secrets-manager")
    env = E.merge_env(builtin, variables, req.overrides)
    env.update(req.extra_env)
    return env


def _secret(req: BuildRequest, ref: str, kind: str) -> str:
    if req.resolve_secret is None:
        raise UserError(f"{kind} reference '{ref}' cannot be resolved: no secret store",
                        hint="store it with `conveyor secret set NAME`")
    value = req.resolve_secret(ref, kind)
    req.on_secret(value)
    return value


class BuildShell:
    """The build's shell, kept alive across commands and phases. CodeBuild runs each command as
    its own script with the environment and directory the previous one left, so `exit N` ends
    only that command: when a command takes the shell down, a new container and shell start in
    the state saved after the last command that finished (`ShellSession.snapshot`)."""

    def __init__(self, spec: BuildSpec, req: BuildRequest, env: dict[str, str], on_line: Callable[[str], None],
                 cache: BuildCache | None = None):
        self.spec, self.req, self.env, self.on_line = spec, req, env, on_line
        self.cache = cache
        self.base_name = req.container_name or f"conveyor-build-{uuid.uuid4().hex[:12]}"
        self.starts = 0
        self.names: list[str] = []  # the containers started, one per shell (a restart after `exit` adds one)
        self.session: ShellSession | None = None
        self.state: tuple[str, str] = (SOURCE_MOUNT, "")
        self.forced: dict[str, str] = {}

    @property
    def alive(self) -> bool:
        return self.session is not None and self.session.alive

    def start(self) -> None:
        req = self.req
        self.starts += 1
        name = self.base_name if self.starts == 1 else f"{self.base_name}-{self.starts}"
        self.names.append(name)
        mounts = [Mount(str(req.source_dir), SOURCE_MOUNT)]
        mounts += [Mount(str(path), f"{SOURCE_MOUNT}_{n}") for n, path in req.secondary_sources.items()]
        mounts += req.extra_mounts
        if self.cache is not None and self.cache.enabled:
            mounts.append(Mount(str(self.cache.directory), CACHE_MOUNT))
        base = req.engine.run(req.image, [], rm=True, mounts=mounts, workdir=SOURCE_MOUNT, name=name,
                              labels={"conveyor.build": req.project})
        argv = base.argv[:-1] if base.argv[-1] == req.image else list(base.argv)
        argv = argv[:1] + ["run", "--interactive"] + argv[2:]
        if shutil.which(argv[0]) is None:
            raise BuildFault(f"container engine '{argv[0]}' not found", hint="run `conveyor setup`")

        def stop_container() -> None:  # sh as PID 1 ignores SIGTERM: stop the container itself
            subprocess.run([argv[0], "kill", name], capture_output=True, timeout=30)

        self.session = ShellSession([*argv, req.image, _shell_binary(self.spec.env.shell or DEFAULT_SHELL)],
                                    self.on_line, stopper=stop_container)
        self.session.start()
        exports = "\n".join(export_line(k, v) for k, v in self.env.items())
        forced = "\n".join(export_line(k, v) for k, v in self.forced.items())
        pwd, saved = self.state
        setup = "\n".join(part for part in (exports, saved, forced, f"cd {shlex.quote(pwd)}") if part)
        if self.session.run(setup) != 0 or not self.session.alive:
            raise BuildFault("the build container did not start its shell",
                             hint="check the image has /bin/sh (or /bin/bash for env.shell: bash)")

    def run(self, command: str, *, timeout: float, cancel: threading.Event) -> int:
        if not self.alive:
            self.start()
        assert self.session is not None
        rc = self.session.run(command, timeout=timeout, cancel=cancel)
        if rc == 0 and self.session.alive:
            self.state = self.session.snapshot()
        return rc

    def setenv(self, name: str, value: str) -> None:
        self.forced[name] = value  # wins over the saved state when the shell has to start again
        if self.alive:
            assert self.session is not None
            self.session.run(export_line(name, value))

    def variables(self, names: list[str]) -> dict[str, str]:
        if not self.alive:
            self.start()  # the state saved after the last good command
        assert self.session is not None
        return self.session.variables(names)

    def close(self) -> None:
        if self.session is not None and (not self.session.close() or self.session.stopped):
            # its `podman run --rm` was signalled (a timeout, a stop, or a kill at close) before it
            # removed the container: remove it here
            subprocess.run([self.req.engine.binary, "rm", "--force", *self.names],
                           capture_output=True, timeout=60, check=False)


def export_line(name: str, value: str) -> str:
    """`export NAME='value'`: the value quoted, the name checked (it cannot be quoted: a name
    such as `A;touch /tmp/x;B` would run as code), so nothing user-given is spliced into the
    shell as code.

    >>> print(export_line("GREETING", "it's $HOME"))
    export GREETING='it'"'"'s $HOME'
    """
    problem = check_shell_env_name(name)
    if problem is not None:
        raise E.ReservedVariableError(name, "build environment", problem)
    return f"export {name}={shlex.quote(value)}"


def _shell_binary(shell: str) -> str:
    # absolute: a buildspec may set PATH to anything (literally, §1.3) and the shell must still run
    return {"/bin/sh": "/bin/sh", "sh": "/bin/sh", "bash": "/bin/bash", "/bin/bash": "/bin/bash"}.get(shell, shell)


# --- reports and artifacts ----------------------------------------------------------------------

def _reports(spec: BuildSpec, req: BuildRequest, log: BuildLog) -> dict[str, dict]:
    from conveyor.reports import summary as S
    from conveyor.reports.group import parse_group

    out = {}
    for name, group in spec.reports.items():
        try:
            base = resolve_inside(req.source_dir, group.base_directory or ".", "report base-directory")
        except PathEscape as exc:
            log.raw(f"[Container] {E.timestamp(req.clock())} Report group {name}: {exc}; no report")
            continue
        result = parse_group(base, list(group.files), group.file_format, root=req.source_dir)
        out[name] = S.details(name, result)
        log.raw(f"[Container] {E.timestamp(req.clock())} Report group {S.one_line(out[name])}")
    return out



def _upload(spec: BuildSpec, req: BuildRequest, log: BuildLog) -> dict[str, Path]:
    assert req.artifacts_dir is not None
    groups = {}
    if spec.artifacts is not None:
        groups[""] = spec.artifacts
    groups.update(spec.secondary_artifacts)
    if not groups:
        return {}
    files = list_files(req.source_dir)
    out: dict[str, Path] = {}
    for ident, art in groups.items():
        log.line("expanding_base_directory", path=art.base_directory or ".")
        log.line("assembling_file_list")
        selection = A.expand(files, art.files, art.base_directory, art.discard_paths, art.exclude_paths,
                             allow_empty=True)
        for skipped in selection.skipped:
            log.line("skipping_invalid_path", path=skipped)
        if not selection.files:
            raise A.NoMatchingArtifactPaths()
        if ident and not SECONDARY_IDENTIFIER.fullmatch(ident):  # it names a directory on the host
            raise A.ArtifactError(f"secondary artifact identifier {ident!r} is not valid: use letters, digits, "
                                  f"'-' and '_'")
        target = req.artifacts_dir / "primary" if not ident else req.artifacts_dir / "secondary" / ident
        target.mkdir(parents=True, exist_ok=True)
        for src, dest in selection.files:
            (target / dest).parent.mkdir(parents=True, exist_ok=True)
            ship_file(req.source_dir, src, target / dest, keep_symlinks=art.enable_symlinks)
        out[ident] = target
    return out


def ship_file(root: Path, src: str, dest: Path, *, keep_symlinks: bool) -> None:
    """Copy `root/src` into the artifact at `dest`, never anything from outside `root`.

    `enable-symlinks` is CodeBuild's (buildspec reference, artifacts; aws-semantics §1.9: "ZIP
    output only: keep internal symlinks"): with `yes` a symlink inside the source ships as a
    symlink (re-pointed relative, to the same file); with the default `no` the file it points to
    is copied. (Before issue 16 it was the other way round.) Either way a link whose target resolves outside the source
    directory fails the upload (CLIENT_ERROR): on a shared host, following it would copy a host
    file into the artifact. The copy reads from an open descriptor whose real path is checked,
    so swapping a file for a symlink mid-upload does not get around it.
    """
    path = root / src
    if path.is_symlink():
        if not is_inside(root, path):
            raise A.ArtifactError(f"{src} is a symbolic link to outside the source directory; not uploaded",
                                  hint="copy the file into the source directory instead of linking to it")
        if keep_symlinks:
            os.symlink(os.path.relpath(path.resolve(), (root / src).parent.resolve()), dest)
            return
    try:
        fd = os.open(path, os.O_RDONLY | (0 if path.is_symlink() else os.O_NOFOLLOW))
    except OSError as exc:
        raise A.ArtifactError(f"{src} cannot be read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        real = Path(os.readlink(f"/proc/self/fd/{fd}"))
        if not is_inside(root, real) or not os.path.isfile(real):
            raise A.ArtifactError(f"{src} is not a file inside the source directory; not uploaded")
        with open(dest, "wb") as out:
            shutil.copyfileobj(fh, out)
    shutil.copystat(real, dest)
