"""Fixtures: `apps` makes App targets (stopped afterwards), `lb` is a LoadBalancer in a
temporary directory whose HAProxy is always stopped at the end."""

from __future__ import annotations

import pytest
from lb_support import App

from conveyor.lb import LoadBalancer


@pytest.fixture
def apps():
    started: list[App] = []

    def make(name: str, port: int = 0, health: int = 200) -> App:
        app = App(name, port, health)
        started.append(app)
        return app

    yield make
    for app in started:
        app.stop()


@pytest.fixture
def lb(tmp_path):
    balancer = LoadBalancer(tmp_path / "lb", "test")
    yield balancer
    balancer.stop()
