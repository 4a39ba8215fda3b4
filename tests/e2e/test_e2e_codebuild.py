"""The CodeBuild action in a pipeline, through the real daemon: the buildspec runs in the build
container, its exported variables and artifacts flow to the next action."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from e2e_support import action, pipeline_repo, wait_until
from stack_support import stack_missing

BUILDSPEC = textwrap.dedent("""\
    version: 0.2
    env:
      exported-variables: [IMAGE_TAG]
    phases:
      build:
        commands:
          - export IMAGE_TAG=$(echo $CODEBUILD_RESOLVED_SOURCE_VERSION | cut -c1-7)
          - mkdir -p dist && echo "built $IMAGE_TAG" > dist/app.txt
          - printf '[{"name":"api","imageUri":"orders:%s"}]' "$IMAGE_TAG" > imagedefinitions.json
          - test "$CODEBUILD_INITIATOR" = codepipeline/built
    artifacts:
      files: [imagedefinitions.json, dist/**/*]
    """)

PIPELINE = textwrap.dedent("""\
    name: built
    allowHostCommands: true
    pipeline:
      pollIntervalSeconds: 0
      stages:
        - name: Source
          actions:
            - {name: Source, provider: Git, outputArtifacts: [src], namespace: SourceVariables}
        - name: Build
          actions:
            - {name: Build, provider: CodeBuild, inputArtifacts: [src], outputArtifacts: [build], namespace: BuildVars}
        - name: Use
          actions:
            - name: Show
              provider: Command
              command: [sh, -c, "cat imagedefinitions.json dist/app.txt; echo tag=#{BuildVars.IMAGE_TAG}"]
              inputArtifacts: [build]
    """)


@pytest.fixture
def build_image():
    from conveyor.images import BUILD_IMAGE
    from conveyor.providers.local.containers import detect_engine, image_exists

    if not image_exists(detect_engine(), BUILD_IMAGE):
        stack_missing(f"{BUILD_IMAGE} is missing: run `conveyor setup`")


@pytest.mark.podman
def test_codebuild_action_exports_variables_and_artifacts(tmp_path, daemon, build_image):
    repo = pipeline_repo(tmp_path / "repo", PIPELINE)
    (repo / "buildspec.yml").write_text(BUILDSPEC)
    from e2e_support import git

    git("add", "-A", cwd=repo)
    git("commit", "--quiet", "-m", "buildspec", cwd=repo)
    sha = git("rev-parse", "HEAD", cwd=repo)
    ex = daemon.json("run", "--repo", str(repo))
    done = wait_until(lambda: (e := daemon.execution(ex["id"]))["status"] not in ("InProgress",) and e, 120)
    assert done["status"] == "Succeeded", done.get("reason")
    assert action(done, "Build", "Build")["variables"] == {"IMAGE_TAG": sha[:7]}
    logs = daemon("logs", ex["id"]).stdout
    assert "Entering phase BUILD" in logs and "Phase complete: BUILD State: SUCCEEDED" in logs
    assert f'[{{"name":"api","imageUri":"orders:{sha[:7]}"}}]' in logs
    assert f"built {sha[:7]}" in logs and f"tag={sha[:7]}" in logs


@pytest.mark.podman
def test_a_failed_build_fails_the_action_with_the_phase_context(tmp_path, daemon, build_image):
    repo = pipeline_repo(tmp_path / "repo", PIPELINE)
    (repo / "buildspec.yml").write_text("version: 0.2\nphases:\n  build:\n    commands:\n      - exit 3\n")
    from e2e_support import git

    git("add", "-A", cwd=repo)
    git("commit", "--quiet", "-m", "failing buildspec", cwd=repo)
    ex = daemon.json("run", "--repo", str(repo))
    done = wait_until(lambda: (e := daemon.execution(ex["id"]))["status"] not in ("InProgress",) and e, 120)
    assert done["status"] == "Failed"
    assert action(done, "Build", "Build")["error"] == (
        "build FAILED in BUILD: Error while executing command: exit 3. Reason: exit status 3")


FIXTURES = Path(__file__).resolve().parents[1] / "reports" / "fixtures"


@pytest.mark.podman
@pytest.mark.parametrize("category, expected", [("Build", "Succeeded"), ("Test", "Failed")])
def test_reports_are_stored_and_gate_a_test_action(tmp_path, daemon, build_image, category, expected):
    """A real pytest JUnit report with failures: stored and shown for any CodeBuild action;
    it fails the action only when the action is a Test action."""
    repo = pipeline_repo(tmp_path / "repo", PIPELINE.replace(
        "{name: Build, provider: CodeBuild,", f"{{name: Build, provider: CodeBuild, category: {category},"))
    (repo / "reports").mkdir()
    shutil.copy(FIXTURES / "pytest-junit-xunit2.xml", repo / "reports" / "junit.xml")
    (repo / "buildspec.yml").write_text(BUILDSPEC + textwrap.dedent("""\
        reports:
          unit-tests:
            files: ["**/*.xml"]
            base-directory: reports
            file-format: JUNITXML
        """))
    from e2e_support import git

    git("add", "-A", cwd=repo)
    git("commit", "--quiet", "-m", "with reports", cwd=repo)
    ex = daemon.json("run", "--repo", str(repo))
    done = wait_until(lambda: (e := daemon.execution(ex["id"]))["status"] not in ("InProgress",) and e, 120)
    assert done["status"] == expected
    build = action(done, "Build", "Build")
    [summary] = build["reports"]
    assert (summary["name"], summary["status"], summary["format"]) == ("unit-tests", "FAILED", "JUNITXML")
    assert summary["total"] == summary["passed"] + summary["failed"] + summary["errors"] + summary["skipped"]
    assert summary["failed"] >= 1
    if category == "Test":
        assert build["error"].startswith("unit-tests: FAILED — ")
    text = daemon("report", ex["id"]).stdout
    assert "Build.Build (attempt 1) — JUNITXML report unit-tests: FAILED" in text
    assert "  ✗ " in text
    detail = daemon.json("report", ex["id"])
    assert len([c for c in detail[0]["cases"] if c["status"] == "FAILED"]) == summary["failed"]
    assert "Report group unit-tests: FAILED" in daemon("logs", ex["id"]).stdout


@pytest.mark.podman
@pytest.mark.parametrize("privileged", [False, True])
def test_only_a_privileged_build_reaches_the_container_engine(tmp_path, daemon, build_image, privileged):
    """CodeBuild's privilegedMode is a project setting: on the action in conveyor.yml, never in the
    buildspec. Without it the build container has no engine socket and no DOCKER_HOST."""
    pipeline = PIPELINE.replace("namespace: BuildVars}", "namespace: BuildVars, privilegedMode: true}")
    repo = pipeline_repo(tmp_path / "repo", pipeline if privileged else PIPELINE)
    probe = ('      - if [ -S /var/run/docker.sock ]; then echo engine-socket=yes; '
             'else echo engine-socket=no; fi\n      - echo "DOCKER_HOST=${DOCKER_HOST:-unset}"\n')
    marker = '      - test "$CODEBUILD_INITIATOR" = codepipeline/built\n'
    (repo / "buildspec.yml").write_text(BUILDSPEC.replace(marker, marker + probe))
    from e2e_support import git

    git("add", "-A", cwd=repo)
    git("commit", "--quiet", "-m", "buildspec", cwd=repo)
    ex = daemon.json("run", "--repo", str(repo))
    done = wait_until(lambda: (e := daemon.execution(ex["id"]))["status"] not in ("InProgress",) and e, 120)
    assert done["status"] == "Succeeded", done.get("reason")
    logs = daemon("logs", ex["id"]).stdout
    if privileged:
        assert "engine-socket=yes" in logs and "DOCKER_HOST=unix:///var/run/docker.sock" in logs
    else:
        assert "engine-socket=no" in logs and "DOCKER_HOST=unset" in logs
