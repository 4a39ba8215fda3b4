"""`conveyor init`: the whole pipeline for a repository with a Dockerfile or Containerfile —
conveyor.yml, buildspec.yml, taskdef.json and appspec.yaml (conveyor.scaffold renders them).

What it asks, and where the answer comes from when nobody is there to answer:
  * the container port: the final image's first TCP port in EXPOSE, else --port, else a prompt on
    a terminal; without a terminal that is an error (exit 2), never a guess;
  * the health check path: --health-path, else a prompt on a terminal offering /health, else
    /health, said on the output.

Without a Dockerfile or Containerfile it writes nothing and says what it needs (exit 2): the
pipeline it writes deploys an image, and a pipeline that ran the repository's tests on the host
(the old starter) would need allowHostCommands, which a scaffold should not switch on for you.
Every file is checked with the validators `conveyor validate` runs before it is written, and
nothing is overwritten without --force.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Protocol, TextIO

from conveyor.cli.render import echo
from conveyor.errors import ConfigError, Diagnostic, UserError
from conveyor.scaffold.dockerfile import BuildArg, DockerfileFacts, ExposedPort, Unresolved, read_dockerfile
from conveyor.scaffold.naming import check_name, service_name
from conveyor.scaffold.templates import (
    FILES,
    PRODUCTION_PORT,
    STAGING_PORT,
    TEST_PORT,
    Plan,
    render,
)

DOCKERFILE_NAMES = ("Containerfile", "Dockerfile")  # podman's order when both exist
DEFAULT_HEALTH_PATH = "/health"
MAX_DOCKERFILE_BYTES = 1_048_576
SAFE_PATH = re.compile(r"[A-Za-z0-9._/-]+")  # written unquoted into a shell command of buildspec.yml
HEALTH_PATH = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]{0,1023}")
#: Build arguments Conveyor or CodeBuild already give the build, or BuildKit sets itself.
RESERVED_ARGS = {"CONTAINER_NAME", "REPOSITORY_NAME", "IMAGE_TAG", "IMAGE_URI", "REGISTRY", "ACCOUNT_ID",
                 "HOME", "PATH", "DOCKER_HOST", "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
                 "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT"}
RESERVED_PREFIXES = ("CODEBUILD_", "CONVEYOR_", "AWS_")
MAX_VARIABLE_DEFAULT = 1000  # CodePipeline's PipelineVariableDeclaration.defaultValue: 1-1000 characters


class Prompter(Protocol):
    """Where questions go. `interactive` is False when no one can answer (not a terminal)."""

    interactive: bool

    def ask(self, question: str) -> str | None:
        """The answer, stripped; None at end of input."""


class TerminalPrompter:
    def __init__(self, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
        self.stdin, self.stdout = stdin, stdout
        self.interactive = stdin.isatty() and stdout.isatty()

    def ask(self, question: str) -> str | None:
        self.stdout.write(question)
        self.stdout.flush()
        line = self.stdin.readline()
        return line.strip() if line else None


def add_command(cmd: Callable[[str, Callable, str], argparse.ArgumentParser]) -> None:
    sp = cmd("init", init, "write the whole pipeline (build, staging, approval, blue/green production) for the "
                           "Dockerfile or Containerfile of this repository")
    sp.add_argument("--dockerfile", default=None, metavar="PATH",
                    help="the Dockerfile to build (default: Containerfile or Dockerfile at the repository root)")
    sp.add_argument("--port", type=_port, default=None, metavar="N",
                    help="the port the container serves on (default: the Dockerfile's first EXPOSEd TCP port)")
    sp.add_argument("--health-path", default=None, metavar="PATH",
                    help=f"the load balancer's health check path (default {DEFAULT_HEALTH_PATH}; asked on a terminal)")
    sp.add_argument("--name", default=None, help="pipeline, service and repository name (default: the directory's)")
    sp.add_argument("--staging-port", type=_port, default=STAGING_PORT, metavar="N",
                    help=f"staging's listener on this machine (default {STAGING_PORT})")
    sp.add_argument("--production-port", type=_port, default=PRODUCTION_PORT, metavar="N",
                    help=f"production's listener (default {PRODUCTION_PORT})")
    sp.add_argument("--test-port", type=_port, default=TEST_PORT, metavar="N",
                    help=f"production's test listener, for the new tasks before they get traffic (default {TEST_PORT})")
    sp.add_argument("--force", action="store_true", help="overwrite files that exist")


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port (1-65535)")
    return int(text)


def init(args: argparse.Namespace) -> int:
    from conveyor.cli.commands import git_root

    return scaffold(args, git_root(Path.cwd()), Path.cwd(), TerminalPrompter())


def scaffold(args: argparse.Namespace, root: Path, cwd: Path, prompter: Prompter) -> int:
    existing = [name for name in FILES if (root / name).exists()]
    if existing and not args.force:
        raise UserError(f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''} in {root}; "
                        "nothing was written", hint="pass --force to overwrite them")
    if args.name is not None and (problem := check_name(args.name)):
        raise UserError(f"--name {problem}")
    if args.health_path is not None and (problem := check_health_path(args.health_path)):
        raise UserError(f"--health-path {problem}")
    listeners = {"--staging-port": args.staging_port, "--production-port": args.production_port,
                 "--test-port": args.test_port}
    if len(set(listeners.values())) < 3:
        raise UserError("the staging, production and test listener ports must differ "
                        f"({', '.join(f'{k} {v}' for k, v in listeners.items())})")
    dockerfile = find_dockerfile(root, cwd, args.dockerfile)
    rel = dockerfile.relative_to(root).as_posix()
    facts = read_dockerfile(_read(dockerfile, rel))
    port = args.port or choose_port(facts, rel, prompter)
    health = args.health_path if args.health_path is not None else choose_health_path(prompter)
    build_args, skipped = usable_build_args(facts.build_args)
    plan = Plan(name=args.name or service_name(root.name), branch=_branch(root), dockerfile=rel,
                context=dockerfile.parent.relative_to(root).as_posix(), port=port, health_path=health,
                build_args=build_args,
                staging_port=args.staging_port, production_port=args.production_port, test_port=args.test_port)
    files = render(plan)
    check_rendered(files)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    _report(root, plan, skipped)
    return 0


def find_dockerfile(root: Path, cwd: Path, given: str | None) -> Path:
    if given is not None:
        path = (cwd / given).resolve()
        if not path.is_file():
            raise UserError(f"--dockerfile {given}: no such file")
        try:
            path.relative_to(root.resolve())
        except ValueError:
            raise UserError(f"--dockerfile {given} is outside the repository {root}",
                            hint="the build runs on the repository's files: keep the Dockerfile in it") from None
        return root / path.relative_to(root.resolve())
    found = [name for name in DOCKERFILE_NAMES if (root / name).is_file()]
    if len(found) > 1:
        echo(f"building {found[0]} (podman's choice; a {found[1]} is there too: --dockerfile {found[1]} builds that)")
    if found:
        return root / found[0]
    raise UserError(f"no Containerfile or Dockerfile in {root}: `conveyor init` writes a pipeline that builds "
                    "the image it describes and deploys it to staging and production; nothing was written",
                    hint="add a Containerfile (or Dockerfile) at the repository root, or pass --dockerfile PATH")


def _read(path: Path, rel: str) -> str:
    if not SAFE_PATH.fullmatch(rel) or rel.startswith("-"):
        raise UserError(f"{rel}: the buildspec names the Dockerfile in a shell command; use a path of letters, "
                        "digits and . _ / - only")
    data = path.read_bytes()
    if len(data) > MAX_DOCKERFILE_BYTES:
        raise UserError(f"{rel}: {len(data)} bytes; a Dockerfile of at most {MAX_DOCKERFILE_BYTES} is read")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{rel}: not UTF-8 text (byte {exc.start})") from None


def choose_port(facts: DockerfileFacts, rel: str, prompter: Prompter) -> int:
    first = facts.first_tcp_port()
    if isinstance(first, ExposedPort):
        echo(f"container port: {first.port} (EXPOSE at {rel}:{first.line})")
        return first.port
    if isinstance(first, Unresolved):
        why = f"{rel}:{first.line}: EXPOSE {first.text}: {first.reason}"
    else:
        udp = [f"{p.port}/{p.protocol}" for p in facts.exposed if isinstance(p, ExposedPort)]
        why = f"{rel} exposes no TCP port" + (f" (only {', '.join(udp)})" if udp else " (no EXPOSE)")
    if not prompter.interactive:
        raise UserError(f"{why}: the load balancer needs the port the container serves on; nothing was written",
                        hint="pass --port N, or add `EXPOSE N` to the Dockerfile")
    echo(why)
    while True:
        answer = prompter.ask("Container port the service listens on: ")
        if answer is None:
            raise UserError("no container port given; nothing was written", hint="pass --port N")
        if answer.isdigit() and 1 <= int(answer) <= 65535:
            return int(answer)
        echo(f"'{answer}' is not a port (1-65535)")


def choose_health_path(prompter: Prompter) -> str:
    if not prompter.interactive:
        echo(f"health check path: {DEFAULT_HEALTH_PATH} (the default, not asked: no terminal; "
             "--health-path PATH to choose)")
        return DEFAULT_HEALTH_PATH
    while True:
        answer = prompter.ask(f"Health check path (answers 200 when the service is ready) [{DEFAULT_HEALTH_PATH}]: ")
        if answer is None:
            raise UserError("no health check path given; nothing was written", hint="pass --health-path PATH")
        path = answer or DEFAULT_HEALTH_PATH
        problem = check_health_path(path)
        if problem is None:
            return path
        echo(problem)


def check_health_path(path: str) -> str | None:
    """Why `path` cannot be the target group's health check path, or None.

    >>> check_health_path("/ready?full=1") is None, check_health_path("health")
    (True, "'health' is not a path: it starts with / and holds no spaces or quotes (at most 1024 characters)")
    """
    if HEALTH_PATH.fullmatch(path):
        return None
    return f"'{path}' is not a path: it starts with / and holds no spaces or quotes (at most 1024 characters)"


def usable_build_args(args: tuple[BuildArg, ...]) -> tuple[tuple[BuildArg, ...], list[str]]:
    """The ARGs before FROM that become pipeline variables (those with a default that nothing
    else sets), and a note for each left out."""
    keep: list[BuildArg] = []
    skipped: list[str] = []
    for arg in args:
        if arg.default is None:
            skipped.append(f"{arg.name} (no default: builds leave it unset)")
        elif not 1 <= len(arg.default) <= MAX_VARIABLE_DEFAULT:
            skipped.append(f"{arg.name} (a default of {len(arg.default)} characters: builds use the Dockerfile's; a "
                           f"pipeline variable's default is 1-{MAX_VARIABLE_DEFAULT})")
        elif arg.name in RESERVED_ARGS or arg.name.startswith(RESERVED_PREFIXES):
            skipped.append(f"{arg.name} (a name the build already sets)")
        elif arg.name not in {a.name for a in keep}:
            keep.append(arg)
    return tuple(keep), skipped


def check_rendered(files: dict[str, str]) -> None:
    """Run the validators of `conveyor validate` on the files before they are written: a file
    that does not validate is a bug here, and the user gets nothing rather than a broken file."""
    from conveyor.config.appspec import check_appspec_file
    from conveyor.config.buildspec import check_buildspec_file
    from conveyor.config.pipeline import check_file
    from conveyor.config.taskdef import check_taskdef_file

    checks: dict[str, Callable[[Path, str], list[Diagnostic]]] = {
        "conveyor.yml": check_file, "buildspec.yml": check_buildspec_file,
        "taskdef.json": check_taskdef_file, "appspec.yaml": check_appspec_file}
    problems: list[Diagnostic] = []
    with tempfile.TemporaryDirectory(prefix="conveyor-init-") as tmp:
        for name, text in files.items():
            (Path(tmp) / name).write_text(text, encoding="utf-8")
        for name, check in checks.items():
            # the full path as the display name too: conveyor.yml's check reads taskdef.json next to it
            found = check(Path(tmp) / name, str(Path(tmp) / name))
            problems += [replace(d, file=d.file.replace(tmp + os.sep, "")) for d in found]
    if problems:
        raise ConfigError(problems)


def _branch(root: Path) -> str:
    done = subprocess.run(["git", "-C", str(root), "symbolic-ref", "--quiet", "--short", "HEAD"],
                          capture_output=True, text=True)
    return done.stdout.strip() or "main"


def _report(root: Path, plan: Plan, skipped: list[str]) -> None:
    echo(f"wrote {', '.join(FILES)} in {root}")
    echo(f"  {plan.name}: {plan.dockerfile} → build → staging :{plan.staging_port} (rolling) → approval → "
         f"production :{plan.production_port} (blue/green canary, test listener :{plan.test_port}, "
         "rollback on 5xx or latency)")
    if plan.context != ".":
        echo(f"  build context: {plan.context}/ (the Dockerfile's directory; the docker build line of buildspec.yml "
             "says so)")
    if plan.build_args:
        echo("  build arguments as pipeline variables: " + ", ".join(f"{a.name}={a.default}" for a in plan.build_args)
             + " (`conveyor run --variable NAME=VALUE`)")
    for note in skipped:
        echo(f"  not passed to the build: {note}")
    first_run = "conveyor run --follow" if plan.branch == "main" else \
        f"conveyor run --protected-branch {plan.branch} --follow"
    echo(f"next: git add {' '.join(FILES)} && git commit -m 'conveyor pipeline', then `conveyor up` and "
         f"`{first_run}`")
