"""`conveyor validate`'s look at a buildspec's `runtime-versions` against the build image that
would run it: each listed runtime whose version the image cannot provide is a warning at that
key, in CodeBuild's words ("Unknown runtime version named '16' of nodejs. This build image has
the following versions: 18, 20, 22").

A warning, not an error: the file is right for CodeBuild, whose image may have that version; it
is this machine's build image that would stop the build (at DOWNLOAD_SOURCE, build/runtimes.py).
A version given through a variable the buildspec does not set itself (a project or pipeline
variable) is left to the build, which knows its whole environment.

    warnings = runtime_warnings(doc, spec, catalog, "localhost/conveyor/build:latest")
"""

from __future__ import annotations

from conveyor.build import runtimes as R
from conveyor.build.image_runtimes import image_catalog
from conveyor.build.runtime_catalog import Catalog
from conveyor.config.buildspec_model import BuildSpec
from conveyor.documents.located import Document, KeyPath
from conveyor.errors import ConveyorError, Diagnostic, UserError
from conveyor.images import BUILD_IMAGE
from conveyor.providers.local.containers import ContainerEngine, image_exists

RUNTIME_VERSIONS: KeyPath = ("phases", "install", "runtime-versions")


def requested(spec: BuildSpec) -> dict[str, str]:
    install = spec.phases.get("install")
    return dict(install.runtime_versions) if install is not None else {}


def runtime_warnings(doc: Document, spec: BuildSpec, catalog: Catalog | None, image: str) -> list[Diagnostic]:
    """One warning per listed runtime the image cannot provide; for an image without a runtime
    catalog (one not made by `conveyor setup`), one warning that nothing would be selected."""
    wanted = requested(spec)
    if not wanted:
        return []
    if catalog is None:
        return [doc.diagnostic(RUNTIME_VERSIONS, f"{image} has no runtime catalog (label io.conveyor.runtimes): "
                                                 "a build there skips runtime-versions with CodeBuild's "
                                                 f"\"{R.SKIP_WARNING}\"", "warning")]
    out = []
    for name, version in wanted.items():
        _, unset = R.expand(str(version), spec.env.variables)
        if unset:
            continue  # set by the project or pipeline: only the build knows
        for problem in R.select({name: version}, catalog, spec.env.variables).problems:
            out.append(doc.diagnostic(RUNTIME_VERSIONS + (name,),
                                      f"{problem} (in {image}, where a build stops at DOWNLOAD_SOURCE with "
                                      f"{R.STATUS_CODE})", "warning"))
    return out


def image_runtime_warnings(doc: Document, spec: BuildSpec, engine: ContainerEngine, image: str
                           ) -> list[Diagnostic]:
    """runtime_warnings against `image` on this machine's engine; when the image is not there,
    one warning saying runtime-versions went unchecked and how to get it."""
    if not requested(spec):
        return []
    try:
        present = image_exists(engine, image)
    except ConveyorError:  # no engine binary, or it hangs
        present = False
    if not present:
        get = "run `conveyor setup`, or pass --build-image" if image == BUILD_IMAGE else "build or pull it first"
        return [doc.diagnostic(RUNTIME_VERSIONS, f"not checked against a build image: {image} is not available "
                                                 f"({get})", "warning")]
    try:
        catalog = image_catalog(engine, image)
    except UserError as exc:  # a label this version cannot read
        return [doc.diagnostic(RUNTIME_VERSIONS, f"not checked: {exc}", "warning")]
    return runtime_warnings(doc, spec, catalog, image)
