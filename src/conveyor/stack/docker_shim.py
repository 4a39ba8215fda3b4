#!/usr/bin/python3
"""`docker` in Conveyor's local build image: the real docker client (20.10), with what the host's
podman 4.3 behind it does differently from the Docker a buildspec was written for taken over.

Copied by `conveyor setup` into BUILD_IMAGE as the executable /usr/local/bin/docker; the real
client (docker.io's) is /usr/local/libexec/docker-client. Standard library only: it runs on the
image's Debian python3, without Conveyor installed. One file, so the image copies one file.

Taken over (docs/docker-in-builds.md has the measurements behind each):

- `docker login` to a local registry (below).
- `docker build` / `image build`: always the classic builder (podman's API serves no BuildKit
  session: "failed to dial gRPC: unable to upgrade to h2c, received 404"), with one line on
  stderr when DOCKER_BUILDKIT asked for BuildKit; BuildKit-only flags dropped, mapped or refused
  in one line (translate_build).
- `docker buildx …`: client 20.10 has no buildx; `buildx build` is translated as above (with
  --push as build-then-push), version/ls/inspect/create/use/rm/stop are answered here (buildx).
- `docker run --rm` (not detached): run without --rm and removed afterwards, because podman 4.3
  answers the client's wait-for-removal with exit status 0 whatever the command returned.
- bind mounts of `run`/`create`: a path in this container is translated to the host's path of
  the mount that holds it, since the engine resolves bind sources on the host (translate_run).

Login: the client in a build container talks to the host's podman through its Docker API
socket, and podman 4.3's API insists on TLS for `docker login` to any host not spelled
`localhost:PORT`, so

    aws ecr get-login-password | docker login --username AWS --password-stdin \\
        000000000000.dkr.ecr.us-east-1.localhost:5000

fails there although pushes work once the client has the credentials. So for a local registry
host — 127.0.0.1:PORT, localhost:PORT, ACCOUNT.dkr.ecr.REGION.localhost:PORT, or a real ECR host
that $CONVEYOR_REGISTRY_ALIAS maps to one — this script does what the client's login would
have done once the registry said yes: it stores `auths[HOST].auth = base64(user:password)` in
the client's config.json ($DOCKER_CONFIG, `--config DIR`, or ~/.docker) and prints
`Login Succeeded`. The registry is not asked (a build container reaches the host's registry
only through the engine): a wrong password shows at the push, as `unauthorized`.

CONVEYOR_REGISTRY_ALIAS: `REAL=LOCAL[,REAL=LOCAL…]`, e.g.
`123456789012.dkr.ecr.eu-west-1.amazonaws.com=000000000000.dkr.ecr.us-east-1.localhost:5000`;
a login to REAL then stores the credentials for REAL and for LOCAL. Without it a real
`*.amazonaws.com` login goes to the real client, unchanged.

Every other invocation — other commands, a login it cannot take over (no host, no password,
an option it does not know, `--help`), options before the command it does not know — execs the
real client with the arguments unchanged.
"""

from __future__ import annotations

import os
import sys

#: The real docker client; CONVEYOR_DOCKER_CLIENT overrides it (tests).
REAL_CLIENT = "/usr/local/libexec/docker-client"
CLIENT_ENV = "CONVEYOR_DOCKER_CLIENT"
ALIAS_ENV = "CONVEYOR_REGISTRY_ALIAS"

#: The client's global options that take a value (`docker --help`), and its global flags.
_GLOBAL_VALUE_OPTIONS = {"--config", "-c", "--context", "-H", "--host", "-l", "--log-level",
                         "--tlscacert", "--tlscert", "--tlskey"}
_GLOBAL_FLAGS = {"-D", "--debug", "--tls", "--tlsverify"}


class Unhandled(Exception):
    """Not a login this script takes over: the real client runs instead."""


def split_globals(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """The global options before the command, and the command with its arguments.

    >>> split_globals(["--config=/c", "-D", "login", "-u", "AWS", "h:1"])
    ({'--config': '/c', '-D': ''}, ['login', '-u', 'AWS', 'h:1'])
    """
    options: dict[str, str] = {}
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        name, eq, value = argv[i].partition("=")
        if name in _GLOBAL_VALUE_OPTIONS:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise Unhandled(f"{name} needs a value")
                value = argv[i]
            options[name] = value
        elif argv[i] in _GLOBAL_FLAGS:
            options[argv[i]] = ""
        else:
            raise Unhandled(f"global option {argv[i]}")  # --version, --help, something new
        i += 1
    return options, argv[i:]


def parse_login(args: list[str]) -> tuple[str, str | None, str | None, bool]:
    """`login`'s arguments → (server, username, password, password from stdin).

    >>> parse_login(["-u", "AWS", "--password-stdin", "h:5000"])
    ('h:5000', 'AWS', None, True)
    >>> parse_login(["--username=AWS", "-pX", "h:5000"])
    ('h:5000', 'AWS', 'X', False)
    """
    server = username = password = None
    stdin = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest = args[i + 1:]
            if len(rest) != 1 or server is not None:
                raise Unhandled("login takes one server")
            server = rest[0]
            break
        if arg == "--password-stdin":
            stdin = True
        elif arg.startswith("-") and arg != "-":
            if arg.startswith("--"):
                name, eq, value = arg.partition("=")
                inline = bool(eq)
                if name not in ("--username", "--password"):
                    raise Unhandled(f"login option {name}")
            elif arg[:2] in ("-u", "-p"):  # -u AWS, -uAWS, -u=AWS (pflag's shorthand forms)
                name, value = arg[:2], arg[2:].removeprefix("=")
                inline = len(arg) > 2
            else:
                raise Unhandled(f"login option {arg}")  # -h, something new
            if not inline:
                i += 1
                if i >= len(args):
                    raise Unhandled(f"{name} needs a value")
                value = args[i]
            if name in ("-u", "--username"):
                username = value.strip()  # as the client does
            else:
                password = value
        elif server is None:
            server = arg
        else:
            raise Unhandled("login takes one server")
        i += 1
    if server is None:
        raise Unhandled("no server: Docker Hub")
    return server, username, password, stdin


def hostname(server: str) -> str:
    """The registry host as the client keys config.json (`credentials.ConvertToHostname`).

    >>> hostname("https://localhost:5000/v2/")
    'localhost:5000'
    """
    for scheme in ("http://", "https://"):
        server = server.removeprefix(scheme)
    return server.split("/", 1)[0]


def aliases(env: dict[str, str]) -> dict[str, str]:
    """CONVEYOR_REGISTRY_ALIAS as {real host: local host}.

    >>> aliases({ALIAS_ENV: "1.dkr.ecr.r.amazonaws.com=localhost:5000, bad"})
    {'1.dkr.ecr.r.amazonaws.com': 'localhost:5000'}
    """
    pairs = (item.split("=", 1) for item in env.get(ALIAS_ENV, "").replace(",", " ").split())
    return {hostname(real.strip()): hostname(local.strip())
            for real, local in (p for p in pairs if len(p) == 2) if is_local(local.strip())}


def is_local(host: str) -> bool:
    """A spelling of a registry on this machine: 127.0.0.1:PORT, localhost:PORT or the local
    ECR-style ACCOUNT.dkr.ecr.REGION.localhost:PORT.

    >>> [is_local(h) for h in ("127.0.0.1:5000", "localhost:5001", "localhost",
    ...  "000000000000.dkr.ecr.us-east-1.localhost:5000", "1.dkr.ecr.r.amazonaws.com")]
    [True, True, False, True, False]
    """
    name, sep, port = host.rpartition(":")
    if not sep or not port.isdigit():
        return False
    if name in ("127.0.0.1", "localhost"):
        return True
    labels = name.split(".")
    return (len(labels) == 5 and len(labels[0]) == 12 and labels[0].isdigit()
            and labels[1:3] in (["dkr", "ecr"], ["dkr", "ecr-fips"]) and labels[3] != ""
            and labels[4] == "localhost")


def login_hosts(server: str, env: dict[str, str]) -> list[str]:
    """The config.json keys a login to `server` stores credentials under; Unhandled when it is
    not a local registry (the real client logs in to it)."""
    host = hostname(server)
    if is_local(host):
        return [host]
    alias = aliases(env).get(host)
    if alias is None:
        raise Unhandled(f"{host} is not a local registry")
    return [host, alias]


def config_dir(options: dict[str, str], env: dict[str, str]) -> str:
    """Where the client keeps config.json: --config, $DOCKER_CONFIG, else ~/.docker."""
    directory = options.get("--config") or env.get("DOCKER_CONFIG")
    if directory:
        return directory
    return os.path.join(env.get("HOME") or os.path.expanduser("~"), ".docker")


def store_auth(path: str, hosts: list[str], username: str, password: str) -> None:
    """Set auths[host].auth for each host in the client's config.json, keeping everything else;
    written 0600 beside it and renamed over it."""
    import base64
    import json
    import tempfile

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        config = json.loads(text) if text.strip() else {}
    except FileNotFoundError:
        config = {}
    except ValueError as exc:
        raise OSError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise OSError(f"{path} is not a JSON object")
    auths = config.setdefault("auths", {})
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    for host in hosts:
        entry = auths.get(host) if isinstance(auths.get(host), dict) else {}
        entry = {k: v for k, v in entry.items() if k not in ("identitytoken", "registrytoken")}
        auths[host] = {**entry, "auth": auth}
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config.json.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(config, f, indent="\t")
            f.write("\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def login(argv: list[str], env: dict[str, str], stdin) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of a local login; Unhandled when the real client should run."""
    options, command = split_globals(argv)
    if not command or command[0] != "login":
        raise Unhandled("not a login")
    server, username, password, from_stdin = parse_login(command[1:])
    hosts = login_hosts(server, env)
    if not username or (password is None and not from_stdin):
        raise Unhandled("the real client prompts (or says what is missing)")
    if password is not None and from_stdin:
        return 1, "", "Error: --password and --password-stdin are mutually exclusive\n"
    err = ""
    if from_stdin:
        password = stdin.read().removesuffix("\n").removesuffix("\r")
    else:
        err = "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n"
    if not password:
        return 1, "", err + "Error: password required\n"
    path = os.path.join(config_dir(options, env), "config.json")
    try:
        store_auth(path, hosts, username, password)
    except OSError as exc:
        return 1, "", err + f"Error saving credentials: {exc}\n"
    err += (f"WARNING! Your password will be stored unencrypted in {path}.\n"
            f"(Conveyor's local registry: the credentials were stored without asking the "
            f"registry; a wrong password shows at the push.)\n")
    return 0, "Login Succeeded\n", err


# --- the engine behind the client --------------------------------------------------------------

DEFAULT_HOST = "unix:///var/run/docker.sock"


def engine_get(path: str, options: dict[str, str], env: dict[str, str],
               timeout: float = 5.0) -> tuple[int, dict[str, str], bytes] | None:
    """(status, headers with lower-cased names, body) of `GET path` on the engine the client
    talks to (-H, DOCKER_HOST, else the default socket); None when it does not answer."""
    import socket

    host = options.get("-H") or options.get("--host") or env.get("DOCKER_HOST") or DEFAULT_HOST
    try:
        if host.startswith("unix://"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(host.removeprefix("unix://"))
        elif host.startswith("tcp://"):
            name, _, port = host.removeprefix("tcp://").partition("/")[0].rpartition(":")
            sock = socket.create_connection((name, int(port)), timeout=timeout)
        else:
            return None
        with sock:
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
            data = b""
            while len(data) < (8 << 20):  # HTTP/1.0: the engine closes after the answer
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except (OSError, ValueError):
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split()
    if len(status) < 2 or not status[0].startswith("HTTP/") or not status[1].isdigit():
        return None
    headers = {name.strip().lower(): value.strip()
               for name, sep, value in (line.partition(":") for line in lines[1:]) if sep}
    return int(status[1]), headers, body


def engine_headers(options: dict[str, str], env: dict[str, str]) -> dict[str, str] | None:
    """The headers of the engine's `GET /_ping`, None when it does not answer. Podman's API
    says `Libpod-Api-Version`; Docker's does not."""
    answer = engine_get("/_ping", options, env)
    return answer[1] if answer is not None and answer[0] == 200 else None


def own_mounts(options: dict[str, str], env: dict[str, str]) -> dict[str, str] | None:
    """This container's bind mounts as {path here: path on the engine's host}, asked of the
    engine: a container's hostname is its ID unless someone chose another (then None)."""
    import json
    import socket

    answer = engine_get(f"/containers/{socket.gethostname()}/json", options, env)
    if answer is None or answer[0] != 200:
        return None
    try:
        mounts = json.loads(answer[2]).get("Mounts") or []
    except (ValueError, AttributeError):
        return None
    return {os.path.normpath(m["Destination"]): m["Source"] for m in mounts
            if isinstance(m, dict) and m.get("Type") == "bind"
            and str(m.get("Destination", "")).startswith("/")
            and str(m.get("Source", "")).startswith("/")}


def podman_version(headers: dict[str, str] | None) -> str | None:
    """`podman 4.3.1` when the engine is podman's Docker-compatible API, else None.

    >>> podman_version({"libpod-api-version": "4.3.1", "api-version": "1.41"})
    'podman 4.3.1'
    >>> podman_version({"api-version": "1.43", "builder-version": "2"}) is None
    True
    """
    if headers is None or "libpod-api-version" not in headers:
        return None
    return f"podman {headers['libpod-api-version']}".strip()


def fallback_line(engine: str | None) -> str:
    """The one line a build that asked for BuildKit prints when it runs the classic builder."""
    return (f"BuildKit is not served by the local engine ({engine or 'podman'}); "
            f"building with the classic builder\n")


# --- builds: `docker build` with BuildKit's flags, and `docker buildx build` ---------------------

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


def _options(args: list[str], values: set[str], short_values: set[str]):
    """(name, value or None, the tokens as given) for each option, ("", token, [token]) for each
    positional argument; `--` makes the rest positional."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            for rest in args[i + 1:]:
                yield "", rest, [rest]
            return
        if not arg.startswith("-") or arg == "-":
            yield "", arg, [arg]
        elif arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if eq:
                yield name, value, [arg]
            elif name in values and i + 1 < len(args):
                i += 1
                yield name, args[i], [arg, args[i]]
            else:
                yield name, None, [arg]
        elif arg[:2] in short_values:
            if len(arg) > 2:
                yield arg[:2], arg[2:].removeprefix("="), [arg]
            elif i + 1 < len(args):
                i += 1
                yield arg, args[i], [arg, args[i]]
            else:
                yield arg, None, [arg]
        else:
            yield arg, None, [arg]
        i += 1


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


def _false(value: str | None) -> bool:
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

    for name, value, given in _options(args, _BUILD_VALUES, _SHORT_VALUES):
        if plan.error:
            break
        if name == "":
            if plan.context is None:
                plan.context = value
            plan.args += given
        elif name == "--progress" or name == "--builder" or name == "--load":
            pass  # how output looks / which builder / where the image goes: there is only one
        elif name == "--push":
            push = not _false(value)
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
            if kind in ("registry",) or (kind == "image" and not _false(output.get("push"))
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
            if not _false(value):
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


# --- buildx: answered here, since client 20.10 has no buildx plugin -------------------------------

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
        for opt, value, _ in _options(rest, {"--name", "--driver", "--driver-opt", "--platform",
                                             "--buildkitd-flags", "--config", "--node",
                                             "--buildkitd-config"}, set()):
            if opt == "--name" and value:
                name = value
        return 0, name + "\n", ("docker buildx create: builders here all use the local "
                                "engine's classic builder\n")
    if sub in ("use", "rm", "stop"):
        return 0, "", ""
    return 1, "", BUILDX_NOT_HERE.format(sub=sub)


# --- runs: the exit status of `run --rm`, and bind mounts of this container's paths ------------

#: JSON {path in this build container: the same directory on the engine's host}: `docker run -v
#: "$PWD:/src"` names a path the host's engine cannot see. Without it the wrapper asks the engine
#: for this container's mounts (own_mounts).
HOST_MOUNTS_ENV = "CONVEYOR_HOST_MOUNTS"

_RUN_VALUES = {"--add-host", "-a", "--attach", "--blkio-weight", "--blkio-weight-device",
               "--cap-add", "--cap-drop", "--cgroup-parent", "--cgroupns", "--cidfile",
               "--cpu-period", "--cpu-quota", "--cpu-rt-period", "--cpu-rt-runtime", "-c",
               "--cpu-shares", "--cpus", "--cpuset-cpus", "--cpuset-mems", "--detach-keys",
               "--device", "--device-cgroup-rule", "--device-read-bps", "--device-read-iops",
               "--device-write-bps", "--device-write-iops", "--dns", "--dns-option",
               "--dns-search", "--domainname", "--entrypoint", "-e", "--env", "--env-file",
               "--expose", "--gpus", "--group-add", "--health-cmd", "--health-interval",
               "--health-retries", "--health-start-period", "--health-timeout", "-h",
               "--hostname", "--ip", "--ip6", "--ipc", "--isolation", "--kernel-memory", "-l",
               "--label", "--label-file", "--link", "--link-local-ip", "--log-driver",
               "--log-opt", "--mac-address", "-m", "--memory", "--memory-reservation",
               "--memory-swap", "--memory-swappiness", "--mount", "--name", "--network", "--net",
               "--network-alias", "--net-alias", "--oom-score-adj", "--pid", "--pids-limit",
               "--platform", "-p", "--publish", "--pull", "--restart", "--runtime",
               "--security-opt", "--shm-size", "--stop-signal", "--stop-timeout", "--storage-opt",
               "--sysctl", "--tmpfs", "--ulimit", "-u", "--user", "--userns", "--uts", "-v",
               "--volume", "--volume-driver", "--volumes-from", "-w", "--workdir"}
_RUN_SHORT_VALUES = {"-a", "-c", "-e", "-h", "-l", "-m", "-p", "-u", "-v", "-w"}
#: On a container `run --rm` started without the engine's auto-removal (translate_run).
REMOVE_LABEL = "io.conveyor.remove-after-run"


class RunPlan:
    """What `docker run`/`create` becomes: its arguments, the lines to print first, and whether
    the wrapper removes the container itself after it exited (instead of `--rm`)."""

    def __init__(self) -> None:
        self.args: list[str] = []
        self.notes: list[str] = []
        self.remove_after = False
        self.cidfile: str | None = None


def binds_something(args: list[str]) -> bool:
    """Whether a run's own options name a volume or mount (only then are the mounts needed)."""
    return any(name in ("-v", "--volume", "--mount")
               for name, _, _ in _options_until_image(args))


def host_mounts(env: dict[str, str]) -> dict[str, str] | None:
    """CONVEYOR_HOST_MOUNTS as {container path: host path}; None when unset or unreadable."""
    import json

    text = env.get(HOST_MOUNTS_ENV, "").strip()
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return {os.path.normpath(k): v for k, v in data.items()
            if isinstance(k, str) and isinstance(v, str) and k.startswith("/") and v.startswith("/")}


def host_path(path: str, mounts: dict[str, str]) -> str | None:
    """`path` in this container as the host sees it, through the longest mount that holds it.

    >>> host_path("/codebuild/output/src/src/app", {"/codebuild/output/src/src": "/h/src"})
    '/h/src/app'
    >>> host_path("/tmp/x", {"/codebuild/output/src/src": "/h/src"}) is None
    True
    """
    for inside in sorted(mounts, key=len, reverse=True):
        if path == inside or path.startswith(inside.rstrip("/") + "/"):
            return mounts[inside] + path[len(inside):] if path != inside else mounts[inside]
    return None


def _bind_source(source: str, cwd: str, mounts: dict[str, str] | None,
                 notes: list[str], who: str) -> str:
    """A bind mount's source as the engine must see it; a note when it cannot be translated."""
    if not (source.startswith("/") or source in (".", "..") or source.startswith(("./", "../"))):
        return source  # a named volume
    path = os.path.normpath(os.path.join(cwd, source))
    if mounts is not None:
        host = host_path(path, mounts)
        if host is not None:
            return host
    if path in ("/var/run/docker.sock", "/run/docker.sock"):
        return source
    notes.append(f"{who}: bind mount {source}: the engine runs on the host, so this is the "
                 f"host's {path}, not this build container's (only the build's source "
                 f"directories are translated)\n")
    return path if path != source else source


def translate_volume(value: str, cwd: str, mounts: dict[str, str] | None, notes: list[str],
                     who: str = "docker run") -> str:
    """`-v SRC:DST[:OPTS]` with SRC as the host sees it."""
    source, sep, rest = value.partition(":")
    if not sep:
        return value  # an anonymous volume
    return f"{_bind_source(source, cwd, mounts, notes, who)}:{rest}"


def translate_mount(value: str, cwd: str, mounts: dict[str, str] | None, notes: list[str],
                    who: str = "docker run") -> str:
    """`--mount type=bind,source=SRC,…` with SRC as the host sees it."""
    fields = value.split(",")
    kinds = [f.partition("=")[2] for f in fields if f.partition("=")[0] == "type"]
    if kinds and kinds[0] != "bind":
        return value
    out = []
    for field in fields:
        key, eq, val = field.partition("=")
        if eq and key in ("source", "src"):
            field = f"{key}={_bind_source(val, cwd, mounts, notes, who)}"
        out.append(field)
    return ",".join(out)


def translate_run(args: list[str], cwd: str, mounts: dict[str, str] | None, *,
                  create: bool = False) -> RunPlan:
    """A `docker run` (or `create`) argument list with bind mount sources as the host sees them;
    for `run --rm` without -d, `--rm` taken out and remove_after set: podman 4.3's API answers the
    client's wait for a removed container with exit status 0, whatever the command returned.

    >>> plan = translate_run(["--rm", "-it", "-v", "./t:/t", "img", "--rm"], "/w", {"/w": "/h"})
    >>> plan.args[2:], plan.remove_after
    (['-it', '-v', '/h/t:/t', 'img', '--rm'], True)
    """
    who = "docker create" if create else "docker run"
    plan = RunPlan()
    rm = detach = False
    image_at = None
    tokens = list(_options_until_image(args))
    for index, (name, value, given) in enumerate(tokens):
        if name == "":
            image_at = index
            break
        if name in ("-v", "--volume") and value is not None:
            plan.args += [name, translate_volume(value, cwd, mounts, plan.notes, who)]
        elif name == "--mount" and value is not None:
            plan.args += [name, translate_mount(value, cwd, mounts, plan.notes, who)]
        elif name == "--rm" and not create:
            rm = not _false(value)
        elif name in ("-d", "--detach"):
            detach = not _false(value)
            plan.args += given
        elif name == "--cidfile":
            plan.cidfile = value
            plan.args += given
        elif name.startswith("-") and not name.startswith("--") and "d" in name[1:]:
            detach = True  # a cluster such as -dit
            plan.args += given
        else:
            plan.args += given
    if image_at is not None:
        plan.args += [t for _, _, given in tokens[image_at:] for t in given]
    if rm and detach:
        plan.args.insert(0, "--rm")  # the engine removes it; the client does not wait
    elif rm:
        plan.remove_after = True
        plan.args[:0] = ["--label", f"{REMOVE_LABEL}=true"]  # findable if the wrapper is killed
    return plan


def _options_until_image(args: list[str]):
    """Like _options for `docker run`, but everything from the image on is one positional token
    each (the command's own options are not the client's)."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--" or not arg.startswith("-") or arg == "-":
            rest = args[i + 1:] if arg == "--" else args[i:]
            if arg == "--":
                yield "--", None, ["--"]
            for token in rest:
                yield "", token, [token]
            return
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if eq:
                yield name, value, [arg]
            elif name in _RUN_VALUES and i + 1 < len(args):
                i += 1
                yield name, args[i], [arg, args[i]]
            else:
                yield name, None, [arg]
        else:
            # a cluster of short flags, ending in at most one short option with its value
            for j in range(1, len(arg)):
                short = "-" + arg[j]
                if short in _RUN_SHORT_VALUES:
                    flags = arg[1:j]
                    if flags:
                        yield "-" + flags, None, ["-" + flags]
                    if j + 1 < len(arg):
                        yield short, arg[j + 1:].removeprefix("="), [short + arg[j + 1:]]
                    elif i + 1 < len(args):
                        i += 1
                        yield short, args[i], [short, args[i]]
                    else:
                        yield short, None, [short]
                    break
            else:
                yield arg, None, [arg]
        i += 1


# --- running the real client -------------------------------------------------------------------

def client_path(env: dict[str, str]) -> str:
    return env.get(CLIENT_ENV) or REAL_CLIENT


def run_real_client(argv: list[str], env: dict[str, str]) -> None:
    client = client_path(env)
    try:
        os.execve(client, ["docker", *argv], env)
    except OSError as exc:
        sys.stderr.write(f"docker: cannot run the docker client {client}: {exc.strerror}\n")
        sys.exit(127)


def call_client(argv: list[str], env: dict[str, str], quiet: bool = False) -> int:
    """Run the real client and wait, passing SIGINT, SIGTERM and SIGHUP on to it (a stopped
    build reaches the container behind it, and the wrapper still cleans up after)."""
    import signal
    import subprocess

    client = client_path(env)
    out = subprocess.DEVNULL if quiet else None
    try:
        child = subprocess.Popen(["docker", *argv], executable=client, env=env, stdout=out,
                                 stderr=out)
    except OSError as exc:
        sys.stderr.write(f"docker: cannot run the docker client {client}: {exc.strerror}\n")
        return 127
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, lambda number, frame: child.send_signal(number))
                for s in signals}
    try:
        while True:
            try:
                return child.wait()
            except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for clarity
                continue
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def buildkit_asked(env: dict[str, str]) -> bool:
    """DOCKER_BUILDKIT as the client reads it (Go's strconv.ParseBool)."""
    return env.get("DOCKER_BUILDKIT", "").strip() in ("1", "t", "T", "true", "TRUE", "True")


def write_notes(notes: list[str]) -> None:
    seen: set[str] = set()
    for line in notes:
        if line not in seen:
            seen.add(line)
            sys.stderr.write(line)
    sys.stderr.flush()


def do_build(prefix: list[str], plan: BuildPlan, env: dict[str, str], *, buildx_: bool,
             options: dict[str, str], original: list[str]) -> int:
    """A build on the classic builder: the fallback line when BuildKit was asked for, the plan's
    notes, the build, then the pushes buildx's --push asked for."""
    child_env = dict(env)
    notes: list[str] = []
    if buildx_ or buildkit_asked(env):
        headers = engine_headers(options, env)
        engine = podman_version(headers)
        if headers is not None and engine is None and not buildx_:
            run_real_client([*prefix, "build", *original], env)  # Docker: BuildKit works
        notes.append(fallback_line(engine))
    child_env["DOCKER_BUILDKIT"] = "0"
    if plan.error:
        write_notes([*notes, plan.error + "\n"])
        return 1
    heredoc = heredoc_note(dockerfile_path(plan, os.getcwd()))
    write_notes([*notes, *plan.notes, *([heredoc] if heredoc else [])])
    if not plan.pushes:
        run_real_client([*prefix, "build", *plan.args], child_env)
    code = call_client([*prefix, "build", *plan.args], child_env)
    for name in plan.pushes if code == 0 else []:
        code = call_client([*prefix, "push", name], child_env)
        if code != 0:
            break
    return code


def do_run(prefix: list[str], verb: list[str], plan: RunPlan, env: dict[str, str]) -> int:
    import shutil
    import tempfile

    write_notes(plan.notes)
    if not plan.remove_after:
        run_real_client([*prefix, *verb, *plan.args], env)
    scratch = None
    cidfile = plan.cidfile
    args = plan.args
    if cidfile is None:
        scratch = tempfile.mkdtemp(prefix="docker-run.")
        cidfile = os.path.join(scratch, "cid")
        args = ["--cidfile", cidfile, *args]
    try:
        code = call_client([*prefix, *verb, *args], env)
        try:
            with open(cidfile, encoding="utf-8") as f:
                cid = f.read().strip()
        except OSError:
            cid = ""
        if cid:
            call_client([*prefix, "rm", "--force", cid], env, quiet=True)
        return code
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def command_of(command: list[str]) -> tuple[list[str], list[str]]:
    """(the verb as given, its arguments): `image build`, `container run`, … are one verb."""
    if len(command) >= 2 and (command[0], command[1]) in {("image", "build"), ("builder", "build"),
                                                        ("container", "run"),
                                                        ("container", "create")}:
        return command[:2], command[2:]
    return command[:1], command[1:]


def main() -> None:
    argv, env = sys.argv[1:], dict(os.environ)
    if "login" in argv:
        try:
            code, out, err = login(argv, env, sys.stdin)
        except Unhandled:
            pass
        else:
            sys.stdout.write(out)
            sys.stderr.write(err)
            sys.exit(code)
    try:
        options, command = split_globals(argv)
    except Unhandled:
        run_real_client(argv, env)
        return
    prefix = argv[:len(argv) - len(command)]
    verb, args = command_of(command)
    what = verb[-1] if verb else ""
    if verb == ["buildx"]:
        result = buildx(args)
        if isinstance(result, tuple):
            code, out, err = result
            sys.stdout.write(out)
            sys.stderr.write(err)
            sys.exit(code)
        sys.exit(do_build(prefix, result, env, buildx_=True, options=options, original=args))
    if what == "build" and "--help" not in args:
        sys.exit(do_build(prefix, translate_build(args), env, buildx_=False, options=options,
                          original=args))
    if what in ("run", "create"):
        mounts = host_mounts(env)
        if mounts is None and binds_something(args):
            mounts = own_mounts(options, env)
        plan = translate_run(args, os.getcwd(), mounts, create=what == "create")
        sys.exit(do_run(prefix, verb, plan, env))
    run_real_client(argv, env)


if __name__ == "__main__":
    main()
