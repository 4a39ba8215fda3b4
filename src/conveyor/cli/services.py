"""`conveyor service …` and `conveyor deploy …`: services (ECS semantics) and their deployments."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from conveyor.cli import releases, render
from conveyor.cli.client import Client
from conveyor.cli.render import echo
from conveyor.errors import ConveyorError, UserError

#: `conveyor deploy VERB ENV SERVICE` verbs; anything else is `conveyor deploy ENV SERVICE`.
DEPLOY_VERBS = ("status", "continue", "stop", "promote")


def _path(env: str, name: str) -> str:
    return f"/api/v1/services/{quote(env, safe='')}/{quote(name, safe='')}"


def service(args) -> int:
    client = Client.connect()
    verb = args.service_command
    if verb == "ls":
        rows = client.get("/api/v1/services")
        if args.json:
            render.as_json(rows)
        elif not rows:
            echo("no services yet: a pipeline's ECS action (or `conveyor deploy`) creates them")
        else:
            render.table([[r["environment"], r["serviceName"], r["taskDefinition"],
                           f"{r['runningCount']}/{r['desiredCount']}", r["healthyCount"], r["rolloutState"] or "-",
                           r["url"] or "-"] for r in rows],
                         ["ENV", "SERVICE", "TASK DEFINITION", "RUNNING", "HEALTHY", "ROLLOUT", "URL"])
        return 0
    if verb == "describe":
        data = client.get(_path(args.env, args.service))
        if args.json:
            render.as_json(data)
            return 0
        _describe(data)
        return 0
    if verb == "scale":
        data = client.post(_path(args.env, args.service) + "/scale", {"count": args.count, "by": _who()})
        if args.json:
            render.as_json(data)
        else:
            echo(f"{args.env}/{args.service}: desired count {data['desiredCount']} "
                 f"(running {data['runningCount']})")
        return 0
    if verb == "logs":
        rows = client.get(_path(args.env, args.service) + f"/logs?tail={args.tail}")
        if args.json:
            render.as_json(rows)
            return 0
        for r in rows:
            for line in r["text"].splitlines():
                echo(f"[{r['task']}/{r['container']}] {line}")
        return 0
    raise UserError(f"unknown service command {verb}")


def _describe(d: dict) -> None:
    echo(f"{d['environment']}/{d['serviceName']}  {d['taskDefinition']}  desired {d['desiredCount']}  "
         f"running {d['runningCount']}  healthy {d['healthyCount']}  rollout {d['rolloutState'] or '-'}")
    if d.get("loadBalancer"):
        lb = d["loadBalancer"]
        echo(f"load balancer: {lb['url']}  (target group {lb['targetGroup']})")
        for t in lb["targets"]:
            echo(f"  target {t['target_id']} {t['address']} {t['state']}"
                 + (f" ({t['description'] or t['reason']})" if t.get("reason") or t.get("description") else ""))
    echo("deployments:")
    for dep in d["deployments"][:5]:
        echo(f"  {dep['id']} {dep['status']:<8} {dep['rolloutState']:<11} {dep['taskDefinition']}  "
             f"running {dep['runningCount']} failed {dep['failedTasks']}"
             + (f"  — {dep['rolloutStateReason']}" if dep["rolloutStateReason"] else ""))
    echo("tasks:")
    for t in d["tasks"]:
        echo(f"  {t['id']} {t['last_status']:<12} {t['taskdef']}  health {t['health']}"
             + (f"  port {t['host_port']}" if t["host_port"] else "")
             + (f"  — {t['stopped_reason']}" if t.get("stopped_reason") else ""))
    echo("events:")
    for e in d["events"][:10]:
        echo(f"  {render.clock(e['at'])} {e['message']}")


def deploy(args) -> int:
    words = list(args.words)
    if words and words[0] in DEPLOY_VERBS:
        verb, words = words[0], words[1:]
    else:
        verb = "create"
    if len(words) != 2:
        raise UserError("expected ENV SERVICE", hint="conveyor deploy staging orders --image URI  |  "
                                                      "conveyor deploy status staging orders")
    env, name = words
    client = Client.connect()
    if verb == "status":
        data = client.get(_path(env, name) + "/deployment")
        if args.json:
            render.as_json(data)
        else:
            releases.show_status(data)
        return 0
    if verb in ("continue", "stop", "promote"):
        return releases.action(client, _path(env, name), verb, args, _who())
    body: dict = {"by": _who(), "images": _images(args.image)}
    if args.file or (not _exists(client, env, name) and Path("conveyor.yml").is_file()):
        body.update(_from_file(Path(args.file or "conveyor.yml"), env, name))
    dep = client.post(_path(env, name) + "/deployments", body)
    if not args.json:
        echo(f"deployment {dep['id']}: {env}/{name} → {dep['taskDefinition']}")
    if args.no_wait:
        if args.json:
            render.as_json(dep)
        return 0
    return releases.wait(client, dep["id"], args)


def rollback(args) -> int:
    return releases.action(Client.connect(), _path(args.env, args.service), "rollback", args, _who())


def _images(values: list[str]) -> list[dict]:
    """`--image URI` (the service's load-balanced or only container) or `--image NAME=URI`."""
    out = []
    for value in values or []:
        name, sep, uri = value.partition("=")
        if sep and "/" not in name and ":" not in name:
            out.append({"name": name, "imageUri": uri})
        else:
            out.append({"name": "", "imageUri": value})
    return out


def _exists(client: Client, env: str, name: str) -> bool:
    try:
        client.get(_path(env, name))
        return True
    except ConveyorError:
        return False


def _from_file(path: Path, env: str, name: str) -> dict:
    """The service's declaration and task definition, read from conveyor.yml and its taskdef."""
    from conveyor.config.pipeline import load_pipeline
    from conveyor.documents.located import loads_limited
    from conveyor.documents.source import read_text_file

    definition = load_pipeline(path)
    body = ((definition.environments.get(env) or {}).get("services") or {}).get(name)
    if body is None:
        raise UserError(f"{path}: no service '{name}' under environments.{env}.services")
    taskdef_path = path.parent / str(body.get("taskDefinition", "taskdef.json"))
    if not taskdef_path.exists():
        raise UserError(f"{taskdef_path}: not found (environments.{env}.services.{name}.taskDefinition)")
    taskdef = loads_limited(read_text_file(taskdef_path, str(taskdef_path)), str(taskdef_path))  # ConfigError
    out = {"service": body, "taskdef": taskdef, "taskdefSource": str(taskdef_path),
           "environmentAlarms": (definition.environments.get(env) or {}).get("alarms") or {},
           "target": (definition.environments.get(env) or {}).get("target") or "local",
           "environmentSettings": {k: v for k, v in (definition.environments.get(env) or {}).items()
                                   if k not in ("target", "services", "alarms")},
           "workdir": str(path.parent.resolve())}
    deployment = body.get("deployment") or {}
    if deployment.get("controller") == "CODE_DEPLOY":
        appspec_path = path.parent / str(deployment.get("appspec", "appspec.yaml"))
        if appspec_path.is_file():
            out.update(appspec=read_text_file(appspec_path, str(appspec_path)), appspecSource=str(appspec_path))
        elif "appspec" in deployment:
            raise UserError(f"{appspec_path}: not found (environments.{env}.services.{name}.deployment.appspec)")
    return out


def _who() -> str:
    return os.environ.get("USER") or os.environ.get("LOGNAME") or "cli"
