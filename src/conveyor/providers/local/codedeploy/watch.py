"""What the deploy controller watches: the metrics sampler (HAProxy stats every second), the
alarms of every blue/green service evaluated on them, the traffic-aware gate, and optional
synthetic probe traffic to the test listener.

An alarm's scope names a role, not a target group: `green` is the replacement task set's target
group while a deployment runs (and the serving one otherwise), `blue` the original's; a
deployment judges only datapoints from its own start, so an earlier bad release's 5xx never stop
a new one. Mixed into DeployController.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.request

from conveyor.config.codedeploy_group import deployment_group
from conveyor.config.codedeploy_model import DeploymentGroup
from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import NotFound
from conveyor.metrics.monitor import AlarmMonitor, WatchedAlarm
from conveyor.metrics.sampler import Sampler
from conveyor.metrics.store import MetricStore
from conveyor.metrics.vocabulary import ALARM, INSUFFICIENT_DATA, METRICS, OK
from conveyor.providers.local.codedeploy.store import CodeDeployment
from conveyor.providers.local.ecs.store import PRIMARY

log = logging.getLogger("conveyor.codedeploy")

#: Alarms are evaluated once a second (CloudWatch: about once a minute).
EVALUATION_INTERVAL = 1.0
PROBE_PHASES = ("AfterAllowTestTraffic", "ReadyWait", "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic",
                "TerminationWait")


class Watch:
    def _init_watch(self, *, sample: bool) -> None:
        self.metrics = MetricStore(self.home / "metrics.db")
        self.sampler = (Sampler(self.metrics, self.load_balancers, clock=self.clock, on_sample=self._on_sample)
                        if sample else None)
        self.monitor = AlarmMonitor(self.metrics, clock=self.clock)
        self._alarms: dict[str, object] = {}
        self._evaluated_at = 0.0
        self._probes: dict[str, tuple[threading.Thread, threading.Event]] = {}

    def _start_watch(self) -> None:
        if self.sampler is not None:
            self.sampler.start()

    def _stop_watch(self) -> None:
        if self.sampler is not None:
            self.sampler.stop()
        for dep_id in list(self._probes):
            self._stop_probe(dep_id)
        self.metrics.close()

    def _on_sample(self, now: float) -> None:
        """Right after each sample: the period that just ended is complete, judge it."""
        try:
            self.evaluate_alarms(now)
        finally:
            self._wake()

    def _tick_watch(self) -> None:
        now = self.clock()
        if self.sampler is None and now - self._evaluated_at >= EVALUATION_INTERVAL:
            self.evaluate_alarms(now)
        self._run_probes()

    # -- alarms
    def watched_alarms(self) -> list[WatchedAlarm]:
        out = []
        active = {(d.environment, d.service): d for d in self.store.active() if d.phase != "RollbackCleanup"}
        for spec in self.task_sets.service_specs():
            if not spec.blue_green or spec.load_balancer is None:
                continue
            try:
                group = self._group_of(spec)
            except Exception:  # a service whose block no longer parses: nothing to watch
                continue
            d = active.get((spec.environment, spec.name))
            for alarm in group.alarms:
                scope, since = self._scope(spec, d, alarm.scope)
                if scope is None:
                    continue
                out.append(WatchedAlarm(key=f"{spec.environment}/{spec.name}/{alarm.name}", alarm=alarm,
                                        scope_key=scope, since=since))
        return out

    def _scope(self, spec: ServiceSpec, d: CodeDeployment | None, role: str) -> tuple[str | None, float | None]:
        lb = spec.load_balancer
        since = d.created_at if d is not None else None
        if role == "production":
            return f"listener:{spec.environment}:{lb.port}", since
        if role == "test":
            return (f"listener:{spec.environment}:{lb.test_port}", since) if lb.test_port else (None, None)
        if d is not None and d.replacement_tg:
            return f"tg:{d.replacement_tg if role == 'green' else d.original_tg}", since
        deps = self.task_sets.task_sets(spec.environment, spec.name)
        primary = next((x for x in deps if x.status == PRIMARY and x.target_group), None)
        if primary is None:
            return None, None
        if role == "green":
            return f"tg:{primary.target_group}", None
        other = next((tg.name for tg in spec.target_groups if tg.name != primary.target_group), None)
        return (f"tg:{other}", None) if other else (None, None)

    def _group_of(self, spec: ServiceSpec) -> DeploymentGroup:
        return deployment_group(spec.deployment, spec.environment_alarms)

    def evaluate_alarms(self, now: float | None = None) -> dict:
        now = self.clock() if now is None else now
        self._evaluated_at = now
        watched = self.watched_alarms()
        statuses = self.monitor.evaluate_all(watched, now) if watched else {}
        self._alarms = statuses
        return statuses

    def _alarm_gate(self, d: CodeDeployment, group: DeploymentGroup, spec: ServiceSpec) -> bool:
        """Stop the deployment if one of its alarms is in ALARM. True when it stopped."""
        if not group.alarms or not group.alarms_enabled:
            return False
        for alarm in group.alarms:
            status = self._current_status(spec, d, alarm)
            if status is not None and status.state == ALARM:
                self._fail(d, "ALARM_ACTIVE", f"alarm {alarm.name} is in ALARM: {status.reason}", status="Stopped")
                return True
        return False

    def _current_status(self, spec: ServiceSpec, d: CodeDeployment, alarm):
        """The alarm's latest status if it was evaluated for this deployment (its scope and
        since), else None: a status left from before the deployment started judges nothing."""
        status = self._alarms.get(f"{d.environment}/{d.service}/{alarm.name}")
        scope, _ = self._scope(spec, d, alarm.scope)
        if status is None or status.scope_key != scope or (status.evaluated_at or 0) < d.created_at:
            return None
        return status

    def _traffic_gate(self, d: CodeDeployment, group: DeploymentGroup, spec: ServiceSpec) -> str | None:
        """Conveyor's traffic-aware rule: an alarm that watches green vouches for it only once it
        judged a whole evaluation window of green traffic (every one of its N periods had
        requests) and found no breaching datapoint in it (stricter than OK, which allows M-1).
        Until then the deployment waits and says why. Returns why, or None."""
        if not group.require_traffic or not group.alarms_enabled or not d.replacement_tg:
            return None
        for alarm in group.alarms:
            if alarm.scope != "green":
                continue
            status = self._current_status(spec, d, alarm)
            points = list(getattr(status, "datapoints", []) or [])
            window = alarm.period * alarm.evaluation_periods
            if status is None or status.state != OK or status.breaching or len(points) < alarm.evaluation_periods or any(
                    value is None for _, value in points):
                seen = sum(1 for _, value in points if value is not None)
                if status is not None and status.breaching and seen == len(points):
                    return (f"alarm {alarm.name} saw {status.breaching} breaching datapoint(s) of green in its "
                            f"last {alarm.evaluation_periods} periods (below its {alarm.datapoints_to_alarm} to "
                            "alarm); waiting for a clean window")
                return (f"green (target-group {d.replacement_tg}) had requests in {seen} of the last "
                        f"{alarm.evaluation_periods} periods of {alarm.period} s, so alarm {alarm.name} cannot vouch "
                        f"for it yet ({getattr(status, 'state', INSUFFICIENT_DATA)}); waiting for {window:g} s of "
                        "traffic" + ("" if group.probe else " (deployment.probe sends synthetic requests)"))
        return None

    # -- synthetic probe traffic to the test listener
    def _run_probes(self) -> None:
        wanted = {}
        for d in self.store.active():
            if d.phase not in PROBE_PHASES:
                continue
            try:
                group = self._group(d)
                spec = self._spec(d)
            except Exception:
                continue
            if group.probe and spec.load_balancer.test_port:
                lb = spec.load_balancer
                wanted[d.id] = (f"http://{lb.bind}:{lb.test_port}{group.probe.path}", group.probe.rate)
        for dep_id in list(self._probes):
            if dep_id not in wanted:
                self._stop_probe(dep_id)
        for dep_id, (url, rate) in wanted.items():
            if dep_id not in self._probes:
                stop = threading.Event()
                thread = threading.Thread(target=_probe, args=(url, rate, stop), name=f"probe-{dep_id}", daemon=True)
                thread.start()
                self._probes[dep_id] = (thread, stop)

    def _stop_probe(self, dep_id: str) -> None:
        probe = self._probes.pop(dep_id, None)
        if probe is not None:
            probe[1].set()

    # -- views
    def alarms_view(self, environment: str, service: str) -> list[dict]:
        """The alarms as the last evaluation left them (the sampler evaluates after every sample;
        before its first one, the stored state)."""
        if self.sampler is None:
            self.evaluate_alarms()
        out = []
        for w in self.watched_alarms():
            if not w.key.startswith(f"{environment}/{service}/"):
                continue
            status = self._alarms.get(w.key) or self.monitor.status(w.key)
            out.append({"name": w.alarm.name, "metric": w.alarm.metric, "scope": w.alarm.scope, "watching": w.scope_key,
                        "statistic": w.alarm.statistic, "period": w.alarm.period,
                        "evaluationPeriods": w.alarm.evaluation_periods,
                        "datapointsToAlarm": w.alarm.datapoints_to_alarm, "threshold": w.alarm.threshold,
                        "comparisonOperator": w.alarm.comparison, "treatMissingData": w.alarm.treat_missing_data,
                        "state": getattr(status, "state", "INSUFFICIENT_DATA"),
                        "reason": getattr(status, "reason", ""),
                        "datapoints": [list(p) for p in getattr(status, "datapoints", []) or []],
                        "history": [h.to_json() for h in self.monitor.history(w.key, 20)]})
        return out

    def metrics_view(self, environment: str, service: str, seconds: int = 60) -> dict:
        spec = self.task_sets.service_spec(environment, service)
        if spec is None:
            raise NotFound(f"no service '{service}' in environment '{environment}'")
        now = int(self.clock())
        scopes = [f"tg:{tg.name}" for tg in spec.target_groups]
        if spec.load_balancer:
            scopes.append(f"listener:{environment}:{spec.load_balancer.port}")
            if spec.load_balancer.test_port:
                scopes.append(f"listener:{environment}:{spec.load_balancer.test_port}")
        out = {}
        for scope in scopes:
            series = {}
            for metric in METRICS:
                points = self.metrics.series(scope, metric, now - seconds, now + 1)
                if points:
                    series[metric] = points
            out[scope] = series
        return {"environment": environment, "service": service, "seconds": seconds, "scopes": out}


def _probe(url: str, rate: float, stop: threading.Event) -> None:
    interval = 1.0 / max(0.1, rate)
    while not stop.is_set():
        started = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                response.read()
        except Exception:  # a failing green shows in its metrics; the probe only makes traffic
            pass
        stop.wait(max(0.0, interval - (time.monotonic() - started)))
