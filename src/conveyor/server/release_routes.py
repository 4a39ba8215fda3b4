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

from conveyor.config.imagedefs import ImageDefinition
from conveyor.deploy.spec import ServiceSpec
from conveyor.release.service import DeployRequest, ReleaseService
from conveyor.server.schema import BOOL, BY, OBJ, OPT_OBJ, OPT_STR, STR, array, obj

Route = Callable[..., None]  # Api._route(method, pattern, fn, summary=, body=, query=, response=)

SERVICE = r"/api/v1/services/(?P<env>[^/]+)/(?P<name>[^/]+)"
REASON = obj({"by": BY, "reason": OPT_STR})
DEPLOYMENT = obj({"id": STR, "kind": STR, "status": STR, "done": BOOL})
DEPLOY = obj({"service": OPT_OBJ, "taskdef": OPT_OBJ, "appspec": OPT_STR, "workdir": OPT_STR, "by": BY,
              "images": {"type": ["array", "null"], "maxItems": 100,
                         "items": obj({"name": STR, "imageUri": STR}, ("name", "imageUri"))},
              "target": OPT_STR, "environmentAlarms": OPT_OBJ, "environmentSettings": OPT_OBJ,
              "taskdefSource": OPT_STR, "appspecSource": OPT_STR})


def add_release_routes(route: Route, releases: ReleaseService) -> None:
    r = route
    r("GET", r"/api/v1/services", lambda q, b: releases.services(), summary="every service", response=array(OBJ))
    r("GET", SERVICE, lambda q, b, env, name: releases.describe(env, name),
      summary="one service with its deployments, tasks and targets")
    r("POST", SERVICE + "/scale", lambda q, b, env, name: releases.scale(env, name, b["count"], by=_by(b)),
      summary="set the desired count", body=obj({"count": {"type": "integer", "minimum": 0, "maximum": 1000},
                                                "by": BY}, ("count",)))
    r("GET", SERVICE + "/logs", lambda q, b, env, name: releases.logs(env, name, int(q.get("tail", 100))),
      summary="the tasks' container logs", query={"tail": {"type": "integer", "minimum": 0, "maximum": 100000}},
      response=array(OBJ))
    r("GET", SERVICE + "/deployment", lambda q, b, env, name: releases.status(env, name),
      summary="the latest deployment and what it waits for")
    r("POST", SERVICE + "/deployments", lambda q, b, env, name: releases.deploy(deploy_request(env, name, b)),
      summary="deploy outside a pipeline (conveyor deploy)", body=DEPLOY, response=DEPLOYMENT)
    r("POST", SERVICE + "/deployment/continue", lambda q, b, env, name: releases.continue_deployment(
        env, name, who=_by(b), reason=_reason(b), wait_type=b.get("waitType")),
      summary="continue a deployment waiting for traffic or termination", response=DEPLOYMENT,
      body=obj({"by": BY, "reason": OPT_STR, "waitType": OPT_STR}))
    r("POST", SERVICE + "/deployment/promote", lambda q, b, env, name: releases.promote(
        env, name, who=_by(b), reason=_reason(b)), summary="shift all traffic now", body=REASON, response=DEPLOYMENT)
    r("POST", SERVICE + "/deployment/stop", lambda q, b, env, name: releases.stop(
        env, name, who=_by(b), reason=_reason(b), rollback=b.get("rollback")),
      summary="stop the deployment, rolling back unless told not to", response=DEPLOYMENT,
      body=obj({"by": BY, "reason": OPT_STR, "rollback": {"type": ["boolean", "null"]}}))
    r("POST", SERVICE + "/rollback", lambda q, b, env, name: releases.rollback(env, name, who=_by(b),
                                                                              reason=_reason(b)),
      summary="roll back to the previous revision", body=REASON, response=DEPLOYMENT)
    r("GET", SERVICE + "/metrics", lambda q, b, env, name: releases.metrics(env, name, int(q.get("seconds", 60))),
      summary="per-second series per target group and listener",
      query={"seconds": {"type": "integer", "minimum": 1, "maximum": 86400}})
    r("GET", SERVICE + "/alarms", lambda q, b, env, name: releases.alarms(env, name),
      summary="alarm states, reasons and history", response=array(OBJ))
    r("GET", r"/api/v1/deployments/(?P<id>[^/]+)", lambda q, b, id: releases.get(id),
      summary="any deployment (rolling or blue/green) and what it waits for", response=DEPLOYMENT)
    r("POST", r"/api/v1/deployments/(?P<id>[^/]+)/hooks/(?P<execution>[^/]+)", lambda q, b, id, execution:
      releases.put_hook_status(id, execution, b["status"]),
      summary="a lifecycle hook's result (PutLifecycleEventHookExecutionStatus)",
      body=obj({"status": {"type": "string", "enum": ["Succeeded", "Failed"]}}, ("status",)))


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
