"""The deploy actions of the pipeline template, with what the pipeline role needs for them.

    ECS             -> Deploy/ECS: ClusterName = the environment's cluster, ServiceName = the
                       service, FileName, DeploymentTimeout (aws-semantics §3.1)
    CodeDeployToECS -> Deploy/CodeDeployToECS: ApplicationName = the environment's CodeDeploy
                       application, DeploymentGroupName = the service, the template and image
                       settings (§3.5); an unset template artifact is the first input, as locally

A deploy to an environment left out of `environments_in_aws` becomes a Manual approval asking for
the deployment to be done with Conveyor, so the pipeline keeps its order and pauses there.

IAM (§3.3, §3.5): DescribeServices/UpdateService on the service; DescribeTaskDefinition and
RegisterTaskDefinition (no resource-level permissions); CodeDeploy on the application, its
deployment group and configurations; iam:PassRole for the roles the service's task definition
names (to ECS tasks only), or any role passed to ECS tasks when the file cannot be read.
"""

from __future__ import annotations

import math
from typing import Any

from conveyor.config.model import ActionDef
from conveyor.export.pipeline_context import APPROVAL_TOPIC, ExportContext, declaration
from conveyor.export.pipeline_iam import arn
from conveyor.export.template import Ref

DEPLOYMENT_TIMEOUT_RANGE = (1, 60)  # aws-semantics §3.1: DeploymentTimeout can only lower the 1-hour ceiling
PASS_TO_ECS = {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
TASK_DEFINITION = ("ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition")


def ecs(ctx: ExportContext, si: int, ai: int, a: ActionDef) -> dict[str, Any]:
    conf = a.configuration
    env, service = str(conf["environment"]), str(conf["service"])
    if not ctx.in_aws(env):
        return _not_in_aws(ctx, si, ai, a, env, service)
    _where(ctx, env)
    cluster = ctx.cluster(env)
    config: dict[str, Any] = {"ClusterName": cluster, "ServiceName": service,
                              "FileName": str(conf.get("file") or "imagedefinitions.json")}
    timeout = conf.get("deploymentTimeout")
    if timeout is None and a.timeout_minutes is not None:
        timeout = a.timeout_minutes
        ctx.notes.add(ctx.key(si, ai, "timeoutInMinutes"), f"an action timeout of {timeout:g} min",
                      "DeploymentTimeout, which may only shorten the ECS action's hour")
    if timeout is not None:
        lo, hi = DEPLOYMENT_TIMEOUT_RANGE
        config["DeploymentTimeout"] = str(min(max(math.ceil(timeout), lo), hi))
    ctx.policy.allow(["ecs:DescribeServices", "ecs:UpdateService"], arn("ecs", f"service/{cluster}/{service}"))
    ctx.policy.allow(TASK_DEFINITION, "*")
    ctx.policy.allow(["ecs:TagResource"], arn("ecs", "task-definition/*"),
                     {"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}})
    _pass_roles(ctx, si, ai, env, service)
    return declaration(a, "Deploy", "ECS", config)


def codedeploy_to_ecs(ctx: ExportContext, si: int, ai: int, a: ActionDef) -> dict[str, Any]:
    conf = a.configuration
    env, service = str(conf["environment"]), str(conf["service"])
    if not ctx.in_aws(env):
        return _not_in_aws(ctx, si, ai, a, env, service)
    _where(ctx, env)
    application = str(conf.get("applicationName") or ctx.codedeploy_application(env))
    group = str(conf.get("deploymentGroupName") or service)
    first = a.input_artifacts[0] if a.input_artifacts else ""
    config: dict[str, Any] = {
        "ApplicationName": application, "DeploymentGroupName": group,
        "TaskDefinitionTemplateArtifact": str(conf.get("taskDefinitionTemplateArtifact") or first),
        "TaskDefinitionTemplatePath": str(conf.get("taskDefinitionTemplatePath") or "taskdef.json"),
        "AppSpecTemplateArtifact": str(conf.get("appSpecTemplateArtifact") or first),
        "AppSpecTemplatePath": str(conf.get("appSpecTemplatePath") or "appspec.yaml"),
    }
    for n in range(1, 5):
        artifact, placeholder = conf.get(f"image{n}ArtifactName"), conf.get(f"image{n}ContainerName")
        if artifact and placeholder:
            config[f"Image{n}ArtifactName"], config[f"Image{n}ContainerName"] = str(artifact), str(placeholder)
    ctx.note_timeout(si, ai, a.timeout_minutes, "left out: the CodeDeployToECS action waits up to 5 days")
    ctx.policy.allow(["codedeploy:CreateDeployment", "codedeploy:GetDeployment"],
                     arn("codedeploy", f"deploymentgroup:{application}/{group}"))
    ctx.policy.allow(["codedeploy:GetApplication", "codedeploy:GetApplicationRevision",
                      "codedeploy:RegisterApplicationRevision"], arn("codedeploy", f"application:{application}"))
    ctx.policy.allow(["codedeploy:GetDeploymentConfig"], arn("codedeploy", "deploymentconfig:*"))
    ctx.policy.allow(TASK_DEFINITION, "*")
    _pass_roles(ctx, si, ai, env, service)
    return declaration(a, "Deploy", "CodeDeployToECS", config)


def _where(ctx: ExportContext, env: str) -> None:
    """Deploy actions run in the pipeline's account and region (no action Region or RoleArn is set)."""
    settings = ctx.environment(env)
    if settings.get("region"):
        ctx.notes.add(f"environments.{env}.region", f"environment {env} in region {settings['region']}",
                      f"deploy actions without Region: create this stack in {settings['region']} (a cross-region "
                      "action needs an artifact store in its region)")
    if settings.get("roleArn"):
        ctx.notes.add(f"environments.{env}.roleArn", f"environment {env} reached through role {settings['roleArn']}",
                      "deploy actions in the pipeline's own account (a cross-account action needs its RoleArn)")


def _pass_roles(ctx: ExportContext, si: int, ai: int, env: str, service: str) -> None:
    roles = ctx.task_roles(env, service)
    if roles is None:
        ctx.notes.add(f"environments.{env}.services.{service}.taskDefinition",
                      "a task definition that could not be read when exporting",
                      "iam:PassRole on any role, passed to ECS tasks only")
        ctx.policy.allow(["iam:PassRole"], "*", PASS_TO_ECS)
    for name in roles or ():
        ctx.policy.allow(["iam:PassRole"], arn("iam", f"role/{name}", region=False), PASS_TO_ECS)


def _not_in_aws(ctx: ExportContext, si: int, ai: int, a: ActionDef, env: str, service: str) -> dict[str, Any]:
    ctx.uses_approval = True
    ctx.notes.add(ctx.key(si, ai), f"a deploy ({a.provider}) of {service} to environment {env}, which is not on AWS",
                  "a Manual approval: deploy it with Conveyor (conveyor deploy), then approve")
    return declaration(a, "Approval", "Manual", {
        "NotificationArn": Ref(APPROVAL_TOPIC),
        "CustomData": f"Deploy {service} to {env} with Conveyor (not on AWS), then approve."}, inputs=[], outputs=[],
        namespace=False)
