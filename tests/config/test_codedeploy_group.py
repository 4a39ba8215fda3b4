"""The deployment group built from conveyor.yml's `deployment:` block (conveyor.config.codedeploy_group,
aws-semantics §5.5): CodeDeploy's defaults, each key, and agreement with the validator on the
annotated reference file."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.config.codedeploy_configs import PREDEFINED
from conveyor.config.codedeploy_group import (
    DEFAULT_ROLLBACK_EVENTS,
    alarm_spec,
    deployment_group,
    function_name,
    hook_for,
    probe_spec,
    rollback_events,
)
from conveyor.config.codedeploy_model import (
    DEFAULT_HOOK_TIMEOUT,
    DEFAULT_TERMINATION_WAIT,
    DeploymentConfig,
    DeploymentGroup,
    HookSpec,
    ProbeSpec,
)
from conveyor.config.pipeline import check_file
from conveyor.documents.located import load_file
from conveyor.metrics.vocabulary import AlarmSpec

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "conveyor.reference.yml"

FIVE_XX = {"metric": "HTTPCode_Target_5XX_Count", "threshold": 1, "comparisonOperator": "GreaterThanOrEqualToThreshold"}


def test_an_empty_block_gets_codedeploys_defaults():
    group = deployment_group({"controller": "CODE_DEPLOY"})
    assert group == DeploymentGroup()
    assert group.config == PREDEFINED["CodeDeployDefault.ECSAllAtOnce"]
    assert (group.appspec, group.ready_action, group.ready_wait) == ("appspec.yaml", "CONTINUE_DEPLOYMENT", 0.0)
    assert (group.termination_action, group.termination_wait) == ("TERMINATE", DEFAULT_TERMINATION_WAIT)
    assert group.auto_rollback == {"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"}
    assert not group.rolls_back_on("DEPLOYMENT_STOP_ON_REQUEST")
    assert (group.alarms, group.hooks, group.probe) == ((), {}, None)
    assert group.alarms_enabled and not group.ignore_poll_alarm_failure and group.require_traffic


@pytest.mark.parametrize("raw, field, value", [
    ({"appspec": "deploy/appspec.json"}, "appspec", "deploy/appspec.json"),
    ({"config": "CodeDeployDefault.ECSLinear10PercentEvery3Minutes"}, "config",
     DeploymentConfig("CodeDeployDefault.ECSLinear10PercentEvery3Minutes", "TimeBasedLinear", 10.0, 180.0)),
    ({"config": {"type": "TimeBasedCanary", "canaryPercentage": 25, "canaryInterval": "10s", "name": "quick"}},
     "config", DeploymentConfig("quick", "TimeBasedCanary", 25.0, 10.0)),
    ({"deploymentReadyOption": "STOP_DEPLOYMENT", "waitTimeMinutes": 30}, "ready_wait", 1800.0),
    ({"deploymentReadyOption": "STOP_DEPLOYMENT", "waitTimeMinutes": "45s"}, "ready_action", "STOP_DEPLOYMENT"),
    # waitTimeMinutes only means something with STOP_DEPLOYMENT (the validator warns)
    ({"deploymentReadyOption": "CONTINUE_DEPLOYMENT", "waitTimeMinutes": 30}, "ready_wait", 0.0),
    ({"terminateBlue": "KEEP_ALIVE"}, "termination_action", "KEEP_ALIVE"),
    ({"terminationWaitMinutes": 0}, "termination_wait", 0.0),
    ({"terminationWaitMinutes": "2s"}, "termination_wait", 2.0),
    ({"terminationWaitMinutes": 60}, "termination_wait", 3600.0),
    ({"alarmsEnabled": False}, "alarms_enabled", False),
    ({"ignorePollAlarmFailure": True}, "ignore_poll_alarm_failure", True),
    ({"requireTraffic": False}, "require_traffic", False),
    ({"autoRollback": False}, "auto_rollback", frozenset()),
    ({"probe": True}, "probe", ProbeSpec("/", 5.0)),
    ({"probe": {"path": "/health", "ratePerSecond": 20}}, "probe", ProbeSpec("/health", 20.0)),
    ({"probe": False}, "probe", None),
])
def test_each_key(raw, field, value):
    assert getattr(deployment_group(raw), field) == value


def test_an_ecs_strategy_bake_time_is_the_termination_wait():
    group = deployment_group({"strategy": "LINEAR", "bakeTimeInMinutes": "20s",
                              "linearConfiguration": {"stepPercent": 50, "stepBakeTimeInMinutes": "5s"}})
    assert (group.config.type, group.config.percentage, group.config.interval) == ("TimeBasedLinear", 50.0, 5.0)
    assert group.config.bake == group.termination_wait == 20.0
    canary = deployment_group({"strategy": "CANARY", "terminationWaitMinutes": 1})
    assert canary.config.bake is None and canary.termination_wait == 60.0
    assert deployment_group({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0}).termination_wait == 0.0


@pytest.mark.parametrize("value, events", [
    (True, DEFAULT_ROLLBACK_EVENTS),
    (False, frozenset()),
    ([], frozenset()),
    (["DEPLOYMENT_STOP_ON_REQUEST", "DEPLOYMENT_FAILURE"], {"DEPLOYMENT_STOP_ON_REQUEST", "DEPLOYMENT_FAILURE"}),
    ({"enabled": True}, DEFAULT_ROLLBACK_EVENTS),
    ({}, DEFAULT_ROLLBACK_EVENTS),
    ({"enabled": False, "events": ["DEPLOYMENT_FAILURE"]}, frozenset()),
    ({"events": ["DEPLOYMENT_STOP_ON_ALARM"]}, {"DEPLOYMENT_STOP_ON_ALARM"}),
])
def test_auto_rollback_forms(value, events):
    assert rollback_events(value) == events
    assert deployment_group({"autoRollback": value}).auto_rollback == events


def test_alarms_by_name_by_mapping_and_inline():
    group = deployment_group(
        {"alarms": ["orders-5xx", {"name": "errors"},
                    {"name": "slow", "metric": "TargetResponseTime", "statistic": "Average", "period": "2s",
                     "evaluationPeriods": 3, "datapointsToAlarm": 2, "threshold": 0.5,
                     "comparisonOperator": "GreaterThanThreshold", "treatMissingData": "notBreaching",
                     "scope": "production"}]},
        {"orders-5xx": FIVE_XX, "errors": dict(FIVE_XX, metric="HTTPCode_ELB_5XX_Count", period=1)})
    assert [a.name for a in group.alarms] == ["orders-5xx", "errors", "slow"]
    assert group.alarms[0] == AlarmSpec("orders-5xx", "HTTPCode_Target_5XX_Count", "green", "Sum", 60, 1, 1, 1.0,
                                        "GreaterThanOrEqualToThreshold", "missing")
    assert group.alarms[1].period == 1 and group.alarms[1].metric == "HTTPCode_ELB_5XX_Count"
    assert group.alarms[2] == AlarmSpec("slow", "TargetResponseTime", "production", "Average", 2, 3, 2, 0.5,
                                        "GreaterThanThreshold", "notBreaching")


def test_datapoints_to_alarm_defaults_to_evaluation_periods():
    assert alarm_spec("a", dict(FIVE_XX, evaluationPeriods=4)).datapoints_to_alarm == 4
    assert alarm_spec("a", dict(FIVE_XX, period="1m")).period == 60


def test_an_undefined_alarm_name_is_refused():
    with pytest.raises(ValueError, match="alarm 'nope' is not defined in the environment's alarms"):
        deployment_group({"alarms": ["nope"]}, {"orders-5xx": FIVE_XX})


def test_hooks():
    group = deployment_group({"hooks": {
        "smoke": {"command": ["./smoke.sh", "--fast"], "timeoutSeconds": "2m", "env": {"N": 3, "MODE": "quick"}},
        "contract": {"container": {"image": "localhost/tests:1", "command": ["pytest", "-q"]}},
        "notify": {"url": "http://127.0.0.1:9099/hook"},
        "bare": {"container": {"image": "busybox"}},
    }})
    smoke, contract, notify, bare = (group.hooks[n] for n in ("smoke", "contract", "notify", "bare"))
    assert smoke == HookSpec("smoke", command=("./smoke.sh", "--fast"), timeout=120.0)
    assert smoke.env == {"N": "3", "MODE": "quick"} and smoke.kind == "command"
    assert contract == HookSpec("contract", image="localhost/tests:1", container_command=("pytest", "-q"))
    assert contract.kind == "container" and contract.timeout == DEFAULT_HOOK_TIMEOUT
    assert notify == HookSpec("notify", url="http://127.0.0.1:9099/hook") and notify.kind == "http"
    assert bare.container_command == () and bare.kind == "container"


@pytest.mark.parametrize("reference, name", [
    ("smoke", "smoke"),
    ("smoke:live", "smoke"),
    ("111122223333:function:smoke", "smoke"),
    ("arn:aws:lambda:us-east-1:111122223333:function:smoke", "smoke"),
    ("arn:aws:lambda:us-east-1:111122223333:function:smoke:7", "smoke"),
    ("arn:aws:lambda:us-east-1:111122223333:function:function", "function"),
    ("function", "function"),
    ("CodeDeployHook_smoke", "CodeDeployHook_smoke"),
])
def test_the_function_name_of_an_appspec_hook(reference, name):
    assert function_name(reference) == name


def test_hook_for_matches_names_and_arns():
    group = deployment_group({"hooks": {"smoke": {"command": ["true"]}}})
    assert hook_for(group, "arn:aws:lambda:eu-west-1:111122223333:function:smoke").name == "smoke"
    assert hook_for(group, "smoke").name == "smoke"
    assert hook_for(group, "smoke-test") is None


def test_probe_spec_forms():
    assert probe_spec(None) is None and probe_spec(True) == ProbeSpec() and probe_spec({}) is None
    assert probe_spec({"path": "/ping"}) == ProbeSpec("/ping", 5.0)


def test_every_code_deploy_service_of_the_reference_builds():
    """The validator accepts the reference (tests/config), and the builder reads all of it."""
    assert [str(d) for d in check_file(REFERENCE, "docs/conveyor.reference.yml")] == []
    environments = load_file(REFERENCE).data["environments"]
    groups = {}
    for env in environments.values():
        for name, service in env.get("services", {}).items():
            deployment = service.get("deployment", {})
            if deployment.get("controller") == "CODE_DEPLOY":
                groups[name] = deployment_group(deployment, env.get("alarms"))
    orders, billing, search = groups["orders"], groups["billing"], groups["search"]
    assert orders.config == DeploymentConfig("orders-canary-20", "TimeBasedCanary", 20.0, 30.0)
    assert [a.name for a in orders.alarms] == ["orders-5xx", "orders-slow"]
    assert orders.alarms[0].period == 1 and orders.alarms[0].datapoints_to_alarm == 2
    assert set(orders.hooks) == {"orders-smoke-test", "orders-contract-test", "orders-notify"}
    assert orders.ready_wait == 3600.0 and orders.termination_wait == 300.0 and orders.probe == ProbeSpec("/health")
    assert len(orders.auto_rollback) == 3
    assert (billing.config.type, billing.config.percentage, billing.config.interval) == ("TimeBasedCanary", 5.0, 60.0)
    assert billing.termination_wait == 600.0
    assert (search.config.percentage, search.config.interval, search.config.bake) == (25.0, 20.0, None)
