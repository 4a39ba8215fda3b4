"""`conveyor validate` on a buildspec's runtime-versions: what the build image cannot provide is
a warning at that runtime's key, in CodeBuild's words, and the file stays valid (it is right for
CodeBuild). Pure over a fixture catalog, then the real command against the real standard build
image and against images without a catalog or not there at all."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from runtime_fixtures import standard_catalog
from stack_support import stack_missing

from conveyor.build.runtime_lint import runtime_warnings
from conveyor.build.runtimes import SKIP_WARNING
from conveyor.config.buildspec import load_buildspec_text
from conveyor.documents.located import load_text
from conveyor.images import BASE_IMAGE, BUILD_IMAGE
from conveyor.providers.local.containers import detect_engine, image_exists

IMAGE = "localhost/conveyor/build:latest"
BUILDSPEC = """\
version: 0.2
env:
  variables:
    NODE_MAJOR: "16"
phases:
  install:
    runtime-versions:
      nodejs: $NODE_MAJOR
      python: 3.11
      java: corretto11
      ruby: $FROM_THE_PROJECT
      dotnet: "6.0"
  build:
    commands:
      - echo hi
"""


def warnings(text: str, catalog=None) -> list[tuple[int, str, str]]:
    doc = load_text(text, "buildspec.yml")
    found = runtime_warnings(doc, load_buildspec_text(text), catalog, IMAGE)
    assert all(d.severity == "warning" and d.file == "buildspec.yml" for d in found)
    return [(d.line, d.path, d.message) for d in found]


def test_each_version_the_image_lacks_is_a_warning_at_its_key_with_codebuilds_message():
    found = warnings(BUILDSPEC, standard_catalog())
    assert [(line, path) for line, path, _ in found] == [
        (8, "phases.install.runtime-versions.nodejs"),     # $NODE_MAJOR is the buildspec's own: 16
        (10, "phases.install.runtime-versions.java"),
        (12, "phases.install.runtime-versions.dotnet")]    # python 3.11 is there; ruby's variable is unknown
    messages = [message for *_, message in found]
    assert messages[0].startswith("Unknown runtime version named '16' of nodejs. This build image has the "
                                  "following versions: 18, 20, 22")
    assert messages[1].startswith("Unknown runtime version named 'corretto11' of java. This build image has the "
                                  "following versions: corretto17")
    assert messages[2].startswith("Unknown runtime named 'dotnet'. This build image has the following runtimes: "
                                  "golang, java, nodejs, php, python, ruby")
    assert all(f"(in {IMAGE}, where a build stops at DOWNLOAD_SOURCE with YAML_FILE_ERROR)" in m for m in messages)


def test_what_the_image_has_and_buildspecs_without_runtime_versions_give_no_warning():
    selectable = BUILDSPEC.replace("$NODE_MAJOR", "20.x").replace("corretto11", "latest") \
        .replace('dotnet: "6.0"', "golang: 1.x")
    assert warnings(selectable, standard_catalog()) == []
    assert warnings("version: 0.2\nphases:\n  build:\n    commands:\n      - make\n", standard_catalog()) == []
    assert warnings("version: 0.2\nphases:\n  build:\n    commands:\n      - make\n", None) == []


def test_an_image_without_a_catalog_says_runtime_versions_would_be_skipped():
    [(line, path, message)] = warnings(BUILDSPEC, None)
    assert (line, path) == (7, "phases.install.runtime-versions")
    assert "has no runtime catalog" in message and SKIP_WARNING in message


# --- the real command ----------------------------------------------------------------------

def validate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "import sys; from conveyor.cli.main import main; "
                                                 "sys.exit(main(sys.argv[1:]))", "validate", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def buildspec(tmp_path: Path) -> Path:
    path = tmp_path / "buildspec.yml"
    path.write_text(BUILDSPEC)
    return path


@pytest.mark.podman
def test_validate_checks_against_the_real_standard_image_and_stays_valid(buildspec):
    if not image_exists(detect_engine(), BUILD_IMAGE):
        stack_missing(f"{BUILD_IMAGE} is missing")
    done = validate(str(buildspec))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert f"{buildspec}:8:7 phases.install.runtime-versions.nodejs: warning: Unknown runtime version named " \
           "'16' of nodejs. This build image has the following versions: 18, 20, 22" in done.stdout
    assert any(".java: warning: Unknown runtime version named 'corretto11'" in line for line in lines)
    assert any(".dotnet: warning: Unknown runtime named 'dotnet'" in line for line in lines)
    assert not any(".python:" in line or ".ruby:" in line for line in lines)
    assert lines[-1] == f"✓ {buildspec} (buildspec) is valid — 3 warning(s)"


@pytest.mark.podman
def test_validate_with_an_image_without_a_catalog_or_no_image_at_all(buildspec):
    if not image_exists(detect_engine(), BASE_IMAGE):
        stack_missing(f"{BASE_IMAGE} is missing")
    plain = json.loads(validate("--json", "--build-image", BASE_IMAGE, str(buildspec)).stdout)
    assert (plain["errors"], plain["warnings"]) == (0, 1)
    assert plain["diagnostics"][0]["path"] == "phases.install.runtime-versions"
    assert plain["diagnostics"][0]["message"].startswith(f"{BASE_IMAGE} has no runtime catalog")
    missing = validate("--json", "--build-image", "localhost/conveyor-test/absent:never", str(buildspec))
    assert missing.returncode == 0
    [diagnostic] = json.loads(missing.stdout)["diagnostics"]
    assert diagnostic["message"] == ("not checked against a build image: localhost/conveyor-test/absent:never is "
                                     "not available (build or pull it first)")


def test_a_buildspec_with_errors_is_not_checked_against_an_image(tmp_path):
    bad = tmp_path / "buildspec.yml"
    bad.write_text(textwrap.dedent("""\
        version: 0.2
        phases:
          install:
            runtime-versions:
              nodejs: 16
            commands: 7
        """))
    done = validate("--json", "--build-image", "localhost/conveyor-test/absent:never", str(bad))
    report = json.loads(done.stdout)
    assert done.returncode == 2 and report["errors"] >= 1
    assert not any("runtime-versions" in d["path"] and d["severity"] == "warning" for d in report["diagnostics"])
