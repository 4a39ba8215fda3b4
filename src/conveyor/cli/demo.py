"""`conveyor demo`: the orders-service example, end to end, the way a team would use Conveyor.

It creates a bare "origin" repository with a post-receive hook that calls `conveyor run
--from-hook`, clones it, copies examples/orders-service in, commits, starts the daemon and
pushes. The push triggers the pipeline — the CodeBuild action runs the example's buildspec.yml:
unit tests with a JUnit report, an image build, a push to the local registry — and the demo
follows it and, with --yes, approves.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import conveyor
from conveyor import home as homes
from conveyor.cli import render
from conveyor.cli.commands import FOLLOW_INTERVAL, TERMINAL
from conveyor.cli.daemonctl import running, start_daemon
from conveyor.cli.dashboard import link as dashboard_link
from conveyor.cli.demo_inbox import DemoInbox
from conveyor.cli.render import echo
from conveyor.errors import ConveyorError, UserError

PIPELINE = "orders-service"
TRIGGER_TIMEOUT = 60.0


def example_dir() -> Path:
    candidates = [os.environ.get("CONVEYOR_EXAMPLES", ""),
                  str(Path(conveyor.__file__).resolve().parents[2] / "examples")]
    for base in candidates:
        if base and (Path(base) / PIPELINE / "conveyor.yml").exists():
            return Path(base) / PIPELINE
    raise UserError("the orders-service example was not found",
                    hint="run the demo from a Conveyor checkout, or set CONVEYOR_EXAMPLES to its examples/ directory")


def _git(*args: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Conveyor Demo", "GIT_AUTHOR_EMAIL": "demo@conveyor.local",
           "GIT_COMMITTER_NAME": "Conveyor Demo", "GIT_COMMITTER_EMAIL": "demo@conveyor.local"}
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise ConveyorError(f"git {' '.join(args)} failed: {done.stderr.strip()[-300:]}")
    return done.stdout + done.stderr


def hook_script(root: Path) -> str:
    return ("#!/bin/sh\n# Conveyor: start the pipeline for every pushed branch (reads 'old new ref' lines).\n"
            f"CONVEYOR_HOME={shlex.quote(str(root))} exec {shlex.quote(sys.executable)} -m conveyor.cli.main "
            'run --from-hook --repo "$(pwd)"\n')


def preflight() -> None:
    from conveyor.images import BASE_IMAGE, BUILD_IMAGE
    from conveyor.providers.local.containers import detect_engine, image_exists

    engine = detect_engine()
    for image in (BASE_IMAGE, BUILD_IMAGE):
        if not image_exists(engine, image):
            raise UserError(f"the image {image} is missing", hint="run `conveyor setup` first")


def run_demo(yes: bool, directory: str | None, bad_release: bool = False) -> int:
    root = homes.home()
    started = time.time()
    preflight()
    demo = Path(directory).resolve() if directory else root / "demo"
    origin, work = demo / "origin.git", demo / PIPELINE
    for path in (origin, work):
        shutil.rmtree(path, ignore_errors=True)
    demo.mkdir(parents=True, exist_ok=True)
    echo(f"1. a fresh repository: {origin} (with a post-receive hook), cloned to {work}")
    _git("init", "--quiet", "--bare", "-b", "main", str(origin), cwd=demo)
    hook = origin / "hooks" / "post-receive"
    hook.write_text(hook_script(root))
    hook.chmod(0o755)
    _git("clone", "--quiet", str(origin), str(work), cwd=demo)
    shutil.copytree(example_dir(), work, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    _git("add", "-A", cwd=work)
    _git("commit", "--quiet", "-m", "orders-service: first release", cwd=work)
    _git("branch", "-M", "main", cwd=work)
    commit = _git("rev-parse", "HEAD", cwd=work).strip()

    client = running(root)
    if client is None:
        echo("2. starting the daemon")
        start_daemon(root)
        client = running(root)
    else:
        echo("2. the daemon is already up")
    assert client is not None
    inbox = DemoInbox.open(client)
    try:
        code = _release(client, inbox, work, commit, started, yes, bad_release)
    finally:
        inbox.close()
    _show_dashboard(client)
    return code


def _show_dashboard(client) -> None:
    """The dashboard's address, as a fresh one-time login link (the token stays in its file)."""
    try:
        url = dashboard_link(client=client)
    except ConveyorError as exc:  # an older daemon without the dashboard: the demo itself went fine
        echo(f"(no dashboard link: {exc})")
        return
    echo("")
    echo(f"watch it in the dashboard: {url}")
    echo("  a one-time login link, valid 10 minutes; `conveyor dashboard` prints a new one")


def _release(client, inbox: DemoInbox, work: Path, commit: str, started: float, yes: bool, bad_release: bool) -> int:
    echo(f"3. git push origin main  ({commit[:7]})")
    pushed = subprocess.run(["git", "push", "--quiet", "origin", "main"], cwd=work, capture_output=True, text=True)
    if pushed.returncode != 0:
        raise ConveyorError(f"git push failed: {pushed.stderr.strip()[-300:]}")
    for line in pushed.stderr.splitlines():
        if line.startswith("remote:"):
            echo("   " + line)

    ex = _follow(client, commit, yes, "4. the push started execution {id}; following it")
    if ex is None:
        return 0
    echo("")
    render.stage_timings(ex)
    image = _output(ex, "Build", "Build", "IMAGE_URI")
    echo("")
    echo(f"execution {render.short(ex['id'])}: {ex['status']} in {render.duration(ex['duration'])} "
         f"(demo total {render.duration(time.time() - started)})")
    for stage in ex["stages"]:
        for a in stage["actions"]:
            for report in a.get("reports") or []:
                echo(f"tests: {render.one_line(report)}")
    if image:
        echo(f"image built, tested and pushed to the local registry: {image}")
        echo("  see it: conveyor image ls orders-service")
    _show_staging(client, commit)
    _show_production(client, commit, ex)
    echo(f"see it again: conveyor status {render.short(ex['id'])}  |  conveyor logs {render.short(ex['id'])}")
    if ex["status"] != "Succeeded":
        return 1
    echo("")
    inbox.show({"manual-approval-needed", "deployment-succeeded", "pipeline-execution-succeeded"})
    echo("  all of them: conveyor events --pipeline orders-service  |  conveyor notify deliveries")
    if bad_release:
        return _bad_release(client, inbox, work, yes)
    return 0


def _follow(client, commit: str, yes: bool, title: str) -> dict | None:
    """Follow the execution the push of `commit` started, approving with --yes. None when it
    waits for an approval nobody gave."""
    ex = _wait_for_execution(client, commit)
    echo(title.format(id=render.short(ex["id"])))
    progress = render.Progress()
    approved = False
    while True:
        ex = client.get(f"/api/v1/executions/{ex['id']}")
        progress.update(ex)
        if ex["status"] in TERMINAL:
            return ex
        if ex.get("awaitingApproval") and not approved:
            if not yes:
                echo("")
                echo("The pipeline waits for your approval (run the demo with --yes to approve automatically):")
                echo(f"  conveyor status {render.short(ex['id'])}")
                echo(f"  conveyor approve {render.short(ex['id'])} --comment 'ship it'")
                return None
            client.post(f"/api/v1/executions/{ex['id']}/approval", {
                "decision": "Approved", "comment": "approved by `conveyor demo --yes`", "by": "conveyor-demo"})
            approved = True
        time.sleep(FOLLOW_INTERVAL)


def _show_production(client, commit: str, ex: dict) -> None:
    """The production URL, what it answers, and how the blue/green release went."""
    try:
        status = client.get("/api/v1/services/production/orders/deployment")
    except ConveyorError:
        return
    d = status.get("deployment")
    if not d:
        return
    url = status["productionUrl"]
    echo(f"production: {d['taskdef']} (blue/green, {d['status']}) at {url} — test listener {status['testUrl']}")
    try:
        with urllib.request.urlopen(url + "version", timeout=5) as resp:
            body = json.loads(resp.read())
        same = (body.get("commit") or "").startswith(commit[:7])
        echo(f"  curl {url}version → {json.dumps(body)}" + ("  (the commit just pushed)" if same else ""))
    except (OSError, ValueError) as exc:
        echo(f"  curl {url}version failed: {exc}")
    events = ", ".join(f"{e['lifecycleEventName']} {e['status']}" for e in d["lifecycleEvents"]
                       if e.get("hook"))
    if events:
        echo(f"  hooks: {events}")
    timings = d.get("timings") or {}
    if "allProductionTraffic" in timings:
        lead = d["created_at"] + timings["allProductionTraffic"] - _pushed_at(ex)
        echo(f"  lead time: commit pushed → all production traffic on it in {render.duration(lead)} "
             f"(canary at {render.duration(timings.get('firstProductionTraffic'))} into the deployment)")
    echo("  see it: conveyor deploy status production orders  |  conveyor alarms production orders  |  "
         "conveyor rollback production orders")


def _pushed_at(ex: dict) -> float:
    return float(ex.get("startedAt") or ex.get("created_at") or ex.get("createdAt") or time.time())


def _bad_release(client, inbox: DemoInbox, work: Path, yes: bool) -> int:
    """Ship a release that passes its health checks but fails half its requests, with a steady
    load on production; the alarm on green's 5xx stops it and traffic stays on blue."""
    from conveyor.loadgen import LoadGenerator

    taskdef_path = work / "taskdef.json"
    taskdef = json.loads(taskdef_path.read_text())
    env = taskdef["containerDefinitions"][0].setdefault("environment", [])
    env += [{"name": "FAULT_RATE", "value": "0.5"}, {"name": "FAULT_AFTER", "value": "8"}]
    taskdef_path.write_text(json.dumps(taskdef, indent=2) + "\n")
    _git("commit", "--quiet", "-am",
         "orders-service: a release that fails under traffic (FAULT_RATE=0.5 after 8 requests per task)", cwd=work)
    commit = _git("rev-parse", "HEAD", cwd=work).strip()
    echo("")
    echo(f"5. --bad-release: git push origin main ({commit[:7]}): after 8 good answers per task (enough to pass\n"
         f"   the smoke test), half of its requests fail with 500; /health stays fine")
    load = LoadGenerator("http://127.0.0.1:8080/version", rate=50, duration=600, max_requests=100_000)
    load.start()
    pushed = subprocess.run(["git", "push", "--quiet", "origin", "main"], cwd=work, capture_output=True, text=True)
    if pushed.returncode != 0:
        load.stop()
        raise ConveyorError(f"git push failed: {pushed.stderr.strip()[-300:]}")
    ex = _follow(client, commit, yes, "6. execution {id}: following it, with 50 requests/s on production")
    result = load.stop()
    if ex is None:
        return 0
    echo("")
    render.stage_timings(ex)
    status = client.get("/api/v1/services/production/orders/deployment")
    d = status.get("deployment") or {}
    echo("")
    echo(f"execution {render.short(ex['id'])}: {ex['status']} (as it should: the release was bad)")
    echo(f"deployment {d.get('id')}: {d.get('status')} — {d.get('error_code')}: {d.get('error_message')}")
    info = d.get("rollbackInfo") or {}
    if info.get("rollbackDeploymentId"):
        echo(f"  rolled back ({info['rollbackDeploymentId']}): traffic back on blue in "
             f"{info.get('trafficRestoredSeconds', 0) * 1000:.0f} ms")
    for alarm in status.get("alarms", []):
        fired = [h for h in alarm.get("history", []) if h.get("state") == "ALARM"]
        if fired:
            echo(f"  alarm {alarm['name']} fired: {fired[0].get('reason')}")
    echo(f"production listener during the bad release: {result.total} requests, {result.failed()} failed, "
         f"answered by {dict(result.versions)}"
         + (f"; failures: {dict(result.status_counts)} {dict(result.error_counts)}" if result.failed() else ""))
    echo("  see it: conveyor deploy status production orders  |  conveyor alarms production orders")
    echo("")
    inbox.show({"deployment-alarm", "deployment-rolled-back", "pipeline-execution-failed"},
               "notifications of the bad release")
    rolled_back = d.get("error_code") == "ALARM_ACTIVE" and bool(info.get("rollbackDeploymentId"))
    return 0 if rolled_back and result.failed() == 0 else 1


def _show_staging(client, commit: str) -> None:
    """The staging URL, and what it answers: the commit just pushed."""
    try:
        svc = client.get("/api/v1/services/staging/orders")
    except ConveyorError:
        return
    url = (svc.get("loadBalancer") or {}).get("url")
    if not url:
        return
    echo(f"staging: {svc['taskDefinition']} on {svc['runningCount']} task(s) behind HAProxy at {url}")
    try:
        with urllib.request.urlopen(url + "version", timeout=5) as resp:
            body = json.loads(resp.read())
        same = (body.get("commit") or "").startswith(commit[:7])
        echo(f"  curl {url}version → {json.dumps(body)}" + ("  (the commit just pushed)" if same else ""))
    except (OSError, ValueError) as exc:
        echo(f"  curl {url}version failed: {exc}")
    echo("  see it: conveyor service describe staging orders  |  conveyor deploy status staging orders")


def _wait_for_execution(client, commit: str) -> dict:
    deadline = time.monotonic() + TRIGGER_TIMEOUT
    while time.monotonic() < deadline:
        for ex in client.get(f"/api/v1/executions?pipeline={PIPELINE}&limit=5"):
            if ex.get("trigger", {}).get("after") == commit or ex.get("commit") == commit:
                return ex
        time.sleep(0.2)
    raise ConveyorError("the push did not start an execution within 60 s",
                        hint=f"see {homes.log_path(homes.home())}")


def _output(ex: dict, stage: str, action: str, name: str) -> str | None:
    for s in ex["stages"]:
        for a in s["actions"]:
            if s["name"] == stage and a["name"] == action:
                return (a.get("variables") or {}).get(name)
    return None
