"""ECR (conveyor.backend.interface.ImageRegistry) in one account and region: where builds push,
the login they use, repositories with their settings, and their images.

    ecr = AwsRegistry(AwsApi(AwsEnvironment.from_settings("registry", {"region": "eu-west-1"})))
    ecr.repository_uri("orders")      # '123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders'
    ecr.login().env                   # CONVEYOR_REGISTRY, …_PASSWORD, AWS_ACCOUNT_ID, AWS_DEFAULT_REGION, …

AWS calls per method:
    repository_uri         sts:GetCallerIdentity (once: the account is cached)
    login                  ecr:GetAuthorizationToken
    describe_repositories  ecr:DescribeRepositories, ecr:GetLifecyclePolicy (per repository)
    describe_images        ecr:DescribeImages
    ensure_repository      ecr:DescribeRepositories, then ecr:CreateRepository, or
                           ecr:PutImageTagMutability / ecr:PutImageScanningConfiguration where the
                           settings differ; with a lifecycle policy ecr:GetLifecyclePolicy and
                           ecr:PutLifecyclePolicy when it differs
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from conveyor.backend.types import ImageDetail, RegistryLogin, Repository
from conveyor.errors import NotFound
from conveyor.providers.aws.api import AwsApi
from conveyor.providers.aws.errors import AwsError

#: The registry host's domain per AWS partition (`ACCOUNT.dkr.ecr.REGION.DOMAIN`).
DOMAINS = {"aws": "amazonaws.com", "aws-cn": "amazonaws.com.cn"}
USERNAME = "AWS"


def iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else None


class AwsRegistry:
    def __init__(self, api: AwsApi):
        self._api = api
        self._account: str | None = None
        self._lock = threading.Lock()

    @property
    def account(self) -> str:
        """The account of the credentials (STS GetCallerIdentity, asked once)."""
        with self._lock:
            if self._account is None:
                self._account = str(self._api.call("sts", "GetCallerIdentity")["Account"])
            return self._account

    @property
    def host(self) -> str:
        domain = DOMAINS.get(self._api.client("ecr").meta.partition, DOMAINS["aws"])
        return f"{self.account}.dkr.ecr.{self._api.env.region}.{domain}"

    def repository_uri(self, repository: str) -> str:
        return f"{self.host}/{repository}"

    def login(self) -> RegistryLogin:
        """GetAuthorizationToken's token ("AWS:password" in base64, valid 12 hours) for
        `docker login --username AWS --password-stdin SERVER`, and the variables a build gets
        (as the local registry gives them: conveyor.registry.local.registry_env)."""
        data = self._api.call("ecr", "GetAuthorizationToken")["authorizationData"][0]
        username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
        server = urlparse(str(data["proxyEndpoint"])).netloc or str(data["proxyEndpoint"])
        account = server.split(".", 1)[0] if server.split(".", 1)[0].isdigit() else self.account
        region = self._api.env.region
        env = {"CONVEYOR_REGISTRY": server, "CONVEYOR_REGISTRY_ADDRESS": server, "CONVEYOR_REGISTRY_PASSWORD": password,
               "AWS_ACCOUNT_ID": account, "AWS_DEFAULT_REGION": region, "AWS_REGION": region}
        return RegistryLogin(server=server, username=username or USERNAME, password=password, env=env)

    def describe_repositories(self) -> list[Repository]:
        return [self._repository(r, self._lifecycle_policy(str(r["repositoryName"])))
                for r in self._api.pages("ecr", "DescribeRepositories", "repositories")]

    def describe_images(self, repository: str) -> list[ImageDetail]:
        """Images of one repository, newest push first."""
        try:
            details = list(self._api.pages("ecr", "DescribeImages", "imageDetails", repositoryName=repository))
        except NotFound:
            raise NotFound(f"no repository '{repository}' in ECR ({self._api.env.region})",
                           hint="declare it under `repositories:` in conveyor.yml, or create it") from None
        details.sort(key=lambda d: d.get("imagePushedAt").timestamp() if d.get("imagePushedAt") else 0.0,
                     reverse=True)
        return [ImageDetail(repository=repository, digest=str(d["imageDigest"]), tags=tuple(d.get("imageTags") or ()),
                            pushed_at=iso(d.get("imagePushedAt")), size=d.get("imageSizeInBytes"),
                            media_type=d.get("imageManifestMediaType")) for d in details]

    def ensure_repository(self, name: str, *, tag_mutability: str = "MUTABLE",
                          exclusion_filters: tuple[dict[str, Any], ...] = (),
                          lifecycle_policy: dict[str, Any] | None = None, scan_on_push: bool = False) -> Repository:
        """CreateRepository with these settings, or bring an existing one's to them; a lifecycle
        policy is put when given and different (none given leaves the repository's as it is)."""
        filters = [dict(f) for f in exclusion_filters]
        existing = self._describe(name)
        if existing is None:
            params: dict[str, Any] = {"repositoryName": name, "imageTagMutability": tag_mutability,
                                      "imageScanningConfiguration": {"scanOnPush": scan_on_push}}
            if filters:
                params["imageTagMutabilityExclusionFilters"] = filters
            try:
                existing = self._api.call("ecr", "CreateRepository", **params)["repository"]
            except AwsError as exc:
                if exc.code != "RepositoryAlreadyExistsException":  # created meanwhile: bring it to the settings
                    raise
                existing = self._describe(name)
                if existing is None:
                    raise
        if (existing.get("imageTagMutability"), existing.get("imageTagMutabilityExclusionFilters") or []) != (
                tag_mutability, filters):
            params = {"repositoryName": name, "imageTagMutability": tag_mutability}
            if filters:
                params["imageTagMutabilityExclusionFilters"] = filters
            self._api.call("ecr", "PutImageTagMutability", **params)
        if bool((existing.get("imageScanningConfiguration") or {}).get("scanOnPush")) != scan_on_push:
            self._api.call("ecr", "PutImageScanningConfiguration", repositoryName=name,
                           imageScanningConfiguration={"scanOnPush": scan_on_push})
        policy = self._lifecycle_policy(name)
        if lifecycle_policy is not None and policy != lifecycle_policy:
            self._api.call("ecr", "PutLifecyclePolicy", repositoryName=name,
                           lifecyclePolicyText=json.dumps(lifecycle_policy))
            policy = lifecycle_policy
        settings = {**existing, "imageTagMutability": tag_mutability, "imageTagMutabilityExclusionFilters": filters,
                    "imageScanningConfiguration": {"scanOnPush": scan_on_push}}
        return self._repository(settings, policy)

    def _describe(self, name: str) -> dict[str, Any] | None:
        try:
            found = self._api.call("ecr", "DescribeRepositories", repositoryNames=[name])["repositories"]
        except NotFound:  # RepositoryNotFoundException
            return None
        return dict(found[0]) if found else None

    def _lifecycle_policy(self, name: str) -> dict[str, Any] | None:
        try:
            text = self._api.call("ecr", "GetLifecyclePolicy", repositoryName=name).get("lifecyclePolicyText")
        except NotFound:  # LifecyclePolicyNotFoundException
            return None
        return json.loads(text) if text else None

    def _repository(self, r: Mapping[str, Any], policy: dict[str, Any] | None) -> Repository:
        name = str(r["repositoryName"])
        return Repository(name=name, uri=str(r.get("repositoryUri") or self.repository_uri(name)),
                          tag_mutability=str(r.get("imageTagMutability") or "MUTABLE"),
                          exclusion_filters=tuple(dict(f) for f in r.get("imageTagMutabilityExclusionFilters") or ()),
                          lifecycle_policy=policy, declared=True, created_at=iso(r.get("createdAt")),
                          scan_on_push=bool((r.get("imageScanningConfiguration") or {}).get("scanOnPush")))
