"""Read-only observations of the local stack, each a `Status` with the exact fix.

`conveyor doctor` shows them; `conveyor setup` uses the same observations to decide what to do.
Nothing here changes the machine (the run probe starts and removes a throwaway container).

    >>> Status("haproxy", False, "not installed", "apt-get install -y haproxy").line()
    '✗ haproxy: not installed — fix: apt-get install -y haproxy'
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

from conveyor.build.runtime_catalog import RUNTIMES_LABEL, CatalogError, catalog_of
from conveyor.errors import ConveyorError
from conveyor.providers.local import containers
from conveyor.providers.local.containers import ContainerEngine, image_labels  # noqa: F401  (stack code calls checks.image_labels)
from conveyor.providers.local.process import Command, run, tail
from conveyor.registry import uris
from conveyor.registry.aliases import EcrAlias, alias_hosts, aliases_in_hosts
from conveyor.registry.proxy import REALM
from conveyor.stack import components as c
from conveyor.stack import images, standard_image
from conveyor.stack.containers_conf import missing_settings

SETUP_FIX = "conveyor setup"

OK, FAIL = "✓", "✗"
#: A registry proxy on loopback answers at once; nothing answering fails at once too.
ALIAS_PROBE_TIMEOUT = 2.0


@dataclass(frozen=True)
class Status:
    """`data`: structured detail for `doctor --json` (e.g. a build image's runtimes)."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None
    data: Mapping[str, Any] | None = field(default=None, compare=False)

    def line(self) -> str:
        fix = f" — fix: {self.fix}" if self.fix and not self.ok else ""
        return f"{OK if self.ok else FAIL} {self.name}: {self.detail}{fix}"

    def to_json(self) -> dict:
        body = asdict(self)
        if self.data is None:
            del body["data"]
        return body


Check = Callable[[], Iterable[Status]]


# --- observations -------------------------------------------------------------------------

def installed_packages(names: Iterable[str]) -> dict[str, str]:
    """Installed Debian packages among `names` → version ({} where there is no dpkg)."""
    if shutil.which("dpkg-query") is None:
        return {}
    cmd = Command(["dpkg-query", "-W", "-f=${Package}\t${Status}\t${Version}\n", *names])
    return c.parse_dpkg_status(run(cmd, check=False, dry_run=False).stdout)


def package_statuses(packages: Iterable[c.Package] | None = None) -> list[Status]:
    packages = list(c.PACKAGES if packages is None else packages)
    installed = installed_packages(p.name for p in packages)
    missing = set(c.missing_packages(packages, installed, shutil.which))
    statuses = []
    for p in packages:
        if p.name in missing:
            statuses.append(Status(p.name, False, "not installed", c.install_fix([p.name])))
        elif p.name in installed:
            statuses.append(Status(p.name, True, c.short_version(installed[p.name])))
        else:
            statuses.append(Status(p.name, True, f"{shutil.which(p.binary or '')} (not from apt)"))
    return statuses


@cache
def engine() -> ContainerEngine:
    """The engine Conveyor uses on this machine (detected once per process)."""
    return containers.detect_engine()


def engine_version(eng: ContainerEngine) -> str | None:
    try:
        done = run(eng.version(), check=False, dry_run=False)
    except ConveyorError:
        return None
    return done.stdout.strip() if done.ok else None


def engine_status(eng: ContainerEngine) -> Status:
    version = engine_version(eng)
    if version is None:
        return Status("engine", False, f"{eng.name} does not answer `{eng.version()}`", SETUP_FIX)
    why = "Docker engine running" if eng.name == "docker" else "no running Docker engine"
    return Status("engine", True, f"{eng.name} {version} ({why})")


def image_origin(eng: ContainerEngine, ref: str) -> str | None:
    """How an image was made (its origin label), '' when unlabelled, None when absent."""
    labels = image_labels(eng, ref)
    return None if labels is None else labels.get(c.ORIGIN_LABEL, "")


def image_status(eng: ContainerEngine, ref: str) -> Status:
    origin = image_origin(eng, ref)
    if origin is None:
        return Status(ref, False, "not built", SETUP_FIX)
    return Status(ref, True, origin or "present (made outside conveyor setup)")


def recipe_current(labels: dict[str, str], recipe: str) -> bool:
    """Made from `recipe` — or made outside `conveyor setup` (no recipe label): then it is
    the user's image and stays as it is.

    >>> recipe_current({c.RECIPE_LABEL: "abc"}, "abc"), recipe_current({}, "abc")
    (True, True)
    """
    return labels.get(c.RECIPE_LABEL, recipe) == recipe


def build_image_status(eng: ContainerEngine, ref: str = c.BUILD_IMAGE) -> Status:
    labels = image_labels(eng, ref)
    if labels is None:
        return Status(ref, False, "not built", SETUP_FIX)
    origin = labels.get(c.ORIGIN_LABEL) or "present (made outside conveyor setup)"
    cas = labels.get(c.EXTRA_CA_LABEL)
    if cas is not None:
        origin += f"; trusts {cas} extra CA certificate{'' if cas == '1' else 's'} from the host"
    if not recipe_current(labels, images.build_recipe()):
        return Status(ref, False, f"{origin}; out of date (its packages, layers, Node majors, "
                                  f"the host's extra CA certificates, docker wrapper or aws shim "
                                  f"changed)", SETUP_FIX)
    return Status(ref, True, origin)


def build_image_runtimes_status(eng: ContainerEngine, ref: str,
                                labels: Mapping[str, str] | None = None) -> Status:
    """The runtimes a build image provides, from its catalog label (no container is run)."""
    name = f"{ref} runtimes"
    labels = image_labels(eng, ref) if labels is None else labels
    if labels is None:
        return Status(name, False, "not built", SETUP_FIX)
    try:
        catalog = catalog_of(labels)
    except CatalogError as exc:
        return Status(name, False, f"its {RUNTIMES_LABEL} label is unreadable: {exc}", SETUP_FIX)
    if catalog is None:
        fix = SETUP_FIX if ref == c.BUILD_IMAGE else None
        return Status(name, ref != c.BUILD_IMAGE, f"no {RUNTIMES_LABEL} label: runtime-versions "
                                                  f"is skipped in it", fix)
    data = {"image": ref, "runtimes": {n: r.to_json() for n, r in sorted(catalog.runtimes.items())}}
    return Status(name, True, standard_image.describe(catalog), data=data)


def labelled_build_images(eng: ContainerEngine) -> dict[str, dict[str, str]]:
    """Local images carrying a runtime catalog → their labels, from one `images --filter`
    call. An image built FROM a build image inherits its labels; it is not another build image,
    so images whose catalog and recipe equal BUILD_IMAGE's are left out (BUILD_IMAGE first)."""
    cmd = Command([eng.binary, "images", "--filter", f"label={RUNTIMES_LABEL}", "--format",
                   "json"])
    try:
        done = run(cmd, check=False, dry_run=False)
        listed = json.loads(done.stdout or "[]") if done.ok else []
    except (ConveyorError, ValueError):
        listed = []
    found: dict[str, dict[str, str]] = {}
    for image in listed if isinstance(listed, list) else []:
        labels = image.get("Labels") or {}
        for name in image.get("Names") or []:
            found.setdefault(name, labels)
    ours = found.get(c.BUILD_IMAGE) or image_labels(eng, c.BUILD_IMAGE) or {}
    same = (ours.get(RUNTIMES_LABEL), ours.get(c.RECIPE_LABEL))
    others = {name: labels for name, labels in sorted(found.items())
              if name not in (c.BUILD_IMAGE, c.BUILD_LAYERS_IMAGE)
              and (labels.get(RUNTIMES_LABEL), labels.get(c.RECIPE_LABEL)) != same}
    return {c.BUILD_IMAGE: ours, **others}


def build_runtimes_statuses(eng: ContainerEngine) -> list[Status]:
    if image_labels(eng, c.BUILD_IMAGE) is None:
        return []  # build_image_status already says "not built"
    return [build_image_runtimes_status(eng, ref, labels)
            for ref, labels in labelled_build_images(eng).items()]


def conf_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def sandbox_settings_present() -> bool:
    path = c.containers_conf_path()
    return not missing_settings(conf_text(path), c.SANDBOX_SETTINGS, path)


def probe_status(eng: ContainerEngine, image: str = c.BUSYBOX_IMAGE) -> Status:
    name = f"{eng.name} run"
    if not containers.image_exists(eng, image):
        return Status(name, False, f"not checked: {image} is missing", SETUP_FIX)
    done = containers.run_probe(eng, image)
    with_settings = eng.is_podman and sandbox_settings_present()
    if done.ok:
        conf = c.containers_conf_path()
        note = f" (with {c.describe_settings()} in {conf})" if with_settings else ""
        return Status(name, True, f"works{note}")
    error = tail(done.stderr or done.stdout, 2)
    if eng.is_podman and c.needs_sandbox_settings(error) and not with_settings:
        return Status(name, False, error, f"{SETUP_FIX} (adds {c.describe_settings()} to "
                                          f"{c.containers_conf_path()})")
    return Status(name, False, error, f"see `{eng.run(image, ['true'], rm=True)}`")


def registry_host_name() -> str:
    """The local ECR-style host without its port: the name /etc/hosts must resolve.

    >>> registry_host_name()
    '000000000000.dkr.ecr.us-east-1.localhost'
    """
    return f"{uris.DEFAULT_ACCOUNT_ID}.dkr.ecr.{uris.DEFAULT_REGION}.{uris.LOCAL_DOMAIN}"


def hosts_address(text: str, name: str) -> str | None:
    """The address the first line naming `name` maps it to (None when no line does).

    >>> hosts_address("127.0.0.1 localhost\\n10.0.0.9 a b # c\\n", "b")
    '10.0.0.9'
    """
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if name in fields[1:]:
            return fields[0]
    return None


def hosts_status(path: str | None = None) -> Status:
    """Does the hosts file resolve the local ECR-style host name? (A line the user wrote wins,
    whatever its address: `conveyor setup` adds one only when no line names the host.)"""
    path = path or c.hosts_path()
    name = registry_host_name()
    try:
        text = conf_text(path)
    except OSError as exc:
        return Status("registry host", False, f"cannot read {path}: {exc.strerror}", SETUP_FIX)
    if uris.hosts_with_entry(text) != text:
        return Status("registry host", False, f"{name} is not in {path}", SETUP_FIX)
    return Status("registry host", True, f"{name} → {hosts_address(text, name)} ({path})")


def registries_dropin_status(path: str | None = None, port: int | None = None,
                             aliases: Sequence[EcrAlias] | None = None) -> Status:
    """Is the registries.conf drop-in that lets podman (and its Docker API) talk plain HTTP to
    the local registry there, for this port and the ECR aliases in /etc/hosts (or `aliases`),
    exactly as `conveyor setup` writes it?"""
    path = path or c.registries_dropin_path()
    port = c.registry_port() if port is None else port
    aliases = configured_aliases() if aliases is None else aliases
    try:
        text = conf_text(path)
    except OSError as exc:
        return Status("registry drop-in", False, f"cannot read {path}: {exc.strerror}", SETUP_FIX)
    if not text:
        return Status("registry drop-in", False, f"{path} is missing (podman would use TLS for "
                                                 f"the local registry)", SETUP_FIX)
    if text != uris.registries_dropin(port, alias_hosts=alias_hosts(aliases)):
        also = f" and the ECR aliases in {c.hosts_path()}" if aliases else ""
        return Status("registry drop-in", False, f"{path} differs from what `conveyor setup` "
                                                 f"writes for port {port}{also}", SETUP_FIX)
    return Status("registry drop-in", True, f"{', '.join(registry_addresses(port, aliases))} "
                                            f"over plain HTTP ({path})")


def registry_addresses(port: int, aliases: Sequence[EcrAlias] = ()) -> list[str]:
    """Every spelling of the local registry the drop-in covers."""
    return [uris.local_address(port), f"localhost:{port}", uris.ecr_host(port=port),
            *alias_hosts(aliases)]


# --- ECR aliases (`conveyor setup --ecr-alias`, registry/aliases.py) ---------------------

def configured_aliases(path: str | None = None) -> list[EcrAlias]:
    """The ECR aliases in the hosts file: the only record of them."""
    try:
        return aliases_in_hosts(conf_text(path or c.hosts_path()))
    except OSError:
        return []  # hosts_status says why the file cannot be read


def answering(address: str, timeout: float = ALIAS_PROBE_TIMEOUT) -> str:
    """Who answers registry requests on `address`: "conveyor" (the proxy's Basic challenge),
    "other" or "nothing"."""
    conn = http.client.HTTPConnection(address, timeout=timeout)
    try:
        conn.request("GET", "/v2/")
        resp = conn.getresponse()
    except (OSError, http.client.HTTPException):
        return "nothing"
    finally:
        conn.close()
    challenge = resp.getheader("WWW-Authenticate") or ""
    return "conveyor" if resp.status == 401 and f'realm="{REALM}"' in challenge else "other"


def ecr_alias_statuses(hosts: str | None = None, dropin: str | None = None,
                       probe: Callable[[str], str] = answering) -> list[Status]:
    """One line per alias: the name resolves to its address, the drop-in makes it plain HTTP,
    and nothing but Conveyor answers there. No aliases, no lines."""
    hosts, dropin = hosts or c.hosts_path(), dropin or c.registries_dropin_path()
    try:
        text, insecure = conf_text(hosts), insecure_locations(conf_text(dropin))
    except OSError:
        return []  # hosts_status and registries_dropin_status say why
    return [alias_status(alias, hosts_address(text, alias.host), hosts, alias.host in insecure,
                         dropin, probe(alias.address)) for alias in aliases_in_hosts(text)]


def alias_status(alias: EcrAlias, resolves_to: str | None, hosts: str, insecure: bool,
                 dropin: str, answer: str) -> Status:
    name = "ecr alias"
    if resolves_to != alias.ip:
        return Status(name, False, f"{alias.host} resolves to {resolves_to}, not {alias.ip}: an "
                                   f"earlier line in {hosts} names it",
                      f"delete the line mapping {alias.host} to {resolves_to} from {hosts}")
    if not insecure:
        return Status(name, False, f"{alias.host} is not marked insecure in {dropin} (podman "
                                   f"would insist on HTTPS)", SETUP_FIX)
    if answer == "other":
        return Status(name, False, f"something other than Conveyor's registry answers on "
                                   f"{alias.address}",
                      f"stop it, or move the alias: {c.ECR_ALIAS_IP_ENV}=127.0.0.3 conveyor setup "
                      f"--ecr-alias {alias.host}")
    served = ("the local registry" if answer == "conveyor" else
              "nothing answers yet: `conveyor up`, or restart a daemon started before the alias")
    return Status(name, True, f"{alias.host} → {alias.address}, {served} (this machine cannot "
                              f"reach the real registry; undo: conveyor setup --remove-ecr-alias "
                              f"{alias.host})")


def insecure_locations(dropin_text: str) -> set[str]:
    """The registries a registries.conf text marks `insecure = true`."""
    try:
        registries = tomllib.loads(dropin_text).get("registry", [])
    except tomllib.TOMLDecodeError:
        return set()
    return {r["location"] for r in registries
            if isinstance(r, dict) and r.get("insecure") and isinstance(r.get("location"), str)}


# --- the doctor's table -------------------------------------------------------------------

def default_checks() -> list[tuple[str, Check]]:
    """Everything doctor looks at, in the order it is shown, by name."""
    return [
        ("packages", package_statuses),
        ("registry host", lambda: [hosts_status()]),
        ("registry drop-in", lambda: [registries_dropin_status()]),
        ("ecr alias", ecr_alias_statuses),
        ("engine", lambda: [engine_status(engine())]),
        (c.BUSYBOX_IMAGE, lambda: [image_status(engine(), c.BUSYBOX_IMAGE)]),
        ("run probe", lambda: [probe_status(engine())]),
        (c.BASE_IMAGE, lambda: [image_status(engine(), c.BASE_IMAGE)]),
        (c.BUILD_IMAGE, lambda: [build_image_status(engine())]),
        ("build runtimes", lambda: build_runtimes_statuses(engine())),
    ]


def is_root() -> bool:
    return os.geteuid() == 0
