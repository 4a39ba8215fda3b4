"""The files `conveyor init` writes, rendered from a `Plan`: conveyor.yml (Source → Build →
DeployStaging → Approval → DeployProduction), buildspec.yml (build the image, tag it with the
commit, push it, write imagedefinitions.json and imageDetail.json), taskdef.json and appspec.yaml.
They follow examples/orders-service, the AWS recipe the whole product reproduces (aws-semantics
§3: the ECS action reads imagedefinitions.json, CodeDeployToECS reads imageDetail.json, taskdef.json
and appspec.yaml from the build's artifact).

Every value that comes from the user or the Dockerfile is written as a JSON string, which YAML
reads back unchanged whatever it holds; names are already restricted by `naming`.

    files = render(Plan(name="shop", branch="main", dockerfile="Dockerfile", context=".", port=8080,
                        health_path="/health"))
    sorted(files)   # ['appspec.yaml', 'buildspec.yml', 'conveyor.yml', 'taskdef.json']
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from conveyor.scaffold.dockerfile import BuildArg

#: Listener ports on this machine (as in docs/conveyor.reference.yml and the example service).
STAGING_PORT = 8081
PRODUCTION_PORT = 8080
TEST_PORT = 9080
#: A local canary: 10% of production for this long, then the rest (on AWS, the predefined
#: CodeDeployDefault.ECSCanary10Percent5Minutes is the same shape with minutes).
CANARY_PERCENT = 10
CANARY_INTERVAL = "30s"
#: How long blue stays warm after the shift: `conveyor rollback` is instant meanwhile, and the
#: pipeline's action waits for it (as CodeDeployToECS does on AWS).
TERMINATION_WAIT = "30s"
#: Average target response time (seconds) above which the latency alarm breaches.
LATENCY_THRESHOLD_SECONDS = 1
#: Synthetic requests per second to the new tasks on the test listener, so the alarms judge them.
PROBE_RATE = 5

LOGIN = ('aws ecr get-login-password --region "$AWS_DEFAULT_REGION" | '
         'docker login --username AWS --password-stdin "$REGISTRY"')

COMMENT_COLUMN = 49

FILES = ("conveyor.yml", "buildspec.yml", "taskdef.json", "appspec.yaml")


@dataclass(frozen=True)
class Plan:
    name: str                  # pipeline, services, family, container, repository (naming.service_name)
    branch: str
    dockerfile: str            # relative to the repository root, POSIX separators
    context: str               # the build context, relative to the root ("." or the Dockerfile's directory)
    port: int                  # the container port the load balancer sends traffic to
    health_path: str
    build_args: tuple[BuildArg, ...] = ()   # ARGs before FROM with a default: pipeline variables
    staging_port: int = STAGING_PORT
    production_port: int = PRODUCTION_PORT
    test_port: int = TEST_PORT


_PLAIN = re.compile(r"[A-Za-z/][A-Za-z0-9._/-]*")
_YAML_WORDS = {"y", "yes", "n", "no", "true", "false", "on", "off", "null"}


def q(value: str) -> str:
    """A YAML scalar that reads back as exactly `value`: plain when nothing in it means
    something to YAML, else a JSON string (which YAML reads as a double-quoted scalar).

    >>> q("main"), q("/health"), q("yes"), q("a: b")
    ('main', '/health', '"yes"', '"a: b"')
    """
    if _PLAIN.fullmatch(value) and value.lower() not in _YAML_WORDS:
        return value
    return json.dumps(value)


def render(plan: Plan) -> dict[str, str]:
    return {"conveyor.yml": align(conveyor_yml(plan)), "buildspec.yml": align(buildspec_yml(plan)),
            "taskdef.json": taskdef_json(plan), "appspec.yaml": appspec_yaml(plan)}


def align(text: str, column: int = COMMENT_COLUMN) -> str:
    """Put the comments that follow a tab at `column` (values of any length line up)."""
    out = []
    for line in text.split("\n"):
        value, tab, comment = line.partition("\t#")
        out.append(f"{value.ljust(column - 1)} #{comment}" if tab else line)
    return "\n".join(out)


def conveyor_yml(p: Plan) -> str:
    variables = ""
    build_env = ""
    if p.build_args:
        variables = ("\n  # The Dockerfile's build arguments before FROM: `conveyor run --variable NAME=VALUE` "
                     "overrides one.\n")
        variables += "  variables:\n" + "".join(
            f"    - name: {a.name}\n      defaultValue: {q(a.default or '')}\n"
            f"      description: {q(f'--build-arg {a.name} ({p.dockerfile}:{a.line})')}\n" for a in p.build_args)
        build_env = "          environmentVariables:\n" + "".join(
            f"            {a.name}: {q('#{variables.' + a.name + '}')}\n" for a in p.build_args)
    n = p.name
    return f"""\
# conveyor.yml for {n}, written by `conveyor init` from {p.dockerfile}. Every key is documented in
# Conveyor's docs/conveyor.reference.yml; check it with `conveyor validate`.
# Source -> Build (CodeBuild: buildspec.yml builds the image, tags it with the commit, pushes it)
# -> DeployStaging (ECS: a rolling update behind HAProxy) -> Approval -> DeployProduction
# (CodeDeployToECS: a blue/green canary; an alarm on the new tasks' 5xx or latency rolls it back).
name: {n}

# What runs is this file on {p.branch}; pushes to other branches build their commit with it.
protectedBranches: [{q(p.branch)}]

pipeline:
  executionMode: QUEUED
{variables}
  triggers:
    - source: Source
      branches: [{q(p.branch)}]

  stages:
    - name: Source
      actions:
        - name: Source
          provider: Git
          repository: .
          branch: {q(p.branch)}
          outputArtifacts: [src]
          namespace: SourceVariables

    - name: Build
      actions:
        - name: Build
          provider: CodeBuild                   # runs buildspec.yml: add your tests to its build phase
          inputArtifacts: [src]
          outputArtifacts: [build]
          namespace: BuildVariables
          privilegedMode: true                  # the buildspec builds and pushes an image: engine socket
          timeoutInMinutes: 30
{build_env}
    - name: DeployStaging
      actions:
        - name: Deploy
          provider: ECS                         # reads imagedefinitions.json from the build artifact
          inputArtifacts: [build]
          environment: staging
          service: {n}

    - name: Approval
      actions:
        - name: Approve
          provider: Manual
          customData: {q(f"Image #{{BuildVariables.IMAGE_URI}} is on staging (http://127.0.0.1:{p.staging_port}/). "
                         "Approve to release it to production.")}
          externalEntityLink: http://127.0.0.1:{p.staging_port}/

    - name: DeployProduction
      actions:
        - name: Deploy
          provider: CodeDeployToECS             # taskdef.json + appspec.yaml + imageDetail.json from the build
          inputArtifacts: [build]
          environment: production
          service: {n}
          image1ArtifactName: build             # its imageDetail.json's ImageURI ...
          image1ContainerName: IMAGE1_NAME      # ... replaces <IMAGE1_NAME> in taskdef.json

environments:
  staging:
    services:
      {n}:
        taskDefinition: taskdef.json
        desiredCount: 1
        loadBalancer:
          port: {p.staging_port}\t# http://127.0.0.1:{p.staging_port}/
          container: {n}
          containerPort: {p.port}
          healthCheck: {{path: {q(p.health_path)}}}
        deployment:
          controller: ECS                       # rolling: a new task is healthy before an old one stops
          circuitBreaker: {{enable: true, rollback: true}}

  production:
    services:
      {n}:
        taskDefinition: taskdef.json
        desiredCount: 2
        loadBalancer:
          port: {p.production_port}\t# production: http://127.0.0.1:{p.production_port}/
          testPort: {p.test_port}\t# test listener: the new (green) tasks before they get traffic
          container: {n}
          containerPort: {p.port}
          healthCheck: {{path: {q(p.health_path)}}}
        deployment:
          controller: CODE_DEPLOY
          appspec: appspec.yaml
          # {CANARY_PERCENT}% of production for {CANARY_INTERVAL}, then the rest. On AWS (whole minutes):
          # config: CodeDeployDefault.ECSCanary10Percent5Minutes
          config: {{type: TimeBasedCanary, canaryPercentage: {CANARY_PERCENT}, canaryInterval: {CANARY_INTERVAL}}}
          terminationWaitMinutes: {TERMINATION_WAIT}\t# blue stays warm: `conveyor rollback` is instant
          autoRollback: [DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_ALARM, DEPLOYMENT_STOP_ON_REQUEST]
          # Synthetic GETs to green on the test listener, so the alarms judge it before users reach it;
          # point it at a page that exercises the service.
          probe: {{path: /, ratePerSecond: {PROBE_RATE}}}
          alarms:
            - name: {n}-5xx
              metric: HTTPCode_Target_5XX_Count
              scope: green                      # the new tasks' target group
              statistic: Sum
              period: 1                         # seconds (AWS: 10, 20, 30 or multiples of 60)
              evaluationPeriods: 3
              datapointsToAlarm: 2
              threshold: 1
              comparisonOperator: GreaterThanOrEqualToThreshold
              treatMissingData: notBreaching
            - name: {n}-latency
              metric: TargetResponseTime        # seconds, averaged over each period
              scope: green
              statistic: Average
              period: 1
              evaluationPeriods: 5
              datapointsToAlarm: 3
              threshold: {LATENCY_THRESHOLD_SECONDS}
              comparisonOperator: GreaterThanThreshold
              treatMissingData: notBreaching

# The registry keeps every pushed tag where it was (ECR's IMMUTABLE): a commit names one image.
repositories:
  {n}: {{imageTagMutability: IMMUTABLE}}
"""


def buildspec_yml(p: Plan) -> str:
    arg_vars = "".join(f"    {a.name}: {q(a.default or '')}\n" for a in p.build_args)
    build_args = "".join(f' --build-arg {a.name}="${a.name}"' for a in p.build_args)
    build = f'docker build{build_args} -t "$IMAGE_URI" -f {p.dockerfile} {p.context}'
    return f"""\
# CodeBuild (buildspec 0.2), written by `conveyor init`: build the image from {p.dockerfile}, tag it
# with the commit, push it, and hand the deploy stages what they read: imagedefinitions.json (ECS
# action, staging), imageDetail.json + taskdef.json + appspec.yaml (CodeDeployToECS, production).
# The same file runs on AWS CodeBuild (privileged mode, for docker) and in Conveyor, where
# CONVEYOR_REGISTRY names the local registry (ECR semantics).
version: 0.2

env:
  variables:
    CONTAINER_NAME: {p.name}\t# containerDefinitions[].name in taskdef.json
    REPOSITORY_NAME: {p.name}
{arg_vars}  exported-variables:\t# visible to later actions as #{{BuildVariables.IMAGE_URI}}
    - IMAGE_TAG
    - IMAGE_URI

phases:
  pre_build:
    on-failure: ABORT
    commands:
      - ACCOUNT_ID="$(aws sts get-caller-identity --query Account --output text)"
      - REGISTRY="${{CONVEYOR_REGISTRY:-$ACCOUNT_ID.dkr.ecr.$AWS_DEFAULT_REGION.amazonaws.com}}"
      - {LOGIN}
      - export IMAGE_TAG="$(echo "$CODEBUILD_RESOLVED_SOURCE_VERSION" | cut -c 1-7)"
      - export IMAGE_URI="$REGISTRY/$REPOSITORY_NAME:$IMAGE_TAG"
  build:
    on-failure: ABORT
    commands:
      # Your tests go here, before the image: a failing command ends the build.
      - echo "building $IMAGE_URI"
      - {build}
  post_build:
    commands:
      - '[ "$CODEBUILD_BUILD_SUCCEEDING" = 1 ] || exit 1'
      - docker push "$IMAGE_URI"
      - printf '[{{"name":"%s","imageUri":"%s"}}]' "$CONTAINER_NAME" "$IMAGE_URI" > imagedefinitions.json
      - printf '{{"ImageURI":"%s"}}' "$IMAGE_URI" > imageDetail.json
      - cat imagedefinitions.json imageDetail.json

artifacts:
  files:
    - imagedefinitions.json
    - imageDetail.json
    - taskdef.json
    - appspec.yaml
"""


def taskdef_json(p: Plan) -> str:
    doc = {
        "family": p.name,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "executionRoleArn": "arn:aws:iam::<ACCOUNT_ID>:role/ecsTaskExecutionRole",
        "containerDefinitions": [{
            "name": p.name,
            "image": "<IMAGE1_NAME>",
            "essential": True,
            "portMappings": [{"containerPort": p.port, "protocol": "tcp"}],
            "stopTimeout": 10,
        }],
    }
    return json.dumps(doc, indent=2) + "\n"


def appspec_yaml(p: Plan) -> str:
    return f"""\
# CodeDeploy AppSpec for an ECS blue/green deployment (version 0.0 is the only version), written by
# `conveyor init`. <TASK_DEFINITION> is replaced with the task definition registered from taskdef.json.
version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: "<TASK_DEFINITION>"
        LoadBalancerInfo:
          ContainerName: "{p.name}"
          ContainerPort: {p.port}
# Lifecycle hooks (e.g. a smoke test against the test listener before production traffic moves)
# name a function here, `Hooks: [{{AfterAllowTestTraffic: "{p.name}-smoke-test"}}]`, and what it runs
# under deployment.hooks in conveyor.yml.
"""
