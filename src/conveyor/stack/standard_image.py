"""The standard build image's upper layers, its probe and its runtime catalog.

BUILD_IMAGE is built in three steps (stack/setup.py runs them):
1. BUILD_ROOTFS_IMAGE: mmdebstrap of BUILD_PACKAGES + STANDARD_PACKAGES + the Go backport
   (stack/images.py), cached by its own recipe label — the slow part, done once.
2. STANDARD_CONTAINERFILE on top of it, from a context prepared on the host: the host's extra
   CA certificates (then update-ca-certificates, which also rewrites Java's keystore), the
   Maven settings, Node 20/22 with npm, yarn and pnpm (stack/node_dist.py), the AWS CLI's
   wheels (pip download on the host, installed offline into a venv), then the docker client,
   the docker wrapper (its package and launcher) and the aws shim last, so a shim change rebuilds seconds. The steps run
   from the least to the most often changed, so podman's layer cache keeps the others.
3. A probe container of that image answers every runtime's `--version`; the catalog built from
   the answers (conveyor.build.runtime_catalog) becomes the RUNTIMES_LABEL of a one-line
   `FROM <probed> ` image tagged BUILD_IMAGE. Versions are measured, never assumed.

    >>> [r.home.rsplit("/", 1)[-1] for r in RUNTIMES if r.name == "nodejs"]
    ['18', '20', '22']
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from conveyor.build.runtime_catalog import Catalog, Runtime, RuntimeVersion
from conveyor.providers.local.process import Command
from conveyor.stack import components as c
from conveyor.stack import docker_wrapper

# --- where things go in the image -----------------------------------------------------------

CA_DIR_IN_IMAGE = "/usr/local/share/ca-certificates/conveyor-host"
MAVEN_SETTINGS = "/usr/share/maven/conf/settings.xml"
DEBIAN_MAVEN_REPO = "/usr/share/maven-repo"


def node_dir(major: str) -> str:
    return f"{c.RUNTIMES_DIR}/nodejs/{major}"


#: Debian's Node gets the same layout as the others (node, npm, npx in …/nodejs/18/bin), so
#: selecting it is a PATH entry like any other.
_DEBIAN_NODE_LINKS = " && ".join(
    [f"mkdir -p {node_dir(c.NODE_DEFAULT)}/bin"]
    + [f"ln -sf /usr/bin/{tool} {node_dir(c.NODE_DEFAULT)}/bin/{tool}"
       for tool in ("node", "npm", "npx")])
_NPM_LINKS = " && ".join(
    f"ln -sf ../lib/node_modules/npm/bin/{tool}-cli.js {node_dir(major)}/bin/{tool}"
    for major in sorted(c.NODE_MAJORS, key=int) for tool in ("npm", "npx"))
_TOOL_LINKS = " && ".join([
    f"ln -sf {c.TOOLS_DIR}/yarn/bin/yarn.js {c.BUILD_TOOLS_DIR}/yarn",
    f"ln -sf {c.TOOLS_DIR}/yarn/bin/yarn.js {c.BUILD_TOOLS_DIR}/yarnpkg",
    f"ln -sf {c.TOOLS_DIR}/pnpm/bin/pnpm.cjs {c.BUILD_TOOLS_DIR}/pnpm",
    f"ln -sf {c.TOOLS_DIR}/pnpm/bin/pnpx.cjs {c.BUILD_TOOLS_DIR}/pnpx"])

def containerfile(rootfs_image: str, aws_cli_version: str | None = None) -> str:
    """The upper layers on `rootfs_image`. The context holds: ca/ (the host's extra CAs, maybe
    none), settings.xml, runtimes/ (nodejs/<major>/ with lib/node_modules/npm), tools/ (yarn,
    pnpm), wheels/ (the AWS CLI and its dependencies; bind-mounted while pip installs them, so
    no layer keeps the 22 MB of wheels), docker-client, docker_wrapper/ (the wrapper's modules),
    docker (its launcher), aws.

    `aws_cli_version` pins the install to the wheel downloaded: podman caches a RUN by its
    text, not by what is bind-mounted, so a newer awscli must change the text. (The recipe
    digests the version-less text: a second setup must not need to know the version.)"""
    requirement = c.AWS_CLI_REQUIREMENT + (f"=={aws_cli_version}" if aws_cli_version else "")
    return "\n".join([
        f"FROM {rootfs_image}",
        f"COPY ca/ {CA_DIR_IN_IMAGE}/",
        "RUN update-ca-certificates",
        f"COPY settings.xml {MAVEN_SETTINGS}",
        f"COPY runtimes/ {c.RUNTIMES_DIR}/",
        f"RUN {_DEBIAN_NODE_LINKS} && {_NPM_LINKS}",
        f"COPY tools/ {c.TOOLS_DIR}/",
        f"RUN {_TOOL_LINKS}",
        f"RUN --mount=type=bind,source=wheels,target=/tmp/aws-cli-wheels python3 -m venv "
        f"{c.AWS_CLI_DIR} && {c.AWS_CLI_DIR}/bin/pip install --quiet --no-index --find-links "
        f"/tmp/aws-cli-wheels {requirement} && rm -rf /root/.cache/pip",
        *(f"ENV {pair}" for pair in c.STANDARD_ENV),
        f"COPY docker-client {c.DOCKER_CLIENT_PATH}",
        f"COPY {c.WRAPPER_PACKAGE}/ {c.WRAPPER_LIB_DIR}/{c.WRAPPER_PACKAGE}/",
        f"COPY docker aws {c.BUILD_TOOLS_DIR}/",
        "",
    ])


STANDARD_CONTAINERFILE = containerfile(c.BUILD_ROOTFS_IMAGE)

#: The Maven settings: Debian's packaged plugins and artifacts (/usr/share/maven-repo) are
#: tried first, then Central. Debian's repository has no checksum files, hence `ignore` for it
#: (a local directory written by dpkg, not a download). Offline, a project whose plugin versions are the ones Debian
#: packages builds (docs/build-images.md lists them); online, everything else still comes from
#: Central.
MAVEN_SETTINGS_XML = f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Conveyor's standard build image: Debian's Maven repository first, then Central. -->
<settings xmlns="http://maven.apache.org/SETTINGS/1.0.0"
          xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
          xsi:schemaLocation="http://maven.apache.org/SETTINGS/1.0.0 https://maven.apache.org/xsd/settings-1.0.0.xsd">
  <profiles>
    <profile>
      <id>debian-maven-repo</id>
      <repositories>
        <repository>
          <id>debian</id>
          <url>file://{DEBIAN_MAVEN_REPO}</url>
          <releases><enabled>true</enabled><checksumPolicy>ignore</checksumPolicy></releases>
          <snapshots><enabled>false</enabled></snapshots>
        </repository>
      </repositories>
      <pluginRepositories>
        <pluginRepository>
          <id>debian</id>
          <url>file://{DEBIAN_MAVEN_REPO}</url>
          <releases><enabled>true</enabled><checksumPolicy>ignore</checksumPolicy></releases>
          <snapshots><enabled>false</enabled></snapshots>
        </pluginRepository>
      </pluginRepositories>
    </profile>
  </profiles>
  <activeProfiles>
    <activeProfile>debian-maven-repo</activeProfile>
  </activeProfiles>
</settings>
"""


# --- the host's extra CA certificates ------------------------------------------------------

def extra_ca_dir() -> str:
    return os.environ.get(c.EXTRA_CA_DIR_ENV) or c.EXTRA_CA_DIR


def extra_ca_certificates(directory: str | None = None) -> list[str]:
    """The host's extra CA certificates (`*.crt` below the directory), sorted."""
    directory = directory or extra_ca_dir()
    return sorted(glob.glob(os.path.join(directory, "**", "*.crt"), recursive=True))


def ca_digests(paths: Iterable[str]) -> list[str]:
    """`name:sha256` per certificate: the recipe follows them (a new CA rebuilds the image)."""
    digests = []
    for path in paths:
        with open(path, "rb") as f:
            digests.append(f"{os.path.basename(path)}:{hashlib.sha256(f.read()).hexdigest()}")
    return digests


def ca_file_names(paths: Sequence[str]) -> list[str]:
    """Names in the image: the base name, made unique when two directories share one.

    >>> ca_file_names(["/a/corp.crt", "/a/sub/corp.crt", "/a/b.crt"])
    ['corp.crt', 'corp-2.crt', 'b.crt']
    """
    seen: dict[str, int] = {}
    names = []
    for path in paths:
        base = os.path.basename(path)
        seen[base] = seen.get(base, 0) + 1
        stem = base[:-4] if base.endswith(".crt") else base
        names.append(base if seen[base] == 1 else f"{stem}-{seen[base]}.crt")
    return names


# --- the AWS CLI from PyPI -----------------------------------------------------------------

def aws_cli_download_command(directory: str, python: str = c.AWS_CLI_PYTHON) -> Command:
    """Wheels of the AWS CLI v1 and its dependencies for the image's CPython (binary only:
    nothing is built on the host or in the image)."""
    return Command(["python3", "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                    "--only-binary=:all:", "--python-version", python, "--implementation", "cp",
                    "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_17_x86_64",
                    "--platform", "any", "--dest", directory, c.AWS_CLI_REQUIREMENT],
                   timeout=c.DOWNLOAD_TIMEOUT)


def wheel_version(filenames: Iterable[str], project: str) -> str | None:
    """The version of `project` among downloaded wheel file names.

    >>> wheel_version(["botocore-1.35.0-py3-none-any.whl", "awscli-1.34.0-py3-none-any.whl"], "awscli")
    '1.34.0'
    """
    for name in filenames:
        parts = os.path.basename(name).split("-")
        if len(parts) >= 2 and parts[0].lower().replace("_", "-") == project:
            return parts[1]
    return None


# --- the build context ---------------------------------------------------------------------

@dataclass
class Context:
    """What goes into the standard layers' build context; paths on the host."""

    directory: str
    docker_client: str
    docker_wrapper: str  # the package directory (WRAPPER_DIR)
    aws_shim: str
    node: Mapping[str, tuple[str, str]]  # major → (node tgz, npm tgz)
    tools: Mapping[str, str]  # yarn/pnpm → tgz
    wheels: str  # a directory of .whl
    ca_certificates: Sequence[str] = field(default_factory=list)


def write_context(ctx: Context, unpack: Callable[[str, str], None]) -> None:
    """Lay the context out (see STANDARD_CONTAINERFILE); `unpack(tgz, target)` unpacks an npm
    tarball (node_dist.unpack)."""
    d = ctx.directory
    os.makedirs(os.path.join(d, "ca"), exist_ok=True)
    for path, name in zip(ctx.ca_certificates, ca_file_names(ctx.ca_certificates), strict=True):
        shutil.copyfile(path, os.path.join(d, "ca", name))
    _write(os.path.join(d, "settings.xml"), MAVEN_SETTINGS_XML)
    for major, (node_tgz, npm_tgz) in ctx.node.items():
        home = os.path.join(d, "runtimes", "nodejs", major)
        unpack(node_tgz, home)
        unpack(npm_tgz, os.path.join(home, "lib", "node_modules", "npm"))
    for name, tgz in ctx.tools.items():
        unpack(tgz, os.path.join(d, "tools", name))
    shutil.copytree(ctx.wheels, os.path.join(d, "wheels"), dirs_exist_ok=True)
    package = os.path.join(d, c.WRAPPER_PACKAGE)
    os.makedirs(package, exist_ok=True)
    for source in wrapper_files(ctx.docker_wrapper):
        shutil.copyfile(source, os.path.join(package, os.path.basename(source)))
        os.chmod(os.path.join(package, os.path.basename(source)), 0o644)
    _write(os.path.join(d, "docker"), launcher())
    for source, name in ((ctx.docker_client, "docker-client"), (ctx.aws_shim, "aws")):
        shutil.copyfile(source, os.path.join(d, name))
    for name in ("docker-client", "docker", "aws"):
        os.chmod(os.path.join(d, name), 0o755)
    wheels = os.listdir(os.path.join(d, "wheels"))
    _write(os.path.join(d, "Containerfile"),
           containerfile(c.BUILD_ROOTFS_IMAGE, wheel_version(wheels, c.AWS_CLI_REQUIREMENT)))
    fix_times(d)


#: The docker wrapper's package in this tree (copied whole into the image).
WRAPPER_DIR = os.path.dirname(docker_wrapper.__file__)


def wrapper_files(package_dir: str = WRAPPER_DIR) -> list[str]:
    """The wrapper package's modules, sorted: what the image gets (no __pycache__)."""
    return sorted(glob.glob(os.path.join(package_dir, "*.py")))


def launcher(lib_dir: str = c.WRAPPER_LIB_DIR) -> str:
    """The image's /usr/local/bin/docker: the wrapper package imported from `lib_dir`, first on
    the path, by the image's python3 (which has no Conveyor installed).

    >>> print(launcher("/lib/x").splitlines()[-1])
    main()
    """
    return (f'#!/usr/bin/python3\n"""docker: Conveyor\'s wrapper in front of the real client '
            f'(the package {c.WRAPPER_PACKAGE} in {lib_dir})."""\n'
            f"import sys\n\nsys.path.insert(0, {lib_dir!r})\n"
            f"from {c.WRAPPER_PACKAGE}.main import main\n\nmain()\n")


def fix_times(directory: str, when: float = 0) -> None:
    """One fixed mtime for everything in the context: podman's layer cache keys a COPY by its
    files' metadata too, so freshly written but identical files (a CA certificate, the Maven
    settings, an unpacked Node) would otherwise rebuild every layer above them."""
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            os.utime(os.path.join(root, name), (when, when), follow_symlinks=False)
    os.utime(directory, (when, when))


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


# --- what the image provides: probed, then catalogued ------------------------------------------

@dataclass(frozen=True)
class RuntimeSpec:
    """A runtime version the image is meant to hold: how to ask it its version, how to read
    the answer, and what selecting it sets. The catalog key is derived from the answer
    (`key_digits` numbers of it), unless `key` fixes it (java's "corretto17")."""

    name: str
    home: str  # the directory whose bin/ selecting it puts first on PATH ("" for none)
    argv: tuple[str, ...]
    pattern: str  # a regex whose group 1 is the version in the tool's answer
    key_digits: int = 2
    key: str | None = None
    aliases: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    debian_package: str | None = None  # its source when it comes from Debian
    npm_package: str | None = None  # … or from the npm registry

    @property
    def probe_id(self) -> str:
        return f"{self.name}:{self.home or self.argv[0]}"


def _node(major: str) -> RuntimeSpec:
    home = node_dir(major)
    debian = major == c.NODE_DEFAULT
    return RuntimeSpec("nodejs", home, (f"{home}/bin/node", "--version"), r"v(\d+\.\d+\.\d+)",
                       key_digits=1, debian_package="nodejs" if debian else None,
                       npm_package=None if debian else c.NODE_PACKAGE)


def _go(minor: str) -> RuntimeSpec:
    home = f"/usr/lib/go-{minor}"
    return RuntimeSpec("golang", home, (f"{home}/bin/go", "version"), r"go(\d+\.\d+(?:\.\d+)?)",
                       env={"GOROOT": home}, debian_package=f"golang-{minor}-go")


#: Every runtime version the standard image is built to provide, oldest first per runtime.
RUNTIMES: tuple[RuntimeSpec, ...] = (
    *(_node(major) for major in sorted({c.NODE_DEFAULT, *c.NODE_MAJORS}, key=int)),
    RuntimeSpec("python", "", ("python3", "--version"), r"Python (\d+\.\d+\.\d+)",
                debian_package="python3.11"),
    RuntimeSpec("java", c.JAVA_HOME, (f"{c.JAVA_HOME}/bin/java", "--version"),
                r"openjdk (\d+(?:\.\d+)*)", key="corretto17", aliases=("openjdk17",),
                env={"JAVA_HOME": c.JAVA_HOME}, debian_package="openjdk-17-jdk-headless"),
    _go("1.19"),
    *(_go(p.removeprefix("golang-").removesuffix("-go")) for p in c.BACKPORT_PACKAGES
      if p.startswith("golang-")),
    RuntimeSpec("ruby", "", ("ruby", "--version"), r"ruby (\d+\.\d+\.\d+)",
                debian_package="ruby3.1"),
    RuntimeSpec("php", "", ("php", "--version"), r"PHP (\d+\.\d+\.\d+)",
                debian_package="php8.2-cli"),
)

#: The probe prints one line per runtime, `<probe id>\t<first line of its answer>`, then the
#: Debian packages as `deb\t<package>\t<version>`, then the tools as `tool\t<name>\t<answer>`.
TOOLS: Mapping[str, tuple[str, ...]] = {
    "npm": ("npm", "--version"), "yarn": ("yarn", "--version"), "pnpm": ("pnpm", "--version"),
    "aws": ("aws", "--version"), "mvn": ("mvn", "--version"), "gradle": ("gradle", "--version"),
    "gcc": ("gcc", "--version"), "yq": ("yq", "--version"), "docker": ("docker", "--version"),
}


def probe_script(specs: Sequence[RuntimeSpec] = RUNTIMES,
                 tools: Mapping[str, tuple[str, ...]] = TOOLS) -> str:
    """A bash script (fixed text: the argv come from this module, never from users)."""
    lines = ["p() { id=$1; shift; out=$(\"$@\" 2>&1 | grep -m1 .); "
             "printf '%s\\t%s\\n' \"$id\" \"$out\"; }"]
    for spec in specs:
        lines.append(f"p {spec.probe_id} {' '.join(spec.argv)}")
    for name, argv in tools.items():
        lines.append(f"p tool:{name} {' '.join(argv)}")
    packages = sorted({s.debian_package for s in specs if s.debian_package})
    lines.append("dpkg-query -W -f='deb:${Package}\\t${Version}\\n' " + " ".join(packages)
                 + " 2>/dev/null")
    return "\n".join(lines) + "\n"


def parse_probe(output: str) -> dict[str, str]:
    """`id → answer` from the probe's output.

    >>> parse_probe("nodejs:/opt/n\\tv20.1.0\\ndeb:nodejs\\t18.19.0+dfsg-6~deb12u2\\n")
    {'nodejs:/opt/n': 'v20.1.0', 'deb:nodejs': '18.19.0+dfsg-6~deb12u2'}
    """
    answers = {}
    for line in output.splitlines():
        ident, tab, answer = line.partition("\t")
        if tab:
            answers[ident] = answer.strip()
    return answers


class ProbeFailed(ValueError):
    """A runtime the image should hold did not answer with a version."""


def build_catalog(answers: Mapping[str, str], npm_versions: Mapping[str, str],
                  specs: Sequence[RuntimeSpec] = RUNTIMES,
                  node_default: str = c.NODE_DEFAULT) -> Catalog:
    """The catalog of what the probe found. `npm_versions`: node major → the npm-registry
    release installed (for `source`). Every spec must have answered: a missing runtime is a
    broken image, not a shorter catalog."""
    by_name: dict[str, list[RuntimeVersion]] = {}
    for spec in specs:
        answer = answers.get(spec.probe_id, "")
        match = re.search(spec.pattern, answer)
        if not match:
            raise ProbeFailed(f"{spec.name} in {spec.home or spec.argv[0]} did not answer "
                              f"`{' '.join(spec.argv)}` with a version: {answer!r}")
        version = match.group(1)
        key = spec.key or ".".join(version.split(".")[:spec.key_digits])
        by_name.setdefault(spec.name, []).append(RuntimeVersion(
            key, version, spec.aliases, (f"{spec.home}/bin",) if spec.home else (),
            dict(spec.env), _source(spec, version, key, answers, npm_versions)))
    runtimes = {}
    for name, versions in by_name.items():
        default = node_default if name == "nodejs" else versions[0].key
        runtimes[name] = Runtime(name, tuple(versions), default)
    return Catalog(runtimes)


def _source(spec: RuntimeSpec, version: str, key: str, answers: Mapping[str, str],
            npm_versions: Mapping[str, str]) -> str:
    if spec.npm_package:
        npm = npm_versions.get(key)
        with_npm = f" with npm {npm}" if npm else ""
        return f"npm registry {spec.npm_package}@{version}{with_npm}"
    package = spec.debian_package or ""
    deb = answers.get(f"deb:{package}")
    suite = "bookworm-backports" if deb and "~bpo" in deb else c.DEBIAN_SUITE
    what = "OpenJDK" if spec.name == "java" else spec.name
    return f"Debian {suite} {package} {deb or version} ({what} {version})"


def tool_versions(answers: Mapping[str, str]) -> dict[str, str]:
    """The tools' first lines."""
    return {ident.removeprefix("tool:"): answer for ident, answer in answers.items()
            if ident.startswith("tool:")}


def missing_tools(answers: Mapping[str, str], tools: Iterable[str] = TOOLS) -> list[str]:
    """Tools that did not answer their `--version` (absent, or failing to start).

    >>> missing_tools({"tool:yarn": "1.22.22", "tool:pnpm": "bash: pnpm: command not found"},
    ...               ["yarn", "pnpm", "aws"])
    ['pnpm', 'aws']
    """
    broken = ("command not found", "No such file or directory", "Error: Cannot find module")
    return [name for name in tools
            if not answers.get(f"tool:{name}") or any(b in answers[f"tool:{name}"] for b in broken)]


# --- for people ------------------------------------------------------------------------------

def describe(catalog: Catalog) -> str:
    """One line: each runtime's versions, the default marked.

    >>> cat = Catalog({"nodejs": Runtime("nodejs", (RuntimeVersion("18", "18.19.0"),
    ...     RuntimeVersion("20", "20.19.5")), "18"), "java": Runtime("java",
    ...     (RuntimeVersion("corretto17", "17.0.15", ("openjdk17",)),), "corretto17")})
    >>> describe(cat)
    'java corretto17 (17.0.15); nodejs 18 (18.19.0, default), 20 (20.19.5)'
    """
    parts = []
    for name, runtime in sorted(catalog.runtimes.items()):
        versions = []
        for v in runtime.versions:
            mark = ", default" if v.key == runtime.default and len(runtime.versions) > 1 else ""
            versions.append(f"{v.key} ({v.version}{mark})")
        parts.append(f"{name} {', '.join(versions)}")
    return "; ".join(parts)

