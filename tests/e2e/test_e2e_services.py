"""Services for real: pods on podman behind HAProxy, driven by the daemon's reconciler, with real
HTTP traffic. Rolling deploys under load must not fail a single request."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest
from e2e_support import free_port, wait_until
from stack_support import stack_missing

from conveyor.events.outbox import read_outbox
from conveyor.images import BASE_IMAGE, BUSYBOX_IMAGE
from conveyor.loadgen import LoadGenerator
from conveyor.providers.local.containers import detect_engine, image_exists

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "orders-service"
IMAGE = "localhost/conveyor-test/orders"


def _build(version: str) -> str:
    ref = f"{IMAGE}:{version}"
    subprocess.run(["podman", "build", "--quiet", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}",
                    "-t", f"{ref}-base", "-f", str(EXAMPLE / "Containerfile"), str(EXAMPLE)],
                   check=True, capture_output=True, timeout=300)
    subprocess.run(["podman", "build", "--quiet", "-t", ref, "-f", "-", str(EXAMPLE)],
                   input=f"FROM {ref}-base\nENV APP_VERSION={version}\n".encode(),
                   check=True, capture_output=True, timeout=300)
    return ref


@pytest.fixture(scope="module")
def images():
    engine = detect_engine()
    if engine.binary != "podman" or not image_exists(engine, BASE_IMAGE):
        stack_missing(f"needs podman and {BASE_IMAGE}: run `conveyor setup`")
    return {"v1": _build("v1"), "v2": _build("v2")}


def project(tmp_path: Path, port: int, *, desired: int = 2, circuit_breaker: bool = True,
            health_cmd: str | None = None) -> Path:
    """A conveyor.yml with a staging service, and its taskdef.json."""
    root = tmp_path / "project"
    root.mkdir(exist_ok=True)
    health = {"healthCheck": {"command": ["CMD-SHELL", health_cmd], "interval": 5, "timeout": 2,
                              "retries": 1}} if health_cmd else {}
    taskdef = {"family": "orders", "networkMode": "awsvpc", "containerDefinitions": [{
        "name": "api", "image": "<IMAGE1_NAME>", "essential": True, "stopTimeout": 5,
        "portMappings": [{"containerPort": 8080}], "environment": [{"name": "PORT", "value": "8080"}], **health}]}
    (root / "taskdef.json").write_text(json.dumps(taskdef, indent=2))
    (root / "conveyor.yml").write_text(textwrap.dedent(f"""\
        name: svc-test
        pipeline:
          stages:
            - name: Source
              actions: [{{name: Source, provider: Git, outputArtifacts: [src]}}]
            - name: Deploy
              actions: [{{name: Deploy, provider: ECS, environment: staging, service: orders, inputArtifacts: [src]}}]
        environments:
          staging:
            services:
              orders:
                taskDefinition: taskdef.json
                desiredCount: {desired}
                loadBalancer:
                  port: {port}
                  container: api
                  containerPort: 8080
                  deregistrationDelaySeconds: 2
                  healthCheck: {{path: /health, intervalSeconds: 1, healthyThresholdCount: 2}}
                deployment:
                  controller: ECS
                  circuitBreaker: {{enable: {str(circuit_breaker).lower()}, rollback: true}}
        """))
    return root


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.status, resp.headers.get("X-App-Version")


def deploy(daemon, root: Path, image: str, check: bool = True):
    return daemon("deploy", "staging", "orders", "--image", image, "--file", str(root / "conveyor.yml"),
                  "--timeout", "1.5", check=check)


@pytest.fixture
def service_daemon(daemon):
    return daemon  # the conveyor fixture's `down --all` takes the tasks and HAProxy down


def outbox(daemon) -> list[tuple[str, object]]:
    """The stream events services.db holds, oldest first: (type, task definition)."""
    db = sqlite3.connect(daemon.home / "services.db")
    try:
        return [(e.type, e.detail.get("taskdef")) for _, e in read_outbox(db, 0, limit=10_000)]
    finally:
        db.close()


def describe(daemon) -> dict:
    return daemon.json("service", "describe", "staging", "orders")


def test_first_deploy_then_rolling_update_under_load_drops_nothing(tmp_path, service_daemon, images):
    port = free_port()
    root = project(tmp_path, port)
    out = deploy(service_daemon, root, images["v1"])
    assert "✓ staging/orders runs orders:1" in out.stdout, out.stdout
    url = f"http://127.0.0.1:{port}/health"
    assert get(url) == (200, "v1")
    d = describe(service_daemon)
    assert (d["desiredCount"], d["runningCount"], d["healthyCount"]) == (2, 2, 2)
    assert any("has reached a steady state" in e["message"] for e in d["events"])

    load = LoadGenerator(url, rate=150, duration=60, max_requests=20000, keepalive_fraction=0.5)
    load.start()
    time.sleep(1.0)
    out = deploy(service_daemon, root, images["v2"])
    assert "✓ staging/orders runs orders:2" in out.stdout, out.stdout
    time.sleep(1.0)
    result = load.stop()
    assert result.total > 300
    assert result.failed() == 0, result.to_json()
    assert result.versions.get("v1") and result.versions.get("v2")
    assert get(url) == (200, "v2")
    d = describe(service_daemon)
    assert [t["taskdef"] for t in d["tasks"]] == ["orders:2", "orders:2"]
    deployments = {dep["taskDefinition"]: dep for dep in d["deployments"]}
    assert deployments["orders:2"]["status"] == "PRIMARY" and deployments["orders:2"]["rolloutState"] == "COMPLETED"
    assert deployments["orders:1"]["status"] == "INACTIVE"
    status = service_daemon.json("deploy", "status", "staging", "orders")
    assert status["waitingFor"].startswith("nothing")
    assert {"firstTaskStarted", "firstTaskHealthy", "completed"} <= set(status["deployment"]["timings"])
    assert outbox(service_daemon) == [("deployment-started", "orders:1"), ("deployment-succeeded", "orders:1"),
                      ("service-steady-state", None), ("deployment-started", "orders:2"),
                      ("deployment-succeeded", "orders:2"), ("service-steady-state", None)]


def test_killed_task_is_replaced_and_the_event_says_why(tmp_path, service_daemon, images):
    port = free_port()
    root = project(tmp_path, port)
    deploy(service_daemon, root, images["v1"])
    before = {t["id"] for t in describe(service_daemon)["tasks"]}
    victim = sorted(before)[0]
    subprocess.run(["podman", "kill", f"cv-{victim}-api"], check=True, capture_output=True)

    def replaced():
        d = describe(service_daemon)
        ids = {t["id"] for t in d["tasks"] if t["last_status"] == "RUNNING" and t["health"] != "UNHEALTHY"}
        return d if victim not in ids and len(ids) == 2 and d["healthyCount"] == 2 else None

    d = wait_until(replaced, 30, interval=0.3, what="a replacement task")
    assert any(f"(task {victim})" in e["message"] and "container api exited with code" in e["message"]
               for e in d["events"]), d["events"]
    assert get(f"http://127.0.0.1:{port}/health")[0] == 200


def test_failing_container_health_check_replaces_the_task(tmp_path, service_daemon, images):
    port = free_port()
    root = project(tmp_path, port, desired=1, health_cmd="test ! -e /tmp/sick")
    deploy(service_daemon, root, images["v1"])
    [task] = describe(service_daemon)["tasks"]
    subprocess.run(["podman", "exec", f"cv-{task['id']}-api", "touch", "/tmp/sick"], check=True)

    def replaced():
        d = describe(service_daemon)
        running = [t for t in d["tasks"] if t["last_status"] == "RUNNING" and t["id"] != task["id"]]
        return d if running and d["healthyCount"] == 1 else None

    d = wait_until(replaced, 40, interval=0.5, what="the unhealthy task replaced")
    assert any("failed container health checks" in e["message"] for e in d["events"]), d["events"]


def test_daemon_restart_adopts_running_tasks_and_traffic_never_stops(tmp_path, service_daemon, images):
    port = free_port()
    root = project(tmp_path, port)
    deploy(service_daemon, root, images["v1"])
    before = {t["id"]: t["host_port"] for t in describe(service_daemon)["tasks"]}
    started = {tid: subprocess.run(["podman", "inspect", f"cv-{tid}-api", "--format", "{{.State.StartedAt}}"],
                                   capture_output=True, text=True).stdout for tid in before}
    url = f"http://127.0.0.1:{port}/health"
    load = LoadGenerator(url, rate=100, duration=30, max_requests=20000)
    load.start()
    service_daemon.kill9()
    time.sleep(1.5)  # the data plane serves alone
    service_daemon("up")
    wait_until(lambda: describe(service_daemon)["healthyCount"] == 2, 20, what="service healthy after restart")
    time.sleep(1.0)
    result = load.stop()
    assert result.failed() == 0, result.to_json()
    after = {t["id"]: t["host_port"] for t in describe(service_daemon)["tasks"]}
    assert after == before  # adopted, not restarted
    for tid in before:
        assert subprocess.run(["podman", "inspect", f"cv-{tid}-api", "--format", "{{.State.StartedAt}}"],
                              capture_output=True, text=True).stdout == started[tid]


def test_circuit_breaker_rolls_back_a_release_that_crashes_and_old_tasks_keep_serving(tmp_path, service_daemon,
                                                                                        images):
    port = free_port()
    root = project(tmp_path, port)
    deploy(service_daemon, root, images["v1"])
    url = f"http://127.0.0.1:{port}/health"
    load = LoadGenerator(url, rate=100, duration=90, max_requests=20000)
    load.start()
    out = deploy(service_daemon, root, BUSYBOX_IMAGE, check=False)  # no python3 in it: exits at once
    result = load.stop()
    assert out.returncode == 1, out.stdout + out.stderr
    assert "circuit breaker" in out.stderr
    assert result.failed() == 0, result.to_json()
    assert set(result.versions) == {"v1"}
    d = describe(service_daemon)
    states = [(dep["taskDefinition"], dep["rolloutState"]) for dep in d["deployments"][:3]]
    assert states[0][1] in ("IN_PROGRESS", "COMPLETED") and states[0][0] == "orders:1"  # the rollback
    assert states[1] == ("orders:2", "FAILED")
    assert any("rolling back to deploymentId" in e["message"] for e in d["events"])
    wait_until(lambda: describe(service_daemon)["rolloutState"] == "COMPLETED", 30, what="rollback complete")
    wait_until(lambda: outbox(service_daemon)[-1][0] == "service-steady-state", 30, what="steady again")
    assert outbox(service_daemon)[3:] == [
        ("deployment-started", "orders:2"), ("service-unhealthy", "orders:2"), ("service-circuit-breaker", "orders:2"),
        ("deployment-failed", "orders:2"), ("deployment-started", "orders:1"), ("deployment-rolled-back", "orders:1"),
        ("service-steady-state", None)]


def test_scale_logs_and_a_wrong_container_name(tmp_path, service_daemon, images):
    port = free_port()
    root = project(tmp_path, port, desired=1)
    deploy(service_daemon, root, images["v1"])
    d = service_daemon.json("service", "scale", "staging", "orders", "2")
    assert d["desiredCount"] == 2
    wait_until(lambda: describe(service_daemon)["healthyCount"] == 2, 30, what="scaled out to 2")
    service_daemon("service", "scale", "staging", "orders", "1")
    wait_until(lambda: len(describe(service_daemon)["tasks"]) == 1, 30, what="scaled in to 1")
    logs = service_daemon("service", "logs", "staging", "orders").stdout
    assert "orders-service v1 listening on" in logs
    [row] = service_daemon.json("service", "ls")
    assert (row["serviceName"], row["desiredCount"], row["runningCount"]) == ("orders", 1, 1)
    # imagedefinitions naming a container the task definition does not have: nothing changes
    bad = service_daemon("deploy", "staging", "orders", "--image", f"web={images['v2']}", check=False)
    assert bad.returncode == 2
    assert '"web"' in bad.stderr and "api" in bad.stderr, bad.stderr
    assert describe(service_daemon)["taskDefinition"] == "orders:1"
