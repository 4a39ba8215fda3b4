"""Lifecycle hooks: invoke one hook once and say what it answered.

A hook (model.HookSpec) is a command, a container or an HTTP endpoint standing in for the Lambda
function an AppSpec names. It receives the deployment id, its execution id, the lifecycle event
and the test/production URLs (HOOK_ENV_VARS, or the JSON payload of an HTTP hook) and answers
Succeeded or Failed, or InProgress ("poll me again in callBackDelay seconds, with these
hookDetails", as an ECS-native Lambda hook does, aws-semantics §4.7), or, for an HTTP hook that
answered 202, Pending (it will report through the daemon, as CodeDeploy's
PutLifecycleEventHookExecutionStatus, §5.4).

This module does a single invocation. The deployment controller calls it again after an
InProgress (with attempt + 1 and the returned details), persists every result, and enforces the
hook's overall timeout (CodeDeploy: 1 hour) across attempts and callbacks.

    ctx = HookContext("d-ABCDEF123", new_execution_id(), "AfterAllowTestTraffic",
                      environment="production", service="orders",
                      test_url="http://127.0.0.1:9001", production_url="http://127.0.0.1:9000")
    result = invoke_hook(HookSpec("smoke", command=("./smoke.sh",)), ctx, timeout=60)
    result.status, result.message
    # -> ('Failed', 'exited with code 3')

Module layout: hooks_contract (what a hook gets and how its answer reads; pure),
hooks_command (command and container hooks), hooks_http (HTTP hooks).
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
from collections.abc import Callable

from conveyor.config.codedeploy_model import HookSpec
from conveyor.errors import ConveyorError
from conveyor.providers.local import process
from conveyor.providers.local.codedeploy.hooks_command import (
    run_command_hook,
    run_container_hook,
)
from conveyor.providers.local.codedeploy.hooks_contract import (
    DEFAULT_CALLBACK_DELAY,
    FAILED,
    HOOK_ENV_VARS,
    IN_PROGRESS,
    LOG_TAIL_CHARS,
    PENDING,
    STATUSES,
    SUCCEEDED,
    HookContext,
    HookResult,
    hook_env,
    hook_payload,
    read_report,
)
from conveyor.providers.local.codedeploy.hooks_http import post_hook
from conveyor.providers.local.containers import ContainerEngine, detect_engine

__all__ = ["DEFAULT_CALLBACK_DELAY", "DEFAULT_KILL_GRACE", "FAILED", "HOOK_ENV_VARS", "IN_PROGRESS",
           "LOG_TAIL_CHARS", "PENDING", "STATUSES", "SUCCEEDED", "HookContext", "HookResult", "HookSpec",
           "hook_env", "hook_payload", "invoke_hook", "new_execution_id", "read_report"]

#: Between SIGTERM and SIGKILL when a command or container hook runs out of time.
DEFAULT_KILL_GRACE = process.DEFAULT_KILL_GRACE


def new_execution_id() -> str:
    """An opaque LifecycleEventHookExecutionId (CodeDeploy's are opaque tokens too): 43 URL-safe
    characters, unguessable, since an HTTP hook's callback proves who it is with it."""
    return secrets.token_urlsafe(32)


def invoke_hook(spec: HookSpec, ctx: HookContext, *, timeout: float, cancel: threading.Event | None = None,
                runner: Callable[..., int] = process.stream, mask: Callable[[str], str] | None = None,
                grace: float = DEFAULT_KILL_GRACE, engine: ContainerEngine | None = None,
                on_line: Callable[[str], None] | None = None) -> HookResult:
    """Invoke `spec` once for `ctx` and return its verdict; never raises for anything the hook
    does (a missing executable, a refused connection, a timeout are Failed results).

    timeout   seconds this invocation may take; then the process group gets SIGTERM, and SIGKILL
              after `grace` (an HTTP call is abandoned)
    cancel    set it to stop the invocation early (→ Failed "cancelled")
    runner    process.stream or a stand-in with its signature (command and container hooks)
    mask      applied to the result's message and log tail, and to each line given to on_line
    engine    the container engine for container hooks (default: detected)
    on_line   receives each (masked) output line of a command or container hook as it comes
    """
    mask = mask or (lambda text: text)
    result = _invoke(spec, ctx, timeout, cancel, runner, mask, grace, engine, on_line)
    # Messages quote output, response bodies and URLs: mask them in one place.
    return dataclasses.replace(result, message=mask(result.message))


def _invoke(spec, ctx, timeout, cancel, runner, mask, grace, engine, on_line) -> HookResult:
    if timeout <= 0:
        return HookResult(FAILED, f"timed out after {timeout:g} s")
    if spec.command:
        return run_command_hook(spec, ctx, timeout=timeout, cancel=cancel, runner=runner, grace=grace,
                                mask=mask, on_line=on_line)
    if spec.image:
        try:
            engine = engine or detect_engine()
        except ConveyorError as exc:  # CONVEYOR_ENGINE names an unknown engine
            return HookResult(FAILED, str(exc))
        return run_container_hook(spec, ctx, timeout=timeout, cancel=cancel, runner=runner, grace=grace,
                                  mask=mask, engine=engine, on_line=on_line)
    if spec.url:
        return post_hook(spec.url, ctx, timeout=timeout, cancel=cancel, mask=mask)
    return HookResult(FAILED, f"hook {spec.name!r} has no command, image or url")
