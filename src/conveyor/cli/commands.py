"""The verbs that talk to the daemon: run, status, history, logs, approve, reject, stop, retry."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
import time
from pathlib import Path

from conveyor.cli import live, render
from conveyor.cli.client import Client
from conveyor.cli.render import echo
from conveyor.config.pipeline import check_file
from conveyor.errors import ConfigError, UserError

FOLLOW_INTERVAL = 0.3
TERMINAL = ("Succeeded", "Failed", "Stopped", "Superseded", "Cancelled")


def who() -> str:
    try:
        return os.environ.get("CONVEYOR_USER") or getpass.getuser()
    except Exception:
        return "unknown"


def git_root(path: Path) -> Path:
    done = subprocess.run(["git", "-C", str(path), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if done.returncode != 0:
        raise UserError(f"{path} is not inside a git repository",
                        hint="run it inside your repository, or pass --repo PATH")
    return Path(done.stdout.strip())


def run(args) -> int:
    client = Client.connect()
    if args.from_hook or args.ref:
        return _from_hook(client, args)
    body: dict = {"variables": _variables(args.variable), "branch": args.branch, "commit": args.commit,
                  "configPath": args.config, "by": who()}
    if getattr(args, "protected_branch", None):
        body["protectedBranches"] = args.protected_branch
    if args.repo:
        body["repository"] = str(Path(args.repo).resolve()) if os.path.exists(args.repo) else args.repo
    elif args.pipeline:
        body["pipeline"] = args.pipeline
    else:
        root = git_root(Path.cwd())
        local = root / args.config
        if local.exists():
            diags = check_file(local, args.config)
            if any(d.severity == "error" for d in diags):
                raise ConfigError(diags)
            dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", args.config],
                                   capture_output=True, text=True).stdout.strip()
            if dirty:
                echo(f"note: {args.config} has uncommitted changes; the execution uses the committed version", err=True)
        body["repository"] = str(root)
    ex = client.post("/api/v1/executions", body)
    if args.json and not args.follow:
        render.as_json(ex)
        return 0
    if not args.follow:
        echo(f"started execution {ex['id']} of {ex['pipeline']} (commit {render.commit_of(ex)})")
        echo(f"  follow it: conveyor status {render.short(ex['id'])}  |  "
             f"conveyor logs {render.short(ex['id'])} --follow")
        return 0
    return follow(client, ex["id"], as_json=args.json)


def _from_hook(client: Client, args) -> int:
    repo = str(Path(args.repo or ".").resolve()) if not (args.repo and "://" in args.repo) else args.repo
    updates = []
    if args.ref:
        if not args.after:
            raise UserError("--ref needs --after COMMIT (and --before COMMIT for path filters)")
        updates.append((args.before or "", args.after, args.ref))
    else:
        for line in sys.stdin:
            parts = line.split()
            if len(parts) == 3:
                updates.append((parts[0], parts[1], parts[2]))
    for before, after, ref in updates:
        started = client.post("/api/v1/triggers/git",
                              {"repository": repo, "ref": ref, "before": before, "after": after})
        for ex in started:
            echo(f"conveyor: started execution {render.short(ex['id'])} of {ex['pipeline']} for {ref}")
    return 0


def _variables(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UserError(f"--variable expects NAME=VALUE, got '{pair}'")
        out[name] = value
    return out


def follow(client: Client, execution_id: str, as_json: bool = False, stop_at_approval: bool = True) -> int:
    with live.execution_view(quiet=as_json) as view:  # a live table on a terminal, else lines
        while True:
            ex = client.get(f"/api/v1/executions/{execution_id}")
            view.update(ex)
            if ex["status"] in TERMINAL:
                break
            if stop_at_approval and ex.get("awaitingApproval"):
                view.note(f"waiting for approval — conveyor approve {render.short(ex['id'])} --comment '...'")
                break
            time.sleep(FOLLOW_INTERVAL)
    if as_json:
        render.as_json(ex)
    return 0 if ex["status"] in ("Succeeded", "InProgress") else 1


def status(args) -> int:
    client = Client.connect()
    if args.execution:
        ex = client.get(f"/api/v1/executions/{args.execution}")
        render.as_json(ex) if args.json else render.execution(ex)
        return 0
    pipelines = client.get("/api/v1/pipelines")
    if args.json:
        render.as_json(pipelines)
        return 0
    if not pipelines:
        echo("no pipelines yet — run `conveyor run` inside a repository with a conveyor.yml")
        return 0
    render.table(([p["name"], (p["latest"] or {}).get("status", "-"), render.short((p["latest"] or {}).get("id")),
                   render.commit_of(p["latest"] or {}), render.clock((p["latest"] or {}).get("startedAt")),
                   render.detail(p["latest"]) if p["latest"] else "", p["repository"]] for p in pipelines),
                 ["PIPELINE", "STATUS", "EXECUTION", "COMMIT", "STARTED", "NOW", "REPOSITORY"])
    return 0


def history(args) -> int:
    client = Client.connect()
    q = f"?limit={args.limit}" + (f"&pipeline={args.pipeline}" if args.pipeline else "")
    rows = client.get(f"/api/v1/executions{q}")
    render.as_json(rows) if args.json else render.history(rows)
    return 0


def _latest_id(client: Client) -> str:
    rows = client.get("/api/v1/executions?limit=1")
    if not rows:
        raise UserError("no executions yet", hint="start one with `conveyor run`")
    return rows[0]["id"]


def logs(args) -> int:
    client = Client.connect()
    execution_id = args.execution or _latest_id(client)
    offsets: dict[tuple, int] = {}
    collected = []
    while True:
        ex = client.get(f"/api/v1/executions/{execution_id}")
        for s in client.get(f"/api/v1/executions/{ex['id']}/logs"):
            if (args.stage and s["stage"] != args.stage) or (args.action and s["action"] != args.action):
                continue
            key = (s["stage"], s["action"], s["attempt"])
            if key not in offsets:
                offsets[key] = 0
                if not args.json:
                    echo(f"==> {s['stage']}.{s['action']} (attempt {s['attempt']}) <==")
            if s["size"] > offsets[key]:
                got = client.get(f"/api/v1/executions/{ex['id']}/logs/{s['stage']}/{s['action']}/{s['attempt']}"
                                 f"?offset={offsets[key]}")
                offsets[key] = got["offset"]
                if args.json:
                    collected.append({"stage": s["stage"], "action": s["action"], "attempt": s["attempt"],
                                      "text": got["text"]})
                elif got["text"]:
                    sys.stdout.write(got["text"])
                    sys.stdout.flush()
        if not args.follow or ex["status"] in TERMINAL:
            break
        time.sleep(FOLLOW_INTERVAL)
    if args.json:
        render.as_json(collected)
    return 0


def _decide(args, decision: str) -> int:
    client = Client.connect()
    ex = client.post(f"/api/v1/executions/{args.execution}/approval", {
        "decision": decision, "comment": args.comment, "by": who(), "stage": args.stage, "action": args.action})
    if args.json:
        render.as_json(ex)
    else:
        echo(f"{decision.lower()} execution {render.short(ex['id'])} of {ex['pipeline']}"
             + (f": {args.comment}" if args.comment else ""))
    return 0


def approve(args) -> int:
    return _decide(args, "Approved")


def reject(args) -> int:
    return _decide(args, "Rejected")


def stop(args) -> int:
    client = Client.connect()
    ex = client.post(f"/api/v1/executions/{args.execution}/stop",
                     {"abandon": args.abandon, "reason": args.reason, "by": who()})
    if args.json:
        render.as_json(ex)
    else:
        echo(f"stopping execution {render.short(ex['id'])}" + (" (abandoning running actions)" if args.abandon else
                                                               " (running actions finish first)"))
    return 0


def retry(args) -> int:
    client = Client.connect()
    ex = client.post(f"/api/v1/executions/{args.execution}/retry", {
        "stage": args.stage, "mode": "ALL_ACTIONS" if args.all else "FAILED_ACTIONS", "by": who()})
    if args.follow:
        return follow(client, ex["id"], as_json=args.json)
    if args.json:
        render.as_json(ex)
    else:
        echo(f"retrying stage {ex['currentStage']} of execution {render.short(ex['id'])}")
    return 0


def demo(args) -> int:
    from conveyor.cli.demo import run_demo

    return run_demo(yes=args.yes, directory=args.dir, bad_release=args.bad_release)


def report(args) -> int:
    client = Client.connect()
    execution_id = args.execution or _latest_id(client)
    rows = client.get(f"/api/v1/executions/{execution_id}/reports")
    render.as_json(rows) if args.json else render.reports(rows)
    return 0


def image(args) -> int:
    if args.image_command == "lifecycle":
        from conveyor.cli import image_lifecycle

        return image_lifecycle.run(args)
    client = Client.connect()
    q = f"?repository={args.repository}" if args.repository else ""
    data = client.get(f"/api/v1/images{q}")
    if args.json:
        render.as_json(data)
        return 0
    if not data["repositories"]:
        echo(f"no repositories in the local registry ({data['registry']}) yet")
        return 0
    rows = []
    for repo in data["repositories"]:
        for img in repo["images"] or [{"imageDigest": "", "imageTags": [], "imagePushedAt": None}]:
            rows.append([repo["repositoryUri"], ",".join(img["imageTags"]) or "<untagged>", img["imageDigest"][:19],
                         img.get("imagePushedAt") or "-", repo["imageTagMutability"]])
    render.table(rows, ["REPOSITORY", "TAGS", "DIGEST", "PUSHED", "MUTABILITY"])
    return 0
