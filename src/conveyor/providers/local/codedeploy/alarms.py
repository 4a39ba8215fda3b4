"""The alarm watch: the metrics sampler (HAProxy stats every second), the alarms of every
blue/green service evaluated on them, and what they say about a deployment (conveyor.
providers.local.codedeploy.gates decides; this module observes).

An alarm's scope names a role, not a target group: `green` is the replacement task set's target
group while a deployment runs (and the serving one otherwise), `blue` the original's; a
deployment judges only datapoints from its own start, so an earlier bad release's 5xx never stop
a new one.

    watch = AlarmWatch(MetricStore(home / "metrics.db"), store, task_sets, load_balancers=..., wake=loop.wake)
    watch.start()                                  # the sampler; it evaluates after every sample
    watch.alarm_stop(d, group, spec)               # Fail(ALARM_ACTIVE, …) or None
    watch.view("production", "orders")             # DescribeAlarms, with history
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from conveyor.config.codedeploy_group import deployment_group
from conveyor.config.codedeploy_model import DeploymentGroup
from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import NotFound
from conveyor.lb.haproxy import LoadBalancer
from conveyor.metrics.monitor import AlarmMonitor, AlarmStatus, WatchedAlarm
from conveyor.metrics.sampler import Sampler
from conveyor.metrics.store import MetricStore, listener_scope, tg_scope
from conveyor.metrics.vocabulary import INSUFFICIENT_DATA, METRICS, AlarmSpec
from conveyor.providers.local.codedeploy import gates, reasons
from conveyor.providers.local.codedeploy.revision import load_balancer_of
from conveyor.providers.local.codedeploy.steps import ROLLBACK_CLEANUP, Fail
from conveyor.providers.local.codedeploy.store import CodeDeployment, DeploymentStore
from conveyor.providers.local.codedeploy.task_set_pair import primary_target_group
from conveyor.providers.local.ecs.task_set_api import TaskSetApi

#: Without the sampler, alarms are evaluated once a second (CloudWatch: about once a minute).
EVALUATION_INTERVAL = 1.0


def alarm_key(environment: str, service: str, alarm: str) -> str:
    return f"{environment}/{service}/{alarm}"


class AlarmWatch:
    def __init__(self, metrics: MetricStore, store: DeploymentStore, services: TaskSetApi, *,
                 load_balancers: Callable[[], Mapping[str, LoadBalancer]], clock: Callable[[], float] = time.time,
                 sample: bool = True, wake: Callable[[], None] = lambda: None):
        self.metrics = metrics
        self._store = store
        self._services = services
        self._clock = clock
        self._wake = wake
        self.sampler = (Sampler(metrics, load_balancers, clock=clock, on_sample=self._on_sample) if sample else None)
        self.monitor = AlarmMonitor(metrics, clock=clock)
        self._statuses: dict[str, AlarmStatus] = {}
        self._evaluated_at = 0.0

    def start(self) -> None:
        if self.sampler is not None:
            self.sampler.start()

    def stop(self) -> None:
        if self.sampler is not None:
            self.sampler.stop()
        self.metrics.close()

    def _on_sample(self, now: float) -> None:
        """Right after each sample: the period that just ended is complete, judge it."""
        try:
            self.evaluate(now)
        finally:
            self._wake()

    def tick(self) -> None:
        """A pass of the control loop: without the sampler, evaluate now and then."""
        now = self._clock()
        if self.sampler is None and now - self._evaluated_at >= EVALUATION_INTERVAL:
            self.evaluate(now)

    def evaluate(self, now: float | None = None) -> dict[str, AlarmStatus]:
        now = self._clock() if now is None else now
        self._evaluated_at = now
        watched = self.watched()
        self._statuses = self.monitor.evaluate_all(watched, now) if watched else {}
        return self._statuses

    def watched(self) -> list[WatchedAlarm]:
        """Every alarm of every blue/green service, scoped to its deployment in progress."""
        out = []
        active = {(d.environment, d.service): d for d in self._store.active() if d.phase != ROLLBACK_CLEANUP}
        for spec in self._services.service_specs():
            if not spec.blue_green or spec.load_balancer is None:
                continue
            try:
                group = deployment_group(spec.deployment, spec.environment_alarms)
            except Exception:  # a service whose block no longer parses: nothing to watch
                continue
            d = active.get((spec.environment, spec.name))
            for alarm in group.alarms:
                scope, since = self._scope(spec, d, alarm.scope)
                if scope is not None:
                    out.append(WatchedAlarm(key=alarm_key(spec.environment, spec.name, alarm.name), alarm=alarm,
                                            scope_key=scope, since=since))
        return out

    def _scope(self, spec: ServiceSpec, d: CodeDeployment | None, role: str) -> tuple[str | None, float | None]:
        since = d.created_at if d is not None else None
        if role == "production":
            return listener_scope(spec.environment, load_balancer_of(spec).port), since
        if role == "test":
            test_port = load_balancer_of(spec).test_port
            return (listener_scope(spec.environment, test_port), since) if test_port else (None, None)
        if d is not None and d.replacement_tg:
            # (a first deployment has no blue: its blue alarms watch "tg:None", a scope nothing writes)
            return tg_scope(str(d.replacement_tg if role == gates.GREEN else d.original_tg)), since
        serving = primary_target_group(self._services.task_sets(spec.environment, spec.name))
        if serving is None:
            return None, None
        if role == gates.GREEN:
            return tg_scope(serving), None
        other = next((tg.name for tg in spec.target_groups if tg.name != serving), None)
        return (tg_scope(other), None) if other else (None, None)

    def _status_for(self, d: CodeDeployment, spec: ServiceSpec) -> gates.StatusOf:
        def status_of(alarm: AlarmSpec) -> AlarmStatus | None:
            status = self._statuses.get(alarm_key(d.environment, d.service, alarm.name))
            scope, _ = self._scope(spec, d, alarm.scope)
            if status is None or status.scope_key != scope or (status.evaluated_at or 0) < d.created_at:
                return None
            return status
        return status_of

    def alarm_stop(self, d: CodeDeployment, group: DeploymentGroup, spec: ServiceSpec) -> Fail | None:
        return gates.alarm_stop(group, self._status_for(d, spec))

    def traffic_gate(self, d: CodeDeployment, group: DeploymentGroup, spec: ServiceSpec) -> str | None:
        return gates.traffic_gate(group, d.replacement_tg, self._status_for(d, spec))

    # -- views
    def view(self, environment: str, service: str) -> list[dict]:
        """The alarms as the last evaluation left them (the sampler evaluates after every sample;
        before its first one, the stored state)."""
        if self.sampler is None:
            self.evaluate()
        out = []
        for w in self.watched():
            if not w.key.startswith(alarm_key(environment, service, "")):
                continue
            status = self._statuses.get(w.key) or self.monitor.status(w.key)
            out.append({"name": w.alarm.name, "metric": w.alarm.metric, "scope": w.alarm.scope, "watching": w.scope_key,
                        "statistic": w.alarm.statistic, "period": w.alarm.period,
                        "evaluationPeriods": w.alarm.evaluation_periods,
                        "datapointsToAlarm": w.alarm.datapoints_to_alarm, "threshold": w.alarm.threshold,
                        "comparisonOperator": w.alarm.comparison, "treatMissingData": w.alarm.treat_missing_data,
                        "state": status.state if status is not None else INSUFFICIENT_DATA,
                        "reason": status.reason if status is not None else "",
                        "datapoints": [list(p) for p in (status.datapoints if status is not None else [])],
                        "history": [h.to_json() for h in self.monitor.history(w.key, 20)]})
        return out

    def metrics_view(self, environment: str, service: str, seconds: int = 60) -> dict:
        spec = self._services.service_spec(environment, service)
        if spec is None:
            raise NotFound(reasons.no_service(environment, service))
        now = int(self._clock())
        scopes = [tg_scope(tg.name) for tg in spec.target_groups]
        if spec.load_balancer:
            scopes.append(listener_scope(environment, spec.load_balancer.port))
            if spec.load_balancer.test_port:
                scopes.append(listener_scope(environment, spec.load_balancer.test_port))
        out = {}
        for scope in scopes:
            series = {}
            for metric in METRICS:
                points = self.metrics.series(scope, metric, now - seconds, now + 1)
                if points:
                    series[metric] = points
            out[scope] = series
        return {"environment": environment, "service": service, "seconds": seconds, "scopes": out}
