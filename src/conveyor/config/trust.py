"""The trust keys of conveyor.yml: which branches' conveyor.yml is trusted, and the opt-ins for
running anything outside a container.

Anyone who can push a branch can change that branch's conveyor.yml and the files it builds, so
the daemon runs the definition of a protected branch (`protectedBranches:`, default `main`) and
refuses, at validation, what would run a pushed program as the daemon's user unless that
definition says so:

    allowHostCommands: true     # Command actions and deployment hooks without an image
    privilegedMode: true        # on a CodeBuild action: the build gets the engine's API socket

    >>> valid_branch_name("release/1.x"), valid_branch_name("-x"), valid_branch_name("a..b")
    (True, False, False)
"""

from __future__ import annotations

import re
from typing import Any

from conveyor.documents.checker import Checker
from conveyor.documents.located import KeyPath

TRUST_KEYS = ("protectedBranches", "allowHostCommands")
MAX_PROTECTED_BRANCHES = 20
HOST_COMMAND_HINT = ("allow it with `allowHostCommands: true` at the top level of conveyor.yml (on a protected "
                     "branch), or give it an `image` to run it in a container")

_BRANCH = re.compile(r"[A-Za-z0-9._/@+-]{1,255}")


def valid_branch_name(name: str) -> bool:
    """A plain branch name (no globs): what `git check-ref-format --branch` accepts, narrowed to a
    safe character set so that it can never be read as an option or a revision range."""
    return bool(_BRANCH.fullmatch(name)) and not (
        name.startswith(("-", "/", ".")) or name.endswith(("/", ".", ".lock")) or ".." in name
        or "//" in name or "/." in name or "@{" in name or name == "@")


def check_trust(chk: Checker) -> None:
    data = chk.doc.data
    branches = chk.get((), "protectedBranches", list, what="a list of branch names")
    if branches is not None:
        if not branches:
            chk.error(("protectedBranches",), "expected at least one branch (the first holds the pipeline's "
                                              "definition), e.g. [main]")
        if len(branches) > MAX_PROTECTED_BRANCHES:
            chk.error(("protectedBranches",), f"at most {MAX_PROTECTED_BRANCHES} branches, got {len(branches)}")
        seen: set[str] = set()
        for i, name in enumerate(branches):
            if not chk.is_type(("protectedBranches", i), name, str, "a branch name"):
                continue
            if not valid_branch_name(name):
                chk.error(("protectedBranches", i), f"invalid branch name '{name}': a plain branch name such as "
                                                    "main or release/1.x (no globs, no leading '-')")
            elif name in seen:
                chk.error(("protectedBranches", i), f"duplicate branch '{name}'")
            seen.add(name)
    allow = chk.get((), "allowHostCommands", bool) is True
    if allow:
        return
    for path in host_commands(data):
        what = "a deployment hook with `command`" if "hooks" in path else "a Command action without `image`"
        chk.error(path, f"{what} runs on the host as the daemon's user; " + HOST_COMMAND_HINT)


def host_commands(data: Any) -> list[KeyPath]:
    """Where conveyor.yml asks to run a program on the host: Command actions without an image
    and deployment hooks given a `command`."""
    found: list[KeyPath] = []
    if not isinstance(data, dict):
        return found
    stages = (data.get("pipeline") or {}).get("stages") if isinstance(data.get("pipeline"), dict) else None
    for si, stage in enumerate(stages if isinstance(stages, list) else []):
        actions = stage.get("actions") if isinstance(stage, dict) else None
        for ai, action in enumerate(actions if isinstance(actions, list) else []):
            if not isinstance(action, dict) or action.get("provider") != "Command":
                continue
            conf = action.get("configuration")
            if not (action.get("image") or (isinstance(conf, dict) and conf.get("image"))):
                found.append(("pipeline", "stages", si, "actions", ai))
    envs = data.get("environments")
    for env_name, env in (envs.items() if isinstance(envs, dict) else ()):
        services = env.get("services") if isinstance(env, dict) else None
        for svc_name, svc in (services.items() if isinstance(services, dict) else ()):
            dep = svc.get("deployment") if isinstance(svc, dict) else None
            hooks = dep.get("hooks") if isinstance(dep, dict) else None
            for hook_name, hook in (hooks.items() if isinstance(hooks, dict) else ()):
                if isinstance(hook, dict) and "command" in hook:
                    found.append(("environments", env_name, "services", svc_name, "deployment", "hooks",
                                  hook_name, "command"))
    return found
