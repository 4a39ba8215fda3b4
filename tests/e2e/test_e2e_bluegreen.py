"""Blue/green releases for real (CodeDeploy semantics): task sets in two target groups behind one
HAProxy, a test listener, hooks that are real commands, alarms on the sampled HAProxy metrics,
rollbacks — each under real HTTP load on the production listener, which must not fail once.

given a service on v1 → deploy v2 (canary, hook, alarm, …) → expect what the scenario says."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest
from e2e_support import _zombie, action, free_port, git, wait_until
from stack_support import stack_missing

from conveyor.events.outbox import read_outbox
from conveyor.images import BASE_IMAGE
from conveyor.loadgen import LoadGenerator
from conveyor.providers.local.containers import detect_engine, image_exists

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "orders-service"
IMAGE = "localhost/conveyor-test/orders"
SMOKE = """\
import os, sys, urllib.request
url = os.environ["CONVEYOR_TEST_URL"] + "version"
with urllib.request.urlopen(url, timeout=5) as resp:
    version = resp.headers.get("X-App-Version")
print(f"{os.environ['CONVEYOR_LIFECYCLE_EVENT']}: test listener answered {resp.status} from {version}")
sys.exit(0 if version == os.environ.get("EXPECT", version) else 1)
"""
SLOW_ALARM = """\
alarms:
  - name: green-latency
    metric: TargetResponseTime
    scope: green
    statistic: Average
    period: 1
    evaluationPeriods: 2
    datapointsToAlarm: 2
    threshold: 0.2
    comparisonOperator: GreaterThanThreshold
    treatMissingData: notBreaching
"""


def _build(tag: str, env: str) -> str:
    ref = f"{IMAGE}:{tag}"
    base = f"{IMAGE}:base"
    if not image_exists(detect_engine(), base):
        subprocess.run(["podman", "build", "--quiet", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}", "-t", base,
                        "-f", str(EXAMPLE / "Containerfile"), str(EXAMPLE)], check=True, capture_output=True,
                       timeout=300)
    subprocess.run(["podman", "build", "--quiet", "-t", ref, "-f", "-", str(EXAMPLE)],
                   input=f"FROM {base}\nENV {env}\n".encode(), check=True, capture_output=True, timeout=300)
    return ref


@pytest.fixture(scope="module")
def images():
    engine = detect_engine()
    if engine.binary != "podman" or not image_exists(engine, BASE_IMAGE):
        stack_missing(f"needs podman and {BASE_IMAGE}: run `conveyor setup`")
    return {"v1": _build("bg-v1", "APP_VERSION=v1"), "v2": _build("bg-v2", "APP_VERSION=v2"),
            "slow": _build("bg-slow", "APP_VERSION=slow FAULT_DELAY_MS=400")}


class Release:
    """A project with one CODE_DEPLOY service in `production` and the commands to drive it."""

    def __init__(self, daemon, tmp_path: Path, deployment: str, hooks: str = ""):
        self.daemon = daemon
        self.port, self.test_port = free_port(), free_port()
        self.root = tmp_path / "project"
        self.root.mkdir(exist_ok=True)
        self.url = f"http://127.0.0.1:{self.port}/version"
        self.test_url = f"http://127.0.0.1:{self.test_port}/version"
        taskdef = {"family": "orders", "networkMode": "awsvpc", "containerDefinitions": [{
            "name": "api", "image": "<IMAGE1_NAME>", "essential": True, "stopTimeout": 5,
            "portMappings": [{"containerPort": 8080}], "environment": [{"name": "PORT", "value": "8080"}]}]}
        (self.root / "taskdef.json").write_text(json.dumps(taskdef, indent=2))
        (self.root / "smoke.py").write_text(SMOKE)
        (self.root / "appspec.yaml").write_text(textwrap.dedent("""\
            version: 0.0
            Resources:
              - TargetService:
                  Type: AWS::ECS::Service
                  Properties:
                    TaskDefinition: <TASK_DEFINITION>
                    LoadBalancerInfo: {ContainerName: api, ContainerPort: 8080}
            """) + hooks)
        self.write(deployment)

    def write(self, deployment: str) -> None:
        (self.root / "conveyor.yml").write_text(textwrap.dedent(f"""\
            name: bg-test
            allowHostCommands: true
            pipeline:
              stages:
                - name: Source
                  actions: [{{name: Source, provider: Git, outputArtifacts: [src]}}]
                - name: Deploy
                  actions: [{{name: Deploy, provider: CodeDeployToECS, environment: production, service: orders,
                             inputArtifacts: [src], image1ArtifactName: src, image1ContainerName: IMAGE1_NAME}}]
            environments:
              production:
                services:
                  orders:
                    taskDefinition: taskdef.json
                    desiredCount: 2
                    loadBalancer:
                      port: {self.port}
                      testPort: {self.test_port}
                      container: api
                      containerPort: 8080
                      deregistrationDelaySeconds: 1
                      healthCheck: {{path: /health, intervalSeconds: 1, healthyThresholdCount: 2}}
                    deployment:
                      controller: CODE_DEPLOY
            """) + textwrap.indent(textwrap.dedent(deployment), " " * 10))

    def deploy(self, image: str, *extra: str, check: bool = True):
        return self.daemon("deploy", "production", "orders", "--image", image, "--file",
                           str(self.root / "conveyor.yml"), "--timeout", "2", *extra, check=check)

    def status(self) -> dict:
        return self.daemon.json("deploy", "status", "production", "orders")

    def wait_phase(self, *phases: str, timeout: float = 60) -> dict:
        return wait_until(lambda: (lambda s: s if s["deployment"] and s["deployment"]["phase"] in phases else None)(
            self.status()), timeout, 0.2, what=f"phase {phases}")

    def version(self, url: str | None = None) -> str:
        with urllib.request.urlopen(url or self.url, timeout=5) as resp:
            return resp.headers.get("X-App-Version")

    def load(self, rate: int = 100) -> LoadGenerator:
        gen = LoadGenerator(self.url, rate=rate, duration=300, max_requests=60000, keepalive_fraction=0.5)
        gen.start()
        return gen

    def first(self, image: str) -> None:
        out = self.deploy(image)
        assert "succeeded" in out.stdout, out.stdout + out.stderr
        assert self.version() == "v1"


def _clean(result) -> None:
    assert result.total > 100, result.to_json()
    assert result.failed() == 0, result.to_json()


def outbox(daemon, deployment_id: str) -> list[tuple[str, object]]:
    """The stream events codedeploy.db holds for the deployment, oldest first: (type, percent)."""
    db = sqlite3.connect(daemon.home / "codedeploy.db")
    try:
        rows = read_outbox(db, 0, limit=10_000)
    finally:
        db.close()
    return [(e.type, e.detail.get("percent")) for _, e in rows if e.subject.deployment_id == deployment_id]


def service_outbox(daemon) -> list[str]:
    """The types of the stream events services.db holds, oldest first."""
    db = sqlite3.connect(daemon.home / "services.db")
    try:
        return [e.type for _, e in read_outbox(db, 0, limit=10_000)]
    finally:
        db.close()


def _events(status: dict) -> dict[str, str]:
    return {e["lifecycleEventName"]: e["status"] for e in status["deployment"]["lifecycleEvents"]}


def canary_with_smoke(expect: str) -> str:
    return f"""\
        config: {{type: TimeBasedCanary, canaryPercentage: 25, canaryInterval: 3s}}
        terminationWaitMinutes: 2s
        hooks:
          SmokeTest: {{command: [python3, smoke.py], timeoutSeconds: 30, env: {{EXPECT: {expect}}}}}
        """


def test_canary_with_a_smoke_test_hook_under_load_fails_nothing(tmp_path, daemon, images):
    rel = Release(daemon, tmp_path, canary_with_smoke("v1"),
                  hooks="Hooks:\n  - AfterAllowTestTraffic: arn:aws:lambda:us-east-1:111122223333:function:SmokeTest\n")
    rel.first(images["v1"])
    first = rel.status()["deployment"]
    rel.write(canary_with_smoke("v2"))
    load = rel.load()
    time.sleep(0.5)
    out = rel.deploy(images["v2"])
    time.sleep(0.5)
    result = load.stop()
    assert "succeeded" in out.stdout, out.stdout + out.stderr
    _clean(result)
    assert result.versions.get("v1") and result.versions.get("v2"), result.versions
    assert rel.version() == "v2"
    s = rel.status()
    d = s["deployment"]
    assert d["status"] == "Succeeded" and d["traffic"] == 100
    assert d["replacement_tg"] != first["replacement_tg"]  # the target groups swap roles
    events = _events(s)
    assert events["AfterAllowTestTraffic"] == "Succeeded" and events["BeforeInstall"] == "Skipped"
    hook = next(e for e in d["lifecycleEvents"] if e["lifecycleEventName"] == "AfterAllowTestTraffic")
    assert "test listener answered 200 from v2" in hook["logTail"]
    messages = " ".join(h["message"] for h in d["history"])
    assert "25% of production traffic" in messages and "100% of production traffic" in messages
    assert d["taskSets"]["original"]["status"] == "INACTIVE"
    for phase in ("Install", "AllowTraffic", "TerminationWait"):
        assert phase in d["timings"], d["timings"]
    assert outbox(daemon, d["id"]) == [
        ("deployment-started", None), ("deployment-traffic-shifted", 25), ("deployment-traffic-shifted", 100),
        ("deployment-waiting", None), ("deployment-succeeded", None)]  # (waiting: the 2 s termination wait)
    # services.db: steady once per deployment (not between its steps, while two task sets are live)
    wait_until(lambda: len(service_outbox(daemon)) >= 2, 10, what="steady state")
    assert service_outbox(daemon) == ["service-steady-state", "service-steady-state"]


def test_a_failing_hook_rolls_back_and_production_never_sees_green(tmp_path, daemon, images):
    rel = Release(daemon, tmp_path, """\
        terminationWaitMinutes: 0
        hooks:
          Smoke: {command: [python3, smoke.py], env: {EXPECT: v1}}
        """, hooks="Hooks:\n  - AfterAllowTestTraffic: Smoke\n")
    rel.first(images["v1"])
    rel.write("""\
        hooks:
          Smoke: {command: [python3, smoke.py], env: {EXPECT: nobody}}
        """)
    load = rel.load()
    out = rel.deploy(images["v2"], check=False)
    result = load.stop()
    assert out.returncode == 1, out.stdout + out.stderr
    assert "HOOK_EXECUTION_FAILURE" in out.stderr
    _clean(result)
    assert set(result.versions) == {"v1"}, result.versions
    d = rel.status()["deployment"]
    assert d["status"] == "Failed" and d["error_code"] == "HOOK_EXECUTION_FAILURE"
    assert d["rollbackInfo"]["rollbackDeploymentId"]
    assert rel.version(rel.test_url) == "v1"  # the test listener is back on blue too
    wait_until(lambda: rel.status()["deployment"]["taskSets"]["replacement"].get("status") == "INACTIVE", 30,
               what="green removed")


@pytest.mark.parametrize("config,phase", [
    ("config: {type: TimeBasedCanary, canaryPercentage: 30, canaryInterval: 30s}\nterminationWaitMinutes: 0\n",
     "AllowTraffic"),
    ("config: CodeDeployDefault.ECSAllAtOnce\nterminationWaitMinutes: 40s\n", "TerminationWait"),
], ids=["during-canary", "during-termination-wait"])
def test_an_alarm_stops_and_rolls_back_with_zero_failed_requests(tmp_path, daemon, images, config, phase):
    rel = Release(daemon, tmp_path, "terminationWaitMinutes: 0\n")
    rel.first(images["v1"])
    rel.write(config + SLOW_ALARM)
    load = rel.load()
    out = rel.deploy(images["slow"], check=False)
    time.sleep(0.5)
    result = load.stop()
    assert out.returncode == 1, out.stdout + out.stderr
    _clean(result)
    assert result.versions.get("slow"), "green never got production traffic"
    d = rel.status()["deployment"]
    assert (d["status"], d["error_code"]) == ("Stopped", "ALARM_ACTIVE"), d
    assert "green-latency" in d["error_message"]
    assert d["phase"] == phase, d["history"]  # where it stopped
    assert d["rollbackInfo"]["trafficRestoredSeconds"] >= 0  # how fast: bench/bluegreen.py
    assert rel.version() == "v1"
    alarms = daemon.json("alarms", "production", "orders")
    assert any(h["state"] == "ALARM" for h in alarms[0]["history"])
    shifted = [("deployment-traffic-shifted", 30)] if phase == "AllowTraffic" else [
        ("deployment-traffic-shifted", 100), ("deployment-waiting", None)]
    assert outbox(daemon, d["id"]) == [("deployment-started", None), *shifted, ("deployment-alarm", None),
                                       ("deployment-stopped", None), ("deployment-rolled-back", None)]


def test_ready_wait_continue_then_manual_rollback_is_instant(tmp_path, daemon, images):
    rel = Release(daemon, tmp_path, "terminationWaitMinutes: 0\n")
    rel.first(images["v1"])
    rel.write("deploymentReadyOption: STOP_DEPLOYMENT\nwaitTimeMinutes: 2\nterminationWaitMinutes: 2\n")
    load = rel.load()
    rel.deploy(images["v2"], "--no-wait")
    s = rel.wait_phase("ReadyWait")
    assert s["deployment"]["status"] == "Ready"
    assert rel.version(rel.test_url) == "v2" and rel.version() == "v1"
    daemon("deploy", "continue", "production", "orders", "--reason", "looked fine on the test port")
    rel.wait_phase("TerminationWait")
    assert rel.version() == "v2"
    out = daemon("rollback", "production", "orders", "--reason", "customer reports")
    assert "traffic back on blue" in out.stdout, out.stdout
    assert rel.version() == "v1"
    time.sleep(0.5)
    result = load.stop()
    _clean(result)
    d = rel.status()["deployment"]
    assert d["status"] == "Stopped" and d["rollbackInfo"]["trafficRestoredSeconds"] >= 0
    actions = [a["message"] for a in d["actions"]]
    assert any(a.startswith("continue (READY_WAIT) by") and "looked fine" in a for a in actions), actions
    assert any(a.startswith("rollback by") and "customer reports" in a for a in actions), actions


def test_stop_without_rollback_then_rollback_after_blue_is_gone_redeploys(tmp_path, daemon, images):
    rel = Release(daemon, tmp_path, "terminationWaitMinutes: 0\n")
    rel.first(images["v1"])
    rel.write("deploymentReadyOption: STOP_DEPLOYMENT\nwaitTimeMinutes: 2\n")
    rel.deploy(images["v2"], "--no-wait")
    rel.wait_phase("ReadyWait")
    daemon("deploy", "stop", "production", "orders", "--no-rollback", "--reason", "not today")
    d = rel.status()["deployment"]
    assert d["status"] == "Stopped" and d["error_code"] == "MANUAL_STOP" and not d["rollbackInfo"]
    assert rel.version() == "v1" and rel.version(rel.test_url) == "v2"  # left as it was (CodeDeploy)
    rel.write("terminationWaitMinutes: 0\n")
    out = rel.deploy(images["v2"])
    assert "succeeded" in out.stdout and rel.version() == "v2"
    load = rel.load()
    daemon("rollback", "production", "orders")
    s = rel.status()
    assert s["deployment"]["creator"] == "codeDeployRollback"
    wait_until(lambda: rel.status()["deployment"]["status"] == "Succeeded", 60, what="redeploy of v1")
    time.sleep(0.3)
    result = load.stop()
    _clean(result)
    assert rel.version() == "v1"


def test_the_daemon_killed_mid_canary_resumes_it_and_traffic_never_notices(tmp_path, daemon, images):
    rel = Release(daemon, tmp_path, "terminationWaitMinutes: 0\n")
    rel.first(images["v1"])
    rel.write("config: {type: TimeBasedCanary, canaryPercentage: 25, canaryInterval: 6s}\nterminationWaitMinutes: 1s\n")
    load = rel.load()
    rel.deploy(images["v2"], "--no-wait")
    s = wait_until(lambda: (lambda s: s if s["deployment"]["traffic"] == 25 else None)(rel.status()), 60, 0.2,
                   what="the canary step")
    dep_id = s["deployment"]["id"]
    daemon.kill9()
    time.sleep(2)  # the data plane serves alone: HAProxy keeps the 75/25 split
    daemon("up")
    done = wait_until(lambda: (lambda d: d if d["status"] in ("Succeeded", "Failed", "Stopped") else None)(
        rel.status()["deployment"]), 90, 0.3, what="the deployment to finish")
    time.sleep(0.3)
    result = load.stop()
    assert (done["id"], done["status"]) == (dep_id, "Succeeded"), done
    _clean(result)
    assert result.versions.get("v1") and result.versions.get("v2")
    assert rel.version() == "v2"


def test_keep_alive_leaves_blue_running_so_a_later_rollback_is_still_instant(tmp_path, daemon, images):
    rel = Release(daemon, tmp_path, "terminationWaitMinutes: 0\n")
    rel.first(images["v1"])
    rel.write("terminateBlue: KEEP_ALIVE\n")
    out = rel.deploy(images["v2"])
    assert "succeeded" in out.stdout and rel.version() == "v2"
    load = rel.load()
    time.sleep(0.5)
    out = daemon("rollback", "production", "orders", "--reason", "kept for this")
    assert "traffic back on the kept task set" in out.stdout, out.stdout
    assert rel.version() == "v1"
    wait_until(lambda: rel.status()["rollbacks"][0]["status"] == "Succeeded", 30, what="the drain of v2")
    time.sleep(0.5)
    _clean(load.stop())
    svc = daemon.json("service", "describe", "production", "orders")
    assert svc["taskDefinition"] == "orders:1"


def test_an_http_hook_that_answers_202_is_resolved_by_its_callback(tmp_path, daemon, images):
    import http.server
    import threading

    calls: list[dict] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            calls.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        rel = Release(daemon, tmp_path, f"terminationWaitMinutes: 0\nhooks:\n  Gate: {{url: '{hook_url}'}}\n",
                      hooks="Hooks:\n  - BeforeAllowTraffic: Gate\n")
        rel.deploy(images["v1"], "--no-wait")
        wait_until(lambda: calls, 60, what="the hook's POST")
        s = rel.wait_phase("BeforeAllowTraffic")
        assert "waiting for it to report its status" in s["waitingFor"]
        call = calls[0]
        assert call["LifecycleEvent"] == "BeforeAllowTraffic" and call["TestUrl"].endswith(f":{rel.test_port}/")
        token = (daemon.home / "token").read_text().strip()
        port = daemon.env["CONVEYOR_PORT"]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/deployments/{call['DeploymentId']}/hooks/"
            f"{call['LifecycleEventHookExecutionId']}", data=json.dumps({"status": "Succeeded"}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert json.loads(resp.read())["lifecycleEventHookExecutionId"] == call["LifecycleEventHookExecutionId"]
        wait_until(lambda: rel.status()["deployment"]["status"] == "Succeeded", 60, what="the deployment")
        assert rel.version() == "v1" and len(calls) == 1
    finally:
        server.shutdown()


def test_the_codedeploy_to_ecs_action_runs_in_a_pipeline_and_logs_who_continued_it(tmp_path, daemon, images):
    rel = Release(daemon, tmp_path, "deploymentReadyOption: STOP_DEPLOYMENT\nwaitTimeMinutes: 2\n"
                                    "terminationWaitMinutes: 0\n")
    (rel.root / "imageDetail.json").write_text(json.dumps({"ImageURI": images["v1"]}))
    git("init", "--quiet", "-b", "main", cwd=rel.root)
    git("add", "-A", cwd=rel.root)
    git("commit", "--quiet", "-m", "release v1", cwd=rel.root)
    ex = daemon.json("run", "--repo", str(rel.root))
    rel.wait_phase("ReadyWait")
    daemon("deploy", "continue", "production", "orders", "--reason", "checked the test port")
    done = wait_until(lambda: (lambda e: e if e["status"] in ("Succeeded", "Failed", "Stopped") else None)(
        daemon.execution(ex["id"])), 90, 0.3, what="the execution")
    assert done["status"] == "Succeeded", done
    assert "blue/green" in action(done, "Deploy", "Deploy")["summary"]
    assert rel.version() == "v1"
    logs = daemon("logs", ex["id"], "--stage", "Deploy").stdout
    assert re.search(r"continue \(READY_WAIT\) by \S+: checked the test port", logs), logs
    db = sqlite3.connect(daemon.home / "codedeploy.db")
    try:
        events = [e for _, e in read_outbox(db, 0)]
    finally:
        db.close()
    assert [e.type for e in events] == ["deployment-started", "deployment-waiting", "deployment-traffic-shifted",
                                        "deployment-succeeded"]
    assert {(e.subject.execution_id, e.subject.stage, e.subject.action) for e in events} == {
        (ex["id"], "Deploy", "Deploy")}
    assert events[1].detail["command"] == ["conveyor", "deploy", "continue", "production", "orders"]


def test_a_hook_cut_off_by_a_daemon_crash_is_invoked_again_by_the_next_daemon(tmp_path, daemon, images):
    marks = tmp_path / "attempts"
    script = ("import os, pathlib, time; p = pathlib.Path(os.environ['MARKS']); "
              "p.write_text(p.read_text() + os.environ['CONVEYOR_HOOK_ATTEMPT'] + ' ' if p.exists() else "
              "os.environ['CONVEYOR_HOOK_ATTEMPT'] + ' '); time.sleep(4)")
    rel = Release(daemon, tmp_path, f"""\
        terminationWaitMinutes: 0
        hooks:
          Slow: {{command: [python3, -c, "{script}"], env: {{MARKS: {marks}}}}}
        """, hooks="Hooks:\n  - AfterInstall: Slow\n")
    rel.deploy(images["v1"], "--no-wait")
    wait_until(marks.exists, 60, what="the hook's first attempt")
    daemon.kill9()
    daemon("up")
    done = wait_until(lambda: (lambda d: d if d["status"] in ("Succeeded", "Failed", "Stopped") else None)(
        rel.status()["deployment"]), 90, 0.3, what="the deployment to finish")
    assert done["status"] == "Succeeded", done
    hook = next(e for e in done["lifecycleEvents"] if e["lifecycleEventName"] == "AfterInstall")
    assert hook["status"] == "Succeeded" and hook["attempts"] == 2, hook
    assert marks.read_text().split()[:2] == ["1", "2"]


def test_a_daemon_killed_between_creating_the_deployment_and_recording_it_adopts_it(tmp_path, conveyor, images):
    """given the daemon dies right after CodeDeploy created the deployment, before the action's
    record says so (the crash point release.created) → `conveyor up` → the re-run action adopts
    that deployment: the execution Succeeds and the service has exactly one deployment."""
    conveyor.env["CONVEYOR_CRASH_AT"] = "release.created"
    conveyor("up")
    rel = Release(conveyor, tmp_path, "terminationWaitMinutes: 0\n")
    (rel.root / "imageDetail.json").write_text(json.dumps({"ImageURI": images["v1"]}))
    git("init", "--quiet", "-b", "main", cwd=rel.root)
    git("add", "-A", cwd=rel.root)
    git("commit", "--quiet", "-m", "release v1", cwd=rel.root)
    first = conveyor.pid()
    ex = conveyor.json("run", "--repo", str(rel.root))
    wait_until(lambda: not Path(f"/proc/{first}").exists() or _zombie(first), 60, 0.2,
               what="the daemon to die at the crash point")
    assert "crash point release.created" in (conveyor.home / "daemon.log").read_text()
    del conveyor.env["CONVEYOR_CRASH_AT"]
    conveyor("up")
    done = wait_until(lambda: (lambda e: e if e["status"] in ("Succeeded", "Failed", "Stopped") else None)(
        conveyor.execution(ex["id"])), 120, 0.3, what="the execution")
    assert done["status"] == "Succeeded", done
    deploy = action(done, "Deploy", "Deploy")
    assert deploy["attempt"] == 2, deploy  # the interrupted attempt ran again…
    recent = rel.status()["recent"]
    assert [d["status"] for d in recent] == ["Succeeded"], recent  # …and made no second deployment
    assert rel.version() == "v1"
