"""`conveyor build`: a buildspec run locally exactly as the CodeBuild action runs it (the local
CodeBuild agent). Works without the daemon; exit 0 if the build SUCCEEDED, 1 otherwise."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from conveyor import home as homes
from conveyor.actions.codebuild import split_region
from conveyor.build.image_runtimes import image_catalog
from conveyor.build.runner import DEFAULT_REGION, BuildRequest, run_build
from conveyor.cli.render import duration, echo
from conveyor.config.buildspec import load_buildspec
from conveyor.errors import UserError
from conveyor.images import BUILD_IMAGE
from conveyor.providers.local.containers import (
    detect_engine,
    engine_access,
    ensure_api_service,
    image_exists,
)
from conveyor.registry.local import registry_env
from conveyor.secrets.masking import default_masker


def local_cache_name(source: Path) -> str:
    """The `cache:` directory of `conveyor build` for a source directory: its name (readable)
    and a digest of its absolute path, so two checkouts that share a name (`app`, `service`)
    never restore each other's cache.

    >>> local_cache_name(Path("/work/app")) == local_cache_name(Path("/other/app"))
    False
    >>> local_cache_name(Path("/work/app")).startswith("local-app-")
    True
    """
    return f"local-{source.name}-{hashlib.sha256(str(source).encode()).hexdigest()[:10]}"


def build(args) -> int:
    source = Path(args.source).resolve()
    if not source.is_dir():
        raise UserError(f"--source {args.source} is not a directory")
    buildspec = Path(args.buildspec)
    if not buildspec.is_absolute() and not buildspec.exists():
        buildspec = source / args.buildspec
    spec = load_buildspec(buildspec, args.buildspec)
    for warning in spec.warnings:
        echo(str(warning), err=True)
    engine = detect_engine()
    image = args.image or BUILD_IMAGE
    if not image_exists(engine, image):
        hint = "run `conveyor setup`" if image == BUILD_IMAGE else f"build or pull {image} first"
        raise UserError(f"image {image} is not available", hint=hint)
    runtimes = image_catalog(engine, image)  # what runtime-versions can select in it
    overrides = {}
    for pair in args.env:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UserError(f"--env expects NAME=VALUE, got '{pair}'")
        overrides[name] = value
    root = homes.home()
    store = None
    if (root / "secrets.key").exists():
        from conveyor.secrets.store import SecretStore

        store = SecretStore(root)
    masker = default_masker()
    with tempfile.TemporaryDirectory(prefix="conveyor-build-") as tmp:
        work = Path(tmp) / "src"
        shutil.copytree(source, work, symlinks=True)  # a build changes its source; never the user's own
        out = Path(args.artifacts).resolve() if args.artifacts else Path(tmp) / "artifacts"
        # docker in the build reaches the host's engine; the local registry when the daemon runs one
        api = ensure_api_service(engine, str(Path(tmp) / "engine"))
        access = engine_access(api.socket)
        registry, region = split_region(registry_env(root))  # an ECR alias's region yields to --env
        extra_env = {**access.env, **registry}
        if "CONVEYOR_REGISTRY_PASSWORD" in extra_env:
            masker.add(extra_env["CONVEYOR_REGISTRY_PASSWORD"])
        commit = _head(source)
        req = BuildRequest(source_dir=work, image=image, engine=engine, overrides=overrides,
                           source_version=commit, resolved_source_version=commit,
                           timeout_minutes=args.timeout, initiator="conveyor-cli", artifacts_dir=out,
                           resolve_secret=(store.resolve_reference if store else None), on_secret=masker.add,
                           extra_mounts=list(access.mounts), extra_env=extra_env,
                           cache_dir=root / "cache" / local_cache_name(source), region=region or DEFAULT_REGION,
                           runtimes=runtimes)
        try:
            result = run_build(spec, req, lambda line: echo(masker.mask(line)))
        finally:
            api.stop()
        echo("")
        echo(f"build {result.build_id}: {result.status} in {duration(result.duration)}")
        for name, value in result.exported.items():
            echo(f"  exported {name}={masker.mask(value)}")
        if args.artifacts:
            for ident, path in result.artifacts.items():
                echo(f"  artifact {ident or 'primary'}: {path}")
    return 0 if result.status == "SUCCEEDED" else 1


def _head(source: Path) -> str | None:
    """CODEBUILD_RESOLVED_SOURCE_VERSION for a git checkout (unset for a plain directory)."""
    import subprocess

    done = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None
