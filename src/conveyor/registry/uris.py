"""Where the local registry is, and how ECR-style image URIs map onto it. Pure: nothing here
touches the machine; `conveyor setup` writes the texts these functions return.

Three spellings of one image:

    ECR (AWS)        123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders:v1
    local ECR-style  000000000000.dkr.ecr.us-east-1.localhost:5000/orders:v1
    local plain      127.0.0.1:5000/orders:v1

    >>> repository_uri("orders")
    '000000000000.dkr.ecr.us-east-1.localhost:5000/orders'
    >>> to_local("123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders:v1")
    '127.0.0.1:5000/orders:v1'
    >>> to_ecr("127.0.0.1:5000/orders@sha256:ab", account="123456789012", region="eu-west-1")
    '123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders@sha256:ab'

Where each form works:
- plain `127.0.0.1:PORT/REPO` works everywhere on the host with no setup: `podman push
  --tls-verify=false`, and without the flag once REGISTRIES_DROPIN is installed.
- the local ECR-style host resolves through the /etc/hosts line from `hosts_line` (glibc and Go do
  not resolve *.localhost names by themselves) and is plain HTTP through REGISTRIES_DROPIN.
- the docker CLI in a build container talks to podman's Docker-compatible socket, so the *host's*
  podman resolves the name and pulls/pushes: both forms work there, and REGISTRIES_DROPIN is required
  (that API has no --tls-verify). Inside a container 127.0.0.1 is the container itself, so only
  commands executed by the host's engine can reach the registry.
- a real `*.amazonaws.com` host is never redirected (AWS must keep working); `to_local` rewrites
  it instead. The local registry has one namespace: account and region are not part of a name.
  The one exception is opt-in: `conveyor setup --ecr-alias HOST` (aliases.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

#: The port podman, docker and builds push to (the authenticating proxy); the distribution
#: registry's conventional port.
DEFAULT_PORT = 5000
#: The loopback address the proxy listens on; the registry is never exposed beyond the machine.
LOCAL_IP = "127.0.0.1"
#: The account and region of local ECR-style URIs (LocalStack's account id; AWS's default region).
DEFAULT_ACCOUNT_ID = "000000000000"
DEFAULT_REGION = "us-east-1"
#: RFC 6761 reserves .localhost for loopback names, so the local ECR-style host can never be real.
LOCAL_DOMAIN = "localhost"

#: What `conveyor setup` edits or writes.
HOSTS_PATH = Path("/etc/hosts")
REGISTRIES_DROPIN = Path("/etc/containers/registries.conf.d/50-conveyor-registry.conf")
HOSTS_MARKER = "# conveyor local registry"

_ECR_HOST = re.compile(r"(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\."
                       r"(?P<domain>amazonaws\.com(?:\.cn)?|localhost)(?::(?P<port>\d+))?")
_DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")


@dataclass(frozen=True)
class ImageUri:
    """registry host (with port) / repository, then :tag and/or @digest."""

    host: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        out = f"{self.host}/{self.repository}"
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    @property
    def is_ecr(self) -> bool:
        """An ECR host, real or local ECR-style."""
        return _ECR_HOST.fullmatch(self.host) is not None

    @property
    def account(self) -> str | None:
        match = _ECR_HOST.fullmatch(self.host)
        return match["account"] if match else None

    @property
    def region(self) -> str | None:
        match = _ECR_HOST.fullmatch(self.host)
        return match["region"] if match else None


def parse(uri: str) -> ImageUri:
    """Split an image URI that names its registry host; ValueError for a short name.

    >>> parse("127.0.0.1:5000/team/orders:v1")
    ImageUri(host='127.0.0.1:5000', repository='team/orders', tag='v1', digest=None)
    """
    host, sep, rest = uri.partition("/")
    if not sep or not rest or not ("." in host or ":" in host or host == "localhost"):
        raise ValueError(f"'{uri}' does not name a registry host (expected HOST[:PORT]/REPO[:TAG])")
    rest, _, digest = rest.partition("@")
    if digest and not _DIGEST.fullmatch(digest):
        raise ValueError(f"'{uri}': '{digest}' is not a digest (expected sha256:HEX)")
    last = rest.rsplit("/", 1)[-1]
    tag = None
    if ":" in last:
        rest, tag = rest.rsplit(":", 1)
    return ImageUri(host, rest, tag or None, digest or None)


def local_address(port: int = DEFAULT_PORT) -> str:
    return f"{LOCAL_IP}:{port}"


def ecr_host(account: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION,
             port: int | None = None) -> str:
    """The real ECR host, or with `port` the local ECR-style host that resolves to 127.0.0.1.

    >>> ecr_host("123456789012", "eu-west-1"), ecr_host(port=5000)
    ('123456789012.dkr.ecr.eu-west-1.amazonaws.com', '000000000000.dkr.ecr.us-east-1.localhost:5000')
    """
    if port is None:
        return f"{account}.dkr.ecr.{region}.amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{LOCAL_DOMAIN}:{port}"


def repository_uri(name: str, port: int = DEFAULT_PORT, account: str = DEFAULT_ACCOUNT_ID,
                   region: str = DEFAULT_REGION) -> str:
    """ECR's repositoryUri for a local repository (what `image ls` and builds show)."""
    return f"{ecr_host(account, region, port)}/{name}"


def to_local(uri: str, port: int = DEFAULT_PORT) -> str:
    """Any ECR host (real or local ECR-style) or `localhost:PORT` → `127.0.0.1:PORT`; other
    registries are returned unchanged (a Docker Hub image stays what it is)."""
    try:
        ref = parse(uri)
    except ValueError:
        return uri
    if ref.is_ecr or ref.host in (f"localhost:{port}", local_address(port)):
        return str(replace(ref, host=local_address(port)))
    return uri


def to_ecr(uri: str, account: str, region: str) -> str:
    """A local image URI spelled for real ECR (the AWS target pushes there)."""
    return str(replace(parse(uri), host=ecr_host(account, region)))


def is_local(uri: str, port: int = DEFAULT_PORT) -> bool:
    """True when `uri` points at this machine's registry (any of its local spellings)."""
    try:
        host = parse(uri).host
    except ValueError:
        return False
    local = _ECR_HOST.fullmatch(host)
    if local and local["domain"] == LOCAL_DOMAIN:
        return local["port"] == str(port)
    return host in (local_address(port), f"localhost:{port}")


# --- what `conveyor setup` writes ---------------------------------------------------------

def hosts_line(account: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION) -> str:
    """The /etc/hosts line that makes the local ECR-style host resolve (no port in hosts)."""
    return f"{LOCAL_IP}\t{account}.dkr.ecr.{region}.{LOCAL_DOMAIN}\t{HOSTS_MARKER}"


def hosts_with_entry(text: str, account: str = DEFAULT_ACCOUNT_ID,
                     region: str = DEFAULT_REGION) -> str:
    """/etc/hosts `text` with `hosts_line` appended; unchanged if the name already resolves
    somewhere in it (a line the user wrote wins)."""
    name = f"{account}.dkr.ecr.{region}.{LOCAL_DOMAIN}"
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if name in fields[1:]:
            return text
    sep = "" if not text or text.endswith("\n") else "\n"
    return f"{text}{sep}{hosts_line(account, region)}\n"


def registries_dropin(port: int = DEFAULT_PORT, account: str = DEFAULT_ACCOUNT_ID,
                      region: str = DEFAULT_REGION, alias_hosts: Iterable[str] = ()) -> str:
    """registries.conf(5) v2 text marking every local spelling as plain HTTP, for podman and
    the Docker-compatible API (which has no --tls-verify). Goes to REGISTRIES_DROPIN.

    `alias_hosts` are real ECR hosts /etc/hosts sends to this machine (`conveyor setup
    --ecr-alias`, registry/aliases.py): `insecure` makes podman fall back to plain HTTP on
    port 80 for them. Without any, the text is what it was before aliases existed."""
    blocks = [_insecure(host) for host in (local_address(port), f"localhost:{port}",
                                           ecr_host(account, region, port))]
    where = "loopback addresses" if alias_hosts else LOCAL_IP
    header = (f"# Conveyor's local registry (ECR stand-in) speaks plain HTTP on {where} only.\n"
              "# Written by `conveyor setup`.\n\n")
    aliases = [f"# ECR alias (conveyor setup --ecr-alias): /etc/hosts sends it to this machine\n"
               f"{_insecure(host)}" for host in alias_hosts]
    return header + "\n".join([*blocks, *aliases])


def _insecure(host: str) -> str:
    return f'[[registry]]\nlocation = "{host}"\ninsecure = true\n'
