"""The deployment group of a CODE_DEPLOY service, built from its conveyor.yml `deployment:` block
(aws-semantics §5.5) and the environment's `alarms:` (§8). Pure: the mapping must be valid already
(conveyor.config.codedeploy checks the same keys with positions); missing keys take CodeDeploy's
defaults, or Conveyor's where a local default is better (model.DEFAULT_TERMINATION_WAIT).

    >>> g = deployment_group({"config": "CodeDeployDefault.ECSCanary10Percent5Minutes",
    ...                       "terminationWaitMinutes": "30s", "alarms": ["orders-5xx"]},
    ...                      {"orders-5xx": {"metric": "HTTPCode_Target_5XX_Count", "threshold": 1,
    ...                                      "comparisonOperator": "GreaterThanOrEqualToThreshold"}})
    >>> g.config.type, g.termination_wait, g.alarms[0].scope, g.rolls_back_on("DEPLOYMENT_STOP_ON_ALARM")
    ('TimeBasedCanary', 30.0, 'green', True)
"""

from __future__ import annotations

from typing import Any

from conveyor.config.appspec import hook_function_name
from conveyor.config.codedeploy_configs import (
    DEFAULT_CONFIG_NAME,
    PREDEFINED,
    custom_config,
    ecs_strategy,
    parse_duration,
)
from conveyor.config.codedeploy_model import (
    CONTINUE_DEPLOYMENT,
    DEFAULT_HOOK_TIMEOUT,
    DEFAULT_READY_WAIT,
    DEFAULT_TERMINATION_WAIT,
    DEPLOYMENT_FAILURE,
    DEPLOYMENT_STOP_ON_ALARM,
    STOP_DEPLOYMENT,
    TERMINATE,
    DeploymentConfig,
    DeploymentGroup,
    HookSpec,
    ProbeSpec,
)
from conveyor.metrics.vocabulary import AlarmSpec

#: The keys of a CODE_DEPLOY service's `deployment:` block (besides `controller`).
GROUP_KEYS = ("appspec", "config", "strategy", "bakeTimeInMinutes", "canaryConfiguration", "linearConfiguration",
              "deploymentReadyOption", "waitTimeMinutes", "terminateBlue", "terminationWaitMinutes", "autoRollback",
              "alarms", "alarmsEnabled", "ignorePollAlarmFailure", "hooks", "probe", "requireTraffic")
ALARM_KEYS = ("metric", "scope", "statistic", "period", "evaluationPeriods", "datapointsToAlarm", "threshold",
              "comparisonOperator", "treatMissingData")
HOOK_KEYS = ("command", "container", "url", "timeoutSeconds", "env")
HOOK_CONTAINER_KEYS = ("image", "command")
PROBE_KEYS = ("path", "ratePerSecond")
AUTO_ROLLBACK_KEYS = ("enabled", "events")

DEFAULT_APPSPEC = "appspec.yaml"  # CodeDeployToECS AppSpecTemplatePath default
#: autoRollback: true means what the CodeDeploy console ticks: roll back when the deployment fails
#: and when an alarm stops it (a `conveyor deploy stop` rolls back only when asked).
DEFAULT_ROLLBACK_EVENTS = frozenset({DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_ALARM})
DEFAULT_ALARM_PERIOD = 60  # seconds; CloudWatch's usual period for ALB metrics


def deployment_group(raw: dict, environment_alarms: dict | None = None) -> DeploymentGroup:
    """The group of a valid `deployment:` mapping; alarm names refer to `environment_alarms`
    (the environment's `alarms:` mapping, name -> definition)."""
    config = deployment_config(raw)
    ready = raw.get("deploymentReadyOption", CONTINUE_DEPLOYMENT)
    ready_wait = (parse_duration(raw.get("waitTimeMinutes", 0)) if ready == STOP_DEPLOYMENT
                  else DEFAULT_READY_WAIT)
    if config.bake is not None:  # ECS-native: the bake time is how long blue stays after the shift
        termination_wait = config.bake
    elif "terminationWaitMinutes" in raw:
        termination_wait = parse_duration(raw["terminationWaitMinutes"])
    else:
        termination_wait = DEFAULT_TERMINATION_WAIT
    probe = raw.get("probe", False)
    return DeploymentGroup(
        config=config,
        appspec=str(raw.get("appspec", DEFAULT_APPSPEC)),
        ready_action=ready,
        ready_wait=ready_wait,
        termination_action=raw.get("terminateBlue", TERMINATE),
        termination_wait=termination_wait,
        alarms=tuple(group_alarms(raw.get("alarms") or [], environment_alarms or {})),
        alarms_enabled=bool(raw.get("alarmsEnabled", True)),
        ignore_poll_alarm_failure=bool(raw.get("ignorePollAlarmFailure", False)),
        auto_rollback=rollback_events(raw.get("autoRollback", True)),
        hooks={name: hook_spec(name, body) for name, body in (raw.get("hooks") or {}).items()},
        probe=probe_spec(probe),
        require_traffic=bool(raw.get("requireTraffic", True)),
    )


def deployment_config(raw: dict) -> DeploymentConfig:
    """`config:` (a predefined name or a custom mapping) or the ECS-native `strategy:` keys."""
    if "strategy" in raw:
        return ecs_strategy(raw["strategy"], raw.get("bakeTimeInMinutes"), raw.get("canaryConfiguration"),
                            raw.get("linearConfiguration"))
    config = raw.get("config", DEFAULT_CONFIG_NAME)
    if isinstance(config, dict):
        return custom_config(config)
    if config not in PREDEFINED:
        raise ValueError(f"unknown deployment config '{config}'; expected one of {', '.join(PREDEFINED)}")
    return PREDEFINED[config]


def group_alarms(items: list, environment_alarms: dict) -> list[AlarmSpec]:
    """Names (or {name} alone, as CodeDeploy's alarmConfiguration) refer to environment alarms;
    other mappings define an alarm inline."""
    out = []
    for item in items:
        if isinstance(item, dict) and set(item) != {"name"}:
            out.append(alarm_spec(str(item["name"]), item))
            continue
        name = str(item["name"] if isinstance(item, dict) else item)
        if name not in environment_alarms:
            raise ValueError(f"alarm '{name}' is not defined in the environment's alarms")
        out.append(alarm_spec(name, environment_alarms[name]))
    return out


def alarm_spec(name: str, raw: dict) -> AlarmSpec:
    """An alarm from its conveyor.yml mapping (CloudWatch PutMetricAlarm's fields, aws-semantics §8).

    >>> alarm_spec("slow", {"metric": "TargetResponseTime", "statistic": "Average", "period": "1s",
    ...                     "evaluationPeriods": 3, "threshold": 0.5,
    ...                     "comparisonOperator": "GreaterThanThreshold"}).datapoints_to_alarm
    3
    """
    evaluation_periods = int(raw.get("evaluationPeriods", 1))
    return AlarmSpec(
        name=name,
        metric=str(raw["metric"]),
        scope=str(raw.get("scope", AlarmSpec.scope)),
        statistic=str(raw.get("statistic", AlarmSpec.statistic)),
        period=int(round(parse_duration(raw.get("period", DEFAULT_ALARM_PERIOD), "s"))),
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=int(raw.get("datapointsToAlarm", evaluation_periods)),
        threshold=float(raw["threshold"]),
        comparison=str(raw["comparisonOperator"]),
        treat_missing_data=str(raw.get("treatMissingData", AlarmSpec.treat_missing_data)),
    )


def rollback_events(value: Any) -> frozenset[str]:
    """autoRollback: true/false, a list of events, or {enabled, events} (autoRollbackConfiguration).

    >>> sorted(rollback_events(["DEPLOYMENT_STOP_ON_REQUEST"])), rollback_events({"enabled": False})
    (['DEPLOYMENT_STOP_ON_REQUEST'], frozenset())
    """
    if isinstance(value, bool):
        return DEFAULT_ROLLBACK_EVENTS if value else frozenset()
    if isinstance(value, list):
        return frozenset(value)
    if not value.get("enabled", True):
        return frozenset()
    events = value.get("events")
    return DEFAULT_ROLLBACK_EVENTS if events is None else frozenset(events)


def hook_spec(name: str, raw: dict) -> HookSpec:
    """The local stand-in for the Lambda function `name`: a command, a container or a URL."""
    container = raw.get("container") or {}
    return HookSpec(
        name=name,
        command=tuple(raw.get("command") or ()),
        image=container.get("image"),
        container_command=tuple(container.get("command") or ()),
        url=raw.get("url"),
        timeout=parse_duration(raw.get("timeoutSeconds", DEFAULT_HOOK_TIMEOUT), "s"),
        env={str(k): str(v) for k, v in (raw.get("env") or {}).items()},
    )


def probe_spec(value: Any) -> ProbeSpec | None:
    """probe: true (defaults), false/absent (none) or {path, ratePerSecond}."""
    if value is True:
        return ProbeSpec()
    if not value:
        return None
    return ProbeSpec(path=str(value.get("path", ProbeSpec.path)),
                     rate=float(value.get("ratePerSecond", ProbeSpec.rate)))


#: The function-name part of what an AppSpec hook names (a Lambda name, name:qualifier, a partial
#: or full ARN): the AppSpec's own rule.
function_name = hook_function_name


def hook_for(group: DeploymentGroup, reference: str) -> HookSpec | None:
    """The hook that stands in for the function an AppSpec names, or None."""
    return group.hooks.get(hook_function_name(reference))
