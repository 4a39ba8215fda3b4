"""The whole local registry as the daemon runs it: the supervised distribution registry, the
authenticating proxy in front of it, and the repository store.

    registry = LocalRegistry(home, port=5000)
    registry.start()                       # returns when pushes are accepted on 127.0.0.1:5000
    registry.repository_uri("orders")      # '000000000000.dkr.ecr.us-east-1.localhost:5000/orders'
    registry.store.images("orders")
    registry.stop()
"""

from __future__ import annotations

from pathlib import Path

from conveyor.registry import uris
from conveyor.registry.proxy import RegistryProxy
from conveyor.registry.repositories import RepositoryStore
from conveyor.registry.service import (
    RegistryService,
    SecretFilter,
    read_or_create_token,
)


def store_path(home: Path) -> Path:
    return Path(home) / "registry.db"


class LocalRegistry:
    def __init__(self, home: Path, port: int = uris.DEFAULT_PORT, *,
                 account: str = uris.DEFAULT_ACCOUNT_ID, region: str = uris.DEFAULT_REGION,
                 create_on_push: bool = True):
        self.home = Path(home)
        self.account, self.region = account, region
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

    def stop(self) -> None:
        self.proxy.stop()
        self.service.stop()
        self.store.close()


def endpoint_path(home: Path) -> Path:
    return Path(home) / "registry.json"


def write_endpoint(registry: LocalRegistry) -> None:
    """What builds need to reach the running registry (the token stays in its own 0600 file)."""
    import json

    endpoint_path(registry.home).write_text(json.dumps({
        "address": registry.address, "port": registry.port, "account": registry.account,
        "region": registry.region, "host": uris.ecr_host(registry.account, registry.region, registry.port)}))


def read_endpoint(home: Path) -> dict | None:
    import json

    try:
        return json.loads(endpoint_path(home).read_text())
    except (OSError, ValueError):
        return None
