"""A CloudFormation template as data, rendered to YAML deterministically (same input, same bytes:
keys in the order they were added, resources sorted by logical id), each resource preceded by a
comment naming the conveyor.yml key it comes from, so the template reviews well as a diff.

    t = Template("orders-service: production")
    t.parameter("VpcId", "AWS::EC2::VPC::Id", "The VPC the load balancer and tasks run in")
    t.resource("Cluster", "AWS::ECS::Cluster", {"ClusterName": "orders-prod"},
               source="environments.production.cluster")
    t.output("ClusterName", Ref("Cluster"))
    print(t.render())

Intrinsic functions are values (Ref, GetAtt, Sub, Join, …) and render as CloudFormation's short
tags (`!Ref Cluster`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

FORMAT_VERSION = "2010-09-09"
# A plain scalar may hold ':' but not end with one (YAML reads "a:" followed by a line break as a key).
_PLAIN = re.compile(r"^[A-Za-z_./][A-Za-z0-9_./:@-]*(?<!:)$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "~", "y", "n", ".inf", ".nan"}


@dataclass(frozen=True)
class Intrinsic:
    tag: str  # Ref, GetAtt, Sub, Join, Select, Split, If, Equals, Not, GetAZs, ImportValue
    value: Any


def Ref(name: str) -> Intrinsic:  # noqa: N802 (CloudFormation's own name)
    return Intrinsic("Ref", name)


def GetAtt(resource: str, attribute: str) -> Intrinsic:  # noqa: N802
    return Intrinsic("GetAtt", f"{resource}.{attribute}")


def Sub(text: str) -> Intrinsic:  # noqa: N802
    return Intrinsic("Sub", text)


def Join(separator: str, values: list[Any]) -> Intrinsic:  # noqa: N802
    return Intrinsic("Join", [separator, values])


def If(condition: str, when_true: Any, when_false: Any) -> Intrinsic:  # noqa: N802
    return Intrinsic("If", [condition, when_true, when_false])


def Equals(first: Any, second: Any) -> Intrinsic:  # noqa: N802
    return Intrinsic("Equals", [first, second])


@dataclass
class Resource:
    logical_id: str
    type: str
    properties: dict[str, Any]
    source: str = ""
    depends_on: tuple[str, ...] = ()
    condition: str | None = None


@dataclass
class Template:
    description: str
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    conditions: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, Resource] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def parameter(self, name: str, type_: str, description: str, *, default: Any = None,
                  allowed: list[str] | None = None) -> Intrinsic:
        spec: dict[str, Any] = {"Type": type_, "Description": description}
        if default is not None:
            spec["Default"] = default
        if allowed:
            spec["AllowedValues"] = allowed
        self.parameters[name] = spec
        return Ref(name)

    def resource(self, logical_id: str, type_: str, properties: dict[str, Any], *, source: str = "",
                 depends_on: tuple[str, ...] = (), condition: str | None = None) -> Intrinsic:
        if logical_id in self.resources:
            raise ValueError(f"resource {logical_id} twice in the template")
        self.resources[logical_id] = Resource(logical_id, type_, properties, source, depends_on, condition)
        return Ref(logical_id)

    def output(self, name: str, value: Any, description: str = "", *, export: str | None = None) -> None:
        out: dict[str, Any] = {"Value": value}
        if description:
            out["Description"] = description
        if export:
            out["Export"] = {"Name": export}
        self.outputs[name] = out

    def to_data(self) -> dict[str, Any]:
        """The template as plain data (intrinsics in their long JSON form), for tests and tools."""
        def plain(v: Any) -> Any:
            if isinstance(v, Intrinsic):
                key = "Ref" if v.tag == "Ref" else f"Fn::{v.tag}"
                value = v.value.split(".", 1) if v.tag == "GetAtt" else plain(v.value)
                return {key: value}
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            if isinstance(v, list):
                return [plain(x) for x in v]
            return v

        data: dict[str, Any] = {"AWSTemplateFormatVersion": FORMAT_VERSION, "Description": self.description}
        if self.parameters:
            data["Parameters"] = plain(self.parameters)
        if self.conditions:
            data["Conditions"] = plain(self.conditions)
        data["Resources"] = {r.logical_id: plain(self._resource_data(r)) for r in self._sorted()}
        if self.outputs:
            data["Outputs"] = plain(self.outputs)
        return data

    def render(self) -> str:
        lines = [f"AWSTemplateFormatVersion: '{FORMAT_VERSION}'", f"Description: {_scalar(self.description)}"]
        if self.parameters:
            lines.append("Parameters:")
            lines += _block(self.parameters, 1)
        if self.conditions:
            lines.append("Conditions:")
            lines += _block(self.conditions, 1)
        lines.append("Resources:")
        for r in self._sorted():
            if r.source:
                lines.append(f"  # from {r.source}")
            lines.append(f"  {r.logical_id}:")
            lines += _block(self._resource_data(r), 2)
        if self.outputs:
            lines.append("Outputs:")
            lines += _block(self.outputs, 1)
        return "\n".join(lines) + "\n"

    def _sorted(self) -> list[Resource]:
        return [self.resources[k] for k in sorted(self.resources)]

    @staticmethod
    def _resource_data(r: Resource) -> dict[str, Any]:
        data: dict[str, Any] = {"Type": r.type}
        if r.condition:
            data["Condition"] = r.condition
        if r.depends_on:
            data["DependsOn"] = list(r.depends_on)
        if r.properties:
            data["Properties"] = r.properties
        return data


def _scalar(value: Any) -> str:
    """One YAML scalar: plain when it reads back as the same string, else JSON-quoted."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED and not _looks_numeric(text):
        return text
    return json.dumps(text, ensure_ascii=False)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _block(value: Any, indent: int) -> list[str]:
    """The lines of a mapping or list nested at `indent` levels (two spaces each)."""
    pad = "  " * indent
    out: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            out += _entry(f"{pad}{_scalar(key)}:", item, indent)
    elif isinstance(value, list):
        for item in value:
            out += _entry(f"{pad}-", item, indent)
    return out


def _entry(head: str, item: Any, indent: int) -> list[str]:
    if isinstance(item, Intrinsic):
        return [f"{head} {_intrinsic(item)}"] if not _complex(item) else [f"{head} !{item.tag}", *_block(
            item.value, indent + 1)]
    if isinstance(item, (dict, list)):
        if not item:
            return [f"{head} {'{}' if isinstance(item, dict) else '[]'}"]
        lines = _block(item, indent + 1)
        if head.endswith("-") and isinstance(item, dict):  # "- Key: value", the rest aligned under it
            return [head + " " + lines[0].lstrip(), *lines[1:]]
        return [head, *lines]
    if isinstance(item, str) and "\n" in item:
        body = ["  " * (indent + 1) + line if line else "" for line in item.rstrip("\n").split("\n")]
        return [f"{head} |", *body]
    return [f"{head} {_scalar(item)}"]


def _complex(item: Intrinsic) -> bool:
    return isinstance(item.value, (list, dict))


def _intrinsic(item: Intrinsic) -> str:
    return f"!{item.tag} {_scalar(item.value)}"
