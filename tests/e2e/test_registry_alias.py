"""The opt-in ECR alias, for real: with 111122223333.dkr.ecr.eu-west-3.amazonaws.com aliased
(the /etc/hosts line and registries.conf entry `conveyor setup --ecr-alias` writes), a buildspec
that hard-codes the real ECR host runs unchanged in a pipeline — its login, build and push land
in the local registry, and moving an IMMUTABLE tag through the alias is refused.

The alias gets a loopback address no one listens on (127.0.0.N), so a developer's own alias on
127.0.0.2 and their daemon are left alone; both system files are restored afterwards."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import textwrap
from pathlib import Path

import pytest
from e2e_support import git, pipeline_repo, wait_until
from stack_support import stack_missing

from conveyor.providers.local.containers import detect_engine, image_exists
from conveyor.registry.aliases import ALIAS_PORT, EcrAlias
from conveyor.stack import checks, setup
from conveyor.stack import components as c

ACCOUNT, REGION = "111122223333", "eu-west-3"
HOST = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
LABEL = "io.conveyor.test=registry-alias"
IMMUTABLE = ("The image tag '{tag}' already exists in the 'orders' repository and cannot be "
             "overwritten because the repository is immutable.")

PIPELINE = textwrap.dedent("""\
    name: aliased
    pipeline:
      pollIntervalSeconds: 0
      stages:
        - name: Source
          actions:
            - {name: Source, provider: Git, outputArtifacts: [src]}
        - name: Build
          actions:
            - {name: Build, provider: CodeBuild, inputArtifacts: [src], privilegedMode: true}
    repositories:
      orders: {imageTagMutability: IMMUTABLE}
    """)

# The seed buildspec's three lines, unchanged (the login folded over two lines, which YAML reads
# back as one command); then the same tag with other content, which the IMMUTABLE repository must
# refuse through the alias too.
BUILDSPEC = textwrap.dedent(f"""\
    version: 0.2
    phases:
      pre_build:
        commands:
          - aws ecr get-login-password --region $AWS_DEFAULT_REGION | docker login --username AWS --password-stdin
            $AWS_ACCOUNT_ID.dkr.ecr.$AWS_DEFAULT_REGION.amazonaws.com
          - REPOSITORY_URI=$AWS_ACCOUNT_ID.dkr.ecr.$AWS_DEFAULT_REGION.amazonaws.com/orders
          - TAG=$(echo $CODEBUILD_RESOLVED_SOURCE_VERSION | cut -c1-7)
          - echo "identity=$(aws sts get-caller-identity --query Account --output text)
            region=$AWS_DEFAULT_REGION uri=$REPOSITORY_URI"
      build:
        commands:
          - docker build --label {LABEL} -t $REPOSITORY_URI:$TAG . && docker push $REPOSITORY_URI:$TAG
      post_build:
        commands:
          - docker build --label {LABEL} -f Dockerfile.moved -t $REPOSITORY_URI:$TAG .
          - if docker push $REPOSITORY_URI:$TAG 2> refused.txt; then echo "moved tag accepted"; exit 1; fi
          - cat refused.txt
    """)


def free_loopback_ip() -> str:
    """A 127.0.0.N with nothing on ports 80 and 443 (podman tries HTTPS first)."""
    for n in random.sample(range(10, 250), 60):
        ip = f"127.0.0.{n}"
        try:
            for port in (ALIAS_PORT, 443):
                with socket.socket() as s:
                    s.bind((ip, port))
        except OSError:
            continue
        return ip
    raise AssertionError("no free loopback address with ports 80 and 443 free")


def resolve(name: str) -> str | None:
    try:
        return socket.gethostbyname(name)
    except OSError:
        return None


@pytest.fixture
def alias():
    """What `conveyor setup --ecr-alias HOST` does to the registry names (the same function),
    on the real /etc/hosts and drop-in; undone by --remove-ecr-alias, and both files restored."""
    engine = detect_engine()
    if engine.binary != "podman" or not all(image_exists(engine, i) for i in (c.BUILD_IMAGE, c.BUSYBOX_IMAGE)):
        stack_missing(f"needs podman, {c.BUILD_IMAGE} and {c.BUSYBOX_IMAGE}: run `conveyor setup`")
    hosts, dropin = Path(c.hosts_path()), Path(c.registries_dropin_path())
    if not (os.access(hosts, os.W_OK) and os.access(dropin.parent, os.W_OK)):
        pytest.skip(f"needs to write {hosts} and {dropin} (root)")
    saved = {path: path.read_text() if path.exists() else None for path in (hosts, dropin)}
    aliased = EcrAlias(ACCOUNT, REGION, free_loopback_ip())
    try:
        out: list[str] = []
        setup.ensure_registry_names(out.append, False, add=[aliased])
        assert f"→ adding ECR alias {HOST} → {aliased.ip} to {hosts}: this machine can no longer " \
               f"reach that real ECR registry" in "\n".join(out)
        assert resolve(HOST) == aliased.ip
        yield aliased
        out = []
        setup.ensure_registry_names(out.append, False, remove=[HOST])
        assert f"→ removing ECR alias {HOST} from {hosts}: it resolves to the real registry again" in out
        assert (hosts.read_text(), dropin.read_text()) == (saved[hosts], saved[dropin])
        assert resolve(HOST) != aliased.ip  # DNS again: the real registry, or no answer offline
    finally:
        for path, text in saved.items():
            if text is None:
                path.unlink(missing_ok=True)
            elif path.read_text() != text:
                setup.write_atomic(str(path), text)
        ids = subprocess.run(["podman", "images", "-q", "--filter", f"label={LABEL}"],
                             capture_output=True, text=True).stdout.split()
        if ids:
            subprocess.run(["podman", "rmi", "-f", *ids], capture_output=True)


@pytest.mark.podman
def test_a_buildspec_hard_coding_the_real_ecr_host_pushes_to_the_local_registry(tmp_path, alias, conveyor):
    conveyor("up")
    endpoint = json.loads((conveyor.home / "registry.json").read_text())
    assert alias.to_json() in endpoint["aliases"]
    [status] = [s for s in checks.ecr_alias_statuses() if HOST in s.detail]
    assert status.line() == (f"✓ ecr alias: {HOST} → {alias.ip}:80, the local registry (this machine "
                             f"cannot reach the real registry; undo: conveyor setup --remove-ecr-alias {HOST})")

    repo = pipeline_repo(tmp_path / "repo", PIPELINE)
    (repo / "buildspec.yml").write_text(BUILDSPEC)
    (repo / "Dockerfile").write_text(f"FROM {c.BUSYBOX_IMAGE}\nCMD [\"echo\", \"orders\"]\n")
    (repo / "Dockerfile.moved").write_text(f"FROM {c.BUSYBOX_IMAGE}\nRUN echo moved > /moved\n")
    git("add", "-A", cwd=repo)
    git("commit", "--quiet", "-m", "buildspec with the real ECR host", cwd=repo)
    tag = git("rev-parse", "HEAD", cwd=repo)[:7]
    ex = conveyor.json("run", "--repo", str(repo))
    done = wait_until(lambda: (e := conveyor.execution(ex["id"]))["status"] != "InProgress" and e, 240,
                      what="the aliased build")
    logs = conveyor("logs", ex["id"]).stdout
    assert done["status"] == "Succeeded", logs
    assert "Login Succeeded" in logs
    assert f"identity={ACCOUNT} region={REGION} uri={HOST}/orders" in logs
    assert IMMUTABLE.format(tag=tag) in logs  # refused.txt: the moved tag did not go through

    [orders] = conveyor.json("image", "ls", "orders")["repositories"]
    assert orders["imageTagMutability"] == "IMMUTABLE"
    assert [i["imageTags"] for i in orders["images"]] == [[tag]]
