"""One AWS environment's clients, and the one place every AWS call goes through: botocore's
standard retry mode (throttling and 5xx retried with jittered exponential back-off) underneath,
errors translated into Conveyor's tree on the way out, and every call recorded in a CallLog (for
`GET /api/v1/daemon`, the IAM policy check and bench/aws_calls.py).

    api = AwsApi(AwsEnvironment.from_settings("production", {"region": "eu-west-1"}))
    api.call("ecs", "DescribeServices", cluster="conveyor-production", services=["orders"])

Credentials come from boto3's standard chain (environment, shared config and profiles, SSO,
container and instance roles); `profile` picks a named profile, `roleArn` assumes a role on top
(cross-account), its credentials refreshed before they expire.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from conveyor.providers.aws.errors import boto3_missing, translate
from conveyor.providers.aws.settings import AwsEnvironment

#: botocore's standard retry mode: 8 attempts with jittered exponential back-off (≤ 20 s apart).
MAX_ATTEMPTS = 8
ROLE_SESSION_NAME = "conveyor"


@dataclass
class CallLog:
    """Every AWS call made: (service, operation, params), in order, and counts."""

    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, service: str, operation: str, params: dict[str, Any]) -> None:
        with self.lock:
            self.calls.append((service, operation, params))

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(f"{s}:{o}" for s, o, _ in self.calls)

    def operations(self) -> set[tuple[str, str]]:
        with self.lock:
            return {(s, o) for s, o, _ in self.calls}


def boto3_module() -> Any:
    try:
        import boto3
    except ImportError:
        raise boto3_missing() from None
    return boto3


def make_session(env: AwsEnvironment) -> Any:
    """A boto3 session for the environment: its profile and region, and its role assumed."""
    boto3 = boto3_module()
    base = boto3.Session(profile_name=env.profile, region_name=env.region)
    if not env.role_arn:
        return base
    import botocore.session
    from botocore.credentials import RefreshableCredentials

    sts = base.client("sts")
    role_arn = env.role_arn

    def assume() -> dict[str, str]:
        try:
            creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=ROLE_SESSION_NAME)["Credentials"]
        except Exception as exc:
            raise translate(exc, "sts", "AssumeRole") from exc
        return {"access_key": creds["AccessKeyId"], "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"], "expiry_time": creds["Expiration"].isoformat()}

    assumed = botocore.session.get_session()
    assumed._credentials = RefreshableCredentials.create_from_metadata(  # the documented way to refresh
        metadata=assume(), refresh_using=assume, method="sts-assume-role")
    assumed.set_config_variable("region", env.region)
    return boto3.Session(botocore_session=assumed)


class AwsApi:
    def __init__(self, env: AwsEnvironment, *, session: Any = None, log: CallLog | None = None):
        self.env = env
        self.log = log if log is not None else CallLog()
        self._session = session
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                from botocore.config import Config

                if self._session is None:
                    self._session = make_session(self.env)
                client = self._session.client(service, region_name=self.env.region, config=Config(
                    retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS}, user_agent_extra="conveyor"))
                client.meta.events.register("before-parameter-build", self._recorder(service))
                self._clients[service] = client
            return self._clients[service]

    def _recorder(self, service: str) -> Any:
        def record(model: Any, params: Any, **_: Any) -> None:
            self.log.record(service, model.name, dict(params))
        return record

    def call(self, service: str, operation: str, /, **params: Any) -> dict[str, Any]:
        """`operation` (AWS's name, e.g. "DescribeServices") with `params`; its response. Positional-only,
        so that an operation's own `service` parameter (UpdateService, ListServiceDeployments) passes."""
        from botocore import xform_name

        client = self.client(service)
        try:
            response: dict[str, Any] = getattr(client, xform_name(operation))(**params)
        except Exception as exc:
            raise translate(exc, service, operation) from exc
        return response

    def pages(self, service: str, operation: str, key: str, /, **params: Any) -> Iterator[Any]:
        """Every item under `key` across the operation's pages."""
        from botocore import xform_name

        paginator = self.client(service).get_paginator(xform_name(operation))
        try:
            for page in paginator.paginate(**params):
                yield from page.get(key, [])
        except Exception as exc:
            raise translate(exc, service, operation) from exc
