"""The daemon's HTTP JSON API: a thin adapter over the Service, without a transport (the ASGI
app in conveyor.server.asgi serves it; tests call Api.handle). Every route but /api/v1/health
and /api/v1/openapi.json needs `Authorization: Bearer TOKEN` (the token file in the data dir),
reads included: logs and execution details are as sensitive as the writes. Each route carries
the JSON Schema of its query and body, checked before it runs and published as OpenAPI
(conveyor.server.openapi). Every answer passes through the secret masker, so no stored secret
value leaves the daemon.

    GET  /api/v1/health
    GET  /api/v1/openapi.json                        this list, typed (OpenAPI 3.1)
    GET  /api/v1/daemon                              pid, RSS, CPU seconds, control-loop pass times
    GET  /api/v1/pipelines
    POST /api/v1/executions                          {repository|pipeline, branch, commit, variables,
                                                      protectedBranches}
    GET  /api/v1/executions?pipeline=&limit=
    GET  /api/v1/executions/ID
    POST /api/v1/executions/ID/stop                  {abandon, reason}
    POST /api/v1/executions/ID/retry                 {stage, mode}
    POST /api/v1/executions/ID/approval              {decision, comment, stage, action, token}
    GET  /api/v1/executions/ID/logs
    GET  /api/v1/executions/ID/logs/STAGE/ACTION/ATTEMPT?offset=N
    GET  /api/v1/executions/ID/reports               test and coverage reports, with their cases
    GET  /api/v1/images?repository=NAME              the local registry's repositories and images
    POST /api/v1/images/lifecycle                    {repository, dryRun}: a lifecycle run (registry.housekeeping)
    GET  /api/v1/secrets                             names and dates, never values
    POST /api/v1/secrets                             {name, value}
    DELETE /api/v1/secrets/NAME
    POST /api/v1/triggers/git                        {repository, ref, before, after}
    GET  /api/v1/webhooks                            inbound webhooks: secrets set, accepted, refused by reason
    GET  /api/v1/events?after=&type=&wait=           the event stream (conveyor.server.event_routes)
    … notification rules and deliveries: conveyor.server.notify_routes
    GET  /api/v1/dora?pipeline=&service=&environment=&days=   DORA metrics (conveyor.server.dora_routes)
    … services and deployments: conveyor.server.release_routes
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import resource
import threading
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import unquote

from conveyor import __version__
from conveyor.engine.service import Service
from conveyor.errors import ConfigError, Conflict, ConveyorError, NotFound, UserError
from conveyor.events.stream import EventLog
from conveyor.notify.notifier import Notifier
from conveyor.passes import PassTimer
from conveyor.release.service import ReleaseService
from conveyor.secrets.masking import default_masker
from conveyor.server.dora_routes import add_dora_routes
from conveyor.server.event_routes import MAX_WAIT, EventReads, add_event_routes
from conveyor.server.notify_routes import add_notify_routes
from conveyor.server.release_routes import add_release_routes
from conveyor.server.schema import BOOL, BY, INT, OBJ, OPT_STR, STR, Schema, array, obj, problems

log = logging.getLogger("conveyor.api")

PUBLIC = ("/api/v1/health", "/api/v1/openapi.json")


@dataclass(frozen=True)
class Route:
    """One operation: how it is matched (a regex over the raw, still percent-encoded path, so an
    id holding %2F stays one segment), what it takes and what it answers, for the OpenAPI
    document and for the validation that runs before `fn`."""

    method: str
    pattern: re.Pattern[str]
    fn: Callable[..., Any]
    summary: str = ""
    body: Schema | None = None
    query: Mapping[str, Schema] = field(default_factory=dict)
    response: Schema = field(default_factory=lambda: dict(OBJ))
    #: What a 200 is: JSON from `fn`, or text/event-stream (served by the dashboard's streams, not `fn`)
    media_type: str = "application/json"

    @property
    def public(self) -> bool:
        return self.pattern.pattern[:-1] in PUBLIC

    @property
    def template(self) -> str:
        """The OpenAPI path: /api/v1/executions/{id}."""
        return re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", self.pattern.pattern[:-1])

    def params(self) -> dict[str, Schema]:
        """The path parameters and their types (an integer when the group is digits only)."""
        return {name: (INT if rx == r"\d+" else {"type": "string"})
                for name, rx in re.findall(r"\(\?P<(\w+)>([^)]*)\)", self.pattern.pattern)}


EXECUTION: Schema = obj({"id": STR, "pipeline": STR, "status": STR})
LIMIT: Schema = {"type": "integer", "minimum": 1, "maximum": 1000}


class Api:
    def __init__(self, service: Service, releases: ReleaseService, token: str,
                 loops: Mapping[str, PassTimer] | None = None, events: EventLog | None = None,
                 event_wait_limit: float = MAX_WAIT, notifier: Notifier | None = None):
        self.service = service
        self.events = events
        self.releases = releases
        self.loops = dict(loops or {})
        self.notifier = notifier  # its delivery counts feed /metrics (conveyor.server.prometheus)
        self.token = token
        #: the inbound webhooks' receiver (conveyor.server.hooks) when `conveyor up --webhooks` serves them
        self.webhooks: Any = None
        #: a lifecycle run over the local registry (registry.housekeeping.Housekeeping.run), when it runs
        self.lifecycle: Callable[..., dict] | None = None
        self.routes: list[Route] = []
        r = self._route
        r("GET", r"/api/v1/health", self.health, summary="liveness; needs no token",
          response=obj({"status": STR, "version": STR}, ("status", "version")))
        r("GET", r"/api/v1/daemon", self.daemon, summary="pid, RSS, CPU seconds, control-loop pass times")
        r("GET", r"/api/v1/pipelines", lambda q, b: self.service.pipelines(), summary="registered pipelines",
          response=array(OBJ))
        r("POST", r"/api/v1/executions", self.start, summary="start an execution (StartPipelineExecution)",
          body=obj({"repository": OPT_STR, "pipeline": OPT_STR, "branch": OPT_STR, "commit": OPT_STR,
                    "configPath": OPT_STR, "by": BY,
                    "protectedBranches": {"type": ["array", "null"], "items": STR, "maxItems": 20},
                    "variables": {"type": ["object", "null"],
                                  "additionalProperties": {"type": ["string", "number", "boolean"]}}}),
          response=EXECUTION)
        r("GET", r"/api/v1/executions", lambda q, b: self.service.history(q.get("pipeline"), int(q.get("limit", 20))),
          summary="recent executions", query={"pipeline": STR, "limit": LIMIT}, response=array(OBJ))
        r("GET", r"/api/v1/executions/(?P<id>[^/]+)", lambda q, b, id: self.service.describe(id),
          summary="one execution, its stages and actions", response=EXECUTION)
        r("POST", r"/api/v1/executions/(?P<id>[^/]+)/stop", lambda q, b, id: self.service.stop(
            id, abandon=bool(b.get("abandon")), reason=str(b.get("reason") or ""), by=str(b.get("by") or "")),
          summary="stop (finish running actions) or abandon", body=obj({"abandon": BOOL, "reason": OPT_STR, "by": BY}),
          response=EXECUTION)
        r("POST", r"/api/v1/executions/(?P<id>[^/]+)/retry", lambda q, b, id: self.service.retry(
            id, stage=b.get("stage"), mode=b.get("mode") or "FAILED_ACTIONS", by=str(b.get("by") or "")),
          summary="retry a failed stage", response=EXECUTION,
          body=obj({"stage": OPT_STR, "by": BY,
                    "mode": {"type": ["string", "null"], "enum": ["FAILED_ACTIONS", "ALL_ACTIONS", None]}}))
        r("POST", r"/api/v1/executions/(?P<id>[^/]+)/approval", lambda q, b, id: self.service.decide(
            id, str(b.get("decision", "")), comment=str(b.get("comment") or ""), by=str(b.get("by") or ""),
            stage=b.get("stage"), action=b.get("action"), token=b.get("token")),
          summary="approve or reject a waiting manual approval", response=EXECUTION,
          body=obj({"decision": {"type": "string", "enum": ["Approved", "Rejected"]}, "comment": OPT_STR,
                    "by": BY, "stage": OPT_STR, "action": OPT_STR, "token": OPT_STR}, ("decision",)))
        r("GET", r"/api/v1/executions/(?P<id>[^/]+)/logs", lambda q, b, id: self.service.log_streams(id),
          summary="the execution's log streams", response=array(OBJ))
        r("GET", r"/api/v1/executions/(?P<id>[^/]+)/reports", lambda q, b, id: self.service.reports(id),
          summary="test and coverage reports, with their cases", response=array(OBJ))
        r("GET", r"/api/v1/executions/(?P<id>[^/]+)/logs/(?P<stage>[^/]+)/(?P<action>[^/]+)/(?P<attempt>\d+)",
          self.log_text, summary="an action attempt's log from a byte offset",
          query={"offset": {"type": "integer", "minimum": 0}}, response=obj({"text": STR, "offset": INT}))
        r("GET", r"/api/v1/images", lambda q, b: self.service.images(q.get("repository")),
          summary="the local registry's repositories and images", query={"repository": STR})
        r("POST", r"/api/v1/images/lifecycle", self.image_lifecycle,
          summary="apply the repositories' lifecycle policies now (or preview with dryRun): expiries, what is "
                  "protected and why, blobs freed, host images and build caches bounded",
          body=obj({"repository": OPT_STR, "dryRun": BOOL}))
        r("GET", r"/api/v1/secrets", lambda q, b: self.service.list_secrets(), summary="names and dates, never values",
          response=array(OBJ))
        r("POST", r"/api/v1/secrets", lambda q, b: self.service.set_secret(
            b["name"], b["value"], by=str(b.get("by") or "")), summary="set a secret",
          body=obj({"name": STR, "value": STR, "by": BY}, ("name", "value")))
        r("DELETE", r"/api/v1/secrets/(?P<name>.+)", lambda q, b, name: self.service.delete_secret(
            name, by=str(q.get("by", ""))), summary="remove a secret", query={"by": STR})
        add_release_routes(r, releases)
        r("POST", r"/api/v1/triggers/git", lambda q, b: self.service.on_push(
            b["repository"], b["ref"], str(b.get("before") or ""), b["after"]),
          summary="a push (the git hook): starts the pipelines whose triggers match", response=array(EXECUTION),
          body=obj({"repository": STR, "ref": STR, "before": OPT_STR, "after": STR}, ("repository", "ref", "after")))
        add_event_routes(r, EventReads(events, event_wait_limit))
        add_notify_routes(r, notifier)
        add_dora_routes(r, getattr(service, "store", None), events)

        r("GET", r"/api/v1/webhooks", lambda q, b: self.webhooks.stats() if self.webhooks else {"enabled": False},
          summary="inbound webhooks: per host, whether a secret is set, deliveries accepted, refusals by reason",
          response=obj({"enabled": BOOL, "hosts": OBJ}, ("enabled",)))

    def _route(self, method: str, pattern: str, fn: Callable[..., Any], **meta: Any) -> None:
        self.routes.append(Route(method, re.compile(pattern + "$"), fn, **meta))

    #: For a part of the daemon that brings its own routes (the dashboard: conveyor.server.dashboard).
    add_route = _route

    def health(self, q: dict, b: dict) -> dict:
        return {"status": "ok", "version": __version__}

    def image_lifecycle(self, q: dict, b: dict) -> dict:
        if self.lifecycle is None:
            raise ConveyorError("no local registry is running", hint="run `conveyor setup`, then `conveyor up`")
        return self.lifecycle(b.get("repository"), dry_run=bool(b.get("dryRun")))

    def daemon(self, q: dict, b: dict) -> dict:
        """The daemon's own health: process, memory, CPU time and how long its loops' passes take."""
        return {"version": __version__, **process_stats(),
                "loops": {name: timer.summary() for name, timer in self.loops.items()}}

    def start(self, q: dict, b: dict) -> dict:
        variables = b.get("variables") or {}
        return self.service.start_execution(
            repository=b.get("repository"), pipeline=b.get("pipeline"), branch=b.get("branch"),
            commit=b.get("commit"), config_path=b.get("configPath") or "conveyor.yml",
            variables={str(k): str(v) for k, v in variables.items()},
            trigger={"type": "StartPipelineExecution", "by": str(b.get("by") or "")},
            protected_branches=_branch_list(b.get("protectedBranches")))

    def log_text(self, q: dict, b: dict, id: str, stage: str, action: str, attempt: str) -> dict:
        """Only a log the execution has: the names come from the URL decoded (%2F is a slash),
        and they become a path under the data directory."""
        streams = {(s["stage"], s["action"], int(s["attempt"])) for s in self.service.log_streams(id)}
        if (stage, action, int(attempt)) not in streams:
            raise NotFound(f"execution {id} has no log for {stage}.{action} attempt {attempt}",
                           hint=f"`GET /api/v1/executions/{id}/logs` lists its logs")
        text, offset = self.service.log_text(id, stage, action, int(attempt), int(q.get("offset", 0)))
        return {"text": text, "offset": offset}

    def resolve(self, method: str, raw_path: str) -> tuple[Route, dict[str, str]] | tuple[int, dict]:
        """The route for a request line, with its path parameters decoded, or the 404/405 answer.
        Needs nothing but the request line, so it runs before the token and the body are read."""
        allowed = []
        for route in self.routes:
            match = route.pattern.match(raw_path)
            if not match:
                continue
            if route.method != method:
                allowed.append(route.method)
                continue
            try:
                return route, {k: unquote(v, errors="strict") for k, v in match.groupdict().items()}
            except UnicodeDecodeError:
                return 400, _error("BadRequest", "a path parameter is not UTF-8 once decoded", None)
        if allowed:
            return 405, _error("MethodNotAllowed", f"{method} is not allowed on {raw_path}",
                               f"allowed: {', '.join(sorted(set(allowed)))}")
        return 404, _error("NotFound", f"no such endpoint {raw_path}", None)

    def authorized(self, auth: str | None) -> bool:
        if not auth or not auth.startswith("Bearer "):
            return False
        return hmac.compare_digest(auth[7:].strip().encode("utf-8", "replace"), self.token.encode())

    def invoke(self, route: Route, params: Mapping[str, str], query: Mapping[str, str], body: Any) -> tuple[int, Any]:
        """Check the query and the body against the route's schema, then call it; every refusal
        of the caller's input is a 4xx, an operation that failed for a reason it names is 422, and
        only a bug (an exception nobody anticipated) is a 500."""
        q, bad = self.check(route, query, body)
        if bad:
            return 400, _error("BadRequest", "invalid request: " + "; ".join(bad), None)
        try:
            result = route.fn(q, body, **params)
            return 200, default_masker().mask_json(as_json(result))
        except ConfigError as exc:
            return 400, {**_error("ConfigError", str(exc), exc.hint),
                         "diagnostics": [d.to_json() for d in exc.diagnostics]}
        except NotFound as exc:
            return 404, _error("NotFound", str(exc), exc.hint)
        except Conflict as exc:
            return 409, _error("Conflict", str(exc), exc.hint)
        except UserError as exc:
            return 400, _error("BadRequest", str(exc), exc.hint)
        except ConveyorError as exc:  # tried and failed, and says why: not a server fault
            return 422, _error("Failed", str(exc), exc.hint)
        except (KeyError, ValueError, TypeError) as exc:
            return 400, _error("BadRequest", f"bad request: {exc}", None)
        except Exception as exc:
            log.error("internal error on %s %s:\n%s", route.method, route.template, traceback.format_exc())
            return 500, _error("InternalError", f"internal error: {exc}", "see the daemon log")

    @staticmethod
    def check(route: Route, query: Mapping[str, str], body: Any) -> tuple[dict[str, Any], list[str]]:
        """The query with its integers parsed, and what is wrong with it and the body."""
        bad = problems(route.body or OBJ, body)
        q: dict[str, Any] = dict(query)
        for name, schema in route.query.items():
            if name in q and schema.get("type") == "integer":
                try:
                    q[name] = int(q[name])
                except ValueError:
                    bad.append(f"query.{name}: expected integer")
                    continue
            if name in q:
                bad += problems(schema, q[name], f"query.{name}")
        return q, bad

    def handle(self, method: str, path: str, query: dict, body: Any, auth: str | None) -> tuple[int, Any]:
        """One request without the transport: route, token, then the call (tests and the ASGI app)."""
        found = self.resolve(method, path)
        if isinstance(found[0], int):
            return found
        route, params = found
        if not route.public and not self.authorized(auth):
            return 401, unauthorized()
        return self.invoke(route, params, query, body)


def unauthorized() -> dict:
    return _error("Unauthorized", "missing or wrong API token",
                  "the CLI reads the token from the data directory; use the same CONVEYOR_HOME")


def as_json(value: Any) -> Any:
    """A route's answer as JSON values: typed results by their to_json()."""
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    return value


def _error(kind: str, message: str, hint: str | None) -> dict:
    return {"error": {"type": kind, "message": message, "hint": hint}}


def process_stats() -> dict:
    """This process's pid, resident memory (bytes) and CPU time (user + system seconds)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss = None
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    return {"pid": os.getpid(), "rssBytes": rss, "cpuSeconds": round(usage.ru_utime + usage.ru_stime, 3),
            "threads": threading.active_count()}


def _branch_list(value: Any) -> list[str] | None:
    """`protectedBranches` of a start request: None, or a list of branch names."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UserError("protectedBranches must be a list of branch names")
    return value
