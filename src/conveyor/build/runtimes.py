"""`runtime-versions` as CodeBuild resolves it: which version of each listed runtime a build
image's catalog (build.runtime_catalog) provides, or CodeBuild's message saying why not.

Pure: the catalog, the requested versions and the build's environment come in; a Selection
goes out. The runner logs it and applies it (build.runner).

    selection = select({"nodejs": "20.x", "java": "latest"}, catalog, env)
    selection.chosen[0].version.key      # '20'
    selection.problems                   # () — or every problem at once, CodeBuild's wording

The rules (CodeBuild's buildspec reference, "phases/install/runtime-versions", and its
"Runtime versions" table; log excerpts of real builds for the messages):
- a version is named by its key ("18", "3.11", "corretto17"), by `<major>.x` ("18.x", "3.x",
  "1.x", "corretto17.x": that major's newest minor), or by `latest` (the newest version);
  a version may be given through a variable (`ruby: "$MY_RUBY_VAR"`), expanded from the build's
  environment first;
- a bare major where the key has a minor (`python: 3`) is not a name CodeBuild accepts;
- locally also: an alias the catalog lists ("openjdk17" for the corretto17 slot, which Debian's
  OpenJDK serves) and the exact full version the image has ("20.19.5") — CodeBuild's newer images
  would install such a "custom runtime version" from the network; nothing is installed here, so
  any other full version is refused;
- an unknown runtime: "Unknown runtime named 'dotnet'. This build image has the following
  runtimes: golang, java, nodejs, …" (names sorted, as CodeBuild lists them); an unknown version:
  "Unknown runtime version named '16' of nodejs. This build image has the following versions:
  18, 20, 22" (keys oldest first [inferred: real logs show ascending lists such as "10, 12"]).
  CodeBuild stops at the first problem; here every problem is reported at once.
- `docker` is not a runtime of CodeBuild's current standard images (it was one in standard 2.0–4.0,
  where every version meant "the docker the image has"): refused like any unknown runtime, with
  a hint that the docker CLI needs no entry.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from conveyor.build.runtime_catalog import Catalog, CatalogError, Runtime, RuntimeVersion
from conveyor.names import check_shell_env_name

LATEST = "latest"
MAJOR_SUFFIX = ".x"
#: The warning CodeBuild logs for runtime-versions on an image without runtime selection.
SKIP_WARNING = "[WARN] Skipping install of runtimes. Runtime version selection is not supported by this build image."
#: What the phase context carries when selection fails (CodeBuild: DOWNLOAD_SOURCE fails with it).
STATUS_CODE = "YAML_FILE_ERROR"
DOCKER_HINT = ("(docker is not a runtime of current standard images: remove it from runtime-versions; the docker "
               "CLI is always in the build image, and a CodeBuild action reaches the engine with privilegedMode: true)")
#: How CodeBuild's runtimes.yml names each runtime in its "Installing … version …" line.
DISPLAY_NAMES = {"nodejs": "Node.js", "python": "Python", "java": "Java", "golang": "Go", "ruby": "Ruby",
                 "php": "PHP", "dotnet": ".NET"}
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


@dataclass(frozen=True)
class Chosen:
    """One listed runtime and the catalog version it resolved to."""

    runtime: str
    requested: str  # as the buildspec wrote it ("$NODE_VERSION", "18.x")
    value: str      # after variables ("20", "18.x")
    version: RuntimeVersion


@dataclass(frozen=True)
class Selection:
    """Every listed runtime in buildspec order: (runtime, value after variables) for the
    "Selecting …" lines; the versions chosen; the problems (empty when all resolved)."""

    listed: tuple[tuple[str, str], ...]
    chosen: tuple[Chosen, ...]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def message(self) -> str:
        """The phase context message: every problem, in buildspec order."""
        return "; ".join(self.problems)


def select(requested: Mapping[str, str], catalog: Catalog, env: Mapping[str, str] | None = None) -> Selection:
    """Resolve each `runtime: version` of a buildspec's runtime-versions against `catalog`."""
    env = env or {}
    listed: list[tuple[str, str]] = []
    chosen: list[Chosen] = []
    problems: list[str] = []
    for name, raw in requested.items():
        value, unset = expand(str(raw), env)
        listed.append((name, value))
        runtime = catalog.runtimes.get(name)
        if runtime is None:
            problems.append(unknown_runtime(name, catalog) + (f" {DOCKER_HINT}" if name == "docker" else ""))
            continue
        version = resolve(runtime, value)
        if version is None:
            note = f" ({' and '.join(unset)} {'is' if len(unset) == 1 else 'are'} not set in the build environment)" \
                if unset else ""
            problems.append(unknown_version(value, runtime) + note)
            continue
        chosen.append(Chosen(name, str(raw), value, version))
    return Selection(tuple(listed), tuple(chosen), tuple(problems))


def resolve(runtime: Runtime, value: str) -> RuntimeVersion | None:
    """The version `value` names in `runtime`, or None (see the module docstring for the rules)."""
    versions = ordered(runtime)
    if value == LATEST:
        return versions[-1] if versions else None
    for version in versions:
        if value == version.key or value in version.aliases:
            return version
    if value.endswith(MAJOR_SUFFIX) and len(value) > len(MAJOR_SUFFIX):
        major = value[:-len(MAJOR_SUFFIX)]
        matching = [v for v in versions if any(n == major or n.startswith(major + ".") for n in _names(v))]
        return matching[-1] if matching else None
    return next((v for v in versions if value == v.version), None)


def ordered(runtime: Runtime) -> list[RuntimeVersion]:
    """The runtime's versions oldest first, by the numbers in their keys ("3.9" before "3.11");
    the catalog's own order breaks ties."""
    indexed = list(enumerate(runtime.versions))
    indexed.sort(key=lambda item: (_numbers(item[1].key), item[0]))
    return [version for _, version in indexed]


def unknown_runtime(name: str, catalog: Catalog) -> str:
    return (f"Unknown runtime named '{name}'. This build image has the following runtimes: "
            f"{', '.join(sorted(catalog.runtimes))}")


def unknown_version(value: str, runtime: Runtime) -> str:
    return (f"Unknown runtime version named '{value}' of {runtime.name}. This build image has the following "
            f"versions: {', '.join(v.key for v in ordered(runtime))}")


def expand(value: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """`$NAME` and `${NAME}` replaced from `env`; (the result, the names that were not set —
    they expand to nothing, as a shell would)."""
    unset: list[str] = []

    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in env:
            unset.append(name)
            return ""
        return env[name]

    return _VARIABLE.sub(one, value), unset


def install_commands(chosen: Chosen) -> list[str]:
    """The shell commands that select `chosen` in the build shell, as CodeBuild's runtimes.yml
    does for its images: an `echo "Installing <Runtime> version <n> ..."`, then the version's
    variables (JAVA_HOME, GOROOT, …). PATH is set once for all of them (path_command). Every
    value is quoted: the catalog comes from an image label."""
    label = DISPLAY_NAMES.get(chosen.runtime, chosen.runtime)
    number = re.sub(r"^[A-Za-z]+(?=\d)", "", chosen.version.key)  # corretto17 -> 17, as CodeBuild prints it
    commands = [f'echo "Installing {label} version {number} ..."']
    for name, value in chosen.version.env.items():
        problem = check_shell_env_name(name)
        if problem is not None:
            raise CatalogError(f"{chosen.runtime} {chosen.version.key}: variable {name!r} {problem}")
        commands.append(f"export {name}={shlex.quote(value)}")
    return commands


def path_command(chosen: tuple[Chosen, ...] | list[Chosen]) -> str | None:
    """One `export PATH=…:"$PATH"` with every selected version's directories first, in buildspec
    order, each once — set together, so a runtime whose directory is a shared one (/usr/bin)
    cannot put another runtime's default back in front of a version selected before it."""
    dirs: list[str] = []
    for one in chosen:
        dirs += [d for d in one.version.path if d not in dirs]
    return f'export PATH={shlex.quote(":".join(dirs))}:"$PATH"' if dirs else None


def catalog_problems(catalog: Catalog) -> list[str]:
    """What in a catalog the build shell could not apply: a variable name no shell can hold
    (checked when the catalog is read, so a bad label is a clear error before any build)."""
    problems = []
    for runtime in catalog.runtimes.values():
        for version in runtime.versions:
            for name in version.env:
                problem = check_shell_env_name(name)
                if problem is not None:
                    problems.append(f"{runtime.name} {version.key}: variable {name!r} {problem}")
    return problems


def _names(version: RuntimeVersion) -> tuple[str, ...]:
    return (version.key, *version.aliases)


def _numbers(key: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", key))
