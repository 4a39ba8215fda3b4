"""conveyor.config.taskdef: ECS's task definition rules as a table of one-change-from-valid files, the
values the model holds (defaults, what is ignored, images replaced), and `conveyor validate`."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conveyor.config.taskdef import (
    READ_ONLY_FIELDS,
    HealthCheck,
    PortMapping,
    TaskDefinition,
    check_taskdef_file,
    load_taskdef,
    parse_taskdef,
)
from conveyor.errors import ConfigError, UserError

BASE = {
    "family": "orders",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "256",
    "memory": "512",
    "executionRoleArn": "arn:aws:iam::<ACCOUNT_ID>:role/ecsTaskExecutionRole",
    "containerDefinitions": [
        {"name": "api", "image": "<IMAGE1_NAME>", "portMappings": [{"containerPort": 8080, "protocol": "tcp"}]},
    ],
}


def taskdef(change=None) -> dict:
    data = copy.deepcopy(BASE)
    if change:
        change(data)
    return data


def c0(data: dict) -> dict:
    return data["containerDefinitions"][0]


def add(data: dict, **container) -> None:
    data["containerDefinitions"].append(container)


def found(data) -> tuple[list[str], list[str]]:
    """(errors, warnings) as `path: message` (no positions: the data comes without a file)."""
    td, diagnostics = parse_taskdef(data, "taskdef.json")
    text = [str(d).removeprefix("taskdef.json").lstrip(" :") for d in diagnostics]
    errors = [t for t, d in zip(text, diagnostics, strict=True) if d.severity == "error"]
    assert (td is None) == bool(errors)
    warnings = [t.replace("warning: ", "") for t, d in zip(text, diagnostics, strict=True) if d.severity == "warning"]
    return errors, warnings


def test_the_base_is_valid():
    assert found(taskdef()) == ([], [])


ERRORS = [
    # family and names
    ("family-charset", lambda d: d.update(family="orders.v2"),
     "family: invalid family 'orders.v2': expected 1-255 letters, digits, '-' or '_'"),
    ("family-missing", lambda d: d.pop("family"), "missing required key 'family'"),
    ("family-template", lambda d: d.update(family="${SERVICE}-task"),
     "'${SERVICE}' looks like a template placeholder that was not rendered"),
    ("no-containers", lambda d: d.update(containerDefinitions=[]),
     "containerDefinitions: a task definition needs at least one container"),
    ("containers-not-a-list", lambda d: d.update(containerDefinitions={"api": {}}),
     "containerDefinitions: expected a list, got a mapping"),
    ("eleven-containers", lambda d: d.update(containerDefinitions=[
        {"name": f"c{i}", "image": "nginx"} for i in range(11)]),
     "containerDefinitions: at most 10 containers per task definition, got 11"),
    ("duplicate-name", lambda d: add(d, name="api", image="nginx"),
     "containerDefinitions[1].name: duplicate container name 'api' (also containerDefinitions[0])"),
    ("container-name-charset", lambda d: c0(d).update(name="api server"),
     "containerDefinitions[0].name: invalid container name 'api server'"),
    ("image-missing", lambda d: c0(d).pop("image"), "containerDefinitions[0]: missing required key 'image'"),
    ("image-capitalised", lambda d: c0(d).update(Image=c0(d).pop("image")),
     "containerDefinitions[0]: missing required key 'image' (there is 'Image': keys are case-sensitive)"),
    ("image-space", lambda d: c0(d).update(image="nginx latest"),
     "containerDefinitions[0].image: invalid image 'nginx latest': ECS allows letters, digits and - _ . : / #"),
    ("image-digest", lambda d: c0(d).update(image="nginx@sha256:abc"),
     "invalid digest 'sha256:abc': expected sha256: and 64 hex digits"),
    ("image-empty", lambda d: c0(d).update(image=" "), "containerDefinitions[0].image: the image is empty"),
    ("no-essential", lambda d: c0(d).update(essential=False),
     "containerDefinitions: at least one container must be essential"),
    ("essential-string", lambda d: c0(d).update(essential="true"),
     "containerDefinitions[0].essential: expected true or false, got a string"),
    # health checks
    ("hc-interval", lambda d: c0(d).update(healthCheck={"command": ["CMD", "true"], "interval": 4}),
     "healthCheck.interval: interval must be between 5 and 300 seconds, got 4"),
    ("hc-timeout", lambda d: c0(d).update(healthCheck={"command": ["CMD", "true"], "timeout": 61}),
     "healthCheck.timeout: timeout must be between 2 and 60 seconds, got 61"),
    ("hc-retries", lambda d: c0(d).update(healthCheck={"command": ["CMD", "true"], "retries": 0}),
     "healthCheck.retries: retries must be between 1 and 10, got 0"),
    ("hc-start-period", lambda d: c0(d).update(healthCheck={"command": ["CMD", "true"], "startPeriod": 301}),
     "healthCheck.startPeriod: startPeriod must be between 0 and 300 seconds, got 301"),
    ("hc-bare-command", lambda d: c0(d).update(healthCheck={"command": ["/healthcheck"]}),
     "healthCheck.command[0]: a health check command must start with 'CMD' (run the arguments directly) or "
     "'CMD-SHELL' (run one string with the container's shell), as ECS requires: [\"CMD\", \"/healthcheck\", ...]"),
    ("hc-console-form", lambda d: c0(d).update(healthCheck={"command": ["CMD-SHELL, curl -f http://localhost/"]}),
     "healthCheck.command[0]: the first element must be exactly 'CMD-SHELL', with the command in the next element(s)"),
    ("hc-string", lambda d: c0(d).update(healthCheck={"command": "CMD-SHELL curl -f http://localhost/"}),
     "healthCheck.command: expected a list, e.g. [\"CMD-SHELL\""),
    ("hc-nothing-to-run", lambda d: c0(d).update(healthCheck={"command": ["CMD-SHELL"]}),
     "healthCheck.command: nothing to run after 'CMD-SHELL'"),
    ("hc-no-command", lambda d: c0(d).update(healthCheck={"interval": 10}),
     "healthCheck: missing required key 'command'"),
    # ports and network mode
    ("container-port-range", lambda d: c0(d)["portMappings"][0].update(containerPort=70000),
     "portMappings[0].containerPort: containerPort must be between 1 and 65535, got 70000"),
    ("container-port-missing", lambda d: c0(d).update(portMappings=[{"hostPort": 80}]),
     "portMappings[0]: missing required key 'containerPort'"),
    ("awsvpc-host-port", lambda d: c0(d)["portMappings"][0].update(hostPort=80),
     "portMappings[0].hostPort: with networkMode awsvpc, hostPort must be left out or equal containerPort (8080), "
     "got 80"),
    ("protocol", lambda d: c0(d)["portMappings"][0].update(protocol="TCP"),
     "portMappings[0].protocol: unknown protocol 'TCP' (did you mean 'tcp'?)"),
    ("network-mode", lambda d: d.update(networkMode="vpc"), "networkMode: unknown networkMode 'vpc' (did you mean "
                                                            "'awsvpc'?)"),
    ("network-mode-template", lambda d: d.update(networkMode="{{networkmode}}"),
     "networkMode: unknown networkMode '{{networkmode}}'; expected one of bridge, host, awsvpc, none; "
     "'{{networkmode}}' looks like a template placeholder that was not rendered"),
    ("compatibility", lambda d: d.update(requiresCompatibilities=["Fargate"]),
     "requiresCompatibilities[0]: unknown compatibility 'Fargate' (did you mean 'FARGATE'?)"),
    # task size
    ("fargate-combination", lambda d: d.update(memory="4096"),
     "memory: Fargate runs cpu 256 (0.25 vCPU) with memory 512, 1024 or 2048 MiB, got 4096"),
    ("fargate-steps", lambda d: d.update(cpu="4 vCPU", memory="2 GB"),
     "memory: Fargate runs cpu 4096 (4 vCPU) with memory 8192 to 30720 in steps of 1024 MiB, got 2048"),
    ("fargate-cpu", lambda d: d.update(cpu="384"), "memory: Fargate runs task cpu 256, 512, 1024, 2048, 4096, 8192, "
                                                   "16384 (0.25 to 16 vCPU), got 384"),
    ("fargate-needs-cpu", lambda d: d.pop("cpu"), "missing required key 'cpu': FARGATE tasks need a task-level cpu"),
    ("fargate-needs-awsvpc", lambda d: d.update(networkMode="bridge"),
     "networkMode: FARGATE tasks need networkMode awsvpc, got bridge"),
    ("cpu-grammar", lambda d: d.update(cpu="1 core"),
     "cpu: invalid task cpu '1 core': expected \"256\" or \"0.25 vCPU\""),
    ("ec2-cpu-range", lambda d: d.update(requiresCompatibilities=["EC2"], cpu="64"),
     "cpu: task cpu must be between 128 and 196608 units, got 64"),
    ("container-memory-over-task", lambda d: c0(d).update(memory=1024),
     "memory: the containers reserve 1024 MiB (memoryReservation, else memory), more than the task's 512 MiB"),
    ("container-cpu-over-task", lambda d: c0(d).update(cpu=512),
     "cpu: the containers reserve 512 CPU units, more than the task's 256"),
    ("reservation-over-memory", lambda d: c0(d).update(memory=128, memoryReservation=256),
     "memoryReservation: memoryReservation (256 MiB, the soft limit) must not exceed memory (128 MiB, the hard limit)"),
    ("fargate-stop-timeout", lambda d: c0(d).update(stopTimeout=300),
     "containerDefinitions[0].stopTimeout: stopTimeout must be between 2 and 120 seconds on FARGATE, got 300"),
    # dependsOn
    ("depends-unknown", lambda d: c0(d).update(dependsOn=[{"containerName": "db", "condition": "START"}]),
     "dependsOn[0].containerName: container 'db' does not exist in this task definition (containers: api)"),
    ("depends-condition", lambda d: (add(d, name="db", image="postgres"),
                                     c0(d).update(dependsOn=[{"containerName": "db", "condition": "READY"}])),
     "dependsOn[0].condition: unknown condition 'READY'; expected one of START, COMPLETE, SUCCESS, HEALTHY"),
    ("depends-healthy-needs-check", lambda d: (add(d, name="db", image="postgres"),
                                               c0(d).update(dependsOn=[{"containerName": "db",
                                                                        "condition": "HEALTHY"}])),
     "dependsOn[0].condition: condition HEALTHY needs container 'db' to have a healthCheck"),
    ("depends-complete-on-essential", lambda d: (add(d, name="init", image="busybox"),
                                                 c0(d).update(dependsOn=[{"containerName": "init",
                                                                          "condition": "COMPLETE"}])),
     "condition COMPLETE cannot be set on essential container 'init' (the task stops when it exits): mark it "
     "\"essential\": false"),
    ("depends-self", lambda d: c0(d).update(dependsOn=[{"containerName": "api", "condition": "START"}]),
     "dependsOn[0].containerName: container 'api' cannot depend on itself"),
    ("depends-cycle", lambda d: (add(d, name="db", image="postgres",
                                     dependsOn=[{"containerName": "api", "condition": "START"}]),
                                 c0(d).update(dependsOn=[{"containerName": "db", "condition": "START"}])),
     "containerDefinitions[0].dependsOn: dependsOn forms a cycle (api -> db -> api): no container could start"),
    # environment, secrets, argv
    ("env-value-from", lambda d: c0(d).update(environment=[{"name": "DB_HOST", "valueFrom": "arn:aws:ssm:x"}]),
     "environment[0].valueFrom: 'valueFrom' does not belong in 'environment', whose entries are {name, value}: a value "
     "read from Secrets Manager or Parameter Store goes in the container's 'secrets' list ({name, valueFrom})"),
    ("env-number", lambda d: c0(d).update(environment=[{"name": "PORT", "value": 8080}]),
     "environment[0].value: expected a string, got an integer: ECS passes environment values as text, write \"8080\""),
    ("env-no-name", lambda d: c0(d).update(environment=[{"value": "x"}]),
     "environment[0]: missing required key 'name'"),
    ("env-mapping", lambda d: c0(d).update(environment={"PORT": "8080"}),
     "containerDefinitions[0].environment: expected a list, got a mapping"),
    ("secret-value-from", lambda d: c0(d).update(secrets=[{"name": "TOKEN"}]),
     "secrets[0]: missing required key 'valueFrom'"),
    ("command-string", lambda d: c0(d).update(command="python3 -m app"),
     "containerDefinitions[0].command: expected a list of strings (the argv, e.g. [\"sh\", \"-c\", \"python3 -m "
     "app\"]), got a string"),
    ("command-number", lambda d: c0(d).update(command=["sleep", 5]),
     "containerDefinitions[0].command[1]: expected a string, got an integer"),
    # shape
    ("ignored-key-type", lambda d: d.update(volumes="data"), "volumes: expected a list, got a string"),
    ("log-driver", lambda d: c0(d).update(logConfiguration={"options": {}}),
     "logConfiguration: missing required key 'logDriver'"),
]


@pytest.mark.parametrize("change, expected", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors(change, expected):
    errors, _ = found(taskdef(change))
    assert any(expected in e for e in errors), errors


WARNINGS = [
    ("unknown-key", lambda d: d.update(memorySize="512"),
     "memorySize: unknown key 'memorySize' (did you mean 'memory'?); ECS rejects unknown keys, "
     "Conveyor ignores this one"),
    ("pascal-case", lambda d: c0(d).update(Environment=[]),
     "containerDefinitions[0].Environment: unknown key 'Environment' (did you mean 'environment'?): taskdef.json uses "
     "the ECS API's camelCase keys, not CloudFormation's PascalCase; ECS rejects unknown keys"),
    ("read-only", lambda d: d.update(revision=3, status="ACTIVE", registeredAt="2024-01-01T00:00:00Z"),
     "revision: revision, status, registeredAt: read-only fields of `aws ecs describe-task-definition` output; "
     "Conveyor drops them, `aws ecs register-task-definition` rejects them"),
    ("task-cpu-number", lambda d: d.update(cpu=256),
     "cpu: the ECS API types task-level cpu as a string, so `aws ecs register-task-definition` rejects the number "
     "256: write \"256\""),
    ("bare-placeholder", lambda d: c0(d).update(image="IMAGE1_NAME"),
     "containerDefinitions[0].image: 'IMAGE1_NAME' looks like a CodeDeployToECS placeholder without its angle "
     "brackets: the action replaces only the text '<IMAGE1_NAME>', so this image would be pulled as is"),
    ("ec2-container-memory", lambda d: (d.pop("memory"), d.pop("cpu"), d.update(requiresCompatibilities=["EC2"])),
     "containerDefinitions[0]: container 'api' has no 'memory' or 'memoryReservation' (MiB) and the task no "
     "task-level 'memory': Conveyor runs it without a limit, ECS rejects it"),
    ("unknown-health-key", lambda d: c0(d).update(healthCheck={"command": ["CMD", "true"], "intervalSeconds": 5}),
     "healthCheck.intervalSeconds: unknown key 'intervalSeconds' (did you mean 'interval'?)"),
]


@pytest.mark.parametrize("change, expected", [w[1:] for w in WARNINGS], ids=[w[0] for w in WARNINGS])
def test_warnings_do_not_fail(change, expected):
    errors, warnings = found(taskdef(change))
    assert errors == []
    assert any(expected in w for w in warnings), warnings


VALID = [
    ("placeholders-in-images-and-arns", lambda d: (
        c0(d).update(image="${ECR_URI}:${IMAGE_TAG}"),
        add(d, name="sidecar", image="{{sidecar-image}}", essential=False),
        add(d, name="agent", image="<AWS_ACCOUNT_ID>.dkr.ecr.<AWS_REGION>.amazonaws.com/agent:latest", essential=False),
        d.update(taskRoleArn="{{task-role-arn}}"))),
    ("nulls-and-empty-lists", lambda d: (d.update(taskRoleArn=None, ipcMode=None, volumes=[], placementConstraints=[]),
                                         c0(d).update(memory=None, entryPoint=[], command=[], links=[],
                                                      environment=[], dockerLabels={}))),
    ("bridge-dynamic-host-port", lambda d: (d.update(networkMode="bridge", requiresCompatibilities=["EC2"]),
                                            c0(d)["portMappings"][0].update(hostPort=0))),
    ("ec2-container-memory", lambda d: (d.pop("memory"), d.pop("cpu"), d.pop("networkMode"),
                                        d.update(requiresCompatibilities=["EC2"]), c0(d).update(memoryReservation=64))),
    ("vcpu-and-gb", lambda d: d.update(cpu="0.25 vCPU", memory="1 GB")),
    ("largest-fargate", lambda d: d.update(cpu="16384", memory="122880")),
    ("init-container-complete", lambda d: (add(d, name="init", image="busybox", essential=False),
                                           c0(d).update(dependsOn=[{"containerName": "init",
                                                                    "condition": "SUCCESS"}]))),
    ("healthy-dependency", lambda d: (add(d, name="db", image="postgres",
                                          healthCheck={"command": ["CMD-SHELL", "pg_isready"]}),
                                      c0(d).update(dependsOn=[{"containerName": "db", "condition": "HEALTHY"}]))),
    ("digest-image", lambda d: c0(d).update(image="127.0.0.1:5000/orders@sha256:" + "a" * 64)),
    ("port-range", lambda d: c0(d)["portMappings"].append({"containerPortRange": "9000-9010"})),
]


@pytest.mark.parametrize("change", [v[1] for v in VALID], ids=[v[0] for v in VALID])
def test_valid(change):
    assert found(taskdef(change)) == ([], [])


def test_every_error_is_reported_at_once():
    def many(d):
        d.update(family="a b", networkMode="vpc")
        c0(d).update(healthCheck={"command": ["curl"], "interval": 1})
    errors, _ = found(taskdef(many))
    assert len(errors) == 4, errors


def test_a_wrapped_describe_output_is_recognised_and_still_checked():
    errors, _ = found({"taskDefinition": taskdef(lambda d: d.update(family="a b")), "tags": []})
    assert errors[0].startswith("taskDefinition: this is `aws ecs describe-task-definition` output: the task "
                                "definition is wrapped in {\"taskDefinition\": ...}")
    assert "keep only the inner object (jq .taskDefinition)" in errors[0]
    assert "taskDefinition.family: invalid family 'a b'" in errors[1]


def test_not_an_object():
    assert found([BASE])[0] == ["expected a JSON object (a task definition: {\"family\": ..., "
                                "\"containerDefinitions\": [...]}), got a list"]


# --- the model ------------------------------------------------------------------------------------

def test_the_model_holds_the_file_and_ecs_defaults():
    data = taskdef(lambda d: (
        c0(d).update(healthCheck={"command": ["CMD-SHELL", "curl -f localhost:8080/health"]},
                     environment=[{"name": "B", "value": "2"}, {"name": "A", "value": "1"}, {"name": "EMPTY"}],
                     secrets=[{"name": "TOKEN", "valueFrom": "arn:aws:secretsmanager:r:1:secret:t"}],
                     command=["python3", "-m", "app"], entryPoint=[], stopTimeout=10,
                     logConfiguration={"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/orders",
                                                                             "awslogs-stream-prefix": "api"}}),
        add(d, name="sidecar", image="busybox", essential=False, memoryReservation=32,
            dependsOn=[{"containerName": "api", "condition": "START"}])))
    td, _ = parse_taskdef(data)
    assert td is not None
    api = td.container("api")
    assert api.health_check == HealthCheck(("CMD-SHELL", "curl -f localhost:8080/health"), 30, 5, 3, 0)
    assert api.environment == (("B", "2"), ("A", "1"), ("EMPTY", ""))
    assert api.secrets == (("TOKEN", "arn:aws:secretsmanager:r:1:secret:t"),)
    assert api.command == ("python3", "-m", "app") and api.entry_point is None
    assert api.port_mappings == (PortMapping(8080, None, "tcp", None),)
    assert api.stop_timeout == 10 and api.essential and api.log_configuration["logDriver"] == "awslogs"
    sidecar = td.container("sidecar")
    assert not sidecar.essential and sidecar.memory_reservation == 32
    assert sidecar.depends_on[0].container_name == "api" and sidecar.depends_on[0].condition == "START"
    assert td.essential_containers() == (api,)
    assert td.container("nope") is None
    assert (td.family, td.network_mode, td.cpu, td.memory) == ("orders", "awsvpc", "256", "512")
    assert td.ignored == ("requiresCompatibilities", "executionRoleArn", "containerDefinitions[0].logConfiguration")


def test_what_is_not_applied_locally_is_listed_never_dropped():
    data = taskdef(lambda d: (
        d.update(volumes=[{"name": "data"}], taskRoleArn="arn:aws:iam::1:role/t", placementConstraints=[]),
        c0(d).update(mountPoints=[{"sourceVolume": "data", "containerPath": "/data"}], ulimits=[],
                     linuxParameters={"initProcessEnabled": True}, privileged=False),
        c0(d)["portMappings"][0].update(appProtocol="http")))
    td, _ = parse_taskdef(data)
    assert td.ignored == ("requiresCompatibilities", "taskRoleArn", "executionRoleArn", "volumes",
                          "containerDefinitions[0].portMappings[0].appProtocol",
                          "containerDefinitions[0].mountPoints", "containerDefinitions[0].linuxParameters")


def test_read_only_fields_are_stripped_from_raw():
    data = taskdef(lambda d: d.update({k: "x" for k in READ_ONLY_FIELDS}))
    td, diagnostics = parse_taskdef(data)
    assert not set(READ_ONLY_FIELDS) & set(td.raw)
    assert td.raw == BASE
    assert [d.severity for d in diagnostics] == ["warning"]


@pytest.mark.parametrize("cpu, memory, units, mib", [
    ("256", "512", 256, 512), ("0.25 vCPU", "0.5 GB", 256, 512), ("1 vcpu", "1GB", 1024, 1024),
    ("2 vCPU", "4 GB", 2048, 4096), (None, None, None, None), ("1024", "3072", 1024, 3072),
])
def test_task_size_in_units(cpu, memory, units, mib):
    td = TaskDefinition("f", (), cpu=cpu, memory=memory)
    assert (td.task_cpu_units(), td.task_memory_mib()) == (units, mib)


def test_a_numeric_task_size_is_kept_as_a_string():
    td, _ = parse_taskdef(taskdef(lambda d: d.update(cpu=512, memory=1024)))
    assert (td.cpu, td.memory, td.task_cpu_units()) == ("512", "1024", 512)


def test_with_images_replaces_by_container_name_in_the_model_and_raw():
    td, _ = parse_taskdef(taskdef(lambda d: add(d, name="sidecar", image="busybox:1", essential=False)))
    new = td.with_images({"api": "127.0.0.1:5000/orders:abc"})
    assert new.container("api").image == "127.0.0.1:5000/orders:abc"
    assert new.container("sidecar").image == "busybox:1"
    assert [c["image"] for c in new.raw["containerDefinitions"]] == ["127.0.0.1:5000/orders:abc", "busybox:1"]
    assert (td.container("api").image == "<IMAGE1_NAME>"
            and td.raw["containerDefinitions"][0]["image"] == "<IMAGE1_NAME>")
    with pytest.raises(UserError, match=r"task definition orders has no container 'web' \(containers: api, sidecar\)"):
        td.with_images({"web": "x"})


# --- files --------------------------------------------------------------------------------------

GOOD = json.dumps(BASE, indent=2)
BAD = """{
  "family": "orders",
  "containerDefinitions": [
    {
      "name": "api",
      "image": "nginx",
      "memory": 128,
      "healthCheck": {"command": ["curl", "-f", "http://localhost/"], "interval": 1}
    }
  ]
}
"""


def test_load_taskdef_raises_every_error_with_positions(tmp_path):
    (tmp_path / "taskdef.json").write_text(BAD)
    with pytest.raises(ConfigError) as info:
        load_taskdef(tmp_path / "taskdef.json", "taskdef.json")
    assert [str(d) for d in info.value.diagnostics] == [
        "taskdef.json:8:35 containerDefinitions[0].healthCheck.command[0]: a health check command must start with "
        "'CMD' (run the arguments directly) or 'CMD-SHELL' (run one string with the container's shell), as ECS "
        "requires: [\"CMD\", \"curl\", ...]",
        "taskdef.json:8:71 containerDefinitions[0].healthCheck.interval: interval must be between 5 and 300 seconds, "
        "got 1",
    ]
    (tmp_path / "good.json").write_text(GOOD)
    assert load_taskdef(tmp_path / "good.json").family == "orders"


@pytest.mark.parametrize("text, expected", [
    ("", "taskdef.json:1:1: the file is empty; expected a JSON object"),
    ('{"family": "x",}', "taskdef.json:1:16: malformed JSON: Expecting property name enclosed in double quotes"),
    ('{"command": [\n  {{command}}\n]}', "taskdef.json:2:4: malformed JSON: Expecting property name enclosed in double "
                                         "quotes ('{{...}}' is a template placeholder that was not rendered: render "
                                         "the file before using it)"),
])
def test_unreadable_files(tmp_path, text, expected):
    (tmp_path / "taskdef.json").write_text(text)
    assert [str(d) for d in check_taskdef_file(tmp_path / "taskdef.json", "taskdef.json")] == [expected]


def test_a_missing_file():
    assert [str(d) for d in check_taskdef_file(Path("/nonexistent/taskdef.json"), "taskdef.json")] == [
        "taskdef.json: file not found"]


def validate(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CONVEYOR_HOME": str(cwd / ".home")}
    return subprocess.run([sys.executable, "-m", "conveyor.cli.main", "validate", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_conveyor_validate_taskdef(tmp_path):
    (tmp_path / "taskdef.json").write_text(GOOD)
    (tmp_path / "bad.json").write_text(BAD)
    good = validate("taskdef.json", cwd=tmp_path)  # the kind comes from the file name
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip() == "✓ taskdef.json (taskdef) is valid"
    bad = validate("--kind", "taskdef", "bad.json", cwd=tmp_path)
    assert bad.returncode == 2
    lines = bad.stderr.splitlines()
    assert lines[0].startswith("bad.json:8:35 containerDefinitions[0].healthCheck.command[0]: a health check command "
                               "must start with 'CMD'")
    assert lines[1].startswith("bad.json:8:71 containerDefinitions[0].healthCheck.interval: ")
    assert lines[-1] == "2 errors"
    assert "Traceback" not in bad.stderr
