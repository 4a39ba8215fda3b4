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
    GET  /api/v1/services[/ENV/NAME]                 services; one with deployments, tasks, targets
    POST /api/v1/services/ENV/NAME/deployments       {service, taskdef, images, appspec, workdir, by}
    GET  /api/v1/services/ENV/NAME/deployment        the latest deployment and what it waits for
    POST /api/v1/services/ENV/NAME/deployment/continue|promote|stop   {by, reason, waitType, rollback}
    POST /api/v1/services/ENV/NAME/rollback          {by, reason}
    GET  /api/v1/services/ENV/NAME/metrics?seconds=  per-second series per target group and listener
    GET  /api/v1/services/ENV/NAME/alarms            alarm states, reasons and history
    GET  /api/v1/deployments/ID                      a CodeDeploy deployment
    POST /api/v1/deployments/ID/hooks/EXECUTION      {status: Succeeded|Failed} (PutLifecycleEventHookExecutionStatus)
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import resource
import threading
import re
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlparse

from conveyor import __version__
from conveyor.engine.service import Service
from conveyor.errors import ConfigError, Conflict, ConveyorError, NotFound, UserError
from conveyor.secrets.masking import default_masker

log = logging.getLogger("conveyor.api")

MAX_BODY = 1 << 20

Route = tuple[str, re.Pattern, Callable[..., Any]]


class Api:
    def __init__(self, service: Service, token: str):
        self.service = service
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
        svc = r"/api/v1/services/(?P<env>[^/]+)/(?P<name>[^/]+)"
        r("GET", r"/api/v1/services", lambda q, b: self.service.services.services())
        r("GET", svc, lambda q, b, env, name: self.service.services.describe(env, name))
        r("POST", svc + "/scale", lambda q, b, env, name: self.service.services.scale(
            env, name, int(b["count"]), by=str(b.get("by", ""))))
        r("GET", svc + "/logs", lambda q, b, env, name: self.service.services.logs(env, name, int(q.get("tail", 100))))
        r("GET", svc + "/deployment", self.deployment_status)
        r("POST", svc + "/deployments", self.deploy)
        d = self.service.deploys
        r("POST", svc + "/deployment/continue", lambda q, b, env, name: d.get(d.continue_deployment(
            env, name, who=_by(b), reason=_reason(b), wait_type=b.get("waitType")).id))
        r("POST", svc + "/deployment/promote", lambda q, b, env, name: d.get(d.promote(
            env, name, who=_by(b), reason=_reason(b)).id))
        r("POST", svc + "/deployment/stop", lambda q, b, env, name: d.get(d.stop(
            env, name, who=_by(b), reason=_reason(b), rollback=b.get("rollback")).id))
        r("POST", svc + "/rollback", self.rollback)
        r("GET", svc + "/metrics", lambda q, b, env, name: d.metrics_view(env, name, int(q.get("seconds", 60))))
        r("GET", svc + "/alarms", lambda q, b, env, name: d.alarms_view(env, name))
        r("GET", r"/api/v1/deployments/(?P<id>[^/]+)", lambda q, b, id: d.get(id))
        r("POST", r"/api/v1/deployments/(?P<id>[^/]+)/hooks/(?P<execution>[^/]+)", lambda q, b, id, execution:
          d.put_hook_status(id, execution, str(b.get("status", ""))))
        r("POST", r"/api/v1/triggers/git", lambda q, b: self.service.on_push(
            str(b["repository"]), str(b["ref"]), str(b.get("before", "")), str(b["after"])))

    def _route(self, method: str, pattern: str, fn: Callable[..., Any]) -> None:
        self.routes.append((method, re.compile(pattern + "$"), fn))

    def health(self, q: dict, b: dict) -> dict:
        return {"status": "ok", "version": __version__}

    def daemon(self, q: dict, b: dict) -> dict:
        """The daemon's own health: process, memory, CPU time and how long its loops' passes take."""
        return {"version": __version__, **process_stats(),
                "loops": {"services": self.service.services.passes.summary(),
                          "deploys": self.service.deploys.passes.summary()}}

    def start(self, q: dict, b: dict) -> dict:
        variables = b.get("variables") or {}
        if not isinstance(variables, dict):
            raise UserError("variables must be a mapping of name to value")
        return self.service.start_execution(
            repository=b.get("repository"), pipeline=b.get("pipeline"), branch=b.get("branch"),
            commit=b.get("commit"), config_path=b.get("configPath") or "conveyor.yml",
            variables={str(k): str(v) for k, v in variables.items()},
            trigger={"type": "StartPipelineExecution", "by": str(b.get("by", ""))})

    def _blue_green(self, env: str, name: str) -> bool:
        row = self.service.services.store.service(env, name)
        return bool(row and row.spec.get("controller") == "CODE_DEPLOY")

    def deployment_status(self, q: dict, b: dict, env: str, name: str) -> dict:
        if self._blue_green(env, name):
            return self.service.deploys.status(env, name)
        return self.service.services.deployment_status(env, name)

    def rollback(self, q: dict, b: dict, env: str, name: str) -> dict:
        if self._blue_green(env, name):
            dep = self.service.deploys.rollback(env, name, who=_by(b), reason=_reason(b))
            return self.service.deploys.get(dep.id)
        dep = self.service.services.roll_back_to_previous(env, name, who=_by(b), reason=_reason(b))
        return self.service.services.deployment_json(dep)

    def deploy(self, q: dict, b: dict, env: str, name: str) -> dict:
        """A deployment outside a pipeline (`conveyor deploy ENV SERVICE --image URI`)."""
        from conveyor.config.imagedefs import ImageDefinition
        from conveyor.deploy.spec import ServiceSpec

        images = [ImageDefinition(str(i["name"]), str(i["imageUri"])) for i in b.get("images") or []]
        spec = (ServiceSpec.from_config(env, name, b["service"], b.get("environmentAlarms"))
                if b.get("service") else None)
        if spec is None and self._blue_green(env, name):
            spec = ServiceSpec.from_json(self.service.services.store.service(env, name).spec)
        if spec is not None and spec.blue_green:
            dep = self.service.deploys.create(
                spec, taskdef=b.get("taskdef"), images=images, appspec_text=b.get("appspec"),
                appspec_source=str(b.get("appspecSource") or "appspec.yaml"),
                taskdef_source=str(b.get("taskdefSource") or "taskdef.json"), images_source="--image",
                creator="user", origin={"by": _by(b), "via": "conveyor deploy"}, workdir=b.get("workdir"))
            return self.service.deploys.get(dep.id)
        dep = self.service.services.deploy(env, name, spec=spec, taskdef=b.get("taskdef"), images=images,
                                           origin={"by": str(b.get("by", "")), "via": "conveyor deploy"},
                                           source=str(b.get("taskdefSource") or "taskdef.json"),
                                           images_source="--image")
        return self.service.services.deployment_json(dep)

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
                return 200, default_masker().mask_json(result)
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


def _by(body: dict) -> str:
    return str(body.get("by") or "api")


def _reason(body: dict) -> str:
    return str(body.get("reason") or "")[:500]


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
