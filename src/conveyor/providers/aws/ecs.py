"""ECS on AWS (conveyor.backend.interface.EcsApi): task definitions and the rolling (controller
ECS) services of each environment's cluster, through boto3. A service is the conveyor.yml
service's name in the environment's cluster (AwsEnvironment.cluster); its deployments are
DescribeServices' `deployments[]`, their ids `ecs-svc/…`.

    ecs = AwsEcs(apis)
    revision = ecs.register_task_definition("production", body)
    d = ecs.update_service(spec, task_definition=revision.name, client_token=key, origin={})
    ecs.describe_rollout("production", "orders").waiting_for

Conveyor creates no cluster, service or load balancer here (`conveyor provision` will): a
missing one is a NotFound that names it and says to provision it.

    ecs.py           this facade, and the deployment configuration a ServiceSpec makes
    ecs_taskdefs.py  registering (once per body), describing and pruning task definitions
    ecs_services.py  finding services (DescribeServices, ListServices)
    ecs_views.py     ECS's answers in Conveyor's types, and what a rollout waits for (pure)
    ecs_logs.py      container logs from CloudWatch Logs    ecs_reasons.py  the texts
    elbv2.py         target groups, target health, listener URLs (shared with reads.py)

AWS calls per method (the IAM policy and bench/aws_calls.py follow this table):
    register_task_definition  ecs_taskdefs.TaskDefinitions.register's
    describe_task_definition, task_definition_arn   ecs:DescribeTaskDefinition
    update_service            ecs:DescribeServices, ecs:UpdateService (none when adopting)
    declare_service           ecs:DescribeServices
    scale_service             ecs:UpdateService, then describe_service's
    list_services             per environment: ecs:ListServices, ecs:DescribeServices (10 at a time);
                              for the URLs elasticloadbalancing:DescribeTargetGroups,
                              DescribeLoadBalancers, DescribeListeners
    describe_service          ecs:DescribeServices, ecs:ListTasks (RUNNING, STOPPED), ecs:DescribeTasks;
                              with a target group elasticloadbalancing:DescribeTargetGroups,
                              DescribeTargetHealth, DescribeLoadBalancers, DescribeListeners
    describe_rollout, describe_deployment, describe_raw_service   ecs:DescribeServices
    roll_back_service         ecs:DescribeServices, ecs:ListServiceDeployments,
                              ecs:DescribeServiceRevisions (or ecs:ListTaskDefinitions), ecs:UpdateService
    service_logs              ecs:DescribeServices, then ecs_logs.ServiceLogs.tail's
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Mapping
from typing import Any

from conveyor.backend.types import (
    ECS,
    ContainerLog,
    EcsDeployment,
    EcsTask,
    LoadBalancerView,
    Rollout,
    ServiceDescription,
    ServiceSummary,
    TaskDefinitionRevision,
)
from conveyor.config.codedeploy_group import rollback_events
from conveyor.config.codedeploy_model import DEPLOYMENT_STOP_ON_ALARM
from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import NotFound, UserError
from conveyor.providers.aws import ecs_reasons as reasons
from conveyor.providers.aws.api import AwsApi
from conveyor.providers.aws.apis import AwsApis
from conveyor.providers.aws.ecs_logs import ServiceLogs
from conveyor.providers.aws.ecs_services import INACTIVE, batches, cluster_services, find_service
from conveyor.providers.aws.ecs_taskdefs import KEEP_REVISIONS, TaskDefinitions, revision_of, successful_revisions
from conveyor.providers.aws.ecs_views import (
    FAILED,
    deployment_view,
    events,
    name_of,
    primary,
    resource_name,
    rollout,
    summary,
    task_view,
)
from conveyor.providers.aws.elbv2 import Elbv2

log = logging.getLogger(__name__)

#: Tasks a service description lists (ECS keeps stopped tasks for about an hour).
MAX_TASKS = 100
#: DescribeTasks takes at most 100 tasks.
DESCRIBE_TASKS_BATCH = 100
#: Deployments remembered after ECS stops listing them (it drops INACTIVE ones).
MAX_REMEMBERED = 1000


def deployment_configuration(spec: ServiceSpec, current: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """UpdateService's deploymentConfiguration for a rolling service (aws-semantics §4.3-4.5):
    its bounds, the circuit breaker, and the CloudWatch alarms its `deployment:` block lists
    (conveyor.yml names them as CloudWatch does). ECS takes "one or more" alarm names: with
    none listed, alarms the service had (`current`: its deploymentConfiguration) are kept by
    name and switched off, and a service that had none gets no `alarms`.

    >>> spec = ServiceSpec.from_config("production", "orders", {"deployment": {
    ...     "minimumHealthyPercent": 50, "circuitBreaker": {"enable": True, "rollback": True},
    ...     "alarms": ["orders-5xx"]}})
    >>> c = deployment_configuration(spec)
    >>> c["minimumHealthyPercent"], c["deploymentCircuitBreaker"], c["alarms"]
    (50, {'enable': True, 'rollback': True}, {'alarmNames': ['orders-5xx'], 'enable': True, 'rollback': True})
    """
    config: dict[str, Any] = {
        "minimumHealthyPercent": spec.rolling.minimum_healthy_percent, "maximumPercent": spec.rolling.maximum_percent,
        # ECS's API takes enable and rollback only: conveyor.yml's threshold and
        # resetOnHealthyTask are the local ECS's (AWS applies its own threshold).
        "deploymentCircuitBreaker": {"enable": spec.circuit_breaker.enable, "rollback": spec.circuit_breaker.rollback}}
    names = alarm_names(spec)
    if names:
        rollback = DEPLOYMENT_STOP_ON_ALARM in rollback_events(spec.deployment.get("autoRollback", True))
        config["alarms"] = {"alarmNames": names, "enable": bool(spec.deployment.get("alarmsEnabled", True)),
                            "rollback": rollback}
    else:
        before = [str(n) for n in ((current or {}).get("alarms") or {}).get("alarmNames") or []]
        if before:
            config["alarms"] = {"alarmNames": before, "enable": False, "rollback": False}
    return config


def alarm_names(spec: ServiceSpec) -> list[str]:
    """The alarms of the service's `deployment.alarms` (a name, or a mapping with a name)."""
    items = spec.deployment.get("alarms") or []
    return [str(i["name"]) if isinstance(i, Mapping) else str(i) for i in items]


def first_deploy(service: Mapping[str, Any]) -> bool:
    """Whether the service has never run: provisioning creates it at desiredCount 0 (there is
    nothing to run yet), so Conveyor's first deploy sets conveyor.yml's desiredCount. Later
    deploys leave the count to `conveyor service scale` (and to autoscaling)."""
    return not any(int(service.get(k) or 0) for k in ("desiredCount", "runningCount", "pendingCount"))


class AwsEcs:
    def __init__(self, apis: AwsApis, *, keep_revisions: int = KEEP_REVISIONS):
        self._apis = apis
        self.task_definitions = TaskDefinitions(apis, keep=keep_revisions)
        self._logs = ServiceLogs(apis)
        self._lock = threading.Lock()
        #: The last view of each deployment seen, and the origin of those Conveyor started:
        #: ECS stops listing a deployment once it is INACTIVE, and keeps no origin.
        self._seen: dict[str, EcsDeployment] = {}
        self._origins: dict[str, dict[str, Any]] = {}

    # -- task definitions
    def register_task_definition(self, environment: str, body: dict[str, Any]) -> TaskDefinitionRevision:
        return self.task_definitions.register(environment, body)

    def describe_task_definition(self, environment: str, name: str) -> TaskDefinitionRevision | None:
        return self.task_definitions.describe(environment, name)

    def task_definition_arn(self, environment: str, name: str) -> str:
        """The ARN of `family:revision` (NotFound if ECS has no such revision)."""
        return self.task_definitions.arn(environment, name)

    # -- services
    def describe_raw_service(self, environment: str, service: str) -> dict[str, Any]:
        """DescribeServices' service, as ECS gives it (for the CodeDeploy module)."""
        found = find_service(self._apis.api(environment), service)
        self._remember(environment, found)
        return found

    def update_service(self, spec: ServiceSpec, *, task_definition: str, client_token: str | None,
                       origin: Mapping[str, object]) -> EcsDeployment:
        """Make `task_definition` the PRIMARY deployment of the (provisioned) service.

        ECS's UpdateService takes no client token, so `client_token` is not sent: the
        idempotency is the adoption below. A re-run after a crash registers the same revision
        (TaskDefinitions.register) and finds the PRIMARY deployment already on it: that one is
        returned and nothing new starts. A FAILED one is deployed again (forceNewDeployment)."""
        environment = spec.environment
        if spec.controller != ECS:
            raise UserError(reasons.not_rolling_on_aws(environment, spec.name, spec.controller),
                            hint=reasons.NOT_ROLLING_HINT)
        service = self.describe_raw_service(environment, spec.name)
        self._check_rolling(environment, service)
        current = primary(service)
        same = current is not None and name_of(str(current.get("taskDefinition"))) == name_of(task_definition)
        if current is not None and same and current.get("rolloutState") != FAILED:
            return self._view(environment, spec.name, current)
        api = self._apis.api(environment)
        params: dict[str, Any] = {"cluster": api.env.cluster, "service": spec.name, "taskDefinition": task_definition,
                                  "deploymentConfiguration": deployment_configuration(
                                      spec, service.get("deploymentConfiguration"))}
        if service.get("loadBalancers") or spec.health_check_grace_period:
            params["healthCheckGracePeriodSeconds"] = int(spec.health_check_grace_period)
        if first_deploy(service):
            params["desiredCount"] = spec.desired_count
        if same:
            params["forceNewDeployment"] = True
        return self._updated(environment, spec.name, api.call("ecs", "UpdateService", **params)["service"],
                             dict(origin))

    def declare_service(self, spec: ServiceSpec, *, task_definition: str) -> None:
        """Conveyor does not create services on AWS: this checks that the provisioned service
        exists with the deployment controller conveyor.yml says."""
        service = self.describe_raw_service(spec.environment, spec.name)
        controller = str((service.get("deploymentController") or {}).get("type") or ECS)
        if controller != spec.controller:
            raise UserError(f"ECS service {spec.name} in {spec.environment} uses the {controller} deployment "
                            f"controller, but conveyor.yml says {spec.controller}", hint=reasons.NOT_ROLLING_HINT)

    def scale_service(self, environment: str, service: str, desired_count: int, *, by: str) -> ServiceDescription:
        """UpdateService's desiredCount. ECS records no caller for it (CloudTrail does): `by`
        is not sent."""
        api = self._apis.api(environment)
        try:
            api.call("ecs", "UpdateService", cluster=api.env.cluster, service=service, desiredCount=desired_count)
        except NotFound:
            self.describe_raw_service(environment, service)  # says which of cluster and service is missing
            raise
        return self.describe_service(environment, service)

    def list_services(self) -> list[ServiceSummary]:
        """The services of every known AWS environment's cluster; an environment whose cluster
        is not provisioned (yet) has none."""
        out: list[ServiceSummary] = []
        for environment in self._apis.names():
            try:
                api = self._apis.api(environment)
                services = cluster_services(api)
            except NotFound as exc:
                log.info("no services listed for environment %s: %s", environment, exc)
                continue
            urls = self._urls(api, services)
            for s in services:
                self._remember(environment, s)
                out.append(summary(environment, s, url=urls.get(_target_group_arn(s) or "")))
        return out

    def describe_service(self, environment: str, service: str) -> ServiceDescription:
        raw = self.describe_raw_service(environment, service)
        api = self._apis.api(environment)
        tasks = self._tasks(api, environment, service)
        healthy = sum(1 for t in tasks if t.last_status == "RUNNING" and t.health != "UNHEALTHY")
        lb_view, url = None, None
        group_arn = _target_group_arn(raw)
        if group_arn is not None:
            elb = Elbv2(api)
            try:
                groups = elb.target_groups([group_arn])
                targets = elb.target_health(group_arn)
            except NotFound:  # the target group went away under the service
                groups, targets = [], []
            url = elb.url(groups[0]) if groups else None
            lb_view = LoadBalancerView(url or "", resource_name(group_arn), tuple(targets))
            healthy = sum(1 for t in targets if t.state == "healthy")
        deployments = tuple(self._view(environment, service, d) for d in raw.get("deployments") or [])
        return ServiceDescription(summary(environment, raw, healthy=healthy, url=url), deployments, tuple(tasks),
                                  events(raw), lb_view)

    def describe_rollout(self, environment: str, service: str) -> Rollout:
        raw = self.describe_raw_service(environment, service)
        first = primary(raw)
        return rollout(environment, raw, self._origins.get(str(first["id"])) if first else None)

    def describe_deployment(self, environment: str, service: str, deployment_id: str) -> EcsDeployment:
        """The deployment as DescribeServices lists it; once ECS no longer lists it (INACTIVE),
        as last seen with status INACTIVE; NotFound if this process never saw it."""
        raw = self.describe_raw_service(environment, service)
        for d in raw.get("deployments") or []:
            if d.get("id") == deployment_id:
                return self._view(environment, service, d)
        with self._lock:
            seen = self._seen.get(deployment_id)
        if seen is not None and (seen.environment, seen.service) == (environment, service):
            return dataclasses.replace(seen, status=INACTIVE)
        raise NotFound(reasons.unknown_deployment(environment, service, deployment_id))

    def roll_back_service(self, environment: str, service: str, *, who: str, reason: str) -> EcsDeployment:
        """A new deployment of the revision the service last ran successfully before the current
        one: the latest SUCCESSFUL service deployment's (ListServiceDeployments), or, when ECS
        has no such record, the family's previous ACTIVE revision."""
        raw = self.describe_raw_service(environment, service)
        self._check_rolling(environment, raw)
        first = primary(raw)
        current = name_of(str((first or raw).get("taskDefinition") or ""))
        api = self._apis.api(environment)
        target = self._rollback_target(api, service, current)
        if target is None:
            raise UserError(reasons.nothing_to_roll_back_to(environment, service, current))
        answer = api.call("ecs", "UpdateService", cluster=api.env.cluster, service=service, taskDefinition=target)
        return self._updated(environment, service, answer["service"], reasons.rollback_origin(target, who, reason))

    def service_logs(self, environment: str, service: str, tail: int) -> list[ContainerLog]:
        self.describe_raw_service(environment, service)
        return self._logs.tail(environment, service, tail)

    # -- helpers
    def _check_rolling(self, environment: str, service: Mapping[str, Any]) -> None:
        controller = str((service.get("deploymentController") or {}).get("type") or ECS)
        if controller != ECS:
            raise UserError(reasons.not_rolling_on_aws(environment, str(service["serviceName"]), controller),
                            hint=reasons.NOT_ROLLING_HINT)

    def _rollback_target(self, api: AwsApi, service: str, current: str) -> str | None:
        operations = api.client("ecs").meta.service_model.operation_names
        if "ListServiceDeployments" in operations and "DescribeServiceRevisions" in operations:
            found = next((n for n in successful_revisions(api, service) if n != current), None)
            if found is not None:
                return found
        family, _, number = current.rpartition(":")
        if not number.isdigit():
            return None
        older = [a for a in self.task_definitions.active_revisions(api, family) if revision_of(a) < int(number)]
        return name_of(older[0]) if older else None

    def _updated(self, environment: str, service: str, answer: Mapping[str, Any],
                 origin: dict[str, Any]) -> EcsDeployment:
        """UpdateService's answer: its PRIMARY deployment, now the one `origin` started."""
        new = primary(answer)
        if new is None:
            raise UserError(f"ECS started no deployment of {environment}/{service}",
                            hint="check the service's deployment controller (ECS) in the AWS console")
        with self._lock:
            self._origins[str(new["id"])] = origin
        self._remember(environment, answer)
        return self._view(environment, service, new)

    def _view(self, environment: str, service: str, d: Mapping[str, Any]) -> EcsDeployment:
        return deployment_view(environment, service, d, self._origins.get(str(d["id"])))

    def _remember(self, environment: str, service: Mapping[str, Any]) -> None:
        name = str(service.get("serviceName") or "")
        views = [self._view(environment, name, d) for d in service.get("deployments") or []]
        with self._lock:
            for v in views:
                self._seen.pop(v.id, None)
                self._seen[v.id] = v
            while len(self._seen) > MAX_REMEMBERED:
                oldest = next(iter(self._seen))
                del self._seen[oldest]
                self._origins.pop(oldest, None)

    def _tasks(self, api: AwsApi, environment: str, service: str) -> list[EcsTask]:
        """The service's tasks: running (and pending) ones first, then recently stopped ones."""
        arns: list[str] = []
        for status in ("RUNNING", "STOPPED"):
            if len(arns) >= MAX_TASKS:
                break
            for arn in api.pages("ecs", "ListTasks", "taskArns", cluster=api.env.cluster, serviceName=service,
                                 desiredStatus=status):
                arns.append(arn)
                if len(arns) >= MAX_TASKS:
                    break
        tasks: list[dict[str, Any]] = []
        for batch in batches(arns, DESCRIBE_TASKS_BATCH):
            tasks += api.call("ecs", "DescribeTasks", cluster=api.env.cluster, tasks=batch)["tasks"]
        return [task_view(environment, service, t) for t in tasks]

    def _urls(self, api: AwsApi, services: list[dict[str, Any]]) -> dict[str, str | None]:
        """Target group ARN → the URL of the listener that forwards to it."""
        arns = [a for a in (_target_group_arn(s) for s in services) if a]
        if not arns:
            return {}
        elb = Elbv2(api)
        try:
            return {str(g["TargetGroupArn"]): elb.url(g) for g in elb.target_groups(arns)}
        except NotFound:
            return {}


def _target_group_arn(service: Mapping[str, Any]) -> str | None:
    """The service's (first) target group."""
    return next((str(lb["targetGroupArn"]) for lb in service.get("loadBalancers") or [] if lb.get("targetGroupArn")),
                None)
