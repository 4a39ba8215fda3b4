"""Docker inside builds as the recipe's buildspecs use it, for real: the build runner, the build
image, podman's Docker-compatible API behind the docker client, and a local registry — with
THIS tree's docker wrapper (the package stack/docker_wrapper and its launcher) mounted at the
image's paths (/usr/local/lib/conveyor/docker_wrapper, /usr/local/bin/docker), so the tests check
the wrapper in the branch, whatever image `conveyor setup` built last.

The registry listens on a free port (never 5000); the API service these builds talk to is
started with a registries.conf that marks that port plain HTTP, as `conveyor setup`'s drop-in
does for 5000. Every image and tag made here carries RUN_ID and is removed afterwards."""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
import uuid
from pathlib import Path

import pytest
from stack_support import stack_missing

from conveyor.build.phases import BUILD, FAILED, SUCCEEDED
from conveyor.build.runner import SOURCE_MOUNT, BuildRequest, BuildResult, run_build
from conveyor.config.buildspec import load_buildspec_text
from conveyor.errors import ConveyorError
from conveyor.images import BUILD_IMAGE, BUSYBOX_IMAGE
from conveyor.providers.local import containers
from conveyor.providers.local.containers import Mount, detect_engine
from conveyor.registry import uris
from conveyor.registry.local import LocalRegistry
from conveyor.stack import components as c
from conveyor.stack import standard_image
from conveyor.stack.docker_wrapper import buildx, runs

pytestmark = pytest.mark.podman

RUN_ID = uuid.uuid4().hex[:8]
LOCAL = f"localhost/conveyor-test/dib-{RUN_ID}"  # images that stay in the engine
FALLBACK = re.compile(r"BuildKit is not served by the local engine \(podman [0-9.]+\); "
                      r"building with the classic builder")

DOCKERFILE = f"""\
ARG BASE={BUSYBOX_IMAGE}
FROM $BASE AS base
ARG GREETING=unset
RUN echo "greeting=$GREETING" > /greeting
COPY app.sh /app.sh

FROM base AS test
COPY test.sh /test.sh
CMD ["sh", "/test.sh"]

FROM base
CMD ["sh", "/app.sh"]
"""
FILES = {
    "Dockerfile": DOCKERFILE,
    "app.sh": "cat /greeting\n",
    "test.sh": 'echo "running tests"; [ "$(cat /greeting)" = "greeting=hello" ] || '
               '{ echo "tests failed: $(cat /greeting)"; exit 3; }\necho "tests passed"\n',
    "marker.txt": "from the source directory\n",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """(engine, registry, extra mounts, extra env) for builds whose docker reaches an API
    service that knows the registry."""
    if shutil.which("docker-registry") is None:
        stack_missing("docker-registry is not installed")
    try:
        engine = detect_engine()
        present = all(containers.image_exists(engine, i) for i in (BUILD_IMAGE, BUSYBOX_IMAGE))
    except ConveyorError as exc:
        stack_missing(f"no container engine ({exc})")
    if not present:
        stack_missing(f"{BUILD_IMAGE} or {BUSYBOX_IMAGE} is missing")
    if not engine.is_podman:
        stack_missing("these tests need podman's Docker-compatible API")
    tmp = tmp_path_factory.mktemp("docker-in-builds")
    registry = LocalRegistry(tmp / "home", port=0)
    registry.start()
    conf = tmp / "registries.conf"
    conf.write_text(uris.registries_dropin(registry.port))
    service = containers.ensure_api_service(engine, str(tmp / "api"),
                                            env={"CONTAINERS_REGISTRIES_CONF": str(conf)})
    access = containers.engine_access(service.socket)
    launcher = tmp / "docker"
    launcher.write_text(standard_image.launcher())
    launcher.chmod(0o755)
    mounts = [*access.mounts, Mount(str(launcher), f"{c.BUILD_TOOLS_DIR}/docker", read_only=True),
              Mount(standard_image.WRAPPER_DIR, f"{c.WRAPPER_LIB_DIR}/{c.WRAPPER_PACKAGE}",
                    read_only=True)]
    env = {**access.env, "REG": registry.address, "REGISTRY_PASSWORD": registry.token,
           "LOCAL": LOCAL}
    try:
        yield engine, registry, mounts, env
    finally:
        service.stop()
        registry.stop()
        _remove_images(engine.binary)


def _remove_images(podman: str) -> None:
    listed = subprocess.run([podman, "images", "--format", "{{.Repository}}:{{.Tag}}"],
                            capture_output=True, text=True, check=False, timeout=60)
    mine = sorted({name for name in listed.stdout.split() if f"dib-{RUN_ID}" in name})
    if mine:
        subprocess.run([podman, "rmi", "--force", *mine], capture_output=True, check=False,
                       timeout=120)


def build(stack, tmp_path: Path, buildspec: str, files: dict[str, str] | None = None,
          host_mounts: bool = False) -> tuple[BuildResult, list[str]]:
    engine, _, mounts, env = stack
    src = tmp_path / "src"
    src.mkdir(parents=True)
    for name, text in {**FILES, **(files or {})}.items():
        (src / name).write_text(text)
    extra_env = dict(env)
    if host_mounts:  # the override; without it the wrapper asks the engine
        extra_env[runs.HOST_MOUNTS_ENV] = f'{{"{SOURCE_MOUNT}": "{src}"}}'
    request = BuildRequest(source_dir=src, image=BUILD_IMAGE, engine=engine,
                           project="docker-in-builds", extra_mounts=list(mounts),
                           extra_env=extra_env)
    lines: list[str] = []
    result = run_build(load_buildspec_text(textwrap.dedent(buildspec)), request, lines.append)
    return result, lines


def status(result: BuildResult, phase: str) -> str:
    return [p.status for p in result.phases if p.phase == phase][-1]


def fallback_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if FALLBACK.search(line)]


def test_docker_buildkit_1_builds_with_the_classic_builder_and_says_so_once(stack, tmp_path):
    result, lines = build(stack, tmp_path, """\
        version: 0.2
        env:
          variables:
            DOCKER_BUILDKIT: "1"
        phases:
          build:
            commands:
              - docker build --progress=plain --build-arg GREETING=hello -t $LOCAL/app:bk .
              - docker run --rm $LOCAL/app:bk
        """)
    assert result.status == SUCCEEDED, "\n".join(lines)
    assert len(fallback_lines(lines)) == 1
    assert "greeting=hello" in lines
    assert not any("failed to dial gRPC" in line for line in lines)


def test_buildx_build_load_and_push(stack, tmp_path):
    _, registry, _, _ = stack
    repo = f"dib-{RUN_ID}-app"
    result, lines = build(stack, tmp_path, f"""\
        version: 0.2
        phases:
          install:
            commands:
              - docker buildx version
              - docker buildx create --use --name ci
              - docker buildx inspect --bootstrap
          pre_build:
            commands:
              - echo "$REGISTRY_PASSWORD" | docker login -u AWS --password-stdin $REG
          build:
            commands:
              - docker buildx build --load --build-arg GREETING=loaded -t $LOCAL/app:load .
              - docker run --rm $LOCAL/app:load
              - docker buildx build --push --provenance=false --platform {buildx.platform_name()}
                --cache-from type=registry,ref=$REG/{repo}:latest --cache-to type=inline
                -t $REG/{repo}:1 -t $REG/{repo}:latest .
        """)
    assert result.status == SUCCEEDED, "\n".join(lines)
    assert "greeting=loaded" in lines
    assert len(fallback_lines(lines)) == 2  # one per buildx build, not per step
    assert any(line.startswith("docker buildx build: --cache-to type=inline ignored")
               for line in lines)
    tags = registry.store.tags(repo)
    assert set(tags) == {"1", "latest"} and tags["1"] == tags["latest"]


def test_a_test_stage_run_with_docker_run_rm_passes_or_fails_the_build(stack, tmp_path):
    buildspec = """\
        version: 0.2
        phases:
          build:
            commands:
              - docker build --target test --build-arg GREETING=$GREETING -t $LOCAL/app:test .
              - docker run --rm $LOCAL/app:test
              - echo "after the tests"
        """
    passing, lines = build(stack, tmp_path / "pass", buildspec.replace("$GREETING", "hello"))
    assert passing.status == SUCCEEDED, "\n".join(lines)
    assert "tests passed" in lines and "after the tests" in lines

    failing, lines = build(stack, tmp_path / "fail", buildspec.replace("$GREETING", "oops"))
    assert failing.status == FAILED
    assert status(failing, BUILD) == FAILED
    assert "tests failed: greeting=oops" in lines and "after the tests" not in lines
    assert any(line.endswith("Command did not exit successfully docker run --rm $LOCAL/app:test "
                             "exit status 3")
               for line in lines), "\n".join(lines)
    engine, *_ = stack
    left = subprocess.run([engine.binary, "ps", "-a", "--filter",
                           f"label={runs.REMOVE_LABEL}", "--filter",
                           f"ancestor={LOCAL}/app:test", "--format", "{{.ID}}"],
                          capture_output=True, text=True, check=True, timeout=60)
    assert left.stdout.strip() == ""  # the wrapper removed what `--rm` would have


def test_pull_or_true_cache_from_tag_push_images_and_rmi(stack, tmp_path):
    _, registry, _, _ = stack
    repo = f"dib-{RUN_ID}-cache"
    result, lines = build(stack, tmp_path, f"""\
        version: 0.2
        phases:
          pre_build:
            commands:
              - echo "$REGISTRY_PASSWORD" | docker login -u AWS --password-stdin $REG
              - REPO_URI=$REG/{repo}
              - docker pull $REPO_URI:latest || true
          build:
            commands:
              - docker build --cache-from $REPO_URI:latest --build-arg GREETING=first -t dib-{RUN_ID}-local .
              - docker tag dib-{RUN_ID}-local $REPO_URI:latest
              - docker push $REPO_URI:latest
              - docker images --format '{{{{.Repository}}}}:{{{{.Tag}}}}' | grep -c "^$REPO_URI:latest$"
              - docker rmi dib-{RUN_ID}-local $REPO_URI:latest
              - docker pull $REPO_URI:latest
              - docker build --cache-from $REPO_URI:latest --build-arg GREETING=first -t $REPO_URI:2 .
              - docker run --rm $REPO_URI:2
        """)
    assert result.status == SUCCEEDED, "\n".join(lines)
    assert any("manifest unknown" in line for line in lines)  # the first pull: nothing there yet
    assert "1" in lines  # docker images listed the tag
    assert "greeting=first" in lines
    assert set(registry.store.tags(repo)) == {"latest"}


def test_build_args_before_from_choose_the_base(stack, tmp_path):
    result, lines = build(stack, tmp_path, """\
        version: 0.2
        phases:
          build:
            commands:
              - docker build --build-arg BASE=localhost/conveyor/python:3-slim
                --build-arg GREETING=py -t $LOCAL/app:py .
              - docker run --rm $LOCAL/app:py python3 -c "print(open('/greeting').read().strip())"
              - docker run --rm $LOCAL/app:py
        """)
    if result.status != SUCCEEDED and any("python:3-slim" in line and "unknown" in line.lower()
                                          for line in lines):
        stack_missing("localhost/conveyor/python:3-slim is missing")
    assert result.status == SUCCEEDED, "\n".join(lines)
    assert lines.count("greeting=py") == 2


@pytest.mark.parametrize("told", [False, True], ids=["asked-of-the-engine", "from-the-variable"])
def test_docker_run_bind_mounts_the_source_directory_through_the_host_path(stack, tmp_path, told):
    result, lines = build(stack, tmp_path, f"""\
        version: 0.2
        phases:
          build:
            commands:
              - docker run --rm -v "$PWD:/w" -w /w {BUSYBOX_IMAGE} sh -c 'cat marker.txt; echo written > out.txt'
              - cat out.txt
        """, host_mounts=told)
    assert result.status == SUCCEEDED, "\n".join(lines)
    assert "from the source directory" in lines and "written" in lines
    assert (tmp_path / "src" / "out.txt").read_text() == "written\n"
