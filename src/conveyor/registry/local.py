"""The whole local registry as the daemon runs it: the supervised distribution registry, the
authenticating proxy in front of it, and the repository store.

    registry = LocalRegistry(home, port=5000)
    registry.start()                       # returns when pushes are accepted on 127.0.0.1:5000
    registry.repository_uri("orders")      # '000000000000.dkr.ecr.us-east-1.localhost:5000/orders'
    registry.store.images("orders")
    registry.stop()

With ECR aliases (aliases.py) the proxy also answers on each alias's address, port 80; an
address it cannot bind is logged with the fix and left out of `served_aliases` (and so of
registry.json, so builds are not told about an alias nobody answers for).
"""

from __future__ import annotations

import base64
import errno
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from conveyor.registry import uris
from conveyor.registry.aliases import ALIAS_PORT, EcrAlias, build_env
from conveyor.registry.proxy import RegistryProxy
from conveyor.registry.repositories import RepositoryStore
from conveyor.registry.service import (
    LOGIN_USER,
    RegistryService,
    SecretFilter,
    read_or_create_token,
    registry_dir,
)

log = logging.getLogger("conveyor.registry")


def store_path(home: Path) -> Path:
    return Path(home) / "registry.db"


class LocalRegistry:
    def __init__(self, home: Path, port: int = uris.DEFAULT_PORT, *,
                 account: str = uris.DEFAULT_ACCOUNT_ID, region: str = uris.DEFAULT_REGION,
                 create_on_push: bool = True, aliases: Sequence[EcrAlias] = (),
                 alias_port: int = ALIAS_PORT):
        self.home = Path(home)
        self.account, self.region = account, region
        self.aliases, self.alias_port = list(aliases), alias_port
        self.served_aliases: list[EcrAlias] = []
        self.service = RegistryService(self.home)
        self.store = RepositoryStore(store_path(self.home), backend=self.service.backend)
        self.token = read_or_create_token(self.home)
        self.proxy = RegistryProxy(self.service.backend, self.store, self.token, port=port,
                                   create_on_push=create_on_push, account=account)

    @property
    def port(self) -> int:
        return self.proxy.port

    @property
    def address(self) -> str:
        """`127.0.0.1:PORT`, what podman pushes to without any setup."""
        return self.proxy.address

    def log_filter(self) -> SecretFilter:
        """Put this on the daemon's log handlers: the token is masked in every line."""
        return SecretFilter(self.token)

    def repository_uri(self, name: str) -> str:
        return uris.repository_uri(name, self.port, self.account, self.region)

    def start(self) -> None:
        self.service.start()
        try:
            self.proxy.start()
        except OSError:
            self.service.stop()
            raise
        self._serve_aliases()

    def _serve_aliases(self) -> None:
        for ip in dict.fromkeys(alias.ip for alias in self.aliases):
            names = [alias for alias in self.aliases if alias.ip == ip]
            try:
                address = self.proxy.add_listener(ip, self.alias_port, [a.host for a in names])
            except OSError as exc:
                log.warning("ECR alias %s is not answered: cannot listen on %s:%d (%s); fix: %s",
                            ", ".join(a.host for a in names), ip, self.alias_port,
                            exc.strerror or exc, alias_bind_fix(exc, ip, self.alias_port))
                continue
            self.served_aliases += names
            for alias in names:
                log.info("ECR alias %s → this registry on %s", alias.host, address)

    def stop(self) -> None:
        self.proxy.stop()
        self.service.stop()
        self.store.close()


def endpoint_path(home: Path) -> Path:
    return Path(home) / "registry.json"


def alias_bind_fix(exc: OSError, ip: str, port: int = ALIAS_PORT) -> str:
    if exc.errno == errno.EACCES:
        return (f"run the daemon as root, or let it bind port {port}: "
                f"sysctl -w net.ipv4.ip_unprivileged_port_start={port}")
    return (f"stop what listens on {ip}:{port}, or move the alias to another address: "
            f"CONVEYOR_ECR_ALIAS_IP=127.0.0.3 conveyor setup --ecr-alias HOST; then restart the "
            f"daemon")


def write_endpoint(registry: LocalRegistry) -> None:
    """What builds need to reach the running registry (the token stays in its own 0600 file),
    and the auth file task starts pull with (write_pull_auth)."""
    endpoint_path(registry.home).write_text(json.dumps({
        "address": registry.address, "port": registry.port, "account": registry.account,
        "region": registry.region, "host": uris.ecr_host(registry.account, registry.region, registry.port),
        "aliases": [alias.to_json() for alias in registry.served_aliases]}))
    write_pull_auth(registry)


def pull_auth_path(home: Path) -> Path:
    return registry_dir(Path(home)) / "pull-auth.json"


def registry_hosts(registry: LocalRegistry) -> list[str]:
    """Every host name under which the running registry is reached: its address, localhost,
    the local ECR-style host and each ECR alias it serves."""
    port = registry.port
    return [registry.address, f"localhost:{port}", uris.ecr_host(registry.account, registry.region, port),
            *(alias.host for alias in registry.served_aliases)]


def write_pull_auth(registry: LocalRegistry) -> Path:
    """containers-auth.json(5) with the registry's credentials for each of its host names, 0600
    in the 0700 registry directory: what `podman run --authfile` reads when a task's image is
    pulled from this registry (reads need the login, as on ECR). Replaced atomically, so a
    task starting meanwhile reads the old file or the new one."""
    auth = base64.b64encode(f"{LOGIN_USER}:{registry.token}".encode()).decode()
    text = json.dumps({"auths": {host: {"auth": auth} for host in registry_hosts(registry)}})
    path = pull_auth_path(registry.home)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    return path


def pull_authfile(home: Path, image: str) -> str | None:
    """The auth file to pull `image` with when it lives in this data directory's registry (its
    host is one the file has credentials for), else None: other registries keep the engine's
    own credentials (podman's default auth file)."""
    path = pull_auth_path(home)
    host = image.partition("/")[0].lower() if "/" in image else ""
    try:
        auths = json.loads(path.read_text()).get("auths") or {}
    except (OSError, ValueError, AttributeError):
        return None
    return str(path) if host and host in {h.lower() for h in auths} else None


def read_endpoint(home: Path) -> dict | None:
    try:
        return json.loads(endpoint_path(home).read_text())
    except (OSError, ValueError):
        return None


def endpoint_aliases(endpoint: dict) -> list[EcrAlias]:
    """The ECR aliases the running registry answers for, as registry.json lists them."""
    try:
        return [EcrAlias.from_json(alias) for alias in endpoint.get("aliases") or []]
    except (KeyError, TypeError):
        return []


def registry_env(home: Path) -> dict[str, str]:
    """What a buildspec needs to log in and push to the local registry the ECR way:
    `aws ecr get-login-password | docker login --username AWS --password-stdin $CONVEYOR_REGISTRY`.
    When the registry answers for ECR aliases (`conveyor setup --ecr-alias`), the first one's
    account and region too, so `$AWS_ACCOUNT_ID.dkr.ecr.$AWS_DEFAULT_REGION.amazonaws.com` is
    that alias (aliases.build_env)."""
    endpoint = read_endpoint(home)
    if endpoint is None:
        return {}
    return {"CONVEYOR_REGISTRY": endpoint["host"], "CONVEYOR_REGISTRY_ADDRESS": endpoint["address"],
            "CONVEYOR_REGISTRY_PASSWORD": read_or_create_token(home), "AWS_ACCOUNT_ID": endpoint["account"],
            **build_env(endpoint_aliases(endpoint), endpoint["host"])}
