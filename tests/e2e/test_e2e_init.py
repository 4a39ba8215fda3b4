"""`conveyor init` on a repository that holds only a service and its Containerfile: the files it
writes, committed unchanged, take a commit to production on the real stack — the CodeBuild
action builds the image and pushes it to the local registry, the ECS action rolls it out to
staging behind HAProxy, the approval is given, and CodeDeployToECS releases it to production as a
blue/green canary; production's listener then answers with the image built from that commit."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
from e2e_support import action, free_port, git, wait_until
from stack_support import stack_missing

from conveyor.images import BASE_IMAGE, BUILD_IMAGE
from conveyor.providers.local.containers import detect_engine, image_exists
from conveyor.registry.uris import DEFAULT_PORT

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "orders-service"
FINISHED = ("Succeeded", "Failed", "Stopped", "Cancelled")


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.status, resp.read()


def answers(url: str):
    try:
        return get(url)[0] == 200
    except OSError:
        return False


@pytest.mark.podman
def test_init_then_commit_ships_the_built_image_to_production(tmp_path, conveyor):
    engine = detect_engine()
    for image in (BASE_IMAGE, BUILD_IMAGE):
        if not image_exists(engine, image):
            stack_missing(f"{image} is missing")
    # the registry port the insecure-registry drop-in of `conveyor setup` names: builds push there
    conveyor.env["CONVEYOR_REGISTRY_PORT"] = str(DEFAULT_PORT)
    repo = tmp_path / "Shop_Front"
    repo.mkdir()
    git("init", "--quiet", "-b", "main", cwd=repo)
    shutil.copytree(EXAMPLE / "app", repo / "app")
    shutil.copy(EXAMPLE / "Containerfile", repo / "Containerfile")
    staging, production, test = free_port(), free_port(), free_port()
    done = conveyor("init", "--staging-port", str(staging), "--production-port", str(production),
                    "--test-port", str(test), cwd=repo)
    assert "container port: 8080 (EXPOSE at Containerfile:" in done.stdout
    assert "health check path: /health (the default, not asked: no terminal" in done.stdout
    checked = conveyor("validate", "conveyor.yml", "buildspec.yml", "taskdef.json", "appspec.yaml", cwd=repo)
    assert checked.stdout.count(" is valid") == 4
    git("add", "-A", cwd=repo)
    git("commit", "--quiet", "-m", "the service and its pipeline", cwd=repo)
    sha = git("rev-parse", "HEAD", cwd=repo)
    image = f"shop-front:{sha[:7]}"
    conveyor("up")
    try:
        # the Containerfile's `ARG BASE_IMAGE=python:3.12-slim` is a pipeline variable: this machine
        # builds FROM the local base image instead of pulling
        ex = conveyor.json("run", "--repo", str(repo), "--variable", f"BASE_IMAGE={BASE_IMAGE}")

        def at_approval():
            e = conveyor.execution(ex["id"])
            assert e["status"] not in FINISHED, json.dumps(e, indent=1)[-3000:]
            return e if e["awaitingApproval"] else None

        waiting = wait_until(at_approval, 600, 1, what="the approval")
        assert waiting["awaitingApproval"] == ["Approval.Approve"]
        built = action(waiting, "Build", "Build")
        assert built["variables"]["IMAGE_TAG"] == sha[:7] and built["variables"]["IMAGE_URI"].endswith("/" + image)
        assert wait_until(lambda: answers(f"http://127.0.0.1:{staging}/health"), 30, what="staging")
        conveyor("approve", ex["id"], "--comment", "staging looks right")
        done = wait_until(lambda: (e := conveyor.execution(ex["id"]))["status"] in FINISHED and e, 600, 1,
                          what="the execution")
        assert done["status"] == "Succeeded", json.dumps(done, indent=1)[-3000:]
        assert "blue/green" in action(done, "DeployProduction", "Deploy")["summary"]

        status, body = get(f"http://127.0.0.1:{production}/version")
        assert status == 200 and json.loads(body)["version"]
        svc = conveyor.json("service", "describe", "production", "shop-front")
        running = [t for t in svc["tasks"] if t["last_status"] == "RUNNING"]
        assert len(running) == 2 and svc["healthyCount"] == 2
        for task in running:
            used = subprocess.run([engine.binary, "inspect", "--format", "{{.ImageName}}",
                                   f"cv-{task['id']}-shop-front"], capture_output=True, text=True, check=True)
            assert used.stdout.strip() == built["variables"]["IMAGE_URI"]
        [listing] = conveyor.json("image", "ls", "shop-front")["repositories"]
        assert [sha[:7]] in [i["imageTags"] for i in listing["images"]]
    finally:
        conveyor("down", "--all", check=False)
        listed = subprocess.run([engine.binary, "images", "--format", "{{.Repository}}:{{.Tag}}"],
                                capture_output=True, text=True).stdout.split()
        for name in (n for n in listed if n.endswith("/" + image)):
            subprocess.run([engine.binary, "rmi", "-f", name], capture_output=True)
