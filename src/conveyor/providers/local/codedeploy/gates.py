"""What a deployment's alarms decide, as pure functions of their latest statuses (aws-semantics
§5.5): an alarm in ALARM stops the deployment (ALARM_ACTIVE, status Stopped), and Conveyor's
traffic-aware gate holds each traffic step until green's alarms have judged green traffic.

`status_of(alarm)` gives the alarm's status as evaluated for this deployment, or None (not yet
evaluated for it: a status left from before the deployment started judges nothing).

    stop = alarm_stop(group, status_of)            # Fail(ALARM_ACTIVE, …) or None
    why = traffic_gate(group, "orders-2", status_of)   # what the step waits for, or None
"""

from __future__ import annotations

from collections.abc import Callable

from conveyor.config.codedeploy_model import DeploymentGroup
from conveyor.metrics.monitor import AlarmStatus
from conveyor.metrics.vocabulary import ALARM, INSUFFICIENT_DATA, OK, AlarmSpec
from conveyor.providers.local.codedeploy import reasons
from conveyor.providers.local.codedeploy.states import STOPPED
from conveyor.providers.local.codedeploy.steps import Fail

StatusOf = Callable[[AlarmSpec], "AlarmStatus | None"]
#: The alarm scope that names the replacement task set's target group.
GREEN = "green"


def alarm_stop(group: DeploymentGroup, status_of: StatusOf) -> Fail | None:
    """The first of the group's alarms in ALARM stops the deployment."""
    if not group.alarms or not group.alarms_enabled:
        return None
    for alarm in group.alarms:
        status = status_of(alarm)
        if status is not None and status.state == ALARM:
            return Fail(reasons.ALARM_ACTIVE, reasons.alarm_in_alarm(alarm.name, status.reason), status=STOPPED,
                        alarms=(alarm.name,))
    return None


def traffic_gate(group: DeploymentGroup, replacement_tg: str | None, status_of: StatusOf) -> str | None:
    """Conveyor's traffic-aware rule: an alarm that watches green vouches for it only once it
    judged a whole evaluation window of green traffic (every one of its N periods had
    requests) and found no breaching datapoint in it (stricter than OK, which allows M-1).
    Until then the deployment waits and says why. Returns why, or None."""
    if not group.require_traffic or not group.alarms_enabled or not replacement_tg:
        return None
    for alarm in group.alarms:
        if alarm.scope != GREEN:
            continue
        status = status_of(alarm)
        points = list(status.datapoints or []) if status is not None else []
        if (status is not None and status.state == OK and not status.breaching
                and len(points) >= alarm.evaluation_periods and all(value is not None for _, value in points)):
            continue
        seen = sum(1 for _, value in points if value is not None)
        if status is not None and status.breaching and seen == len(points):
            return reasons.gate_breaching(alarm.name, status.breaching, alarm.evaluation_periods,
                                          alarm.datapoints_to_alarm)
        return reasons.gate_no_traffic(replacement_tg, seen, alarm.evaluation_periods, alarm.period, alarm.name,
                                       status.state if status is not None else INSUFFICIENT_DATA,
                                       alarm.period * alarm.evaluation_periods, group.probe is not None)
    return None
