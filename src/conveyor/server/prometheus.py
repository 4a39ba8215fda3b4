"""`GET /metrics`: what the daemon knows, in Prometheus' text exposition format (version 0.0.4),
so a team's Prometheus and Grafana see Conveyor next to everything else.

Every series is listed in docs/metrics.md. They are read at scrape time, never kept in memory:

- from the stores' SQLite files, through connections of their own opened read-only for the scrape
  (WAL lets them read while the daemon writes, and they never take the stores' locks that the
  scheduler and the deploy loops hold), each family one aggregate query (GROUP BY in SQL), so a
  scrape costs the same few queries with 10 executions or 10,000;
- from the live objects for what only they know: the process, its loops' pass times, the event
  log's last sequence number, the notification deliveries by state.

Like every /api/v1 route but health, it needs the daemon's token (Prometheus:
`authorization: {credentials_file: ...}`); without it the answer is 401 and nothing is read.
The text passes through the secret masker like every other answer.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from conveyor import __version__
from conveyor.engine import states as S
from conveyor.metrics.vocabulary import ALARM, INSUFFICIENT_DATA, OK

METRICS_PATH = b"/metrics"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: The per-target-group rates and averages are over this many complete seconds.
WINDOW_SECONDS = 60
ALARM_STATES = (OK, ALARM, INSUFFICIENT_DATA)
#: Count metrics of the sampler (per second, per target group) and the series they feed.
TG_COUNTS = {"RequestCount": ("conveyor_target_group_requests_per_second", "all", ""),
             "HTTPCode_Target_2XX_Count": ("conveyor_target_group_responses_per_second", "code", "2xx"),
             "HTTPCode_Target_3XX_Count": ("conveyor_target_group_responses_per_second", "code", "3xx"),
             "HTTPCode_Target_4XX_Count": ("conveyor_target_group_responses_per_second", "code", "4xx"),
             "HTTPCode_Target_5XX_Count": ("conveyor_target_group_responses_per_second", "code", "5xx"),
             "HTTPCode_ELB_5XX_Count": ("conveyor_target_group_errors_per_second", "cause", "elb_5xx"),
             "TargetConnectionErrorCount": ("conveyor_target_group_errors_per_second", "cause", "connection")}

Labels = Mapping[str, str]


# --- the text format -----------------------------------------------------------------------------

def escape_label(value: str) -> str:
    r"""A label value inside its double quotes: backslash, double quote and newline escaped.

    >>> escape_label('a"b\\c\nd')
    'a\\"b\\\\c\\nd'
    """
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    """HELP text: backslash and newline escaped (double quotes stay as they are)."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    """A sample value as the format spells it: integers without a decimal point, NaN, +Inf, -Inf.

    >>> [format_value(v) for v in (3, 0.25, float("inf"), float("nan"))]
    ['3', '0.25', '+Inf', 'NaN']
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2 ** 53:
        return str(int(value))
    return repr(float(value))


@dataclass
class Family:
    """One metric family: its HELP and TYPE lines, then its samples (all of a family together,
    as the format requires)."""

    name: str
    kind: str  # gauge, counter, summary, untyped
    help: str
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, suffix: str = "", **labels: Any) -> None:
        self.samples.append((self.name + suffix, {k: str(v) for k, v in labels.items()}, float(value)))

    def lines(self) -> Iterator[str]:
        yield f"# HELP {self.name} {escape_help(self.help)}"
        yield f"# TYPE {self.name} {self.kind}"
        for name, labels, value in self.samples:
            inner = ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items())
            yield f"{name}{{{inner}}} {format_value(value)}" if inner else f"{name} {format_value(value)}"


def render(families: Iterable[Family]) -> str:
    return "".join(line + "\n" for family in families for line in family.lines())


# --- where the numbers come from -----------------------------------------------------------------

@dataclass
class Sources:
    """What a scrape reads: the data directory's stores (read-only) and the live parts of the
    daemon that only exist in memory. Any of them may be absent (an older data directory, a
    daemon without notifications): its series are left out, never invented."""

    home: Path | None  # None: a daemon without a data directory (a test's stand-in service)
    process: Callable[[], Mapping[str, Any]] = lambda: {}
    loops: Mapping[str, Any] = field(default_factory=dict)  # name -> PassTimer
    last_event_seq: Callable[[], int] | None = None
    delivery_counts: Callable[[], Mapping[str, int]] | None = None
    clock: Callable[[], float] = time.time

    @contextmanager
    def read(self, name: str) -> Iterator[sqlite3.Connection | None]:
        """A read-only connection to one of the data directory's databases, None when it does
        not exist yet (a read-only open never creates one)."""
        path = self.home / name if self.home is not None else None
        if path is None or not path.exists():
            yield None
            return
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5, check_same_thread=False)
        with closing(db):
            yield db


def collect(src: Sources) -> list[Family]:
    families: list[Family] = []
    families += _daemon(src)
    families += _pipelines(src)
    families += _deployments(src)
    families += _metrics_store(src)
    families += _events_and_notifications(src)
    return families


def _daemon(src: Sources) -> list[Family]:
    info = Family("conveyor_build_info", "gauge", "Always 1; the version of the daemon in a label.")
    info.add(1, version=__version__)
    stats = src.process()
    out = [info]
    for key, name, kind, text in (
            ("rssBytes", "conveyor_process_resident_memory_bytes", "gauge", "Resident memory of the daemon."),
            ("cpuSeconds", "conveyor_process_cpu_seconds_total", "counter", "User and system CPU time of the daemon."),
            ("threads", "conveyor_process_threads", "gauge", "Threads of the daemon.")):
        if stats.get(key) is not None:
            family = Family(name, kind, text)
            family.add(stats[key])
            out.append(family)
    if src.loops:
        passes = Family("conveyor_loop_passes_total", "counter", "Passes of the daemon's control loops.")
        took = Family("conveyor_loop_pass_seconds", "gauge",
                      "How long the control loops' recent passes took (quantile p50/p95/max of the kept ones).")
        for loop, timer in sorted(src.loops.items()):
            summary = timer.summary()
            passes.add(summary["passes"], loop=loop)
            for q in ("p50", "p95", "max"):
                if summary.get(q) is not None:
                    took.add(summary[q], loop=loop, quantile=q)
        out += [passes, took]
    return out


#: The latest execution-scope status of each execution, with its pipeline.
_EXECUTION_STATUS = """
SELECT e.pipeline, t.status, COUNT(*) FROM executions e
JOIN transitions t ON t.seq = (SELECT MAX(u.seq) FROM transitions u
                               WHERE u.execution_id = e.id AND u.scope = 'execution')
GROUP BY e.pipeline, t.status
"""
#: Each finished action attempt and stage run: its first InProgress to its last terminal status,
#: stages and actions in one pass over the transitions (a stage's rows have action NULL).
_SPANS = """
SELECT s.scope, e.pipeline, s.stage, s.action, COUNT(*), SUM(s.ended - s.started) FROM (
    SELECT execution_id, scope, stage, action, attempt,
           MIN(CASE WHEN status = 'InProgress' THEN at END) AS started,
           MAX(CASE WHEN status IN ({terminal}) THEN at END) AS ended
    FROM transitions WHERE scope IN ('stage', 'action')
    GROUP BY execution_id, scope, stage, action, attempt) s
JOIN executions e ON e.id = s.execution_id
WHERE s.started IS NOT NULL AND s.ended IS NOT NULL AND s.ended >= s.started
GROUP BY s.scope, e.pipeline, s.stage, s.action
ORDER BY s.scope, e.pipeline, s.stage, s.action
"""


def _pipelines(src: Sources) -> list[Family]:
    with src.read("conveyor.db") as db:
        if db is None:
            return []
        pipelines = Family("conveyor_pipelines", "gauge", "Pipelines registered with the daemon.")
        pipelines.add(db.execute("SELECT COUNT(*) FROM pipelines").fetchone()[0])
        started = Family("conveyor_executions_started_total", "counter", "Executions started, per pipeline.")
        for pipeline, n in db.execute("SELECT pipeline, COUNT(*) FROM executions GROUP BY pipeline ORDER BY pipeline"):
            started.add(n, pipeline=pipeline)
        by_status = Family("conveyor_executions", "gauge",
                           "Executions per pipeline in each status now (status InProgress: running now).")
        rows = db.execute(_EXECUTION_STATUS).fetchall()
        for pipeline in sorted({r[0] for r in rows}):
            counts = {status: n for p, status, n in rows if p == pipeline}
            for status in S.EXECUTION_STATUSES:
                by_status.add(counts.get(status, 0), pipeline=pipeline, status=status)
        terminal = ", ".join(f"'{s}'" for s in (S.SUCCEEDED, S.FAILED, S.STOPPED, S.CANCELLED, S.ABANDONED))
        actions = Family("conveyor_action_duration_seconds", "summary",
                         "Time of finished action attempts, from InProgress to their outcome.")
        stages = Family("conveyor_stage_duration_seconds", "summary",
                        "Time of finished stage runs, from InProgress to their outcome (a retry counts as "
                        "one run from its first start).")
        for scope, pipeline, stage, action, n, total in db.execute(_SPANS.format(terminal=terminal)):
            labels = {"pipeline": pipeline, "stage": stage, **({"action": action} if scope == "action" else {})}
            family = actions if scope == "action" else stages
            family.add(n, "_count", **labels)
            family.add(total, "_sum", **labels)
        return [pipelines, started, by_status, stages, actions]


def _deployments(src: Sources) -> list[Family]:
    deployments = Family("conveyor_deployments", "gauge",
                         "Deployments known to the local backend, per service and status (ECS: rollout state).")
    weights = Family("conveyor_deployment_traffic_weight", "gauge",
                     "Percent of production traffic per target group of a blue/green service's latest deployment.")
    with src.read("services.db") as db:
        if db is not None:
            for env, service, state, n in db.execute(
                    "SELECT environment, service, rollout_state, COUNT(*) FROM deployments "
                    "GROUP BY environment, service, rollout_state ORDER BY 1, 2, 3"):
                deployments.add(n, controller="ECS", environment=env, service=service, status=state)
    with src.read("codedeploy.db") as db:
        if db is not None:
            for env, service, status, n in db.execute(
                    "SELECT environment, service, status, COUNT(*) FROM cd_deployments "
                    "GROUP BY environment, service, status ORDER BY 1, 2, 3"):
                deployments.add(n, controller="CODE_DEPLOY", environment=env, service=service, status=status)
            for env, service, original, replacement, traffic in db.execute(
                    "SELECT environment, service, original_tg, replacement_tg, traffic FROM cd_deployments d "
                    "WHERE seq = (SELECT MAX(seq) FROM cd_deployments u WHERE u.environment = d.environment "
                    "AND u.service = d.service AND u.appspec != '') ORDER BY 1, 2"):
                if replacement:
                    weights.add(traffic, environment=env, service=service, target_group=replacement,
                                role="replacement")
                if original:
                    weights.add(100 - traffic, environment=env, service=service, target_group=original,
                                role="original")
    return [deployments, weights]


def _metrics_store(src: Sources) -> list[Family]:
    with src.read("metrics.db") as db:
        if db is None:
            return []
        alarms = Family("conveyor_alarm_state", "gauge",
                        "1 for the state each alarm is in (OK, ALARM or INSUFFICIENT_DATA), 0 for the other two.")
        for key, state in db.execute("SELECT key, state FROM alarms ORDER BY key"):
            env, _, rest = key.partition("/")
            service, _, name = rest.partition("/")
            for candidate in ALARM_STATES:
                alarms.add(1 if state == candidate else 0, environment=env, service=service, alarm=name,
                           state=candidate)
        now = int(src.clock())
        since, until = now - WINDOW_SECONDS, now  # complete seconds only: the current one is still being counted
        rows = db.execute(
            "SELECT s.scope, s.metric, COUNT(d.ts), SUM(d.value), MAX(d.ts) FROM series s "
            "JOIN datapoints d ON d.series = s.id WHERE s.scope LIKE 'tg:%' AND d.ts >= ? AND d.ts < ? "
            "GROUP BY s.scope, s.metric ORDER BY s.scope, s.metric", (since, until)).fetchall()
        latest = {(scope, metric): value for scope, metric, value in db.execute(
            "SELECT s.scope, s.metric, d.value FROM series s JOIN datapoints d ON d.series = s.id "
            "WHERE s.scope LIKE 'tg:%' AND s.metric IN ('HealthyHostCount', 'UnHealthyHostCount') "
            "AND d.ts = (SELECT MAX(ts) FROM datapoints WHERE series = s.id AND ts >= ? AND ts < ?)",
            (since, until))}
    families: dict[str, Family] = {
        "conveyor_target_group_requests_per_second": Family(
            "conveyor_target_group_requests_per_second", "gauge",
            f"Requests per second to a target group, averaged over the last {WINDOW_SECONDS} complete seconds."),
        "conveyor_target_group_responses_per_second": Family(
            "conveyor_target_group_responses_per_second", "gauge",
            f"Target responses per second by status class, over the last {WINDOW_SECONDS} s."),
        "conveyor_target_group_errors_per_second": Family(
            "conveyor_target_group_errors_per_second", "gauge",
            f"Errors per second the load balancer counted (its own 5xx, failed connections to targets), "
            f"over the last {WINDOW_SECONDS} s."),
        "conveyor_target_group_response_time_seconds": Family(
            "conveyor_target_group_response_time_seconds", "gauge",
            f"Mean of the per-second average target response time over the seconds with traffic in the last "
            f"{WINDOW_SECONDS} s."),
        "conveyor_target_group_healthy_hosts": Family(
            "conveyor_target_group_healthy_hosts", "gauge", "Healthy targets, latest sample of the window."),
        "conveyor_target_group_unhealthy_hosts": Family(
            "conveyor_target_group_unhealthy_hosts", "gauge", "Unhealthy targets, latest sample of the window."),
    }
    for scope, metric, n, total, _ in rows:
        tg = scope.removeprefix("tg:")
        if metric in TG_COUNTS:
            name, label, value = TG_COUNTS[metric]
            extra = {label: value} if label != "all" else {}
            families[name].add(total / WINDOW_SECONDS, target_group=tg, **extra)
        elif metric == "TargetResponseTime" and n:
            families["conveyor_target_group_response_time_seconds"].add(total / n, target_group=tg)
    for (scope, metric), value in sorted(latest.items()):
        name = ("conveyor_target_group_healthy_hosts" if metric == "HealthyHostCount"
                else "conveyor_target_group_unhealthy_hosts")
        families[name].add(value, target_group=scope.removeprefix("tg:"))
    return [alarms, *families.values()]


def _events_and_notifications(src: Sources) -> list[Family]:
    out = []
    if src.last_event_seq is not None:
        seq = Family("conveyor_events_last_seq", "gauge", "Sequence number of the newest event in the event log.")
        seq.add(src.last_event_seq())
        out.append(seq)
    if src.delivery_counts is not None:
        deliveries = Family("conveyor_notification_deliveries", "gauge",
                            "Notification deliveries by state (pending, delivered, dead).")
        for state, n in sorted(src.delivery_counts().items()):
            deliveries.add(n, state=state)
        out.append(deliveries)
    return out


# --- the endpoint --------------------------------------------------------------------------------

class MetricsEndpoint:
    """GET/HEAD /metrics for the ASGI app: the token first, then the scrape in a worker thread
    (SQLite blocks), masked."""

    def __init__(self, authorized: Callable[[str | None], bool], sources: Sources,
                 mask: Callable[[str], str] = lambda text: text):
        self.authorized = authorized
        self.sources = sources
        self.mask = mask

    @classmethod
    def of(cls, api: Any) -> MetricsEndpoint:
        """The endpoint over a conveyor.server.api.Api's parts, as the daemon builds them."""
        from conveyor.secrets.masking import default_masker
        from conveyor.server.api import process_stats

        notifier = getattr(api, "notifier", None)
        store = getattr(notifier, "store", None)
        return cls(api.authorized, Sources(
            home=getattr(api.service, "home", None), process=process_stats, loops=api.loops,
            last_event_seq=api.events.last_seq if api.events is not None else None,
            delivery_counts=store.counts if store is not None else None), mask=lambda t: default_masker().mask(t))

    def text(self) -> str:
        return self.mask(render(collect(self.sources)))

    async def __call__(self, request: Request) -> Response:
        import anyio

        from conveyor.server.api import _error, unauthorized

        if request.method not in ("GET", "HEAD"):
            return _plain_json(405, _error("MethodNotAllowed", "/metrics is read with GET", None), {"Allow": "GET"})
        if not self.authorized(request.headers.get("authorization")):
            return _plain_json(401, unauthorized(), {"WWW-Authenticate": 'Bearer realm="conveyor"'})
        body = await anyio.to_thread.run_sync(self.text)
        return Response(body.encode(), media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})


def _plain_json(status: int, payload: Any, headers: dict[str, str]) -> Response:
    import json

    return Response(json.dumps(payload).encode(), status_code=status, media_type="application/json",
                    headers=headers)
