"""How Conveyor makes its images without a registry.

BUSYBOX_IMAGE: a root filesystem tar holding Debian's static /bin/busybox and a symlink per
applet, imported FROM scratch. BASE_IMAGE: a Debian root filesystem with Python made by
mmdebstrap from Debian's packages, imported (used only when pulling python:3.12-slim fails).
BUILD_IMAGE, the standard build image: BUILD_ROOTFS_IMAGE (mmdebstrap of BUILD_PACKAGES,
STANDARD_PACKAGES and BACKPORT_PACKAGES) plus the layers of stack/standard_image.py (the host's
CA certificates, Node majors, yarn, pnpm, the AWS CLI, then the docker client from Debian's
docker.io package as DOCKER_CLIENT_PATH, the docker wrapper in front of it
(the package stack/docker_wrapper and its launcher) and the aws shim), topped by a label-only layer carrying the runtime
catalog. All carry the ORIGIN_LABEL saying how they were made; the build images also carry a
RECIPE_LABEL (see `build_recipe`).

    >>> str(mmdebstrap_command("/tmp/base.tar"))
    'mmdebstrap --variant=apt --include=python3,python-is-python3,ca-certificates --format=tar bookworm /tmp/base.tar'
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from collections.abc import Iterable, Sequence

from conveyor.providers.local.process import Command
from conveyor.stack import aws_shim, standard_image
from conveyor.stack.components import (
    APT_ENV,
    APT_TIMEOUT,
    AWS_CLI_PYTHON,
    AWS_CLI_REQUIREMENT,
    BACKPORT_PACKAGES,
    BASE_CMD,
    BASE_PACKAGES,
    BUILD_CMD,
    BUILD_ENV,
    BUILD_PACKAGES,
    BUILD_SOURCES,
    BUSYBOX_BINARY,
    BUSYBOX_CMD,
    DEBIAN_SUITE,
    DOCKER_CLIENT_PACKAGE,
    MMDEBSTRAP_TIMEOUT,
    NODE_MAJORS,
    NODE_TOOLS,
    ORIGIN_LABEL,
    RECIPE_LABEL,
    STANDARD_PACKAGES,
    short_version,
)

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


def mmdebstrap_command(tar_path: str, packages: Iterable[str] = BASE_PACKAGES,
                       sources: Sequence[str] = ()) -> Command:
    """`sources` are apt source lines (mmdebstrap's default mirror when empty)."""
    return Command(["mmdebstrap", "--variant=apt", "--include=" + ",".join(packages),
                    "--format=tar", DEBIAN_SUITE, tar_path, *sources],
                   timeout=MMDEBSTRAP_TIMEOUT)


def base_origin() -> str:
    """How BASE_IMAGE was made, as recorded in its label.

    >>> base_origin()
    'mmdebstrap bookworm python3,python-is-python3,ca-certificates'
    """
    return f"mmdebstrap {DEBIAN_SUITE} {','.join(BASE_PACKAGES)}"


def base_import_changes(origin: str) -> list[str]:
    return [f"CMD {BASE_CMD}", "ENV LANG=C.UTF-8", _label(origin)]


# --- BUILD_IMAGE -----------------------------------------------------------------------------

def build_rootfs_packages() -> tuple[str, ...]:
    return (*BUILD_PACKAGES, *STANDARD_PACKAGES, *BACKPORT_PACKAGES)


def build_rootfs_command(tar_path: str) -> Command:
    return mmdebstrap_command(tar_path, build_rootfs_packages(), BUILD_SOURCES)


def build_rootfs_origin() -> str:
    return f"mmdebstrap {DEBIAN_SUITE} {','.join(build_rootfs_packages())}"


def build_rootfs_changes() -> list[str]:
    """The import changes of BUILD_ROOTFS_IMAGE, its recipe label last."""
    return [*_build_rootfs_settings(), _label(build_rootfs_recipe(), RECIPE_LABEL)]


def build_rootfs_recipe() -> str:
    return _digest([*_build_rootfs_settings(), *BUILD_SOURCES])


def build_recipe(ca_certificates: Sequence[str] | None = None) -> str:
    """A digest of everything BUILD_IMAGE is made from: the root filesystem's recipe, the
    upper layers' Containerfile and Maven settings, the Node majors and npm tools asked for,
    the AWS CLI requirement, the host's extra CA certificates (a new one rebuilds the image),
    the shims and the probe. Stored in its RECIPE_LABEL, so a changed recipe shows the image is
    out of date. Exact versions resolved at build time (Node 20.x, awscli 1.x) are not part of
    it: they are recorded in the image's labels, and a second setup asks no registry."""
    if ca_certificates is None:
        ca_certificates = standard_image.extra_ca_certificates()
    return _digest([build_rootfs_recipe(), standard_image.STANDARD_CONTAINERFILE,
                    standard_image.MAVEN_SETTINGS_XML, repr(sorted(NODE_MAJORS.items())),
                    repr(sorted(NODE_TOOLS.items())), AWS_CLI_REQUIREMENT, AWS_CLI_PYTHON,
                    *standard_image.ca_digests(ca_certificates), aws_shim_source(),
                    *docker_wrapper_sources(), standard_image.probe_script()])


def _build_rootfs_settings() -> list[str]:
    """CMD, ENV and the origin label (which names the packages)."""
    return [f"CMD {BUILD_CMD}", *(f"ENV {pair}" for pair in BUILD_ENV),
            _label(build_rootfs_origin())]


def build_origin(docker_version: str, extras: Sequence[str] = ()) -> str:
    """
    >>> build_origin("20.10.24+dfsg1-1+deb12u1+b6")
    'mmdebstrap bookworm + docker.io 20.10.24 client + docker login and aws shims'
    >>> build_origin("20.10.24", ["node 20.19.5", "awscli 1.36.0"])[:60]
    'mmdebstrap bookworm + node 20.19.5 + awscli 1.36.0 + docker.'
    """
    middle = "".join(f" + {extra}" for extra in extras)
    return (f"mmdebstrap {DEBIAN_SUITE}{middle} + {DOCKER_CLIENT_PACKAGE} "
            f"{short_version(docker_version)} client + docker login and aws shims")


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


def docker_wrapper_sources() -> list[str]:
    """Every module of the docker wrapper's package (named, so a rename counts) and its launcher:
    a change to any of them rebuilds the image."""
    sources = []
    for path in standard_image.wrapper_files(standard_image.WRAPPER_DIR):
        with open(path, encoding="utf-8") as f:
            sources.append(f"{os.path.basename(path)}\n{f.read()}")
    return [*sources, standard_image.launcher()]


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
