"""Suite-wide: the `needs_stack` mark of tests/stack_support.py (skip locally, fail in CI)."""

from __future__ import annotations

import pytest
from stack_support import stack_missing


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_stack(missing, reason): needs a part of the local stack; skipped "
                                       "when missing, failed when missing and CI=true")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("needs_stack"):
        if mark.kwargs["missing"]:
            stack_missing(mark.kwargs["reason"])
