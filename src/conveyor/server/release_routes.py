"""The API's services and deployments routes: a thin adapter over the release service, which
picks the backend and the controller. Every answer is the backend's neutral types as JSON.

    GET  /api/v1/services[/ENV/NAME]                 services; one with deployments, tasks, targets
    POST /api/v1/services/ENV/NAME/scale             {count, by}
    GET  /api/v1/services/ENV/NAME/logs?tail=N       the tasks' container logs
    POST /api/v1/services/ENV/NAME/deployments       {service, taskdef, images, appspec, workdir, by}
    GET  /api/v1/services/ENV/NAME/deployment        the latest deployment and what it waits for
    POST /api/v1/services/ENV/NAME/deployment/continue|promote|stop   {by, reason, waitType, rollback}
    POST /api/v1/services/ENV/NAME/rollback          {by, reason}
    GET  /api/v1/services/ENV/NAME/metrics?seconds=  per-second series per target group and listener
    GET  /api/v1/services/ENV/NAME/alarms            alarm states, reasons and history
    GET  /api/v1/deployments/ID                      any deployment (rolling or blue/green), what it waits for
    POST /api/v1/deployments/ID/hooks/EXECUTION      {status: Succeeded|Failed} (PutLifecycleEventHookExecutionStatus)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conveyor.config.imagedefs import ImageDefinition
from conveyor.deploy.spec import ServiceSpec
from conveyor.release.service import DeployRequest, ReleaseService

Route = Callable[[str, str, Callable[..., Any]], None]

SERVICE = r"/api/v1/services/(?P<env>[^/]+)/(?P<name>[^/]+)"


def add_release_routes(route: Route, releases: ReleaseService) -> None:
    r = route
    r("GET", r"/api/v1/services", lambda q, b: releases.services())
    r("GET", SERVICE, lambda q, b, env, name: releases.describe(env, name))
    r("POST", SERVICE + "/scale", lambda q, b, env, name: releases.scale(env, name, int(b["count"]), by=_by(b)))
    r("GET", SERVICE + "/logs", lambda q, b, env, name: releases.logs(env, name, int(q.get("tail", 100))))
    r("GET", SERVICE + "/deployment", lambda q, b, env, name: releases.status(env, name))
    r("POST", SERVICE + "/deployments", lambda q, b, env, name: releases.deploy(deploy_request(env, name, b)))
    r("POST", SERVICE + "/deployment/continue", lambda q, b, env, name: releases.continue_deployment(
        env, name, who=_by(b), reason=_reason(b), wait_type=b.get("waitType")))
    r("POST", SERVICE + "/deployment/promote", lambda q, b, env, name: releases.promote(
        env, name, who=_by(b), reason=_reason(b)))
    r("POST", SERVICE + "/deployment/stop", lambda q, b, env, name: releases.stop(
        env, name, who=_by(b), reason=_reason(b), rollback=b.get("rollback")))
    r("POST", SERVICE + "/rollback", lambda q, b, env, name: releases.rollback(env, name, who=_by(b),
                                                                              reason=_reason(b)))
    r("GET", SERVICE + "/metrics", lambda q, b, env, name: releases.metrics(env, name, int(q.get("seconds", 60))))
    r("GET", SERVICE + "/alarms", lambda q, b, env, name: releases.alarms(env, name))
    r("GET", r"/api/v1/deployments/(?P<id>[^/]+)", lambda q, b, id: releases.get(id))
    r("POST", r"/api/v1/deployments/(?P<id>[^/]+)/hooks/(?P<execution>[^/]+)", lambda q, b, id, execution:
      releases.put_hook_status(id, execution, str(b.get("status", ""))))


def deploy_request(environment: str, service: str, body: dict) -> DeployRequest:
    """A deployment outside a pipeline (`conveyor deploy ENV SERVICE --image URI [--file]`):
    with `service` (the conveyor.yml block) the declaration is (re)read, else the last one."""
    spec = (ServiceSpec.from_config(environment, service, body["service"], body.get("environmentAlarms"),
                                    str(body.get("target") or "local"), body.get("environmentSettings"))
            if body.get("service") else None)
    images = tuple(ImageDefinition(str(i["name"]), str(i["imageUri"])) for i in body.get("images") or [])
    return DeployRequest(environment=environment, service=service, spec=spec, taskdef=body.get("taskdef"),
                         images=images, appspec=body.get("appspec"),
                         taskdef_source=str(body.get("taskdefSource") or "taskdef.json"), images_source="--image",
                         appspec_source=str(body.get("appspecSource") or "appspec.yaml"), creator="user",
                         origin={"by": _by(body), "via": "conveyor deploy"}, workdir=body.get("workdir"))


def _by(body: dict) -> str:
    return str(body.get("by") or "api")


def _reason(body: dict) -> str:
    return str(body.get("reason") or "")[:500]
