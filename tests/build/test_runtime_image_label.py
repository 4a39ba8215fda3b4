"""The runtime catalog travelling with an image, end to end through `conveyor build`: an image
labelled io.conveyor.runtimes (made here from BUILD_IMAGE plus the label) is read with
image_catalog, and its versions are selected by a real `conveyor build`; a label that is not a
catalog stops `conveyor build` with a clear error (exit 2), never a fault or a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from functools import cache
from pathlib import Path

import pytest
from stack_support import stack_missing

from conveyor.build.image_runtimes import image_catalog
from conveyor.build.runner import SOURCE_MOUNT
from conveyor.build.runtime_catalog import RUNTIMES_LABEL, Catalog, Runtime, RuntimeVersion
from conveyor.images import BUILD_IMAGE
from conveyor.providers.local.containers import ContainerEngine, detect_engine, image_exists

pytestmark = pytest.mark.podman

FAKE = f"{SOURCE_MOUNT}/.rt"
BUILDSPEC = """\
version: 0.2
phases:
  install:
    runtime-versions:
      nodejs: 20.x
  build:
    commands:
      - echo "node is $(node --version)"
"""


@cache
def engine() -> ContainerEngine:
    return detect_engine()


def fake_catalog() -> Catalog:
    node = tuple(RuntimeVersion(major, f"{major}.1.0", path=(f"{FAKE}/node{major}/bin",)) for major in ("18", "20"))
    return Catalog({"nodejs": Runtime("nodejs", node, "18")})


def labelled(label: str) -> str:
    """A throwaway image: BUILD_IMAGE with io.conveyor.runtimes set to `label`."""
    ref = f"localhost/conveyor-test/runtimes:{uuid.uuid4().hex[:10]}"
    subprocess.run([engine().binary, "build", "--quiet", "--label", f"{RUNTIMES_LABEL}={label}", "-t", ref, "-f", "-",
                    "."], input=f"FROM {BUILD_IMAGE}\n", text=True, capture_output=True, check=True,
                   cwd=Path(__file__).parent)
    return ref


@pytest.fixture(scope="module")
def images():
    if not image_exists(engine(), BUILD_IMAGE):
        stack_missing(f"{BUILD_IMAGE} is missing: run `conveyor setup`")
    made = {"good": labelled(fake_catalog().to_json()), "bad": labelled('{"schema": 1, "runtimes": 3}')}
    yield made
    subprocess.run([engine().binary, "image", "rm", "--force", *made.values()], capture_output=True)


def conveyor_build(tmp_path: Path, image: str) -> subprocess.CompletedProcess:
    src = tmp_path / "src"
    for major in ("18", "20"):
        node = src / ".rt" / f"node{major}" / "bin" / "node"
        node.parent.mkdir(parents=True)
        node.write_text(f"#!/bin/sh\necho v{major}.1.0\n")
        os.chmod(node, 0o755)
    (src / "buildspec.yml").write_text(textwrap.dedent(BUILDSPEC))
    env = {**os.environ, "CONVEYOR_HOME": str(tmp_path / "home")}
    return subprocess.run([sys.executable, "-m", "conveyor.cli.main", "build", "--source", str(src), "--image", image],
                          env=env, capture_output=True, text=True, timeout=300)


def test_image_catalog_reads_the_label_back(images):
    assert image_catalog(engine(), images["good"]) == fake_catalog()
    assert image_catalog(engine(), "localhost/conveyor-test/absent:none") is None  # run may pull it: no catalog


def test_conveyor_build_selects_from_the_image_catalog(images, tmp_path):
    done = conveyor_build(tmp_path, images["good"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Selecting 'nodejs' runtime version '20.x' based on manual selections..." in done.stdout
    assert "node is v20.1.0" in done.stdout.splitlines()


def test_a_label_that_is_not_a_catalog_is_a_clear_error_not_a_fault(images, tmp_path):
    done = conveyor_build(tmp_path, images["bad"])
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.splitlines()[0] == (
        f"conveyor: image {images['bad']} has a runtime catalog (label io.conveyor.runtimes) that cannot be read: "
        "'runtimes' must be an object")
    assert "Traceback" not in done.stderr and "Entering phase" not in done.stdout
