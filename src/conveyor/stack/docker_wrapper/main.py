"""The wrapper's entry point: which concern takes an invocation, and carrying out the plans."""

from __future__ import annotations

import os
import sys

from .builds import BuildPlan, buildkit_asked, dockerfile_path, fallback_line, heredoc_note, translate_build
from .buildx import buildx
from .client import call_client, run_real_client, write_notes
from .cmdline import Unhandled, command_of, split_globals
from .engine import engine_headers, own_mounts, podman_version
from .login import login
from .runs import RunPlan, binds_something, host_mounts, translate_run


def do_build(prefix: list[str], plan: BuildPlan, env: dict[str, str], *, buildx_: bool,
             options: dict[str, str], original: list[str]) -> int:
    """A build on the classic builder: the fallback line when BuildKit was asked for, the plan's
    notes, the build, then the pushes buildx's --push asked for."""
    child_env = dict(env)
    notes: list[str] = []
    if buildx_ or buildkit_asked(env):
        headers = engine_headers(options, env)
        engine = podman_version(headers)
        if headers is not None and engine is None and not buildx_:
            run_real_client([*prefix, "build", *original], env)  # Docker: BuildKit works
        notes.append(fallback_line(engine))
    child_env["DOCKER_BUILDKIT"] = "0"
    if plan.error:
        write_notes([*notes, plan.error + "\n"])
        return 1
    heredoc = heredoc_note(dockerfile_path(plan, os.getcwd()))
    write_notes([*notes, *plan.notes, *([heredoc] if heredoc else [])])
    if not plan.pushes:
        run_real_client([*prefix, "build", *plan.args], child_env)
    code = call_client([*prefix, "build", *plan.args], child_env)
    for name in plan.pushes if code == 0 else []:
        code = call_client([*prefix, "push", name], child_env)
        if code != 0:
            break
    return code


def do_run(prefix: list[str], verb: list[str], plan: RunPlan, env: dict[str, str]) -> int:
    import shutil
    import tempfile

    write_notes(plan.notes)
    if not plan.remove_after:
        run_real_client([*prefix, *verb, *plan.args], env)
    scratch = None
    cidfile = plan.cidfile
    args = plan.args
    if cidfile is None:
        scratch = tempfile.mkdtemp(prefix="docker-run.")
        cidfile = os.path.join(scratch, "cid")
        args = ["--cidfile", cidfile, *args]
    try:
        code = call_client([*prefix, *verb, *args], env)
        try:
            with open(cidfile, encoding="utf-8") as f:
                cid = f.read().strip()
        except OSError:
            cid = ""
        if cid:
            call_client([*prefix, "rm", "--force", cid], env, quiet=True)
        return code
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)



def main() -> None:
    argv, env = sys.argv[1:], dict(os.environ)
    if "login" in argv:
        try:
            code, out, err = login(argv, env, sys.stdin)
        except Unhandled:
            pass
        else:
            sys.stdout.write(out)
            sys.stderr.write(err)
            sys.exit(code)
    try:
        options, command = split_globals(argv)
    except Unhandled:
        run_real_client(argv, env)
        return
    prefix = argv[:len(argv) - len(command)]
    verb, args = command_of(command)
    what = verb[-1] if verb else ""
    if verb == ["buildx"]:
        result = buildx(args)
        if isinstance(result, tuple):
            code, out, err = result
            sys.stdout.write(out)
            sys.stderr.write(err)
            sys.exit(code)
        sys.exit(do_build(prefix, result, env, buildx_=True, options=options, original=args))
    if what == "build" and "--help" not in args:
        sys.exit(do_build(prefix, translate_build(args), env, buildx_=False, options=options,
                          original=args))
    if what in ("run", "create"):
        mounts = host_mounts(env)
        if mounts is None and binds_something(args):
            mounts = own_mounts(options, env)
        plan = translate_run(args, os.getcwd(), mounts, create=what == "create")
        sys.exit(do_run(prefix, verb, plan, env))
    run_real_client(argv, env)

