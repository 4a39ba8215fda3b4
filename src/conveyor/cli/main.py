"""`conveyor` — the command line. A thin client of the daemon's API, plus a few offline verbs
(setup, doctor, validate, init, import). Exit codes (PRODUCT.md): 0 ok, 1 the thing failed,
2 bad usage or bad input, 3 the daemon is unreachable.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

from conveyor import __version__
from conveyor.cli import aws, build, commands, completion, daemonctl, files, live, releases, secrets, services
from conveyor.cli import dashboard as dashboard_commands
from conveyor.cli import dora as dora_commands
from conveyor.cli import events as event_commands
from conveyor.cli import init as init_command
from conveyor.cli import notify as notify_commands
from conveyor.cli import verify as verify_command
from conveyor.cli.render import echo
from conveyor.errors import ConfigError, ConveyorError
from conveyor.stack.setup import add_arguments as setup_arguments


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, as for any bad usage
        echo(f"conveyor: {message}", err=True)
        echo(f"  see `{self.prog} --help`", err=True)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="conveyor", description="Commit-to-production for containerized services.")
    p.add_argument("--version", action="version", version=f"conveyor {__version__}")
    p.add_argument("--plain", action="store_true",
                   help="plain lines instead of live tables and spinners, even on a terminal")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def cmd(name: str, fn, help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        sp.set_defaults(fn=fn)
        return sp

    sp = cmd("setup", files.setup, "install or verify podman, the registry, HAProxy, mmdebstrap and base images")
    sp.add_argument("--dry-run", action="store_true", help="print what would run")
    setup_arguments(sp)
    sp = cmd("doctor", files.doctor, "check every component and print the fix for anything wrong")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--target", choices=("local", "aws"), default="local",
                    help="aws: the AWS identity and every resource conveyor.yml's aws environments name")
    sp.add_argument("env", nargs="?", metavar="ENV", help="with --target aws: only this environment")
    sp.add_argument("--file", default="conveyor.yml", help="with --target aws: the conveyor.yml to read")

    sp = cmd("up", daemonctl.up, "start the daemon in the background")
    sp.add_argument("--port", type=int, default=None)
    sp.add_argument("--host", default=None,
                    help="address to bind (default 127.0.0.1); another than loopback needs --allow-remote")
    sp.add_argument("--allow-remote", action="store_true",
                    help="bind a non-loopback --host: the API (token, plain HTTP) is reachable from the network")
    sp.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                    help="a name clients use for this machine, accepted in the Host header (repeatable)")
    sp.add_argument("--no-poll", action="store_true", help="do not poll watched branches")
    sp.add_argument("--webhooks", action="store_true",
                    help="serve git hosts' webhooks (POST /hooks/github|gitlab|bitbucket|generic) on the "
                         "API's listener")
    sp.add_argument("--webhooks-listen", metavar="HOST:PORT", default=None,
                    help="serve the webhooks on a listener of their own (another than loopback needs --allow-remote)")
    sp = cmd("down", daemonctl.down, "stop the daemon (services keep serving)")
    sp.add_argument("--all", action="store_true",
                    help="also stop every service task and load balancer, and the engine API service of builds")

    init_command.add_command(cmd)
    sp = cmd("validate", files.validate, "check conveyor.yml or an AWS file; all errors at once")
    sp.add_argument("files", nargs="*", metavar="FILE")
    sp.add_argument("--kind", choices=files.KINDS, default=None)
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--build-image", default=None, metavar="IMAGE",
                    help="check a buildspec's runtime-versions against this image (default: the standard build "
                         "image `conveyor setup` makes)")
    sp = cmd("import", files.import_, "convert a CodePipeline JSON definition to conveyor.yml")
    sp.add_argument("source", choices=["codepipeline"])
    sp.add_argument("file", metavar="FILE")
    sp.add_argument("-o", "--output", default=None, help="write here instead of standard output")

    aws.add_commands(cmd)

    sp = cmd("build", build.build, "run a buildspec locally, as the CodeBuild action does (no daemon needed)")
    sp.add_argument("--buildspec", default="buildspec.yml", help="path, or relative to --source")
    sp.add_argument("--source", default=".", help="source directory (copied; yours is not changed)")
    sp.add_argument("--image", default=None, help="build image (default: Conveyor's, from `conveyor setup`)")
    sp.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="override a variable")
    sp.add_argument("--artifacts", default=None, metavar="DIR", help="keep the artifacts here")
    sp.add_argument("--timeout", type=float, default=60, metavar="MINUTES")

    sp = cmd("run", commands.run, "start an execution of the pipeline of this repository")
    sp.add_argument("--repo", default=None, help="git repository (default: the one you stand in)")
    sp.add_argument("--pipeline", default=None)
    sp.add_argument("--branch", default=None)
    sp.add_argument("--commit", default=None)
    sp.add_argument("--config", default="conveyor.yml", help="path of conveyor.yml inside the repository")
    sp.add_argument("--variable", action="append", default=[], metavar="NAME=VALUE")
    sp.add_argument("--protected-branch", action="append", default=None, metavar="BRANCH", dest="protected_branch",
                    help="when registering the pipeline: a branch whose conveyor.yml is trusted (repeat for more; "
                         "the first holds the definition; default main)")
    sp.add_argument("--follow", "-f", action="store_true", help="show live progress until it ends")
    sp.add_argument("--from-hook", action="store_true", help="read 'old new ref' lines (git post-receive)")
    sp.add_argument("--ref", default=None, help="with --before/--after: report one pushed ref")
    sp.add_argument("--before", default=None)
    sp.add_argument("--after", default=None)
    sp.add_argument("--json", action="store_true")

    sp = cmd("status", commands.status, "pipelines and their latest execution, or one execution in detail")
    sp.add_argument("execution", nargs="?")
    sp.add_argument("--json", action="store_true")
    sp = cmd("history", commands.history, "past executions")
    sp.add_argument("--pipeline", default=None)
    sp.add_argument("--limit", type=int, default=20)
    sp.add_argument("--json", action="store_true")
    sp = cmd("logs", commands.logs, "the logs of an execution's actions")
    sp.add_argument("execution", nargs="?")
    sp.add_argument("--follow", "-f", action="store_true")
    sp.add_argument("--stage", default=None)
    sp.add_argument("--action", default=None)
    sp.add_argument("--json", action="store_true")
    sp = cmd("report", commands.report, "test and coverage reports of an execution, failures first")
    sp.add_argument("execution", nargs="?")
    sp.add_argument("--json", action="store_true")
    for name, fn in (("approve", commands.approve), ("reject", commands.reject)):
        sp = cmd(name, fn, f"{name} the manual approval an execution waits for")
        sp.add_argument("execution")
        sp.add_argument("--comment", "-m", default="")
        sp.add_argument("--stage", default=None)
        sp.add_argument("--action", default=None)
        sp.add_argument("--json", action="store_true")
    sp = cmd("stop", commands.stop, "stop an execution (in-progress actions finish, or --abandon them)")
    sp.add_argument("execution")
    sp.add_argument("--abandon", action="store_true")
    sp.add_argument("--reason", default="")
    sp.add_argument("--json", action="store_true")
    sp = cmd("retry", commands.retry, "retry the failed or stopped stage of an execution")
    sp.add_argument("execution")
    sp.add_argument("--stage", default=None)
    sp.add_argument("--all", action="store_true", help="re-run every action of the stage, not only failed ones")
    sp.add_argument("--follow", "-f", action="store_true")
    sp.add_argument("--json", action="store_true")

    event_commands.add_command(cmd)
    notify_commands.add_command(cmd)

    sp = cmd("secret", secrets.secret, "store secrets (encrypted at rest, masked in every log and API answer)")
    ssub = sp.add_subparsers(dest="secret_command", metavar="set|ls|rm", parser_class=Parser, required=True)
    ss = ssub.add_parser("set", help="set NAME from standard input (never from an argument)")
    ss.add_argument("name")
    ss = ssub.add_parser("ls", help="names and dates, never values")
    ss.add_argument("--json", action="store_true")
    ss = ssub.add_parser("rm", help="remove a secret")
    ss.add_argument("name")

    sp = cmd("image", commands.image, "images in the local registry (ECR semantics)")
    isub = sp.add_subparsers(dest="image_command", metavar="ls|lifecycle", parser_class=Parser, required=True)
    ls = isub.add_parser("ls", help="repositories, tags, digests and push times")
    ls.add_argument("repository", nargs="?")
    ls.add_argument("--json", action="store_true")
    lc = isub.add_parser("lifecycle", help="apply the lifecycle policies now (also on a schedule): expire, "
                                           "collect blobs, bound engine images and build caches")
    lc.add_argument("repository", nargs="?", help="only this repository's policy (default: every repository)")
    lc.add_argument("--dry-run", action="store_true", help="show what would expire and why, and what is protected")
    lc.add_argument("--json", action="store_true", help="the plan or the result as JSON")

    sp = cmd("service", services.service, "services (ECS semantics): tasks behind HAProxy, kept at their desired count")
    vsub = sp.add_subparsers(dest="service_command", metavar="ls|describe|scale|logs", parser_class=Parser,
                             required=True)
    vs = vsub.add_parser("ls", help="every service, its task definition and counts")
    vs.add_argument("--json", action="store_true")
    vs = vsub.add_parser("describe", help="deployments, tasks, targets and the latest service events")
    vs.add_argument("env", metavar="ENV")
    vs.add_argument("service", metavar="SERVICE")
    vs.add_argument("--json", action="store_true")
    vs = vsub.add_parser("scale", help="set the desired count")
    vs.add_argument("env", metavar="ENV")
    vs.add_argument("service", metavar="SERVICE")
    vs.add_argument("count", type=int, metavar="N")
    vs.add_argument("--json", action="store_true")
    vs = vsub.add_parser("logs", help="the containers' output")
    vs.add_argument("env", metavar="ENV")
    vs.add_argument("service", metavar="SERVICE")
    vs.add_argument("--tail", type=int, default=100)
    vs.add_argument("--json", action="store_true")

    sp = cmd("deploy", services.deploy, "deploy an image to a service (rolling or blue/green), or "
                                        "`deploy status|continue|stop|promote ENV SERVICE`")
    sp.add_argument("words", nargs="+", metavar="[status|continue|stop|promote] ENV SERVICE")
    sp.add_argument("--reason", default="", help="why (continue, stop, promote): kept in the deployment's history")
    sp.add_argument("--rollback", action="store_true", help="stop: also send traffic back to blue")
    sp.add_argument("--no-rollback", action="store_true", help="stop: leave traffic and tasks as they are")
    sp.add_argument("--wait-type", choices=("READY_WAIT", "TERMINATION_WAIT"), default=None,
                    help="continue: which wait to end (default: the one the deployment is in)")
    sp.add_argument("--image", action="append", default=[], metavar="[CONTAINER=]URI",
                    help="image for the load-balanced (or only) container, or for CONTAINER; repeatable")
    sp.add_argument("--file", default=None, help="conveyor.yml declaring the service (default: ./conveyor.yml "
                                                 "when the service does not exist yet)")
    sp.add_argument("--no-wait", action="store_true", help="return once the deployment has started")
    sp.add_argument("--timeout", type=float, default=60, metavar="MINUTES")
    sp.add_argument("--json", action="store_true")

    sp = cmd("rollback", services.rollback, "back to the previous revision: instant while blue is warm")
    sp.add_argument("env", metavar="ENV")
    sp.add_argument("service", metavar="SERVICE")
    sp.add_argument("--reason", default="", help="why: kept in the deployment's history")
    sp.add_argument("--json", action="store_true")

    sp = cmd("metrics", releases.metrics, "per-second metrics of a service's target groups and listeners")
    sp.add_argument("env", metavar="ENV")
    sp.add_argument("service", metavar="SERVICE")
    sp.add_argument("--seconds", type=int, default=60, help="how far back (default 60)")
    sp.add_argument("--json", action="store_true")

    verify_command.add_command(cmd)

    sp = cmd("alarms", releases.alarms, "a service's alarms: state, reason, history")
    sp.add_argument("env", metavar="ENV")
    sp.add_argument("service", metavar="SERVICE")
    sp.add_argument("--json", action="store_true")

    dora_commands.add_arguments(cmd("dora", dora_commands.dora, "DORA metrics of production deployments"))

    sp = cmd("dashboard", dashboard_commands.dashboard, "print a one-time login link for the web dashboard")
    sp.add_argument("--open", action="store_true", help="also open it in a browser")
    sp.add_argument("--name", default=None, help="who logs in (recorded with their actions; default: your login)")

    sp = cmd("demo", commands.demo, "run the orders-service demo pipeline end to end")
    sp.add_argument("--yes", "-y", action="store_true", help="approve the manual approval automatically")
    sp.add_argument("--dir", default=None, help="where to create the demo repositories")
    sp.add_argument("--bad-release", action="store_true",
                    help="then ship a release that fails under traffic: watch the alarm roll it back")
    completion.add_command(cmd)
    return p


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    if words[:1] == [completion.HELPER]:  # the completion scripts' helper: hidden, silent
        return completion.complete(words[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.plain:
        os.environ[live.PLAIN_ENV] = "1"
    if not getattr(args, "fn", None):
        parser.print_help()
        return 2
    try:
        return int(args.fn(args) or 0)
    except ConfigError as exc:
        for d in exc.diagnostics:
            echo(str(d), err=True)
        n = exc.error_count
        echo(f"{n} error{'s' if n != 1 else ''}", err=True)
        return exc.exit_code
    except ConveyorError as exc:
        echo(f"conveyor: {exc}", err=True)
        if exc.hint:
            echo(f"  next: {exc.hint}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        echo("interrupted", err=True)
        return 130


if __name__ == "__main__":
    sys.exit(main())
