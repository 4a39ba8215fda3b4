"""The API's request shapes as JSON Schema, and the small validator that holds a request to
them before any route sees it. One description serves both: the OpenAPI document publishes
it and the server enforces it, so a client never meets a shape the document does not name,
and a route never meets a value of the wrong type (which used to surface as a 500).

Only the subset the routes use is understood: type (one or a list), properties, required,
additionalProperties, items, enum, minimum/maximum, maxLength, maxItems.

    >>> problems({"type": "object", "properties": {"count": INT}, "required": ["count"]}, {"count": "2"})
    ['body.count: expected integer, got string']
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

STR: Schema = {"type": "string", "maxLength": 65536}
OPT_STR: Schema = {"type": ["string", "null"], "maxLength": 65536}
INT: Schema = {"type": "integer"}
BOOL: Schema = {"type": "boolean"}
OBJ: Schema = {"type": "object"}
OPT_OBJ: Schema = {"type": ["object", "null"]}
BY: Schema = {"type": ["string", "null"], "maxLength": 200, "description": "who asks (recorded with the change)"}


def obj(properties: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    """An object with these properties; others are allowed (older and newer clients send more)."""
    out: Schema = {"type": "object", "properties": properties}
    if required:
        out["required"] = list(required)
    return out


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


_PY_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
    "integer": (int,), "number": (int, float), "null": (type(None),),
}


def _type_of(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if isinstance(value, _PY_TYPES[name]):
            return name
    return type(value).__name__


def _is(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in ("integer", "number"):
        return False  # JSON's true is not 1
    return isinstance(value, _PY_TYPES[name])


def problems(schema: Schema, value: Any, where: str = "body", limit: int = 10) -> list[str]:
    """What is wrong with `value` against `schema`, as 'key.path: message' lines (at most `limit`)."""
    out: list[str] = []
    _check(schema, value, where, out, limit)
    return out[:limit]


def _check(schema: Schema, value: Any, where: str, out: list[str], limit: int) -> None:
    if len(out) >= limit:
        return
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_is(value, n) for n in names):
            out.append(f"{where}: expected {' or '.join(names)}, got {_type_of(value)}")
            return
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{where}: must be one of {', '.join(map(str, schema['enum']))}")
    if isinstance(value, str) and len(value) > schema.get("maxLength", len(value)):
        out.append(f"{where}: longer than {schema['maxLength']} characters")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            out.append(f"{where}: must be at least {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            out.append(f"{where}: must be at most {schema['maximum']}")
    if isinstance(value, list):
        if len(value) > schema.get("maxItems", len(value)):
            out.append(f"{where}: more than {schema['maxItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                _check(schema["items"], item, f"{where}[{i}]", out, limit)
    if isinstance(value, dict):
        for key in schema.get("required", ()):
            if key not in value:
                out.append(f"{where}.{key}: required")
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                _check(properties[key], item, f"{where}.{key}", out, limit)
            elif extra is False:
                out.append(f"{where}.{key}: unknown key")
            elif isinstance(extra, dict):
                _check(extra, item, f"{where}.{key}", out, limit)
