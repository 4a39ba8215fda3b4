"""The OpenAPI document describes every route the API serves, and the app, fuzzed against it
in-process (schemathesis: valid and invalid bodies, parameters and queries for every
operation), never answers a 5xx and never breaks its own document."""

from __future__ import annotations

import re

import httpx
import pytest
import schemathesis
from api_support import TOKEN
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from conveyor.server.api import Route


def fetch_document(app) -> dict:
    transport = httpx.ASGITransport(app=app)

    async def get() -> dict:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            response = await client.get("/api/v1/openapi.json")
            assert response.status_code == 200
            return response.json()

    import anyio

    return anyio.run(get)


def test_every_route_is_in_the_document_with_its_parameters_and_body(real_api, asgi_app):
    doc = fetch_document(asgi_app)
    assert doc["openapi"].startswith("3.1")
    served = {(r.template, r.method.lower()) for r in real_api.routes}
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert served <= documented
    assert documented - served == {("/api/v1/openapi.json", "get")}
    for route in real_api.routes:
        op = doc["paths"][route.template][route.method.lower()]
        names = {p["name"] for p in op.get("parameters", [])}
        assert set(re.findall(r"{(\w+)}", route.template)) | set(route.query) == names, route.template
        assert ("requestBody" in op) == (route.method == "POST"), route.template
        assert op.get("security") == ([] if route.public else None), route.template


def test_a_route_template_is_its_pattern_with_named_parameters():
    import re as _re

    route = Route("GET", _re.compile(r"/api/v1/executions/(?P<id>[^/]+)/logs/(?P<stage>[^/]+)/(?P<attempt>\d+)$"),
                  lambda q, b: None)
    assert route.template == "/api/v1/executions/{id}/logs/{stage}/{attempt}"
    assert route.params() == {"id": {"type": "string"}, "stage": {"type": "string"}, "attempt": {"type": "integer"}}


@pytest.fixture
def api_schema(asgi_app):
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", asgi_app)


# The text/event-stream routes (the dashboard's live streams) are left out: they answer for as long
# as the client listens, and the in-process client reads an answer whole before checking it.
# tests/server/test_dashboard_streams.py covers them over a socket.
schema = schemathesis.pytest.from_fixture("api_schema").exclude(path_regex=r".*/stream$")


@schema.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_fuzzed_requests_never_get_a_server_error(case):
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"},
                           checks=[not_a_server_error, status_code_conformance, content_type_conformance])
