"""The proxy against hostile requests, over HTTP with the real distribution registry behind it:
percent-encoded tags and names (the immutability bypass), malformed names, tags and digests,
anonymous reads, and Host headers from elsewhere (DNS rebinding)."""

from __future__ import annotations

import http.client
import json
import shutil
import socket

import pytest
from test_registry_alias_listener import free_loopback
from test_registry_proxy import IMMUTABLE_V1, OCI_MANIFEST, Client, digest_of, tags_of

from conveyor.registry.aliases import EcrAlias
from conveyor.registry.local import LocalRegistry

pytestmark = pytest.mark.skipif(shutil.which("docker-registry") is None,
                                reason="docker-registry is not installed; run `conveyor setup`")


@pytest.fixture
def registry(tmp_path):
    r = LocalRegistry(tmp_path / "home", port=0)
    r.start()
    yield r
    r.stop()


def encodings(text: str) -> list[str]:
    """Other spellings of `text` in a URL path: each character alone, and all of them,
    percent-encoded (upper and lower case hex)."""
    one = ["".join(f"%{ord(c):02X}" if i == j else c for j, c in enumerate(text)) for i in range(len(text))]
    return [*one, "".join(f"%{ord(c):02X}" for c in text), "".join(f"%{ord(c):02x}" for c in text)]


@pytest.fixture
def immutable_v1(registry):
    """`orders` IMMUTABLE with v1 pushed; returns (client, first manifest, another manifest)."""
    client = Client(registry)
    first = client.image("orders", b"layer-1")
    assert client.put("orders", "v1", first)[0] == 201
    registry.store.declare("orders", "IMMUTABLE")
    return client, first, client.image("orders", b"layer-2")


# --- the tag-immutability bypass ------------------------------------------------------------

def test_a_percent_encoded_tag_cannot_overwrite_an_immutable_one(registry, immutable_v1):
    client, first, other = immutable_v1
    status, _, body = client.put("orders", "v%31", other)   # the reported bypass: v%31 is v1
    assert status == 400
    [error] = json.loads(body)["errors"]
    assert (error["code"], error["message"]) == ("TAG_INVALID", IMMUTABLE_V1)
    assert registry.service.backend.manifest_digest("orders", "v1") == digest_of(first)


@pytest.mark.parametrize("name, tag", [(n, "v1") for n in encodings("orders")]
                         + [("orders", t) for t in encodings("v1")])
def test_no_spelling_of_name_or_tag_moves_an_immutable_tag(registry, immutable_v1, name, tag):
    client, first, other = immutable_v1
    status, _, body = client.put(name, tag, other)
    assert status == 400, body
    assert json.loads(body)["errors"][0]["message"] == IMMUTABLE_V1
    assert registry.service.backend.manifest_digest("orders", "v1") == digest_of(first)
    assert tags_of(registry, "orders") == {"v1": digest_of(first)}
    refused = registry.store.actions("orders")[-1]
    assert (refused["result"], refused["tag"]) == ("FAILURE", "v1")  # recorded under the real tag


@pytest.mark.parametrize("path, code", [
    ("/v2/orders/manifests/v%2531", "NAME_INVALID"),      # double encoding
    ("/v2/orders%2Fx/manifests/v1", "NAME_INVALID"),       # an encoded '/'
    ("/v2/orders/manifests/v1%2F", "NAME_INVALID"),
    ("/v2/orders/manifests/v%3", "NAME_INVALID"),         # a broken escape
    ("/v2/orders/manifests/.v1", "TAG_INVALID"),
    ("/v2/orders/manifests/" + "v" * 129, "TAG_INVALID"),
    ("/v2/orders/manifests/sha256:1234", "DIGEST_INVALID"),
    ("/v2/Orders/manifests/v1", "NAME_INVALID"),
    ("/v2/orders/../other/manifests/v1", "NAME_INVALID"),
])
def test_tricks_and_malformed_references_get_400_and_reach_nothing(registry, immutable_v1, path, code):
    client, first, other = immutable_v1
    status, headers, body = client("PUT", path, other, {"Content-Type": OCI_MANIFEST})
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["errors"][0]["code"] == code
    assert registry.service.backend.manifest_digest("orders", "v1") == digest_of(first)
    assert [r.name for r in registry.store.repositories()] == ["orders"]
    assert registry.store.actions("orders")[-1]["result"] != "FAILURE"  # not even a refused push


def test_an_encoded_tag_is_pushed_and_recorded_as_the_tag_it_names(registry):
    client = Client(registry)
    manifest = client.image("orders", b"layer-1")
    status, headers, _ = client.put("orders", "v%31.%30", manifest)
    assert status == 201
    assert headers["location"].endswith(f"/v2/orders/manifests/{digest_of(manifest)}")
    assert tags_of(registry, "orders") == {"v1.0": digest_of(manifest)}
    assert registry.service.backend.manifest_digest("orders", "v1.0") == digest_of(manifest)
    status, _, body = client("GET", "/v2/orders/tags/list")
    assert (status, json.loads(body)["tags"]) == (200, ["v1.0"])


def test_reads_with_a_malformed_name_are_refused_too(registry):
    client = Client(registry)
    assert client("GET", "/v2/Orders/tags/list")[0] == 400
    assert client("GET", "/v2/orders/blobs/sha256:xyz")[0] == 400
    status, _, body = client("GET", "/debug/vars")
    assert (status, json.loads(body)["errors"][0]["code"]) == (404, "UNSUPPORTED")


# --- auth for reads -------------------------------------------------------------------------

def test_anonymous_reads_get_the_challenge_and_no_content(registry):
    client = Client(registry)
    manifest = client.image("orders", b"secret-layer")
    client.put("orders", "v1", manifest)
    layer = digest_of(b"secret-layer")
    for method, path in (("GET", f"/v2/orders/blobs/{layer}"), ("GET", "/v2/orders/manifests/v1"),
                         ("HEAD", "/v2/orders/manifests/v1"), ("GET", "/v2/orders/tags/list"),
                         ("GET", "/v2/_catalog"), ("GET", "/v2/"), ("GET", "/v2/Orders/tags/list")):
        status, headers, body = client(method, path, auth=False)
        assert status == 401, (method, path)
        assert headers["www-authenticate"] == 'Basic realm="conveyor-registry"'
        assert b"secret-layer" not in body
    assert client("GET", f"/v2/orders/blobs/{layer}")[2] == b"secret-layer"


# --- Host headers (DNS rebinding) -----------------------------------------------------------

@pytest.mark.parametrize("host", ["evil.example", "evil.example:5000", "127.0.0.1.nip.io",
                                  "localhost.evil.example", "user@127.0.0.1", "", "[::1"])
def test_a_foreign_host_is_refused_before_auth_and_forwarding(registry, host):
    client = Client(registry)
    manifest = client.image("orders", b"layer-1")
    status, headers, body = client("PUT", "/v2/orders/manifests/v1", manifest,
                                   {"Content-Type": OCI_MANIFEST, "Host": host})
    assert status == 403
    assert json.loads(body)["errors"][0]["code"] == "DENIED"
    assert registry.store.images("orders") == []
    assert registry.service.backend.manifest_digest("orders", "v1") is None
    status, headers, _ = client("GET", "/v2/", auth=False, headers={"Host": host})
    assert status == 403 and "www-authenticate" not in headers  # no login prompt in a browser


def test_two_host_headers_are_refused(registry):
    conn = http.client.HTTPConnection(registry.address, timeout=30)
    conn.putrequest("GET", "/v2/", skip_host=True)
    conn.putheader("Host", registry.address)
    conn.putheader("Host", "evil.example")
    conn.putheader("Authorization", Client(registry).auth)
    conn.endheaders()
    assert conn.getresponse().status == 403
    conn.close()


@pytest.mark.parametrize("spelling", ["address", "localhost:{port}", "LOCALHOST:{port}",
                                      "000000000000.dkr.ecr.us-east-1.localhost:{port}", "127.0.0.2:{port}", None])
def test_the_registrys_own_names_are_answered(registry, spelling):
    client = Client(registry)
    headers = {}
    if spelling is not None:
        headers["Host"] = registry.address if spelling == "address" else spelling.format(port=registry.port)
    status, hdrs, _ = client("POST", "/v2/orders/blobs/uploads/", headers=headers)
    assert status == 202
    if spelling not in (None, "address"):  # the backend builds Location from the Host it was given
        assert hdrs["location"].lower().startswith(f"http://{headers['Host'].lower()}/v2/orders/")


def test_an_ecr_alias_name_is_answered_only_when_served(tmp_path, registry):
    alias = EcrAlias("111122223333", "eu-west-3", free_loopback()[0])
    assert Client(registry)("GET", "/v2/", headers={"Host": alias.host})[0] == 403
    ip, port = free_loopback()
    serving = LocalRegistry(tmp_path / "other", port=0, aliases=[EcrAlias("111122223333", "eu-west-3", ip)],
                            alias_port=port)
    serving.start()
    try:
        assert serving.served_aliases
        for address in (serving.address, f"{ip}:{port}"):
            client = Client(serving)
            client.address = address
            assert client("GET", "/v2/", headers={"Host": alias.host})[0] == 200
            assert client("GET", "/v2/", headers={"Host": "222233334444.dkr.ecr.eu-west-3.amazonaws.com"})[0] == 403
    finally:
        serving.stop()


# --- body framing and forwarded headers -----------------------------------------------------

def raw_request(registry: LocalRegistry, head: str, body: bytes = b"") -> bytes:
    """Send bytes as they are (http.client would refuse to); the whole answer until close."""
    with socket.create_connection(("127.0.0.1", registry.port), timeout=30) as s:
        s.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while piece := s.recv(65536):
            out += piece
    return out


@pytest.mark.parametrize("framing", [
    "Content-Length: -5", "Content-Length: 1e3", "Content-Length: 5\nContent-Length: 6",
    "Transfer-Encoding: chunked\nContent-Length: 5", "Transfer-Encoding: gzip, chunked",
    "Transfer-Encoding: identity"])
def test_ambiguous_body_framing_is_refused_and_the_connection_closed(registry, framing):
    auth = Client(registry).auth
    answer = raw_request(registry, f"POST /v2/orders/blobs/uploads/ HTTP/1.1\nHost: {registry.address}\n"
                         f"Authorization: {auth}\n{framing}\n", b"0\r\n\r\nGET /v2/ HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"SIZE_INVALID" in answer
    assert answer.count(b"HTTP/1.1 ") == 1  # the smuggled second request was not answered
    assert registry.store.repositories() == []


def test_a_refused_read_with_a_body_closes_the_connection(registry):
    answer = raw_request(registry, f"GET /v2/ HTTP/1.1\nHost: {registry.address}\nContent-Length: 22\n",
                         b"GET /v2/ HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 401 ") and answer.count(b"HTTP/1.1 ") == 1


def test_forwarded_headers_cannot_redirect_uploads(registry):
    status, headers, _ = Client(registry)("POST", "/v2/orders/blobs/uploads/", headers={
        "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https",
        "Forwarded": "host=evil.example;proto=https"})
    assert status == 202
    assert headers["location"].startswith(f"http://{registry.address}/v2/orders/blobs/uploads/")
