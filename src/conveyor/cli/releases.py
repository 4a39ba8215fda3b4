"""Blue/green releases from the command line: `deploy continue|stop|promote`, `rollback`,
`metrics`, `alarms`, and how `deploy` and `deploy status` show a CodeDeploy deployment. Every
action sends who runs it (the login name) and an optional --reason; both land in the
deployment's history."""

from __future__ import annotations

import time

from conveyor.cli import render
from conveyor.cli.client import Client
from conveyor.cli.render import echo

TERMINAL = ("Succeeded", "Failed", "Stopped")


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
    if verb == "rollback" and d.get("kind") == "codedeploy":
        info = d.get("rollbackInfo") or {}
        if info.get("rollbackDeploymentId"):
            echo(f"↩ {d['environment']}/{d['service']}: traffic back on blue in "
                 f"{info.get('trafficRestoredSeconds', 0) * 1000:.0f} ms (deployment {d['id']} {d['status']}); "
                 f"green is draining ({info['rollbackDeploymentId']})")
        elif d.get("phase") == "RollbackCleanup":
            echo(f"↩ {d['environment']}/{d['service']}: traffic back on the kept task set ({d['taskdef']}) in "
                 f"{info.get('trafficRestoredSeconds', 0) * 1000:.0f} ms; draining the other one ({d['id']})")
        elif d.get("creator") == "codeDeployRollback":
            echo(f"↩ blue is gone: redeploying {d['taskdef']} as deployment {d['id']}")
        else:
            echo(f"deployment {d['id']}: {d['status']}" + (f" — {d['error_message']}" if d.get("error_message") else ""))
        return 0
    if verb == "rollback":
        echo(f"↩ rolling back to {d['taskDefinition']} (deployment {d['id']})")
        return 0
    echo(f"deployment {d['id']}: {d['status']} {d['phase']}" + (f" — {d['waiting']}" if d.get("waiting") else "")
         + (f" — {d['error_message']}" if d.get("error_message") else ""))
    return 0


def wait(client: Client, path: str, dep_id: str, args) -> int:
    deadline = time.monotonic() + args.timeout * 60
    last = ""
    while True:
        d = client.get(f"/api/v1/deployments/{dep_id}")
        text = f"{d['phase']}: {d['waiting']}" if d.get("waiting") else d["phase"]
        if not args.json and text != last and d["status"] not in TERMINAL:
            echo(f"  {text}" + (f" (production traffic on green: {d['traffic']}%)" if d.get("traffic") else ""))
            last = text
        if d["status"] in TERMINAL:
            break
        if time.monotonic() > deadline:
            echo(f"conveyor: still in progress after {args.timeout:g} min: {text}", err=True)
            return 1
        time.sleep(0.3)
    if args.json:
        render.as_json(d)
    elif d["status"] == "Succeeded":
        echo(f"✓ {d['environment']}/{d['service']} runs {d['taskdef']} — deployment {d['id']} succeeded in "
             f"{render.duration(d['timings'].get('total'))}")
    else:
        echo(f"✗ deployment {d['id']} {d['status']}: {d.get('error_code')}: {d.get('error_message')}", err=True)
        info = d.get("rollbackInfo") or {}
        if info.get("rollbackDeploymentId"):
            echo(f"  rolled back ({info['rollbackDeploymentId']}): traffic back on blue in "
                 f"{info.get('trafficRestoredSeconds', 0) * 1000:.0f} ms", err=True)
    return 0 if d["status"] == "Succeeded" else 1


def show_status(s: dict) -> None:
    d = s.get("deployment")
    echo(f"{s['environment']}/{s['service']} (blue/green)  production {s['productionUrl']}"
         + (f"  test {s['testUrl']}" if s.get("testUrl") else ""))
    if not d:
        echo(s["waitingFor"])
        return
    echo(f"deployment {d['id']} {d['status']}  phase {d['phase']}  {d['taskdef']}  by {d['creator']}  "
         f"production on green: {d['traffic']}%")
    echo(f"waiting for: {s['waitingFor']}")
    if d.get("error_code"):
        echo(f"error: {d['error_code']}: {d['error_message']}")
    if d.get("rollbackInfo"):
        echo(f"rollback: {d['rollbackInfo'].get('rollbackDeploymentId')} — {d['rollbackInfo'].get('rollbackMessage')}")
    echo("lifecycle:")
    for e in d["lifecycleEvents"]:
        took = (e["endTime"] - e["startTime"]) if e["endTime"] and e["startTime"] else None
        echo(f"  {e['lifecycleEventName']:<22} {e['status']:<11}" + (f" {render.duration(took)}" if took else "")
             + (f"  hook {e['hook']} (attempt {e['attempts']})" if e.get("hook") else "")
             + (f" — {e['message']}" if e.get("message") else ""))
    for role, ts in d.get("taskSets", {}).items():
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
