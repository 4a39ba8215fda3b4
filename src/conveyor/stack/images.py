"""How Conveyor makes its two images without a registry.

BUSYBOX_IMAGE: a root filesystem tar holding Debian's static /bin/busybox and a symlink per
applet, imported FROM scratch. BASE_IMAGE: a Debian root filesystem with Python made by
mmdebstrap from Debian's packages, imported (used only when pulling python:3.12-slim fails).
Both carry the ORIGIN_LABEL saying how they were made.

    >>> str(mmdebstrap_command("/tmp/base.tar"))
    'mmdebstrap --variant=apt --include=python3,python-is-python3,ca-certificates --format=tar bookworm /tmp/base.tar'
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable

from conveyor.providers.local.process import Command
from conveyor.stack.components import (
    BASE_CMD, BASE_PACKAGES, BUSYBOX_BINARY, BUSYBOX_CMD, DEBIAN_SUITE, MMDEBSTRAP_TIMEOUT,
    ORIGIN_LABEL)

#: Fixed file times make the busybox layer byte-identical on every build.
_EPOCH = 0
_DIRS = {"bin": 0o755, "sbin": 0o755, "usr": 0o755, "usr/bin": 0o755, "usr/sbin": 0o755,
         "etc": 0o755, "root": 0o700, "tmp": 0o1777, "var": 0o755, "var/tmp": 0o1777,
         "proc": 0o755, "sys": 0o755, "dev": 0o755}
_FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n"
                  "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
}


def busybox_applets_command(busybox: str = BUSYBOX_BINARY) -> Command:
    """Lists the applets with their install paths, e.g. `usr/bin/wget`."""
    return Command([busybox, "--list-full"])


def write_busybox_rootfs(tar_path: str, applets: Iterable[str],
                         busybox: str = BUSYBOX_BINARY) -> int:
    """Write the busybox root filesystem tar; returns how many applet links it holds."""
    links = sorted({a.strip().lstrip("/") for a in applets if a.strip()} - {"bin/busybox"})
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        for path, mode in _DIRS.items():
            tar.addfile(_info(path, tarfile.DIRTYPE, mode))
        with open(busybox, "rb") as binary:
            data = binary.read()
        tar.addfile(_info("bin/busybox", tarfile.REGTYPE, 0o755, size=len(data)), io.BytesIO(data))
        for path, text in _FILES.items():
            raw = text.encode()
            tar.addfile(_info(path, tarfile.REGTYPE, 0o644, size=len(raw)), io.BytesIO(raw))
        parents = {"/".join(link.split("/")[:i]) for link in links
                   for i in range(1, link.count("/") + 1)}
        for parent in sorted(parents - set(_DIRS)):
            tar.addfile(_info(parent, tarfile.DIRTYPE, 0o755))
        for link in links:
            tar.addfile(_info(link, tarfile.SYMTYPE, 0o777, linkname="/bin/busybox"))
    return len(links)


def busybox_import_changes(origin: str) -> list[str]:
    return [f"CMD {BUSYBOX_CMD}", _label(origin)]


def mmdebstrap_command(tar_path: str) -> Command:
    return Command(["mmdebstrap", "--variant=apt", "--include=" + ",".join(BASE_PACKAGES),
                    "--format=tar", DEBIAN_SUITE, tar_path], timeout=MMDEBSTRAP_TIMEOUT)


def base_origin() -> str:
    """How BASE_IMAGE was made, as recorded in its label.

    >>> base_origin()
    'mmdebstrap bookworm python3,python-is-python3,ca-certificates'
    """
    return f"mmdebstrap {DEBIAN_SUITE} {','.join(BASE_PACKAGES)}"


def base_import_changes(origin: str) -> list[str]:
    return [f"CMD {BASE_CMD}", "ENV LANG=C.UTF-8", _label(origin)]


def _label(origin: str) -> str:
    return f'LABEL {ORIGIN_LABEL}="{origin}"'


def _info(name: str, kind: bytes, mode: int, *, size: int = 0,
          linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.linkname, info.mtime = kind, mode, size, linkname, _EPOCH
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info
