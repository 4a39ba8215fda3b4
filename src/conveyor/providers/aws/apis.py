"""The AwsApi of every AWS environment, found by name: one session per (region, profile, role),
shared by the environments that have the same one, and one CallLog for them all.

    apis = AwsApis(settings=store.environment_settings)      # environment name -> its settings
    apis.api("production").call("ecs", "DescribeClusters", clusters=["orders-prod"])
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from conveyor.errors import NotFound
from conveyor.providers.aws.api import AwsApi, CallLog, make_session
from conveyor.providers.aws.settings import AwsEnvironment

Settings = Callable[[str], Mapping[str, Any] | None]


class AwsApis:
    def __init__(self, settings: Settings, *, names: Callable[[], list[str]] | None = None,
                 session_factory: Callable[[AwsEnvironment], Any] = make_session, log: CallLog | None = None):
        self._settings = settings
        self._names = names or (lambda: [])
        self._session_factory = session_factory
        self.log = log if log is not None else CallLog()
        self._sessions: dict[tuple[str, str | None, str | None], Any] = {}
        self._apis: dict[str, AwsApi] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        """The AWS environments known so far (deployed to at least once)."""
        return list(self._names())

    def environment(self, name: str) -> AwsEnvironment:
        settings = self._settings(name)
        if settings is None:
            raise NotFound(f"environment '{name}' is not known as an AWS environment",
                           hint="deploy a service there first (its conveyor.yml block says target: aws and region)")
        return AwsEnvironment.from_settings(name, settings)

    def api(self, environment: str) -> AwsApi:
        env = self.environment(environment)
        with self._lock:
            cached = self._apis.get(environment)
            if cached is not None and cached.env == env:
                return cached
        api = AwsApi(env, session=self.session(env), log=self.log)
        with self._lock:
            self._apis[environment] = api
        return api

    def session(self, env: AwsEnvironment) -> Any:
        """The boto3 session for env's region, profile and role (made once, then shared)."""
        with self._lock:
            key = env.credentials_key
            if key not in self._sessions:
                self._sessions[key] = self._session_factory(env)
            return self._sessions[key]
