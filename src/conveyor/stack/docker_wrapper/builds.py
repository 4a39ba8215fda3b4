"""`docker build` on the classic builder: BuildKit's flags dropped, mapped or refused, and a
warning for the heredocs the classic builder cannot read."""

from __future__ import annotations

import os

from .cmdline import options_of

#: `docker build` options that take a value. Client 20.10 parses the BuildKit ones (--platform,
#: --progress, --secret, --ssh, --output) in classic mode too, and ignores them there.
_BUILD_VALUES = {"--add-host", "--build-arg", "--cache-from", "--cgroup-parent", "--cpu-period",
                 "--cpu-quota", "-c", "--cpu-shares", "--cpuset-cpus", "--cpuset-mems", "-f",
                 "--file", "--iidfile", "--isolation", "--label", "-m", "--memory", "--memory-swap",
                 "--network", "--platform", "--progress", "--secret", "--security-opt", "--shm-size",
                 "--ssh", "-t", "--tag", "--target", "--ulimit", "-o", "--output",
                 # buildx build's own
                 "--builder", "--cache-to", "--attest", "--metadata-file", "--no-cache-filter",
                 "--annotation", "--allow", "--build-context", "--call"}
#: buildx options whose value can only be attached (`--sbom=false`); alone they mean true.
_ATTACHED_ONLY = {"--provenance", "--sbom"}
_SHORT_VALUES = {"-c", "-f", "-m", "-t", "-o"}


class BuildPlan:
    """What a build command becomes: the classic `build` arguments, the lines to print first,
    the names to push after it succeeded, or the one-line error that stops it."""

    def __init__(self) -> None:
        self.args: list[str] = []
        self.notes: list[str] = []
        self.pushes: list[str] = []
        self.error: str | None = None
        self.dockerfile: str | None = None
        self.context: str | None = None


def _csv(value: str) -> dict[str, str]:
    """`type=registry,ref=x` → {'type': 'registry', 'ref': 'x'}; a bare word is the `ref`."""
    fields: dict[str, str] = {}
    for item in value.split(","):
        key, eq, val = item.partition("=")
        if eq:
            fields[key.strip().lower()] = val.strip()
        elif item.strip():
            fields.setdefault("ref", item.strip())
    return fields


def is_false(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("false", "0", "no", "off")


def translate_build(args: list[str], *, buildx: bool = False) -> BuildPlan:
    """A `docker build` or `docker buildx build` argument list → the classic builder's.

    >>> plan = translate_build(["--progress=plain", "--cache-from", "type=registry,ref=r/a:c",
    ...                         "--push", "-t", "r/a:1", "."], buildx=True)
    >>> plan.args, plan.pushes, plan.notes
    (['--cache-from', 'r/a:c', '-t', 'r/a:1', '.'], ['r/a:1'], [])
    """
    who = "docker buildx build" if buildx else "docker build"
    plan = BuildPlan()
    tags: list[str] = []
    push = False

    def note(text: str) -> None:
        plan.notes.append(f"{who}: {text}\n")

    for name, value, given in options_of(args, _BUILD_VALUES, _SHORT_VALUES):
        if plan.error:
            break
        if name == "":
            if plan.context is None:
                plan.context = value
            plan.args += given
        elif name == "--progress" or name == "--builder" or name == "--load":
            pass  # how output looks / which builder / where the image goes: there is only one
        elif name == "--push":
            push = not is_false(value)
        elif name in ("--secret", "--ssh"):
            plan.error = (f"{who}: {name} is not supported here: it needs BuildKit, and the "
                          f"local engine's classic builder cannot receive secrets or SSH agents")
        elif name == "--build-context":
            plan.error = (f"{who}: --build-context is not supported here: named build contexts "
                          f"need BuildKit (use COPY --from=<image> or one context)")
        elif name == "--cache-to":
            note(f"--cache-to {value} ignored: the classic builder exports no build cache "
                 f"(layers stay cached in the local engine between builds)")
        elif name == "--cache-from" and value is not None:
            source = _csv(value)
            kind = source.get("type", "registry")
            if kind == "registry" and source.get("ref"):
                plan.args += ["--cache-from", source["ref"]]
            else:
                note(f"--cache-from {value} ignored: only images (type=registry) can be cache "
                     f"sources for the classic builder")
        elif name in ("-o", "--output") and value is not None:
            output = _csv(value) if "=" in value else {"type": "local", "dest": value}
            kind = output.get("type", "")
            if kind in ("registry",) or (kind == "image" and not is_false(output.get("push"))
                                         and output.get("push") is not None):
                push = True
            elif kind in ("docker", "image") and "dest" not in output:
                pass  # the image lands in the engine, as the classic builder's always does
            else:
                plan.error = (f"{who}: --output {value} is not supported here: the classic "
                              f"builder only puts the image in the engine (use -t NAME, then "
                              f"`docker create` and `docker cp`, or `docker save`)")
        elif name == "--platform" and value is not None and "," in value:
            plan.error = (f"{who}: --platform {value}: the local engine's classic builder "
                          f"builds one platform at a time (multi-platform images need BuildKit)")
        elif name in _ATTACHED_ONLY or name in ("--attest", "--metadata-file", "--annotation",
                                                 "--no-cache-filter", "--allow", "--call"):
            if not is_false(value):
                note(f"{name}{'=' + value if value is not None else ''} ignored: a BuildKit "
                     f"feature the classic builder does not have")
        else:
            if name in ("-t", "--tag") and value is not None:
                tags.append(value)
            elif name in ("-f", "--file") and value is not None:
                plan.dockerfile = value
            plan.args += given
    if push and not plan.error:
        if not tags:
            plan.error = f"{who}: --push needs a name to push: add -t NAME"
        plan.pushes = tags
    return plan


_HEREDOC = None


def heredoc_lines(text: str) -> list[int]:
    """The line numbers of RUN/COPY/ADD instructions with a heredoc (`RUN <<EOT`), which the
    classic builder reads as more instructions.

    >>> heredoc_lines("FROM x\\nRUN <<EOT\\necho hi\\nEOT\\nRUN cat <<< 'no'\\nCOPY <<-\\"E\\" /f\\n")
    [2, 6]
    """
    import re

    global _HEREDOC
    if _HEREDOC is None:
        _HEREDOC = re.compile(r"""^\s*(RUN|COPY|ADD)\s.*(?<!<)<<-?\s*(["']?)[A-Za-z_][\w.-]*\2""",
                              re.IGNORECASE)
    return [n for n, line in enumerate(text.splitlines(), 1) if _HEREDOC.match(line)]


def dockerfile_path(plan: BuildPlan, cwd: str) -> str | None:
    """Where the build's Dockerfile is in this container (None: from stdin or a URL)."""
    context = plan.context or "."
    if context == "-" or "://" in context or context.startswith("git@"):
        return None
    if plan.dockerfile == "-":
        return None
    if plan.dockerfile:
        name = plan.dockerfile
        return name if os.path.isabs(name) else os.path.join(cwd, name)
    return os.path.join(cwd, context, "Dockerfile")


def heredoc_note(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = heredoc_lines(f.read(1 << 20))
    except OSError:
        return None
    if not lines:
        return None
    return (f"{os.path.basename(path)}:{lines[0]}: heredocs (<<EOF) need BuildKit; the classic "
            f"builder reads the lines that follow as instructions, so the build will likely "
            f"fail there (use a script file and COPY it, or RUN with && and \\)\n")


def buildkit_asked(env: dict[str, str]) -> bool:
    """DOCKER_BUILDKIT as the client reads it (Go's strconv.ParseBool)."""
    return env.get("DOCKER_BUILDKIT", "").strip() in ("1", "t", "T", "true", "TRUE", "True")


def fallback_line(engine: str | None) -> str:
    """The one line a build that asked for BuildKit prints when it runs the classic builder."""
    return (f"BuildKit is not served by the local engine ({engine or 'podman'}); "
            f"building with the classic builder\n")
