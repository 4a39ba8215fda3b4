"""The sample services of examples/ as files: each buildspec is one AWS's tutorials would write
(runtime-versions, the ECR login, tests with a report group, docker build and push,
imagedefinitions.json) and loads without a warning, each conveyor.yml validates, and what one
file names another provides (jest's report paths, envsubst's variables, the lockfile). The
builds themselves run in tests/e2e/test_e2e_runtimes.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conveyor.config.buildspec import load_buildspec
from conveyor.config.pipeline import load_pipeline

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: sample -> (the runtime its INSTALL phase selects, report groups and their formats)
SAMPLES = {
    "node-service": ({"nodejs": "20"}, {"jest-unit-tests": "JUNITXML", "jest-coverage": "CLOVERXML"}),
    "java-service": ({"java": "corretto17"}, {"surefire-reports": "JUNITXML"}),
    "go-service": ({"golang": "1.19"}, {"go-unit-tests": "JUNITXML"}),
    "multistage-service": ({}, {}),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_buildspec_is_the_tutorials_shape_and_loads_without_warnings(name):
    runtimes, reports = SAMPLES[name]
    spec = load_buildspec(EXAMPLES / name / "buildspec.yml")
    assert spec.warnings == ()
    assert spec.version == "0.2"
    install = spec.phases.get("install")
    assert (install.runtime_versions if install else {}) == runtimes
    pre_build = "\n".join(spec.phases["pre_build"].commands)
    assert "aws ecr get-login-password" in pre_build and "docker login --username AWS --password-stdin" in pre_build
    assert "CODEBUILD_RESOLVED_SOURCE_VERSION" in pre_build  # the image tag is the commit
    assert any(c.startswith("docker build ") for c in spec.phases["build"].commands)
    post_build = spec.phases["post_build"].commands
    assert any(c.startswith("docker push ") for c in post_build)
    printf = "printf '[{\"name\":\"%s\",\"imageUri\":\"%s\"}]'"
    assert any(c.startswith(printf) and c.endswith("> imagedefinitions.json") for c in post_build)
    assert {n: g.file_format for n, g in spec.reports.items()} == reports
    assert spec.artifacts is not None and "imagedefinitions.json" in spec.artifacts.files


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_pipeline_validates_and_its_build_is_privileged(name):
    pipeline = load_pipeline(EXAMPLES / name / "conveyor.yml")
    assert pipeline.name == name
    [build] = [a for stage in pipeline.stages for a in stage.actions if a.provider == "CodeBuild"]
    assert build.configuration["privilegedMode"] is True  # docker build/push: the engine socket


def test_node_jest_writes_the_reports_where_the_buildspec_reads_them():
    package = json.loads((EXAMPLES / "node-service" / "package.json").read_text())
    jest = package["jest"]
    [junit] = [options for reporter, options in (r for r in jest["reporters"] if isinstance(r, list))
               if reporter == "jest-junit"]
    assert "clover" in jest["coverageReporters"]
    reports = load_buildspec(EXAMPLES / "node-service" / "buildspec.yml").reports
    assert (reports["jest-unit-tests"].base_directory, reports["jest-unit-tests"].files) == (
        junit["outputDirectory"], (junit["outputName"],))
    assert (reports["jest-coverage"].base_directory, reports["jest-coverage"].files) == (
        jest["coverageDirectory"], ("clover.xml",))
    assert "--coverage" in package["scripts"]["test"]


def test_node_lockfile_matches_package_json():
    """`npm ci` refuses a lockfile out of step with package.json: the build would fail at INSTALL."""
    sample = EXAMPLES / "node-service"
    package = json.loads((sample / "package.json").read_text())
    lock = json.loads((sample / "package-lock.json").read_text())
    assert lock["lockfileVersion"] >= 2
    assert lock["packages"][""]["devDependencies"] == package["devDependencies"]
    assert not package.get("dependencies")  # the image ships the source alone: nothing to install
    for dep in package["devDependencies"]:
        assert f"node_modules/{dep}" in lock["packages"]


def test_node_cache_paths_are_the_tutorials_ones():
    cache = load_buildspec(EXAMPLES / "node-service" / "buildspec.yml").cache
    assert cache is not None and cache.paths == ("node_modules/**/*", "/root/.npm/**/*")


def test_every_variable_envsubst_fills_in_the_task_definition_is_exported_before_post_build():
    """envsubst writes an unset variable as an empty string, silently: each one the template
    names must be exported (or an `env: variables:` entry) by the time post_build runs it."""
    sample = EXAMPLES / "node-service"
    template = (sample / "taskdef-template.json").read_text()
    spec = load_buildspec(sample / "buildspec.yml")
    assert "envsubst < taskdef-template.json > taskdef.json" in spec.phases["post_build"].commands
    named = set(re.findall(r"\$\{(\w+)\}", template))
    assert named == {"ACCOUNT_ID", "CONTAINER_NAME", "IMAGE_URI", "IMAGE_TAG"}
    exported = set(spec.env.variables)
    for command in spec.phases["install"].commands + spec.phases["pre_build"].commands:
        exported |= set(re.findall(r"^export (\w+)=", command))
    assert named <= exported, named - exported
    json.loads(re.sub(r"\$\{\w+\}", "x", template))  # still JSON once filled in


def test_java_pom_pins_every_lifecycle_plugin():
    """Maven's own defaults for `package` (resources 2.6, compiler 3.1, surefire 2.12.4, jar 2.4)
    are not in the image's offline repository: each plugin the lifecycle runs is pinned."""
    pom = (EXAMPLES / "java-service" / "pom.xml").read_text()
    pinned = dict(re.findall(r"<artifactId>(maven-[a-z]+-plugin)</artifactId>\s*<version>([^<]+)</version>", pom))
    assert set(pinned) >= {"maven-resources-plugin", "maven-compiler-plugin", "maven-surefire-plugin",
                           "maven-jar-plugin"}


def test_go_module_has_no_requirements():
    """No module proxy is reachable from a build: the Go sample is standard library only."""
    sample = EXAMPLES / "go-service"
    assert "require" not in (sample / "go.mod").read_text()
    for source in sample.rglob("*.go"):
        imports = re.findall(r'^\s*"([^"]+)"$', source.read_text(), re.M)
        assert all("." not in path.split("/")[0] or path.startswith("example.com/go-service/")
                   for path in imports), (source, imports)
