from __future__ import annotations

import pytest

from conveyor.engine.service import Service


@pytest.fixture
def svc(tmp_path):
    """A live service on a fresh data dir, scheduler running, no polling."""
    service = Service(tmp_path / "home")
    service.start(polling=False)
    yield service
    service.shutdown()
