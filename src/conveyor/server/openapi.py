"""The OpenAPI 3.1 document of the API, made from the route table itself (so no route can be
served undocumented): each operation's path parameters, query parameters, JSON body and its
answers, the error shape every refusal shares, and the bearer token it needs.
Served at GET /api/v1/openapi.json; the test suite fuzzes the app against it (schemathesis)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from conveyor import __version__
from conveyor.server.api import Route
from conveyor.server.schema import STR, obj

ERROR = obj({"error": obj({"type": STR, "message": STR, "hint": {"type": ["string", "null"]}},
                          ("type", "message"))}, ("error",))

REFUSALS = {
    "400": "malformed request: JSON, Content-Length, a value of the wrong type, or refused by the service",
    "401": "missing or wrong bearer token",
    "404": "no such resource",
    "405": "method not allowed on this path",
    "408": "the body did not arrive in time",
    "409": "conflicts with the current state",
    "411": "a body without Content-Length",
    "413": "the body is larger than the limit",
    "421": "the Host header names a site this daemon does not answer for",
    "422": "the operation was tried and failed; the message says why (e.g. a repository that cannot be read)",
    "431": "the request headers are larger than the limit",
    "500": "a bug in Conveyor (see the daemon log)",
}


def document(routes: Iterable[Route]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.template, {})[route.method.lower()] = _operation(route)
    paths["/api/v1/openapi.json"] = {"get": {
        "operationId": "openapi", "summary": "this document", "security": [],
        "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {
            "type": "object"}}}}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Conveyor daemon API", "version": __version__,
                 "description": "JSON over HTTP; every route but health and this document needs "
                                "`Authorization: Bearer TOKEN` (the token file in the data directory)."},
        "paths": paths,
        "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
                       "schemas": {"Error": ERROR}},
        "security": [{"token": []}],
    }


def _operation(route: Route) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": _operation_id(route), "summary": route.summary or route.template}
    params = [{"name": name, "in": "path", "required": True, "schema": schema}
              for name, schema in route.params().items()]
    params += [{"name": name, "in": "query", "required": False, "schema": schema}
               for name, schema in route.query.items()]
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": route.body}}}
    if route.public:
        op["security"] = []
    ok = ({"text/event-stream": {"schema": {"type": "string"}}} if route.media_type == "text/event-stream"
          else {"application/json": {"schema": route.response}})
    op["responses"] = {"200": {"description": "done", "content": ok},
                       **{code: {"description": text, "content": {"application/json": {
                           "schema": {"$ref": "#/components/schemas/Error"}}}}
                          for code, text in REFUSALS.items()}}
    return op


def _operation_id(route: Route) -> str:
    words = [w.strip("{}") for w in route.template.split("/")[3:] if w]
    return route.method.lower() + "_" + "_".join(words)
