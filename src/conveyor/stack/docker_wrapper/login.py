"""`docker login` to a local registry, taken over.

The client in a build container talks to the host's podman through its Docker API
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
`*.amazonaws.com` login goes to the real client, unchanged, as does a login it cannot take
over (no host, no password, an option it does not know, `--help`).
"""

from __future__ import annotations

import os

from .cmdline import Unhandled, split_globals

ALIAS_ENV = "CONVEYOR_REGISTRY_ALIAS"


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
