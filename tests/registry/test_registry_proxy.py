"""The authenticating proxy over HTTP, against the real distribution registry: auth, tag
mutability on manifest PUTs, recording, chunked and large uploads, deletes, log masking.
(Encoded paths, grammars and Host checks: test_registry_proxy_hardening.py.)"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import logging
import os
import shutil
from urllib.parse import urlsplit

import pytest
from stack_support import needs

from conveyor.registry.local import LocalRegistry
from conveyor.registry.service import SecretFilter

pytestmark = needs(shutil.which("docker-registry") is None, "docker-registry is not installed")

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
IMMUTABLE_V1 = ("The image tag 'v1' already exists in the 'orders' repository and cannot be "
                "overwritten because the repository is immutable.")


@pytest.fixture
def registry(tmp_path):
    r = LocalRegistry(tmp_path / "home", port=0)
    r.start()
    yield r
    r.stop()


class Client:
    def __init__(self, registry: LocalRegistry, password: str | None = None, user: str = "AWS"):
        self.address = registry.address
        secret = registry.token if password is None else password
        self.auth = "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()

    def __call__(self, method, path, body=None, headers=None, auth=True, chunked=False):
        conn = http.client.HTTPConnection(self.address, timeout=30)
        hdrs = dict(headers or {})
        if auth:
            hdrs["Authorization"] = self.auth
        conn.request(method, path, body=body, headers=hdrs, encode_chunked=chunked)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data

    def blob(self, name: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        status, headers, _ = self("POST", f"/v2/{name}/blobs/uploads/")
        assert status == 202
        location = urlsplit(headers["location"])
        status, _, body = self("PUT", f"{location.path}?{location.query}&digest={digest}", data,
                               {"Content-Type": "application/octet-stream"})
        assert status == 201, body
        return digest

    def image(self, name: str, content: bytes) -> bytes:
        """Push a config and one layer; the manifest bytes (not yet pushed)."""
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        cdigest, ldigest = self.blob(name, config), self.blob(name, content)
        return json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": cdigest, "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                       "digest": ldigest, "size": len(content)}]}).encode()

    def put(self, name: str, ref: str, manifest: bytes):
        return self("PUT", f"/v2/{name}/manifests/{ref}", manifest, {"Content-Type": OCI_MANIFEST})


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tags_of(registry: LocalRegistry, name: str) -> dict[str, str]:
    return {t: i.digest for i in registry.store.images(name) for t in i.tags}


# --- auth ---------------------------------------------------------------------------------

def test_anonymous_base_gets_the_basic_challenge(registry):
    status, headers, body = Client(registry)("GET", "/v2/", auth=False)
    assert status == 401
    assert headers["www-authenticate"] == 'Basic realm="conveyor-registry"'
    assert json.loads(body)["errors"][0]["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize("user, password, status", [
    ("AWS", None, 200), ("AWS", "wrong", 401), ("admin", None, 401)])
def test_login_checks_user_and_password(registry, user, password, status):
    assert Client(registry, password, user)("GET", "/v2/")[0] == status


def test_writes_and_reads_need_credentials(registry):
    wrong = Client(registry, "wrong")
    status, headers, _ = wrong("POST", "/v2/orders/blobs/uploads/")
    assert (status, headers["connection"]) == (401, "close")
    assert wrong("PUT", "/v2/orders/manifests/v1", b"{}")[0] == 401
    assert wrong("DELETE", "/v2/orders/manifests/sha256:" + "0" * 64)[0] == 401
    client = Client(registry)
    client.put("orders", "v1", client.image("orders", b"layer-1"))
    for c, auth in ((client, False), (wrong, True)):  # anonymous, then a wrong password
        for method, path in (("GET", "/v2/orders/tags/list"), ("HEAD", "/v2/orders/manifests/v1"),
                             ("GET", "/v2/orders/manifests/v1"), ("GET", "/v2/_catalog")):
            status, headers, _ = c(method, path, auth=auth, headers={"Accept": OCI_MANIFEST})
            assert status == 401, (method, path)
            assert headers["www-authenticate"] == 'Basic realm="conveyor-registry"'
    assert client("GET", "/v2/orders/tags/list")[:1] == (200,)
    assert client("HEAD", "/v2/orders/manifests/v1", headers={"Accept": OCI_MANIFEST})[0] == 200


# --- tag mutability -----------------------------------------------------------------------

def test_a_tag_push_is_recorded_with_digest_time_and_size(registry):
    client = Client(registry)
    manifest = client.image("orders", b"layer-1")
    status, headers, _ = client.put("orders", "v1", manifest)
    assert status == 201
    assert headers["docker-content-digest"] == digest_of(manifest)
    [image] = registry.store.images("orders")
    assert (image.digest, image.tags, image.size, image.media_type) == (
        digest_of(manifest), ("v1",), len(b"layer-1"), OCI_MANIFEST)
    assert image.to_json()["imagePushedAt"].endswith("Z")
    assert registry.store.repository("orders").mutability == "MUTABLE"  # created on first push
    assert registry.store.actions("orders")[-1]["action_type"] == "PUSH"


def test_immutable_refuses_to_move_a_tag_with_ecrs_error(registry):
    client = Client(registry)
    first = client.image("orders", b"layer-1")
    assert client.put("orders", "v1", first)[0] == 201
    registry.store.declare("orders", "IMMUTABLE")
    other = client.image("orders", b"layer-2")
    status, _, body = client.put("orders", "v1", other)
    assert status == 400
    [error] = json.loads(body)["errors"]
    assert (error["code"], error["message"]) == ("TAG_INVALID", IMMUTABLE_V1)
    assert digest_of(first) in error["detail"]
    assert registry.service.backend.manifest_digest("orders", "v1") == digest_of(first)
    assert tags_of(registry, "orders") == {"v1": digest_of(first)}
    refused = registry.store.actions("orders")[-1]
    assert (refused["result"], refused["tag"], refused["digest"]) == (
        "FAILURE", "v1", digest_of(other))
    # the same digest again is not a change (mutability.check_push), and a new tag is fine
    assert client.put("orders", "v1", first)[0] == 201
    assert client.put("orders", "v2", other)[0] == 201
    assert tags_of(registry, "orders") == {"v1": digest_of(first), "v2": digest_of(other)}


def test_mutable_moves_the_tag_and_leaves_the_old_image_untagged(registry):
    client = Client(registry)
    first, second = client.image("orders", b"layer-1"), client.image("orders", b"layer-2")
    assert client.put("orders", "v1", first)[0] == 201
    assert client.put("orders", "v1", second)[0] == 201
    images = {i.digest: i.tags for i in registry.store.images("orders")}
    assert images == {digest_of(first): (), digest_of(second): ("v1",)}


@pytest.mark.parametrize("mutability, filters, movable, fixed", [
    ("IMMUTABLE_WITH_EXCLUSION", ["latest", "dev-*"], ["latest", "dev-42"], ["v1", "release-1"]),
    ("MUTABLE_WITH_EXCLUSION", ["release-*"], ["latest", "v1"], ["release-1"]),
])
def test_exclusion_filters(registry, mutability, filters, movable, fixed):
    client = Client(registry)
    first, second = client.image("orders", b"layer-1"), client.image("orders", b"layer-2")
    registry.store.declare("orders", mutability,
                           [{"filterType": "WILDCARD", "filter": f} for f in filters])
    for tag in movable + fixed:
        assert client.put("orders", tag, first)[0] == 201
    for tag in movable:
        assert client.put("orders", tag, second)[0] == 201, tag
    for tag in fixed:
        status, _, body = client.put("orders", tag, second)
        assert status == 400, tag
        assert "cannot be overwritten because the tag is immutable" in body.decode()
    assert tags_of(registry, "orders") == {**{t: digest_of(second) for t in movable},
                                          **{t: digest_of(first) for t in fixed}}


def test_undeclared_repositories_can_be_refused(tmp_path):
    registry = LocalRegistry(tmp_path / "home", port=0, create_on_push=False)
    registry.start()
    try:
        client = Client(registry)
        status, _, body = client("POST", "/v2/orders/blobs/uploads/")
        assert status == 404
        assert json.loads(body)["errors"][0] == {
            "code": "NAME_UNKNOWN", "message": "The repository with name 'orders' does not "
            "exist in the registry with id '000000000000'"}
        registry.store.declare("orders")
        assert client.put("orders", "v1", client.image("orders", b"layer-1"))[0] == 201
    finally:
        registry.stop()


def test_invalid_repository_names_are_refused(registry):
    status, _, body = Client(registry)("POST", "/v2/Orders/blobs/uploads/")
    assert status == 400
    assert json.loads(body)["errors"][0]["code"] == "NAME_INVALID"


# --- streaming ----------------------------------------------------------------------------

def test_chunked_upload_with_content_range_and_locations_at_the_proxy(registry):
    client = Client(registry)
    parts = [os.urandom(300_000), os.urandom(123_457)]
    status, headers, _ = client("POST", "/v2/orders/blobs/uploads/")
    assert headers["location"].startswith(f"http://{registry.address}/v2/orders/blobs/uploads/")
    offset = 0
    for part in parts:
        url = urlsplit(headers["location"])
        rng = f"{offset}-{offset + len(part) - 1}"
        status, headers, _ = client("PATCH", f"{url.path}?{url.query}", iter([part[:1000], part[1000:]]),
                                    {"Content-Range": rng, "Content-Type": "application/octet-stream"},
                                    chunked=True)
        assert (status, headers["range"]) == (202, f"0-{offset + len(part) - 1}")
        assert headers["location"].startswith(f"http://{registry.address}/")
        offset += len(part)
    data = b"".join(parts)
    url = urlsplit(headers["location"])
    status, headers, _ = client("PUT", f"{url.path}?{url.query}&digest={digest_of(data)}", b"")
    assert status == 201
    assert client("GET", f"/v2/orders/blobs/{digest_of(data)}")[2] == data


def test_a_large_blob_streams_through_intact(registry):
    client = Client(registry)
    data = os.urandom(24 * 1024 * 1024)
    digest = client.blob("big", data)
    conn = http.client.HTTPConnection(registry.address, timeout=60)
    conn.request("GET", f"/v2/big/blobs/{digest}", headers={"Authorization": client.auth})
    resp = conn.getresponse()
    h = hashlib.sha256()
    while piece := resp.read(1 << 20):
        h.update(piece)
    conn.close()
    assert (resp.status, "sha256:" + h.hexdigest()) == (200, digest)


# --- deletes, outages, logs ---------------------------------------------------------------

def test_delete_image_removes_it_from_the_registry_and_the_store(registry):
    client = Client(registry)
    manifest = client.image("orders", b"layer-1")
    client.put("orders", "v1", manifest)
    assert registry.store.delete_image("orders", digest_of(manifest)) is True
    assert registry.service.backend.manifest_digest("orders", "v1") is None
    assert registry.store.images("orders") == []
    assert registry.store.actions("orders")[-1]["action_type"] == "DELETE"
    assert registry.store.delete_image("orders", digest_of(manifest)) is False


def test_a_delete_through_the_proxy_is_recorded(registry):
    client = Client(registry)
    manifest = client.image("orders", b"layer-1")
    client.put("orders", "v1", manifest)
    assert client("DELETE", f"/v2/orders/manifests/{digest_of(manifest)}")[0] == 202
    assert registry.store.images("orders") == []


def test_backend_down_is_a_503_not_a_bypass(registry):
    client = Client(registry)
    manifest = client.image("orders", b"layer-1")
    registry.service.stop()
    status, _, body = client.put("orders", "v1", manifest)
    assert status == 503
    assert json.loads(body)["errors"][0]["code"] == "UNAVAILABLE"
    assert registry.store.images("orders") == []


def test_the_token_never_reaches_a_log_line(registry, caplog):
    caplog.set_level(logging.DEBUG)
    client = Client(registry)
    client("GET", "/v2/")
    client.put("orders", "v1", client.image("orders", b"layer-1"))
    Client(registry, "wrong")("GET", "/v2/")
    basic = client.auth.split()[1]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "PUT /v2/orders/manifests/v1 201" in text
    assert registry.token not in text and basic not in text


def test_secret_filter_masks_the_token_and_its_basic_form(registry):
    token = registry.token
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "auth %s and %s", (
        token, base64.b64encode(f"AWS:{token}".encode()).decode()), None)
    registry.log_filter().filter(record)
    assert record.getMessage() == "auth *** and ***"
    assert SecretFilter("").mask("nothing to hide") == "nothing to hide"
