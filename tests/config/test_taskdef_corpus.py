"""conveyor.config.taskdef on the 40 real task definitions of the shared corpus (MANIFEST.tsv says where
each comes from and what it exercises): a verdict per file, and the values Conveyor would run for a
few of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.config.taskdef import check_taskdef_file, load_taskdef

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "taskdef"

VALID, WARNINGS, INVALID = "valid", "valid-with-warnings", "invalid"

# Every corpus file, its verdict, and a substring of the main error (invalid) or warning (valid-with-warnings).
VERDICTS = {
    "2025-softbank-hackathon__backend__taskdef.json": (VALID, None),
    # Secrets valueFrom as bare SSM parameter names (allowed) and "ipcMode": null (not given).
    "23prime__gokabot__taskdef.json": (VALID, None),
    # MANIFEST "MALFORMED": environment entries carry valueFrom (they belong in secrets); also read-only fields.
    "4304-2024-15-devops-barichara-team__2024-blacklist__taskdef.json":
        (INVALID, "21:21 containerDefinitions[0].environment[0].valueFrom: 'valueFrom' does not belong in "
                  "'environment', whose entries are {name, value}: a value read from Secrets Manager or Parameter "
                  "Store goes in the container's 'secrets' list ({name, valueFrom})"),
    "4monument__sb1-monew-team04__taskdef.json": (VALID, None),  # EC2 bridge, container-level memory
    "705jul__sbcntr-backend__taskdef.json": (VALID, None),  # explicit nulls, secrets with JSON-key suffixes
    "A0291221R__multi-agent-app__taskdef.json": (VALID, None),  # <ACCOUNT_ID> placeholders in ARNs and image
    "ANTN0__workshop-repo__taskdef.json": (VALID, None),  # console export: every optional list empty
    "Abdelali12-codes__aws_ecs_blue_green_lambda_hooks__taskdef.json": (VALID, None),
    "AbrahamGyamfi__Advance_monitoring_Jaeger__taskdef.json": (VALID, None),  # dependsOn HEALTHY with a healthCheck
    "Achroma-inc__my-laravel-app__taskdef.json": (VALID, None),
    # Raw describe-task-definition output: the read-only fields are dropped, with a warning.
    "AleksandarCvjetic__aws-ecs-pipeline-with-blue-green-deployment__taskdef.json":
        (WARNINGS, "2:5 taskDefinitionArn: warning: taskDefinitionArn, revision, status, requiresAttributes, "
                   "compatibilities, registeredAt, registeredBy: read-only fields of "
                   "`aws ecs describe-task-definition` output; Conveyor drops them, "
                   "`aws ecs register-task-definition` rejects them"),
    "Amritraj689__amrit-wp__taskdef.json": (VALID, None),  # family "LINUX" is odd but a valid name
    "BraidFI-AI__watchman-java__.aws__task-definition.json": (VALID, None),  # Fargate 4096/8192
    "Delvin-Yamoah__Containerized-LAMP-Stack-With-AWS-CLI__task-def.json": (VALID, None),
    # Not in the MANIFEST notes: Fargate cpu 4096 needs 8-30 GB of memory; the file asks for 2 GB.
    "Listowel-Moro__tag-finder__deploy__taskdef.json":
        (INVALID, "35:3 memory: Fargate runs cpu 4096 (4 vCPU) with memory 8192 to 30720 in steps of 1024 MiB, "
                  "got 2048"),
    # An envsubst template: ${VAR} in the family and the container name, which ECS rejects until rendered.
    "MarcioLeoS__wordpress-aws-ecs-deploy__task-def.json":
        (INVALID, "2:3 family: invalid family '${ECS_SERVICE_NAME}-task': expected 1-255 letters, digits, '-' or '_'; "
                  "'${ECS_SERVICE_NAME}' looks like a template placeholder that was not rendered"),
    "Nichi-In-Dev-Dept-1__voiceping-router__ecs-task-def.json": (VALID, None),
    "ParnabBasak__aws-mwaa-local-runner__task-def.json": (VALID, None),
    # MANIFEST: image "IMAGE1_NAME" without angle brackets, which CodeDeployToECS does not replace.
    "arnold-mataba__photo-uploader-infra__codedeploy__taskdef.template.json":
        (WARNINGS, "12:7 containerDefinitions[0].image: warning: 'IMAGE1_NAME' looks like a CodeDeployToECS "
                   "placeholder without its angle brackets"),
    # A tag that does not exist fails at pull time, not at registration.
    "aws-actions__amazon-ecs-deploy-task-definition__task-definition-bad-image.json": (VALID, None),
    "aws-actions__amazon-ecs-deploy-task-definition__task-definition-volume-configuration.json": (VALID, None),
    # MANIFEST "INVALID JSON": an unquoted {{command}} template inside the command array.
    "aws-observability__aws-otel-collector__examples__ecs__aws-cloudwatch__ecs-ec2-instance-daemon.json":
        (INVALID, "16:10: malformed JSON: Expecting property name enclosed in double quotes ('{{...}}' is a template "
                  "placeholder that was not rendered: render the file before using it)"),
    # Not in the MANIFEST notes: the collector's healthCheck command is ["/healthcheck"], without CMD or CMD-SHELL.
    "aws-observability__aws-otel-collector__examples__ecs__aws-cloudwatch__ecs-fargate-sidecar.json":
        (INVALID, "22:22 containerDefinitions[0].healthCheck.command[0]: a health check command must start with 'CMD' "
                  "(run the arguments directly) or 'CMD-SHELL' (run one string with the container's shell), as ECS "
                  "requires: [\"CMD\", \"/healthcheck\", ...]"),
    # EC2 daemon: a non-essential init container that the main one waits for (COMPLETE).
    "aws-samples__amazon-cloudwatch-container-insights__ecs-task-definition-templates__deployment-mode__"
    "daemon-service__fluent-bit-ecs-instance-logs__fluent-bit-ecs-instance-logs.json": (VALID, None),
    # MANIFEST: networkMode and requiresCompatibilities are {{placeholders}}, invalid until rendered.
    "aws-samples__amazon-cloudwatch-container-insights__ecs-task-definition-templates__deployment-mode__"
    "replica-service__cwagent-prometheus__cwagent-prometheus-task-definition.json":
        (INVALID, "5:3 networkMode: unknown networkMode '{{networkmode}}'; expected one of bridge, host, awsvpc, none; "
                  "'{{networkmode}}' looks like a template placeholder that was not rendered"),
    "aws-samples__amazon-cloudwatch-container-insights__ecs-task-definition-templates__deployment-mode__sidecar__"
    "combination__combination-fargate.json": (VALID, None),
    "aws-samples__amazon-ecs-firelens-examples__examples__fluent-bit__cloudwatchlogs-emf__emf-over-tcp__"
    "task-definition-bridge.json": (VALID, None),
    "aws-samples__amazon-ecs-firelens-examples__examples__fluent-bit__datadog__task-definition.json": (VALID, None),
    "aws-samples__amazon-ecs-firelens-examples__examples__fluent-bit__ecs-log-collection__task-definition-tail.json":
        (VALID, None),
    # MANIFEST "WRAPPED" in {"taskDefinition": {...}}: recognised, with the fix.
    "aws-samples__amazon-ecs-firelens-examples__examples__fluent-bit__efs__task-definition.json":
        (INVALID, "2:5 taskDefinition: this is `aws ecs describe-task-definition` output: the task definition is "
                  "wrapped in {\"taskDefinition\": ...}, but CodeDeployToECS and `aws ecs register-task-definition` "
                  "read it unwrapped; keep only the inner object (jq .taskDefinition)"),
    "aws-samples__amazon-ecs-firelens-examples__examples__fluent-bit__health-check__"
    "task-definition-output-metrics-healthcheck.json": (VALID, None),
    "aws-samples__amazon-ecs-firelens-examples__examples__fluent-bit__init-metadata__task-definition.json":
        (VALID, None),
    "aws-samples__amazon-ecs-firelens-examples__examples__fluent-bit__parse-envoy-app-mesh__"
    "appmesh-firelens-colorteller-black-ecs-task-def.json": (VALID, None),
    "aws-samples__aws-codebuild-samples__taskdef.json": (VALID, None),
    "aws-samples__sample-amazon-ecs-blue-green-deployment-patterns__ecs-bluegreen-service-connect__"
    "taskdef_backend.template.json": (VALID, None),  # versionConsistency is a current ContainerDefinition key
    "shashank070__aws-codepipeline-ecs-bluegreen-deployment__taskdef.json": (VALID, None),
    # Rendered by a script: ${PROJECT} in the family is still a placeholder in the file as committed.
    "sjamillah__photo-uploader-app__deploy__taskdef.template.json":
        (INVALID, "2:3 family: invalid family '${PROJECT}': expected 1-255 letters, digits, '-' or '_'; '${PROJECT}' "
                  "looks like a template placeholder that was not rendered"),
    "thenoblet__pexelhub__deploy__taskdef.json": (VALID, None),
    "umitseremet__blue-green-test__taskdef.json": (VALID, None),  # "executionRoleArn": "" is not given
    "wodoame__BEM13-lab2-ecs-cicd__deploy__taskdef.json": (VALID, None),
}


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the shared taskdef corpus is not checked out next to the repository ({CORPUS})")
    return CORPUS


def test_the_verdict_table_covers_the_corpus(corpus):
    assert sorted(p.name for p in corpus.iterdir()) == sorted(VERDICTS)
    assert len(VERDICTS) == 40


def test_the_verdict_counts():
    counts = {v: sum(1 for verdict, _ in VERDICTS.values() if verdict == v) for v in (VALID, WARNINGS, INVALID)}
    assert counts == {VALID: 30, WARNINGS: 2, INVALID: 8}


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_corpus_verdict(corpus, name):
    verdict, expected = VERDICTS[name]
    found = [str(d) for d in check_taskdef_file(corpus / name, name)]
    errors = [d for d in found if ": warning: " not in d]
    warnings = [d for d in found if ": warning: " in d]
    assert all(d.startswith(f"{name}:") for d in found)
    if verdict == INVALID:
        assert any(expected in e for e in errors), found
        return
    assert errors == []
    if verdict == VALID:
        assert warnings == []
    else:
        assert any(expected in w for w in warnings), warnings
    load_taskdef(corpus / name, name)  # warnings never stop a deploy


def test_corpus_models_hold_what_conveyor_runs(corpus):
    jaeger = load_taskdef(corpus / "AbrahamGyamfi__Advance_monitoring_Jaeger__taskdef.json")
    backend, frontend = jaeger.containers
    assert backend.health_check.start_period == 40 and backend.health_check.command[0] == "CMD-SHELL"
    assert frontend.depends_on[0].container_name == "backend" and frontend.depends_on[0].condition == "HEALTHY"
    assert jaeger.task_cpu_units() == 512 and jaeger.task_memory_mib() == 1024

    described = load_taskdef(corpus / "AleksandarCvjetic__aws-ecs-pipeline-with-blue-green-deployment__taskdef.json")
    assert "revision" not in described.raw and "taskDefinitionArn" not in described.raw
    assert described.family == "project51-bg-deploy-td"

    sbcntr = load_taskdef(corpus / "705jul__sbcntr-backend__taskdef.json")
    app = sbcntr.container("app")
    assert app.memory is None and app.memory_reservation == 512 and app.readonly_root_filesystem
    assert dict(app.secrets)["DB_HOST"].endswith(":host::")

    envoy = load_taskdef(corpus / "aws-samples__amazon-ecs-firelens-examples__examples__fluent-bit__parse-envoy-app-"
                                  "mesh__appmesh-firelens-colorteller-black-ecs-task-def.json")
    assert envoy.container("envoy").user == "1337"
    assert "proxyConfiguration" in envoy.ignored and "containerDefinitions[2].ulimits" in envoy.ignored
    assert [p.container_port for p in envoy.container("envoy").port_mappings] == [9901, 15000, 15001]

    firelens = load_taskdef(corpus / "aws-samples__amazon-ecs-firelens-examples__examples__fluent-bit__cloudwatchlogs-"
                                     "emf__emf-over-tcp__task-definition-bridge.json")
    assert firelens.network_mode is None and firelens.memory is None
    assert "containerDefinitions[1].links" in firelens.ignored

    workshop = load_taskdef(corpus / "ANTN0__workshop-repo__taskdef.json")
    webapp = workshop.container("webapp")
    assert webapp.command is None and webapp.entry_point is None and webapp.environment == ()
    assert workshop.ignored == ("requiresCompatibilities", "taskRoleArn", "executionRoleArn")
