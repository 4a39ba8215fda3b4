"""`conveyor verify ENV SERVICE [--rate N] [--duration S] [--during deploy|rollback] [--image URI]
[--method GET|POST --path P] [--post-fraction F --post-path P] [--json]`: the zero-downtime proof
as a command (conveyor.verify does the work; this adapts the daemon's API and prints).

Exit 0 only when no request failed, the generator kept its rate and (with --during) the
deployment or rollback succeeded; 1 otherwise; 2 bad usage; 3 the daemon is unreachable.
"""

from __future__ import annotations

import argparse
import math
import os
from typing import Any
from urllib.parse import quote

from conveyor.cli import render
from conveyor.cli.client import Client
from conveyor.cli.releases import deployment_path
from conveyor.cli.render import echo
from conveyor.errors import UserError
from conveyor.loadgen import DEFAULT_TIMEOUT_SECONDS, DEFAULT_VERSION_HEADER
from conveyor.verify import VerifyPlan, render_lines, run_verify
from conveyor.verify.run import DEFAULT_AFTER, DEFAULT_BEFORE, DEFAULT_CONCURRENCY, DEFAULT_DURATION, DEFAULT_RATE


class ClientApi:
    """The DaemonApi of conveyor.verify over the CLI's HTTP client."""

    def __init__(self, client: Client) -> None:
        self.client = client

    @staticmethod
    def _path(environment: str, service: str) -> str:
        return f"/api/v1/services/{quote(environment, safe='')}/{quote(service, safe='')}"

    def service(self, environment: str, service: str) -> dict[str, Any]:
        return dict(self.client.get(self._path(environment, service)))

    def deploy(self, environment: str, service: str, image: str | None, who: str) -> dict[str, Any]:
        """As `conveyor deploy ENV SERVICE [--image URI]`: without an image, the current task
        definition again as a new revision (the last declaration of the service is reused)."""
        images = [{"name": "", "imageUri": image}] if image else []
        return dict(self.client.post(self._path(environment, service) + "/deployments", {"by": who, "images": images}))

    def rollback(self, environment: str, service: str, who: str) -> dict[str, Any]:
        return dict(self.client.post(self._path(environment, service) + "/rollback",
                                     {"by": who, "reason": "conveyor verify --during rollback"}))

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        return dict(self.client.get(deployment_path(deployment_id)))


def verify(args: argparse.Namespace) -> int:
    plan = plan_of(args)
    problems = plan.problems()
    if problems:
        raise UserError("; ".join(problems), hint="see `conveyor verify --help`")
    api = ClientApi(Client.connect())
    report = run_verify(plan, api, progress=_progress)
    if args.json:
        out = report.to_json()
        out["environment"], out["service"] = plan.environment, plan.service
        render.as_json(out)
    else:
        for line in render_lines(report, title=f"{plan.environment} {plan.service}"
                                 + (f" --during {plan.during}" if plan.during else "")):
            echo(line)
    return 0 if report.passed else 1


def _progress(text: str) -> None:
    echo(f"  {text}", err=True)  # stderr: --json's standard output stays one document


def plan_of(args: argparse.Namespace) -> VerifyPlan:
    method = str(args.method).upper()
    return VerifyPlan(
        environment=args.env, service=args.service, rate=args.rate, duration=args.duration, during=args.during,
        before=args.before, after=args.after, image=args.image, method=method, path=args.path,
        post_fraction=args.post_fraction, post_path=args.post_path,
        body=args.body.encode() if args.body is not None else VerifyPlan.body,
        version_header=args.version_header, request_timeout=args.request_timeout, concurrency=args.concurrency,
        deploy_timeout=args.timeout * 60, who=os.environ.get("USER") or os.environ.get("LOGNAME") or "cli")


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def add_command(cmd) -> None:
    sp = cmd("verify", verify, "prove zero downtime: constant-rate load on a service's listener while a deployment "
                               "or rollback runs (or for --duration), then a report; exit 0 only if nothing failed")
    sp.add_argument("env", metavar="ENV")
    sp.add_argument("service", metavar="SERVICE")
    sp.add_argument("--rate", type=_number, default=DEFAULT_RATE, metavar="N",
                    help=f"requests per second, open loop (default {DEFAULT_RATE:g})")
    sp.add_argument("--duration", type=_number, default=None, metavar="S",
                    help=f"without --during: seconds of load (default {DEFAULT_DURATION:g})")
    sp.add_argument("--during", choices=("deploy", "rollback"), default=None,
                    help="deploy: a new revision (--image, or the current one again); rollback: `conveyor rollback`")
    sp.add_argument("--image", default=None, metavar="URI", help="with --during deploy: the image to deploy")
    sp.add_argument("--before", type=_number, default=DEFAULT_BEFORE, metavar="S",
                    help=f"with --during: seconds of load before it starts (default {DEFAULT_BEFORE:g})")
    sp.add_argument("--after", type=_number, default=DEFAULT_AFTER, metavar="S",
                    help=f"with --during: seconds of load after it is done (default {DEFAULT_AFTER:g})")
    sp.add_argument("--method", type=str.upper, choices=("GET", "POST"), default="GET")
    sp.add_argument("--path", default=None, metavar="P",
                    help="the route to load (default: the load balancer's health-check path); required with POST")
    sp.add_argument("--post-fraction", type=_number, default=0.0, metavar="F",
                    help="with GET: this fraction (0-1) of the requests are POSTs to --post-path (writes)")
    sp.add_argument("--post-path", default=None, metavar="P", help="where --post-fraction's POSTs go, e.g. /orders")
    sp.add_argument("--body", default=None, metavar="JSON",
                    help='the POSTs\' JSON body (default {"item": "loadgen", "quantity": 1})')
    sp.add_argument("--version-header", default=DEFAULT_VERSION_HEADER, metavar="NAME",
                    help=f"the answer header naming the version that answered (default {DEFAULT_VERSION_HEADER})")
    sp.add_argument("--request-timeout", type=_number, default=DEFAULT_TIMEOUT_SECONDS, metavar="S",
                    help=f"a request with no full answer after this long failed (default {DEFAULT_TIMEOUT_SECONDS:g})")
    sp.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, metavar="N",
                    help=f"requests in flight at most (default {DEFAULT_CONCURRENCY}); more wait, and show as late "
                         "starts")
    sp.add_argument("--timeout", type=_number, default=10, metavar="MINUTES",
                    help="how long to wait for the deployment or rollback (default 10)")
    sp.add_argument("--json", action="store_true", help="the report as JSON")

