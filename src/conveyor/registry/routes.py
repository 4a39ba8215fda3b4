"""The registry API's request paths, read the way the backend reads them, so the proxy checks
exactly what the backend will act on. Pure: no I/O.

    >>> route = parse_target("/v2/orders/manifests/v%31")
    >>> route.kind, route.name, route.reference, route.tag
    ('manifests', 'orders', 'v1', 'v1')
    >>> route.target                     # what is forwarded: the decoded, checked path
    '/v2/orders/manifests/v1'
    >>> parse_target("/v2/orders%2Fx/manifests/v1")
    Traceback (most recent call last):
    ...
    conveyor.registry.routes.BadRequest: NAME_INVALID: an encoded '/' (%2F) is not allowed in a registry path

Why decode here at all: the distribution registry (Go's net/http and gorilla/mux) matches its
routes against the *decoded* path, so `PUT /v2/orders/manifests/v%31` writes tag `v1`. A proxy
that checked the raw text would see a tag `v%31` that does not exist yet and let the push
through: the tag-immutability bypass. So the path is decoded exactly once, strictly (a malformed
escape, an encoded '/', or an encoded '%' — the first step of double encoding — is refused), then
matched against the routes of the distribution spec with its grammars (repository name, tag,
digest, upload id), and the forwarded request carries the decoded path, which after the checks
holds only characters that need no encoding. What the backend sees is what was checked.

Refusals use the spec's error codes: NAME_INVALID (repository name), TAG_INVALID (a manifest
reference that is neither tag nor digest), DIGEST_INVALID (a blob digest), BLOB_UPLOAD_INVALID
(an upload id), all HTTP 400; a path that is no route of the API is 404 UNSUPPORTED (a target that is not a path, or a
malformed query, 400 UNSUPPORTED).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: OCI distribution spec, "pulling manifests": the repository name grammar, as distribution's
#: reference package has it (components of lowercase alphanumerics joined by '.', '_', '__'
#: or runs of '-'; components joined by '/').
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
#: distribution's NameTotalLengthMax.
NAME_MAX = 255
#: OCI distribution spec: a tag is at most 128 characters.
TAG_RE = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
#: OCI image spec, descriptor digests: algorithm ":" encoded; the registered algorithms'
#: encodings are lowercase hex of their fixed length.
DIGEST_RE = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
REGISTERED_DIGESTS = {"sha256": re.compile(r"[a-f0-9]{64}"), "sha512": re.compile(r"[a-f0-9]{128}")}
#: distribution's upload session ids (routes.go: `[a-zA-Z0-9-_.=]+`).
UPLOAD_ID_RE = re.compile(r"[a-zA-Z0-9_.=-]+")
#: Characters allowed raw in a query string (RFC 3986 query, without '#').
_QUERY_RE = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@/?%-]*")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")

#: The code of a path that is no route of the API (distribution answers those with a bare 404).
UNKNOWN_PATH = "UNSUPPORTED"
BASE = "base"
CATALOG = "catalog"


class BadRequest(ValueError):
    """A request target the registry refuses: its spec error code, HTTP status and message."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class Route:
    """One request of the registry API, after decoding and checking.

    kind: base (`/v2/`), catalog, tags (`/v2/NAME/tags/list`), manifests, blobs (a digest),
    uploads (`/v2/NAME/blobs/uploads/[ID]`) or referrers."""

    kind: str
    name: str | None = None
    reference: str | None = None
    query: str = ""

    @property
    def tag(self) -> str | None:
        """The tag of a manifest request (None when it names a digest)."""
        if self.kind != "manifests" or self.reference is None or is_digest(self.reference):
            return None
        return self.reference

    @property
    def path(self) -> str:
        if self.kind == BASE:
            return "/v2/"
        if self.kind == CATALOG:
            return "/v2/_catalog"
        suffix = {"tags": "tags/list", "manifests": f"manifests/{self.reference}",
                  "blobs": f"blobs/{self.reference}", "referrers": f"referrers/{self.reference}",
                  "uploads": f"blobs/uploads/{self.reference or ''}"}[self.kind]
        return f"/v2/{self.name}/{suffix}"

    @property
    def target(self) -> str:
        """The request target to forward: the checked path and the query as received."""
        return self.path + (f"?{self.query}" if self.query else "")


def is_name(name: str) -> bool:
    return len(name) <= NAME_MAX and NAME_RE.fullmatch(name) is not None


def is_tag(tag: str) -> bool:
    return TAG_RE.fullmatch(tag) is not None


def is_digest(value: str) -> bool:
    if DIGEST_RE.fullmatch(value) is None:
        return False
    algorithm, _, encoded = value.partition(":")
    registered = REGISTERED_DIGESTS.get(algorithm)
    return registered is None or registered.fullmatch(encoded) is not None


def decode_path(raw: str) -> str:
    """Percent-decode `raw` once, strictly. Refused: an escape that is not two hex digits, an
    encoded '/' (it would change how the path splits into name and reference), an encoded '%'
    (a second decoding anywhere would read something else than was checked), and anything that
    decodes to a control character or is not ASCII (no grammar of the API allows those)."""
    if "%" in _ESCAPE.sub("", raw):
        raise BadRequest("NAME_INVALID", "malformed percent-encoding in the registry path")
    decoded = []
    for part in re.split(r"(%[0-9A-Fa-f]{2})", raw):
        if not part.startswith("%"):
            decoded.append(part)
            continue
        char = chr(int(part[1:], 16))
        if char == "/":
            raise BadRequest("NAME_INVALID", "an encoded '/' (%2F) is not allowed in a registry path")
        if char == "%":
            raise BadRequest("NAME_INVALID", "an encoded '%' (%25) is not allowed in a registry path")
        decoded.append(char)
    path = "".join(decoded)
    if not path.isascii() or any(ord(c) < 0x21 or ord(c) == 0x7F for c in path):
        raise BadRequest("NAME_INVALID", "the registry path holds a character no name, tag or "
                         "digest may contain")
    return path


def parse_target(target: str) -> Route:
    """The Route of an HTTP request target (origin form: path and optional query); BadRequest
    when it is malformed or is no route of the registry API."""
    if not target.startswith("/"):
        raise BadRequest(UNKNOWN_PATH, "the request target must be a path (origin form)")
    raw_path, _, query = target.partition("?")
    if "#" in target:
        raise BadRequest(UNKNOWN_PATH, "a '#' is not allowed in the request target")
    if not _QUERY_RE.fullmatch(query):
        raise BadRequest(UNKNOWN_PATH, "malformed query in the request target")
    if _ESCAPE.sub("", query).count("%"):
        raise BadRequest(UNKNOWN_PATH, "malformed percent-encoding in the query")
    path = decode_path(raw_path)
    route = _match(path)
    return Route(route.kind, route.name, route.reference, query)


def _match(path: str) -> Route:
    if path == "/v2/":
        return Route(BASE)
    if path == "/v2/_catalog":
        return Route(CATALOG)
    if not path.startswith("/v2/"):
        raise BadRequest(UNKNOWN_PATH, "not a registry API path (they start with /v2/)", 404)
    rest = path[len("/v2/"):]
    # Longest name first, as the backend's anchored route patterns match; a reference, digest
    # or upload id never holds '/', so at most one split fits each route.
    for suffix, kind in (("/tags/list", "tags"), ("/blobs/uploads/", "uploads")):
        if rest.endswith(suffix):
            return Route(kind, _name(rest[:-len(suffix)]))
    head, sep, last = rest.rpartition("/")
    if not sep:
        raise BadRequest(UNKNOWN_PATH, "not a registry API path", 404)
    name, sep, kind = head.rpartition("/")
    if sep and kind == "manifests":
        if not (is_tag(last) or is_digest(last)):
            code = "DIGEST_INVALID" if ":" in last else "TAG_INVALID"
            what = "digest" if ":" in last else "tag"
            raise BadRequest(code, f"invalid {what} '{_show(last)}': a tag is 1 to 128 of a-z A-Z 0-9 "
                             "_ . - (not starting with . or -); a digest is ALGORITHM:HEX")
        return Route("manifests", _name(name), last)
    if sep and kind in ("blobs", "referrers"):
        if not is_digest(last):
            raise BadRequest("DIGEST_INVALID", f"invalid digest '{_show(last)}' (expected ALGORITHM:HEX, "
                             "e.g. sha256: and 64 lowercase hex digits)")
        return Route(kind, _name(name), last)
    name, sep, blobs = name.rpartition("/")
    if sep and (blobs, kind) == ("blobs", "uploads"):
        if not UPLOAD_ID_RE.fullmatch(last):
            raise BadRequest("BLOB_UPLOAD_INVALID", "invalid upload id")
        return Route("uploads", _name(name), last)
    raise BadRequest(UNKNOWN_PATH, "not a registry API path", 404)


def _name(name: str) -> str:
    if not is_name(name):
        raise BadRequest("NAME_INVALID", f"invalid repository name '{_show(name)}': lowercase letters, "
                         "digits and separators (. _ __ -), components joined by '/', at most "
                         f"{NAME_MAX} characters")
    return name


def _show(text: str, limit: int = 80) -> str:
    """User text quoted in an error, cut short (a request line may be 64 KiB)."""
    return text if len(text) <= limit else text[:limit] + "…"
