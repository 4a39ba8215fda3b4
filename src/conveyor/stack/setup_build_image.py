"""`conveyor setup`'s image steps for builds: the standard build image (its Debian root
filesystem, what is downloaded on the host for its upper layers, the probe of its runtimes and
the catalog label) and the slim service images made from it (stack/service_images.py)."""

from __future__ import annotations

import glob
import os
import tempfile
import time
from dataclasses import dataclass, field

from conveyor.build.runtime_catalog import RUNTIMES_LABEL, Catalog
from conveyor.providers.local.containers import ContainerEngine
from conveyor.providers.local.process import run
from conveyor.stack import aws_shim, checks, images, node_dist, service_images, standard_image
from conveyor.stack import components as c
from conveyor.stack.setup_steps import (
    MMDEBSTRAP_FIX,
    Echo,
    SetupFailed,
    apt_update,
    big_tmp,
    run_step,
    try_step,
)

#: Every runtime answers `--version` in well under a second; JVM start-up is the slowest.
PROBE_TIMEOUT = 120.0


def ensure_build_image(echo: Echo, eng: ContainerEngine, dry_run: bool) -> None:
    """The standard build image (stack/standard_image.py), unless the one there was made from
    the current recipe; then one ✓ line and nothing else (no registry is asked anything)."""
    cas = standard_image.extra_ca_certificates()
    recipe = images.build_recipe(cas)
    labels = checks.image_labels(eng, c.BUILD_IMAGE)
    if labels is not None and checks.recipe_current(labels, recipe):
        cas_label = labels.get(c.EXTRA_CA_LABEL)
        trust = (f"; trusts {cas_label} extra CA certificate{'' if cas_label == '1' else 's'} "
                 f"from the host" if cas_label is not None else "")
        echo(f"✓ {c.BUILD_IMAGE} ({labels.get(c.ORIGIN_LABEL) or 'present'}{trust})")
        echo(checks.build_image_runtimes_status(eng, c.BUILD_IMAGE, labels).line())
        return
    started = time.monotonic()
    echo(f"→ rebuilding {c.BUILD_IMAGE}, the standard build image (its recipe changed)"
         if labels is not None else f"→ building {c.BUILD_IMAGE}, the standard build image")
    with tempfile.TemporaryDirectory(prefix="conveyor-build-", dir=big_tmp()) as tmp:
        ensure_build_rootfs(echo, eng, tmp, dry_run)
        stage = _Stage(echo, "downloading the docker client, Node, npm, yarn, pnpm and the AWS CLI",
                       dry_run)
        docker_version = fetch_docker_client(tmp, dry_run)
        downloads = fetch_standard_downloads(echo, tmp, dry_run)
        stage.done(f"{downloads.summary()}, {c.DOCKER_CLIENT_PACKAGE} "
                   f"{c.short_version(docker_version)}")
        context = os.path.join(tmp, "context")
        stage = _Stage(echo, f"building the standard layers ({len(cas)} extra CA certificate"
                             f"{'s' if len(cas) != 1 else ''} from "
                             f"{standard_image.extra_ca_dir()})", dry_run)
        if dry_run:
            echo(f"$ (write {context}: {standard_image.STANDARD_CONTAINERFILE!r})")
        else:
            standard_image.write_context(standard_image.Context(
                context, os.path.join(tmp, "deb", c.DOCKER_CLIENT_MEMBER),
                standard_image.WRAPPER_DIR, aws_shim.__file__, downloads.node_tarballs,
                downloads.tool_tarballs, downloads.wheels, cas), node_dist.unpack)
        run_step(eng.build(context, file=os.path.join(context, "Containerfile"),
                            tags=[c.BUILD_LAYERS_IMAGE]),
                  f"building {c.BUILD_LAYERS_IMAGE}", dry_run)
        stage.done(c.BUILD_LAYERS_IMAGE)
        stage = _Stage(echo, "probing the runtimes' versions", dry_run)
        catalog = probe_runtimes(echo, eng, downloads, dry_run)
        stage.done(standard_image.describe(catalog) if catalog else "dry run")
        origin = images.build_origin(docker_version, downloads.origin_parts())
        label_dir = os.path.join(tmp, "label")
        os.makedirs(label_dir)
        with open(os.path.join(label_dir, "Containerfile"), "w", encoding="utf-8") as f:
            f.write(f"FROM {c.BUILD_LAYERS_IMAGE}\n")
        labels = {c.ORIGIN_LABEL: origin, c.RECIPE_LABEL: recipe,
                  RUNTIMES_LABEL: catalog.to_json() if catalog else "{}",
                  c.EXTRA_CA_LABEL: str(len(cas))}
        run_step(eng.build(label_dir, file=os.path.join(label_dir, "Containerfile"),
                            tags=[c.BUILD_IMAGE], labels=labels),
                  f"labelling {c.BUILD_IMAGE}", dry_run)
    if not dry_run:
        echo(f"✓ {c.BUILD_IMAGE} ({origin}, {time.monotonic() - started:.0f} s)")
        echo(f"✓ {c.BUILD_IMAGE} trusts {len(cas)} extra CA certificate"
             f"{'s' if len(cas) != 1 else ''} from the host ({standard_image.extra_ca_dir()})")


class _Stage:
    """A live line when a stage starts and a ✓ line with its elapsed time when it ends."""

    def __init__(self, echo: Echo, what: str, dry_run: bool = False) -> None:
        self.echo, self.what, self.dry_run, self.started = echo, what, dry_run, time.monotonic()
        echo(f"→ {what}…")

    def done(self, detail: str) -> None:
        if self.dry_run:
            return
        self.echo(f"✓ {self.what.split(' (')[0]}: {detail} "
                  f"({time.monotonic() - self.started:.0f} s)")


@dataclass
class Downloads:
    """What the standard layers need from registries, fetched on the host."""

    node: dict[str, node_dist.Release] = field(default_factory=dict)
    npm: dict[str, node_dist.Release] = field(default_factory=dict)
    tools: dict[str, node_dist.Release] = field(default_factory=dict)
    node_tarballs: dict[str, tuple[str, str]] = field(default_factory=dict)
    tool_tarballs: dict[str, str] = field(default_factory=dict)
    wheels: str = ""
    aws_cli: str = "?"

    def summary(self) -> str:
        node = ", ".join(r.version for r in self.node.values())
        tools = ", ".join(r.spec for r in self.tools.values())
        return f"node {node}; {tools}; awscli {self.aws_cli}"

    def origin_parts(self) -> list[str]:
        node = ", ".join(r.version for r in self.node.values())
        return [f"node {node} (npm registry)",
                *(f"{r.name} {r.version}" for r in self.tools.values()),
                f"awscli {self.aws_cli} (PyPI)"]


def download_cache_dir() -> str:
    """Where npm-registry tarballs are kept between setups (verified against their integrity
    on every use): $CONVEYOR_DOWNLOAD_CACHE, else ~/.cache/conveyor/downloads."""
    explicit = os.environ.get(c.DOWNLOAD_CACHE_ENV)
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "conveyor", "downloads")


def fetch_standard_downloads(echo: Echo, tmp: str, dry_run: bool) -> Downloads:
    """Resolve and fetch the Node majors (with npm), yarn, pnpm and the AWS CLI's wheels."""
    got = Downloads(wheels=os.path.join(tmp, "wheels"))
    if dry_run:
        for major in c.NODE_MAJORS:
            echo(f"$ (fetch {c.NPM_REGISTRY}/{c.NODE_PACKAGE} {major}.x)")
        echo(f"$ {standard_image.aws_cli_download_command(got.wheels)}")
        return got
    cache = download_cache_dir()
    registry, timeout = c.NPM_REGISTRY, c.DOWNLOAD_TIMEOUT
    try:
        for major, npm_major in sorted(c.NODE_MAJORS.items(), key=lambda kv: int(kv[0])):
            node = node_dist.resolve(registry, c.NODE_PACKAGE, major, timeout)
            npm = node_dist.resolve(registry, "npm", npm_major, timeout)
            got.node[major], got.npm[major] = node, npm
            got.node_tarballs[major] = (node_dist.fetch(node, cache, timeout),
                                        node_dist.fetch(npm, cache, timeout))
        for name, major in c.NODE_TOOLS.items():
            release = node_dist.resolve(registry, name, major, timeout)
            got.tools[name] = release
            got.tool_tarballs[name] = node_dist.fetch(release, cache, timeout)
    except node_dist.DownloadFailed as exc:
        raise SetupFailed(str(exc), hint=exc.hint) from exc
    run_step(standard_image.aws_cli_download_command(got.wheels),
              f"downloading {c.AWS_CLI_REQUIREMENT} from PyPI", dry_run,
              hint="check that this machine reaches PyPI (pip download awscli), then "
                   "`conveyor setup`")
    got.aws_cli = standard_image.wheel_version(os.listdir(got.wheels), "awscli") or "?"
    return got


def probe_runtimes(echo: Echo, eng: ContainerEngine, downloads: Downloads, dry_run: bool
                   ) -> Catalog | None:
    """Run every runtime's `--version` in the new layers; the catalog of what answered."""
    cmd = eng.run(c.BUILD_LAYERS_IMAGE, ["bash", "-c", standard_image.probe_script()], rm=True,
                  timeout=PROBE_TIMEOUT)
    if dry_run:
        echo(f"$ {cmd}")
        return None
    done = run(cmd, check=False, dry_run=False)
    answers = standard_image.parse_probe(done.stdout)
    npm_versions = {major: r.version for major, r in downloads.npm.items()}
    try:
        catalog = standard_image.build_catalog(answers, npm_versions)
    except standard_image.ProbeFailed as exc:
        raise SetupFailed(f"{c.BUILD_LAYERS_IMAGE} is incomplete: {exc}",
                          hint=f"run `{eng.run(c.BUILD_LAYERS_IMAGE, ['bash'], rm=True)}` "
                               f"to look inside") from exc
    missing = standard_image.missing_tools(answers)
    if missing:
        raise SetupFailed(f"{c.BUILD_LAYERS_IMAGE} is incomplete: {', '.join(missing)} did not "
                          f"answer --version",
                          hint=f"run `{eng.run(c.BUILD_LAYERS_IMAGE, ['bash'], rm=True)}` "
                               f"to look inside")
    return catalog


def ensure_build_rootfs(echo: Echo, eng: ContainerEngine, tmp: str, dry_run: bool) -> None:
    """BUILD_ROOTFS_IMAGE, unless the one there was made from the current recipe."""
    labels = checks.image_labels(eng, c.BUILD_ROOTFS_IMAGE) or {}
    if labels.get(c.RECIPE_LABEL) == images.build_rootfs_recipe():
        echo(f"✓ {c.BUILD_ROOTFS_IMAGE} ({len(images.build_rootfs_packages())} Debian packages, "
             f"current)")
        return
    stage = _Stage(echo, f"building {c.BUILD_ROOTFS_IMAGE} with mmdebstrap "
                         f"({len(images.build_rootfs_packages())} Debian packages and their "
                         f"dependencies; about 3 min)", dry_run)
    tar = os.path.join(tmp, "rootfs.tar")
    run_step(images.build_rootfs_command(tar),
              f"building {c.BUILD_ROOTFS_IMAGE} with mmdebstrap", dry_run, hint=MMDEBSTRAP_FIX)
    run_step(eng.import_image(tar, c.BUILD_ROOTFS_IMAGE, images.build_rootfs_changes()),
              f"importing {c.BUILD_ROOTFS_IMAGE}", dry_run)
    if not dry_run:
        size = os.path.getsize(tar) / 1e6
        os.remove(tar)
        stage.done(f"{size:.0f} MB root filesystem")


def fetch_docker_client(tmp: str, dry_run: bool) -> str:
    """Download docker.io's .deb into `tmp` and extract it to tmp/deb; returns its version.
    Nothing is installed on the host."""
    download = images.docker_client_download_command(tmp)
    fix = f"apt-get update && cd /tmp && {download}"
    if not try_step(download, dry_run).ok:  # no or stale package lists: update once, then retry
        run_step(apt_update(), "apt-get update", dry_run, hint=fix)
        run_step(download, f"downloading {c.DOCKER_CLIENT_PACKAGE}", dry_run, hint=fix)
    if dry_run:
        return "VERSION"
    debs = glob.glob(os.path.join(tmp, f"{c.DOCKER_CLIENT_PACKAGE}_*.deb"))
    if not debs:
        raise SetupFailed(f"`{download}` left no .deb in {tmp}", hint=fix)
    version = run(images.deb_version_command(debs[0]), dry_run=False).stdout.strip()
    run_step(images.deb_extract_command(debs[0], os.path.join(tmp, "deb")),
              f"extracting {c.DOCKER_CLIENT_PACKAGE}", dry_run)
    return version


def ensure_service_images(echo: Echo, eng: ContainerEngine, dry_run: bool) -> None:
    """The slim runtime images services start FROM (stack/service_images.py), each rebuilt only
    when its Containerfile or the build image's recipe changed (about 10 s each)."""
    build_recipe = (checks.image_labels(eng, c.BUILD_IMAGE) or {}).get(c.RECIPE_LABEL, "")
    for image in service_images.SERVICE_IMAGES:
        recipe = image.recipe(build_recipe)
        labels = checks.image_labels(eng, image.ref)
        if labels is not None and labels.get(c.RECIPE_LABEL) == recipe:
            echo(f"✓ {image.ref} ({labels.get(c.ORIGIN_LABEL) or image.origin()})")
            continue
        echo(f"→ {'rebuilding' if labels is not None else 'building'} {image.ref} "
             f"({image.stands_in_for} here)…")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="conveyor-service-image-") as tmp:
            with open(os.path.join(tmp, "Containerfile"), "w", encoding="utf-8") as f:
                f.write(image.containerfile)
            run_step(eng.build(tmp, tags=[image.ref],
                                labels={c.RECIPE_LABEL: recipe, c.ORIGIN_LABEL: image.origin()}),
                      f"building {image.ref}", dry_run)
        if not dry_run:
            echo(f"✓ {image.ref} ({image.origin()}, {time.monotonic() - started:.0f} s)")
