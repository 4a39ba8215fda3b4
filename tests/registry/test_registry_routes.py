"""Registry request paths (routes.py): decoded once, strictly, and checked against the OCI
distribution grammars, so the proxy and the backend agree on which repository and tag a request
names."""

from __future__ import annotations

import pytest

from conveyor.registry.routes import BadRequest, Route, decode_path, is_digest, is_name, is_tag, parse_target

SHA = "sha256:" + "a1" * 32


def encode(text: str, which: set[int] | None = None, upper: bool = True) -> str:
    """`text` with the characters at positions `which` (all when None) percent-encoded."""
    hexfmt = "%{:02X}" if upper else "%{:02x}"
    return "".join(hexfmt.format(ord(c)) if which is None or i in which else c for i, c in enumerate(text))


# --- the tag of a manifest URL, however it is encoded ---------------------------------------

@pytest.mark.parametrize("tag", ["v1", "latest", "v1.0_rc-1", "_x", "A" * 128])
def test_any_encoding_of_a_tag_names_that_tag(tag):
    spellings = [tag, encode(tag), encode(tag, upper=False)] + [encode(tag, {i}) for i in range(len(tag))]
    for spelled in spellings:
        route = parse_target(f"/v2/orders/manifests/{spelled}")
        assert (route.kind, route.name, route.tag) == ("manifests", "orders", tag), spelled
        assert route.target == f"/v2/orders/manifests/{tag}"


def test_an_encoded_repository_name_is_that_name():
    route = parse_target("/v2/team%2Dx/orders/manifests/v1")
    assert (route.name, route.target) == ("team-x/orders", "/v2/team-x/orders/manifests/v1")


@pytest.mark.parametrize("path, reason", [
    ("/v2/orders/manifests/v%2531", "%25"),          # double encoding of '1'
    ("/v2/orders/manifests/v%25%33%31", "%25"),      # '%' '3' '1' spelled out
    ("/v2/team%2Forders/manifests/v1", "%2F"),       # an encoded '/' moves the name/reference split
    ("/v2/team%2forders/manifests/v1", "%2F"),
    ("/v2/orders/manifests/v1%2F", "%2F"),
    ("/v2/orders/manifests/v%3", "malformed"),
    ("/v2/orders/manifests/v%G1", "malformed"),
    ("/v2/orders/manifests/v1%", "malformed"),
    ("/v2/orders/manifests/v%00", "character"),
    ("/v2/orders/manifests/v%0A1", "character"),
    ("/v2/orders/manifests/v%201", "character"),
    ("/v2/orders/manifests/v%C3%A9", "character"),   # UTF-8: no grammar allows it
    ("/v2/orders/manifests/v\u00e9", "character"),
])
def test_strict_decoding_refuses_tricks_as_name_invalid(path, reason):
    with pytest.raises(BadRequest) as err:
        parse_target(path)
    assert (err.value.code, err.value.status) == ("NAME_INVALID", 400)
    assert reason in str(err.value)


def test_decoding_happens_once():
    assert decode_path("/v2/a/manifests/%76%31") == "/v2/a/manifests/v1"
    with pytest.raises(BadRequest):
        decode_path("/v2/a/manifests/%2576")  # would be %76 after one pass, v after two


# --- grammars -------------------------------------------------------------------------------

@pytest.mark.parametrize("name, ok", [
    ("orders", True), ("team/orders", True), ("a.b_c__d---e/f0", True), ("a" * 255, True),
    ("a" * 256, False), ("Orders", False), ("_orders", False), ("orders_", False), ("a___b", False),
    ("a..b", False), ("a/../b", False), ("a//b", False), ("/a", False), ("a/", False), ("", False),
    ("a:b", False), ("a b", False)])
def test_repository_name_grammar(name, ok):
    assert is_name(name) is ok


@pytest.mark.parametrize("tag, ok", [
    ("v1", True), ("_", True), ("V1.2-rc_3", True), ("1" * 128, True), ("1" * 129, False),
    (".v1", False), ("-v1", False), ("v/1", False), ("v:1", False), ("v 1", False), ("", False),
    ("v1@x", False), ("v+1", False)])
def test_tag_grammar(tag, ok):
    assert is_tag(tag) is ok


@pytest.mark.parametrize("digest, ok", [
    (SHA, True), ("sha512:" + "0" * 128, True),
    ("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", True),
    ("sha256:" + "A1" * 32, False), ("sha256:" + "a" * 63, False), ("sha512:" + "0" * 64, False),
    ("sha256", False), (":abc", False), ("SHA256:" + "a" * 64, False), ("sha256:", False)])
def test_digest_grammar(digest, ok):
    assert is_digest(digest) is ok


@pytest.mark.parametrize("path, code", [
    ("/v2/Orders/manifests/v1", "NAME_INVALID"),
    ("/v2/orders/manifests/.v1", "TAG_INVALID"),
    ("/v2/orders/manifests/" + "v" * 129, "TAG_INVALID"),
    ("/v2/orders/manifests/sha256:abc", "DIGEST_INVALID"),
    ("/v2/orders/blobs/v1", "DIGEST_INVALID"),
    ("/v2/orders/blobs/uploads/a b", "NAME_INVALID"),       # a space: refused while decoding
    ("/v2/orders/blobs/uploads/a~b", "BLOB_UPLOAD_INVALID"),
    ("/v2/a/../b/manifests/v1", "NAME_INVALID"),
])
def test_malformed_references_get_the_specs_codes(path, code):
    with pytest.raises(BadRequest) as err:
        parse_target(path)
    assert (err.value.code, err.value.status) == (code, 400)


@pytest.mark.parametrize("target, status", [
    ("/", 404), ("/v2", 404), ("/v1/orders/manifests/v1", 404), ("/v2/orders", 404),
    ("/v2/orders/other/v1", 404), ("/debug/vars", 404),
    ("http://127.0.0.1:5000/v2/", 400), ("*", 400),
    ("/v2/orders/manifests/v1#x", 400), ("/v2/orders/tags/list?n=1 2", 400), ("/v2/?%zz", 400)])
def test_what_is_no_route_of_the_api(target, status):
    with pytest.raises(BadRequest) as err:
        parse_target(target)
    assert (err.value.code, err.value.status) == ("UNSUPPORTED", status)


# --- routes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("target, route", [
    ("/v2/", Route("base")),
    ("/v2/_catalog?n=10", Route("catalog", query="n=10")),
    ("/v2/team/orders/tags/list", Route("tags", "team/orders")),
    ("/v2/orders/manifests/" + SHA, Route("manifests", "orders", SHA)),
    ("/v2/orders/manifests/sha256%3A" + "a1" * 32, Route("manifests", "orders", SHA)),
    ("/v2/orders/blobs/" + SHA, Route("blobs", "orders", SHA)),
    ("/v2/orders/blobs/uploads/", Route("uploads", "orders")),
    ("/v2/orders/blobs/uploads/?mount=" + SHA + "&from=other",
     Route("uploads", "orders", None, f"mount={SHA}&from=other")),
    ("/v2/orders/blobs/uploads/1f2e-3d?_state=ab%3D%3D&digest=" + SHA,
     Route("uploads", "orders", "1f2e-3d", f"_state=ab%3D%3D&digest={SHA}")),
    # names may hold the route words; the longest name wins, as in the backend's anchored routes
    ("/v2/a/manifests/b/manifests/v1", Route("manifests", "a/manifests/b", "v1")),
    ("/v2/x/manifests/tags/list", Route("tags", "x/manifests")),
    ("/v2/x/blobs/uploads/blobs/" + SHA, Route("blobs", "x/blobs/uploads", SHA)),
])
def test_routes(target, route):
    parsed = parse_target(target)
    assert parsed == route
    assert parse_target(parsed.target) == parsed  # the forwarded target reads the same


def test_a_digest_reference_has_no_tag():
    assert parse_target(f"/v2/orders/manifests/{SHA}").tag is None
    assert parse_target("/v2/orders/tags/list").tag is None


def test_errors_quote_user_text_cut_short():
    with pytest.raises(BadRequest) as err:
        parse_target("/v2/" + "A" * 5000 + "/manifests/v1")
    assert len(err.value.message) < 300
