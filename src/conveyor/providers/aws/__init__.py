"""The AWS backend: the backend interface (conveyor.backend.interface) over boto3 — ECR, ECS,
CodeDeploy, ELBv2 and CloudWatch in the account and region each `target: aws` environment names.

    aws = AwsBackend(settings=release_store.environment_settings)
    releases = ReleaseService({"local": local.backend, "aws": aws.backend}, release_store)

    api.py        one environment's clients; every call: retries, error translation, the call log
    apis.py       the clients of every environment (sessions shared by credentials)
    settings.py   an environment's region, credentials and resource names
    errors.py     AWS's errors in Conveyor's tree (NotFound, AwsPermissionDenied, AwsUnavailable, …)
    ecr.py        ImageRegistry (AwsRegistry(api): one region and account)    ecs.py   EcsApi
    codedeploy.py CodeDeployApi          reads.py LoadBalancerReads, AlarmReads

boto3 is an optional dependency (`pip install 'conveyor[aws]'`); without it the daemon has no
`aws` backend and an aws environment is refused with that hint. No AWS call is made for a local
environment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from conveyor.backend.interface import Backend
from conveyor.providers.aws.api import AwsApi, CallLog
from conveyor.providers.aws.apis import AwsApis, Settings
from conveyor.providers.aws.settings import AwsEnvironment

#: Waiting for a deployment on AWS: every 5 s at first, up to every 15 s while nothing changes
#: (botocore's waiters poll every 15 s; a deployment's steps take tens of seconds).
POLL_SECONDS = 5.0
MAX_POLL_SECONDS = 15.0


class AwsBackend:
    def __init__(self, settings: Settings, *, names: Callable[[], list[str]] | None = None,
                 apis: AwsApis | None = None, log: CallLog | None = None, journal: Any = None):
        from conveyor.providers.aws.codedeploy import AwsCodeDeploy
        from conveyor.providers.aws.ecr import AwsRegistry
        from conveyor.providers.aws.ecs import AwsEcs
        from conveyor.providers.aws.reads import AwsAlarms, AwsLoadBalancers

        self.apis = apis if apis is not None else AwsApis(settings, names=names, log=log)
        self.ecs = AwsEcs(self.apis)
        self.codedeploy = AwsCodeDeploy(self.apis, self.ecs, journal=journal)
        self._registry = AwsRegistry
        # The registry builds push to is the pipeline's (conveyor.yml `registry:`), not an
        # environment's: registry_for() makes it from those settings.
        self.backend = Backend(name="aws", registry=None, ecs=self.ecs, codedeploy=self.codedeploy,
                               load_balancers=AwsLoadBalancers(self.apis), alarms=AwsAlarms(self.apis),
                               poll_seconds=POLL_SECONDS, max_poll_seconds=MAX_POLL_SECONDS,
                               registries=self.registry_for)

    def registry_for(self, settings: Mapping[str, Any]) -> Any:
        """ECR in the region and account these settings (region, profile, roleArn) reach."""
        env = AwsEnvironment.from_settings("registry", settings)
        return self._registry(AwsApi(env, session=self.apis.session(env), log=self.apis.log))

    @property
    def log(self) -> CallLog:
        return self.apis.log
