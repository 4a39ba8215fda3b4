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
    conveyor("up", "--no-poll")   # each release is started by `conveyor run`, not by the poller too
    try:
        first = release(conveyor, repo, staging)
        assert first["commit"] == sha
        status, body = get(f"http://127.0.0.1:{production}/version")
        assert status == 200 and json.loads(body)["version"]
        assert serving(conveyor, engine) == {first["image"]}
        [listing] = conveyor.json("image", "ls", "shop-front")["repositories"]
        assert [sha[:7]] in [i["imageTags"] for i in listing["images"]]

        # the next commit goes out blue/green: the scaffold's canary, probe and alarms at work
        (repo / "app" / "RELEASE").write_text("2\n")
        git("add", "-A", cwd=repo)
        git("commit", "--quiet", "-m", "release 2", cwd=repo)
        second = release(conveyor, repo, staging)
        deployment = conveyor.json("deploy", "status", "production", "shop-front")["deployment"]
        assert deployment["status"] == "Succeeded" and deployment["traffic"] == 100
        messages = " ".join(h["message"] for h in deployment["history"])
        assert "10% of production traffic" in messages and "100% of production traffic" in messages, messages
        watched = {a["name"]: a for a in conveyor.json("alarms", "production", "shop-front")}
        assert sorted(watched) == ["shop-front-5xx", "shop-front-latency"]
        assert all(a["state"] != "ALARM" for a in watched.values()), watched
        assert get(f"http://127.0.0.1:{production}/health")[0] == 200
        assert serving(conveyor, engine) == {second["image"]}
    finally:
        conveyor("down", "--all", check=False)
        listed = subprocess.run([engine.binary, "images", "--format", "{{.Repository}}:{{.Tag}}"],
                                capture_output=True, text=True).stdout.split()
        for name in (n for n in listed if n.rsplit("/", 1)[-1].startswith("shop-front:")):
            subprocess.run([engine.binary, "rmi", "-f", name], capture_output=True)


def release(conveyor, repo: Path, staging: int) -> dict:
    """Run the pipeline on the repository's head, check staging, approve: the commit and the image
    its build pushed, once the execution Succeeded."""
    sha = git("rev-parse", "HEAD", cwd=repo)
    # the Containerfile's `ARG BASE_IMAGE=python:3.12-slim` is a pipeline variable: this machine
    # builds FROM the local base image instead of pulling
    ex = conveyor.json("run", "--repo", str(repo), "--variable", f"BASE_IMAGE={BASE_IMAGE}")

    def at_approval():
        e = conveyor.execution(ex["id"])
        assert e["status"] not in FINISHED, json.dumps(e, indent=1)[-3000:]
        return e if e["awaitingApproval"] else None

    waiting = wait_until(at_approval, 600, 1, what="the approval")
    assert waiting["awaitingApproval"] == ["Approval.Approve"]
    built = action(waiting, "Build", "Build")["variables"]
    assert built["IMAGE_TAG"] == sha[:7] and built["IMAGE_URI"].endswith(f"/shop-front:{sha[:7]}")
    assert wait_until(lambda: answers(f"http://127.0.0.1:{staging}/health"), 30, what="staging")
    conveyor("approve", ex["id"], "--comment", "staging looks right")
    done = wait_until(lambda: (e := conveyor.execution(ex["id"]))["status"] in FINISHED and e, 600, 1,
                      what="the execution")
    assert done["status"] == "Succeeded", json.dumps(done, indent=1)[-3000:]
    assert "blue/green" in action(done, "DeployProduction", "Deploy")["summary"]
    return {"commit": sha, "image": built["IMAGE_URI"]}


def serving(conveyor, engine) -> set[str]:
    """The images production's running tasks were started from (two tasks, both healthy)."""
    svc = conveyor.json("service", "describe", "production", "shop-front")
    running = [t for t in svc["tasks"] if t["last_status"] == "RUNNING"]
    assert len(running) == 2 and svc["healthyCount"] == 2, svc
    images = set()
    for task in running:
        used = subprocess.run([engine.binary, "inspect", "--format", "{{.ImageName}}", f"cv-{task['id']}-shop-front"],
                              capture_output=True, text=True, check=True)
        images.add(used.stdout.strip())
    return images
