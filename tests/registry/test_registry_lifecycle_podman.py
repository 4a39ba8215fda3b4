"""Lifecycle policies applied to a real distribution registry behind the proxy, with real podman
pushes: expired manifests are gone (404), their blobs are freed by garbage collection (the
storage root shrinks), an image a (fixture) service uses is kept, and writes racing a collection
are either held off (503 with Retry-After) or complete with their blobs intact. Images and tags
made here are removed afterwards."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import threading
import uuid

import pytest
from registry_podman import Podman, need_stack

from conveyor.images import BUSYBOX_IMAGE
from conveyor.registry.gc import GarbageCollector, disk_usage
from conveyor.registry.housekeeping import Housekeeping, Settings
from conveyor.registry.local import LocalRegistry
from conveyor.registry.protection import DeployState

pytestmark = pytest.mark.podman

KEEP_TWO = {"rules": [{"rulePriority": 1, "description": "keep two", "selection": {
    "tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 2}, "action": {"type": "expire"}}]}
LAYER = 256 * 1024


class LayerPodman(Podman):
    """Podman that builds images with a layer of their own and pushes reporting the digest."""

    def __init__(self, tmp_path):
        super().__init__(tmp_path)
        self.tmp = tmp_path

    def build(self, n: int) -> str:
        """A small image with one layer of its own (LAYER random bytes) on busybox."""
        ctx = self.tmp / f"ctx{n}"
        ctx.mkdir()
        (ctx / "data.bin").write_bytes(os.urandom(LAYER))
        (ctx / "Containerfile").write_text(f"FROM {BUSYBOX_IMAGE}\nCOPY data.bin /data.bin\n")
        ref = f"localhost/conveyor-test/lifecycle-{os.getpid()}-{n}:latest"
        done = self("build", "--quiet", "--tag", ref, str(ctx))
        assert done.ok, done.stderr
        self.built.append(ref)
        return ref

    def push_digest(self, source, target):
        """(the push's result, the digest pushed or None)."""
        digestfile = self.tmp / f"digest-{uuid.uuid4().hex}"  # pushes race in threads
        done = self.push(source, target, digestfile=digestfile)
        return done, (digestfile.read_text().strip() if done.ok else None)


@pytest.fixture
def registry(tmp_path):
    need_stack()
    r = LocalRegistry(tmp_path / "home", port=0)
    r.start()
    yield r
    r.stop()


@pytest.fixture
def podman(tmp_path, registry):
    p = LayerPodman(tmp_path)
    assert p.login(registry.address, registry.token).ok
    yield p
    p.cleanup()


def manifest_status(registry, name, digest):
    return registry.service.backend.request(
        "HEAD", f"/v2/{name}/manifests/{digest}",
        {"Accept": "application/vnd.oci.image.manifest.v1+json, "
                   "application/vnd.docker.distribution.manifest.v2+json"})[0]


def layers(registry, name, digest):
    status, _, body = registry.service.backend.request(
        "GET", f"/v2/{name}/manifests/{digest}",
        {"Accept": "application/vnd.oci.image.manifest.v1+json, "
                   "application/vnd.docker.distribution.manifest.v2+json"})
    assert status == 200
    manifest = json.loads(body)
    return [manifest["config"]["digest"]] + [layer["digest"] for layer in manifest["layers"]]


def blob_status(registry, name, digest):
    return registry.service.backend.request("HEAD", f"/v2/{name}/blobs/{digest}")[0]


def test_policy_expires_gc_frees_and_a_used_image_is_kept(registry, podman, tmp_path):
    host = registry.address
    digests = {}
    for n in range(1, 5):
        done, digests[n] = podman.push_digest(podman.build(n), f"{host}/orders:v{n}")
        assert done.ok, done.stderr
    registry.store.declare("orders", "MUTABLE", (), KEEP_TWO)
    # v1 (the oldest) is what a fixture service runs: kept although the rule would expire it
    state = DeployState(services=(("staging", "orders-service", "orders-service:7"),),
                        taskdefs={"orders-service:7": ("000000000000.dkr.ecr.us-east-1.localhost:5000/orders:v1",)})
    own = {n: layers(registry, "orders", digests[n])[-1] for n in digests}  # each image's own layer
    hk = Housekeeping(registry, tmp_path / "home", Settings(grace=0, gc_quiet=0), engine=None,
                      deploy_state=lambda: state)

    preview = hk.run(dry_run=True)
    repo = preview["repositories"][0]
    assert [d["imageDigest"] for d in repo["expire"]] == [digests[2]]
    assert repo["protected"][0]["imageDigest"] == digests[1]
    assert manifest_status(registry, "orders", digests[2]) == 200  # a dry run changes nothing

    result = hk.run()
    assert result["repositories"][0]["deleted"] == [digests[2]]
    assert manifest_status(registry, "orders", digests[2]) == 404
    for n in (1, 3, 4):
        assert manifest_status(registry, "orders", digests[n]) == 200
        assert blob_status(registry, "orders", own[n]) == 200
    gc = result["garbageCollection"]
    assert gc["ran"], gc
    assert gc["bytesBefore"] - gc["bytesAfter"] >= LAYER  # v2's own layer is gone from disk
    assert gc["bytesAfter"] == disk_usage(registry.service.data_dir)
    assert blob_status(registry, "orders", own[2]) == 404
    assert [i.digest for i in registry.store.images("orders")] == [digests[4], digests[3], digests[1]]
    # the kept image still pulls through the proxy
    assert podman("pull", "--authfile", podman.authfile, "--tls-verify=false", f"{host}/orders:v1").ok


def test_a_write_during_collection_gets_503_and_succeeds_after(registry, podman):
    host = registry.address
    source = podman.build(1)
    gate = registry.proxy.gate
    assert gate.close_if_idle(0) is None  # as collect() does while garbage-collect runs
    try:
        refused, _ = podman.push_digest(source, f"{host}/orders:held")
        assert not refused.ok
        assert "503" in refused.stderr or "UNAVAILABLE" in refused.stderr or "garbage" in refused.stderr
        # reads are never held
        assert registry.service.backend.ping()
        conn = http.client.HTTPConnection(registry.proxy.host, registry.proxy.port, timeout=10)
        auth = base64.b64encode(f"AWS:{registry.token}".encode()).decode()
        conn.request("POST", "/v2/orders/blobs/uploads/", headers={"Authorization": f"Basic {auth}"})
        resp = conn.getresponse()
        resp.read()
        assert (resp.status, resp.getheader("Retry-After")) == (503, "5")
        conn.close()
    finally:
        gate.open()
    done, digest = podman.push_digest(source, f"{host}/orders:held")
    assert done.ok, done.stderr
    assert all(blob_status(registry, "orders", d) == 200 for d in layers(registry, "orders", digest))


def test_collection_waits_for_an_upload_in_flight(registry, tmp_path):
    """An upload whose body is still arriving keeps the collection from starting."""
    auth = base64.b64encode(f"AWS:{registry.token}".encode()).decode()
    conn = http.client.HTTPConnection(registry.proxy.host, registry.proxy.port, timeout=30)
    first = b"a stored blob, so there is something to collect"
    conn.request("POST", "/v2/orders/blobs/uploads/", headers={"Authorization": f"Basic {auth}"})
    resp = conn.getresponse()
    resp.read()
    put = _path(resp.getheader("Location")) + f"&digest=sha256:{hashlib.sha256(first).hexdigest()}"
    conn.request("PUT", put, body=first,
                 headers={"Authorization": f"Basic {auth}", "Content-Type": "application/octet-stream"})
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 201
    conn.request("POST", "/v2/orders/blobs/uploads/", headers={"Authorization": f"Basic {auth}"})
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 202
    conn.putrequest("PATCH", _path(resp.getheader("Location")))
    conn.putheader("Authorization", f"Basic {auth}")
    conn.putheader("Content-Type", "application/octet-stream")
    conn.putheader("Content-Length", "2048")
    conn.endheaders()
    conn.send(b"x" * 1024)  # half the body: the write is in flight
    gc = GarbageCollector(registry.service.config_path, registry.service.data_dir)
    for _ in range(200):  # until the proxy's handler has read the headers and counted the write
        if registry.proxy.gate.active:
            break
        threading.Event().wait(0.05)
    result = gc.collect(registry.proxy.gate, quiet=0)
    held = "in flight" in result.skipped
    assert held, "the collection was never held back by the upload in flight"
    conn.send(b"x" * 1024)
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 202
    conn.close()
    after = gc.collect(registry.proxy.gate, quiet=0)  # idle again: not held back
    assert "in flight" not in after.skipped and not after.error


def _path(location: str) -> str:
    """The path and query of an upload Location (absolute or not)."""
    if "://" in location:
        return "/" + location.split("://", 1)[1].split("/", 1)[1]
    return location


def test_pushes_racing_collections_are_never_lost(registry, podman, tmp_path):
    """Pushes and collections at once: every push that reports success has every blob it
    references afterwards; a push that fails was told to retry."""
    host = registry.address
    sources = [podman.build(n) for n in range(1, 5)]
    outcomes = []
    done_pushing = threading.Event()

    def pusher():
        for n, source in enumerate(sources, 1):
            outcomes.append((n, *podman.push_digest(source, f"{host}/race:v{n}")))
        done_pushing.set()

    thread = threading.Thread(target=pusher)
    thread.start()
    gc = GarbageCollector(registry.service.config_path, registry.service.data_dir)
    runs = 0
    while not done_pushing.is_set():
        runs += gc.collect(registry.proxy.gate, quiet=1.0).ran
    thread.join()
    gc.collect(registry.proxy.gate, quiet=0)  # one more, after the last push
    assert outcomes
    for n, done, digest in outcomes:
        if done.ok:
            assert all(blob_status(registry, "race", d) == 200 for d in layers(registry, "race", digest)), n
        else:
            assert "503" in done.stderr or "UNAVAILABLE" in done.stderr or "retry" in done.stderr.lower(), done.stderr
