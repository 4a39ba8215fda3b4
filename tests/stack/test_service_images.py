"""The local stand-ins for node:20-slim and a Java 17 JRE: current with the build image's recipe,
and really running the runtime they promise, at a fraction of the build image's size."""

import json

import pytest
from stack_support import stack_missing

from conveyor.providers.local.process import run
from conveyor.stack import checks, service_images
from conveyor.stack import components as c


def test_a_new_build_image_or_containerfile_changes_the_recipe():
    node, java = service_images.NODE, service_images.JAVA
    assert node.recipe("r1") != node.recipe("r2")
    assert node.recipe("r1") != java.recipe("r1")
    assert node.containerfile.startswith(f"FROM {c.BUILD_IMAGE} AS node\nFROM {c.BASE_IMAGE}\n")
    assert "jlink --add-modules java.se," in java.containerfile


@pytest.mark.podman
@pytest.mark.parametrize("image, argv, expect", [
    (service_images.NODE, ["node", "-e", "console.log(process.version)"], "v20."),
    (service_images.NODE, ["npm", "--version"], "."),
    (service_images.JAVA, ["java", "-version"], 'version "17.'),
])
def test_the_stand_ins_run_their_runtime_and_are_current(image, argv, expect):
    eng = checks.engine()
    labels = checks.image_labels(eng, image.ref)
    build = checks.image_labels(eng, c.BUILD_IMAGE)
    if labels is None or build is None:
        stack_missing(f"{image.ref} is not built; run `conveyor setup`")
    assert labels.get(c.RECIPE_LABEL) == image.recipe(build.get(c.RECIPE_LABEL, "")), \
        f"{image.ref} is out of date with {c.BUILD_IMAGE}; run `conveyor setup`"
    done = run(eng.run(image.ref, argv, rm=True, timeout=120), check=False, dry_run=False)
    assert done.ok, done.stderr
    assert expect in done.stdout + done.stderr
    sizes = {}
    for ref in (image.ref, c.BUILD_IMAGE):
        out = run(eng.image_inspect(ref, format="{{json .Size}}"), dry_run=False).stdout
        sizes[ref] = json.loads(out.strip().splitlines()[0])
    assert sizes[image.ref] * 4 < sizes[c.BUILD_IMAGE]  # a slim image, not the build image again
