import socket
import threading

import pytest
from stack_support import stack_missing

from conveyor.errors import ConveyorError, UserError
from conveyor.images import BUSYBOX_IMAGE
from conveyor.providers.local import containers
from conveyor.providers.local.containers import ContainerEngine, Mount, Port, is_local_registry, registry_host
from conveyor.providers.local.process import run

podman = ContainerEngine("podman")
docker = ContainerEngine("docker")


# --- golden argv for every builder -----------------------------------------------------------

def test_run_minimal():
    assert str(podman.run("localhost/app:1")) == "podman run localhost/app:1"


def test_run_foreground_with_every_option():
    cmd = podman.run(
        "localhost/app:1", ["python", "-m", "app", "--greeting", "hi there"],
        name="web-1", rm=True, env={"PORT": "8080", "MSG": "a b"},
        mounts=[Mount("/srv/src", "/src"), Mount("/srv/cache", "/cache", read_only=True)],
        ports=[Port(18080, 8080)], workdir="/src", labels={"io.conveyor.service": "web"},
        network="host", user="1000:1000", entrypoint="", stop_timeout=30)
    assert str(cmd) == (
        "podman run --rm --name web-1 --env PORT=8080 --env 'MSG=a b' "
        "--volume /srv/src:/src --volume /srv/cache:/cache:ro --publish 127.0.0.1:18080:8080 "
        "--workdir /src --label io.conveyor.service=web --network host --user 1000:1000 "
        "--entrypoint '' --stop-timeout 30 localhost/app:1 python -m app --greeting 'hi there'")


def test_run_detached_with_timeout():
    cmd = docker.run("app:1", name="web", detach=True, timeout=30)
    assert str(cmd) == "docker run --detach --name web app:1"
    assert cmd.timeout == 30


def test_port_on_another_address():
    assert Port(80, 8080, host_ip="0.0.0.0").arg() == "0.0.0.0:80:8080"


def test_rm_and_stop():
    assert str(podman.rm("web-1", "web-2")) == "podman rm --force web-1 web-2"
    assert str(podman.stop("web-1")) == "podman stop web-1"
    assert str(docker.stop("web-1", timeout=30)) == "docker stop --time 30 web-1"


def test_build_minimal_and_full():
    assert str(podman.build(".")) == "podman build ."
    cmd = podman.build("/src/app", file="/src/app/Containerfile", tags=["app:1", "app:latest"],
                       build_args={"PY": "3.12", "NOTE": "x y"}, target="runtime",
                       labels={"io.conveyor.commit": "abc123"})
    assert str(cmd) == (
        "podman build --file /src/app/Containerfile --tag app:1 --tag app:latest "
        "--build-arg PY=3.12 --build-arg 'NOTE=x y' --label io.conveyor.commit=abc123 "
        "--target runtime /src/app")


def test_tag():
    cmd = podman.tag("app:1", "127.0.0.1:5000/app:1")
    assert str(cmd) == "podman tag app:1 127.0.0.1:5000/app:1"


@pytest.mark.parametrize("ref, expected", [
    ("127.0.0.1:5000/app:1", "podman push --tls-verify=false 127.0.0.1:5000/app:1"),
    ("localhost:5000/team/app:1", "podman push --tls-verify=false localhost:5000/team/app:1"),
    ("registry.example.com/app:1", "podman push registry.example.com/app:1"),
    ("app:1", "podman push app:1"),
])
def test_push_podman(ref, expected):
    assert str(podman.push(ref)) == expected


def test_push_docker_never_needs_the_flag():
    assert str(docker.push("127.0.0.1:5000/app:1")) == "docker push 127.0.0.1:5000/app:1"


def test_pull():
    cmd = podman.pull("docker.io/library/python:3.12-slim", timeout=20)
    assert str(cmd) == "podman pull docker.io/library/python:3.12-slim" and cmd.timeout == 20
    assert str(podman.pull("127.0.0.1:5000/app:1")) == (
        "podman pull --tls-verify=false 127.0.0.1:5000/app:1")


def test_image_exists_inspect_rm():
    assert str(podman.image_exists("app:1")) == "podman image exists app:1"
    assert str(docker.image_exists("app:1")) == "docker image inspect --format '{{.Id}}' app:1"
    assert str(podman.image_inspect("app:1")) == "podman image inspect app:1"
    assert str(podman.image_inspect("app:1", format="{{.Id}}")) == (
        "podman image inspect --format '{{.Id}}' app:1")
    assert str(podman.image_rm("a:1", "b:2")) == "podman image rm --force a:1 b:2"


def test_import():
    cmd = podman.import_image("/tmp/root.tar", "localhost/conveyor/busybox:latest",
                              ['CMD ["/bin/sh"]', 'LABEL io.conveyor.origin="busybox-static"'])
    assert str(cmd) == (
        "podman import --change 'CMD [\"/bin/sh\"]' "
        "--change 'LABEL io.conveyor.origin=\"busybox-static\"' "
        "/tmp/root.tar localhost/conveyor/busybox:latest")


def test_info_and_version():
    assert str(podman.info()) == "podman info"
    cmd = docker.info(format="{{.ServerVersion}}", timeout=10)
    assert str(cmd) == "docker info --format '{{.ServerVersion}}'" and cmd.timeout == 10
    assert str(podman.version()) == "podman version --format '{{.Client.Version}}'"


def test_engine_by_path():
    engine = ContainerEngine("/usr/bin/podman")
    assert engine.name == "podman" and engine.is_podman
    assert str(engine.rm("x")) == "/usr/bin/podman rm --force x"


# --- references ------------------------------------------------------------------------------

@pytest.mark.parametrize("ref, host, local", [
    ("127.0.0.1:5000/app:1", "127.0.0.1:5000", True),
    ("localhost/conveyor/busybox:latest", "localhost", True),
    ("localhost:5000/app", "localhost:5000", True),
    ("docker.io/library/python:3.12-slim", "docker.io", False),
    ("python:3.12-slim", None, False),
    ("library/python", None, False),
])
def test_registry_host(ref, host, local):
    assert registry_host(ref) == host
    assert is_local_registry(ref) is local


# --- engine choice ----------------------------------------------------------------------------

def test_engine_from_environment(monkeypatch):
    monkeypatch.setenv("CONVEYOR_ENGINE", "docker")
    assert containers.detect_engine() == docker
    monkeypatch.setenv("CONVEYOR_ENGINE", "containerd")
    with pytest.raises(UserError, match="CONVEYOR_ENGINE=containerd: unknown container engine"):
        containers.detect_engine()


def test_docker_needs_a_running_engine_not_just_a_cli(monkeypatch):
    monkeypatch.delenv("CONVEYOR_ENGINE", raising=False)
    monkeypatch.setattr(containers.shutil, "which", lambda name: None)
    assert containers.docker_running() is False
    assert containers.detect_engine() == podman


# --- the Docker-compatible API socket --------------------------------------------------------

def test_api_service_and_what_a_build_container_mounts():
    assert str(podman.api_service("/var/lib/conveyor/podman.sock")) == (
        "podman system service --time=0 unix:///var/lib/conveyor/podman.sock")
    conf = {"CONTAINERS_REGISTRIES_CONF": "/var/lib/conveyor/registries.conf"}
    assert podman.api_service("/s.sock", conf).display() == (
        "CONTAINERS_REGISTRIES_CONF=/var/lib/conveyor/registries.conf "
        "podman system service --time=0 unix:///s.sock")
    access = containers.engine_access("/var/lib/conveyor/podman.sock")
    cmd = podman.run("localhost/conveyor/build:latest", ["docker", "version"], rm=True,
                     mounts=access.mounts, env=access.env)
    assert str(cmd) == (
        "podman run --rm --env DOCKER_HOST=unix:///var/run/docker.sock "
        "--volume /var/lib/conveyor/podman.sock:/var/run/docker.sock "
        "localhost/conveyor/build:latest docker version")


def test_a_docker_engine_is_reached_through_its_own_socket(monkeypatch, tmp_path):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    service = containers.ensure_api_service(docker, str(tmp_path))
    assert (service.socket, service.proc) == ("/var/run/docker.sock", None)
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/user/1000/docker.sock")
    assert containers.host_docker_socket() == "/run/user/1000/docker.sock"
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
    assert containers.host_docker_socket() == "/var/run/docker.sock"
    service.stop()  # not ours: nothing to stop
    assert list(tmp_path.iterdir()) == []


def test_api_answers_only_a_200_ping(tmp_path):
    path = str(tmp_path / "api.sock")
    assert not containers.api_answers(path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen()
        replies = [b"HTTP/1.1 200 OK\r\n\r\nOK", b"HTTP/1.1 404 Not Found\r\n\r\n"]

        def serve():
            for reply in replies:
                conn, _ = server.accept()
                with conn:
                    assert conn.recv(1024).startswith(b"GET /_ping HTTP/1.0\r\n")
                    conn.sendall(reply)
        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        assert containers.api_answers(path)
        assert not containers.api_answers(path)
        thread.join(5)


# --- the real engine --------------------------------------------------------------------------

def _need_busybox():
    try:
        present = containers.image_exists(podman, BUSYBOX_IMAGE)
    except ConveyorError as exc:  # podman itself missing
        stack_missing(f"podman unusable ({exc}); run `conveyor setup`")
    if not present:
        stack_missing(f"{BUSYBOX_IMAGE} is absent; run `conveyor setup` to build it")


@pytest.mark.podman
def test_podman_runs_a_container():
    _need_busybox()
    done = run(podman.run(BUSYBOX_IMAGE, ["echo", "hi"], rm=True, timeout=60))
    assert done.stdout == "hi\n"


@pytest.mark.podman
def test_podman_run_with_env_mount_workdir_and_probe(tmp_path):
    _need_busybox()
    (tmp_path / "in.txt").write_text("from host\n")
    cmd = podman.run(BUSYBOX_IMAGE, ["sh", "-c", 'cat in.txt; echo "$GREETING"'], rm=True,
                     env={"GREETING": "hello"}, mounts=[Mount(str(tmp_path), "/w", read_only=True)],
                     workdir="/w", timeout=60)
    assert run(cmd).stdout == "from host\nhello\n"
    assert containers.run_probe(podman, BUSYBOX_IMAGE).ok
    assert not containers.image_exists(podman, "localhost/conveyor/no-such-image:0")
