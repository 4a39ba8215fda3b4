"""Real podman (and the docker CLI through podman's Docker API) against the local registry:
login, push, IMMUTABLE refusals as podman prints them, pulls (which need the login, also for a
task's image), restart after a crash, and the names `conveyor setup` makes resolvable. Images
and tags made here are removed afterwards."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import time

import pytest
from registry_podman import Podman, need_stack

from conveyor.config.taskdef import parse_taskdef
from conveyor.images import BUSYBOX_IMAGE
from conveyor.providers.local import containers, process
from conveyor.providers.local.containers import ContainerEngine
from conveyor.providers.local.ecs.runtime import TaskStartError
from conveyor.providers.local.ecs.tasks import PodRuntime
from conveyor.providers.local.process import Command, run
from conveyor.registry import uris
from conveyor.registry.local import LocalRegistry, pull_auth_path, pull_authfile, write_endpoint

pytestmark = pytest.mark.podman

IMMUTABLE_V1 = ("tag invalid: The image tag 'v1' already exists in the 'orders' repository and "
                "cannot be overwritten because the repository is immutable.")


@pytest.fixture
def registry(tmp_path):
    need_stack()
    r = LocalRegistry(tmp_path / "home", port=0)
    r.start()
    yield r
    r.stop()


@pytest.fixture
def podman(tmp_path):
    p = Podman(tmp_path)
    yield p
    p.cleanup()


def test_login_push_and_immutable_tags_as_podman_sees_them(registry, podman, tmp_path):
    host = registry.address
    bad = podman.login(host, "wrong")
    assert not bad.ok and "invalid username/password" in bad.stderr
    assert podman.login(host, registry.token).ok

    digestfile = tmp_path / "digest"
    assert podman.push(BUSYBOX_IMAGE, f"{host}/orders:v1", digestfile=digestfile).ok
    first = digestfile.read_text().strip()
    [image] = registry.store.images("orders")
    assert (image.digest, image.tags) == (first, ("v1",))
    assert abs(image.pushed_at - time.time()) < 60

    registry.store.declare("orders", "IMMUTABLE")
    changed = podman.build_changed(tmp_path, "changed")
    refused = podman.push(changed, f"{host}/orders:v1")
    assert not refused.ok
    assert IMMUTABLE_V1 in refused.stderr
    assert registry.service.backend.manifest_digest("orders", "v1") == first

    again = podman.push(BUSYBOX_IMAGE, f"{host}/orders:v1")  # same digest: not a change
    assert again.ok, again.stderr
    assert podman.push(changed, f"{host}/orders:v2", digestfile=digestfile).ok
    second = digestfile.read_text().strip()
    assert {i.digest: i.tags for i in registry.store.images("orders")} == {
        first: ("v1",), second: ("v2",)}

    registry.store.declare("orders", "IMMUTABLE_WITH_EXCLUSION",
                           [{"filterType": "WILDCARD", "filter": "latest"}])
    assert podman.push(BUSYBOX_IMAGE, f"{host}/orders:latest").ok
    assert podman.push(changed, f"{host}/orders:latest").ok
    assert not podman.push(changed, f"{host}/orders:v1").ok

    assert podman.push(BUSYBOX_IMAGE, f"{host}/scratch:dev").ok  # created on first push: MUTABLE
    assert podman.push(changed, f"{host}/scratch:dev").ok
    assert registry.store.repository("scratch").mutability == "MUTABLE"

    listing = [i.to_json() for i in registry.store.images("orders")]
    assert [sorted(i["imageTags"]) for i in listing] == [["latest", "v2"], ["v1"]]
    assert all(i["imagePushedAt"].endswith("Z") and i["imageSizeInBytes"] for i in listing)


def test_a_killed_registry_comes_back_and_pushes_work_again(registry, podman):
    assert podman.login(registry.address, registry.token).ok
    os.kill(registry.service.pid, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while registry.service.restarts < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert registry.service.restarts == 1
    assert podman.push(BUSYBOX_IMAGE, f"{registry.address}/orders:after-crash").ok
    assert registry.store.tags("orders") == {"after-crash": registry.store.images("orders")[0].digest}


def test_the_registries_dropin_makes_the_tls_flag_unnecessary(registry, tmp_path):
    conf = tmp_path / "registries.conf"
    conf.write_text(uris.registries_dropin(registry.port))
    p = Podman(tmp_path, env={"CONTAINERS_REGISTRIES_CONF": str(conf)})
    try:
        assert p.login(registry.address, registry.token, tls_flag=False).ok
        assert p.push(BUSYBOX_IMAGE, f"{registry.address}/orders:v1", tls_flag=False).ok
    finally:
        p.cleanup()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="needs root and unshare to give podman a private /etc/hosts")
def test_the_ecr_style_host_works_with_the_hosts_line_and_dropin(registry, tmp_path):
    """What `conveyor setup` writes, tried in a private mount namespace (no system file changes)."""
    hosts = tmp_path / "hosts"
    hosts.write_text(uris.hosts_with_entry(uris.HOSTS_PATH.read_text()))
    conf = tmp_path / "registries.conf"
    conf.write_text(uris.registries_dropin(registry.port))
    target = uris.repository_uri("orders", registry.port) + ":v1"
    script = (f"mount --bind {hosts} /etc/hosts && "
              f"podman login --authfile {tmp_path}/a.json -u AWS --password-stdin "
              f"{uris.ecr_host(port=registry.port)} && "
              f"podman tag {BUSYBOX_IMAGE} {target} && "
              f"podman push --authfile {tmp_path}/a.json {target}; rc=$?; "
              f"podman untag {BUSYBOX_IMAGE} {target}; exit $rc")
    done = run(Command(["unshare", "--mount", "sh", "-c", script], input=registry.token.encode(),
                       env={"CONTAINERS_REGISTRIES_CONF": str(conf)}, timeout=120), check=False)
    assert done.ok, done.stderr
    assert list(registry.store.tags("orders")) == ["v1"]


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker CLI")
def test_the_docker_cli_pushes_through_podmans_docker_api(registry, tmp_path):
    """How a build container's `docker push` reaches us: DOCKER_HOST → podman's API service on the
    host. Podman's API forces TLS on `docker login` except for `localhost:` hosts, so logins there
    use localhost:PORT; pushes to any local spelling work with credentials in config.json."""
    conf = tmp_path / "registries.conf"
    conf.write_text(uris.registries_dropin(registry.port))
    sock = tmp_path / "podman.sock"
    service = process.start(Command(["podman", "system", "service", "--time=0", f"unix://{sock}"],
                                    env={"CONTAINERS_REGISTRIES_CONF": str(conf)}),
                            log_path=str(tmp_path / "podman-service.log"))
    env = {"DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": str(tmp_path / "docker")}
    names = []
    builder = Podman(tmp_path)

    def docker(*args, input=None):
        return run(Command(["docker", *args], env=env, input=input, timeout=120), check=False)

    try:
        deadline = time.monotonic() + 15
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        local = f"localhost:{registry.port}"
        assert not docker("login", "-u", "AWS", "--password-stdin", local, input=b"wrong").ok
        assert docker("login", "-u", "AWS", "--password-stdin", local,
                      input=registry.token.encode()).ok
        for target in (f"{local}/orders:v1", f"{registry.address}/orders:v2"):
            names.append(target)
            assert docker("tag", BUSYBOX_IMAGE, target).ok
        config = json.loads((tmp_path / "docker" / "config.json").read_text())
        auth = base64.b64encode(f"AWS:{registry.token}".encode()).decode()
        config["auths"][registry.address] = {"auth": auth}  # what Conveyor can pre-seed
        (tmp_path / "docker" / "config.json").write_text(json.dumps(config))
        for target in names:
            pushed = docker("push", target)
            assert pushed.ok, pushed.stderr
        registry.store.declare("orders", "IMMUTABLE")
        other = builder.build_changed(tmp_path, "docker")
        assert docker("tag", other, f"{local}/orders:v1").ok  # the name moves to the new image
        refused = docker("push", f"{local}/orders:v1")
        assert not refused.ok and IMMUTABLE_V1 in refused.stdout + refused.stderr
    finally:
        for target in names:
            run(Command(["podman", "untag", target, target]), check=False)
        builder.cleanup()
        process.terminate(service)


def test_pulls_need_the_login_and_a_logged_in_pull_works(registry, podman, tmp_path):
    host = registry.address
    assert podman.login(host, registry.token).ok
    target = f"{host}/orders:pull"
    assert podman.push(BUSYBOX_IMAGE, target).ok
    assert podman("untag", target, target).ok  # so the pull below has to ask the registry
    anonymous = tmp_path / "anonymous.json"
    anonymous.write_text('{"auths": {}}')
    refused = podman("pull", "--tls-verify=false", "--authfile", str(anonymous), target)
    assert not refused.ok
    assert "authentication required" in refused.stderr
    pulled = podman("pull", "--tls-verify=false", "--authfile", podman.authfile, target)
    assert pulled.ok, pulled.stderr
    assert containers.image_exists(ContainerEngine("podman"), target)


def test_a_task_pulls_its_image_with_the_daemons_auth_file(registry, podman, tmp_path, monkeypatch):
    """What a service deployment does: the task runtime's `podman run` of an image that is only
    in the local registry, with the auth file written beside registry.json."""
    conf = tmp_path / "registries.conf"
    conf.write_text(uris.registries_dropin(registry.port))
    monkeypatch.setenv("CONTAINERS_REGISTRIES_CONF", str(conf))  # plain HTTP on this test's port
    default_auth = tmp_path / "default-auth.json"
    default_auth.write_text('{"auths": {}}')
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(default_auth))  # no credentials from elsewhere
    assert podman.login(registry.address, registry.token).ok
    image = f"{registry.address}/orders:task"
    assert podman.push(BUSYBOX_IMAGE, image).ok
    assert podman("untag", image, image).ok
    taskdef, problems = parse_taskdef({"family": "pull", "containerDefinitions": [
        {"name": "app", "image": image, "essential": True, "command": ["sleep", "60"]}]})
    assert taskdef is not None, problems
    runtime = PodRuntime(registry.home)
    try:
        with pytest.raises(TaskStartError) as refused:  # no auth file yet: as ECS says it
            runtime.start("pull-noauth", "test", "orders", taskdef, lambda ref: ref, [])
        assert str(refused.value).startswith("CannotPullContainerError")
        assert pull_authfile(registry.home, image) is None
        write_endpoint(registry)
        assert pull_authfile(registry.home, image) == str(pull_auth_path(registry.home))
        runtime.start("pull-auth", "test", "orders", taskdef, lambda ref: ref, [])
        state = runtime.observe()["pull-auth"].containers["app"]
        assert state.running
    finally:
        runtime.remove("pull-noauth")
        runtime.remove("pull-auth")
        podman("rmi", image)
