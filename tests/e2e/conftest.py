"""Scenarios through the real daemon (a separate process) and the real CLI, on 127.0.0.1."""

from __future__ import annotations

import pytest
from e2e_support import Conveyor, free_port


@pytest.fixture
def conveyor(tmp_path):
    c = Conveyor(tmp_path / "home", free_port())
    yield c
    c("down", "--all", check=False)  # the data plane outlives the daemon: take it down too


@pytest.fixture
def daemon(conveyor):
    conveyor("up")
    return conveyor
