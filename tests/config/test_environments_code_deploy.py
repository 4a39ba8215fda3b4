"""conveyor.yml: a CODE_DEPLOY service's deployment group and the environment's alarms
(conveyor.config.deployment_group, conveyor.config.alarms; aws-semantics §4.7, §5.5, §5.6, §8).
Each bad input gives its message at its key path and line, all at once; the reference documents
every key."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from conveyor.config import codedeploy_group as cd_group
from conveyor.config import codedeploy_model as model
from conveyor.config import deployment_group as dg
from conveyor.config.codedeploy_configs import PREDEFINED, STRATEGIES
from conveyor.config.codedeploy_model import TrafficStep
from conveyor.config.environments import check_environments
from conveyor.deploy.traffic import traffic_plan
from conveyor.documents.located import load_text
from conveyor.errors import Diagnostic
from conveyor.metrics import vocabulary

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
TASKDEF = {"family": "orders", "containerDefinitions": [
    {"name": "api", "image": "<IMAGE1_NAME>", "memory": 128, "portMappings": [{"containerPort": 8080}]}]}
LB = "{port: 8082, testPort: 9082, container: api, containerPort: 8080}"
LB_NO_TEST = "{port: 8082, container: api, containerPort: 8080}"
FIVE_XX = "{metric: HTTPCode_Target_5XX_Count, threshold: 1, comparisonOperator: GreaterThanOrEqualToThreshold}"
SERVICE = "environments.production.services.orders."
ALARMS = "environments.production.alarms."
# Line numbers in the text code_deploy() builds: PIPELINE is 9 lines, `environments:` is line 10.
ALARM_LINE = 14        # the first line of `alarms` (after orders-5xx on line 13)
DEPLOYMENT_LINE = 19   # the first line of `deployment` (after `controller: CODE_DEPLOY` on line 18)


def code_deploy(deployment: str = "", *, alarms: str = "", lb: str | None = LB, target: str = "") -> list[Diagnostic]:
    """Diagnostics of a production environment with one CODE_DEPLOY service `orders`."""
    env = ("production:\n" + (f"  target: {target}\n" if target else "")
           + ("  region: eu-west-1\n" if target == "aws" else "") + f"  alarms:\n    orders-5xx: {FIVE_XX}\n"
           + textwrap.indent(textwrap.dedent(alarms).rstrip("\n") + "\n" if alarms else "", "    ")
           + "  services:\n    orders:\n" + (f"      loadBalancer: {lb}\n" if lb else "")
           + "      deployment:\n        controller: CODE_DEPLOY\n"
           + textwrap.indent(textwrap.dedent(deployment), "        "))
    doc = load_text(PIPELINE + "environments:\n" + textwrap.indent(env, "  "), "conveyor.yml")
    read = {"taskdef.json": ("taskdef.json", json.dumps(TASKDEF))}.get
    return check_environments(doc, read_taskdef=read)


def found(diagnostics: list[Diagnostic]) -> list[str]:
    return [f"{d.line} {d.path}: {'warning: ' if d.severity == 'warning' else ''}{d.message}" for d in diagnostics]


def assert_reported(diagnostics: list[Diagnostic], path: str, message: str, line: int, severity: str = "error"):
    assert any(d.path == path and message in d.message and d.line == line and d.severity == severity
               for d in diagnostics), found(diagnostics)


VALID = """\
appspec: deploy/appspec.yaml
config: {name: quick-canary, type: TimeBasedCanary, canaryPercentage: 12.5, canaryInterval: 30s}
deploymentReadyOption: STOP_DEPLOYMENT
waitTimeMinutes: 1h
terminateBlue: TERMINATE
terminationWaitMinutes: 0.5
autoRollback: [DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_REQUEST]
alarms:
  - orders-5xx
  - {name: orders-slow, metric: TargetResponseTime, statistic: Average, period: 1s, evaluationPeriods: 3,
     datapointsToAlarm: 2, threshold: 0.5, comparisonOperator: GreaterThanThreshold, treatMissingData: ignore,
     scope: test}
alarmsEnabled: true
ignorePollAlarmFailure: true
hooks:
  smoke: {command: [./smoke.sh, --fast], timeoutSeconds: 2m, env: {N: 3, MODE: quick}}
  contract: {container: {image: "localhost/tests:1", command: [pytest, -q]}}
  notify: {url: "https://127.0.0.1:9443/hook", timeoutSeconds: 30}
probe: true
requireTraffic: false
"""


def test_a_full_deployment_group_is_valid_and_builds():
    assert found(code_deploy(VALID)) == []
    raw = yaml.safe_load(VALID)
    group = cd_group.deployment_group(raw, {"orders-5xx": yaml.safe_load(FIVE_XX)})
    assert traffic_plan(group.config) == [TrafficStep(12.5, 30.0), TrafficStep(100.0)]
    assert (group.ready_wait, group.termination_wait, len(group.alarms), len(group.hooks)) == (3600.0, 30.0, 2, 3)


@pytest.mark.parametrize("deployment", [
    "config: CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
    "config: {type: AllAtOnce}",
    "config: {type: TimeBasedLinear, linearPercentage: 30, linearInterval: 2}",
    "strategy: BLUE_GREEN\nbakeTimeInMinutes: 0",
    "strategy: CANARY",
    "strategy: LINEAR\nlinearConfiguration: {stepPercent: 3.5, stepBakeTimeInMinutes: 1440}\nbakeTimeInMinutes: 5s",
    "strategy: CANARY\ncanaryConfiguration: {canaryPercent: 0.1}\nterminationWaitMinutes: 2880",
    "autoRollback: {enabled: true}",
    "autoRollback: false",
    "alarms: [{name: orders-5xx}]",
    "probe: {path: /health}",
    "deploymentReadyOption: STOP_DEPLOYMENT\nwaitTimeMinutes: 7200",
])
def test_valid_forms(deployment):
    assert found(code_deploy(deployment)) == []


# (id, deployment, path after environments.production.services.orders., message, line offset from DEPLOYMENT_LINE)
ERRORS = [
    # traffic: config
    ("config-unknown", "config: CodeDeployDefault.AllAtOnce", "deployment.config",
     "unknown deployment config 'CodeDeployDefault.AllAtOnce' (did you mean 'CodeDeployDefault.ECSAllAtOnce'?), or a "
     "custom config mapping {type: TimeBasedCanary | TimeBasedLinear | AllAtOnce, ...}", 0),
    ("config-unknown-list", "config: Fast", "deployment.config",
     "unknown deployment config 'Fast'; expected one of CodeDeployDefault.ECSAllAtOnce, ", 0),
    ("config-type", "config: 5", "deployment.config",
     "expected a deployment config name or a custom config mapping, got an integer", 0),
    ("config-no-type", "config: {canaryPercentage: 10}", "deployment.config", "missing required key 'type'", 0),
    ("config-bad-type", "config:\n  type: TimeBasedCanery", "deployment.config.type",
     "unknown config type 'TimeBasedCanery' (did you mean 'TimeBasedCanary'?)", 1),
    ("config-canary-needs-interval", "config: {type: TimeBasedCanary, canaryPercentage: 10}", "deployment.config",
     "missing required key 'canaryInterval' (type TimeBasedCanary)", 0),
    ("config-other-type-key", "config:\n  type: TimeBasedCanary\n  canaryPercentage: 10\n  canaryInterval: 1\n"
     "  linearPercentage: 10", "deployment.config.linearPercentage",
     "'linearPercentage' applies to type TimeBasedLinear (this config is TimeBasedCanary)", 4),
    ("config-all-at-once-key", "config: {type: AllAtOnce, canaryInterval: 1}", "deployment.config.canaryInterval",
     "'canaryInterval' applies to type TimeBasedCanary (this config is AllAtOnce)", 0),
    ("config-percent-zero", "config: {type: TimeBasedLinear, linearPercentage: 0, linearInterval: 1}",
     "deployment.config.linearPercentage", "linearPercentage must be between 0.1 and 100, got 0", 0),
    ("config-percent-tenths", "config: {type: TimeBasedCanary, canaryPercentage: 12.25, canaryInterval: 1}",
     "deployment.config.canaryPercentage",
     "canaryPercentage must be a multiple of 0.1 (at most one decimal), got 12.25", 0),
    ("config-percent-string", "config: {type: TimeBasedCanary, canaryPercentage: '10%', canaryInterval: 1}",
     "deployment.config.canaryPercentage", "expected a percentage (a number), got a string", 0),
    ("config-interval-grammar", "config: {type: TimeBasedCanary, canaryPercentage: 10, canaryInterval: 5 minutes}",
     "deployment.config.canaryInterval", "expected a duration: a number of minutes or a number with a unit (ms, s, m, "
                                         "h), e.g. 30s, 2m, 1.5m, 1h; got '5 minutes'", 0),
    ("config-interval-negative", "config: {type: TimeBasedLinear, linearPercentage: 10, linearInterval: -1}",
     "deployment.config.linearInterval", "a duration cannot be negative, got -1", 0),
    ("config-reserved-name", "config: {type: AllAtOnce, name: CodeDeployDefault.Mine}", "deployment.config.name",
     "a custom config name cannot start with 'CodeDeployDefault.' (reserved for CodeDeploy's own configs)", 0),
    ("config-unknown-key", "config: {type: AllAtOnce, percentage: 10}", "deployment.config.percentage",
     "unknown key 'percentage'", 0),
    # traffic: ECS-native strategy
    ("config-and-strategy", "config: CodeDeployDefault.ECSAllAtOnce\nstrategy: CANARY", "deployment.strategy",
     "give config (a CodeDeploy deployment config) or strategy (ECS-native), not both", 1),
    ("strategy-rolling", "strategy: ROLLING", "deployment.strategy",
     "strategy ROLLING is the ECS controller's rolling update: use controller: ECS, or BLUE_GREEN, CANARY or LINEAR "
     "here", 0),
    ("strategy-case", "strategy: canary", "deployment.strategy", "unknown strategy 'canary' (did you mean 'CANARY'?)",
     0),
    ("blue-green-needs-bake", "strategy: BLUE_GREEN", "deployment",
     "missing required key 'bakeTimeInMinutes': strategy BLUE_GREEN needs it (how long blue and green both run after "
     "production traffic moved)", -2),
    ("bake-without-strategy", "bakeTimeInMinutes: 5", "deployment.bakeTimeInMinutes",
     "bakeTimeInMinutes belongs to an ECS-native strategy; with config (CodeDeploy), blue stays up for "
     "terminationWaitMinutes", 0),
    ("bake-range", "strategy: BLUE_GREEN\nbakeTimeInMinutes: 1441", "deployment.bakeTimeInMinutes",
     "bakeTimeInMinutes must be between 0 and 1440 minutes, got 1441", 1),
    ("bake-and-termination-wait", "strategy: BLUE_GREEN\nbakeTimeInMinutes: 5\nterminationWaitMinutes: 5",
     "deployment.terminationWaitMinutes", "give bakeTimeInMinutes or terminationWaitMinutes, not both", 2),
    ("canary-configuration-on-linear", "strategy: LINEAR\ncanaryConfiguration: {canaryPercent: 5}",
     "deployment.canaryConfiguration", "canaryConfiguration applies to strategy CANARY only (this service uses LINEAR)",
     1),
    ("linear-configuration-without-strategy", "linearConfiguration: {stepPercent: 10}",
     "deployment.linearConfiguration", "linearConfiguration applies to strategy: LINEAR (ECS-native); with config, use "
                                       "a custom config mapping", 0),
    ("step-percent-range", "strategy: LINEAR\nlinearConfiguration: {stepPercent: 2}",
     "deployment.linearConfiguration.stepPercent", "stepPercent must be between 3 and 100, got 2", 1),
    ("canary-percent-range", "strategy: CANARY\ncanaryConfiguration: {canaryPercent: 0.05}",
     "deployment.canaryConfiguration.canaryPercent", "canaryPercent must be between 0.1 and 100, got 0.05", 1),
    ("canary-bake-grammar", "strategy: CANARY\ncanaryConfiguration: {canaryBakeTimeInMinutes: 2d}",
     "deployment.canaryConfiguration.canaryBakeTimeInMinutes", "got '2d'", 1),
    ("canary-configuration-key", "strategy: CANARY\ncanaryConfiguration: {canaryPercentage: 5}",
     "deployment.canaryConfiguration.canaryPercentage",
     "unknown key 'canaryPercentage' (did you mean 'canaryPercent'?)", 1),
    # ready wait, termination
    ("wait-range", "deploymentReadyOption: STOP_DEPLOYMENT\nwaitTimeMinutes: 7201", "deployment.waitTimeMinutes",
     "waitTimeMinutes must be between 0 and 7200 minutes, got 7201", 1),
    ("terminate-blue", "terminateBlue: KEEP", "deployment.terminateBlue",
     "unknown terminateBlue 'KEEP'; expected one of TERMINATE, KEEP_ALIVE", 0),
    ("termination-wait-unit", "terminationWaitMinutes: 49h", "deployment.terminationWaitMinutes",
     "terminationWaitMinutes must be between 0 and 2880 minutes, got '49h'", 0),
    # rollback
    ("rollback-type", "autoRollback: yes-please", "deployment.autoRollback",
     "expected true, false, a list of events (DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_ALARM, "
     "DEPLOYMENT_STOP_ON_REQUEST) or {enabled, events}, got a string", 0),
    ("rollback-event", "autoRollback:\n  - DEPLOYMENT_FAILED", "deployment.autoRollback[0]",
     "unknown rollback event 'DEPLOYMENT_FAILED' (did you mean 'DEPLOYMENT_FAILURE'?)", 1),
    ("rollback-event-twice", "autoRollback: [DEPLOYMENT_FAILURE, DEPLOYMENT_FAILURE]", "deployment.autoRollback[1]",
     "rollback event 'DEPLOYMENT_FAILURE' is listed twice", 0),
    ("rollback-key", "autoRollback: {enable: true}", "deployment.autoRollback.enable",
     "unknown key 'enable' (did you mean 'enabled'?)", 0),
    ("rollback-events-type", "autoRollback: {events: DEPLOYMENT_FAILURE}", "deployment.autoRollback.events",
     "expected a list, got a string", 0),
    # alarms of the group
    ("alarm-undefined", "alarms:\n  - orders-5x", "deployment.alarms[0]",
     "alarm 'orders-5x' is not defined: define it in environments.production.alarms or inline here ({name, metric, "
     "threshold, comparisonOperator}) (did you mean 'orders-5xx'?)", 1),
    ("alarm-too-many", "alarms: [" + ", ".join(f"{{name: a{i}, metric: RequestCount, threshold: 1, comparisonOperator: "
                                               f"LessThanThreshold}}" for i in range(11)) + "]",
     "deployment.alarms", "at most 10 alarms per deployment group (CodeDeploy alarmConfiguration), got 11", 0),
    ("alarm-twice", "alarms: [orders-5xx, {name: orders-5xx}]", "deployment.alarms[1]",
     "alarm 'orders-5xx' is listed twice", 0),
    ("alarm-inline-no-name", "alarms: [{metric: RequestCount}]", "deployment.alarms[0]",
     "missing required key 'name'", 0),
    ("alarm-inline-clash", "alarms:\n  - {name: orders-5xx, metric: RequestCount, threshold: 1, "
                           "comparisonOperator: LessThanThreshold}", "deployment.alarms[0].name",
     "alarm 'orders-5xx' is already defined in environments.production.alarms: list it by name, or give this one "
     "another name", 1),
    ("alarm-inline-incomplete", "alarms: [{name: slow, threshold: 1}]", "deployment.alarms[0]",
     "missing required key 'metric'", 0),
    ("alarm-name-type", "alarms: [{name: 5}]", "deployment.alarms[0].name", "expected an alarm name, got an integer",
     0),
    ("alarm-item-type", "alarms: [[orders-5xx]]", "deployment.alarms[0]",
     "expected an alarm name, got a list (or an inline alarm: a mapping with name, metric, threshold and "
     "comparisonOperator)", 0),
    ("alarms-type", "alarms: orders-5xx", "deployment.alarms", "expected a list, got a string", 0),
    ("alarms-enabled", "alarmsEnabled: 'yes'", "deployment.alarmsEnabled", "expected true or false, got a string", 0),
    # hooks
    ("hook-command-string", "hooks:\n  smoke: {command: ./smoke.sh --url 'http://x y'}",
     "deployment.hooks.smoke.command",
     "expected an argv list, got a string: hooks run the program directly, without a shell, so write the program and "
     "each argument as list items, e.g. [./smoke.sh, --url, http://x y]", 1),
    ("hook-nothing", "hooks:\n  smoke: {timeoutSeconds: 60}", "deployment.hooks.smoke",
     "expected one of command (an argv list), container ({image, command}) or url (http or https): what runs in place "
     "of the Lambda function", 1),
    ("hook-two-kinds", "hooks:\n  smoke: {command: [./smoke.sh], url: 'http://127.0.0.1:9/'}",
     "deployment.hooks.smoke.url", "give only one of command, container or url (this hook has command and url)", 1),
    ("hook-container-image", "hooks:\n  smoke: {container: {command: [pytest]}}", "deployment.hooks.smoke.container",
     "missing required key 'image'", 1),
    ("hook-container-command", "hooks:\n  smoke: {container: {image: busybox, command: echo hi}}",
     "deployment.hooks.smoke.container.command", "expected an argv list, got a string", 1),
    ("hook-url", "hooks:\n  smoke: {url: 'ftp://127.0.0.1/x'}", "deployment.hooks.smoke.url",
     "expected an http:// or https:// URL, got 'ftp://127.0.0.1/x'", 1),
    ("hook-timeout-max", "hooks:\n  smoke: {command: [true], timeoutSeconds: 3601}",
     "deployment.hooks.smoke.timeoutSeconds",
     "timeoutSeconds must be between 1 and 3600 seconds (CodeDeploy gives a hook at most 1 hour), got 3601", 1),
    ("hook-timeout-zero", "hooks:\n  smoke: {command: [true], timeoutSeconds: 0s}",
     "deployment.hooks.smoke.timeoutSeconds", "timeoutSeconds must be between 1 and 3600 seconds", 1),
    ("hook-env-name", "hooks:\n  smoke: {command: [true], env: {1X: a}}", "deployment.hooks.smoke.env.1X",
     "invalid variable name '1X': expected letters, digits and _, not starting with a digit", 1),
    ("hook-env-value", "hooks:\n  smoke: {command: [true], env: {X: [a]}}", "deployment.hooks.smoke.env.X",
     "expected a string, got a list", 1),
    ("hook-name", "hooks:\n  smoke test: {command: [true]}", "deployment.hooks.smoke test",
     "invalid hook function name 'smoke test': expected 1-64 characters", 1),
    ("hook-empty-command", "hooks:\n  smoke: {command: []}", "deployment.hooks.smoke.command",
     "expected an argv list with at least the program, got an empty list", 1),
    ("hook-command-arg", "hooks:\n  smoke: {command: [./smoke.sh, {a: 1}]}", "deployment.hooks.smoke.command[1]",
     "expected a string argument, got a mapping", 1),
    ("hook-key", "hooks:\n  smoke: {command: [true], timeout: 5}", "deployment.hooks.smoke.timeout",
     "unknown key 'timeout' (did you mean 'timeoutSeconds'?)", 1),
    ("hooks-type", "hooks: [smoke]", "deployment.hooks",
     "expected a mapping of function name -> {command | container | url}, got a list", 0),
    # probe, misc
    ("probe-path", "probe: {path: health}", "deployment.probe.path", "expected a path starting with /, got 'health'",
     0),
    ("probe-rate", "probe: {ratePerSecond: 0}", "deployment.probe.ratePerSecond",
     "ratePerSecond must be more than 0 and at most 1000, got 0", 0),
    ("probe-type", "probe: 'yes'", "deployment.probe", "expected true, false or {path, ratePerSecond}, got a string",
     0),
    ("probe-key", "probe: {rate: 5}", "deployment.probe.rate", "unknown key 'rate'", 0),
    ("appspec-absolute", "appspec: /etc/appspec.yaml", "deployment.appspec",
     "expected a path relative to the repository root, got '/etc/appspec.yaml'", 0),
    ("unknown-key", "terminationWait: 5", "deployment.terminationWait",
     "unknown key 'terminationWait' (did you mean 'terminationWaitMinutes'?)", 0),
]


@pytest.mark.parametrize("deployment, path, message, offset", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_deployment_errors(deployment, path, message, offset):
    assert_reported(code_deploy(deployment), SERVICE + path, message, DEPLOYMENT_LINE + offset)


WARNINGS = [
    ("wait-without-stop", "waitTimeMinutes: 10", "deployment.waitTimeMinutes",
     "waitTimeMinutes only applies with deploymentReadyOption: STOP_DEPLOYMENT (how long green waits for `conveyor "
     "deploy continue`); it is ignored here", 0),
    ("stop-without-wait", "deploymentReadyOption: STOP_DEPLOYMENT", "deployment.deploymentReadyOption",
     "STOP_DEPLOYMENT with waitTimeMinutes 0 (the default) stops the deployment as soon as green is ready", 0),
    ("keep-alive-wait", "terminateBlue: KEEP_ALIVE\nterminationWaitMinutes: 5", "deployment.terminationWaitMinutes",
     "terminationWaitMinutes is ignored with terminateBlue: KEEP_ALIVE (blue is never terminated)", 1),
    ("rollback-off-events", "autoRollback: {enabled: false, events: [DEPLOYMENT_FAILURE]}",
     "deployment.autoRollback.events", "events have no effect while autoRollback is off (enabled: false)", 0),
]


@pytest.mark.parametrize("deployment, path, message, offset", [e[1:] for e in WARNINGS], ids=[e[0] for e in WARNINGS])
def test_deployment_warnings(deployment, path, message, offset):
    diagnostics = code_deploy(deployment)
    assert_reported(diagnostics, SERVICE + path, message, DEPLOYMENT_LINE + offset, "warning")
    assert [d for d in diagnostics if d.severity == "error"] == []


# (id, alarm definition lines, path after environments.production.alarms., message, line offset from ALARM_LINE)
ALARM_ERRORS = [
    ("metric", "bad: {metric: HTTPCode_Target_5xx_Count, threshold: 1, comparisonOperator: LessThanThreshold}",
     "bad.metric", "unknown metric 'HTTPCode_Target_5xx_Count' (did you mean 'HTTPCode_Target_5XX_Count'?)", 0),
    ("metric-required", "bad: {threshold: 1, comparisonOperator: LessThanThreshold}", "bad",
     "missing required key 'metric'", 0),
    ("statistic", "bad:\n  metric: TargetResponseTime\n  statistic: p99\n  threshold: 1\n"
                  "  comparisonOperator: LessThanThreshold", "bad.statistic",
     "unknown statistic 'p99'; expected one of SampleCount, Average, Sum, Minimum, Maximum", 2),
    ("scope", "bad: {metric: RequestCount, scope: canary, threshold: 1, comparisonOperator: LessThanThreshold}",
     "bad.scope", "unknown scope 'canary'; expected one of green, blue, production, test", 0),
    ("comparison-required", "bad: {metric: RequestCount, threshold: 1}", "bad",
     "missing required key 'comparisonOperator'", 0),
    ("comparison", "bad: {metric: RequestCount, threshold: 1, comparisonOperator: GreaterThan}",
     "bad.comparisonOperator", "unknown comparisonOperator 'GreaterThan' (did you mean 'GreaterThanThreshold'?)", 0),
    ("threshold-required", "bad: {metric: RequestCount, comparisonOperator: LessThanThreshold}", "bad",
     "missing required key 'threshold'", 0),
    ("threshold-type", "bad: {metric: RequestCount, threshold: '5', comparisonOperator: LessThanThreshold}",
     "bad.threshold", "expected a number, got a string", 0),
    ("period-zero", "bad: {metric: RequestCount, period: 0, threshold: 1, comparisonOperator: LessThanThreshold}",
     "bad.period", "period must be a whole number of seconds, at least 1, got 0", 0),
    ("period-fraction", "bad: {metric: RequestCount, period: 1.5, threshold: 1, comparisonOperator: LessThanThreshold}",
     "bad.period", "period must be a whole number of seconds, at least 1, got 1.5", 0),
    ("period-grammar", "bad: {metric: RequestCount, period: soon, threshold: 1, comparisonOperator: LessThanThreshold}",
     "bad.period", "expected a duration: a number of seconds or a number with a unit", 0),
    ("evaluation-periods", "bad: {metric: RequestCount, evaluationPeriods: 0, threshold: 1, "
                           "comparisonOperator: LessThanThreshold}",
     "bad.evaluationPeriods", "evaluationPeriods must be at least 1, got 0", 0),
    ("datapoints", "bad: {metric: RequestCount, evaluationPeriods: 2, datapointsToAlarm: 3, threshold: 1, "
                   "comparisonOperator: LessThanThreshold}", "bad.datapointsToAlarm",
     "datapointsToAlarm must be between 1 and evaluationPeriods (2), got 3: the alarm fires when M of the last N "
     "periods breach", 0),
    ("datapoints-default", "bad: {metric: RequestCount, datapointsToAlarm: 2, threshold: 1, "
                           "comparisonOperator: LessThanThreshold}", "bad.datapointsToAlarm",
     "datapointsToAlarm must be between 1 and evaluationPeriods (1, the default), got 2", 0),
    ("window-day", "bad: {metric: RequestCount, period: 60, evaluationPeriods: 1441, threshold: 1, "
                   "comparisonOperator: LessThanThreshold}", "bad.evaluationPeriods",
     "period x evaluationPeriods must be at most 86400 seconds when period is under an hour (CloudWatch), got 60 x "
     "1441 = 86460", 0),
    ("window-week", "bad: {metric: RequestCount, period: 1h, evaluationPeriods: 169, threshold: 1, "
                    "comparisonOperator: LessThanThreshold}", "bad.evaluationPeriods",
     "period x evaluationPeriods must be at most 604800 seconds in all (CloudWatch), got 3600 x 169 = 608400", 0),
    ("missing-data", "bad: {metric: RequestCount, treatMissingData: Missing, threshold: 1, "
                     "comparisonOperator: LessThanThreshold}", "bad.treatMissingData",
     "unknown treatMissingData 'Missing' (did you mean 'missing'?)", 0),
    ("name", "5xx errors: " + FIVE_XX, "5xx errors", "invalid alarm name '5xx errors': expected 1-255 characters", 0),
    ("body", "bad: RequestCount > 5", "bad",
     "expected an alarm: a mapping with metric, threshold and comparisonOperator, got a string", 0),
    ("key", "bad: {metric: RequestCount, threshhold: 1, threshold: 1, comparisonOperator: LessThanThreshold}",
     "bad.threshhold", "unknown key 'threshhold' (did you mean 'threshold'?)", 0),
]


@pytest.mark.parametrize("alarms, path, message, offset", [e[1:] for e in ALARM_ERRORS],
                         ids=[e[0] for e in ALARM_ERRORS])
def test_alarm_errors(alarms, path, message, offset):
    assert_reported(code_deploy(alarms=alarms), ALARMS + path, message, ALARM_LINE + offset)


def test_every_problem_is_reported_at_once_in_order():
    deployment = ("config: CodeDeployDefault.Fast\nterminationWaitMinutes: 3000\nalarms: [nope]\n"
                  "hooks:\n  smoke: {command: ./smoke.sh}\nprobe: {path: x}\n")
    assert found(code_deploy(deployment, lb=LB_NO_TEST)) == [
        "19 environments.production.services.orders.deployment.config: unknown deployment config "
        "'CodeDeployDefault.Fast' (did you mean 'CodeDeployDefault.ECSAllAtOnce'?), or a custom config mapping "
        "{type: TimeBasedCanary | TimeBasedLinear | AllAtOnce, ...}",
        "20 environments.production.services.orders.deployment.terminationWaitMinutes: terminationWaitMinutes must be "
        "between 0 and 2880 minutes, got 3000",
        "21 environments.production.services.orders.deployment.alarms[0]: alarm 'nope' is not defined: define it in "
        "environments.production.alarms or inline here ({name, metric, threshold, comparisonOperator}) (defined: "
        "orders-5xx)",
        "22 environments.production.services.orders.deployment.hooks: hooks need loadBalancer.testPort: a hook reaches "
        "green through the test listener (the test URL it receives)",
        "23 environments.production.services.orders.deployment.hooks.smoke.command: expected an argv list, got a "
        "string: hooks run the program directly, without a shell, so write the program and each argument as list "
        "items, e.g. [./smoke.sh]",
        "24 environments.production.services.orders.deployment.probe: a probe needs loadBalancer.testPort: it sends "
        "its requests to green through the test listener",
        "24 environments.production.services.orders.deployment.probe.path: expected a path starting with /, got 'x'",
    ]


def test_a_code_deploy_service_needs_a_load_balancer():
    assert found(code_deploy("", lb=None)) == [
        "15 environments.production.services.orders: a CODE_DEPLOY service needs a loadBalancer: blue/green moves "
        "traffic between two target groups behind its listener"]


def test_without_a_test_listener_traffic_shifting_alone_is_fine():
    assert found(code_deploy("config: CodeDeployDefault.ECSCanary10Percent5Minutes\nalarms: [orders-5xx]",
                             lb=LB_NO_TEST)) == []


def test_an_ecs_service_takes_no_code_deploy_keys():
    doc = load_text(PIPELINE + "environments:\n  staging:\n    services:\n      orders:\n        deployment:\n"
                    "          hooks: {smoke: {command: [true]}}\n          strategy: CANARY\n", "conveyor.yml")
    diagnostics = check_environments(doc, read_taskdef={"taskdef.json": ("taskdef.json", json.dumps(TASKDEF))}.get)
    assert found(diagnostics) == [
        "15 environments.staging.services.orders.deployment.hooks: 'hooks' applies to controller CODE_DEPLOY only "
        "(this service uses ECS)",
        "16 environments.staging.services.orders.deployment.strategy: 'strategy' applies to controller CODE_DEPLOY "
        "only (this service uses ECS)"]


# --- target: aws --------------------------------------------------------------------------------

def test_aws_takes_whole_minutes_and_cloudwatch_periods():
    diagnostics = code_deploy(
        "config: {type: TimeBasedCanary, canaryPercentage: 10, canaryInterval: 30s}\nterminationWaitMinutes: 2m\n"
        "alarms: [from-cloudwatch]", alarms="fast: {metric: RequestCount, period: 15, threshold: 1, "
                                            "comparisonOperator: LessThanThreshold}", target="aws")
    assert [line.split(" ", 1)[1] for line in found(diagnostics)] == [
        "environments.production.alarms.fast.period: CloudWatch accepts a period of 10, 20, 30 or a multiple of 60 "
        "seconds, got 15 (this environment has target: aws)",
        "environments.production.services.orders.deployment.config.canaryInterval: AWS takes whole minutes for "
        "canaryInterval, got '30s' (30s); seconds are for local environments"]


@pytest.mark.parametrize("period", [10, 20, 30, 60, "2m", 3600])
def test_aws_periods(period):
    alarm = f"ok: {{metric: RequestCount, period: {period}, threshold: 1, comparisonOperator: LessThanThreshold}}"
    assert found(code_deploy(alarms=alarm, target="aws")) == []


def test_locally_an_alarm_may_have_a_one_second_period():
    alarm = "fast: {metric: RequestCount, period: 1, threshold: 1, comparisonOperator: LessThanThreshold}"
    assert found(code_deploy("alarms: [fast]", alarms=alarm)) == []


# --- the reference documents every key -----------------------------------------------------------

def test_the_reference_uses_every_deployment_group_and_alarm_key():
    data = yaml.safe_load(REFERENCE.read_text())["environments"]
    used: set[str] = set()

    def walk(value):
        if isinstance(value, dict):
            used.update(str(k) for k in value)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
    walk(data)
    keys = set(cd_group.GROUP_KEYS + cd_group.ALARM_KEYS + cd_group.HOOK_KEYS + cd_group.HOOK_CONTAINER_KEYS
               + cd_group.PROBE_KEYS + cd_group.AUTO_ROLLBACK_KEYS + dg.CANARY_CONFIGURATION_KEYS
               + dg.LINEAR_CONFIGURATION_KEYS + ("name",))
    assert keys - used == set()


def test_the_reference_names_every_choice():
    text = REFERENCE.read_text()
    names = (dg.CUSTOM_CONFIG_KEYS + tuple(PREDEFINED) + STRATEGIES + model.ROLLBACK_EVENTS + vocabulary.METRICS
             + vocabulary.SCOPES + vocabulary.STATISTICS + vocabulary.COMPARISONS + vocabulary.MISSING_DATA
             + dg.TERMINATE_BLUE_OPTIONS + dg.DEPLOYMENT_READY_OPTIONS)
    assert [n for n in names if n not in text] == []
    assert "terminationWaitMinutes: 5" in text and f"{model.DEFAULT_TERMINATION_WAIT / 60:g}" == "5"
