"""Where an AWS environment lives, as conveyor.yml says (`environments.<env>` with `target: aws`):
the region, how to get credentials (the standard chain, a named profile, or a role to assume for
another account), and the names of the shared resources its services use.

    >>> s = AwsEnvironment.from_settings("production", {"region": "eu-west-1", "cluster": "orders-prod"})
    >>> s.region, s.cluster, s.codedeploy_application, s.profile
    ('eu-west-1', 'orders-prod', 'conveyor-production', None)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from conveyor.errors import UserError

#: Keys of an environment that only mean something with `target: aws`.
AWS_ENVIRONMENT_KEYS = ("region", "profile", "roleArn", "cluster", "codeDeployApplication")


@dataclass(frozen=True)
class AwsEnvironment:
    name: str
    region: str
    profile: str | None = None
    role_arn: str | None = None
    cluster: str = ""
    codedeploy_application: str = ""

    @classmethod
    def from_settings(cls, environment: str, settings: Mapping[str, Any]) -> AwsEnvironment:
        region = settings.get("region")
        if not region:
            raise UserError(f"environment {environment} has target: aws but no region",
                            hint=f"add environments.{environment}.region (e.g. eu-west-1) to conveyor.yml")
        return cls(name=environment, region=str(region), profile=settings.get("profile") or None,
                   role_arn=settings.get("roleArn") or None,
                   cluster=str(settings.get("cluster") or f"conveyor-{environment}"),
                   codedeploy_application=str(settings.get("codeDeployApplication") or f"conveyor-{environment}"))

    @property
    def credentials_key(self) -> tuple[str, str | None, str | None]:
        """Environments with the same key share one session (and its cached credentials)."""
        return self.region, self.profile, self.role_arn
