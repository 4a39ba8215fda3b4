"""Talking to the distribution registry behind the proxy (the "backend") over its UNIX socket.

The backend listens on a socket in a 0700 directory, not on a TCP port: nothing on the machine can
push to it past the proxy, so tag immutability cannot be bypassed (and there is no port to pick).

    backend = Backend(Path("~/.conveyor/registry/backend.sock"))
    backend.ping()                                    # -> True when GET /v2/ answers 200
    backend.manifest_digest("orders", "v1")           # -> "sha256:…" or None
    backend.delete_manifest("orders", "sha256:…")     # -> True if it existed

Errors: BackendUnavailable (a ConveyorError) when the socket does not answer.
"""

from __future__ import annotations

import http.client
import socket
from pathlib import Path

from conveyor.errors import ConveyorError

#: Every manifest type a HEAD must accept, or distribution 2.8 answers for a converted schema-1
#: manifest (another digest) instead of the stored bytes (OCI image-spec, Docker image spec v2.2).
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
#: How long one backend request may stall (a blob chunk, a manifest HEAD).
BACKEND_TIMEOUT = 60.0
#: How long a health check may take.
PING_TIMEOUT = 2.0


class BackendUnavailable(ConveyorError):
    def __init__(self, socket_path: Path, reason: str):
        super().__init__(f"the registry backend at {socket_path} is not answering: {reason}",
                         hint="it is restarted automatically; see registry/registry.log")


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a UNIX socket; `host` only fills the Host header."""

    def __init__(self, socket_path: Path, host: str = "localhost",
                 timeout: float = BACKEND_TIMEOUT):
        super().__init__(host, timeout=timeout)
        self.socket_path = str(socket_path)

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class Backend:
    def __init__(self, socket_path: Path):
        self.socket_path = Path(socket_path)

    def connection(self, timeout: float = BACKEND_TIMEOUT) -> UnixHTTPConnection:
        return UnixHTTPConnection(self.socket_path, timeout=timeout)

    def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                timeout: float = BACKEND_TIMEOUT) -> tuple[int, dict[str, str], bytes]:
        """One small request (no streaming): status, headers (lower-case names), body."""
        conn = self.connection(timeout)
        try:
            conn.request(method, path, headers=headers or {})
            resp = conn.getresponse()
            body = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
        except OSError as exc:
            raise BackendUnavailable(self.socket_path, str(exc) or type(exc).__name__) from exc
        finally:
            conn.close()

    def ping(self, timeout: float = PING_TIMEOUT) -> bool:
        try:
            return self.request("GET", "/v2/", timeout=timeout)[0] == 200
        except BackendUnavailable:
            return False

    def manifest_digest(self, name: str, reference: str) -> str | None:
        """The digest `name:reference` points at now, or None if there is no such manifest."""
        status, headers, _ = self.request("HEAD", f"/v2/{name}/manifests/{reference}",
                                          {"Accept": ", ".join(MANIFEST_TYPES)})
        if status == 200:
            return headers.get("docker-content-digest")
        if status == 404:
            return None
        raise BackendUnavailable(self.socket_path, f"HEAD {name}:{reference} answered {status}")

    def delete_manifest(self, name: str, digest: str) -> bool:
        """Delete a manifest (and every tag on it); False if it was not there."""
        status, _, body = self.request("DELETE", f"/v2/{name}/manifests/{digest}")
        if status == 202:
            return True
        if status == 404:
            return False
        raise ConveyorError(f"deleting {name}@{digest} failed: HTTP {status} "
                            f"{body[:200].decode(errors='replace')}")
