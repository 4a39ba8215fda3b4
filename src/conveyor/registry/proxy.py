"""The registry address users and builds push to: a small threaded HTTP proxy on 127.0.0.1 in
front of the distribution registry, adding what ECR has and distribution lacks.

    proxy = RegistryProxy(service.backend, store, token, port=5000)
    proxy.start()        # podman login 127.0.0.1:5000 -u AWS; podman push 127.0.0.1:5000/orders:v1

- Host check first (hostcheck.py, against DNS rebinding): a Host header naming anything but a
  loopback name (localhost, *.localhost such as the ECR-style host, 127.0.0.0/8, ::1), an address
  the proxy listens on or an ECR alias it serves is refused with 403 DENIED before anything else
  happens (no Basic challenge either: a browser would prompt for it).
- Auth (ECR's `aws ecr get-login-password` flow): user AWS, password = the registry token, on
  every request, reads included, as ECR does. An anonymous request gets a 401 with
  `WWW-Authenticate: Basic realm=…`, which is how podman and docker learn to send credentials
  and how `login` checks them; task starts pull with an auth file the daemon writes
  (local.pull_auth_path). The proxy listens on loopback addresses only: 127.0.0.1, plus port 80
  of each ECR alias's address (`add_listener`, aliases.py), served exactly alike.
- Paths are decoded once, strictly, and checked against the API's grammars (routes.py) before
  anything else looks at them; the backend gets the checked path. So a percent-encoded tag
  (`/manifests/v%31`) is the tag `v1` for the mutability check too, and a malformed name, tag or
  digest is the spec's 400 (NAME_INVALID, TAG_INVALID, DIGEST_INVALID).
- Tag mutability: a manifest PUT under a tag is checked with `mutability.check_push` against the
  digest the tag has now (HEAD on the backend); a refusal is HTTP 400 `TAG_INVALID` with ECR's
  message, printed by podman/docker as "tag invalid: The image tag 'v1' already exists …" (podman
  then retries in other manifest formats, each refused the same way, as against ECR).
- Writes pass a gate (gc.WriteGate): while blobs are garbage-collected they get 503 UNAVAILABLE
  with Retry-After; the collection starts only when no write is in flight or recent.
- Accepted manifest PUTs are recorded in the RepositoryStore; a repository is created on first
  push (MUTABLE) unless create_on_push is False, when writes to an undeclared name get ECR's
  "repository does not exist" error.
- Bodies (blobs, chunked uploads) are streamed in CHUNK pieces. Location headers already name
  the proxy: the client's Host header is forwarded and the backend builds its URLs from it.
Nothing here logs headers or query strings, so the token cannot reach a log line (and
`service.SecretFilter` masks it on any handler).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conveyor.hostcheck import AllowedHosts, allowed_hosts, host_allowed
from conveyor.registry.backend import Backend, BackendUnavailable
from conveyor.registry.gc import RETRY_AFTER, WriteGate
from conveyor.registry.mutability import TagPolicy, check_push
from conveyor.registry.repositories import REPOSITORY_NAME, RepositoryStore, image_size
from conveyor.registry.routes import BadRequest, Route, parse_target
from conveyor.registry.service import LOGIN_USER
from conveyor.registry.uris import DEFAULT_ACCOUNT_ID, DEFAULT_PORT, LOCAL_IP

log = logging.getLogger("conveyor.registry.proxy")

#: Streaming piece size for blob bodies, both ways.
CHUNK = 64 * 1024
#: ECR's (and distribution's) manifest size limit.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
#: An idle keep-alive connection (or a stalled upload) is closed after this long.
CLIENT_TIMEOUT = 300.0
#: How soon `stop` takes effect (serve_forever's poll interval).
SHUTDOWN_POLL = 0.1
REALM = "conveyor-registry"
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailers", "transfer-encoding", "upgrade", "expect"})
READS = ("GET", "HEAD")
#: Headers distribution would build its URLs (Location) from instead of Host: the client's are
#: dropped, so only the checked Host names where uploads go.
FORWARDING = frozenset({"forwarded", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port",
                        "x-forwarded-for", "x-real-ip"})


class _ClientGone(Exception):
    """The client stopped sending mid-body (closed, reset or timed out)."""


def registry_error(code: str, message: str, detail: str | None = None) -> bytes:
    """The distribution spec's error body, which podman and docker print as "<code>: message"."""
    error = {"code": code, "message": message}
    if detail:
        error["detail"] = detail
    return json.dumps({"errors": [error]}).encode()


class RegistryProxy:
    def __init__(self, backend: Backend, store: RepositoryStore, token: str, *,
                 host: str = LOCAL_IP, port: int = DEFAULT_PORT, create_on_push: bool = True,
                 account: str = DEFAULT_ACCOUNT_ID, allow_hosts: Iterable[str] = ()):
        self.backend, self.store = backend, store
        self.host, self.port = host, port
        self.create_on_push = create_on_push
        self.account = account
        self._credentials = f"{LOGIN_USER}:{token}".encode()
        self._names: list[str] = list(allow_hosts)
        self.allowed: AllowedHosts = allowed_hosts(host, self._names)
        self._servers: list[ThreadingHTTPServer] = []
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        #: Writes in flight, closed while blobs are garbage-collected (gc.py): refused with 503.
        self.gate = WriteGate()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> None:
        self.port = self._listen(self.host, self.port)

    def add_listener(self, host: str, port: int, names: Iterable[str] = ()) -> str:
        """Answer on `host:port` too (an ECR alias's address), with the same auth, tag
        immutability and repository locks, and accept `names` (the alias's host name) in Host
        headers from then on; returns the address. OSError when it cannot bind."""
        address = f"{host}:{self._listen(host, port)}"
        self._names += [host, *names]
        self.allowed = allowed_hosts(self.host, self._names)
        return address

    def _listen(self, host: str, port: int) -> int:
        server = ThreadingHTTPServer((host, port), _Handler)
        server.daemon_threads = True
        server.proxy = self  # type: ignore[attr-defined]
        self._servers.append(server)
        port = server.server_address[1]
        threading.Thread(target=server.serve_forever, args=(SHUTDOWN_POLL,),
                         name=f"registry-proxy-{host}:{port}", daemon=True).start()
        log.info("registry proxy listening on %s:%d", host, port)
        return port

    def stop(self) -> None:
        servers, self._servers = self._servers, []
        for server in servers:
            server.shutdown()
            server.server_close()

    def authorized(self, header: str | None) -> bool:
        scheme, _, value = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(value.strip(), validate=True)
        except ValueError:
            return False
        return hmac.compare_digest(given, self._credentials)

    def write_refusal(self, name: str) -> tuple[int, bytes] | None:
        """Why a write to repository `name` (a name of the API's grammar) cannot start, or None."""
        if self.store.repository(name) is not None:
            return None
        if not self.create_on_push:
            return 404, registry_error("NAME_UNKNOWN", f"The repository with name '{name}' does "
                                       f"not exist in the registry with id '{self.account}'")
        if not REPOSITORY_NAME.fullmatch(name) or not 2 <= len(name) <= 256:
            return 400, registry_error("NAME_INVALID", f"Invalid repository name '{name}'")
        return None

    def repository_lock(self, name: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(name, threading.Lock())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "conveyor-registry"
    timeout = CLIENT_TIMEOUT
    _writing = False  # a write this handler counted in the gate and has not ended yet

    @property
    def proxy(self) -> RegistryProxy:
        return self.server.proxy  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        started, self._status = time.monotonic(), 0
        self._route: Route | None = None
        try:
            self._handle()
        except (_ClientGone, OSError, http.client.HTTPException):
            self.close_connection = True  # either side dropped mid-stream: nothing to answer
        finally:
            # the checked path only: the query holds upload state, an unchecked path is the client's text
            path = self._route.path if self._route else "(path not checked)"
            log.info("%s %s %s %.0fms", self.command, path, self._status or "-",
                     (time.monotonic() - started) * 1000)

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args) -> None:
        log.debug(format, *args)

    def _handle(self) -> None:
        hosts = self.headers.get_all("Host") or []
        if len(hosts) > 1 or not host_allowed(hosts[0] if hosts else None, self.proxy.allowed):
            self._reply(403, registry_error(
                "DENIED", "this registry does not answer for that host name",
                "use 127.0.0.1:PORT, localhost:PORT, the local ECR-style host (…localhost:PORT) "
                "or an ECR alias from `conveyor setup --ecr-alias`"))
            return
        framing = self._framing_problem()
        if framing:
            self.close_connection = True  # where this request's body ends is unknown
            self._reply(400, registry_error("SIZE_INVALID", framing))
            return
        if not self.proxy.authorized(self.headers["Authorization"]):
            self._reply(401, registry_error("UNAUTHORIZED", "authentication required",
                                            f"log in as {LOGIN_USER} with the registry token"),
                        {"WWW-Authenticate": f'Basic realm="{REALM}"'})
            return
        try:
            route = parse_target(self.path)
        except BadRequest as exc:
            self._reply(exc.status, registry_error(exc.code, exc.message))
            return
        self._route = route
        if self.command not in READS and route.name is not None:
            refusal = self.proxy.write_refusal(route.name)
            if refusal:
                self._reply(*refusal)
                return
        if self.command in READS:
            self._dispatch(route)
            return
        if not self.proxy.gate.enter():
            self._reply(503, registry_error("UNAVAILABLE", "the registry is collecting garbage; retry shortly"),
                        {"Retry-After": str(RETRY_AFTER)})
            return
        self._writing = True
        try:
            self._dispatch(route)
        finally:
            self._end_write()

    def _end_write(self) -> None:
        """The write is over once the registry has answered it and the push is recorded: then,
        before the client hears the answer (a client that acts on it, say by starting a
        collection, never finds its own write still counted), or when the handler ends."""
        if self._writing:
            self._writing = False
            self.proxy.gate.leave()

    def _dispatch(self, route: Route) -> None:
        if route.kind == "manifests" and self.command == "PUT":
            self._put_manifest(route)
            return

        def forget(status: int) -> None:
            if (route.kind == "manifests" and self.command == "DELETE" and status == 202
                    and route.name and route.reference):
                self.proxy.store.forget_image(route.name, route.reference)

        self._forward(route.target, self._request_body(), before_reply=forget)

    def _put_manifest(self, route: Route) -> None:
        name, reference, tag = route.name, route.reference, route.tag
        assert name is not None and reference is not None
        body = self._read_all(MAX_MANIFEST_BYTES)
        if body is None:
            self._reply(400, registry_error("MANIFEST_INVALID", "manifest is larger than 4 MiB"))
            return
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        store = self.proxy.store
        with self.proxy.repository_lock(name):
            if tag is not None:
                repo = store.repository(name)
                policy = repo.policy if repo else TagPolicy()
                try:
                    current = self.proxy.backend.manifest_digest(name, tag)
                except BackendUnavailable as exc:
                    self._reply(503, registry_error("UNAVAILABLE", str(exc)))
                    return
                rejection = check_push(policy, {tag: current} if current else {}, tag, digest,
                                       repository=name)
                if rejection is not None:
                    store.record_rejection(name, tag, digest, rejection.message)
                    log.warning("refused %s:%s -> %s: %s", name, tag, digest, rejection.message)
                    self._reply(400, registry_error(rejection.registry_code, rejection.message,
                                                    rejection.hint))
                    return

            def record(status: int) -> None:
                if status == 201:
                    store.record_push(name, tag, digest if tag else reference,
                                      size=image_size(body),
                                      media_type=self.headers.get("Content-Type"))

            self._forward(route.target, (iter([body]), len(body)), before_reply=record)

    # -- bodies
    def _framing_problem(self) -> str | None:
        """Why the request's body framing is not plain (one Content-Length of digits, or
        Transfer-Encoding: chunked alone); None when it is. Anything else is how requests are
        smuggled past a proxy, and no registry client sends it."""
        encodings = self.headers.get_all("Transfer-Encoding") or []
        lengths = [v.strip() for v in self.headers.get_all("Content-Length") or []]
        if encodings:
            codings = [c.strip().lower() for c in ",".join(encodings).split(",")]
            if codings != ["chunked"] or lengths:
                return "only Transfer-Encoding: chunked is supported, and not with Content-Length"
        elif lengths and (len(set(lengths)) > 1 or not lengths[0].isdigit() or not lengths[0].isascii()):
            return "malformed Content-Length"
        return None

    def _has_body(self) -> bool:
        return bool(self.headers.get("Transfer-Encoding")) or (self.headers.get("Content-Length") or "0").strip() != "0"

    def _request_body(self) -> tuple[Iterator[bytes], int | None] | None:
        if self.headers.get("Transfer-Encoding"):  # chunked: _framing_problem refused the rest
            return self._read_chunked(), None
        length = int(self.headers.get("Content-Length") or 0)
        return (self._read_exact(length), length) if length else None

    def _read_exact(self, length: int) -> Iterator[bytes]:
        while length > 0:
            try:
                piece = self.rfile.read(min(CHUNK, length))
            except OSError as exc:
                raise _ClientGone(str(exc)) from exc
            if not piece:
                raise _ClientGone("closed mid-body")
            length -= len(piece)
            yield piece

    def _read_chunked(self) -> Iterator[bytes]:
        while True:
            try:
                size = int(self._line().split(b";")[0].strip(), 16)
            except ValueError as exc:
                raise _ClientGone("malformed chunked body") from exc
            if size == 0:
                while self._line() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return
            yield from self._read_exact(size)
            self._line()  # the CRLF after each chunk

    def _line(self) -> bytes:
        try:
            return self.rfile.readline(1024)
        except OSError as exc:
            raise _ClientGone(str(exc)) from exc

    def _read_all(self, limit: int) -> bytes | None:
        body = self._request_body()
        data = bytearray()
        for piece in body[0] if body else ():
            data += piece
            if len(data) > limit:
                self.close_connection = True
                return None
        return bytes(data)

    # -- the backend
    def _forward(self, target: str, body: tuple[Iterator[bytes], int | None] | None,
                 before_reply: Callable[[int], None] | None = None) -> int:
        """Send the request on, to the checked `target`; `before_reply(status)` runs before the
        client sees the answer, so a push the client saw succeed is always recorded."""
        pieces, length = body if body is not None else (None, None)
        conn = self.proxy.backend.connection()
        try:
            conn.putrequest(self.command, target, skip_host=True, skip_accept_encoding=True)
            for key, value in self.headers.items():
                if key.lower() not in HOP_BY_HOP | FORWARDING | {"authorization", "content-length", "host"}:
                    conn.putheader(key, value)
            conn.putheader("Host", self.headers.get("Host") or self.proxy.address)
            if pieces is None and self.command in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", "0")
            elif pieces is not None and length is not None:
                conn.putheader("Content-Length", str(length))
            elif pieces is not None:
                conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for piece in pieces or ():
                conn.send(piece if length is not None else b"%x\r\n%s\r\n" % (len(piece), piece))
            if pieces is not None and length is None:
                conn.send(b"0\r\n\r\n")
            resp = conn.getresponse()
        except OSError as exc:
            conn.close()
            log.warning("backend unavailable for %s %s: %s", self.command,
                        target.partition("?")[0], exc)
            return self._reply(503, registry_error("UNAVAILABLE", "the registry is restarting; "
                                                   "try again in a few seconds"))
        try:
            if before_reply is not None:
                before_reply(resp.status)
            self._end_write()
            return self._relay(resp)
        finally:
            conn.close()

    def _relay(self, resp) -> int:
        self._status = resp.status
        self.send_response_only(resp.status, resp.reason)
        length = resp.getheader("Content-Length")
        bodiless = self.command == "HEAD" or resp.status in (204, 304) or resp.status < 200
        for key, value in resp.getheaders():
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        chunked = not bodiless and length is None
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if bodiless:
            return resp.status
        while piece := resp.read(CHUNK):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
        return resp.status

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> int:
        self._status = status
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if self.close_connection or (status >= 400 and (self.command not in READS or self._has_body())):
            self.close_connection = True  # an unread request body may follow
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return status
