"""Fixtures: `apps` makes StatusApp targets (stopped afterwards); `lb` is a LoadBalancer in a
temporary directory whose HAProxy is always stopped at the end; `store` a MetricStore."""

from __future__ import annotations

import pytest
from metrics_support import StatusApp

from conveyor.lb import LoadBalancer
from conveyor.metrics.store import MetricStore


@pytest.fixture
def apps():
    started: list[StatusApp] = []

    def make(status: int = 200) -> StatusApp:
        app = StatusApp(status)
        started.append(app)
        return app

    yield make
    for app in started:
        app.stop()


@pytest.fixture
def lb(tmp_path):
    balancer = LoadBalancer(tmp_path / "lb", "production")
    yield balancer
    balancer.stop()


@pytest.fixture
def store(tmp_path):
    metrics = MetricStore(tmp_path / "metrics.db")
    yield metrics
    metrics.close()
