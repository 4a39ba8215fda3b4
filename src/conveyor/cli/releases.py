"""Deployments from the command line: `deploy` (waiting for the outcome), `deploy status`,
`deploy continue|stop|promote`, `rollback`, `metrics`, `alarms`. Every kind of deployment
(rolling or blue/green, on any backend) answers in the same shape (`outcome`, `waitingFor`,
`reason`, optional lifecycle events and task sets), so one renderer shows them all. Every
action sends who runs it (the login name) and an optional --reason; both land in the
deployment's history."""

from __future__ import annotations

import time
from urllib.parse import quote

from conveyor.cli import live, render
from conveyor.cli.client import Client
from conveyor.cli.render import echo


def deployment_path(dep_id: str) -> str:
    return f"/api/v1/deployments/{quote(dep_id, safe='')}"


def action(client: Client, path: str, verb: str, args, who: str) -> int:
    body: dict = {"by": who, "reason": args.reason or ""}
    if verb == "stop":
        body["rollback"] = True if args.rollback else (False if args.no_rollback else None)
    if verb == "continue" and args.wait_type:
        body["waitType"] = args.wait_type
    d = client.post(path + ("/rollback" if verb == "rollback" else f"/deployment/{verb}"), body)
    if args.json:
        render.as_json(d)
        return 0
    if verb == "rollback":
        info = d.get("rollbackInfo") or {}
        took = f"{info.get('trafficRestoredSeconds', 0) * 1000:.0f} ms"
        if info.get("rollbackDeploymentId"):
            echo(f"↩ {d['environment']}/{d['service']}: traffic back on blue in {took} (deployment {d['id']} "
                 f"{d['status']}); green is draining ({info['rollbackDeploymentId']})")
        elif d.get("phase") == "RollbackCleanup":
            echo(f"↩ {d['environment']}/{d['service']}: traffic back on the kept task set ({d['taskDefinition']}) "
                 f"in {took}; draining the other one ({d['id']})")
        else:
            echo(f"↩ rolling back to {d['taskDefinition']} (deployment {d['id']})")
        return 0
    echo(f"deployment {d['id']}: {d['status']}" + (f" {d['phase']}" if d.get("phase") else "")
         + (f" — {d['waitingFor']}" if d.get("waitingFor") else "") + (f" — {d['reason']}" if d.get("reason") else ""))
    return 0


def wait(client: Client, dep_id: str, args) -> int:
    """Follow a deployment until it is done; exit 0 only when it succeeded."""
    deadline = time.monotonic() + args.timeout * 60
    with live.deployment_view(quiet=args.json) as view:  # phases and traffic live on a terminal, else lines
        while True:
            d = client.get(deployment_path(dep_id))
            view.update(d)
            if d["done"]:
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.3)
    if not d["done"]:
        echo(f"conveyor: still in progress after {args.timeout:g} min: {d.get('waitingFor') or ''}", err=True)
        return 1
    if args.json:
        render.as_json(d)
    elif d["outcome"] == "Succeeded":
        url = client.get(f"/api/v1/services/{quote(d['environment'], safe='')}/"
                         f"{quote(d['service'], safe='')}").get("url")
        echo(f"✓ {d['environment']}/{d['service']} runs {d['taskDefinition']} — deployment {d['id']} succeeded in "
             f"{render.duration(d.get('duration'))}" + (f" — {url}" if url else ""))
    else:
        echo(f"✗ deployment {d['id']} {d['outcome'].lower()}: {d.get('reason') or 'no reason given'}", err=True)
        info = d.get("rollbackInfo") or {}
        if info.get("rollbackDeploymentId"):
            echo(f"  rolled back ({info['rollbackDeploymentId']}): traffic back on blue in "
                 f"{info.get('trafficRestoredSeconds', 0) * 1000:.0f} ms", err=True)
    return 0 if d["outcome"] == "Succeeded" else 1


def show_status(s: dict) -> None:
    echo(f"{s['environment']}/{s['service']} ({s['controller']}, {s.get('target', 'local')})"
         + (f"  production {s['productionUrl']}" if s.get("productionUrl") else "")
         + (f"  test {s['testUrl']}" if s.get("testUrl") else ""))
    d = s.get("deployment")
    if not d:
        echo(s["waitingFor"])
        return
    head = [f"deployment {d['id']}", d["status"]]
    if d.get("phase"):
        head.append(f"phase {d['phase']}")
    if d.get("rolloutState"):
        head.append(f"rollout {d['rolloutState']}")
    head.append(d["taskDefinition"])
    if d.get("creator"):
        head.append(f"by {d['creator']}")
    if "traffic" in d:
        head.append(f"production on green: {d['traffic']}%")
    echo("  ".join(head))
    echo(f"waiting for: {s['waitingFor']}")
    if d.get("reason"):
        echo(f"reason: {d['reason']}")
    if d.get("rollbackInfo"):
        echo(f"rollback: {d['rollbackInfo'].get('rollbackDeploymentId')} — {d['rollbackInfo'].get('rollbackMessage')}")
    if d.get("lifecycleEvents"):
        echo("lifecycle:")
    for e in d.get("lifecycleEvents", []):
        took = (e["endTime"] - e["startTime"]) if e["endTime"] and e["startTime"] else None
        echo(f"  {e['lifecycleEventName']:<22} {e['status']:<11}" + (f" {render.duration(took)}" if took else "")
             + (f"  hook {e['hook']} (attempt {e['attempts']})" if e.get("hook") else "")
             + (f" — {e['message']}" if e.get("message") else ""))
    for role, ts in (d.get("taskSets") or {}).items():
        if "desired" in ts:
            echo(f"{role} task set {ts['id']} {ts['status']} {ts['taskDefinition']} in {ts['targetGroup']}: "
                 f"{ts['healthy']}/{ts['desired']} healthy")
    for a in d.get("actions", []):
        echo(f"  {render.clock(a['at'])} {a['message']}")
    timings = {k: v for k, v in (d.get("timings") or {}).items() if isinstance(v, (int, float))}
    if timings:
        echo("timings: " + ", ".join(f"{k} {render.duration(v)}" for k, v in timings.items()))
    for a in s.get("alarms", []):
        echo(f"alarm {a['name']}: {a['state']} — {a['reason']}")
    for e in s.get("events", [])[:5]:
        echo(f"  {render.clock(e['at'])} {e['message']}")


def metrics(args) -> int:
    client = Client.connect()
    data = client.get(f"/api/v1/services/{args.env}/{args.service}/metrics?seconds={args.seconds}")
    if args.json:
        render.as_json(data)
        return 0
    rows = []
    for scope, series in data["scopes"].items():
        for metric, points in series.items():
            values = [v for _, v in points]
            total = sum(values)
            stat = f"avg {total / len(values):.4f}" if metric == "TargetResponseTime" else (
                f"max {max(values):g}" if metric.endswith("HostCount") else f"sum {total:g}")
            rows.append([scope, metric, len(points), stat, f"{values[-1]:g}"])
    if not rows:
        echo(f"no datapoints in the last {args.seconds} s (count metrics appear only in seconds with traffic)")
        return 0
    render.table(rows, ["SCOPE", "METRIC", "DATAPOINTS", f"LAST {args.seconds}s", "LATEST"])
    return 0


def alarms(args) -> int:
    client = Client.connect()
    rows = client.get(f"/api/v1/services/{args.env}/{args.service}/alarms")
    if args.json:
        render.as_json(rows)
        return 0
    if not rows:
        echo(f"{args.env}/{args.service} has no alarms (deployment.alarms in conveyor.yml)")
        return 0
    render.table([[a["name"], a["state"], a["metric"], a["watching"],
                   f"{a['statistic']} {a['comparisonOperator']} {a['threshold']:g}",
                   f"{a['datapointsToAlarm']}/{a['evaluationPeriods']} x {a['period']}s"] for a in rows],
                 ["ALARM", "STATE", "METRIC", "WATCHING", "CONDITION", "M/N x PERIOD"])
    for a in rows:
        echo(f"{a['name']}: {a['reason']}")
        for h in a.get("history", [])[-5:]:
            echo(f"  {render.clock(h.get('at'))} {h.get('state')} — {h.get('reason')}")
    return 0
