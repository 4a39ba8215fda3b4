"""IAM roles of an environment, each with the least it needs:

- a task execution role per service (the ECS agent's, aws-semantics §4.1): pull images from the
  conveyor.yml `repositories:` (any repository of the account when there are none), write to the
  service's log group, read the secrets its containers name;
- the CodeDeploy service role, with AWS's managed AWSCodeDeployRoleForECS (§5.1). That policy is
  what CodeDeploy needs for an ECS blue/green deployment: create and delete task sets and switch
  the primary one, rewrite listener actions and rules, read the alarms it watches, invoke the
  AppSpec's hook functions, publish its triggers, pass the task roles. Writing it by hand would
  pin today's API to resources CodeDeploy picks at run time (task sets, rules); the managed
  policy follows CodeDeploy. Its ...Limited variant allows only hook functions named
  CodeDeployHook_*, which conveyor.yml's hook names need not be;
- for ECS-native blue/green, canary and linear, the role ECS assumes to move listener rules
  (AmazonECSInfrastructureRolePolicyForLoadBalancers, the managed policy for exactly that).

Roles are not named: CloudFormation names them after the stack, so two environments in one
account never collide and no CAPABILITY_NAMED_IAM is needed (CAPABILITY_IAM is).
"""

from __future__ import annotations

from typing import Any

from conveyor.export.context import EnvironmentExport, ServiceExport
from conveyor.export.task_definition import execution_role_id, fill_placeholders, log_group_id
from conveyor.export.template import GetAtt, Sub

CODEDEPLOY_ROLE = "CodeDeployServiceRole"
ECS_LOAD_BALANCER_ROLE = "EcsLoadBalancerRole"
POLICY_VERSION = "2012-10-17"
CODEDEPLOY_POLICY = "arn:${AWS::Partition}:iam::aws:policy/AWSCodeDeployRoleForECS"
ECS_LOAD_BALANCER_POLICY = "arn:${AWS::Partition}:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
ECR_PULL = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
REPOSITORY_ARN = "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/"
PARAMETER_ARN = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/"


def trust(service: str) -> dict[str, Any]:
    return {"Version": POLICY_VERSION, "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}


def add_execution_role(ctx: EnvironmentExport, svc: ServiceExport, containers: list[dict[str, Any]]) -> None:
    """The service's execution role; `containers` are its task definition's (camelCase) entries."""
    repositories = [Sub(REPOSITORY_ARN + name) for name in ctx.repositories] or [Sub(REPOSITORY_ARN + "*")]
    statements: list[dict[str, Any]] = [
        {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Sid": "PullImages", "Effect": "Allow", "Action": ECR_PULL, "Resource": repositories},
        {"Sid": "WriteLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": GetAtt(log_group_id(svc), "Arn")}]
    secrets, parameters = _secret_arns(ctx, svc, containers)
    if secrets:
        statements.append({"Sid": "ReadSecrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                           "Resource": secrets})
    if parameters:
        statements.append({"Sid": "ReadParameters", "Effect": "Allow", "Action": "ssm:GetParameters",
                           "Resource": parameters})
    ctx.template.resource(execution_role_id(svc), "AWS::IAM::Role", {
        "Description": f"{ctx.environment}/{svc.name}: the ECS agent pulls its images and writes its logs",
        "AssumeRolePolicyDocument": trust("ecs-tasks.amazonaws.com"),
        "Policies": [{"PolicyName": "pull-images-write-logs", "PolicyDocument": {
            "Version": POLICY_VERSION, "Statement": statements}}]}, source=svc.at("taskDefinition"))
    ctx.template.output(execution_role_id(svc) + "Arn", GetAtt(execution_role_id(svc), "Arn"),
                        f"{svc.name}: the task execution role (executionRoleArn in taskdef.json)")


def _secret_arns(ctx: EnvironmentExport, svc: ServiceExport,
                 containers: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    """Secrets Manager and Parameter Store ARNs the containers read (secrets, log secretOptions,
    private registry credentials), in the order they appear."""
    names: list[str] = []
    for c in containers:
        names += [str(s.get("valueFrom")) for s in c.get("secrets") or []]
        names += [str(s.get("valueFrom")) for s in (c.get("logConfiguration") or {}).get("secretOptions") or []]
        credentials = (c.get("repositoryCredentials") or {}).get("credentialsParameter")
        if credentials:
            names.append(str(credentials))
    secrets: list[Any] = []
    parameters: list[Any] = []
    for name in dict.fromkeys(names):
        arn = fill_placeholders(name)
        if arn is None:
            ctx.notes.add(svc.at("taskDefinition"), f"the secret {name}",
                          "not readable by the execution role: a placeholder CloudFormation cannot fill")
        elif name.startswith("arn:") and ":secretsmanager:" in name:
            secrets.append(fill_placeholders(":".join(name.split(":")[:7])))  # without :json-key:stage:id
        elif name.startswith("arn:"):
            parameters.append(arn)
        else:
            parameters.append(Sub(PARAMETER_ARN + name.lstrip("/")))
    return secrets, parameters


def add_codedeploy_role(ctx: EnvironmentExport) -> None:
    ctx.template.resource(CODEDEPLOY_ROLE, "AWS::IAM::Role", {
        "Description": f"{ctx.environment}: CodeDeploy's blue/green deployments of ECS services",
        "AssumeRolePolicyDocument": trust("codedeploy.amazonaws.com"),
        "ManagedPolicyArns": [Sub(CODEDEPLOY_POLICY)]}, source=ctx.at("services"))


def add_ecs_load_balancer_role(ctx: EnvironmentExport) -> None:
    ctx.template.resource(ECS_LOAD_BALANCER_ROLE, "AWS::IAM::Role", {
        "Description": f"{ctx.environment}: ECS moves listener rules in native blue/green deployments",
        "AssumeRolePolicyDocument": trust("ecs.amazonaws.com"),
        "ManagedPolicyArns": [Sub(ECS_LOAD_BALANCER_POLICY)]}, source=ctx.at("services"))
