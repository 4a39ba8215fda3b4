"""Which runtimes a build image offers: its runtime catalog label read before the build starts
(by `conveyor build` and the CodeBuild action), checked, and handed to the runner as
BuildRequest.runtimes for `runtime-versions` (build/runtimes.py selects from it)."""

from __future__ import annotations

from conveyor.build import runtimes as R
from conveyor.build.runtime_catalog import Catalog, CatalogError, catalog_of
from conveyor.errors import ConveyorError, UserError
from conveyor.providers.local.containers import ContainerEngine, image_labels


def image_catalog(engine: ContainerEngine, image: str) -> Catalog | None:
    """The runtime catalog `image` carries (its io.conveyor.runtimes label); None for an image
    without one, or one not present to inspect (`run` may still pull it: it then has no runtime
    selection, as a custom image). A label this version cannot read is the user's problem to
    fix (UserError), never a fault of the build."""
    try:
        labels = image_labels(engine, image)
    except ConveyorError:  # no engine binary: the build itself will say so
        return None
    try:
        catalog = catalog_of(labels)
        problems = R.catalog_problems(catalog) if catalog is not None else []
        if problems:
            raise CatalogError("; ".join(problems))
    except CatalogError as exc:
        raise UserError(f"image {image} has a runtime catalog (label io.conveyor.runtimes) that cannot be read: "
                        f"{exc}", hint="rebuild the image with `conveyor setup`, or remove the label") from None
    return catalog
