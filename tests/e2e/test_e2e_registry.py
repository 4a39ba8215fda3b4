"""The local registry the daemon runs: repositories declared in conveyor.yml, IMMUTABLE tags
holding against a user's own `podman push`, and `conveyor image ls`."""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest
from e2e_support import pipeline_repo, wait_until
from stack_support import stack_missing

from conveyor.images import BUSYBOX_IMAGE
from conveyor.providers.local.containers import detect_engine, image_exists


@pytest.mark.podman
def test_immutable_repository_from_conveyor_yml_holds_against_podman_push(tmp_path, daemon):
    engine = detect_engine()
    if engine.binary != "podman" or not image_exists(engine, BUSYBOX_IMAGE):
        stack_missing(f"needs podman and {BUSYBOX_IMAGE}: run `conveyor setup`")
    repo = pipeline_repo(tmp_path / "repo", textwrap.dedent("""\
        name: images
        pipeline:
          pollIntervalSeconds: 0
          stages:
            - name: Source
              actions:
                - {name: Source, provider: Git, outputArtifacts: [src]}
            - name: Noop
              actions:
                - {name: Noop, provider: Wait}
        repositories:
          orders: {imageTagMutability: IMMUTABLE}
        """))
    ex = daemon.json("run", "--repo", str(repo))
    wait_until(lambda: daemon.execution(ex["id"])["status"] == "Succeeded", 30)
    endpoint = json.loads((daemon.home / "registry.json").read_text())
    token = (daemon.home / "registry" / "token").read_text().strip()
    address = endpoint["address"]
    ref = f"{address}/orders:v1"
    other = f"{address}/orders:other"

    def podman(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(["podman", *args], capture_output=True, text=True, input=input, timeout=120)

    try:
        assert podman("login", "--tls-verify=false", "-u", "AWS", "--password-stdin", address,
                      input=token).returncode == 0
        assert podman("tag", BUSYBOX_IMAGE, ref).returncode == 0
        assert podman("push", "--tls-verify=false", ref).returncode == 0
        (tmp_path / "Containerfile").write_text(f"FROM {BUSYBOX_IMAGE}\nRUN echo changed > /changed\n")
        assert podman("build", "-t", other, str(tmp_path)).returncode == 0
        assert podman("tag", other, ref).returncode == 0
        moved = podman("push", "--tls-verify=false", ref)
        assert moved.returncode != 0
        assert ("The image tag 'v1' already exists in the 'orders' repository and cannot be overwritten "
                "because the repository is immutable.") in moved.stderr

        listed = daemon.json("image", "ls", "orders")
        [orders] = listed["repositories"]
        assert orders["imageTagMutability"] == "IMMUTABLE"
        assert [i["imageTags"] for i in orders["images"]] == [["v1"]]
        table = daemon("image", "ls").stdout
        assert "orders" in table and "v1" in table and "IMMUTABLE" in table
        assert token not in table and token not in (daemon.home / "daemon.log").read_text()
    finally:
        podman("rmi", "-f", ref, other)
        podman("logout", address)
