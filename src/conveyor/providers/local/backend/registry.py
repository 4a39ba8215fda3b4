"""ECR over the local registry (distribution behind Conveyor's proxy)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conveyor.backend.types import (
    ImageDetail,
    RegistryLogin,
    Repository,
)
from conveyor.errors import ConveyorError, NotFound, UserError
from conveyor.registry.local import registry_env


class LocalImageRegistry:
    """The local registry (distribution behind Conveyor's proxy) as ECR."""

    def __init__(self, registry: Any, home: Path):
        self._registry = registry  # conveyor.registry.local.LocalRegistry
        self._home = Path(home)

    def repository_uri(self, repository: str) -> str:
        return self._registry.repository_uri(repository)

    def login(self) -> RegistryLogin:
        env = registry_env(self._home)
        return RegistryLogin(server=env.get("CONVEYOR_REGISTRY", self._registry.address), username="AWS",
                             password=self._registry.token, env=env)

    def describe_repositories(self) -> list[Repository]:
        return [self._repository(r) for r in self._registry.store.repositories()]

    def describe_images(self, repository: str) -> list[ImageDetail]:
        if not any(r.name == repository for r in self._registry.store.repositories()):
            raise NotFound(f"no repository '{repository}' in the local registry",
                           hint="push an image to it, or declare it under `repositories:` in conveyor.yml")
        return [ImageDetail(repository=i.repository, digest=i.digest, tags=tuple(i.tags),
                            pushed_at=i.to_json()["imagePushedAt"], size=i.size, media_type=i.media_type)
                for i in self._registry.store.images(repository)]

    def ensure_repository(self, name: str, *, tag_mutability: str = "MUTABLE",
                          exclusion_filters: tuple[dict, ...] = (),
                          lifecycle_policy: dict | None = None, scan_on_push: bool = False) -> Repository:
        """Local images are not scanned: `scan_on_push` is recorded by ECR only."""
        try:
            self._registry.store.declare(name, tag_mutability, exclusion_filters, lifecycle_policy)
        except (ValueError, ConveyorError) as exc:
            raise UserError(f"repositories.{name}: {exc}") from None
        return next(self._repository(r) for r in self._registry.store.repositories() if r.name == name)

    @property
    def address(self) -> str:
        return self._registry.address

    def _repository(self, r: Any) -> Repository:
        data = r.to_json()
        return Repository(name=r.name, uri=self._registry.repository_uri(r.name), tag_mutability=r.mutability,
                          exclusion_filters=tuple(dict(f) for f in r.exclusion_filters),
                          lifecycle_policy=r.lifecycle_policy, declared=r.declared, created_at=data["createdAt"])
