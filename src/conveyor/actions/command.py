"""The `Command` action: an argv (or a script from the primary input artifact) run on the host
or in a container, with input artifacts available and chosen files kept as the output artifact.

Layout of one attempt (run_dir):
    workspace/     a writable copy of the primary input; the command's working directory
    output.env     KEY=VALUE lines the command may write ($CONVEYOR_OUTPUT_ENV) -> output variables
In a container the workspace is /workspace, other inputs are /conveyor/inputs/NAME (read-only)
and output.env is /conveyor/output.env.

Every process the action starts carries CONVEYOR_RUN_ID in its environment, so after a daemon
crash `cleanup` can find and stop what an interrupted attempt left behind before it is re-run.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

from conveyor.actions.base import (
    ActionContext,
    ActionFailed,
    ActionResult,
    EngineUser,
    writable_copy,
)
from conveyor.config.trust import HOST_COMMAND_HINT
from conveyor.globs import glob_match
from conveyor.paths import is_inside
from conveyor.providers.local.containers import Mount
from conveyor.providers.local.process import CANCELLED, TIMED_OUT, Command, run, stream

CONTAINER_WORKSPACE = "/workspace"
CONTAINER_INPUTS = "/conveyor/inputs"
CONTAINER_OUTPUT_ENV = "/conveyor/output.env"
RUN_ID_ENV = "CONVEYOR_RUN_ID"


def run_id(run_dir: Path) -> str:
    return "conveyor-" + "-".join(run_dir.parts[-4:]).replace("/", "-")[-120:]


def container_name(run_dir: Path) -> str:
    safe = "".join(c if c.isalnum() or c in "_.-" else "-" for c in run_id(run_dir))
    return safe[:120]


class CommandAction(EngineUser):

    def run(self, ctx: ActionContext) -> ActionResult:
        conf = ctx.configuration
        workspace = ctx.run_dir / "workspace"
        primary = ctx.primary_input
        if primary is not None:
            writable_copy(primary, workspace)
        else:
            if workspace.exists():
                shutil.rmtree(workspace)
            workspace.mkdir(parents=True)
        output_env = ctx.run_dir / "output.env"
        output_env.write_text("")
        workdir = conf.get("workingDirectory") or "."
        if os.path.isabs(workdir) or ".." in Path(workdir).parts:
            raise ActionFailed(f"workingDirectory '{workdir}' must be a relative path inside the input artifact")
        if not is_inside(workspace, workspace / workdir):  # a symlink out: outputs would come from the host
            raise ActionFailed(f"workingDirectory '{workdir}' leads outside the input artifact")
        if not (workspace / workdir).is_dir():
            raise ActionFailed(f"workingDirectory '{workdir}' does not exist in the input artifact")

        image = conf.get("image")
        if not image and ctx.definition is not None and not getattr(ctx.definition, "allow_host_commands", False):
            raise ActionFailed("this Command action has no image, so it would run on the host as the daemon's "
                               "user, and the pipeline's definition does not allow that: " + HOST_COMMAND_HINT)
        env = {str(k): str(v) for k, v in (conf.get("env") or {}).items()}
        env.update({
            "CONVEYOR_EXECUTION_ID": ctx.execution_id,
            "CONVEYOR_PIPELINE": ctx.pipeline,
            "CONVEYOR_STAGE": ctx.stage,
            "CONVEYOR_ACTION": ctx.action.name,
            RUN_ID_ENV: run_id(ctx.run_dir),
        })
        argv = self._argv(conf, workspace, workdir, in_container=bool(image))
        if image:
            env["CONVEYOR_OUTPUT_ENV"] = CONTAINER_OUTPUT_ENV
            env["CONVEYOR_SOURCE_DIR"] = CONTAINER_WORKSPACE
            mounts = [Mount(str(workspace), CONTAINER_WORKSPACE), Mount(str(output_env), CONTAINER_OUTPUT_ENV)]
            for name, path in ctx.inputs.items():
                mounts.append(Mount(str(path), f"{CONTAINER_INPUTS}/{name}", read_only=True))
                env[f"CONVEYOR_INPUT_{_env_name(name)}"] = f"{CONTAINER_INPUTS}/{name}"
            cmd = self.engine.run(image, argv, name=container_name(ctx.run_dir), rm=True, env=env, mounts=mounts,
                                  workdir=f"{CONTAINER_WORKSPACE}/{workdir}".rstrip("/.") or CONTAINER_WORKSPACE,
                                  labels={"conveyor.run": run_id(ctx.run_dir)})
            cmd = Command(cmd.argv, env={RUN_ID_ENV: run_id(ctx.run_dir)})
        else:
            env["CONVEYOR_OUTPUT_ENV"] = str(output_env)
            env["CONVEYOR_SOURCE_DIR"] = str(workspace)
            for name, path in ctx.inputs.items():
                env[f"CONVEYOR_INPUT_{_env_name(name)}"] = str(path)
            cmd = Command(argv, env=env, cwd=str(workspace / workdir))
        ctx.log(f"$ {cmd}")
        code = stream(cmd, ctx.log, cancel=ctx.cancel, timeout=ctx.timeout)
        if code == TIMED_OUT:
            raise ActionFailed(f"timed out after {ctx.timeout / 60:g} minutes")
        if code == CANCELLED:
            raise ActionFailed("cancelled")
        if code != 0:
            raise ActionFailed(f"command exited with code {code}" if code > 0 else f"command killed by signal {-code}")
        variables = _read_output_env(output_env, conf.get("outputVariables"))
        outputs = {}
        if ctx.action.output_artifacts:
            outputs[ctx.action.output_artifacts[0]] = self._collect(ctx, workspace / workdir, conf.get("outputFiles"))
        return ActionResult(outputs=outputs, variables=variables, summary="exit 0")

    def _argv(self, conf: dict, workspace: Path, workdir: str, in_container: bool) -> list[str]:
        if "command" in conf:
            return [str(a) for a in conf["command"]]
        script = conf["script"]
        if os.path.isabs(script) or ".." in Path(script).parts or not (workspace / script).is_file():
            raise ActionFailed(f"script '{script}' not found in the input artifact")
        base = CONTAINER_WORKSPACE if in_container else str(workspace)
        path = f"{base}/{script}"
        if os.access(workspace / script, os.X_OK):
            return [path]
        return ["sh", path]

    def _collect(self, ctx: ActionContext, root: Path, patterns: list | None) -> Path:
        out = ctx.new_output()
        matched = 0
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d != ".git"]
            for name in filenames:
                full = Path(dirpath) / name
                rel = full.relative_to(root).as_posix()
                if patterns and not any(glob_match(str(p), rel) for p in patterns):
                    continue
                dest = out / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(full, dest, follow_symlinks=False)
                matched += 1
        if patterns and not matched:
            raise ActionFailed(f"outputFiles {list(patterns)} matched no file in the workspace")
        return out

    def cleanup(self, run_dir: Path) -> None:
        marker = f"{RUN_ID_ENV}={run_id(run_dir)}".encode()
        for pid in _pids_with_env(marker):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        try:
            run(self.engine.rm(container_name(run_dir)), check=False)
        except Exception:  # no engine installed: nothing can be left running in it
            pass


def _env_name(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).upper()




def _read_output_env(path: Path, wanted: list | None) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            values[key.strip()] = value
    if wanted is None:
        return values
    missing = [w for w in wanted if w not in values]
    if missing:
        raise ActionFailed(f"outputVariables {missing} were not written to $CONVEYOR_OUTPUT_ENV "
                           "(write KEY=VALUE lines to that file)")
    return {w: values[w] for w in wanted}


def _pids_with_env(marker: bytes) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if marker in f.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found
