"""The Image action through the real daemon: build from the source artifact, push to the local
registry, hand the digest on (variables, imagedefinitions.json, imageDetail.json), and fail with
the registry's message when an IMMUTABLE tag would move."""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest
from e2e_support import action, git, pipeline_repo, wait_until
from stack_support import stack_missing

from conveyor.images import BUSYBOX_IMAGE
from conveyor.providers.local.containers import detect_engine, image_exists

PIPELINE = textwrap.dedent("""\
    name: imaged
    allowHostCommands: true
    pipeline:
      pollIntervalSeconds: 0
      stages:
        - name: Source
          actions:
            - {name: Source, provider: Git, outputArtifacts: [src], namespace: SourceVariables}
        - name: Build
          actions:
            - name: Image
              provider: Image
              inputArtifacts: [src]
              outputArtifacts: [img]
              namespace: Img
              repository: orders
              containerName: api
              tags: [stable]
              buildArgs: {GREETING: "hello #{SourceVariables.CommitId}"}
        - name: Use
          actions:
            - name: Show
              provider: Command
              inputArtifacts: [img]
              command: [sh, -c, "cat imagedefinitions.json; echo; cat imageDetail.json; echo;
                                 echo digest=#{Img.ImageDigest} tag=#{Img.ImageTag} uri=#{Img.ImageURI}"]
    repositories:
      orders: {imageTagMutability: IMMUTABLE}
    """)

CONTAINERFILE = f"FROM {BUSYBOX_IMAGE}\nARG GREETING\nRUN echo \"$GREETING\" > /greeting\n"


@pytest.fixture
def podman_busybox():
    engine = detect_engine()
    if engine.binary != "podman" or not image_exists(engine, BUSYBOX_IMAGE):
        stack_missing(f"needs podman and {BUSYBOX_IMAGE}: run `conveyor setup`")


def _finish(daemon, execution_id: str) -> dict:
    return wait_until(lambda: (e := daemon.execution(execution_id))["status"] != "InProgress" and e, 180,
                      what=f"execution {execution_id}")


def _orders(daemon) -> dict:
    [orders] = daemon.json("image", "ls", "orders")["repositories"]
    return orders


@pytest.mark.podman
def test_image_action_builds_pushes_and_hands_on_the_digest(tmp_path, daemon, podman_busybox):
    repo = pipeline_repo(tmp_path / "repo", PIPELINE)
    (repo / "Containerfile").write_text(CONTAINERFILE)
    git("add", "-A", cwd=repo)
    git("commit", "--quiet", "-m", "containerfile", cwd=repo)
    sha = git("rev-parse", "HEAD", cwd=repo)
    made: list[str] = []
    try:
        ex = daemon.json("run", "--repo", str(repo))
        done = _finish(daemon, ex["id"])
        endpoint = json.loads((daemon.home / "registry.json").read_text())
        host = endpoint["host"]
        made += [f"{host}/orders:{sha[:7]}", f"{host}/orders:stable"]
        assert done["status"] == "Succeeded", done.get("reason")
        variables = action(done, "Build", "Image")["variables"]
        digest = variables["ImageDigest"]
        assert digest.startswith("sha256:") and len(digest) == 71
        assert variables == {"ImageDigest": digest, "ImageTag": sha[:7], "ImageURI": f"{host}/orders:{sha[:7]}",
                             "RepositoryName": "orders", "RegistryId": endpoint["account"]}

        logs = daemon("logs", ex["id"]).stdout
        by_digest = f"{host}/orders@{digest}"
        assert json.dumps([{"name": "api", "imageUri": by_digest}]) in logs
        assert f'"ImageURI": "{by_digest}"' in logs
        assert f"digest={digest} tag={sha[:7]} uri={host}/orders:{sha[:7]}" in logs
        token = (daemon.home / "registry" / "token").read_text().strip()
        assert token not in logs and token not in (daemon.home / "daemon.log").read_text()

        orders = _orders(daemon)
        assert orders["imageTagMutability"] == "IMMUTABLE"
        [image] = orders["images"]
        assert image["imageDigest"] == digest
        assert sorted(image["imageTags"]) == sorted([sha[:7], "stable"])

        # The same commit again: the layer cache rebuilds the same image, so the same digest
        # goes under the same (immutable) tags, which the registry allows.
        again = _finish(daemon, daemon.json("run", "--repo", str(repo))["id"])
        assert again["status"] == "Succeeded", again.get("reason")
        assert action(again, "Build", "Image")["variables"]["ImageDigest"] == digest

        # A new commit builds a different image: its own tag is new, but `stable` would move.
        (repo / "Containerfile").write_text(CONTAINERFILE + "RUN echo changed > /changed\n")
        git("commit", "--quiet", "-am", "change the image", cwd=repo)
        sha2 = git("rev-parse", "HEAD", cwd=repo)
        made.append(f"{host}/orders:{sha2[:7]}")
        moved = _finish(daemon, daemon.json("run", "--repo", str(repo))["id"])
        assert moved["status"] == "Failed"
        assert action(moved, "Build", "Image")["error"] == (
            "The image tag 'stable' already exists in the 'orders' repository and cannot be overwritten "
            "because the repository is immutable.")
        images = {tuple(sorted(i["imageTags"])): i["imageDigest"] for i in _orders(daemon)["images"]}
        assert images[tuple(sorted([sha[:7], "stable"]))] == digest
        assert (sha2[:7],) in images and images[(sha2[:7],)] != digest
    finally:
        if made:
            subprocess.run(["podman", "rmi", "-f", *made], capture_output=True, timeout=120)


@pytest.mark.podman
def test_a_missing_containerfile_fails_clearly(tmp_path, daemon, podman_busybox):
    repo = pipeline_repo(tmp_path / "repo", PIPELINE)
    ex = daemon.json("run", "--repo", str(repo))
    done = _finish(daemon, ex["id"])
    assert done["status"] == "Failed"
    assert action(done, "Build", "Image")["error"] == (
        "dockerfile 'Containerfile' not found in the input artifact (nor a Dockerfile)")
