"""POST /api/v1/images/lifecycle: the daemon's lifecycle run through the API (what `conveyor
image lifecycle` calls), its body checked, and a clear error when no registry runs."""

from __future__ import annotations

from conveyor.backend.fake import FakeBackend
from conveyor.engine.service import Service
from conveyor.release.service import ReleaseService
from conveyor.release.store import ReleaseStore
from conveyor.server.api import Api

TOKEN = "t"


def make_api(tmp_path):
    service = Service(tmp_path / "home")
    return Api(service, ReleaseService({"local": FakeBackend().backend}, ReleaseStore(tmp_path / "r.db")), TOKEN)


def test_route_calls_the_lifecycle_run(tmp_path):
    api = make_api(tmp_path)
    calls = []
    api.lifecycle = lambda repository, dry_run: calls.append((repository, dry_run)) or {"dryRun": dry_run}
    status, body = api.handle("POST", "/api/v1/images/lifecycle", {}, {"repository": "orders", "dryRun": True},
                              f"Bearer {TOKEN}")
    assert (status, body, calls) == (200, {"dryRun": True}, [("orders", True)])
    status, _ = api.handle("POST", "/api/v1/images/lifecycle", {}, {"dryRun": "yes"}, f"Bearer {TOKEN}")
    assert status == 400
    assert api.handle("POST", "/api/v1/images/lifecycle", {}, {}, None)[0] == 401


def test_route_without_a_registry_says_how_to_get_one(tmp_path):
    status, body = make_api(tmp_path).handle("POST", "/api/v1/images/lifecycle", {}, {}, f"Bearer {TOKEN}")
    assert status >= 400 and "no local registry is running" in str(body)
