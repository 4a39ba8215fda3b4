"""`conveyor setup`: make this machine able to run Conveyor, doing only what is missing.

Steps, each printing one line (✓ done or already there, → doing, ✗ failed with the fix):
packages (apt, only the missing ones) → registry names (the /etc/hosts line for the local
ECR-style host, the opt-in ECR alias lines of `--ecr-alias` (registry/aliases.py) and the
registries.conf drop-in making the local registry plain HTTP, from conveyor.registry.uris and
.aliases, written only when missing or different) → engine (a running Docker engine, else podman) →
BUSYBOX_IMAGE (FROM scratch, busybox-static) → run probe (adding the sandbox settings to
containers.conf only if the plain run fails for the reasons they fix) → BASE_IMAGE (pull and
tag, else mmdebstrap + import) → BUILD_IMAGE, the standard build image, and the slim service
images made from it (both in stack/setup_build_image.py). A second run only observes, so it
takes seconds. What the steps share (SetupFailed, run_step, …) is in stack/setup_steps.py.

    run_setup(print, dry_run=True)
"""

from __future__ import annotations

import argparse
import errno
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Sequence

from conveyor.errors import ConveyorError
from conveyor.providers.local import containers
from conveyor.providers.local.containers import ContainerEngine
from conveyor.providers.local.process import Command, run, tail
from conveyor.registry import uris
from conveyor.registry.aliases import (
    EcrAlias,
    alias_hosts,
    alias_line,
    aliases_in_hosts,
    foreign_address,
    hosts_with_alias,
    hosts_without_alias,
    parse_alias,
)
from conveyor.stack import checks, images
from conveyor.stack import components as c
from conveyor.stack.containers_conf import merge_settings
from conveyor.stack.setup_build_image import ensure_build_image, ensure_service_images
from conveyor.stack.setup_steps import (
    MMDEBSTRAP_FIX,
    Echo,
    SetupFailed,
    apt_update,
    big_tmp,
    run_step,
    try_step,
)

ECR_ALIAS_HELP = (
    "make the real ECR registry HOST (ACCOUNT.dkr.ecr.REGION.amazonaws.com, or ACCOUNT:REGION) "
    "resolve to the local registry on this machine, so a buildspec that hard-codes it pushes "
    "here unchanged; builds then get the first alias's account and region. This machine can "
    "no longer reach that real ECR registry. Repeatable; restart the daemon afterwards")
REMOVE_ECR_ALIAS_HELP = "undo --ecr-alias HOST: the name resolves to the real registry again"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ECR alias options of `conveyor setup` (cli/main.py adds them to the subcommand)."""
    parser.add_argument("--ecr-alias", action="append", default=[], metavar="HOST",
                        help=ECR_ALIAS_HELP)
    parser.add_argument("--remove-ecr-alias", action="append", default=[], metavar="HOST",
                        help=REMOVE_ECR_ALIAS_HELP)


def run_setup(echo: Echo, *, dry_run: bool = False, ecr_aliases: Sequence[str] = (),
              remove_ecr_aliases: Sequence[str] = ()) -> int:
    """Bring the local stack up to date; 0 when everything is ready, 1 otherwise. A malformed
    alias is a UserError before anything is done."""
    add = [parse_alias(text, c.ecr_alias_ip()) for text in ecr_aliases]
    remove = [parse_alias(text).host for text in remove_ecr_aliases]
    try:
        ensure_packages(echo, dry_run)
        ensure_registry_names(echo, dry_run, add=add, remove=remove)
        eng = ensure_engine(echo, dry_run)
        if eng is None:
            return 0
        ensure_busybox_image(echo, eng, dry_run)
        ensure_run_works(echo, eng, dry_run)
        ensure_base_image(echo, eng, dry_run)
        ensure_build_image(echo, eng, dry_run)
        ensure_service_images(echo, eng, dry_run)
    except ConveyorError as exc:
        fix = f" — fix: {exc.hint}" if exc.hint else ""
        echo(f"✗ {exc}{fix}")
        return 1
    except OSError as exc:  # a file we write (containers.conf, a tar): permissions, disk space
        echo(f"✗ {exc} — fix: run `sudo conveyor setup`, or free disk space and run it again")
        return 1
    return 0


def ensure_packages(echo: Echo, dry_run: bool) -> None:
    statuses = checks.package_statuses()
    for status in statuses:
        if status.ok:
            echo(f"✓ {status.name} {status.detail}")
    missing = [s.name for s in statuses if not s.ok]
    if not missing:
        return
    fix = c.install_fix(missing)
    if shutil.which("apt-get") is None:
        raise SetupFailed(f"{', '.join(missing)}: not installed and there is no apt-get here",
                          hint=f"install them with your package manager ({fix} on Debian)")
    if not checks.is_root() and not dry_run:
        raise SetupFailed(f"{', '.join(missing)}: not installed, and installing needs root",
                          hint=f"sudo {fix}, or run `sudo conveyor setup`")
    echo(f"→ installing {', '.join(missing)}…")
    try:
        run(apt_update(), dry_run=dry_run)
        run(Command(["apt-get", "install", "-y", *missing], env=c.APT_ENV, timeout=c.APT_TIMEOUT),
            dry_run=dry_run)
    except ConveyorError as exc:
        raise SetupFailed(f"installing {', '.join(missing)} failed: {exc}",
                          hint=f"apt-get update && {fix}") from exc
    if dry_run:
        return
    for status in checks.package_statuses([p for p in c.PACKAGES if p.name in missing]):
        if not status.ok:
            raise SetupFailed(f"{status.name}: still not installed after apt-get", hint=fix)
        echo(f"✓ {status.name} {status.detail}")


def ensure_registry_names(echo: Echo, dry_run: bool, *, hosts: str | None = None,
                          dropin: str | None = None, port: int | None = None,
                          add: Sequence[EcrAlias] = (), remove: Sequence[str] = ()) -> None:
    """The local ECR-style registry host resolves and is plain HTTP for podman and its Docker
    API, and so do the ECR aliases (those there, plus `add`, minus the hosts in `remove`). One
    line each: ✓ when already so, → when written."""
    hosts = hosts or c.hosts_path()
    ensure_hosts_entry(echo, hosts, dry_run)
    aliases = ensure_ecr_aliases(echo, hosts, add, remove, dry_run)
    ensure_registries_dropin(echo, dropin or c.registries_dropin_path(),
                             c.registry_port() if port is None else port, dry_run, aliases)


def ensure_hosts_entry(echo: Echo, path: str, dry_run: bool) -> None:
    status = checks.hosts_status(path)
    if status.ok:
        echo(status.line())
        return
    line = uris.hosts_line()
    echo(f"→ adding {checks.registry_host_name()} → {uris.LOCAL_IP} to {path}")
    merged = uris.hosts_with_entry(checks.conf_text(path))
    if dry_run:
        echo(f"$ (append to {path}: {line!r})")
        return
    shown = line.replace("	", " ")
    _write_system_file(path, merged, f"run `sudo conveyor setup`, or add the line yourself: "
                                     f"echo '{shown}' | sudo tee -a {path}")


def ensure_ecr_aliases(echo: Echo, path: str, add: Sequence[EcrAlias], remove: Sequence[str],
                       dry_run: bool) -> list[EcrAlias]:
    """The alias lines of the hosts file with `add` in and the hosts in `remove` out; returns
    the aliases it then holds (in dry-run mode, would hold)."""
    text = checks.conf_text(path)
    planned = text
    for host in remove:
        planned = hosts_without_alias(planned, host)
    for alias in add:
        other = foreign_address(planned, alias.host)
        if other is not None:
            raise SetupFailed(f"{alias.host} is already mapped to {other} in {path} by a line "
                              f"Conveyor did not write",
                              hint=f"delete that line, then run `conveyor setup --ecr-alias "
                                   f"{alias.host}` again")
        planned = hosts_with_alias(planned, alias)
    before = {alias.host: alias for alias in aliases_in_hosts(text)}
    after = aliases_in_hosts(planned)
    for host in remove:
        echo(f"→ removing ECR alias {host} from {path}: it resolves to the real registry again"
             if host in before else f"✓ ecr alias: {host} is not configured (nothing to remove)")
    for alias in after:
        if before.get(alias.host) == alias:
            echo(f"✓ ecr alias: {alias.host} → {alias.ip} ({path})")
        else:
            echo(f"→ adding ECR alias {alias.host} → {alias.ip} to {path}: this machine can no "
                 f"longer reach that real ECR registry (undo: conveyor setup --remove-ecr-alias "
                 f"{alias.host}); restart a running daemon so it answers for it")
    if planned != text and dry_run:
        echo(f"$ (write {path}: the ECR alias lines {[alias_line(a) for a in after]!r})")
    elif planned != text:
        again = " ".join(["sudo conveyor setup", *(f"--ecr-alias {a.host}" for a in add),
                          *(f"--remove-ecr-alias {host}" for host in remove)])
        _write_system_file(path, planned, f"run `{again}`")
    return after


def ensure_registries_dropin(echo: Echo, path: str, port: int, dry_run: bool,
                             aliases: Sequence[EcrAlias] = ()) -> None:
    status = checks.registries_dropin_status(path, port, aliases)
    if status.ok:
        echo(status.line())
        return
    text = uris.registries_dropin(port, alias_hosts=alias_hosts(aliases))
    verb = "replacing" if os.path.exists(path) else "adding"
    echo(f"→ {verb} {path} ({', '.join(checks.registry_addresses(port, aliases))} over plain "
         f"HTTP)")
    if dry_run:
        echo(f"$ (write {path}: {text!r})")
        return
    _write_system_file(path, text, "run `sudo conveyor setup`")


def _write_system_file(path: str, text: str, hint: str) -> None:
    try:
        write_atomic(path, text)
    except PermissionError as exc:
        raise SetupFailed(f"cannot write {path}: {exc.strerror}", hint=hint) from exc


def write_atomic(path: str, text: str, default_mode: int = 0o644) -> None:
    """Replace `path` (through a symlink, keeping its mode and owner) with `text`: written to a
    temporary file beside it and renamed over it, so readers see the old or the new file, never
    half of one. A file that cannot be renamed over (a bind mount, like a container's
    /etc/hosts) is rewritten in place instead — appending when only lines were added."""
    path = os.path.realpath(path)
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    try:
        st: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        st = None
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".conveyor-tmp",
                               dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, stat.S_IMODE(st.st_mode) if st else default_mode)
        if st and (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
            try:
                os.chown(tmp, st.st_uid, st.st_gid)
            except PermissionError:
                pass
        try:
            os.replace(tmp, path)
        except OSError as exc:
            if exc.errno not in (errno.EBUSY, errno.EXDEV):
                raise
            _rewrite_in_place(path, text)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _rewrite_in_place(path: str, text: str) -> None:
    with open(path, "r+", encoding="utf-8") as f:
        current = f.read()
        if text.startswith(current):
            f.write(text[len(current):])  # at the end: only the new lines
        else:
            f.seek(0)
            f.write(text)
            f.truncate()


def ensure_engine(echo: Echo, dry_run: bool) -> ContainerEngine | None:
    eng = checks.engine()
    status = checks.engine_status(eng)
    if not status.ok and dry_run:
        echo(f"→ the image steps need {eng.name}; they will run once it is installed")
        return None
    if not status.ok:
        raise SetupFailed(f"{eng.name}: {status.detail}",
                          hint=c.install_fix(["podman"]) if eng.is_podman else "start Docker")
    echo(status.line())
    return eng


def ensure_busybox_image(echo: Echo, eng: ContainerEngine, dry_run: bool) -> None:
    origin = checks.image_origin(eng, c.BUSYBOX_IMAGE)
    if origin is not None:
        echo(f"✓ {c.BUSYBOX_IMAGE} ({origin or 'present'})")
        return
    echo(f"→ building {c.BUSYBOX_IMAGE} from busybox-static…")
    version = checks.installed_packages(["busybox-static"]).get("busybox-static", "")
    origin = f"busybox-static {c.short_version(version)}".strip()
    with tempfile.TemporaryDirectory(prefix="conveyor-busybox-") as tmp:
        tar = os.path.join(tmp, "rootfs.tar")
        if dry_run:
            echo(f"$ (write {c.BUSYBOX_BINARY} and its applet links to {tar})")
        else:
            applets = run(images.busybox_applets_command(), dry_run=False).stdout.split()
            images.write_busybox_rootfs(tar, applets)
        run_step(eng.import_image(tar, c.BUSYBOX_IMAGE, images.busybox_import_changes(origin)),
                  f"importing {c.BUSYBOX_IMAGE}", dry_run)
    if not dry_run:
        echo(f"✓ {c.BUSYBOX_IMAGE} ({origin})")


def ensure_run_works(echo: Echo, eng: ContainerEngine, dry_run: bool) -> None:
    if dry_run and not containers.image_exists(eng, c.BUSYBOX_IMAGE):
        echo(f"$ {eng.run(c.BUSYBOX_IMAGE, ['true'], rm=True)}")
        return
    status = checks.probe_status(eng)
    if status.ok:
        echo(f"✓ {status.name} {status.detail}")
        return
    if not (eng.is_podman and c.needs_sandbox_settings(status.detail)
            and not checks.sandbox_settings_present()):
        raise SetupFailed(f"{status.name} fails: {status.detail}", hint=status.fix)
    conf = c.containers_conf_path()
    echo(f"→ {status.name} fails here ({status.detail}); adding {c.describe_settings()} "
         f"to {conf}")
    write_sandbox_settings(conf, echo, dry_run)
    if dry_run:
        return
    status = checks.probe_status(eng)
    if not status.ok:
        raise SetupFailed(f"{status.name} still fails with {c.describe_settings()}: "
                          f"{status.detail}", hint=status.fix)
    echo(f"✓ {status.name} {status.detail}")


def write_sandbox_settings(path: str, echo: Echo, dry_run: bool) -> None:
    """Merge SANDBOX_SETTINGS into `path`, keeping what is there; atomic replace."""
    current = checks.conf_text(path)
    merged = merge_settings(current, c.SANDBOX_SETTINGS, path)
    if merged == current:
        return
    if dry_run:
        echo(f"$ (write {path}: {merged!r})")
        return
    write_atomic(path, merged)


def ensure_base_image(echo: Echo, eng: ContainerEngine, dry_run: bool) -> None:
    origin = checks.image_origin(eng, c.BASE_IMAGE)
    if origin is not None:
        echo(f"✓ {c.BASE_IMAGE} ({origin or 'present'})")
        return
    echo(f"→ pulling {c.UPSTREAM_PYTHON_IMAGE}…")
    pull = eng.pull(c.UPSTREAM_PYTHON_IMAGE, timeout=c.PULL_TIMEOUT)
    pulled = try_step(pull, dry_run)
    if pulled.ok:
        run_step(eng.tag(c.UPSTREAM_PYTHON_IMAGE, c.BASE_IMAGE), "tagging", dry_run)
        if not dry_run:
            echo(f"✓ {c.BASE_IMAGE} ({c.ORIGIN_PULLED})")
            return
    origin = images.base_origin()
    if dry_run:
        echo(f"→ if the pull fails: building {c.BASE_IMAGE} with {origin}")
    else:
        echo(f"→ pull failed ({tail(pulled.stderr, 1)}); building {c.BASE_IMAGE} with {origin} "
             f"(about 40 s)…")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="conveyor-base-", dir=big_tmp()) as tmp:
        tar = os.path.join(tmp, "rootfs.tar")
        run_step(images.mmdebstrap_command(tar), f"building {c.BASE_IMAGE} with mmdebstrap",
                  dry_run, hint=MMDEBSTRAP_FIX)
        run_step(eng.import_image(tar, c.BASE_IMAGE, images.base_import_changes(origin)),
                  f"importing {c.BASE_IMAGE}", dry_run)
    if not dry_run:
        echo(f"✓ {c.BASE_IMAGE} ({origin}, {time.monotonic() - started:.0f} s)")
