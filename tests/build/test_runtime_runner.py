"""runtime-versions applied by the runner, for real in the build container: the "Selecting …"
lines at DOWNLOAD_SOURCE, the selected version's PATH and variables in every later phase (also
after a command ends the shell), a refusal failing DOWNLOAD_SOURCE with CodeBuild's
YAML_FILE_ERROR and every problem, and an image without a catalog skipping with one warning.

The catalog here is a fixture whose "node" binaries are small scripts in the source directory,
so these tests run in any build image; test_runtime_standard_image.py checks the real image."""

from __future__ import annotations

import os
import textwrap
from functools import cache
from pathlib import Path

import pytest
from stack_support import stack_missing

from conveyor.build.phases import (
    DOWNLOAD_SOURCE,
    FAILED,
    FINALIZING,
    PROVISIONING,
    QUEUED,
    SUBMITTED,
    SUCCEEDED,
)
from conveyor.build.runner import SOURCE_MOUNT, BuildRequest, BuildResult, run_build
from conveyor.build.runtime_catalog import Catalog, Runtime, RuntimeVersion
from conveyor.build.runtimes import DOCKER_HINT
from conveyor.config.buildspec import load_buildspec_text
from conveyor.images import BUILD_IMAGE
from conveyor.providers.local.containers import ContainerEngine, detect_engine, image_exists

pytestmark = pytest.mark.podman

FAKE = f"{SOURCE_MOUNT}/.rt"


@cache
def engine() -> ContainerEngine:
    return detect_engine()


@pytest.fixture(autouse=True, scope="module")
def build_image():
    if not image_exists(engine(), BUILD_IMAGE):
        stack_missing(f"{BUILD_IMAGE} is missing: run `conveyor setup`")


def fake_catalog() -> Catalog:
    node = tuple(RuntimeVersion(major, f"{major}.1.0", path=(f"{FAKE}/node{major}/bin",),
                                env={"NODE_HOME": f"{FAKE}/node{major}"}) for major in ("18", "20", "22"))
    return Catalog({"nodejs": Runtime("nodejs", node, "18"),
                    "python": Runtime("python", (RuntimeVersion("3.11", "3.11.2", path=("/usr/bin",)),), "3.11")})


def build(tmp_path: Path, buildspec: str, **overrides) -> tuple[BuildResult, list[str]]:
    src = tmp_path / "src"
    for major in ("18", "20", "22"):
        node = src / ".rt" / f"node{major}" / "bin" / "node"
        node.parent.mkdir(parents=True)
        node.write_text(f"#!/bin/sh\necho v{major}.1.0\n")
        os.chmod(node, 0o755)
    options = {"project": "runtime-test", "runtimes": fake_catalog(), **overrides}
    req = BuildRequest(source_dir=src, image=BUILD_IMAGE, engine=engine(), **options)
    lines: list[str] = []
    result = run_build(load_buildspec_text(textwrap.dedent(buildspec)), req, lines.append)
    return result, lines


def text(lines: list[str]) -> list[str]:
    """Agent lines without their timestamps."""
    return [" ".join(line.split(" ")[:1] + line.split(" ")[3:]) if line.startswith("[Container] ") else line
            for line in lines]


def phase_lines(lines: list[str], phase: str) -> list[str]:
    out = text(lines)
    start = out.index(f"[Container] Entering phase {phase}")
    end = next((i for i in range(start + 1, len(out)) if out[i].startswith("[Container] Entering phase ")), len(out))
    return out[start:end]


def test_the_selected_version_is_on_path_with_its_home_in_every_later_phase(tmp_path):
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          install:
            runtime-versions:
              nodejs: 20
              python: 3.x
            commands:
              - node --version
          build:
            commands:
              - exit 0
              - echo "build $(node --version) $NODE_HOME"
          post_build:
            commands:
              - echo "post $(node --version)"
        """)
    assert result.status == SUCCEEDED, "\n".join(lines)
    download = phase_lines(lines, DOWNLOAD_SOURCE)
    assert download[3:] == [
        "[Container] Selecting 'nodejs' runtime version '20' based on manual selections...",
        "[Container] Selecting 'python' runtime version '3.x' based on manual selections...",
        '[Container] Running command echo "Installing Node.js version 20 ..."',
        "Installing Node.js version 20 ...",
        f"[Container] Running command export NODE_HOME={FAKE}/node20",
        '[Container] Running command echo "Installing Python version 3.11 ..."',
        "Installing Python version 3.11 ...",
        # python's /usr/bin (a shared directory, where the image's default node may live) comes after node 20's
        f"[Container] Running command export PATH={FAKE}/node20/bin:/usr/bin:\"$PATH\"",
        "[Container] Phase complete: DOWNLOAD_SOURCE State: SUCCEEDED",
        "[Container] Phase context status code:  Message:"]
    out = text(lines)
    assert "v20.1.0" in out  # INSTALL
    assert f"build v20.1.0 {FAKE}/node20" in out  # after `exit 0` restarted the shell
    assert "post v20.1.0" in out


def test_a_version_from_an_override_variable_is_selected(tmp_path):
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          install:
            runtime-versions:
              nodejs: $NODE_VERSION
          build:
            commands:
              - node --version
        """, overrides={"NODE_VERSION": "22.x"})
    assert result.status == SUCCEEDED, "\n".join(lines)
    assert "[Container] Selecting 'nodejs' runtime version '22.x' based on manual selections..." in text(lines)
    assert "v22.1.0" in text(lines)


def test_what_the_image_cannot_provide_fails_download_source_with_every_problem(tmp_path):
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          install:
            runtime-versions:
              nodejs: 16
              docker: 19
              python: 3.11
            commands:
              - echo install-ran
          build:
            commands:
              - echo build-ran
        """)
    assert result.status == FAILED
    assert [(p.phase, p.status) for p in result.phases] == [
        (SUBMITTED, SUCCEEDED), (QUEUED, SUCCEEDED), (PROVISIONING, SUCCEEDED), (DOWNLOAD_SOURCE, FAILED),
        (FINALIZING, SUCCEEDED)]
    message = ("Unknown runtime version named '16' of nodejs. This build image has the following versions: 18, 20, "
               f"22; Unknown runtime named 'docker'. This build image has the following runtimes: nodejs, python "
               f"{DOCKER_HINT}")
    assert phase_lines(lines, DOWNLOAD_SOURCE)[3:] == [
        "[Container] Selecting 'nodejs' runtime version '16' based on manual selections...",
        "[Container] Selecting 'docker' runtime version '19' based on manual selections...",
        "[Container] Selecting 'python' runtime version '3.11' based on manual selections...",
        "[Container] Phase complete: DOWNLOAD_SOURCE State: FAILED",
        f"[Container] Phase context status code: YAML_FILE_ERROR Message: {message}"]
    assert result.phases[3].context == message
    assert "install-ran" not in lines and "build-ran" not in lines


def test_an_image_without_a_catalog_skips_selection_with_one_warning(tmp_path):
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          install:
            runtime-versions:
              nodejs: 16
          build:
            commands:
              - echo build-ran
        """, runtimes=None)
    assert result.status == SUCCEEDED, "\n".join(lines)
    warnings = [line for line in text(lines) if "runtime" in line.lower()]
    assert warnings == ["[Container] [WARN] Skipping install of runtimes. Runtime version selection is not "
                        "supported by this build image."]
    assert phase_lines(lines, DOWNLOAD_SOURCE)[3] == warnings[0]
    assert "build-ran" in lines


def test_a_stop_while_runtimes_are_selected_stops_the_build_not_faults_it(tmp_path):
    import threading

    cancel = threading.Event()
    cancel.set()  # stopped before its first shell command: the first is a runtime's "Installing" line
    result, lines = build(tmp_path, """
        version: 0.2
        phases:
          install:
            runtime-versions:
              nodejs: 20
          build:
            commands:
              - echo build-ran
        """, cancel=cancel)
    assert [(p.phase, p.status) for p in result.phases][3:] == [(DOWNLOAD_SOURCE, "STOPPED"), (FINALIZING, SUCCEEDED)]
    assert result.status == "STOPPED" and "build-ran" not in lines
