"""One `conveyor verify` run: find the service's production listener, put constant-rate open-loop
load on it (conveyor.loadgen), start a deployment or a rollback after a warm-up, wait for it
through the daemon, keep the load a little longer, then add it all up (conveyor.verify.report).

The daemon is reached through a DaemonApi (the CLI adapts its HTTP client to it), the load
through a Load factory and time through a Clock, so the orchestration is tested with fakes and
the e2e tests run it for real.

    plan = VerifyPlan("staging", "orders", rate=100, during="deploy")
    report = run_verify(plan, daemon_api)
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from conveyor.errors import ConveyorError, DaemonUnreachable, UserError
from conveyor.loadgen import DEFAULT_POST_BODY, DEFAULT_TIMEOUT_SECONDS, DEFAULT_VERSION_HEADER, LoadGenerator, Sample
from conveyor.verify.report import ActionOutcome, Phase, Report, build_report

DURING = ("deploy", "rollback")
DEFAULT_RATE = 100.0
DEFAULT_DURATION = 10.0           # seconds of load without --during
DEFAULT_BEFORE = 3.0              # warm-up before the deployment starts
DEFAULT_AFTER = 3.0               # load kept after it is done
DEFAULT_CONCURRENCY = 64          # requests in flight at most
MAX_LOAD_SECONDS = 24 * 3600.0    # the generator's bound with --during; it is stopped long before
POLL_SECONDS = 0.25               # how often the deployment is asked about while the load runs
UNREACHABLE_GIVE_UP = 30.0        # seconds of a daemon that does not answer before the wait gives up


@dataclass(frozen=True)
class VerifyPlan:
    environment: str
    service: str
    rate: float = DEFAULT_RATE
    duration: float | None = None         # without `during`: seconds of load
    during: str | None = None             # "deploy" | "rollback"
    before: float = DEFAULT_BEFORE
    after: float = DEFAULT_AFTER
    image: str | None = None              # with deploy: the image; None redeploys the current revision
    method: str = "GET"
    path: str | None = None               # None: the load balancer's health-check path
    post_fraction: float = 0.0            # with GET: this fraction of requests POST to post_path
    post_path: str | None = None
    body: bytes = DEFAULT_POST_BODY
    version_header: str = DEFAULT_VERSION_HEADER
    request_timeout: float = DEFAULT_TIMEOUT_SECONDS
    concurrency: int = DEFAULT_CONCURRENCY
    deploy_timeout: float = 600.0         # seconds to wait for the deployment to be done
    who: str = "cli"

    def problems(self) -> list[str]:
        """Usage errors, in words (the CLI exits 2 with them)."""
        out = []
        if not (self.rate > 0 and math.isfinite(self.rate)):
            out.append("--rate must be a number > 0")
        if self.duration is not None and not (self.duration > 0 and math.isfinite(self.duration)):
            out.append("--duration must be a number of seconds > 0")
        if self.during is not None and self.during not in DURING:
            out.append(f"--during must be one of {', '.join(DURING)}")
        if self.during is not None and self.duration is not None:
            out.append("--duration is for a load alone; with --during, the load lasts --before + the deployment "
                       "+ --after")
        if self.during != "deploy" and self.image is not None:
            out.append("--image goes with --during deploy")
        if self.before < 0 or self.after < 0 or not (math.isfinite(self.before) and math.isfinite(self.after)):
            out.append("--before and --after must be seconds >= 0")
        if self.method not in ("GET", "POST"):
            out.append("--method must be GET or POST")
        if self.method == "POST" and not self.path:
            out.append("--method POST needs --path (the route that takes the POST, e.g. /orders)")
        if not 0.0 <= self.post_fraction <= 1.0:
            out.append("--post-fraction must be between 0 and 1")
        if self.post_fraction and self.method == "POST":
            out.append("--post-fraction mixes POSTs into a GET load; --method POST already sends only POSTs")
        if self.post_fraction and not self.post_path:
            out.append("--post-fraction needs --post-path (the route the POSTs go to, e.g. /orders)")
        for name, value in (("--path", self.path), ("--post-path", self.post_path)):
            if value is not None and (not value.startswith("/") or not (value.isascii() and value.isprintable())
                                      or any(c in value for c in " #")):
                out.append(f"{name} must be an absolute path like /orders (printable ASCII, no space or #), "
                           f"got {value!r}")
        if self.method == "POST" or self.post_fraction:
            try:
                json.loads(self.body)
            except ValueError as exc:
                out.append(f"--body is not JSON: {exc}")
        if self.request_timeout <= 0 or self.concurrency < 1 or self.deploy_timeout <= 0:
            out.append("--request-timeout, --concurrency and --timeout must be > 0")
        return out


class DaemonApi(Protocol):
    """What a run needs from the daemon (the CLI's HTTP client, adapted)."""

    def service(self, environment: str, service: str) -> dict[str, Any]: ...

    def deploy(self, environment: str, service: str, image: str | None, who: str) -> dict[str, Any]: ...

    def rollback(self, environment: str, service: str, who: str) -> dict[str, Any]: ...

    def deployment(self, deployment_id: str) -> dict[str, Any]: ...


class Load(Protocol):
    """A started open-loop load (LoadGenerator's shape)."""

    started_at: float

    def start(self) -> None: ...

    def stop(self) -> Any: ...

    def wait(self) -> Any: ...

    def samples(self) -> list[Sample]: ...


LoadFactory = Callable[..., Load]


@dataclass(frozen=True)
class Clock:
    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class Target:
    """Where the load goes: the production listener and the paths."""

    url: str                      # base, e.g. http://127.0.0.1:8081
    get_path: str
    post_path: str | None
    post_fraction: float

    @property
    def get_url(self) -> str:
        return self.url + self.get_path


def resolve_target(plan: VerifyPlan, service: dict[str, Any]) -> Target:
    """The service's production listener (GET /api/v1/services/ENV/NAME's url) and the paths.
    A service without a load balancer has no listener to prove anything on."""
    lb = service.get("loadBalancer") or {}
    url = str(service.get("url") or lb.get("url") or "")
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise UserError(f"{plan.environment}/{plan.service} has no HTTP load balancer listener to send load to"
                        + (f" (its url is {url!r})" if url else ""),
                        hint="declare loadBalancer: for the service in conveyor.yml")
    base = f"{parts.scheme}://{parts.netloc}"
    if plan.method == "POST":
        return Target(base, str(plan.path), str(plan.path), 1.0)
    get_path = plan.path or str(lb.get("healthCheckPath") or "/")
    return Target(base, get_path, plan.post_path, plan.post_fraction)


def run_verify(plan: VerifyPlan, api: DaemonApi, *, load_factory: LoadFactory = LoadGenerator,
               clock: Clock | None = None, progress: Callable[[str], None] | None = None) -> Report:
    """Run the plan and return its report. Raises UserError for a service without a listener or
    a deployment the daemon refuses to start (the load is stopped first)."""
    clock = clock or Clock()
    say = progress or (lambda _text: None)
    target = resolve_target(plan, api.service(plan.environment, plan.service))
    bounded = plan.during is None
    load = load_factory(
        target.get_url, rate=plan.rate, duration=(plan.duration or DEFAULT_DURATION) if bounded else MAX_LOAD_SECONDS,
        version_header=plan.version_header, post_fraction=target.post_fraction, post_path=target.post_path,
        post_body=plan.body, timeout=plan.request_timeout, concurrency=plan.concurrency)
    say(f"load: {plan.rate:g} requests/s on {target.get_url}"
        + (f" ({target.post_fraction:.0%} POST {target.post_path})" if target.post_fraction else ""))
    load.start()
    t0 = load.started_at
    action: ActionOutcome | None = None
    phases: list[Phase]
    try:
        if bounded:
            load.wait()
            end = clock.now()
            phases = [Phase("load", t0, end)]
        else:
            clock.sleep(plan.before)
            a0 = clock.now()
            action = _act(plan, api, clock, say)
            a1 = clock.now()
            say(f"{plan.during}: {action.outcome}; keeping the load {plan.after:g} s more")
            clock.sleep(plan.after)
            load.stop()
            end = clock.now()
            phases = [Phase("before", t0, a0), Phase("during", a0, a1), Phase("after", a1, end)]
    except BaseException:
        load.stop()
        raise
    return build_report(load.samples(), started_at=t0, end=end, rate=plan.rate, phases=phases, action=action)


def _act(plan: VerifyPlan, api: DaemonApi, clock: Clock, say: Callable[[str], None]) -> ActionOutcome:
    """Start the deployment (or rollback) and wait until the daemon says it is done. A timeout
    gives an InProgress outcome (not passed), not an exception, and so does a daemon that stops
    answering for UNREACHABLE_GIVE_UP seconds (an "Unknown" outcome): the load's numbers are
    still worth a report."""
    started = clock.now()
    if plan.during == "deploy":
        d = api.deploy(plan.environment, plan.service, plan.image, plan.who)
    else:
        d = api.rollback(plan.environment, plan.service, plan.who)
    dep_id = str(d.get("id") or "")
    say(f"{plan.during}: deployment {dep_id} → {d.get('taskDefinition', '?')}")
    deadline = started + plan.deploy_timeout
    unreachable_since: float | None = None
    while not d.get("done"):
        if clock.now() > deadline:
            return ActionOutcome(str(plan.during), dep_id, "InProgress",
                                 f"not done after {plan.deploy_timeout:g} s", clock.now() - started,
                                 str(d.get("taskDefinition") or ""))
        clock.sleep(POLL_SECONDS)
        try:
            d = api.deployment(dep_id)
            unreachable_since = None
        except DaemonUnreachable as exc:   # a restart of the daemon: ask again, for a while
            unreachable_since = clock.now() if unreachable_since is None else unreachable_since
            if clock.now() - unreachable_since >= UNREACHABLE_GIVE_UP:
                return ActionOutcome(str(plan.during), dep_id, "Unknown", f"the daemon stopped answering: {exc}",
                                     clock.now() - started, str(d.get("taskDefinition") or ""))
        except ConveyorError as exc:   # an error answer: say it, ask again until the deadline
            say(f"asking about deployment {dep_id}: {exc}")
    return ActionOutcome(str(plan.during), dep_id, str(d.get("outcome") or "Unknown"), str(d.get("reason") or ""),
                         clock.now() - started, str(d.get("taskDefinition") or ""))
