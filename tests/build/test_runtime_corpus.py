"""Conformance: the runtime selection (only that — not the commands) of every corpus buildspec
with `runtime-versions`, against a hand-written verdict per file: which runtime got which version,
or that it was refused with CodeBuild's message listing exactly what the catalog has.

Checked twice: against a fixture catalog shaped like the standard build image (always runs), and
against the catalog label of the real BUILD_IMAGE (podman; a missing image or label fails under
CI=true, skips elsewhere). The verdicts say what the standard image provides today: nodejs 18, 20,
22; python 3.11; java corretto17 (Debian's OpenJDK 17, alias openjdk17); golang 1.19, 1.22; ruby 3.1;
php 8.2 — so most of these real-world files, written for CodeBuild images of 2019–2023, are refused
with a message naming what to write instead, never run against a silently different runtime.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
import yaml
from runtime_fixtures import standard_catalog
from stack_support import in_ci, stack_missing

from conveyor.build.image_runtimes import image_catalog
from conveyor.build.runtime_catalog import Catalog
from conveyor.build.runtimes import DOCKER_HINT, select
from conveyor.config.buildspec import load_buildspec
from conveyor.errors import ConfigError
from conveyor.images import BUILD_IMAGE

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "buildspec"


class Refused:
    """The runtime is not in the image (unknown_runtime) or the version is not (the default)."""

    def __init__(self, version: str, *, runtime_unknown: bool = False, unset: str = ""):
        self.version, self.runtime_unknown, self.unset = version, runtime_unknown, unset

    def __repr__(self) -> str:
        return f"Refused({self.version!r})"


def no(version: str, **kw) -> Refused:
    return Refused(version, **kw)


def no_runtime(version: str) -> Refused:
    return Refused(version, runtime_unknown=True)


# Every corpus file whose install phase has runtime-versions (in buildspec order), and its verdict: a
# catalog key for a selected runtime, Refused for a refused one. Files a build would refuse are refused
# as a whole (nothing is applied), but each runtime's own verdict is checked.
VERDICTS: dict[str, dict[str, str | Refused]] = {
    # `python: 3.10` unquoted is the YAML number 3.1: CodeBuild sees '3.1' (tests/config/test_buildspec_corpus.py)
    "AcademySoftwareFoundation__openvdb__ci__buildspec.yml": {"python": no("3.1")},
    "Apillon__apillon-services__buildspec-test.yml": {"nodejs": no("16")},
    "alltheplaces__alltheplaces__ci__buildspec.yml": {"python": "3.11"},
    # invalid as a buildspec (a duplicate key in batch); its runtime-versions read with a plain YAML loader
    "appsmithorg__appsmith__ci__buildspec.yml": {"java": no("corretto11"), "nodejs": no("14")},
    "aws-samples__aws-codebuild-samples__dockerbuildspec.yml": {"docker": no_runtime("18")},
    "aws__aws-encryption-sdk-java__codebuild__release__release-prod.yml": {"java": no("openjdk11")},
    "aws__aws-encryption-sdk-javascript__codebuild__release__publish.yml": {"nodejs": no("16")},
    "aws__aws-encryption-sdk-javascript__codebuild__release__version.yml": {"nodejs": no("16")},
    # JAVA_RUNTIME is a project variable on CodeBuild; the buildspec alone does not set it
    "aws__aws-sdk-java-v2__buildspecs__integ-test.yml": {"java": no("", unset="JAVA_RUNTIME")},
    # `dotnet: 6.0` unquoted is the YAML number 6; `java: latest` is the newest java the image has
    "aws__aws-toolkit-vscode__buildspec__linuxIntegrationTests.yml":
        {"nodejs": no("16"), "dotnet": no_runtime("6"), "java": "corretto17"},
    "aws__aws-toolkit-vscode__buildspec__linuxTests.yml": {"nodejs": no("10")},
    "aws__aws-toolkit-vscode__buildspec__release__50githubrelease.yml": {"nodejs": no("16")},
    "aws__s2n-tls__codebuild__spec__buildspec_integ_matrix.yml": {"python": no("3.7")},
    "aws__s2n-tls__codebuild__spec__buildspec_ubuntu_fuzz_artifacts.yml": {"python": no("3.7")},
    "aws__sagemaker-xgboost-container__ci__buildspec.yml": {"python": no("3.8"), "docker": no_runtime("17")},
    "ca-risken__core__codebuild__buildspec.yml": {"golang": no("1.13")},
    # invalid as a buildspec (post_build command 12 is a mapping); read with a plain YAML loader
    "insidero__parameterized-aws-codebuild-docker-image-buildspec__buildspec.yml": {"docker": no_runtime("19")},
    "ooni__backend__fastpath__buildspec.yml": {"python": "3.11"},
    "shashank070__aws-codepipeline-ecs-bluegreen-deployment__buildspec.yml": {"java": no("openjdk8")},
    "toluna-terraform__terraform-aws-infra-pipeline__templates__buildspec-git-merge.yml.tpl":
        {"docker": no_runtime("18")},
}

# What the fixture catalog lists, written out (not computed by the code under test).
FIXTURE_RUNTIMES = "golang, java, nodejs, php, python, ruby"
FIXTURE_VERSIONS = {"nodejs": "18, 20, 22", "python": "3.11", "java": "corretto17", "golang": "1.19, 1.22",
                    "ruby": "3.1", "php": "8.2"}


@pytest.fixture(scope="module")
def corpus() -> Path:
    if not CORPUS.is_dir():
        message = f"the shared buildspec corpus is not checked out next to the repository ({CORPUS})"
        if in_ci():  # CI clones beside ../shared: a missing corpus there is a broken run, not a skip
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return CORPUS


def requested(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(runtime-versions as CodeBuild reads it, the buildspec's env.variables). A file that is not
    a valid buildspec is read with a plain YAML loader: only its runtime selection is under test."""
    try:
        spec = load_buildspec(path)
    except ConfigError:
        body = yaml.safe_load(path.read_text())
        raw = ((body.get("phases") or {}).get("install") or {}).get("runtime-versions") or {}
        return {str(k): str(v) for k, v in raw.items()}, {}
    install = spec.phases.get("install")
    return (dict(install.runtime_versions) if install else {}), dict(spec.env.variables)


def test_the_table_covers_every_corpus_file_with_runtime_versions(corpus):
    having = sorted(p.name for p in corpus.iterdir() if requested(p)[0])
    assert having == sorted(VERDICTS)
    assert len(VERDICTS) == 20  # the 21st mention (cypress-io … buildspec-matrix.yml) is commented out
    for name, verdicts in VERDICTS.items():
        assert list(requested(corpus / name)[0]) == list(verdicts), name


def check(path: Path, verdicts: dict[str, str | Refused], catalog: Catalog, runtimes: str,
          versions: dict[str, str]) -> None:
    wanted, env = requested(path)
    selection = select(wanted, catalog, env)
    chosen = {c.runtime: c.version.key for c in selection.chosen}
    expected_problems = []
    for runtime, verdict in verdicts.items():
        if isinstance(verdict, str):
            assert chosen.get(runtime) == verdict, (path.name, runtime, selection)
            continue
        assert runtime not in chosen, (path.name, runtime)
        if verdict.runtime_unknown:
            text = f"Unknown runtime named '{runtime}'. This build image has the following runtimes: {runtimes}"
            expected_problems.append(text + (f" {DOCKER_HINT}" if runtime == "docker" else ""))
        else:
            text = (f"Unknown runtime version named '{verdict.version}' of {runtime}. This build image has the "
                    f"following versions: {versions[runtime]}")
            expected_problems.append(text + (f" ({verdict.unset} is not set in the build environment)"
                                             if verdict.unset else ""))
    assert list(selection.problems) == expected_problems, path.name
    assert selection.ok == all(isinstance(v, str) for v in verdicts.values())


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_corpus_runtime_selection_against_the_standard_image_fixture(corpus, name):
    check(corpus / name, VERDICTS[name], standard_catalog(), FIXTURE_RUNTIMES, FIXTURE_VERSIONS)


def test_a_project_variable_names_the_java_runtime_of_the_sdk_integ_test(corpus):
    wanted, _ = requested(corpus / "aws__aws-sdk-java-v2__buildspecs__integ-test.yml")
    selection = select(wanted, standard_catalog(), {"JAVA_RUNTIME": "corretto17"})
    assert [(c.runtime, c.version.key) for c in selection.chosen] == [("java", "corretto17")]


# --- the real standard image ---------------------------------------------------------------------

@cache
def real_catalog() -> Catalog | None:
    from conveyor.providers.local.containers import detect_engine, image_exists

    engine = detect_engine()
    if not image_exists(engine, BUILD_IMAGE):
        return None
    return image_catalog(engine, BUILD_IMAGE)


def _natural(key: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", key))


@pytest.mark.podman
@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_corpus_runtime_selection_against_the_real_build_image(corpus, name):
    catalog = real_catalog()
    if catalog is None:
        stack_missing(f"{BUILD_IMAGE} is missing or carries no runtime catalog (label io.conveyor.runtimes): "
                      "the standard build image is built by `conveyor setup`")
    runtimes = ", ".join(sorted(catalog.runtimes))
    versions = {name: ", ".join(sorted((v.key for v in r.versions), key=_natural))
                for name, r in catalog.runtimes.items()}
    check(corpus / name, VERDICTS[name], catalog, runtimes, versions)
