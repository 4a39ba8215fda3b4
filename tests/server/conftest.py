"""The API as the daemon builds it: the real engine Service and release service on a temporary
data directory (the backend is the in-memory one), served in-process or by uvicorn on a socket."""

from __future__ import annotations

import pytest
from api_support import SHORT, TOKEN

from conveyor.backend.fake import FakeBackend
from conveyor.engine.service import Service
from conveyor.events.stream import EventLog
from conveyor.hostcheck import allowed_hosts
from conveyor.release.service import ReleaseService
from conveyor.release.store import ReleaseStore
from conveyor.server.api import Api
from conveyor.server.asgi import create_app
from conveyor.server.dashboard import Dashboard
from conveyor.server.notifications import daemon_notifier
from conveyor.server.serve import ApiServer


@pytest.fixture
def real_api(tmp_path):
    service = Service(tmp_path / "home")
    store = ReleaseStore(tmp_path / "releases.db")
    events = EventLog(tmp_path / "home" / "events.db")
    # A fuzzed `wait` must not hold the suite for 30 s: the cap is the daemon's only difference.
    notifier = daemon_notifier(tmp_path / "home", service.store, events, service.secrets)  # not started
    yield Api(service, ReleaseService({"local": FakeBackend().backend}, store), TOKEN, events=events,
              event_wait_limit=0.05, notifier=notifier)
    notifier.store.close()
    events.close()
    store.close()
    service.store.close()


@pytest.fixture
def dashboard(real_api, tmp_path):
    """The daemon's dashboard on the API (its routes join the API's: links and the live streams)."""
    board = Dashboard(tmp_path / "home" / "dashboard.db", real_api, base_url="http://127.0.0.1:7878")
    yield board
    board.shutdown()
    board.close()


@pytest.fixture
def asgi_app(real_api, dashboard):
    """In-process; "testserver" is the Host schemathesis's ASGI client sends."""
    return create_app(real_api, allowed_hosts("127.0.0.1", ["ci.example.internal", "testserver"]),
                      dashboard=dashboard)


@pytest.fixture
def served(real_api, dashboard):
    """The app behind uvicorn on 127.0.0.1, with SHORT limits: (host, port)."""
    server = ApiServer(create_app(real_api, allowed_hosts("127.0.0.1", ["ci.example.internal"]), SHORT,
                                  dashboard=dashboard), "127.0.0.1", 0, SHORT)
    server.start()
    yield server.address
    dashboard.shutdown()
    server.stop()
