"""`docker buildx`: answered here, since client 20.10 has no buildx plugin; `buildx build` is a
classic build (builds.translate_build)."""

from __future__ import annotations

from .builds import BuildPlan, options_of, translate_build

BUILDX_VERSION = "github.com/docker/buildx v0.0.0+conveyor classic"
BUILDX_NOT_HERE = ("docker buildx {sub}: not available here: builds run on the local engine's "
                   "classic builder (docker buildx build, version, ls, inspect, create, use, rm "
                   "and stop are translated)\n")


def platform_name() -> str:
    import platform

    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
            "armv7l": "arm/v7", "ppc64le": "ppc64le", "s390x": "s390x"}.get(machine, machine)
    return f"linux/{arch}"


def buildx(args: list[str]) -> BuildPlan | tuple[int, str, str]:
    """`docker buildx ARGS` → a BuildPlan for `build`, or (exit code, stdout, stderr) for the
    subcommands answered here. One builder exists: `default`, the local engine's."""
    i = 0
    while i < len(args) and args[i].startswith("-"):  # buildx's own options before the command
        if args[i] in ("-h", "--help"):
            return 0, ("Usage: docker buildx COMMAND (Conveyor: build, version, ls, inspect, "
                       "create, use, rm and stop, on the local engine's classic builder)\n"), ""
        i += 2 if args[i] == "--builder" else 1
    if i >= len(args):
        return 1, "", ("docker buildx: a command is needed: build, version, ls, inspect, create, "
                       "use, rm or stop\n")
    sub, rest = args[i], args[i + 1:]
    plat = platform_name()
    if sub in ("build", "b"):
        return translate_build(rest, buildx=True)
    if sub == "version":
        return 0, BUILDX_VERSION + "\n", ""
    if sub == "ls":
        return 0, (f"{'NAME/NODE':<15}{'DRIVER/ENDPOINT':<18}{'STATUS':<10}{'BUILDKIT':<10}"
                   f"PLATFORMS\n{'default *':<15}{'docker':<18}\n"
                   f"{'  default':<15}{'default':<18}{'running':<10}{'classic':<10}{plat}\n"), ""
    if sub == "inspect":
        names = [a for a in rest if not a.startswith("-")]
        name = names[0] if names else "default"
        return 0, (f"Name:          {name}\nDriver:        docker\n\nNodes:\n"
                   f"Name:      default\nEndpoint:  default\nStatus:    running\n"
                   f"Buildkit:  classic builder (the local engine serves no BuildKit)\n"
                   f"Platforms: {plat}\n"), ""
    if sub == "create":
        name = "default"
        for opt, value, _ in options_of(rest, {"--name", "--driver", "--driver-opt", "--platform",
                                             "--buildkitd-flags", "--config", "--node",
                                             "--buildkitd-config"}, set()):
            if opt == "--name" and value:
                name = value
        return 0, name + "\n", ("docker buildx create: builders here all use the local "
                                "engine's classic builder\n")
    if sub in ("use", "rm", "stop"):
        return 0, "", ""
    return 1, "", BUILDX_NOT_HERE.format(sub=sub)
