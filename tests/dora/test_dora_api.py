"""GET /api/v1/dora over a real event stream and a real engine store: what it reads (production
environments, commit times from the executions' Git sources, trigger times), the answer's schema,
the filters, and bad input refused with 400."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from dora_history import D, H, History

from conveyor.backend.fake import FakeBackend
from conveyor.dora.history import DoraHistory
from conveyor.events.stream import EventLog
from conveyor.release.service import ReleaseService
from conveyor.release.store import ReleaseStore
from conveyor.server.api import Api
from conveyor.server.dora_routes import REPORT
from conveyor.server.schema import problems
from conveyor.store.db import ExecutionRow, Store, Transition

NOW = 1_800_000_000.0


def definition(**environments) -> dict:
    return {"name": "orders", "environments": environments,
            "pipeline": {"stages": [{"name": "Source", "actions": [
                {"name": "Source", "provider": "Git", "outputArtifacts": ["src"]}]}]}}


class Home:
    def __init__(self, tmp_path):
        self.log = EventLog(tmp_path / "events.db")
        self.store = Store(tmp_path / "conveyor.db")
        self.store.register_pipeline("orders", str(tmp_path / "repo"), "conveyor.yml", 15)

    def execution(self, eid: str, created: float, committed: float | None, **environments) -> None:
        self.store.create_execution(
            ExecutionRow(eid, 0, "orders", created, {"type": "GitPush"}, {}, {}, definition(**environments)),
            Transition(eid, "execution", "InProgress", at=created))
        if committed is not None:
            iso = datetime.fromtimestamp(committed, timezone(timedelta(hours=-4)))  # git %cI: the committer's offset
            self.store.append(Transition(eid, "action", "Succeeded", stage="Source", action="Source", attempt=1,
                                         detail={"variables": {"CommitterDate": iso.isoformat()}}, at=created + 5))

    def history(self, h: History) -> None:
        self.log.take("test", [(e.seq, e) for e in h.events])


@pytest.fixture
def home(tmp_path):
    return Home(tmp_path)


def scenario(home: Home, base: float) -> None:
    """Production (`live` by its flag, `prod` by its name) and staging: staging does not count,
    a by-hand deployment has no pipeline and no commit."""
    home.execution("e1", base - 60, base - 1800, live={"production": True}, staging={})
    home.execution("e2", base + D - 60, base + D - 600, live={"production": True}, staging={})
    h = History()
    h.deployed("S1", base - 30, base + 60, env="staging", execution="e1")
    h.deployed("L1", base, base + 600, env="live", execution="e1")
    h.deployed("L2", base + D, base + D + 300, env="live", execution="e2")
    h.add("deployment-started", base + 2 * D, "P1", env="prod", service="web", pipeline=None)
    h.add("deployment-failed", base + 2 * D + 100, "P1", env="prod", service="web", pipeline=None)
    h.deployed("P2", base + 2 * D + 1000, base + 2 * D + 1600, env="prod", service="web", pipeline=None)
    home.history(h)


def test_the_report_reads_production_commits_and_groups(home):
    scenario(home, NOW - 5 * D)
    report = DoraHistory(home.store, home.log, clock=lambda: NOW).report(days=7)
    assert problems(REPORT, report) == []
    assert report["window"] == {"days": 7, "start": NOW - 7 * D, "end": NOW}
    assert report["environments"] == ["live", "prod"]
    s = report["summary"]
    # L1, L2, P1 (failed), P2 finished; L1, L2, P2 succeeded.
    assert s["deployments"] == {"succeeded": 3, "finished": 4, "failed": 1}
    # L1: commit 1800 s before the base, success at +600 -> 2400 s; L2: 600 + 300 = 900 s; P2 has no commit.
    assert (s["leadTime"]["medianSeconds"], s["leadTime"]["p90Seconds"], s["leadTime"]["unknown"]) == (
        1650.0, 2400.0, 1)
    # P1 failed at +100, P2 succeeded at +1600: restored in 1500 s.
    assert s["timeToRestore"]["medianSeconds"] == 1500.0
    assert [g["pipeline"] for g in report["pipelines"]] == ["orders"]
    assert report["pipelines"][0]["metrics"]["deployments"]["succeeded"] == 2
    assert [(g["environment"], g["service"]) for g in report["services"]] == [("live", "orders"), ("prod", "web")]
    assert report["services"][1]["metrics"]["changeFailureRate"]["rate"] == 0.5


def test_filters_and_an_environment_asked_for_by_name(home):
    scenario(home, NOW - 5 * D)
    history = DoraHistory(home.store, home.log, clock=lambda: NOW)
    assert history.report(days=7, service="web")["summary"]["deployments"]["finished"] == 2
    assert history.report(days=7, pipeline="orders")["summary"]["deployments"]["finished"] == 2
    assert history.report(days=7, pipeline="nope")["summary"]["deployments"]["finished"] == 0
    staging = history.report(days=7, environment="staging")
    assert staging["environments"] == ["staging"] and staging["summary"]["deployments"]["succeeded"] == 1
    # a window of one day before everything happened
    assert DoraHistory(home.store, home.log, clock=lambda: NOW - 5 * D).report(days=1)["summary"][
        "deployments"]["finished"] == 0


def test_a_flag_false_takes_an_environment_named_prod_out(home):
    home.execution("e9", NOW - 3 * D, None, prod={"production": False})
    h = History().deployed("P", NOW - 2 * D, NOW - 2 * D + 10, env="prod", execution="e9")
    home.history(h)
    assert DoraHistory(home.store, home.log, clock=lambda: NOW).report(days=7)["environments"] == []


@pytest.fixture
def api(home):
    releases = ReleaseService({"local": FakeBackend().backend}, ReleaseStore(":memory:"))
    return Api(SimpleNamespace(store=home.store), releases, "tok", events=home.log)  # type: ignore[arg-type]


def test_the_route_answers_the_schema(api, home):
    import time

    scenario(home, time.time() - 3 * D)
    status, body = api.handle("GET", "/api/v1/dora", {"days": "7", "service": "web"}, {}, "Bearer tok")
    assert status == 200, body
    assert problems(REPORT, body) == []
    assert body["filters"] == {"pipeline": None, "service": "web", "environment": None}
    assert body["summary"]["deployments"] == {"succeeded": 1, "finished": 2, "failed": 1}
    assert len(body["summary"]["daily"]) == 7
    status, body = api.handle("GET", "/api/v1/dora", {}, {}, "Bearer tok")
    assert (status, body["window"]["days"]) == (200, 30)


@pytest.mark.parametrize("query, message", [
    ({"days": "0"}, "query.days"),
    ({"days": "366"}, "query.days"),
    ({"days": "week"}, "query.days: expected integer"),
    ({"pipeline": "x" * 201}, "query.pipeline"),
])
def test_bad_input_is_400(api, query, message):
    status, body = api.handle("GET", "/api/v1/dora", query, {}, "Bearer tok")
    assert status == 400 and body["error"]["type"] == "BadRequest"
    assert message in body["error"]["message"]


def test_no_token_no_metrics(api):
    assert api.handle("GET", "/api/v1/dora", {}, {}, None)[0] == 401


def test_an_api_without_an_engine_store_counts_by_name(tmp_path):
    log = EventLog(tmp_path / "events.db")
    import time

    log.take("test", [(e.seq, e) for e in History().deployed("A", time.time() - H, time.time() - H + 5).events])
    releases = ReleaseService({"local": FakeBackend().backend}, ReleaseStore(":memory:"))
    status, body = Api(None, releases, "tok", events=log).handle(  # type: ignore[arg-type]
        "GET", "/api/v1/dora", {"days": "7"}, {}, "Bearer tok")
    assert status == 200 and body["summary"]["deployments"]["succeeded"] == 1
    assert body["summary"]["leadTime"]["unknown"] == 1
