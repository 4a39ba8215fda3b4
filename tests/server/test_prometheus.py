"""GET /metrics: the text format read back by prometheus_client's own parser, the values against
stores written through their real classes (a fake clock for the per-second window), and the
token required as on the API."""

from __future__ import annotations

import sqlite3

import httpx
import pytest
from api_support import TOKEN
from prometheus_client.parser import text_string_to_metric_families

from conveyor.hostcheck import allowed_hosts
from conveyor.metrics.store import Datapoint, MetricStore
from conveyor.providers.local.codedeploy.store import SCHEMA as CD_SCHEMA
from conveyor.providers.local.ecs.rows import SCHEMA as ECS_SCHEMA
from conveyor.server.asgi import create_app
from conveyor.server.prometheus import Family, Sources, collect, render
from conveyor.store.db import ExecutionRow, Store, Transition

NOW = 1_700_000_100


def parsed(text: str) -> dict[str, dict[tuple, float]]:
    """{sample name: {sorted label items: value}}, through prometheus_client's parser (which
    raises on anything the format does not allow)."""
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def value(samples: dict, name: str, **labels: str) -> float:
    return samples[name][tuple(sorted(labels.items()))]


def test_label_values_with_quotes_backslashes_and_newlines_parse_back_unchanged():
    family = Family("conveyor_test", "gauge", 'help with "quotes", a \\ and\na newline')
    nasty = 'a"b\\c\nd}e,f="g'
    family.add(2.5, pipeline=nasty, other="plain")
    family.add(float("inf"), pipeline="inf")
    text = render([family])
    assert "# TYPE conveyor_test gauge" in text
    [back] = list(text_string_to_metric_families(text))
    assert back.documentation == 'help with "quotes", a \\ and\na newline'
    assert back.samples[0].labels == {"pipeline": nasty, "other": "plain"} and back.samples[0].value == 2.5
    assert back.samples[1].value == float("inf")


def execution(store: Store, ex_id: str, pipeline: str, spans: list[tuple]) -> None:
    """An execution with its transitions: (scope, stage, action, attempt, status, at)."""
    store.create_execution(ExecutionRow(ex_id, 0, pipeline, 1000.0, {}, {}, {}, {}),
                           Transition(ex_id, "execution", "InProgress", at=1000.0))
    for scope, stage, action, attempt, status, at in spans:
        store.append(Transition(ex_id, scope, status, stage=stage, action=action, attempt=attempt, at=at))


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    store = Store(home / "conveyor.db")
    store.register_pipeline("orders", "/srv/orders.git", "conveyor.yml", 15)
    store.register_pipeline('we"ird', "/srv/weird.git", "conveyor.yml", 15)
    execution(store, "ex-1", "orders", [
        ("stage", "Build", None, 0, "InProgress", 1001.0),
        ("action", "Build", "Compile", 1, "InProgress", 1001.0),
        ("action", "Build", "Compile", 1, "Failed", 1004.0),
        ("stage", "Build", None, 0, "Failed", 1004.0),
        ("execution", None, None, 0, "Failed", 1004.0),
        ("execution", None, None, 0, "InProgress", 1010.0),  # retried
        ("stage", "Build", None, 0, "InProgress", 1010.0),
        ("action", "Build", "Compile", 2, "InProgress", 1010.0),
        ("action", "Build", "Compile", 2, "Succeeded", 1012.0),
        ("stage", "Build", None, 0, "Succeeded", 1012.0),
        ("execution", None, None, 0, "Succeeded", 1012.0)])
    execution(store, "ex-2", "orders", [
        ("stage", "Build", None, 0, "InProgress", 1020.0),
        ("action", "Build", "Compile", 1, "InProgress", 1020.0)])
    execution(store, "ex-3", 'we"ird', [("execution", None, None, 0, "Failed", 1001.0)])
    store.close()

    metrics = MetricStore(home / "metrics.db")
    tg = "tg:production-orders-2"
    metrics.put([Datapoint(NOW - 1, tg, "RequestCount", 60.0), Datapoint(NOW - 30, tg, "RequestCount", 60.0),
                 Datapoint(NOW, tg, "RequestCount", 1000.0),  # the current second: not complete, not counted
                 Datapoint(NOW - 61, tg, "RequestCount", 1000.0),  # before the window
                 Datapoint(NOW - 1, tg, "HTTPCode_Target_5XX_Count", 6.0),
                 Datapoint(NOW - 1, tg, "TargetConnectionErrorCount", 3.0),
                 Datapoint(NOW - 1, tg, "TargetResponseTime", 0.010),
                 Datapoint(NOW - 2, tg, "TargetResponseTime", 0.030),
                 Datapoint(NOW - 5, tg, "HealthyHostCount", 1.0), Datapoint(NOW - 2, tg, "HealthyHostCount", 2.0)])
    metrics.set_alarm_state("production/orders/errors", "ALARM", "3 > 1", {}, NOW - 10)
    metrics.set_alarm_state("production/orders/latency", "OK", "fine", {}, NOW - 10)
    metrics.close()

    with sqlite3.connect(home / "codedeploy.db") as db:
        db.executescript(CD_SCHEMA)
        for seq, status, traffic in ((1, "Succeeded", 100), (2, "InProgress", 25)):
            db.execute("INSERT INTO cd_deployments (id, seq, environment, service, taskdef, appspec, status, phase, "
                       "creator, original_tg, replacement_tg, traffic, created_at, updated_at) "
                       "VALUES (?, ?, 'production', 'orders', 'orders:1', 'x', ?, 'Traffic', 'user', "
                       "'production-orders-1', 'production-orders-2', ?, 0, 0)", (f"d-{seq}", seq, status, traffic))
    with sqlite3.connect(home / "services.db") as db:
        db.executescript(ECS_SCHEMA)
        for n, state in enumerate(("COMPLETED", "COMPLETED", "IN_PROGRESS")):
            db.execute("INSERT INTO deployments (id, seq, environment, service, taskdef, status, rollout_state, "
                       "created_at, updated_at) VALUES (?, ?, 'staging', 'orders', 'orders:1', 'PRIMARY', ?, 0, 0)",
                       (f"ecs-{n}", n, state))
    return home


class Timer:
    def summary(self) -> dict:
        return {"passes": 7, "p50": 0.001, "p95": 0.004, "max": 0.02, "last": 0.001}


def test_every_family_parses_and_matches_the_stores(home):
    src = Sources(home, process=lambda: {"pid": 1, "rssBytes": 1234, "cpuSeconds": 1.5, "threads": 9},
                  loops={"deploys": Timer()}, last_event_seq=lambda: 42,
                  delivery_counts=lambda: {"pending": 1, "delivered": 5, "dead": 0}, clock=lambda: NOW + 0.5)
    s = parsed(render(collect(src)))

    assert value(s, "conveyor_pipelines") == 2
    assert value(s, "conveyor_executions_started_total", pipeline="orders") == 2
    assert value(s, "conveyor_executions_started_total", pipeline='we"ird') == 1
    assert value(s, "conveyor_executions", pipeline="orders", status="Succeeded") == 1
    assert value(s, "conveyor_executions", pipeline="orders", status="InProgress") == 1
    assert value(s, "conveyor_executions", pipeline="orders", status="Failed") == 0  # it was, then retried
    assert value(s, "conveyor_executions", pipeline='we"ird', status="Failed") == 1
    # two finished attempts of Compile (3 s and 2 s); the running one is not counted
    assert value(s, "conveyor_action_duration_seconds_count", pipeline="orders", stage="Build", action="Compile") == 2
    assert value(s, "conveyor_action_duration_seconds_sum", pipeline="orders", stage="Build", action="Compile") == 5
    assert value(s, "conveyor_stage_duration_seconds_count", pipeline="orders", stage="Build") == 1
    assert value(s, "conveyor_stage_duration_seconds_sum", pipeline="orders", stage="Build") == 11

    assert value(s, "conveyor_deployments", controller="CODE_DEPLOY", environment="production", service="orders",
                 status="InProgress") == 1
    assert value(s, "conveyor_deployments", controller="ECS", environment="staging", service="orders",
                 status="COMPLETED") == 2
    assert value(s, "conveyor_deployment_traffic_weight", environment="production", service="orders",
                 target_group="production-orders-2", role="replacement") == 25
    assert value(s, "conveyor_deployment_traffic_weight", environment="production", service="orders",
                 target_group="production-orders-1", role="original") == 75

    assert value(s, "conveyor_alarm_state", environment="production", service="orders", alarm="errors",
                 state="ALARM") == 1
    assert value(s, "conveyor_alarm_state", environment="production", service="orders", alarm="errors",
                 state="OK") == 0
    assert value(s, "conveyor_alarm_state", environment="production", service="orders", alarm="latency",
                 state="OK") == 1

    tg = "production-orders-2"
    assert value(s, "conveyor_target_group_requests_per_second", target_group=tg) == 2.0  # 120 in 60 s
    assert value(s, "conveyor_target_group_responses_per_second", target_group=tg, code="5xx") == 0.1
    assert value(s, "conveyor_target_group_errors_per_second", target_group=tg, cause="connection") == 0.05
    assert value(s, "conveyor_target_group_response_time_seconds", target_group=tg) == pytest.approx(0.02)
    assert value(s, "conveyor_target_group_healthy_hosts", target_group=tg) == 2

    assert value(s, "conveyor_process_resident_memory_bytes") == 1234
    assert value(s, "conveyor_process_cpu_seconds_total") == 1.5
    assert value(s, "conveyor_loop_passes_total", loop="deploys") == 7
    assert value(s, "conveyor_loop_pass_seconds", loop="deploys", quantile="p95") == 0.004
    assert value(s, "conveyor_events_last_seq") == 42
    assert value(s, "conveyor_notification_deliveries", state="delivered") == 5


def test_an_empty_data_directory_gives_only_what_exists(tmp_path):
    text = render(collect(Sources(tmp_path)))
    names = {f.name for f in text_string_to_metric_families(text)}
    assert "conveyor_build_info" in names
    assert "conveyor_executions" not in names
    assert not list(tmp_path.iterdir())  # a read-only scrape creates no database


@pytest.fixture
def client(asgi_app):
    transport = httpx.ASGITransport(app=asgi_app)
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")


@pytest.mark.anyio
async def test_metrics_needs_the_token(client):
    async with client:
        refused = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        ok = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        posted = await client.post("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert refused.status_code == wrong.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert "conveyor_" not in refused.text
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "conveyor_events_last_seq" in parsed(ok.text)
    assert "conveyor_notification_deliveries" in parsed(ok.text)
    assert posted.status_code == 405


@pytest.fixture
def anyio_backend():
    return "asyncio"


def test_create_app_keeps_the_host_check_in_front(real_api):
    import asyncio

    app = create_app(real_api, allowed_hosts("127.0.0.1", []))

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://evil.example") as c:
            return await c.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert asyncio.run(go()).status_code == 421


def test_docs_metrics_md_lists_every_family(home):
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text()
    src = Sources(home, process=lambda: {"rssBytes": 1, "cpuSeconds": 1, "threads": 1}, loops={"deploys": Timer()},
                  last_event_seq=lambda: 1, delivery_counts=lambda: {"pending": 0}, clock=lambda: NOW)
    names = {f.name for f in collect(src)}
    assert len(names) == 22  # every family, the fixture has data for all
    assert [n for n in sorted(names) if f"`{n}`" not in doc] == []
