"""BUILD_IMAGE: how it is made (golden builders) and, on this machine, that its docker client
drives the host's engine through the mounted API socket."""

import os
import shutil
import uuid

import pytest
from stack_support import stack_missing

from conveyor.providers.local import containers
from conveyor.providers.local.process import run
from conveyor.stack import checks, images, standard_image
from conveyor.stack import components as c

PACKAGES = ("bash,ca-certificates,git,python3,python-is-python3,python3-pip,python3-venv,curl,"
            "jq,make,zip,unzip,xz-utils,procps,nodejs,npm,openjdk-17-jdk-headless,maven,gradle,"
            "golang,ruby-full,php-cli,build-essential,gettext-base,yq,wget,less,openssh-client,"
            "libmaven-compiler-plugin-java,libmaven-resources-plugin-java,libsurefire-java,"
            "libmaven-jar-plugin-java,libmaven-install-plugin-java,libmaven-clean-plugin-java,"
            "junit4,junit5,golang-1.22-go")
SOURCES = ("'deb http://deb.debian.org/debian bookworm main' "
           "'deb http://deb.debian.org/debian bookworm-updates main' "
           "'deb http://deb.debian.org/debian-security bookworm-security main' "
           "'deb http://deb.debian.org/debian bookworm-backports main'")

# --- golden builders -------------------------------------------------------------------------


def test_rootfs_mmdebstrap_command():
    assert str(images.build_rootfs_command("/var/tmp/b/rootfs.tar")) == (
        f"mmdebstrap --variant=apt --include={PACKAGES} --format=tar bookworm "
        f"/var/tmp/b/rootfs.tar {SOURCES}")


def test_rootfs_import_changes_end_with_the_recipe():
    changes = images.build_rootfs_changes()
    assert changes[:-1] == [
        'CMD ["/bin/bash"]', "ENV LANG=C.UTF-8", "ENV PIP_BREAK_SYSTEM_PACKAGES=1",
        f'LABEL io.conveyor.origin="mmdebstrap bookworm {PACKAGES}"']
    assert changes[-1] == f'LABEL io.conveyor.recipe="{images.build_rootfs_recipe()}"'


def test_docker_client_commands():
    assert images.docker_client_download_command("/var/tmp/b").display() == (
        "cd /var/tmp/b && DEBIAN_FRONTEND=noninteractive apt-get download docker.io")
    assert str(images.deb_version_command("/t/docker.io_1_amd64.deb")) == (
        "dpkg-deb --field /t/docker.io_1_amd64.deb Version")
    assert str(images.deb_extract_command("/t/d.deb", "/t/deb")) == (
        "dpkg-deb --extract /t/d.deb /t/deb")


def test_origin_names_the_client_version():
    assert images.build_origin("20.10.24+dfsg1-1+deb12u1+b6") == (
        "mmdebstrap bookworm + docker.io 20.10.24 client + docker login and aws shims")


def test_the_recipe_follows_the_shim_and_the_packages(monkeypatch):
    before, rootfs = images.build_recipe(), images.build_rootfs_recipe()
    assert len(before) == 12 and before == images.build_recipe()
    monkeypatch.setattr(images, "aws_shim_source", lambda: "#!/usr/bin/python3\n")
    after_aws = images.build_recipe()
    assert after_aws != before
    monkeypatch.setattr(images, "docker_wrapper_sources", lambda: ["#!/usr/bin/python3\n"])
    assert images.build_recipe() != after_aws
    assert images.build_rootfs_recipe() == rootfs  # a new shim keeps the root filesystem
    monkeypatch.setattr(images, "BUILD_PACKAGES", (*c.BUILD_PACKAGES, "vim"))
    assert images.build_rootfs_recipe() != rootfs


def test_every_module_of_the_docker_wrapper_and_its_launcher_is_in_the_recipe(tmp_path, monkeypatch):
    package = tmp_path / "docker_wrapper"
    shutil.copytree(standard_image.WRAPPER_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(standard_image, "WRAPPER_DIR", str(package))
    before = images.build_recipe([])
    assert before == images.build_recipe([])
    names = sorted(p.name for p in package.glob("*.py"))
    assert {"__init__.py", "main.py", "login.py", "builds.py", "runs.py"} <= set(names)
    for name in names:
        module = package / name
        source = module.read_text()
        module.write_text(source + "\n")
        assert images.build_recipe([]) != before, name
        module.write_text(source)
    assert images.build_recipe([]) == before
    (package / "extra.py").write_text("")
    assert images.build_recipe([]) != before  # a new module counts too
    (package / "extra.py").unlink()
    monkeypatch.setattr(standard_image, "launcher", lambda lib_dir=c.WRAPPER_LIB_DIR: "#!/bin/sh\n")
    assert images.build_recipe([]) != before


def test_an_image_without_a_recipe_label_is_the_users_and_current():
    assert checks.recipe_current({c.RECIPE_LABEL: "abc"}, "abc")
    assert not checks.recipe_current({c.RECIPE_LABEL: "old"}, "abc")
    assert checks.recipe_current({"maintainer": "me"}, "abc")


# --- on this machine (after `conveyor setup`) ------------------------------------------------

SCRIPT = """set -e
docker version --format 'client={{{{.Client.Version}}}} server={{{{.Server.Version}}}}'
mkdir /ctx
printf 'FROM {base}\\nRUN echo built > /built\\n' > /ctx/Containerfile
docker build --quiet --tag {tag} --file /ctx/Containerfile /ctx >/dev/null
docker images --format 'image={{{{.Repository}}}}:{{{{.Tag}}}}'
aws sts get-caller-identity --query Account --output text
"""


@pytest.mark.podman
def test_docker_in_the_build_image_drives_the_host_engine(tmp_path):
    eng = checks.engine()
    for image in (c.BUILD_IMAGE, c.BUSYBOX_IMAGE):
        if not containers.image_exists(eng, image):
            stack_missing(f"{image} is not built; run `conveyor setup`")
    tag = f"localhost/conveyor-test/docker-in-build:{uuid.uuid4().hex[:8]}"
    service = containers.ensure_api_service(eng, str(tmp_path / "api"))
    try:
        assert containers.ensure_api_service(eng, str(tmp_path / "api")).proc is None  # reused
        access = containers.engine_access(service.socket)
        cmd = eng.run(c.BUILD_IMAGE, ["bash", "-c", SCRIPT.format(base=c.BUSYBOX_IMAGE, tag=tag)],
                      rm=True, mounts=access.mounts,
                      env={**access.env, "AWS_ACCOUNT_ID": "123456789012"}, timeout=180)
        done = run(cmd, check=False, dry_run=False)
        assert done.ok, done.stderr
        lines = done.stdout.splitlines()
        client, server = lines[0].split()
        assert client.startswith("client=20.") and server.startswith("server=")
        assert server != "server="
        assert f"image={tag}" in lines
        assert lines[-1] == "123456789012"
        assert containers.image_exists(eng, tag)  # built in the host's engine
    finally:
        run(eng.image_rm(tag), check=False, dry_run=False)
        service.stop()
    assert not containers.image_exists(eng, tag)
    assert not os.path.exists(service.socket)
    assert not containers.api_answers(service.socket)


@pytest.mark.podman
def test_doctor_reports_the_build_image_and_its_origin():
    status = checks.build_image_status(checks.engine())
    if not status.ok and status.detail == "not built":
        stack_missing("run `conveyor setup`")
    assert status.ok, status.line()
    assert status.detail.startswith("mmdebstrap bookworm + node 20.")
    assert " + docker.io 20.10." in status.detail
