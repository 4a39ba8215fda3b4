"""How Conveyor makes its images without a registry.

BUSYBOX_IMAGE: a root filesystem tar holding Debian's static /bin/busybox and a symlink per
applet, imported FROM scratch. BASE_IMAGE: a Debian root filesystem with Python made by
mmdebstrap from Debian's packages, imported (used only when pulling python:3.12-slim fails).
BUILD_IMAGE: BUILD_ROOTFS_IMAGE (mmdebstrap, BUILD_PACKAGES) plus a layer holding the docker
client taken from Debian's docker.io package (as DOCKER_CLIENT_PATH), the docker wrapper in front
of it (stack/docker_shim.py) and the aws shim. All carry the ORIGIN_LABEL
saying how they were made; the build images also carry a RECIPE_LABEL (see `build_recipe`).

    >>> str(mmdebstrap_command("/tmp/base.tar"))
    'mmdebstrap --variant=apt --include=python3,python-is-python3,ca-certificates --format=tar bookworm /tmp/base.tar'
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
from collections.abc import Iterable

from conveyor.providers.local.process import Command
from conveyor.stack import aws_shim, docker_shim
from conveyor.stack.components import (
    APT_ENV,
    APT_TIMEOUT,
    BASE_CMD,
    BASE_PACKAGES,
    BUILD_CMD,
    BUILD_ENV,
    BUILD_PACKAGES,
    BUILD_ROOTFS_IMAGE,
    BUILD_TOOLS_DIR,
    BUSYBOX_BINARY,
    BUSYBOX_CMD,
    DEBIAN_SUITE,
    DOCKER_CLIENT_PACKAGE,
    DOCKER_CLIENT_PATH,
    MMDEBSTRAP_TIMEOUT,
    ORIGIN_LABEL,
    RECIPE_LABEL,
    short_version,
)

#: The second stage of BUILD_IMAGE; its context holds just the files it copies: the real
#: client as `docker-client`, the wrapper as `docker`, and `aws`.
BUILD_CONTAINERFILE = (f"FROM {BUILD_ROOTFS_IMAGE}\n"
                       f"COPY docker-client {DOCKER_CLIENT_PATH}\n"
                       f"COPY docker aws {BUILD_TOOLS_DIR}/\n")

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


def mmdebstrap_command(tar_path: str, packages: Iterable[str] = BASE_PACKAGES) -> Command:
    return Command(["mmdebstrap", "--variant=apt", "--include=" + ",".join(packages),
                    "--format=tar", DEBIAN_SUITE, tar_path], timeout=MMDEBSTRAP_TIMEOUT)


def base_origin() -> str:
    """How BASE_IMAGE was made, as recorded in its label.

    >>> base_origin()
    'mmdebstrap bookworm python3,python-is-python3,ca-certificates'
    """
    return f"mmdebstrap {DEBIAN_SUITE} {','.join(BASE_PACKAGES)}"


def base_import_changes(origin: str) -> list[str]:
    return [f"CMD {BASE_CMD}", "ENV LANG=C.UTF-8", _label(origin)]


# --- BUILD_IMAGE -----------------------------------------------------------------------------

def build_rootfs_origin() -> str:
    return f"mmdebstrap {DEBIAN_SUITE} {','.join(BUILD_PACKAGES)}"


def build_rootfs_changes() -> list[str]:
    """The import changes of BUILD_ROOTFS_IMAGE, its recipe label last."""
    return [*_build_rootfs_settings(), _label(build_rootfs_recipe(), RECIPE_LABEL)]


def build_rootfs_recipe() -> str:
    return _digest(_build_rootfs_settings())


def build_recipe() -> str:
    """A digest of everything BUILD_IMAGE is made from (rootfs recipe, Containerfile, shims);
    stored in its RECIPE_LABEL, so a changed recipe shows the image is out of date."""
    return _digest([build_rootfs_recipe(), BUILD_CONTAINERFILE, aws_shim_source(),
                    docker_shim_source()])


def _build_rootfs_settings() -> list[str]:
    """CMD, ENV and the origin label (which names the packages)."""
    return [f"CMD {BUILD_CMD}", *(f"ENV {pair}" for pair in BUILD_ENV),
            _label(build_rootfs_origin())]


def build_origin(docker_version: str) -> str:
    """
    >>> build_origin("20.10.24+dfsg1-1+deb12u1+b6")
    'mmdebstrap bookworm + docker.io 20.10.24 client + docker login and aws shims'
    """
    return (f"mmdebstrap {DEBIAN_SUITE} + {DOCKER_CLIENT_PACKAGE} {short_version(docker_version)} "
            f"client + docker login and aws shims")


def docker_client_download_command(directory: str) -> Command:
    """Fetch the docker.io .deb into `directory` (it is not installed; only its client is used)."""
    return Command(["apt-get", "download", DOCKER_CLIENT_PACKAGE], cwd=directory, env=APT_ENV,
                   timeout=APT_TIMEOUT)


def deb_version_command(deb: str) -> Command:
    return Command(["dpkg-deb", "--field", deb, "Version"])


def deb_extract_command(deb: str, directory: str) -> Command:
    return Command(["dpkg-deb", "--extract", deb, directory])


def aws_shim_source() -> str:
    with open(aws_shim.__file__, encoding="utf-8") as f:
        return f.read()


def docker_shim_source() -> str:
    with open(docker_shim.__file__, encoding="utf-8") as f:
        return f.read()


def write_build_context(directory: str, docker_client: str) -> None:
    """The second stage's context: Containerfile, the real docker client (`docker-client`), the
    docker wrapper (`docker`) and the aws shim, executables 0755."""
    os.makedirs(directory, exist_ok=True)
    shutil.copyfile(docker_client, os.path.join(directory, "docker-client"))
    for name, source in (("docker", docker_shim_source()), ("aws", aws_shim_source())):
        with open(os.path.join(directory, name), "w", encoding="utf-8") as f:
            f.write(source)
    with open(os.path.join(directory, "Containerfile"), "w", encoding="utf-8") as f:
        f.write(BUILD_CONTAINERFILE)
    for name in ("docker-client", "docker", "aws"):
        os.chmod(os.path.join(directory, name), 0o755)


def _digest(parts: Iterable[str]) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def _label(value: str, key: str = ORIGIN_LABEL) -> str:
    return f'LABEL {key}="{value}"'


def _info(name: str, kind: bytes, mode: int, *, size: int = 0,
          linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.linkname, info.mtime = kind, mode, size, linkname, _EPOCH
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info
