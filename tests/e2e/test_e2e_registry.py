"""The local registry the daemon runs: repositories declared in conveyor.yml, IMMUTABLE tags
holding against a user's own `podman push`, and `conveyor image ls`; each push and refusal is an
event in the stream (`conveyor events`), and a rule of the pipeline that declares the
repository delivers it to a webhook (an undeclared repository's push is in the stream only)."""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest
from e2e_support import pipeline_repo, wait_until
from stack_support import stack_missing

from conveyor.images import BUSYBOX_IMAGE
from conveyor.notify.receiver import Receiver
from conveyor.providers.local.containers import detect_engine, image_exists

SECRET = "whsec-e2e-registry-0123456789"


@pytest.mark.podman
def test_immutable_repository_from_conveyor_yml_holds_against_podman_push(tmp_path, daemon):
    engine = detect_engine()
    if engine.binary != "podman" or not image_exists(engine, BUSYBOX_IMAGE):
        stack_missing(f"needs podman and {BUSYBOX_IMAGE}: run `conveyor setup`")
    daemon("secret", "set", "e2e-images-hook", input=SECRET)
    receiver = Receiver(SECRET).start()
    repo = pipeline_repo(tmp_path / "repo", textwrap.dedent(f"""\
        name: images
        pipeline:
          pollIntervalSeconds: 0
          stages:
            - name: Source
              actions:
                - {{name: Source, provider: Git, outputArtifacts: [src]}}
            - name: Noop
              actions:
                - {{name: Noop, provider: Wait}}
        repositories:                   # the list form (the demo's conveyor.yml has the mapping form)
          - {{name: orders, imageTagMutability: IMMUTABLE}}
        notifications:
          - name: images
            events: [image-*]
            targets:
              - webhook: {{url: "{receiver.url}", secret: e2e-images-hook}}
        """))
    ex = daemon.json("run", "--repo", str(repo))
    wait_until(lambda: daemon.execution(ex["id"])["status"] == "Succeeded", 30)
    endpoint = json.loads((daemon.home / "registry.json").read_text())
    token = (daemon.home / "registry" / "token").read_text().strip()
    address = endpoint["address"]
    ref = f"{address}/orders:v1"
    other = f"{address}/orders:other"
    scratch = f"{address}/scratch:x"

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
        assert podman("tag", BUSYBOX_IMAGE, scratch).returncode == 0
        assert podman("push", "--tls-verify=false", scratch).returncode == 0

        def stream() -> list[dict]:
            lines = daemon("events", "--json", "--type", "image-pushed", "--type", "image-push-failed").stdout
            return [json.loads(line) for line in lines.splitlines() if line.strip()]

        # podman retries the refused push in other manifest formats: one refusal, one event
        events = wait_until(lambda: len(e := stream()) == 3 and e, 30, what="three image events")
        assert [(e["type"], e["subject"], e["detail"].get("image-tag")) for e in events] == [
            ("image-pushed", {"repository": "orders"}, "v1"), ("image-push-failed", {"repository": "orders"}, "v1"),
            ("image-pushed", {"repository": "scratch"}, "x")]
        pushed, refused = events[0], events[1]
        assert pushed["detail"]["action-type"] == "PUSH" and pushed["detail"]["result"] == "SUCCESS"
        assert pushed["detail"]["image-digest"].startswith("sha256:")
        assert pushed["summary"].startswith("orders:v1 pushed (sha256:")
        assert refused["severity"] == "warning" and "immutable" in refused["detail"]["message"]

        # The rule's pipeline declares orders, not scratch. Events are dispatched in stream order, so
        # once the push of orders:v2 (after scratch's) is delivered, scratch's was passed over.
        v2 = f"{address}/orders:v2"
        assert podman("tag", BUSYBOX_IMAGE, v2).returncode == 0
        assert podman("push", "--tls-verify=false", v2).returncode == 0
        podman("rmi", "-f", v2)
        got = receiver.wait_for(3, timeout=30)
        assert sorted((r.json()["type"], r.json()["subject"]["repository"], r.json()["detail"]["image-tag"])
                      for r in got) == [("image-push-failed", "orders", "v1"), ("image-pushed", "orders", "v1"),
                                        ("image-pushed", "orders", "v2")]
        assert all(r.verified for r in got)
        delivered = json.loads(daemon("notify", "deliveries", "--json", "--limit", "100").stdout)
        assert sorted(d["eventType"] for d in delivered) == ["image-push-failed", "image-pushed", "image-pushed"]

        listed = daemon.json("image", "ls", "orders")
        [orders] = listed["repositories"]
        assert orders["imageTagMutability"] == "IMMUTABLE"
        assert [i["imageTags"] for i in orders["images"]] == [["v1", "v2"]]   # the same image, two tags
        table = daemon("image", "ls").stdout
        assert "orders" in table and "v1" in table and "IMMUTABLE" in table
        assert token not in table and token not in (daemon.home / "daemon.log").read_text()
    finally:
        receiver.stop()
        podman("rmi", "-f", ref, other, scratch)
        podman("logout", address)
