"""The daemon's HTTP JSON API: a thin adapter over the Service. Every route but /api/v1/health
needs `Authorization: Bearer TOKEN` (the token file in the data dir, mode 0600). Every answer
passes through the secret masker, so no stored secret value leaves the daemon.

    GET  /api/v1/health
    GET  /api/v1/daemon                              pid, RSS, CPU seconds, control-loop pass times
    GET  /api/v1/pipelines
    POST /api/v1/executions                          {repository|pipeline, branch, commit, variables}
    GET  /api/v1/executions?pipeline=&limit=
    GET  /api/v1/executions/ID
    POST /api/v1/executions/ID/stop                  {abandon, reason}
    POST /api/v1/executions/ID/retry                 {stage, mode}
    POST /api/v1/executions/ID/approval              {decision, comment, stage, action, token}
    GET  /api/v1/executions/ID/logs
    GET  /api/v1/executions/ID/logs/STAGE/ACTION/ATTEMPT?offset=N
    GET  /api/v1/executions/ID/reports               test and coverage reports, with their cases
    GET  /api/v1/images?repository=NAME              the local registry's repositories and images
    GET  /api/v1/secrets                             names and dates, never values
    POST /api/v1/secrets                             {name, value}
    DELETE /api/v1/secrets/NAME
    POST /api/v1/triggers/git                        {repository, ref, before, after}
    … services and deployments: conveyor.server.release_routes
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import resource
import threading
import traceback
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlparse

from conveyor import __version__
from conveyor.engine.service import Service
from conveyor.errors import ConfigError, Conflict, ConveyorError, NotFound, UserError
from conveyor.passes import PassTimer
from conveyor.release.service import ReleaseService
from conveyor.secrets.masking import default_masker
from conveyor.server.release_routes import add_release_routes

log = logging.getLogger("conveyor.api")

MAX_BODY = 1 << 20

Route = tuple[str, re.Pattern, Callable[..., Any]]


class Api:
    def __init__(self, service: Service, releases: ReleaseService, token: str,
                 loops: Mapping[str, PassTimer] | None = None):
        self.service = service
        self.releases = releases
        self.loops = dict(loops or {})
        self.token = token
        self.routes: list[Route] = []
        r = self._route
        r("GET", r"/api/v1/health", self.health)
        r("GET", r"/api/v1/daemon", self.daemon)
        r("GET", r"/api/v1/pipelines", lambda q, b: self.service.pipelines())
        r("POST", r"/api/v1/executions", self.start)
        r("GET", r"/api/v1/executions", lambda q, b: self.service.history(q.get("pipeline"), int(q.get("limit", 20))))
        r("GET", r"/api/v1/executions/(?P<id>[^/]+)", lambda q, b, id: self.service.describe(id))
        r("POST", r"/api/v1/executions/(?P<id>[^/]+)/stop", lambda q, b, id: self.service.stop(
            id, abandon=bool(b.get("abandon")), reason=str(b.get("reason", "")), by=str(b.get("by", ""))))
        r("POST", r"/api/v1/executions/(?P<id>[^/]+)/retry", lambda q, b, id: self.service.retry(
            id, stage=b.get("stage"), mode=b.get("mode", "FAILED_ACTIONS"), by=str(b.get("by", ""))))
        r("POST", r"/api/v1/executions/(?P<id>[^/]+)/approval", lambda q, b, id: self.service.decide(
            id, str(b.get("decision", "")), comment=str(b.get("comment", "")), by=str(b.get("by", "")),
            stage=b.get("stage"), action=b.get("action"), token=b.get("token")))
        r("GET", r"/api/v1/executions/(?P<id>[^/]+)/logs", lambda q, b, id: self.service.log_streams(id))
        r("GET", r"/api/v1/executions/(?P<id>[^/]+)/reports", lambda q, b, id: self.service.reports(id))
        r("GET", r"/api/v1/executions/(?P<id>[^/]+)/logs/(?P<stage>[^/]+)/(?P<action>[^/]+)/(?P<attempt>\d+)",
          self.log_text)
        r("GET", r"/api/v1/images", lambda q, b: self.service.images(q.get("repository")))
        r("GET", r"/api/v1/secrets", lambda q, b: self.service.list_secrets())
        r("POST", r"/api/v1/secrets", lambda q, b: self.service.set_secret(
            str(b["name"]), str(b["value"]), by=str(b.get("by", ""))))
        r("DELETE", r"/api/v1/secrets/(?P<name>.+)", lambda q, b, name: self.service.delete_secret(
            name, by=str(q.get("by", ""))))
        add_release_routes(r, releases)
        r("POST", r"/api/v1/triggers/git", lambda q, b: self.service.on_push(
            str(b["repository"]), str(b["ref"]), str(b.get("before", "")), str(b["after"])))

    def _route(self, method: str, pattern: str, fn: Callable[..., Any]) -> None:
        self.routes.append((method, re.compile(pattern + "$"), fn))

    def health(self, q: dict, b: dict) -> dict:
        return {"status": "ok", "version": __version__}

    def daemon(self, q: dict, b: dict) -> dict:
        """The daemon's own health: process, memory, CPU time and how long its loops' passes take."""
        return {"version": __version__, **process_stats(),
                "loops": {name: timer.summary() for name, timer in self.loops.items()}}

    def start(self, q: dict, b: dict) -> dict:
        variables = b.get("variables") or {}
        if not isinstance(variables, dict):
            raise UserError("variables must be a mapping of name to value")
        return self.service.start_execution(
            repository=b.get("repository"), pipeline=b.get("pipeline"), branch=b.get("branch"),
            commit=b.get("commit"), config_path=b.get("configPath") or "conveyor.yml",
            variables={str(k): str(v) for k, v in variables.items()},
            trigger={"type": "StartPipelineExecution", "by": str(b.get("by", ""))},
            protected_branches=_branch_list(b.get("protectedBranches")))

    def log_text(self, q: dict, b: dict, id: str, stage: str, action: str, attempt: str) -> dict:
        text, offset = self.service.log_text(id, stage, action, int(attempt), int(q.get("offset", 0)))
        return {"text": text, "offset": offset}

    def handle(self, method: str, path: str, query: dict, body: dict, auth: str | None) -> tuple[int, Any]:
        for m, pattern, fn in self.routes:
            match = pattern.match(path)
            if not match:
                continue
            if m != method:
                continue
            if path != "/api/v1/health" and not self._authorized(auth):
                return 401, _error("Unauthorized", "missing or wrong API token",
                                   "the CLI reads the token from the data directory; use the same CONVEYOR_HOME")
            try:
                result = fn(query, body, **{k: unquote(v) for k, v in match.groupdict().items()})
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
            except ConveyorError as exc:
                return 500, _error("Failed", str(exc), exc.hint)
            except (KeyError, ValueError, TypeError) as exc:
                return 400, _error("BadRequest", f"bad request: {exc}", None)
            except Exception as exc:
                log.error("internal error on %s %s:\n%s", method, path, traceback.format_exc())
                return 500, _error("InternalError", f"internal error: {exc}", "see the daemon log")
        if any(p.match(path) for _, p, _ in self.routes):
            return 405, _error("MethodNotAllowed", f"{method} is not allowed on {path}", None)
        return 404, _error("NotFound", f"no such endpoint {path}", None)

    def _authorized(self, auth: str | None) -> bool:
        if not auth or not auth.startswith("Bearer "):
            return False
        return hmac.compare_digest(auth[7:].strip().encode(), self.token.encode())


def as_json(value: Any) -> Any:
    """A route's answer as JSON values: typed results by their to_json()."""
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    return value


def _error(kind: str, message: str, hint: str | None) -> dict:
    return {"error": {"type": kind, "message": message, "hint": hint}}


def make_server(api: Api, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        server_version = f"conveyor/{__version__}"

        def _dispatch(self, method: str) -> None:
            url = urlparse(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            body: dict = {}
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                return self._send(413, _error("TooLarge", "request body too large", None))
            if length:
                try:
                    body = json.loads(self.rfile.read(length))
                except json.JSONDecodeError as exc:
                    return self._send(400, _error("BadRequest", f"malformed JSON body: {exc}", None))
                if not isinstance(body, dict):
                    return self._send(400, _error("BadRequest", "the JSON body must be an object", None))
            status, payload = api.handle(method, url.path, query, body, self.headers.get("Authorization"))
            self._send(status, payload)

        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), format % args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


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
