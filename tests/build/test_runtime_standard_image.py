"""runtime-versions in the REAL standard build image (BUILD_IMAGE as `conveyor setup` builds it,
with its io.conveyor.runtimes catalog): `nodejs: 20` puts Node 20 on PATH for the build, and a
version the image lacks fails the build with CodeBuild's message listing the versions the image's
own catalog has. Versions are read from the image's catalog, not assumed.

Needs the standard image: on a machine where BUILD_IMAGE has no catalog yet (built before issue
15), these tests skip — and FAIL under CI=true, where `conveyor setup` has built it."""

from __future__ import annotations

import re
import textwrap
from functools import cache
from pathlib import Path

import pytest
from stack_support import stack_missing

from conveyor.build.image_runtimes import image_catalog
from conveyor.build.phases import DOWNLOAD_SOURCE, FAILED, SUCCEEDED
from conveyor.build.runner import BuildRequest, BuildResult, run_build
from conveyor.build.runtime_catalog import Catalog
from conveyor.config.buildspec import load_buildspec_text
from conveyor.images import BUILD_IMAGE
from conveyor.providers.local.containers import ContainerEngine, detect_engine, image_exists

pytestmark = pytest.mark.podman


@cache
def engine() -> ContainerEngine:
    return detect_engine()


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    if not image_exists(engine(), BUILD_IMAGE):
        stack_missing(f"{BUILD_IMAGE} is missing: run `conveyor setup`")
    found = image_catalog(engine(), BUILD_IMAGE)
    if found is None or "nodejs" not in found.runtimes:
        stack_missing(f"{BUILD_IMAGE} carries no runtime catalog with nodejs (it predates the standard image): "
                      "run `conveyor setup` to rebuild it")
    return found


def build(tmp_path: Path, buildspec: str, catalog: Catalog) -> tuple[BuildResult, list[str]]:
    src = tmp_path / "src"
    src.mkdir()
    req = BuildRequest(source_dir=src, image=BUILD_IMAGE, engine=engine(), project="standard-image-test",
                       runtimes=catalog)
    lines: list[str] = []
    return run_build(load_buildspec_text(textwrap.dedent(buildspec)), req, lines.append), lines


def test_nodejs_20_is_node_20_in_the_build(tmp_path, catalog):
    assert catalog.runtimes["nodejs"].version("20") is not None, "the standard image provides Node 20"
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          install:
            runtime-versions:
              nodejs: 20
          build:
            commands:
              - echo "node=$(node --version) npm=$(npm --version)"
        """, catalog)
    assert result.status == SUCCEEDED, "\n".join(lines)
    [line] = [line for line in lines if line.startswith("node=")]
    assert re.fullmatch(r"node=v20\.\d+\.\d+ npm=\d+\.\d+\.\d+", line), line


def test_nodejs_16_fails_the_build_listing_what_the_image_has(tmp_path, catalog):
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          install:
            runtime-versions:
              nodejs: 16
          build:
            commands:
              - echo never
        """, catalog)
    assert result.status == FAILED
    failed = next(p for p in result.phases if p.status == FAILED)
    keys = sorted((v.key for v in catalog.runtimes["nodejs"].versions), key=int)  # e.g. 18, 20, 22
    assert failed.phase == DOWNLOAD_SOURCE
    assert failed.context == ("Unknown runtime version named '16' of nodejs. This build image has the following "
                              f"versions: {', '.join(keys)}")
    assert "never" not in lines


def test_several_runtimes_at_once_set_path_and_homes_for_later_phases(tmp_path, catalog):
    go = catalog.runtimes["golang"]
    newest_go = max((v for v in go.versions), key=lambda v: tuple(int(n) for n in v.key.split(".")))
    java_home = catalog.runtimes["java"].version("corretto17").env["JAVA_HOME"]
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          install:
            runtime-versions:
              java: openjdk17
              golang: latest
              python: 3.x
          build:
            commands:
              - echo "go=$(go version | cut -d' ' -f3) goroot=$GOROOT"
              - echo "java_home=$JAVA_HOME"; java -version 2>&1 | head -1
              - echo "python=$(python3 --version)"
        """, catalog)
    assert result.status == SUCCEEDED, "\n".join(lines)
    assert f"go=go{newest_go.version} goroot={newest_go.env['GOROOT']}" in lines
    assert f"java_home={java_home}" in lines
    assert any(re.match(r'(openjdk|java) version "17\.', line) for line in lines), lines
    assert any(line.startswith("python=Python 3.11.") for line in lines), lines
