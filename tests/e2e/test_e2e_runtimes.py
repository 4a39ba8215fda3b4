"""The sample services of examples/ (Node, Java with Maven, Go, a multi-stage Dockerfile with a
test target), each built by a buildspec written as AWS's tutorials write them, end to end
through `conveyor build` as a user runs it: runtime-versions, the ECR login, tests with their
report groups, docker build and push to the local registry under the commit's tag,
imagedefinitions.json. The Node service also through the CodeBuild action of a pipeline run by
the real daemon. A failing test fails the build, with its report still published.

The runtimes come from the standard build image (`conveyor setup`); the registry runs on its
default port, the only one the build engine's insecure-registry drop-in lets `docker push` reach
over plain HTTP (as test_e2e_demo does)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_support import action, git, wait_until
from stack_support import stack_missing

from conveyor.build.runtime_catalog import catalog_of
from conveyor.images import BASE_IMAGE, BUILD_IMAGE, BUSYBOX_IMAGE, JRE_IMAGE, NODE_IMAGE
from conveyor.providers.local.containers import detect_engine, image_exists
from conveyor.registry.uris import DEFAULT_PORT

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: what a sample's build leaves in its directory, never part of the sample's commit
UNTRACKED = shutil.ignore_patterns("node_modules", "coverage", "reports", "target", "dist",
                                   "__pycache__", "imagedefinitions.json", "taskdef.json")
BUILD_TIMEOUT = 900  # seconds: a cold `npm ci` of jest's ~270 packages, a first `go build` of std


def _labels(ref: str) -> dict[str, str]:
    done = subprocess.run([detect_engine().binary, "image", "inspect", ref, "--format", "{{json .Labels}}"],
                          capture_output=True, text=True)
    return json.loads(done.stdout or "null") or {} if done.returncode == 0 else {}


def needs_runtime(name: str | None) -> None:
    """The standard build image (with runtime `name` when given); else skip locally, fail in CI
    (stack_support). The multi-stage sample needs no runtime of it, but its docker wrapper: the
    classic-builder fallback for DOCKER_BUILDKIT=1 and `docker run --rm`'s exit status (podman
    4.3's API answers the client's wait for a removed container with 0), both in the standard
    image `conveyor setup` builds."""
    if not image_exists(detect_engine(), BUILD_IMAGE):
        stack_missing(f"{BUILD_IMAGE} is missing")
    catalog = catalog_of(_labels(BUILD_IMAGE))
    if catalog is None:
        stack_missing(f"{BUILD_IMAGE} is not the standard build image (no runtime catalog label)")
    if name is not None and name not in catalog.runtimes:
        stack_missing(f"{BUILD_IMAGE} has no {name} runtime")


def sample_repo(name: str, dest: Path, extra: dict[str, str] | None = None) -> tuple[Path, str]:
    """examples/<name> as a fresh git repository (plus `extra` files); (path, commit)."""
    repo = dest / name
    shutil.copytree(EXAMPLES / name, repo, ignore=UNTRACKED)
    for rel, text in (extra or {}).items():
        (repo / rel).write_text(text)
    git("init", "--quiet", "-b", "main", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "--quiet", "-m", f"{name}", cwd=repo)
    return repo, git("rev-parse", "HEAD", cwd=repo)


def conveyor_build(conveyor, repo: Path, out: Path, base_image: str) -> subprocess.CompletedProcess:
    """`conveyor build` in the repository, as a user runs it (its own timeout: builds are long)."""
    return subprocess.run([sys.executable, "-m", "conveyor.cli.main", "build", "--env", f"BASE_IMAGE={base_image}",
                           "--artifacts", str(out)], cwd=repo, env=conveyor.env, capture_output=True, text=True,
                          timeout=BUILD_TIMEOUT)


def registry_tags(conveyor, repository: str) -> list[str]:
    """The tags of `repository` in the local registry ([] when nothing was ever pushed to it)."""
    listed = conveyor.json("image", "ls")["repositories"]
    return [tag for repo in listed if repo["repositoryUri"].endswith(f"/{repository}")
            for image in repo["images"] for tag in image["imageTags"]]


def remove_images(repository: str) -> None:
    """The engine's copies of what a sample's build tagged (the registry goes with the data dir)."""
    engine = detect_engine()
    done = subprocess.run([engine.binary, "images", "--format", "{{.Repository}}:{{.Tag}}"],
                          capture_output=True, text=True)
    refs = [r for r in done.stdout.split() if r.rsplit(":", 1)[0].rsplit("/", 1)[-1] == repository]
    if refs:
        subprocess.run([engine.binary, "rmi", "-f", *refs], capture_output=True)


@pytest.fixture
def registry_daemon(conveyor):
    """The daemon (and its registry on the default port), torn down with the data plane."""
    conveyor.env["CONVEYOR_REGISTRY_PORT"] = str(DEFAULT_PORT)
    conveyor("up")
    return conveyor


def built(done: subprocess.CompletedProcess) -> str:
    out = done.stdout + done.stderr
    assert done.returncode == 0 and re.search(r"^build \S+: SUCCEEDED in ", done.stdout, re.M), out
    return out


def image_uri(out: str) -> str:
    return re.search(r"^  exported IMAGE_URI=(\S+)$", out, re.M).group(1)


def report_line(out: str, group: str) -> str:
    found = re.search(rf"Report group ({re.escape(group)}: .*)$", out, re.M)
    assert found, f"no report line for {group}:\n{out}"
    return found.group(1)


def check_pushed(conveyor, out: str, artifacts: Path, repository: str, sha: str, container: str) -> str:
    """The image is in the local registry under the commit's tag and imagedefinitions.json names it."""
    uri = image_uri(out)
    assert uri.endswith(f"/{repository}:{sha[:7]}"), uri
    assert sha[:7] in registry_tags(conveyor, repository)
    definitions = json.loads((artifacts / "primary" / "imagedefinitions.json").read_text())
    assert definitions == [{"name": container, "imageUri": uri}]
    return uri


# --- Node -----------------------------------------------------------------------------------

FAILING_JEST = """'use strict';
const { greeting } = require('../src/greetings');
test('greets in Klingon', () => {
  expect(greeting('Worf', 'en')).toBe('nuqneH, Worf!');
});
"""


@pytest.mark.podman
def test_node_service_builds_tests_with_reports_and_pushes(tmp_path, registry_daemon):
    needs_runtime("nodejs")
    repo, sha = sample_repo("node-service", tmp_path)
    try:
        out = built(conveyor_build(registry_daemon, repo, tmp_path / "out", NODE_IMAGE))
        assert re.search(r"^v20\.", out, re.M), out  # runtime-versions nodejs: 20
        assert re.search(r"^added \d+ packages", out, re.M), out  # npm ci reached the npm registry
        assert report_line(out, "jest-unit-tests") == "jest-unit-tests: SUCCEEDED — 9 tests, 9 passed, 0 failed"
        coverage = re.fullmatch(r"jest-coverage: line coverage (\d+\.\d)%", report_line(out, "jest-coverage"))
        assert coverage and 0 < float(coverage.group(1)) <= 100, out
        uri = check_pushed(registry_daemon, out, tmp_path / "out", "node-service", sha, "web")
        # post_build's `envsubst < taskdef-template.json > taskdef.json`
        taskdef = json.loads((tmp_path / "out" / "primary" / "taskdef.json").read_text())
        [container] = taskdef["containerDefinitions"]
        assert (container["name"], container["image"]) == ("web", uri)
        assert container["environment"][0] == {"name": "APP_VERSION", "value": sha[:7]}
        assert taskdef["executionRoleArn"] == "arn:aws:iam::000000000000:role/ecsTaskExecutionRole"
        assert (tmp_path / "out" / "primary" / "appspec.yaml").is_file()
    finally:
        remove_images("node-service")


@pytest.mark.podman
def test_a_failing_jest_test_fails_the_build_and_its_report_is_still_published(tmp_path, registry_daemon):
    needs_runtime("nodejs")
    repo, sha = sample_repo("node-service", tmp_path, {"test/klingon.test.js": FAILING_JEST})
    try:
        done = conveyor_build(registry_daemon, repo, tmp_path / "out", NODE_IMAGE)
        out = done.stdout + done.stderr
        assert done.returncode == 1 and re.search(r"^build \S+: FAILED in ", done.stdout, re.M), out
        assert "Phase complete: BUILD State: FAILED" in out
        assert "Error while executing command: npm test" in out
        assert report_line(out, "jest-unit-tests") == "jest-unit-tests: FAILED — 10 tests, 9 passed, 1 failed"
        assert "jest-coverage: line coverage" in report_line(out, "jest-coverage")
        assert sha[:7] not in registry_tags(registry_daemon, "node-service")  # nothing was pushed
    finally:
        remove_images("node-service")


@pytest.mark.podman
def test_node_service_through_the_codebuild_action_of_a_pipeline(tmp_path, registry_daemon):
    needs_runtime("nodejs")
    repo, sha = sample_repo("node-service", tmp_path)
    try:
        ex = registry_daemon.json("run", "--repo", str(repo))
        done = wait_until(lambda: (e := registry_daemon.execution(ex["id"]))["status"] != "InProgress" and e,
                          BUILD_TIMEOUT, interval=1, what="the node-service pipeline")
        assert done["status"] == "Succeeded", done.get("reason")
        build = action(done, "Build", "Build")
        uri = build["variables"]["IMAGE_URI"]
        assert build["variables"]["IMAGE_TAG"] == sha[:7] and uri.endswith(f"/node-service:{sha[:7]}")
        reports = {r["name"]: r for r in build["reports"]}
        tests = reports["jest-unit-tests"]
        assert (tests["status"], tests["format"], tests["total"], tests["passed"]) == ("SUCCEEDED", "JUNITXML", 9, 9)
        assert reports["jest-coverage"]["format"] == "CLOVERXML"
        assert 0 < reports["jest-coverage"]["lineCoveragePercent"] <= 100
        assert sha[:7] in registry_tags(registry_daemon, "node-service")
        logs = registry_daemon("logs", ex["id"], "--stage", "Build").stdout
        assert f'[{{"name":"web","imageUri":"{uri}"}}]' in logs
    finally:
        remove_images("node-service")


# --- Java, Go -------------------------------------------------------------------------------

@pytest.mark.podman
def test_java_service_builds_with_maven_offline_and_pushes(tmp_path, registry_daemon):
    needs_runtime("java")
    repo, sha = sample_repo("java-service", tmp_path)
    try:
        out = built(conveyor_build(registry_daemon, repo, tmp_path / "out", JRE_IMAGE))
        assert re.search(r'^openjdk version "17\.', out, re.M), out  # runtime-versions java: corretto17
        assert "Tests run: 7, Failures: 0, Errors: 0, Skipped: 0" in out
        assert report_line(out, "surefire-reports") == "surefire-reports: SUCCEEDED — 7 tests, 7 passed, 0 failed"
        check_pushed(registry_daemon, out, tmp_path / "out", "java-service", sha, "wordcount")
        assert (tmp_path / "out" / "primary" / "java-service.jar").stat().st_size > 0
    finally:
        remove_images("java-service")


@pytest.mark.podman
def test_go_service_vets_tests_and_pushes_a_static_binary_on_busybox(tmp_path, registry_daemon):
    needs_runtime("golang")
    if not image_exists(detect_engine(), BUSYBOX_IMAGE):
        stack_missing(f"{BUSYBOX_IMAGE} is missing")
    repo, sha = sample_repo("go-service", tmp_path)
    try:
        out = built(conveyor_build(registry_daemon, repo, tmp_path / "out", BUSYBOX_IMAGE))
        assert re.search(r"^go version go1\.19", out, re.M), out  # runtime-versions golang: 1.19
        assert report_line(out, "go-unit-tests") == "go-unit-tests: SUCCEEDED — 5 tests, 5 passed, 0 failed"
        uri = check_pushed(registry_daemon, out, tmp_path / "out", "go-service", sha, "units")
        # the image is busybox plus one static binary that answers for the commit it was built from
        engine = detect_engine()
        run = subprocess.run([engine.binary, "run", "--rm", "--entrypoint", "/bin/sh", uri, "-c",
                              "ls /usr/local/bin; /usr/local/bin/go-service & sleep 1; "
                              "wget -qO- http://127.0.0.1:8080/version"], capture_output=True, text=True, timeout=60)
        assert run.stdout.split()[0] == "go-service" and f'"commit":"{sha}"' in run.stdout, run.stdout + run.stderr
    finally:
        remove_images("go-service")


@pytest.mark.podman
def test_a_failing_go_test_fails_the_build_with_a_junit_report(tmp_path, registry_daemon):
    needs_runtime("golang")
    failing = ('package units\n\nimport "testing"\n\n'
               'func TestLeague(t *testing.T) {\n\tif _, err := Convert(1, "league", "m"); err != nil {\n'
               '\t\tt.Fatal(err)\n\t}\n}\n')
    repo, sha = sample_repo("go-service", tmp_path, {"internal/units/league_test.go": failing})
    try:
        done = conveyor_build(registry_daemon, repo, tmp_path / "out", BUSYBOX_IMAGE)
        out = done.stdout + done.stderr
        assert done.returncode == 1 and "Phase complete: BUILD State: FAILED" in out, out
        assert 'unknown unit "league"' in out  # the converter echoes the tests' output
        assert report_line(out, "go-unit-tests") == "go-unit-tests: FAILED — 6 tests, 5 passed, 1 failed"
        assert sha[:7] not in registry_tags(registry_daemon, "go-service")
    finally:
        remove_images("go-service")


# --- multi-stage ----------------------------------------------------------------------------

@pytest.mark.podman
def test_multistage_runs_its_test_target_then_pushes_the_release_stage(tmp_path, registry_daemon):
    needs_runtime(None)
    if not image_exists(detect_engine(), BASE_IMAGE):
        stack_missing(f"{BASE_IMAGE} is missing")
    repo, sha = sample_repo("multistage-service", tmp_path)
    try:
        out = built(conveyor_build(registry_daemon, repo, tmp_path / "out", BASE_IMAGE))
        assert re.search(r"^Ran 4 tests in ", out, re.M) and re.search(r"^OK$", out, re.M), out
        uri = check_pushed(registry_daemon, out, tmp_path / "out", "multistage-service", sha, "pricing")
        # the release stage ships without the tests and runs as nobody
        engine = detect_engine()
        probe = subprocess.run([engine.binary, "run", "--rm", uri, "sh", "-c", "id -u; ls /srv"],
                               capture_output=True, text=True, timeout=60)
        assert probe.stdout.split() == ["65534", "app"], probe.stdout + probe.stderr
    finally:
        remove_images("multistage-service")


@pytest.mark.podman
def test_a_failing_test_in_the_test_target_fails_the_build_and_nothing_is_pushed(tmp_path, registry_daemon):
    needs_runtime(None)
    if not image_exists(detect_engine(), BASE_IMAGE):
        stack_missing(f"{BASE_IMAGE} is missing")
    failing = ("import unittest\n\nfrom app.pricing import total_cents\n\n\n"
               "class Luxury(unittest.TestCase):\n    def test_luxury_rate(self):\n"
               "        self.assertEqual(total_cents(100, 1, 'luxury'), 125)\n")
    repo, sha = sample_repo("multistage-service", tmp_path, {"tests/test_luxury.py": failing})
    try:
        done = conveyor_build(registry_daemon, repo, tmp_path / "out", BASE_IMAGE)
        out = done.stdout + done.stderr
        assert done.returncode == 1 and re.search(r"^build \S+: FAILED in ", done.stdout, re.M), out
        assert re.search(r"^FAILED \(errors=1\)$", out, re.M), out
        # the tests' exit status reaches the build through `docker run --rm` (the wrapper keeps it)
        assert 'Error while executing command: docker run --rm "$REPOSITORY_NAME:test". Reason: exit status 1' in out
        assert "Entering phase POST_BUILD" not in out  # on-failure: ABORT
        assert sha[:7] not in registry_tags(registry_daemon, "multistage-service")
    finally:
        remove_images("multistage-service")
