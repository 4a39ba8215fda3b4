"""conveyor.yml `environments:` (conveyor.config.environments): shapes and ranges of the service,
load balancer and deployment keys (aws-semantics §4.2-4.4, §7.1-7.2), ports unique on the machine,
and the cross-check against each service's task definition file."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from conveyor.config import environments as envs
from conveyor.config.environments import check_environments
from conveyor.config.pipeline import check_document, check_file, load_pipeline_text
from conveyor.documents.located import load_text

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "conveyor.reference.yml"

PIPELINE = """\
name: demo
pipeline:
  stages:
    - name: Source
      actions:
        - {name: Source, provider: Git, outputArtifacts: [src]}
    - name: Settle
      actions:
        - {name: Pause, provider: Wait, seconds: 0}
"""

TASKDEF = {"family": "orders", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256",
           "memory": "512", "containerDefinitions": [
               {"name": "api", "image": "<IMAGE1_NAME>", "portMappings": [{"containerPort": 8080}]},
               {"name": "metrics", "image": "busybox", "essential": False,
                "portMappings": [{"containerPort": 9100, "protocol": "udp"}]}]}


def reader(files: dict[str, object]):
    """A TaskdefReader over in-memory files (str: text, else JSON-encoded)."""
    def read(value: str):
        if value not in files:
            return None
        body = files[value]
        return value, body if isinstance(body, str) else json.dumps(body, indent=2)
    return read


def check(environments: str, files: dict | None = None) -> list[str]:
    text = PIPELINE + "environments:\n" + textwrap.indent(textwrap.dedent(environments), "  ")
    doc = load_text(text, "conveyor.yml")
    read = reader({"taskdef.json": TASKDEF} if files is None else files)
    return [str(d) for d in check_environments(doc, read_taskdef=read)]


def no_position(lines: list[str]) -> list[str]:
    """'conveyor.yml:12:7 a.b: m' -> 'a.b: m'"""
    return [line.split(" ", 1)[1] if line.startswith("conveyor.yml:") else line for line in lines]


FULL = """\
staging:
  target: local
  services:
    orders:
      taskDefinition: taskdef.json
      desiredCount: 2
      healthCheckGracePeriodSeconds: 0.5
      loadBalancer:
        port: 8081
        bind: 127.0.0.1
        testPort: 9081
        container: api
        containerPort: 8080
        deregistrationDelaySeconds: 0
        healthCheck: {path: /health, port: traffic-port, intervalSeconds: 1.5, timeoutSeconds: 1,
                      healthyThresholdCount: 2, unhealthyThresholdCount: 3, matcher: "200,202-204"}
      deployment:
        controller: ECS
        minimumHealthyPercent: 50
        maximumPercent: 150
        circuitBreaker: {enable: true, rollback: true, resetOnHealthyTask: false,
                         threshold: {type: COUNT, value: 3}}
    worker:
      desiredCount: 0
production:
  alarms:
    orders-5xx: {metric: HTTPCode_Target_5XX_Count, threshold: 1, comparisonOperator: GreaterThanOrEqualToThreshold}
  services:
    orders:
      loadBalancer: {port: 8082, container: api, containerPort: 8080, healthCheck: {port: 8080, matcher: 200}}
      deployment:
        controller: CODE_DEPLOY
        appspec: appspec.yaml
        config: CodeDeployDefault.ECSAllAtOnce
        terminationWaitMinutes: 0
        alarms: [orders-5xx]
        autoRollback: true
        deploymentReadyOption: STOP_DEPLOYMENT
        waitTimeMinutes: 10
remote:
  target: aws
  region: eu-west-1
  services:
    orders: {loadBalancer: {port: 8081, container: api, containerPort: 8080}}   # not on this machine
"""


def test_a_full_section_is_valid():
    assert check(FULL) == []


def test_a_short_interval_alone_is_valid():
    """The default timeout (1 s) is not held against `intervalSeconds: 1`: locally a check that
    times out just starts the next one."""
    assert check("staging: {services: {orders: {loadBalancer: {port: 8081, container: api, containerPort: 8080, "
                 "healthCheck: {intervalSeconds: 1}}}}}") == []


def test_an_empty_environment_and_service_are_valid():
    assert check("staging: {}\nqa:\n  services:\n    orders: {}\n") == []


ERRORS = [
    ("env-name", "stag ing: {}", "environments.stag ing: invalid environment name 'stag ing': "
                                 "expected 1-64 characters"),
    ("env-not-mapping", "staging: [orders]", "environments.staging: expected a mapping, got a list"),
    ("env-unknown-key", "staging: {service: {}}", "environments.staging.service: unknown key 'service' (did you mean "
                                                  "'services'?)"),
    ("target", "staging: {target: cloud}", "environments.staging.target: unknown target 'cloud'; expected one of "
                                           "local, aws"),
    ("service-name", "staging: {services: {orders.api: {}}}",
     "environments.staging.services.orders.api: invalid service name 'orders.api'"),
    ("service-unknown-key", "staging: {services: {orders: {desiredcount: 2}}}",
     "environments.staging.services.orders.desiredcount: unknown key 'desiredcount' (did you mean 'desiredCount'?)"),
    ("desired-range", "staging: {services: {orders: {desiredCount: 101}}}",
     "environments.staging.services.orders.desiredCount: desiredCount must be between 0 and 100, got 101"),
    ("desired-type", "staging: {services: {orders: {desiredCount: '2'}}}",
     "environments.staging.services.orders.desiredCount: expected an integer, got a string"),
    ("grace", "staging: {services: {orders: {healthCheckGracePeriodSeconds: -1}}}",
     "healthCheckGracePeriodSeconds: healthCheckGracePeriodSeconds must be between 0 and 2147483647 seconds, got -1"),
    ("taskdef-absolute", "staging: {services: {orders: {taskDefinition: /etc/taskdef.json}}}",
     "orders.taskDefinition: expected a path relative to the repository root, got '/etc/taskdef.json'"),
    ("taskdef-type", "staging: {services: {orders: {taskDefinition: [taskdef.json]}}}",
     "orders.taskDefinition: expected a path to the task definition JSON, got a list"),
    ("lb-required", "staging: {services: {orders: {loadBalancer: {bind: 127.0.0.1}}}}",
     "environments.staging.services.orders.loadBalancer: missing required key 'port'"),
    ("lb-container-required", "staging: {services: {orders: {loadBalancer: {port: 8081, containerPort: 8080}}}}",
     "environments.staging.services.orders.loadBalancer: missing required key 'container'"),
    ("lb-port-range", "staging: {services: {orders: {loadBalancer: {port: 70000, container: api, "
                      "containerPort: 8080}}}}",
     "loadBalancer.port: port must be between 1 and 65535, got 70000"),
    ("lb-bind", "staging: {services: {orders: {loadBalancer: {port: 8081, bind: localhost, container: api, "
                "containerPort: 8080}}}}",
     "loadBalancer.bind: expected an IP address such as 127.0.0.1, got 'localhost'"),
    ("lb-delay", "staging: {services: {orders: {loadBalancer: {port: 8081, container: api, containerPort: 8080, "
                 "deregistrationDelaySeconds: 4000}}}}",
     "loadBalancer.deregistrationDelaySeconds: deregistrationDelaySeconds must be between 0 and 3600 seconds, "
     "got 4000"),
    ("hc-unknown", "staging: {services: {orders: {loadBalancer: {port: 8081, container: api, containerPort: 8080, "
                   "healthCheck: {interval: 5}}}}}",
     "healthCheck.interval: unknown key 'interval' (did you mean 'intervalSeconds'?)"),
    ("hc-path", "staging: {services: {orders: {loadBalancer: {port: 8081, container: api, containerPort: 8080, "
                "healthCheck: {path: health}}}}}",
     "healthCheck.path: expected a path starting with / (at most 1024 characters), got 'health'"),
    ("hc-port", "staging: {services: {orders: {loadBalancer: {port: 8081, container: api, containerPort: 8080, "
                "healthCheck: {port: web}}}}}",
     "healthCheck.port: expected traffic-port (the containerPort) or a port 1-65535, got 'web'"),
    ("hc-interval", "staging: {services: {orders: {loadBalancer: {port: 8081, container: api, containerPort: 8080, "
                    "healthCheck: {intervalSeconds: 301}}}}}",
     "healthCheck.intervalSeconds: intervalSeconds must be between 1 and 300 seconds, got 301"),
    ("hc-timeout-vs-interval", "staging: {services: {orders: {loadBalancer: {port: 8081, container: api, "
                               "containerPort: 8080, healthCheck: {intervalSeconds: 5, timeoutSeconds: 5}}}}}",
     "healthCheck.timeoutSeconds: timeoutSeconds (5) must be less than intervalSeconds (5)"),
    ("hc-timeout-vs-default-interval", "staging: {services: {orders: {loadBalancer: {port: 8081, container: api, "
                                       "containerPort: 8080, healthCheck: {timeoutSeconds: 2}}}}}",
     "healthCheck.timeoutSeconds: timeoutSeconds (2) must be less than intervalSeconds (2, the default)"),
    ("hc-threshold", "staging: {services: {orders: {loadBalancer: {port: 8081, container: api, containerPort: 8080, "
                     "healthCheck: {healthyThresholdCount: 1}}}}}",
     "healthCheck.healthyThresholdCount: healthyThresholdCount must be between 2 and 10, got 1"),
    ("hc-matcher-range", "staging: {services: {orders: {loadBalancer: {port: 8081, container: api, "
                         "containerPort: 8080, healthCheck: {matcher: '200,500'}}}}}",
     "healthCheck.matcher: invalid matcher '200,500': HTTP codes must be between 200 and 499"),
    ("hc-matcher-grammar", "staging: {services: {orders: {loadBalancer: {port: 8081, container: api, "
                           "containerPort: 8080, healthCheck: {matcher: 2xx}}}}}",
     "healthCheck.matcher: invalid matcher '2xx': expected codes like \"200\", \"200,202\" or \"200-299\""),
    ("hc-matcher-backwards", "staging: {services: {orders: {loadBalancer: {port: 8081, container: api, "
                             "containerPort: 8080, healthCheck: {matcher: 299-200}}}}}",
     "healthCheck.matcher: invalid matcher '299-200': the range 299-200 is backwards"),
    ("controller-external", "staging: {services: {orders: {deployment: {controller: EXTERNAL}}}}",
     "deployment.controller: the EXTERNAL deployment controller is not supported: Conveyor deploys with ECS (rolling) "
     "or CODE_DEPLOY (blue/green)"),
    ("controller-case", "staging: {services: {orders: {deployment: {controller: ecs}}}}",
     "deployment.controller: unknown controller 'ecs' (did you mean 'ECS'?)"),
    ("min-percent", "staging: {services: {orders: {deployment: {minimumHealthyPercent: 101}}}}",
     "deployment.minimumHealthyPercent: minimumHealthyPercent must be between 0 and 100, got 101"),
    ("max-percent", "staging: {services: {orders: {deployment: {maximumPercent: 99}}}}",
     "deployment.maximumPercent: maximumPercent must be at least 100, got 99"),
    ("stuck-100-100", "staging: {services: {orders: {desiredCount: 2, deployment: {maximumPercent: 100}}}}",
     "environments.staging.services.orders.deployment: with desiredCount 2, minimumHealthyPercent 100 and "
     "maximumPercent 100, no task can be started (at most 2 may run) or stopped (at least 2 must stay healthy): ECS "
     "would be stuck; lower minimumHealthyPercent or raise maximumPercent"),
    ("stuck-rounding", "staging: {services: {orders: {desiredCount: 3, deployment: {maximumPercent: 125}}}}",
     "with desiredCount 3, minimumHealthyPercent 100 and maximumPercent 125, no task can be started "
     "(at most 3 may run)"),
    ("breaker-on-code-deploy", "staging: {services: {orders: {deployment: {controller: CODE_DEPLOY, "
                               "circuitBreaker: {enable: true}}}}}",
     "deployment.circuitBreaker: the deployment circuit breaker is not available with controller CODE_DEPLOY (ECS "
     "offers it for the ECS controller only); use autoRollback and alarms"),
    ("breaker-type", "staging: {services: {orders: {deployment: {circuitBreaker: {enable: yes-please}}}}}",
     "circuitBreaker.enable: expected true or false, got a string"),
    ("threshold-type", "staging: {services: {orders: {deployment: {circuitBreaker: {threshold: {type: PERCENT}}}}}}",
     "threshold.type: unknown threshold type 'PERCENT'"),
    ("threshold-bounded", "staging: {services: {orders: {deployment: {circuitBreaker: {threshold: {value: 150}}}}}}",
     "threshold.value: value must be between 1 and 100, got 150"),
    ("threshold-count", "staging: {services: {orders: {deployment: {circuitBreaker: {threshold: {type: COUNT, "
                        "value: 0}}}}}}",
     "threshold.value: value must be at least 1, got 0"),
    ("code-deploy-key-on-ecs", "staging: {services: {orders: {deployment: {appspec: appspec.yaml}}}}",
     "deployment.appspec: 'appspec' applies to controller CODE_DEPLOY only (this service uses ECS)"),
    ("termination-wait", "staging: {services: {orders: {deployment: {controller: CODE_DEPLOY, "
                         "terminationWaitMinutes: 3000}}}}",
     "deployment.terminationWaitMinutes: terminationWaitMinutes must be between 0 and 2880 minutes, got 3000"),
    ("ready-option", "staging: {services: {orders: {deployment: {controller: CODE_DEPLOY, "
                     "deploymentReadyOption: WAIT}}}}",
     "deployment.deploymentReadyOption: unknown deploymentReadyOption 'WAIT'; expected one of CONTINUE_DEPLOYMENT, "
     "STOP_DEPLOYMENT"),
    ("alarms", "staging: {services: {orders: {deployment: {controller: CODE_DEPLOY, alarms: [1]}}}}",
     "deployment.alarms[0]: expected an alarm name, got an integer"),
]


@pytest.mark.parametrize("section, expected", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors(section, expected):
    found = no_position(check(section))
    assert any(expected in f for f in found), found


def test_a_rollback_without_the_breaker_is_a_warning():
    assert no_position(check("staging: {services: {orders: {deployment: {circuitBreaker: {rollback: true}}}}}")) == [
        "environments.staging.services.orders.deployment.circuitBreaker.rollback: warning: rollback has no effect "
        "while the circuit breaker is off (enable: false)"]


# --- listener ports -----------------------------------------------------------------------------

def lb(port: int, test_port: int | None = None) -> str:
    extra = f", testPort: {test_port}" if test_port else ""
    return f"{{loadBalancer: {{port: {port}{extra}, container: api, containerPort: 8080}}}}"


def test_a_port_is_used_once_in_an_environment():
    assert check(f"staging:\n  services:\n    orders: {lb(8081)}\n    billing: {lb(8081)}\n") == [
        "conveyor.yml:14:32 environments.staging.services.billing.loadBalancer.port: port 8081 is already the listener "
        "of environments.staging.services.orders.loadBalancer.port (line 13): every listener binds on this machine, so "
        "ports must be unique across all environments"]


def test_a_port_is_used_once_across_environments_and_test_ports():
    found = no_position(check(f"staging:\n  services:\n    orders: {lb(8081, 9081)}\n"
                              f"production:\n  services:\n    orders: {lb(9081)}\n    billing: {lb(8083, 8083)}\n"))
    assert found == [
        "environments.production.services.orders.loadBalancer.port: port 9081 is already the listener of "
        "environments.staging.services.orders.loadBalancer.testPort (line 13): every listener binds on this machine, "
        "so ports must be unique across all environments",
        "environments.production.services.billing.loadBalancer.testPort: testPort must differ from port (8083): the "
        "test listener is a second listener"]


def test_conveyors_own_ports_are_taken():
    assert no_position(check(f"staging:\n  services:\n    orders: {lb(7878, 5000)}\n")) == [
        "environments.staging.services.orders.loadBalancer.port: port 7878 is used by the Conveyor daemon's API; "
        "choose another listener port",
        "environments.staging.services.orders.loadBalancer.testPort: port 5000 is used by the local registry; "
        "choose another listener port"]


def test_aws_environments_do_not_bind_here():
    assert check(f"staging:\n  services:\n    orders: {lb(8081)}\n"
                 f"remote:\n  target: aws\n  region: eu-west-1\n  services:\n    orders: {lb(8081)}\n") == []


# --- the task definition --------------------------------------------------------------------------

SERVICE = "staging:\n  services:\n    orders:\n      taskDefinition: {file}\n      loadBalancer: {lb}\n"


def service(file: str = "taskdef.json", container: str = "api", port: int = 8080) -> str:
    return SERVICE.format(file=file, lb=f"{{port: 8081, container: {container}, containerPort: {port}}}")


def test_the_task_definition_must_exist():
    assert check(service("deploy/taskdef.json")) == [
        "conveyor.yml:14:9 environments.staging.services.orders.taskDefinition: file not found: deploy/taskdef.json "
        "(taskDefinition, default taskdef.json, is a path relative to the repository root)"]
    assert no_position(check("staging: {services: {orders: {desiredCount: 1}}}", files={})) == [
        "environments.staging.services.orders: file not found: taskdef.json (taskDefinition, default taskdef.json, is "
        "a path relative to the repository root)"]


def test_the_load_balancer_container_must_exist_in_the_task_definition():
    assert no_position(check(service(container="web"))) == [
        "environments.staging.services.orders.loadBalancer.container: container 'web' does not exist in taskdef.json "
        "(containers: api, metrics)"]
    assert no_position(check(service(container="API"))) == [
        "environments.staging.services.orders.loadBalancer.container: container 'API' does not exist in taskdef.json "
        "(containers: api, metrics) (did you mean 'api'?)"]


@pytest.mark.parametrize("container, port, listed", [
    ("api", 8081, "its portMappings: 8080/tcp"),
    ("metrics", 9100, "its portMappings: 9100/udp"),
])
def test_the_container_port_must_be_mapped_over_tcp(container, port, listed):
    assert no_position(check(service(container=container, port=port))) == [
        f"environments.staging.services.orders.loadBalancer.containerPort: container '{container}' in taskdef.json "
        f"does not map port {port}/tcp ({listed}); containerPort must be one of its portMappings' containerPort"]


def test_an_invalid_task_definition_reports_its_own_errors_once():
    bad = json.dumps({"family": "a b", "containerDefinitions": [{"name": "api", "image": "x", "memory": 64}]}, indent=2)
    found = check("staging:\n  services:\n    orders: {}\n    copy: {}\n", files={"taskdef.json": bad})
    assert found == ["taskdef.json:2:3 family: invalid family 'a b': expected 1-255 letters, digits, '-' or '_'"]
    assert check("staging: {services: {orders: {}}}", files={"taskdef.json": "{"}) == [
        "taskdef.json:1:2: malformed JSON: Expecting property name enclosed in double quotes"]


def test_files_are_read_next_to_conveyor_yml(tmp_path, monkeypatch):
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "taskdef.json").write_text(json.dumps(TASKDEF))
    (tmp_path / "svc" / "conveyor.yml").write_text(PIPELINE + "environments:\n  " + service(container="web")
                                                   .replace("\n", "\n  "))
    monkeypatch.chdir(tmp_path)
    assert [str(d) for d in check_file("svc/conveyor.yml", "svc/conveyor.yml")] == [
        "svc/conveyor.yml:15:36 environments.staging.services.orders.loadBalancer.container: container 'web' does not "
        "exist in svc/taskdef.json (containers: api, metrics)"]
    (tmp_path / "svc" / "taskdef.json").unlink()
    assert [d.message for d in check_file("svc/conveyor.yml", "svc/conveyor.yml")] == [
        "file not found: taskdef.json (taskDefinition, default taskdef.json, is a path relative to the repository "
        "root)"]


def test_text_without_a_file_skips_the_task_definition():
    """The engine loads conveyor.yml from a commit: there is no file next to it to read."""
    pipeline = load_pipeline_text(PIPELINE + "environments:\n  " + service("nowhere.json").replace("\n", "\n  "),
                                  "conveyor.yml@abc1234")
    assert pipeline.warnings == ()


# --- the reference documents every key -----------------------------------------------------------

def test_the_reference_uses_every_environments_key():
    data = yaml.safe_load(REFERENCE.read_text())["environments"]
    used: set[str] = set()

    def walk(value):
        if isinstance(value, dict):
            for k, v in value.items():
                used.add(str(k))
                walk(v)
    walk(data)
    keys = set(envs.ENVIRONMENT_KEYS + envs.SERVICE_KEYS + envs.LOAD_BALANCER_KEYS + envs.HEALTH_CHECK_KEYS
               + envs.DEPLOYMENT_KEYS + envs.CIRCUIT_BREAKER_KEYS + envs.THRESHOLD_KEYS)
    assert keys - used == set()
    text = REFERENCE.read_text()
    for value in envs.TARGETS + envs.CONTROLLERS + envs.THRESHOLD_TYPES + envs.DEPLOYMENT_READY_OPTIONS:
        assert value in text
    assert "default taskdef.json" in text and "default 2 (AWS: 30" in text and "default 1 (AWS: 5)" in text


# --- target: aws: where the environment lives -------------------------------------------------------

def test_an_aws_environment_names_its_region_credentials_and_resources():
    assert check("remote:\n  target: aws\n  region: eu-west-1\n  profile: prod\n"
                 "  roleArn: arn:aws:iam::123456789012:role/conveyor-deployer\n  cluster: orders-prod\n"
                 "  codeDeployApplication: orders\n  services: {}\n") == []


def test_an_aws_environment_needs_a_region_and_well_formed_names():
    assert no_position(check("remote:\n  target: aws\n  roleArn: arn:aws:iam::12:role/x\n  cluster: 'has space'\n"
                             "  services: {}\n")) == [
        "environments.remote: an environment with target: aws needs a region (region: eu-west-1, say)",
        "environments.remote.roleArn: roleArn 'arn:aws:iam::12:role/x' is not an IAM role ARN, "
        "arn:aws:iam::ACCOUNT:role/NAME",
        "environments.remote.cluster: cluster 'has space' is not an ECS cluster name: 1-255 characters of "
        "A-Z a-z 0-9 - _"]


def test_aws_keys_on_a_local_environment_are_refused():
    assert no_position(check("staging:\n  region: eu-west-1\n  services: {}\n")) == [
        "environments.staging.region: region applies to target: aws environments only (add target: aws, or "
        "remove the key)"]


# --- registry: where builds push -------------------------------------------------------------------

def registry(block: str) -> list[str]:
    doc = load_text(PIPELINE + "registry:\n" + textwrap.indent(textwrap.dedent(block), "  "), "conveyor.yml")
    return no_position([str(d) for d in check_document(doc)])


def test_a_registry_on_aws_names_its_region():
    assert registry("target: aws\nregion: eu-west-1\nroleArn: arn:aws:iam::123456789012:role/builder\n") == []
    assert registry("target: aws\n") == [
        "registry: a registry with target: aws needs a region (region: eu-west-1, say)"]
    assert registry("target: local\nregion: eu-west-1\n") == [
        "registry.region: region applies to target: aws environments only (add target: aws, or remove the key)"]
    unknown = registry("target: aws\nregion: eu-west-1\ncluster: x\n")
    assert unknown[0].startswith("registry.cluster: unknown key 'cluster'")


def test_a_rolling_service_on_aws_may_list_ecs_deployment_alarms():
    aws = ("remote:\n  target: aws\n  region: eu-west-1\n  alarms:\n"
           "    orders-5xx: {metric: HTTPCode_Target_5XX_Count, threshold: 1,\n"
           "                 comparisonOperator: GreaterThanOrEqualToThreshold}\n  services:\n    orders:\n"
           "      deployment: {controller: ECS, alarms: [orders-5xx, from-cloudwatch], alarmsEnabled: true}\n")
    assert check(aws) == []
    local = "staging:\n  services:\n    orders:\n      deployment: {controller: ECS, alarms: [a]}\n"
    assert no_position(check(local)) == [
        "environments.staging.services.orders.deployment.alarms: 'alarms' applies to controller CODE_DEPLOY only "
        "(this service uses ECS); on target: aws a rolling service may list alarms"]
