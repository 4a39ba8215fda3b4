"""The notes of an export: what conveyor.yml says that AWS cannot do as it is, each with what the
template does instead. tests/export/fixtures/local-only.yml uses every local-only feature (hook
stand-ins, the probe, requireTraffic, one-second alarms, durations in seconds, health-check and
drain settings below ALB's ranges, bind, a bridge-mode task definition, the circuit breaker's
threshold, ECS-native keys CodeDeploy has and ECS has not); its notes are asserted exactly."""

from __future__ import annotations

from pathlib import Path

from conveyor.config.pipeline import load_pipeline
from conveyor.export.environment import environment_template, repositories_template
from conveyor.export.notes import Notes

FIXTURES = Path(__file__).parent / "fixtures"
LOCAL_ONLY = FIXTURES / "local-only.yml"

ENVIRONMENT_NOTES = [
    ('environments.dev.target',
     'a local environment (target: local)',
     'exported for AWS as it is; to deploy it there with Conveyor, set target: aws and a region'),
    ('environments.dev.services.shop.loadBalancer.healthCheck.intervalSeconds',
     '1 s',
     '5 s (ALB: 5-300 s, whole seconds)'),
    ('environments.dev.services.shop.loadBalancer.healthCheck.timeoutSeconds',
     "0.5 s (Conveyor's local default)",
     '2 s (ALB: 2-120 s, less than the interval, whole seconds)'),
    ('environments.dev.services.shop.loadBalancer.deregistrationDelaySeconds',
     '0.5 s',
     '1 s (ALB takes whole seconds)'),
    ('environments.dev.services.shop.loadBalancer.bind',
     'listeners bound to 127.0.0.1 on this machine',
     'the internet-facing load balancer in PublicSubnetIds, reachable from AllowedCidr'),
    ('environments.dev.services.shop.deployment.alarms[0]',
     'alarm shop-5xx: scope green',
     'watches 2 target groups (ShopTargetGroup1, ShopTargetGroup2, SUM of their Sum): CloudWatch cannot '
     "follow the pair's swap on every deployment, and ALB metrics have no listener dimension"),
    ('environments.dev.services.shop.deployment.alarms[0].period',
     '1 s',
     '60 s (ALB publishes its metrics every 60 s; CloudWatch takes 10-30 s periods only for high-resolution '
     'metrics)'),
    ('environments.dev.services.shop.taskDefinition',
     "taskdef.json's executionRoleArn arn:aws:iam::<ACCOUNT_ID>:role/ecsTaskExecutionRole",
     "the first revision uses the template's role ShopExecutionRole (ECR pull, this service's log group); "
     "revisions Conveyor registers later use the file's: set it to the stack output ShopExecutionRoleArn"),
    ('environments.dev.services.shop.taskDefinition',
     'taskdef.json: container web logs to /conveyor/production/web',
     "the service's log group, the only one its execution role may write to"),
    ('environments.dev.services.shop.deployment.config.name',
     'not set (a custom config without a name)',
     'conveyor-dev-shop; add `name: conveyor-dev-shop` to conveyor.yml: the AWS backend deploys a custom '
     'config by name'),
    ('environments.dev.services.shop.deployment.config.linearPercentage',
     '12.5%',
     '13% (CodeDeploy takes whole percentages)'),
    ('environments.dev.services.shop.deployment.config.linearInterval',
     '30s',
     '1 min (CodeDeploy takes whole minutes, at least 1)'),
    ('environments.dev.services.shop.deployment.waitTimeMinutes',
     '1m30s',
     '2 min (CodeDeploy takes whole minutes)'),
    ('environments.dev.services.shop.deployment.hooks.smoke-test',
     'a local command (python3 ci/smoke.py) with timeoutSeconds 60 and env',
     "not created: on AWS the AppSpec's AfterAllowTestTraffic hook invokes the Lambda function smoke-test, "
     "which must exist there and report with PutLifecycleEventHookExecutionStatus within CodeDeploy's hour"),
    ('environments.dev.services.shop.deployment.hooks.contract-test',
     'a container (localhost/tests:dev)',
     "not created: on AWS the AppSpec's BeforeAllowTraffic hook invokes the Lambda function contract-test, "
     "which must exist there and report with PutLifecycleEventHookExecutionStatus within CodeDeploy's hour"),
    ('environments.dev.services.shop.deployment.hooks.notify',
     'a URL (http://127.0.0.1:9099/hook)',
     "not created: appspec.yaml names no function notify, and only the AppSpec's Lambda functions run on AWS"),
    ('environments.dev.services.shop.deployment.probe',
     'synthetic requests to green on the test listener (/, 5/s)',
     "left out: no AWS equivalent; green's alarms see the test listener's real requests only"),
    ('environments.dev.services.shop.deployment.requireTraffic',
     'requireTraffic true: alarms on green must have seen green requests before traffic moves',
     'no AWS equivalent: traffic moves when no alarm is in ALARM, with or without datapoints '
     '(treatMissingData decides what a period without requests counts as)'),
    ('environments.dev.services.search.loadBalancer.healthCheck.intervalSeconds',
     "2 s (Conveyor's local default)",
     '5 s (ALB: 5-300 s, whole seconds)'),
    ('environments.dev.services.search.loadBalancer.healthCheck.timeoutSeconds',
     "1 s (Conveyor's local default)",
     '2 s (ALB: 2-120 s, less than the interval, whole seconds)'),
    ('environments.dev.services.search.taskDefinition',
     "taskdef.json's executionRoleArn arn:aws:iam::<ACCOUNT_ID>:role/ecsTaskExecutionRole",
     "the first revision uses the template's role SearchExecutionRole (ECR pull, this service's log group); "
     "revisions Conveyor registers later use the file's: set it to the stack output SearchExecutionRoleArn"),
    ('environments.dev.services.search.taskDefinition',
     'taskdef.json: container web logs to /conveyor/production/web',
     "the service's log group, the only one its execution role may write to"),
    ('environments.dev.services.search.deployment.linearConfiguration.stepBakeTimeInMinutes',
     '45s',
     '1 min (ECS takes whole minutes)'),
    ('environments.dev.services.search.deployment.hooks.smoke-test',
     'a local command (true)',
     "not created: ECS-native deployments run no AppSpec hooks on AWS (the AWS backend refuses them); ECS's "
     "lifecycle hooks are Lambda functions in the service's deploymentConfiguration.lifecycleHooks"),
    ('environments.dev.services.search.deployment.deploymentReadyOption',
     'STOP_DEPLOYMENT (wait for `conveyor deploy continue`)',
     "left out: ECS pauses a native deployment with a PAUSE lifecycle hook, which CloudFormation's "
     'AWS::ECS::Service does not take; add one with UpdateService'),
    ('environments.dev.services.search.deployment.terminateBlue',
     'KEEP_ALIVE',
     'left out: ECS scales blue to zero once the bake time is over'),
    ('environments.dev.services.search.deployment.terminationWaitMinutes',
     '2 minutes',
     'left out: ECS keeps blue for bakeTimeInMinutes (its own default when not given)'),
    ('environments.dev.services.search.deployment.ignorePollAlarmFailure',
     'true',
     'left out: ECS deployment alarms have no such setting'),
    ('environments.dev.services.search.deployment.autoRollback',
     'rollback events',
     "only DEPLOYMENT_STOP_ON_ALARM maps (the alarms' Rollback); ECS rolls a failed native deployment back by "
     'itself'),
    ('environments.dev.services.legacy.loadBalancer.healthCheck.intervalSeconds',
     '4 s',
     '5 s (ALB: 5-300 s, whole seconds)'),
    ('environments.dev.services.legacy.loadBalancer.healthCheck.timeoutSeconds',
     '3.5 s',
     '4 s (ALB: 2-120 s, less than the interval, whole seconds)'),
    ('environments.dev.services.legacy.taskDefinition',
     'taskdef-bridge.json: requiresCompatibilities not set',
     '[FARGATE]: the services run on Fargate'),
    ('environments.dev.services.legacy.taskDefinition',
     'taskdef-bridge.json: networkMode bridge',
     "awsvpc (Fargate's only network mode)"),
    ('environments.dev.services.legacy.taskDefinition',
     'taskdef-bridge.json: no task-level cpu',
     '256 (Fargate needs one)'),
    ('environments.dev.services.legacy.taskDefinition',
     'taskdef-bridge.json: no task-level memory',
     '512 (Fargate needs one)'),
    ('environments.dev.services.legacy.taskDefinition',
     "taskdef-bridge.json: container web's hostPort 0",
     'left out: with awsvpc the host port is the container port'),
    ('environments.dev.services.legacy.taskDefinition',
     'taskdef-bridge.json: container web has no logConfiguration',
     "the first revision logs to the service's log group with awslogs; add that logConfiguration to "
     'taskdef-bridge.json so that later revisions do too'),
    ('environments.dev.services.legacy.healthCheckGracePeriodSeconds',
     '2.5 s',
     "2 s (ECS takes whole seconds; the AWS backend's deploys send the same)"),
    ('environments.dev.services.legacy.deployment.circuitBreaker.threshold',
     'threshold {type: COUNT, value: 2}',
     'left out: ECS takes enable and rollback only and applies its own threshold (half the desired count, 3 '
     'to 200 tasks) and reset'),
    ('environments.dev.services.legacy.deployment.circuitBreaker.resetOnHealthyTask',
     'resetOnHealthyTask false',
     'left out: ECS takes enable and rollback only and applies its own threshold (half the desired count, 3 '
     'to 200 tasks) and reset'),
]

REPOSITORY_NOTES = [
    ('registry.target',
     'builds push to the local registry (target: local)',
     'the repositories are exported for ECR; builds push there with registry target: aws'),
    ('repositories.search.tagRetention',
     'tagRetention (not an ECR repository setting)',
     'left out'),
]


def test_every_local_only_feature_is_noted_with_what_happens_instead(exported):
    _, notes = exported(LOCAL_ONLY, "dev")
    assert [(n.source, n.what, n.instead) for n in notes.items] == ENVIRONMENT_NOTES


def test_the_repositories_notes_say_what_ecr_does_not_take():
    notes = Notes()
    repositories_template(load_pipeline(LOCAL_ONLY), notes=notes)
    assert [(n.source, n.what, n.instead) for n in notes.items] == REPOSITORY_NOTES


def test_the_notes_come_environment_first_then_service_by_service(exported):
    _, notes = exported(LOCAL_ONLY, "dev")
    order = [n.source.split(".")[3] if ".services." in n.source else "" for n in notes.items]
    assert order == sorted(order, key=["", "shop", "search", "legacy"].index)


def test_notes_accumulate_across_exports_without_repeats():
    notes = Notes()
    definition = load_pipeline(LOCAL_ONLY)
    for _ in range(2):
        environment_template(definition, "dev", repository_root=FIXTURES, notes=notes)
    assert len(notes.items) == len(ENVIRONMENT_NOTES)


def test_an_exact_aws_environment_has_only_the_notes_of_its_task_definition(exported):
    _, notes = exported(FIXTURES / "custom.yml", "production")
    assert {n.source.rsplit(".", 1)[-1] for n in notes.items} == {"taskDefinition"}
